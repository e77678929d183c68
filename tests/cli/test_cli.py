"""The ``mmzoo`` command, run as a user runs it: a subprocess per command.

One tiny dataset (text, PNG, WAV, three classes) is written once; ``mmzoo train
--config`` trains one preset from it and ``mmzoo export`` exports that preset, once
per run (under pytest-xdist a file lock makes one worker do it and the others reuse
it). Every other command runs against those, and its output is checked against the
same computation done in this process. Each subcommand also gets a bad input: exit
code, one line on stderr naming the culprit, no traceback (except with ``--verbose``).
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
import yaml

import mmzoo
from mmzoo import cli, run_config
from mmzoo.data import DataError, PreparedData
from mmzoo.models import model_config
from mmzoo.specs import spec_from_config
from mmzoo.zoo import from_preset, load_preprocessor, preset_info
from tests.data_files import pattern, tone, write_audio, write_image
from tests.helpers import shared_by_workers

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = pathlib.Path(sys.executable).with_name("mmzoo")
CLASSES = {"bird": "a small bird sings", "cat": "the cat purrs", "frog": "a green frog croaks"}
RATE = 8000
RUN_CONFIG = {
    "name": "tiny_run",
    "description": "three classes, each modality telling them apart",
    "modalities": ["text", "image", "audio"],
    "data": {"train": "data/train.csv", "validation": "data/test.csv"},
    "model": {
        "architecture": "concat_tiny",
        "specs": {"text": {"vocabulary_size": 50, "sequence_length": 8},
                  "image": {"height": 16, "width": 16, "channels": 3},
                  "audio": {"sample_rate": RATE, "clip_seconds": 0.25, "num_mel_bins": 16,
                            "fft_length": 256, "hop_length": 128}},
        "options": {"embedding_dim": 16},
    },
    "train": {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "seed": 1},
    "output_dir": "runs/tiny",
}
#: What TensorFlow/absl print on stderr when nothing quiets them.
NOISE = re.compile(r"absl::InitializeLog|cudart_stub|cuInit|cpu_feature_guard|^[IWEF]0000 ",
                   re.MULTILINE)


def mmzoo_command(*args, cwd, script=False, timeout=300) -> subprocess.CompletedProcess:
    """Run ``mmzoo ARGS`` (``python -m mmzoo.cli``, or the console script) as a user would:
    no TensorFlow logging settings of ours in the environment."""
    command = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "mmzoo.cli"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([*command, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def assert_ok(completed) -> None:
    """Exit code 0 and none of TensorFlow's start-up lines on stderr."""
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert not NOISE.search(completed.stderr), completed.stderr[-3000:]


def assert_one_line_error(completed, subcommand: str, code: int, named) -> str:
    """Exit ``code``, exactly one line on stderr (``mmzoo SUB: error: ...``) holding every
    text of ``named``, and no traceback. Returns the line."""
    assert completed.returncode == code, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith(f"mmzoo {subcommand}: error: "), lines[0]
    for text in named:
        assert text in lines[0], lines[0]
    assert "Traceback" not in completed.stderr
    return lines[0]


def shared(tmp_path_factory, name: str, make) -> pathlib.Path:
    """The folder ``make(folder)`` fills, made once per run: under xdist, the workers share it
    and a file lock makes one of them make it."""
    with shared_by_workers(tmp_path_factory, f"cli-{name}") as folder:
        if not (folder / ".done").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / ".done").touch()
    return folder


def save_result(completed: subprocess.CompletedProcess, folder: pathlib.Path) -> None:
    """A command's exit code and output, for the other workers."""
    (folder / "result.json").write_text(json.dumps(
        {"returncode": completed.returncode, "stdout": completed.stdout,
         "stderr": completed.stderr}))


def load_result(folder: pathlib.Path) -> types.SimpleNamespace:
    return types.SimpleNamespace(**json.loads((folder / "result.json").read_text()))


