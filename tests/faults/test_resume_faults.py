"""Resuming into a run folder that does not fit: each case refused before the first epoch.

Every case trains a tiny image-only ``concat_tiny`` for an epoch into ``tmp_path/run``,
then breaks the folder or changes the run, and asserts :class:`RunFolderError` naming the
folder (or file) and what differs, and that no epoch began. The unwritable-folder cases
make the folder a plain file (refused by the OS even for root), or take its write
permission away; as root, whom permission bits do not stop, that case also makes the
file system refuse writes under it (a patched ``Path.write_bytes``, what the probe
writes with), so the same check runs either way.
"""

from __future__ import annotations

import json
import os
import pathlib

import keras
import numpy as np
import pytest

import mmzoo
from mmzoo.data import from_arrays
from mmzoo.preprocessing import Preprocessor
from mmzoo.training import RUN_RECORD, RunFolderError, TrainConfig, train


class EpochSpy(keras.callbacks.Callback):
    """Counts the epochs that began."""

    def __init__(self):
        super().__init__()
        self.began = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.began += 1


def run(folder: pathlib.Path, *, size=16, architecture="concat_tiny", class_names=("a", "b"),
        epochs=1, overwrite=False, callbacks=()):
    """Train on 16 random 1-channel images of ``size`` x ``size`` into ``folder``."""
    rng = np.random.default_rng(0)
    image = mmzoo.ImageSpec(size, size, 1)
    source = from_arrays(np.arange(16) % 2, image=rng.integers(0, 255, (16, size, size),
                                                               dtype=np.uint8),
                         class_names=list(class_names))
    config = TrainConfig(epochs=epochs, batch_size=8, strategy="default", seed=3, verbose=0,
                         output_dir=str(folder))
    return train(architecture, source, config, preprocessor=Preprocessor(image=image),
                 model_options={"modalities": ("image",), "image": image,
                                "num_classes": len(class_names)},
                 callbacks=callbacks, overwrite=overwrite)


def refused(folder: pathlib.Path, **changes) -> str:
    """The message of the RunFolderError that ``run(folder, **changes)`` raises before any epoch."""
    spy = EpochSpy()
    with pytest.raises(RunFolderError) as error:
        run(folder, callbacks=[spy], **changes)
    assert spy.began == 0
    return str(error.value)


@pytest.fixture
def trained(tmp_path) -> pathlib.Path:
    """A run folder after one epoch (16 x 16 images, concat_tiny, classes a and b)."""
    run(tmp_path / "run")
    return tmp_path / "run"


# Each: the change to the run, and what the message names besides the folder.
CHANGED_RUNS = {
    "changed-image-size": ({"size": 24}, ["specs.image.height: 16 -> 24",
                                          "specs.image.width: 16 -> 24"]),
    "changed-architecture": ({"architecture": "gated_tiny"},
                             ["model.architecture: 'concat_tiny' -> 'gated_tiny'"]),
    "changed-class-names": ({"class_names": ("a", "c")},
                            ["class_names: ['a', 'b'] -> ['a', 'c']"]),
}


@pytest.mark.parametrize("case", list(CHANGED_RUNS))
def test_a_changed_run_is_refused_naming_the_folder_and_the_fields(trained, case):
    changes, named = CHANGED_RUNS[case]
    before = (trained / RUN_RECORD).read_bytes()
    message = refused(trained, **changes)
    assert f"{trained} holds 1 epoch of a different run" in message
    for text in named:
        assert text in message
    assert "overwrite=True" in message and "--overwrite" in message
    assert (trained / RUN_RECORD).read_bytes() == before  # the folder is left as it was


def test_fewer_epochs_than_trained_is_refused(tmp_path):
    run(tmp_path / "run", epochs=2)
    message = refused(tmp_path / "run", epochs=1)
    assert f"{tmp_path / 'run'} holds a run trained for 2 epochs already" in message
    assert "epochs=1" in message


