"""The run folder: what defines a run (``run.json``), the checks before resuming it, and
starting afresh (``overwrite``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import reprlib
import shutil
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from mmzoo.data import PreparedData, Source
from mmzoo.utils import PARTIAL_PREFIX, first_line

if TYPE_CHECKING:
    from mmzoo.training.callbacks import EpochBackup
    from mmzoo.training.config import TrainConfig

RUN_RECORD = "run.json"


#: TrainConfig fields a resumed run may change: they do not change what is trained
#: (``epochs`` may grow; fewer epochs than trained already is an error).
RESUMABLE_FIELDS = ("epochs", "verbose", "output_dir", "data_service")


#: What a run writes at the top of its folder (``overwrite`` removes these, and the
#: checkpoints, backups and TensorBoard logs, and nothing else).
RUN_FILES = (RUN_RECORD, "config.yaml", "history.json", "model.keras")


def checkpoint_paths(output_dir: pathlib.Path, suffix: str) -> tuple[pathlib.Path, pathlib.Path]:
    """The run's best and last checkpoint files (``suffix``: ``.keras`` or ``.weights.h5``)."""
    return tuple(output_dir / "checkpoints" / f"{which}{suffix}" for which in ("best", "last"))


START_AFRESH = "pass overwrite=True (mmzoo train/finetune: --overwrite) to start afresh"


class RunFolderError(ValueError):
    """An output folder ``train`` cannot use as it is: it holds a run of another config, a
    corrupt file, or cannot be written. The message names the folder or file and what to do."""


def run_record(config: TrainConfig, model: keras.Model, model_info: dict | None,
               preprocessor, train_data) -> dict[str, Any]:
    """What defines a run (as JSON values): what ``run.json`` holds.

    ``train``: the config's fields; ``specs``: the preprocessor's; ``class_names``: the
    training data's (a source or prepared data); ``model``: ``model_info`` and the built
    model's input and output shapes, parameter count and a digest of its weight shapes.
    """
    weight_shapes = json.dumps([list(v.shape) for v in model.weights])
    structure = {"parameters": sum(int(np.prod(v.shape)) for v in model.weights),
                 "weight_shapes": hashlib.sha256(weight_shapes.encode()).hexdigest()[:16]}
    with contextlib.suppress(AttributeError):  # a subclassed model, never called, has none
        structure.update({key: keras.tree.map_structure(lambda t: list(t.shape), tensors)
                          for key, tensors in (("inputs", model.input), ("outputs", model.output))})
    record = {"train": config.to_dict()}
    if preprocessor is not None:
        record["specs"] = {m: spec.get_config() for m, spec in preprocessor.specs.items()}
    if isinstance(train_data, Source | PreparedData):
        record["class_names"] = list(train_data.class_names)
    record["model"] = {**(model_info or {}), **structure}
    return json.loads(json.dumps(record, default=_json_value))


def _json_value(value):
    """A JSON form of an object in ``model_info``: its config (specs, Keras objects), or the
    name of its function or type."""
    if hasattr(value, "get_config"):
        return value.get_config()
    return f"{type(value).__module__}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def check_resumable(output_dir: pathlib.Path, record: dict, backup: EpochBackup,
                     epochs: int) -> None:
    """Raise a :class:`RunFolderError` unless the folder's backup (if any) is of ``record``'s
    run, with no more than ``epochs`` epochs trained."""
    done = backup.epochs_done()
    if not done:  # nothing to resume: the run starts afresh, rewriting the folder's files
        return
    path = output_dir / RUN_RECORD
    if not path.is_file():
        raise RunFolderError(
            f"{output_dir} holds a backup of {_epochs(done)} ({backup.files()[-1]}) but no "
            f"{RUN_RECORD} saying what run it is (deleted, or written by an older mmzoo), so "
            f"it cannot be resumed safely: {START_AFRESH}, or choose another output_dir.")
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        previous = error
    if not (isinstance(previous, dict) and isinstance(previous.get("train"), dict)
            and isinstance(previous.get("model"), dict)):
        what = previous if isinstance(previous, ValueError) else "not a record of mmzoo's"
        raise RunFolderError(f"{path} is not a run record ({what}): {START_AFRESH}, or delete "
                             f"the folder {output_dir}.")
    changes = _differences(previous, record)
    if changes:
        shown = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more" if changes[5:] else "")
        raise RunFolderError(
            f"{output_dir} holds {_epochs(done)} of a different run, which this one would resume "
            f"({shown}): {START_AFRESH}, choose another output_dir, or undo the change.")
    if done > epochs:
        raise RunFolderError(
            f"{output_dir} holds a run trained for {_epochs(done)} already, more than "
            f"epochs={epochs}: set epochs to {done} or more to resume it, {START_AFRESH}, or "
            "choose another output_dir.")


