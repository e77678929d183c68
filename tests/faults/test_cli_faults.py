"""Bad input to every ``mmzoo`` subcommand, run as a user runs it (a subprocess each).

For each case: the exit code (2: bad usage, the command line, the config or the output
folder; 1: bad data in a file), exactly one line on stderr, ``mmzoo COMMAND: error: ``
and the culprit named in it, no traceback. The resume cases copy the run folder that
``tests/cli/test_cli.py``'s ``mmzoo train`` wrote (trained once per session) and change
the config under it.
"""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest
import yaml

from mmzoo.zoo import load_preprocessor
from tests.cli.test_cli import (  # noqa: F401 - the session fixtures: data, trained preset
    RUN_CONFIG,
    assert_ok,
    assert_one_line_error,
    mmzoo_command,
    preset,
    trained,
    work,
    write_manifest,
)


def _file(c, name: str, data: bytes = b"") -> pathlib.Path:
    path = c["tmp"] / name
    path.write_bytes(data)
    return path


def _folder(c, name: str) -> pathlib.Path:
    path = c["tmp"] / name
    path.mkdir()
    return path


def _config(c, name: str, **changes) -> pathlib.Path:
    """RUN_CONFIG with absolute data paths, one epoch, ``changes`` (``"model.specs"``: value)."""
    config = json.loads(json.dumps(RUN_CONFIG))
    config["data"] = {"train": str(c["work"] / "data" / "train.csv")}
    config["train"]["epochs"] = 1
    config["output_dir"] = str(c["tmp"] / "run")
    for key, value in changes.items():
        *parents, last = key.split(".")
        section = config
        for parent in parents:
            section = section[parent]
        section[last] = value
    path = c["tmp"] / name
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _header_only(c) -> pathlib.Path:
    return write_manifest(c["tmp"] / "header.csv", [])


def _run_copy(c) -> pathlib.Path:
    """A copy of the trained run's folder (2 epochs, 16 x 16 images, concat_tiny)."""
    return pathlib.Path(shutil.copytree(c["preset"].parent, c["tmp"] / "run"))


def _resumed(c, name: str, **changes) -> list:
    """``train --config`` of a changed config, output into a copy of the trained run."""
    output = _run_copy(c)
    return ["train", "--config", _config(c, name, output_dir=str(output),
                                         **{"train.epochs": 2, **changes})]


def _corrupt_history(c) -> list:
    args = _resumed(c, "same.yaml")
    (c["tmp"] / "run" / "history.json").write_text('{"loss": [0.5,', encoding="utf-8")
    return args