# Each: how the folder is broken, the file the message names (in the run folder), and what
# it says of it.
BROKEN_FOLDERS = {
    "corrupt-history": (lambda run: (run / "history.json").write_text('{"loss": [0.7,'),
                        "history.json", "is not a training history"),
    "history-not-metrics": (lambda run: (run / "history.json").write_text('[1, 2]'),
                            "history.json", "is not a training history"),
    "corrupt-record": (lambda run: (run / RUN_RECORD).write_bytes(b"\xff\xfe garbage"),
                       RUN_RECORD, "is not a run record"),
    "record-not-a-mapping": (lambda run: (run / RUN_RECORD).write_text('"concat_tiny"'),
                             RUN_RECORD, "is not a run record"),
    "record-deleted": (lambda run: (run / RUN_RECORD).unlink(), "backup/epoch-0001.weights.h5",
                       f"but no {RUN_RECORD} saying what run it is"),
    "truncated-backup": (lambda run: _truncate(run / "backup" / "epoch-0001.weights.h5"),
                         "backup/epoch-0001.weights.h5", "does not load into the model"),
    "empty-backup": (lambda run: (run / "backup" / "epoch-0001.weights.h5").write_bytes(b""),
                     "backup/epoch-0001.weights.h5", "does not load into the model"),
}


def _truncate(path: pathlib.Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("case", list(BROKEN_FOLDERS))
def test_a_broken_run_folder_is_refused_naming_the_file(trained, case):
    breaks, name, says = BROKEN_FOLDERS[case]
    breaks(trained)
    message = refused(trained)
    assert str(trained / name) in message and says in message, message
    assert "overwrite=True" in message


def _write_refused(monkeypatch, folder: pathlib.Path) -> None:
    """``folder`` without write permission, and (as root) writes under it refused."""
    folder.mkdir(parents=True)
    folder.chmod(0o555)
    if os.geteuid() == 0:
        write_bytes = pathlib.Path.write_bytes

        def refusing(path, data):
            if path.parent == folder:
                raise PermissionError(13, "Permission denied", str(path))
            return write_bytes(path, data)

        monkeypatch.setattr(pathlib.Path, "write_bytes", refusing)


# Each: how the folder is made unwritable (given the run folder), and the folder named.
UNWRITABLE = {
    "checkpoints-is-a-file": (lambda run, mp: _a_file(run / "checkpoints"), "checkpoints",
                              "it is not a folder"),
    "backup-is-a-file": (lambda run, mp: _a_file(run / "backup"), "backup", "it is not a folder"),
    "output-dir-is-a-file": (lambda run, mp: _a_file(run), "", "it is not a folder"),
    "checkpoints-read-only": (lambda run, mp: _write_refused(mp, run / "checkpoints"),
                              "checkpoints", "Permission denied"),
    "backup-read-only": (lambda run, mp: _write_refused(mp, run / "backup"), "backup",
                         "Permission denied"),
    "history-is-a-folder": (lambda run, mp: (run / "history.json").mkdir(parents=True),
                            "history.json", "is in the way"),
}


def _a_file(path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a folder")


@pytest.mark.parametrize("case", list(UNWRITABLE))
def test_an_unwritable_run_folder_is_found_before_the_first_epoch(tmp_path, monkeypatch, case):
    make_unwritable, name, says = UNWRITABLE[case]
    folder = tmp_path / "run"
    make_unwritable(folder, monkeypatch)
    try:
        message = refused(folder)
    finally:
        for path in folder.rglob("*"):
            path.chmod(0o755)  # so that pytest can clean tmp_path
    assert str(folder / name).rstrip("/") in message and says in message


def test_overwrite_starts_afresh_and_leaves_unrelated_files(trained):
    notes = [trained / "notes.txt", trained / "checkpoints" / "keep.txt", trained / "logs" / "mine"]
    for path in notes:
        path.write_text("mine")
    history = run(trained, size=24, overwrite=True)
    assert len(history.history["loss"]) == 1
    assert [p.name for p in (trained / "backup").iterdir()] == ["epoch-0001.weights.h5"]
    record = json.loads((trained / RUN_RECORD).read_text())
    assert record["specs"]["image"]["height"] == 24
    assert keras.models.load_model(trained / "model.keras").input["image"].shape == (None, 24, 24, 1)
    assert len(json.loads((trained / "history.json").read_text())["loss"]) == 1
    for path in notes:
        assert path.read_text() == "mine"


def test_the_same_run_resumes_where_it_stopped(trained):
    """Run again with more epochs: one more epoch trained, the history holds both."""
    history = run(trained, epochs=2)
    assert len(history.history["loss"]) == 1
    assert history.model.optimizer.iterations.numpy() == 4  # 2 epochs of 2 batches
    assert len(json.loads((trained / "history.json").read_text())["loss"]) == 2
    assert [p.name for p in (trained / "backup").iterdir()] == ["epoch-0002.weights.h5"]