def _differences(old: dict, new: dict) -> list[str]:
    """``"key: old -> new"`` for each field (dotted path) that differs, but RESUMABLE_FIELDS."""
    old, new = _flat(old), _flat(new)
    exempt = {f"train.{field}" for field in RESUMABLE_FIELDS}
    keys = [k for k in {**new, **old} if k not in exempt and old.get(k) != new.get(k)]
    return [_change(k, old.get(k), new.get(k)) for k in keys]


def _flat(record: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


_SHORT = reprlib.Repr()

_SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 6, 40, 40


def _change(key: str, old, new) -> str:
    """One difference; of two long lists of the same length, the first item that differs."""
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) > 6:
        index = next(i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b)
        key, old, new = f"{key}[{index}]", old[index], new[index]
    return f"{key}: {_SHORT.repr(old)} -> {_SHORT.repr(new)}"


def remove_run(output_dir: pathlib.Path, backup: EpochBackup) -> None:
    """Delete what a run wrote into ``output_dir`` (when it holds one), and nothing else."""
    if not ((output_dir / RUN_RECORD).is_file() or backup.files()):
        return
    for path in [*(output_dir / name for name in RUN_FILES), *backup.files(),
                 *checkpoint_paths(output_dir, ".keras"),
                 *checkpoint_paths(output_dir, ".weights.h5")]:
        if path.is_file():
            path.unlink()
    for logs in ("train", "validation"):
        shutil.rmtree(output_dir / "logs" / logs, ignore_errors=True)
    for folder in (output_dir / "checkpoints", backup.directory, output_dir / "logs"):
        with contextlib.suppress(OSError):  # kept when something else is inside
            folder.rmdir()


def check_writable(output_dir: pathlib.Path, suffix: str) -> None:
    """Make the run's folders and write a probe file in each: a :class:`RunFolderError`
    naming the one that cannot be written, or a file the run writes that is not a file."""
    for folder in (output_dir, output_dir / "checkpoints", output_dir / "backup",
                   output_dir / "logs"):
        probe = folder / f"{PARTIAL_PREFIX}probe-{os.getpid()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            reason = ("it is not a folder" if folder.exists() and not folder.is_dir()
                      else error.strerror or first_line(error))
            raise RunFolderError(f"cannot write into {folder} ({reason}): make it a writable "
                                 "folder, or choose another output_dir.") from error
    for path in [*(output_dir / name for name in RUN_FILES),
                 *checkpoint_paths(output_dir, suffix)]:
        if path.exists() and not path.is_file():
            raise RunFolderError(f"{path} is in the way: the run writes a file there; move it "
                                 "away, or choose another output_dir.")


def remove_partial_files(output_dir: pathlib.Path) -> None:
    """Delete what a killed run was writing when it died."""
    if output_dir.is_dir():
        for partial in output_dir.rglob(PARTIAL_PREFIX + "*"):
            partial.unlink()


def _epochs(count: int) -> str:
    return f"{count} epoch{'' if count == 1 else 's'}"