def write_manifest(path: pathlib.Path, rows: list[dict]) -> pathlib.Path:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, ["text", "image", "audio", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_rows(path: pathlib.Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def make_data(folder: pathlib.Path) -> None:
    """``data/train.csv`` (24 rows), ``test.csv`` (9), ``two_classes.csv`` (12: dry, wet)."""
    data = folder / "data"
    for split, count in (("train", 24), ("test", 9)):
        rows = []
        for i in range(count):
            label = list(CLASSES)[i % 3]
            k = list(CLASSES).index(label)
            image = write_image(data / "media" / f"{split}{i}.png",
                                pattern(16, 16, 3, seed=5 * k + i % 2))
            audio = write_audio(data / "media" / f"{split}{i}.wav",
                                tone(0.25, RATE, 300.0 + 400 * k), RATE)
            rows.append({"text": CLASSES[label], "image": image.relative_to(data).as_posix(),
                         "audio": audio.relative_to(data).as_posix(), "label": label})
        write_manifest(data / f"{split}.csv", rows)
        if split == "train":
            write_manifest(data / "two_classes.csv", [
                {**row, "label": "wet" if row["label"] == "frog" else "dry"}
                for row in rows if row["label"] != "cat"])


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> pathlib.Path:
    """The folder holding ``data/``: commands run there."""
    return shared(tmp_path_factory, "data", make_data)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, work) -> types.SimpleNamespace:
    """``mmzoo train --config`` run once (by the console script when installed): the preset and
    the run's output."""
    def train(folder):
        config = folder / "tiny_run.yaml"
        config.write_text(yaml.safe_dump(RUN_CONFIG), encoding="utf-8")
        # The relative paths of the config (data, output_dir) are the current folder's.
        save_result(mmzoo_command("train", "--config", config, cwd=work,
                                  script=CONSOLE_SCRIPT.is_file()), folder)

    result = load_result(shared(tmp_path_factory, "train", train))
    result.preset = work / "runs" / "tiny" / "preset"
    return result


@pytest.fixture(scope="session")
def preset(trained) -> pathlib.Path:
    assert trained.returncode == 0, trained.stderr[-3000:]
    return trained.preset


@pytest.fixture(scope="session")
def exported(tmp_path_factory, preset, work) -> types.SimpleNamespace:
    """``mmzoo export`` of the preset, once: the model's base folder and the run's output."""
    def export(folder):
        save_result(mmzoo_command("export", preset, "--output", folder / "serving" / "tiny",
                                  cwd=work), folder)

    folder = shared(tmp_path_factory, "export", export)
    result = load_result(folder)
    assert result.returncode == 0, result.stderr[-3000:]
    result.base = folder / "serving" / "tiny"
    return result


@pytest.fixture(scope="session")
def example(work) -> dict:
    """One test example's inputs: the command's flags and the raw batch for the preprocessor."""
    row = read_rows(work / "data" / "test.csv")[0]
    image, audio = work / "data" / row["image"], work / "data" / row["audio"]
    return {"flags": ["--text", row["text"], "--image", image, "--audio", audio],
            "raw": {"text": [row["text"]], "image": [image.read_bytes()],
                    "audio": [audio.read_bytes()]}}


def probabilities_in_process(preset, raw: dict) -> np.ndarray:
    """The preset's probabilities for a batch of raw inputs, computed here."""
    pre = load_preprocessor(preset)
    features = pre({m: tf.constant(v) for m, v in raw.items() if m in pre.modalities})
    return np.asarray(from_preset(preset)(features, training=False))


# Under pytest-xdist, tests go to the workers in this order: the chain train -> export ->
# predict (the longest) comes first, so that one worker starts it while the other runs the
# commands that need no trained model; the rest of the trained model's tests come last.


# --- train, export, predict -------------------------------------------------------------------


def test_train_writes_a_preset_that_loads(trained, preset):
    assert_ok(trained)
    assert "Epoch 2/2" in trained.stdout  # progress, epoch by epoch
    assert trained.stdout.strip().endswith(f"preset written to {pathlib.Path('runs/tiny/preset')}")
    model = from_preset(preset)
    info = preset_info(preset)
    assert model.output.shape == (None, 3)
    assert info["class_names"] == sorted(CLASSES)
    assert info["name"] == RUN_CONFIG["name"]
    assert info["description"] == RUN_CONFIG["description"]
    assert load_preprocessor(preset).modalities == ("text", "image", "audio")
    assert len(json.loads((preset.parent / "history.json").read_text())["loss"]) == 2


def test_export_writes_a_versioned_saved_model_with_its_class_names(exported, preset):
    version = exported.base / "1"
    assert (version / "saved_model.pb").is_file()
    assert exported.stdout.strip().endswith(f"exported to {version}")
    assert not NOISE.search(exported.stderr), exported.stderr
    names = json.loads((version / "assets.extra" / "class_names.json").read_text())
    assert names == preset_info(preset)["class_names"]


def test_predict_with_the_preset_and_the_saved_model_agree_with_this_process(
        preset, exported, example, work):
    expected = probabilities_in_process(preset, example["raw"])[0]
    names = preset_info(preset)["class_names"]
    order = np.argsort(-expected, kind="stable")
    # The preset, as JSON.
    completed = mmzoo_command("predict", preset, *example["flags"], "--json", cwd=work)
    assert_ok(completed)
    shown = json.loads(completed.stdout)
    assert list(shown) == [names[i] for i in order]
    for name, probability in shown.items():
        assert probability == pytest.approx(expected[names.index(name)], abs=1e-4)
    # The SavedModel, by its base folder (the latest version), as text: every class named.
    completed = mmzoo_command("predict", exported.base, *example["flags"], "--top", "2", cwd=work)
    assert_ok(completed)
    lines = completed.stdout.splitlines()
    assert len(lines) == 2
    for line, index in zip(lines, order[:2], strict=True):
        name, probability = line.split()
        assert name == names[index]
        assert float(probability) == pytest.approx(expected[index], abs=1e-4)


# --- list, info ------------------------------------------------------------------------------


def test_console_script_lists_every_registered_name(tmp_path):
    if not CONSOLE_SCRIPT.is_file():
        pytest.skip(f"no console script {CONSOLE_SCRIPT}: pip install -e . first")
    completed = mmzoo_command("list", cwd=tmp_path, script=True)
    assert_ok(completed)
    assert completed.stderr == ""
    lines = dict(line.split(":", 1) for line in completed.stdout.splitlines())
    assert [n.strip() for n in lines["architectures"].split(",")] == mmzoo.list_models()
    assert [n.strip() for n in lines["fusions"].split(",")] == mmzoo.list_fusions()
    assert [n.strip() for n in lines["presets"].split(",")] == mmzoo.list_presets()


def test_info_of_an_architecture_is_its_configuration(tmp_path):
    completed = mmzoo_command("info", "gated_tiny", cwd=tmp_path)
    assert_ok(completed)
    expected = {k: v.get_config() if hasattr(v, "get_config") else v
                for k, v in model_config("gated_tiny").items()}
    assert json.loads(completed.stdout) == json.loads(json.dumps(expected, default=str))


def test_info_of_a_registered_preset_is_its_metadata(tmp_path):
    name = mmzoo.list_presets()[0]
    completed = mmzoo_command("info", name, cwd=tmp_path)
    assert_ok(completed)
    assert json.loads(completed.stdout) == preset_info(name)


# --- bad input: one line, the culprit named, the right exit code ------------------------------


def _broken_manifest(context):
    data = context["work"] / "data"
    rows = [{**row, "image": str(data / row["image"]), "audio": str(data / row["audio"])}
            for row in read_rows(data / "test.csv")]
    rows[0]["image"] = str(context["tmp"] / "gone.png")
    return write_manifest(context["tmp"] / "broken.csv", rows)


def _manifest_with_bad_image(context) -> pathlib.Path:
    data = context["work"] / "data"
    rows = [{**row, "image": str(data / row["image"]), "audio": str(data / row["audio"])}
            for row in read_rows(data / "train.csv")]
    rows[1]["image"] = str(_not_an_image(context))
    return write_manifest(context["tmp"] / "with_bad_image.csv", rows)


def _config(context, text: str, name: str) -> pathlib.Path:
    path = context["tmp"] / name
    path.write_text(text, encoding="utf-8")
    return path


def _not_an_image(context) -> pathlib.Path:
    path = context["tmp"] / "notes.png"
    path.write_text("not an image", encoding="utf-8")
    return path


BAD_INPUTS = {
    # id: (needs, args(context), exit code, what stderr names)
    "list-unknown-option": ((), lambda c: ["list", "--bogus"], 2, ["--bogus"]),
    "info-unknown-architecture": ((), lambda c: ["info", "concat_tiy"], 2,
                                  ["'concat_tiy'", "concat_tiny"]),
    "prepare-missing-manifest": ((), lambda c: ["prepare", c["tmp"] / "missing.csv", "--preset",
                                                "concat_lenet_avmnist", "--output", c["tmp"]],
                                 2, ["missing.csv"]),
    "train-malformed-yaml": ((), lambda c: ["train", "--config", _config(
        c, "name: x\nmodalities: [text\n", "malformed.yaml")], 2, ["malformed.yaml", "line 3"]),
    "train-config-missing-keys": ((), lambda c: ["train", "--config", _config(
        c, "name: x\nmodalities: [text]\n", "partial.yaml")], 2,
        ["partial.yaml", "data", "model", "train"]),
    "train-unknown-architecture": ((), lambda c: ["train", "--config", _config(
        c, yaml.safe_dump({**RUN_CONFIG, "model": {"architecture": "nope_tiny"}}),
        "arch.yaml")], 2, ["arch.yaml", "model.architecture", "nope_tiny"]),
    # Met while training, inside tf.data: still one line, and the process ends.
    "train-undecodable-image": ((), lambda c: ["train", "--config", _config(c, yaml.safe_dump({
        **RUN_CONFIG, "data": {"train": str(_manifest_with_bad_image(c))},
        "train": {**RUN_CONFIG["train"], "epochs": 1}, "output_dir": str(c["tmp"] / "run")}),
        "bad_data.yaml")], 1, ["with_bad_image.csv row 2", "notes.png", "cannot decode the image"]),
    "evaluate-missing-file-in-manifest": (("preset",), lambda c: [
        "evaluate", c["preset"], "--data", _broken_manifest(c)], 1,
        ["broken.csv row 1", "gone.png"]),
    "finetune-unknown-preset": ((), lambda c: ["finetune", "no_such_preset", "--data",
                                               c["work"] / "data" / "train.csv", "--output",
                                               c["tmp"] / "ft"], 2, ["'no_such_preset'"]),
    "export-existing-version": (("exported",), lambda c: [
        "export", c["preset"], "--output", c["exported"].base, "--version", "1"], 2,
        [str(pathlib.Path("tiny") / "1"), "--overwrite"]),
    "predict-undecodable-image": (("exported",), lambda c: [
        "predict", c["exported"].base, "--image", _not_an_image(c)], 1,
        ["--image", "notes.png", "cannot decode"]),
}


def check_bad_input(case, request, tmp_path):
    """The case's command fails with its exit code and one line on stderr naming the culprit."""
    needs, make_args, code, named = BAD_INPUTS[case]
    context = {"work": request.getfixturevalue("work"), "tmp": tmp_path}
    for name in needs:
        context[name] = request.getfixturevalue(name)
    if "exported" in needs:
        context["preset"] = request.getfixturevalue("preset")
    args = make_args(context)
    assert_one_line_error(mmzoo_command(*args, cwd=tmp_path, timeout=180), args[0], code, named)


@pytest.mark.parametrize("case", [case for case, (needs, *_) in BAD_INPUTS.items() if not needs])
def test_bad_input_is_one_clear_line(case, request, tmp_path):
    check_bad_input(case, request, tmp_path)


@pytest.mark.parametrize("case", [case for case, (needs, *_) in BAD_INPUTS.items() if needs])
def test_bad_input_about_the_trained_model_is_one_clear_line(case, request, tmp_path):
    check_bad_input(case, request, tmp_path)


def test_verbose_adds_the_traceback(tmp_path):
    completed = mmzoo_command("--verbose", "info", "concat_tiy", cwd=tmp_path)
    assert completed.returncode == 2
    assert "Traceback (most recent call last)" in completed.stderr
    assert completed.stderr.strip().splitlines()[-1].startswith("mmzoo info: error: 'concat_tiy'")


def test_an_error_raised_inside_a_tf_function_is_said_by_its_last_line():
    """TensorFlow's "in user code:" (its first line) says nothing: the Python error's line."""
    with pytest.raises(KeyError) as error:
        tf.data.Dataset.from_tensors({"label": 1}).map(lambda row: row["text"])
    assert str(error.value).splitlines()[0] == "in user code:"
    assert cli._message(error.value) == "KeyError: 'text'"


def test_a_bad_example_met_inside_a_pipeline_is_said_with_the_commands_advice():
    """Its fields as they were (quotes and backticks too), the command's advice for its own."""
    error = DataError("train.csv row 2", "it's `a`.png", "cannot decode the image: 'x' `y`.")

    def fail(_):
        with tf.control_dependencies([tf.debugging.Assert(False, [error.to_tf_message()])]):
            return tf.constant(0)

    with pytest.raises(tf.errors.InvalidArgumentError) as carried:
        list(tf.data.Dataset.range(1).map(fail))
    said = "train.csv row 2 (it's `a`.png): cannot decode the image: 'x' `y`; fix or remove this example"
    assert cli._message(carried.value, "prepare") == f"{said}, or pass --on-error skip."
    assert cli._message(error, "train") == (
        f"{said}, or set on_error: skip in the config's train section.")
    whole_file = DataError("train.csv", "", "the file is empty", "Write a header line.")
    assert cli._message(whole_file, "prepare") == "train.csv: the file is empty. Write a header line."


# --- help and guide (in this process) ---------------------------------------------------------


def _subcommands() -> dict:
    parser = cli._parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_every_subcommand_help_shows_an_example():
    subcommands = _subcommands()
    assert set(subcommands) == {"list", "info", "prepare", "train", "evaluate", "finetune",
                                "export", "predict"}
    for name, parser in subcommands.items():
        assert re.search(rf"^examples?:\n  mmzoo {name}\b", parser.format_help(), re.MULTILINE), name


def test_the_guide_documents_every_subcommand_and_config_key():
    guide = (ROOT / "docs" / "guides" / "cli.md").read_text(encoding="utf-8")
    for name in _subcommands():
        assert f"mmzoo {name}" in guide, name
    for key in [*run_config.CONFIG_KEYS, "architecture", "specs", "options", "validation",
                *run_config.model_options()]:
        assert f"`{key}`" in guide, key
    assert "guides/cli.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_the_help_config_example_is_a_valid_config(tmp_path):
    path = tmp_path / "example.yaml"
    path.write_text(cli.CONFIG_EXAMPLE, encoding="utf-8")
    config = cli.load_run_config(path)
    specs = config.model["specs"]
    model = mmzoo.create_model(config.model["architecture"],
                               modalities=config.modalities, num_classes=3,
                               **{m: spec_from_config(m, specs.get(m, {}))
                                  for m in config.modalities},
                               **config.model["options"])
    assert model.output.shape == (None, 3)


# --- evaluate, finetune, prepare (the trained model) ------------------------------------------


def test_evaluate_json_matches_an_independent_computation(preset, work):
    completed = mmzoo_command("evaluate", preset, "--data", work / "data" / "test.csv", "--json",
                              cwd=work)
    assert_ok(completed)
    report = json.loads(completed.stdout)
    rows = read_rows(work / "data" / "test.csv")
    names = preset_info(preset)["class_names"]
    raw = {"text": [r["text"] for r in rows],
           "image": [(work / "data" / r["image"]).read_bytes() for r in rows],
           "audio": [(work / "data" / r["audio"]).read_bytes() for r in rows]}
    predicted = probabilities_in_process(preset, raw).argmax(axis=-1)
    labels = np.array([names.index(r["label"]) for r in rows])
    assert report["examples"] == len(rows) == 9
    assert report["class_names"] == names
    assert report["accuracy"] == pytest.approx(float(np.mean(predicted == labels)), abs=1e-9)
    assert [row["absent"] for row in report["ablation"]] == [None, "text", "image", "audio"]
    assert report["ablation"][0]["accuracy"] == report["accuracy"]


def test_finetune_writes_a_preset_with_the_new_classes(preset, work, tmp_path):
    completed = mmzoo_command("finetune", preset, "--data", work / "data" / "two_classes.csv",
                              "--output", tmp_path / "ft", "--epochs", "1", "--batch-size", "4",
                              cwd=work)
    assert_ok(completed)
    assert completed.stdout.strip().endswith(f"preset written to {tmp_path / 'ft' / 'preset'}")
    info = preset_info(tmp_path / "ft" / "preset")
    assert info["class_names"] == ["dry", "wet"]
    assert "fine-tuned from" in info["description"]
    assert from_preset(tmp_path / "ft" / "preset").output.shape == (None, 2)


def test_prepare_writes_every_example_into_tfrecord_shards(preset, work, tmp_path):
    output = tmp_path / "prepared"
    completed = mmzoo_command("prepare", work / "data" / "train.csv", "--preset", preset,
                              "--output", output, "--shards", "2", cwd=work)
    assert_ok(completed)
    assert completed.stdout.strip() == f"prepared 24 examples into {output}"
    shards = sorted(output.glob("*.tfrecord"))
    assert len(shards) == 2
    assert sum(1 for _ in tf.data.TFRecordDataset([str(s) for s in shards])) == 24
    assert PreparedData.load(output).num_examples == 24