CASES = {
    # id: (needs the trained preset, args(context), exit code, what stderr names)
    "info-a-file": (False, lambda c: ["info", _file(c, "notes.txt", b"hi")], 2,
                    ["notes.txt", "is a file"]),
    "prepare-output-is-a-file": (True, lambda c: [
        "prepare", c["work"] / "data" / "train.csv", "--preset", c["preset"],
        "--output", _file(c, "taken", b"x")], 2, ["--output", "taken", "not a folder"]),
    "prepare-empty-manifest": (True, lambda c: [
        "prepare", _file(c, "empty.csv"), "--preset", c["preset"], "--output", c["tmp"] / "p"],
        1, ["empty.csv", "empty"]),
    "prepare-empty-folder": (True, lambda c: [
        "prepare", _folder(c, "nothing"), "--preset", c["preset"], "--output", c["tmp"] / "p"],
        2, ["nothing", "holds no examples"]),
    "train-config-is-a-folder": (False, lambda c: ["train", "--config", _folder(c, "cfg.yaml")],
                                 2, ["cfg.yaml", "is a folder"]),
    "train-config-not-utf8": (False, lambda c: ["train", "--config", _file(
        c, "latin1.yaml", "name: caf\xe9\n".encode("latin-1"))], 2,
        ["latin1.yaml", "not UTF-8", "byte 9"]),
    "train-header-only-manifest": (False, lambda c: ["train", "--config", _config(
        c, "header.yaml", **{"data.train": str(_header_only(c))})], 1, ["header.csv", "no rows"]),
    "train-model-cannot-be-built": (False, lambda c: ["train", "--config", _config(
        c, "fusion.yaml", **{"model.options": {"fusion": "fuzzy"}})], 2,
        ["fusion.yaml", "model:", "'fuzzy'"]),
    "train-unknown-optimizer": (False, lambda c: ["train", "--config", _config(
        c, "optimizer.yaml", **{"train.optimizer": "adamm"})], 1,
        ["TrainConfig.optimizer='adamm'"]),
    "train-output-dir-is-a-file": (False, lambda c: ["train", "--config", _config(
        c, "out.yaml", output_dir=str(_file(c, "taken", b"x")))], 2, ["taken", "not a folder"]),
    "train-changed-image-size": (True, lambda c: _resumed(
        c, "bigger.yaml", **{"model.specs.image.height": 24}), 2,
        ["run holds 2 epochs of a different run", "specs.image.height: 16 -> 24", "--overwrite"]),
    "train-changed-architecture": (True, lambda c: _resumed(
        c, "gated.yaml", **{"model.architecture": "gated_tiny"}), 2,
        ["run holds 2 epochs", "model.architecture: 'concat_tiny' -> 'gated_tiny'"]),
    "train-changed-classes": (True, lambda c: _resumed(
        c, "two.yaml", **{"data.train": str(c["work"] / "data" / "two_classes.csv")}), 2,
        ["run holds 2 epochs", "class_names: ['bird', 'cat', 'frog'] -> ['dry', 'wet']"]),
    "train-fewer-epochs": (True, lambda c: _resumed(c, "shorter.yaml", **{"train.epochs": 1}), 2,
                           ["run holds a run trained for 2 epochs already", "epochs=1"]),
    "train-corrupt-history": (True, _corrupt_history, 2,
                              ["history.json is not a training history", "--overwrite"]),
    "evaluate-header-only-manifest": (True, lambda c: [
        "evaluate", c["preset"], "--data", _header_only(c)], 1, ["header.csv", "no rows"]),
    "evaluate-empty-folder": (True, lambda c: [
        "evaluate", c["preset"], "--data", _folder(c, "nothing")], 2, ["nothing", "no examples"]),
    "finetune-output-is-a-file": (True, lambda c: [
        "finetune", c["preset"], "--data", c["work"] / "data" / "train.csv", "--batch-size", "8",
        "--output", _file(c, "taken", b"x")], 2, ["taken", "not a folder"]),
    "export-output-is-a-file": (True, lambda c: [
        "export", c["preset"], "--output", _file(c, "taken", b"x")], 2,
        ["--output", "taken", "not a folder"]),
    "predict-empty-image": (True, lambda c: [
        "predict", c["preset"], "--image", _file(c, "empty.png")], 2,
        ["--image", "empty.png", "the file is empty"]),
    "predict-empty-audio": (True, lambda c: [
        "predict", c["preset"], "--text", "a cat", "--audio", _file(c, "empty.wav")], 2,
        ["--audio", "empty.wav", "the file is empty"]),
    "predict-empty-text": (True, lambda c: ["predict", c["preset"], "--text", ""], 2,
                           ["--text is empty"]),
    "predict-image-is-a-folder": (True, lambda c: [
        "predict", c["preset"], "--image", _folder(c, "photos")], 2,
        ["--image", "photos", "a folder, not a file"]),
}


def context_of(request, tmp_path, needs_preset=True) -> dict:
    """What the cases' arguments are made from: the data's folder, tmp_path, the preset."""
    context = {"work": request.getfixturevalue("work"), "tmp": tmp_path}
    if needs_preset:
        context["preset"] = request.getfixturevalue("preset")
    return context


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_naming_the_culprit(case, request, tmp_path):
    needs_preset, make_args, code, named = CASES[case]
    args = make_args(context_of(request, tmp_path, needs_preset))
    line = assert_one_line_error(mmzoo_command(*args, cwd=tmp_path, timeout=180), args[0], code,
                                 named)
    # A whole file's error says how to fix the file, not a bad example's advice.
    assert "fix or remove this example" not in line


def test_a_refused_resume_leaves_the_run_folder_as_it_was(request, tmp_path):
    args = _resumed(context_of(request, tmp_path), "bigger.yaml",
                    **{"model.specs.image.height": 24})
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert mmzoo_command(*args, cwd=tmp_path).returncode == 2
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before


def test_overwrite_trains_afresh_and_keeps_unrelated_files(request, tmp_path):
    args = _resumed(context_of(request, tmp_path), "bigger.yaml",
                    **{"model.specs.image.height": 24, "train.epochs": 1})
    (tmp_path / "run" / "notes.txt").write_text("mine", encoding="utf-8")
    completed = mmzoo_command(*args, "--overwrite", cwd=tmp_path)
    assert_ok(completed)
    run = tmp_path / "run"
    assert (run / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 1
    assert [p.name for p in (run / "backup").iterdir()] == ["epoch-0001.weights.h5"]
    assert load_preprocessor(run / "preset").specs["image"].height == 24
