"""The ``mmzoo`` command: list, info, prepare, train, evaluate, finetune, export, predict.

A trained model travels as a preset folder (model, preprocessor with its
vocabulary, class names, metadata): ``train`` and ``finetune`` write one, and
``evaluate``, ``export`` and ``predict`` take a preset name, folder or URL.
Errors print one line on stderr (``--verbose`` adds the traceback and TensorFlow's
own log lines); exit codes: 0 success, 1 error while running, 2 bad usage (the command
line or the config: unknown option, missing or empty file, unknown preset or architecture,
malformed config, an output folder holding another run), 130 interrupted. See
docs/guides/cli.md.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import shutil
import sys
import tempfile
import textwrap
import urllib.parse

from mmzoo._startup import import_tensorflow_quietly
from mmzoo.specs import MODALITIES

EXAMPLES = """\
examples:
  mmzoo list "*attention*"
  mmzoo info concat_lenet_avmnist
  mmzoo train --config my_run.yaml
  mmzoo evaluate runs/my_run/preset --data test.csv
  mmzoo finetune concat_lenet_avmnist --data train.csv --output runs/digits --epochs 5
  mmzoo export runs/my_run/preset --output serving/my_model
  mmzoo predict serving/my_model --image cat.png --text "a cat"

`mmzoo COMMAND --help` for a command's options; the guide: docs/guides/cli.md
"""

CONFIG_EXAMPLE = """\
name: my_run
modalities: [text, image]
data:                       # CSV/JSONL manifests (text, image, audio, label) or folders
  train: data/train.csv
  validation: data/validation.csv
model:
  architecture: attention_tiny          # any name from `mmzoo list`
  specs: {image: {height: 32, width: 32, channels: 3}}
  options: {fusion: {name: attention, units: 32}}
train: {epochs: 10, batch_size: 32, learning_rate: 0.001}
output_dir: runs/my_run
"""

OVERWRITE_HELP = ("start afresh in an output folder holding an earlier run (its files are "
                  "removed; others are kept) instead of resuming it")


class UsageError(ValueError):
    """A mistake in the command line or config: exit code 2."""


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, pointing at ``--help``, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def main(argv=None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the subcommand's parser, which points at its own --help
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if not args.verbose:  # after parsing: `--help` and usage errors need no TensorFlow
        import_tensorflow_quietly()
    return _run(args)


def _run(args) -> int:
    """Run the subcommand; its exit code, errors printed in one line."""
    try:
        args.run(args)
    except UsageError as error:
        return _fail(args, f"mmzoo {args.command}: error: {error}", 2)
    except KeyboardInterrupt:
        again = " (run the same command again to resume)" if args.command in (
            "train", "finetune") else ""
        return _fail(args, f"mmzoo {args.command}: interrupted{again}", 130)
    except (ValueError, OSError, KeyError) as error:
        code = 2 if _is_run_folder_error(error) else 1
        return _fail(args, f"mmzoo {args.command}: error: {_message(error, args.command)}", code)
    except Exception as error:  # noqa: BLE001 - the command's last line of defence
        if _is_tf_error(error):  # e.g. a bad example met inside a tf.data pass
            return _fail(args, f"mmzoo {args.command}: error: {_message(error, args.command)}", 1)
        return _fail(args, f"mmzoo {args.command}: unexpected {type(error).__name__}: "
                           f"{_message(error)} (run again with --verbose for the traceback)", 1)
    return 0


def _is_run_folder_error(error: BaseException) -> bool:
    """An output folder that does not fit the run (another run's, corrupt, unwritable)."""
    training = sys.modules.get("mmzoo.training")  # not imported: not raised
    return training is not None and isinstance(error, training.RunFolderError)


def _is_tf_error(error: BaseException) -> bool:
    import tensorflow as tf

    return isinstance(error, tf.errors.OpError)


def _message(error: BaseException, command: str | None = None) -> str:
    """The first line of ``error``'s message, without TensorFlow's op decorations; a bad
    example's :class:`~mmzoo.data.DataError` (raised, or met inside a tf.data pass) with the
    command's advice."""
    from mmzoo.data.errors import DataError, op_message

    data_error = error if isinstance(error, DataError) else DataError.from_tf_error(error)
    if data_error is not None:
        return _data_error_line(data_error, command)
    lines = [line.strip() for line in str(getattr(error, "message", None) or error).splitlines()
             if line.strip()]
    if not lines:
        return type(error).__name__
    # A graph error ("Graph execution error:", "Detected at node ...") says what went wrong
    # further down.
    said = [line for line in lines if not re.match(
        r"Graph execution error|Detected at node|<stack traces unavailable>|File \"", line)]
    if said and said[0] == "in user code:":  # Python raised inside a tf.function: its last line
        said = [line for line in lines if re.match(r"[\w.]+(Error|Exception): ", line)][-1:]
    return op_message((said or lines)[0])


def _data_error_line(error, command: str | None) -> str:
    """A :class:`~mmzoo.data.DataError`'s line. A bad example's advice is for Python callers
    (on_error='skip'): the command says its own. A whole file that cannot be used says how
    to fix it: kept as it is."""
    if not error.is_bad_example:
        return str(error)
    skip = ", or pass --on-error skip" if command in ("prepare", "evaluate", "finetune") else (
        ", or set on_error: skip in the config's train section" if command == "train" else "")
    return f"{error.where}: {error.reason.rstrip('.')}; fix or remove this example{skip}."


def _fail(args, line: str, code: int) -> int:
    if args.verbose:
        import traceback

        traceback.print_exc()
    sys.stdout.flush()
    print(line, file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mmzoo", description="Multimodal (text + image + audio) classifiers for Keras.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true",
                        help="on errors, show the traceback; show TensorFlow's log lines")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, run, help, epilog):
        sub = commands.add_parser(name, help=help, description=help, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        # SUPPRESS: `mmzoo --verbose train ...` is not undone by the subcommand's default.
        sub.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="on errors, show the traceback; show TensorFlow's log lines")
        sub.set_defaults(run=run, parser=sub)
        return sub

    sub = command("list", _list, "list architectures, fusions and zoo presets",
                  "examples:\n  mmzoo list\n  mmzoo list \"*_tiny\"")
    sub.add_argument("pattern", nargs="?", default="*", help="shell-style filter (default: *)")

    sub = command("info", _info, "show a preset's metadata or an architecture's configuration "
                  "(JSON)", "examples:\n  mmzoo info attention_tiny\n"
                  "  mmzoo info concat_lenet_avmnist\n  mmzoo info runs/my_run/preset")
    sub.add_argument("name", help="an architecture name, or a preset (name, folder, URL)")

    sub = command("prepare", _prepare, "decode raw files once into TFRecord shards",
                  "example:\n  mmzoo prepare data/train.csv --preset runs/my_run/preset "
                  "--output prepared/train\n\nThe shards hold the preset's preprocessed inputs; "
                  "read them with\nmmzoo.data.PreparedData.load(folder) and mmzoo.data.make_dataset.")
    sub.add_argument("data", help="a CSV/JSONL manifest or a folder tree")
    sub.add_argument("--preset", required=True, help="the preset whose preprocessing to apply")
    sub.add_argument("--output", required=True, help="folder for the shards")
    sub.add_argument("--shards", type=_positive_int, default=8, help="number of shard files (default: 8)")
    sub.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                     help="bad examples (missing or undecodable files): stop, or skip and "
                          "count them (default: raise)")

    sub = command("train", _train, "train a model from a YAML config into a preset folder",
                  "example:\n  mmzoo train --config my_run.yaml\n\n"
                  "a config (every key: docs/guides/cli.md):\n\n"
                  + textwrap.indent(CONFIG_EXAMPLE, "  ")
                  + "\nThe preset lands in <output_dir>/preset; running the same command "
                    "again resumes\nan interrupted run.")
    sub.add_argument("--config", required=True, help="the run's YAML file")
    sub.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)

    sub = command("evaluate", _evaluate, "metrics and per-modality ablation on labelled data",
                  "examples:\n  mmzoo evaluate runs/my_run/preset --data test.csv\n"
                  "  mmzoo evaluate runs/my_run/preset --data test.csv --json > report.json")
    sub.add_argument("preset", help="a preset name, folder or URL")
    sub.add_argument("--data", required=True, help="a CSV/JSONL manifest or a folder tree, "
                     "labelled with the preset's class names")
    sub.add_argument("--json", action="store_true", help="print the report as JSON")
    sub.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                     help="bad examples (missing or undecodable files): stop, or leave them out "
                          "and count them (default: raise)")

    sub = command("finetune", _finetune, "fine-tune a preset on new labelled data",
                  "example:\n  mmzoo finetune concat_lenet_avmnist --data digits.csv "
                  "--validation digits_val.csv --output runs/digits --epochs 5\n\n"
                  "The data's own classes make a new head; the preset lands in <output>/preset.")
    sub.add_argument("preset", help="a preset name, folder or URL")
    sub.add_argument("--data", required=True, help="training data (manifest or folder)")
    sub.add_argument("--validation", help="validation data (manifest or folder)")
    sub.add_argument("--output", required=True, help="run folder; the preset lands in <output>/preset")
    sub.add_argument("--epochs", type=_positive_int, default=10, help="default: 10")
    sub.add_argument("--batch-size", type=_positive_int, default=32, help="default: 32")
    sub.add_argument("--learning-rate", type=_positive_float, default=1e-3, help="default: 0.001")
    sub.add_argument("--freeze-encoders", action="store_true",
                     help="train only the fusion and the new head")
    sub.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    sub.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                     help="bad examples (missing or undecodable files): stop, or skip them and "
                          "count them (default: raise)")

    sub = command("export", _export, "export a preset as a SavedModel for TF Serving",
                  "examples:\n  mmzoo export runs/my_run/preset --output serving/my_model\n"
                  "  mmzoo export concat_lenet_avmnist --output serving/digits --version 3 "
                  "--overwrite")
    sub.add_argument("preset", help="a preset name, folder or URL")
    sub.add_argument("--output", required=True, help="the model's base folder (versions inside)")
    sub.add_argument("--version", type=_positive_int, help="default: the next free version")
    sub.add_argument("--overwrite", action="store_true", help="replace an existing version")

    sub = command("predict", _predict, "classify raw files with a preset or an exported SavedModel",
                  "examples:\n  mmzoo predict runs/my_run/preset --image frog.png --text \"a frog\"\n"
                  "  mmzoo predict serving/my_model --audio croak.wav --top 1\n"
                  "  mmzoo predict serving/my_model/2 --image frog.png --json\n\n"
                  "A modality left out is absent (the model was trained to handle that).")
    sub.add_argument("model", help="a preset (name, folder, URL), or an exported model: "
                     "its base folder (latest version) or a version folder")
    sub.add_argument("--text", help="the text")
    sub.add_argument("--image", help="an image file (JPEG, PNG, GIF, BMP)")
    sub.add_argument("--audio", help="a WAV file")
    sub.add_argument("--top", type=_positive_int, default=3, help="how many classes to show (default: 3)")
    sub.add_argument("--json", action="store_true",
                     help="print {class name: probability} as JSON, most likely first")
    return parser


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number > 0")
    return value


def _list(args):
    import fnmatch

    import mmzoo

    print("architectures:", ", ".join(mmzoo.list_models(args.pattern)) or "(none match)")
    print("fusions:      ", ", ".join(fnmatch.filter(mmzoo.list_fusions(), args.pattern))
          or "(none match)")
    print("presets:      ", ", ".join(mmzoo.list_presets(args.pattern)) or "(none match)")


def _info(args):
    import mmzoo
    from mmzoo.models import model_config

    if args.name in mmzoo.list_models():
        info = model_config(args.name)
        info = {k: v.get_config() if hasattr(v, "get_config") else v for k, v in info.items()}
    else:
        info = mmzoo.preset_info(_preset(args.name, "an architecture or a preset"))
    print(json.dumps(info, indent=2, default=str))


def _preset(name: str, what: str = "a preset") -> str:
    """``name`` if it can name a preset (registered, a folder, a URL); else a UsageError."""
    from mmzoo.zoo import list_presets

    if (name in list_presets() or pathlib.Path(name).is_dir()
            or urllib.parse.urlsplit(name).scheme in ("file", "http", "https")):
        return name
    if pathlib.Path(name).exists():
        raise UsageError(f"{name} is a file, not {what}: a preset is a folder (with its "
                         "metadata.json), or a registered name (`mmzoo list`).")
    import difflib

    import mmzoo

    known = mmzoo.list_presets() + (mmzoo.list_models() if "architecture" in what else [])
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UsageError(f"{name!r} is not {what}: no registered preset and no folder by that "
                     f"name; {hint}`mmzoo list` shows the registered names.")


def _source(path, class_names=None):
    from mmzoo.data import DataError, from_folder, from_manifest

    path = pathlib.Path(path)
    if path.is_dir():
        try:
            return from_folder(path, class_names=class_names)
        except DataError as error:  # a folder with no examples: the command names the wrong one
            raise UsageError(str(error)) from error
    if not path.exists():
        raise UsageError(f"{path} does not exist: pass a CSV/JSONL manifest or a folder.")
    return from_manifest(path, class_names=class_names)


def _output_folder(path: str, option: str = "--output") -> str:
    """``path``, unless it is something other than a folder: a UsageError."""
    if pathlib.Path(path).exists() and not pathlib.Path(path).is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder: choose another {option}.")
    return path


def _prepare(args):
    from mmzoo.data import prepare
    from mmzoo.zoo import load_preprocessor

    pre = load_preprocessor(_preset(args.preset))
    data = prepare(_source(args.data), pre, _output_folder(args.output), num_shards=args.shards,
                   on_error=args.on_error)
    skipped = f" ({data.report.summary()})" if data.report and data.report.skipped else ""
    print(f"prepared {data.num_examples} examples into {args.output}{skipped}")


def load_run_config(path):
    """A ``train --config`` YAML file as a :class:`~mmzoo.run_config.RunConfig`, checked: every
    mistake is a :class:`UsageError`."""
    from mmzoo.run_config import RunConfig, RunConfigError

    try:
        config = RunConfig.load(path)
    except RunConfigError as error:
        raise UsageError(str(error)) from None
    if "train" not in config.data:
        raise UsageError(f"config {path}: data names a TFDS dataset ({config.data.get('tfds')!r}), "
                         "as a recipe does: `mmzoo train` takes manifests or folders (data.train); "
                         "run a recipe with `python -m mmzoo.recipes`.")
    return config


def _train(args):
    from mmzoo.run_config import RunConfigError

    config = load_run_config(args.config)
    output = config.output_dir or config.train.get("output_dir") or (
        pathlib.Path("runs") / config.name)
    try:
        train_config = config.train_config(output_dir=str(output))
    except RunConfigError as error:
        raise UsageError(str(error)) from None
    train_source = _source(config.data["train"])
    pre = config.preprocessor(train_source)
    build = config.model_factory(pre, len(train_source.class_names))

    def factory():
        try:
            return build()
        except (TypeError, ValueError) as error:  # the config's model section cannot be built
            raise UsageError(f"config {args.config}: model: {_message(error)}") from None

    _fit_and_save(factory, train_source, pre, train_config, config.data.get("validation"),
                  {"name": config.name, "description": config.description
                   or f"trained by `mmzoo train` from {args.config}"}, config.model_info(),
                  args.overwrite)


def _finetune(args):
    from mmzoo.finetuning import freeze_encoders
    from mmzoo.training import TrainConfig
    from mmzoo.zoo import load_preset

    preset = _preset(args.preset)
    train_source = _source(args.data)
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                               learning_rate=args.learning_rate, output_dir=args.output,
                               on_error=args.on_error)
    loaded = load_preset(preset)

    def factory():
        model = loaded.model(num_classes=len(train_source.class_names))
        if args.freeze_encoders:
            freeze_encoders(model)
        return model

    # A folder recorded by its absolute path: the same preset however the command names it.
    origin = str(pathlib.Path(preset).resolve()) if pathlib.Path(preset).is_dir() else preset
    _fit_and_save(factory, train_source, loaded.preprocessor, train_config,
                  args.validation, {"name": pathlib.Path(args.output).name,
                                    "description": f"fine-tuned from {preset} by `mmzoo finetune`"},
                  {"preset": origin, "freeze_encoders": args.freeze_encoders}, args.overwrite)


def _fit_and_save(factory, train_source, pre, train_config, validation, metadata, model_info,
                  overwrite):
    """Train, then save the model with its preprocessor as ``<output_dir>/preset``."""
    from mmzoo.training import RUN_RECORD, train
    from mmzoo.zoo import save_to_preset

    validation_source = _source(validation, train_source.class_names) if validation else None
    for source, what in ((train_source, "training"), (validation_source, "validation")):
        count = len(source.origins) if source else train_config.batch_size
        if count < train_config.batch_size:  # batches are whole: not one batch per epoch
            raise UsageError(f"the {what} data has {count} examples, fewer than the batch size "
                             f"{train_config.batch_size}: lower the batch size or add examples.")
    output = pathlib.Path(train_config.output_dir)
    if overwrite and (output / RUN_RECORD).is_file():  # the earlier run's preset goes with it
        shutil.rmtree(output / "preset", ignore_errors=True)
    history = train(factory, train_source, train_config, preprocessor=pre,
                    validation_data=validation_source, model_info=model_info,
                    overwrite=overwrite)
    preset = save_to_preset(history.model, output / "preset",
                            class_names=train_source.class_names, preprocessor=pre, overwrite=True,
                            metadata=metadata)
    print(f"preset written to {preset}")


def _evaluate(args):
    from mmzoo import evaluation
    from mmzoo.data import make_dataset
    from mmzoo.zoo import load_preset

    preset = load_preset(_preset(args.preset))
    model, pre, names = preset.model(), preset.preprocessor, preset.class_names
    # Labels are read against the preset's classes (by name or id), not the data's own.
    source = _source(args.data, names)
    with tempfile.TemporaryDirectory(prefix="mmzoo-evaluate-") as cache:
        # Decoded once (bad examples met and counted once), then read back by the ablation.
        dataset = make_dataset(source, pre, 64, drop_remainder=False, on_error=args.on_error,
                               cache=str(pathlib.Path(cache) / "examples"))
        report = evaluation.evaluate(model, dataset, names)
        report["ablation"] = evaluation.modality_ablation(model, dataset, names)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['examples']} examples: accuracy {report['accuracy']:.4f}, "
          f"macro-F1 {report['macro_f1']:.4f}, ROC-AUC {_number(report['roc_auc'])}")
    for row in report["ablation"][1:]:
        print(f"  {row['absent']} absent: accuracy {row['accuracy']:.4f}, "
              f"macro-F1 {row['macro_f1']:.4f}")


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _export(args):
    from mmzoo.export import export_saved_model

    preset = _preset(args.preset)
    existing = pathlib.Path(_output_folder(args.output)) / str(args.version)
    if args.version is not None and existing.exists() and not args.overwrite:
        raise UsageError(f"{existing} exists: pass --overwrite to replace it, or leave out "
                         "--version to write the next free version.")
    print(f"exporting {preset} to {args.output} ...", flush=True)
    path = export_saved_model(preset, args.output, version=args.version, overwrite=args.overwrite)
    print(f"exported to {path}")


def _saved_model_folder(path: pathlib.Path) -> pathlib.Path | None:
    """The SavedModel folder ``path`` names: itself, or its latest version; None if neither."""
    if (path / "saved_model.pb").is_file():
        return path
    versions = [p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()]
    return max(versions, key=lambda p: int(p.name)) if versions else None


def _predict(args):
    import numpy as np

    from mmzoo.converters import CONVERTERS
    from mmzoo.utils import utf8_bytes

    given = {m: getattr(args, m) for m in MODALITIES if getattr(args, m) is not None}
    if not given:
        raise UsageError("nothing to classify: give --text, --image and/or --audio.")
    for modality, value in given.items():
        if value == "" and not CONVERTERS[modality].holds_paths:
            raise UsageError(f"--{modality} is empty: give the {modality}, or leave --{modality} "
                             "out to classify without it.")
    raw = {m: _input_file(m, value) if CONVERTERS[m].holds_paths else utf8_bytes(value)
           for m, value in given.items()}
    folder = _saved_model_folder(pathlib.Path(args.model))
    if folder is not None:
        probabilities, names = _predict_saved_model(folder, raw, given)
    else:
        probabilities, names = _predict_preset(
            _preset(args.model, "a preset or an exported model"), raw, given)
    if len(probabilities) == 1 and len(names) == 2:  # binary: one sigmoid unit
        probabilities = np.array([1 - probabilities[0], probabilities[0]])
    top = [int(i) for i in np.argsort(-probabilities, kind="stable")[: args.top]]
    if args.json:
        print(json.dumps({names[i]: float(probabilities[i]) for i in top}, indent=2))
        return
    width = max(len(names[i]) for i in top)
    for index in top:
        print(f"{names[index]:{width}s}  {probabilities[index]:.4f}")


def _input_file(modality: str, value: str) -> bytes:
    """The bytes of ``predict``'s ``--image``/``--audio`` file: a UsageError naming it when it
    is missing, not a file, unreadable or empty."""
    path = pathlib.Path(value)
    if not path.exists():
        raise UsageError(f"--{modality} {value}: no such file.")
    expected = f"{_expected(modality)} expected"
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "not a regular file"
        raise UsageError(f"--{modality} {value}: {what} ({expected}).")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"--{modality} {value}: cannot be read ({error.strerror}).") from None
    if not data:
        raise UsageError(f"--{modality} {value}: the file is empty ({expected}; leave "
                         f"--{modality} out to classify without it).")
    return data


def _expected(modality: str) -> str:
    """What ``predict``'s ``--<modality>`` takes, for its error messages."""
    from mmzoo.converters import CONVERTERS

    return CONVERTERS[modality].expected_content


def _check_modalities(given: dict, takes) -> None:
    extra = [m for m in given if m not in takes]
    if extra:
        raise UsageError(f"--{extra[0]} given, but the model takes only "
                         f"{', '.join('--' + m for m in takes)}.")


def _predict_preset(preset, raw, given):
    import numpy as np
    import tensorflow as tf

    from mmzoo.zoo import load_preset

    preset = load_preset(preset)
    pre = preset.preprocessor
    _check_modalities(given, pre.modalities)
    for modality in raw:  # one at a time: an undecodable file is named
        try:
            pre.preprocess_example({modality: tf.constant(raw[modality])})
        except (tf.errors.OpError, ValueError):
            raise ValueError(f"--{modality} {given[modality]}: cannot decode it "
                             f"({_expected(modality)} expected).") from None
    model = preset.model()
    features = pre({m: tf.constant([raw.get(m, b"")]) for m in pre.modalities})
    probabilities = np.asarray(model(features, training=False))[0]
    return probabilities, preset.class_names


def _predict_saved_model(folder: pathlib.Path, raw, given):
    import tensorflow as tf

    serve = tf.saved_model.load(str(folder)).signatures["serving_default"]
    takes = list(serve.structured_input_signature[1])
    _check_modalities(given, takes)
    try:
        outputs = serve(**{m: tf.constant([raw.get(m, b"")]) for m in takes})
    except tf.errors.InvalidArgumentError as error:
        bad = [m for m in given if f"{m}: the examples" in error.message] or list(given)
        raise ValueError(f"--{bad[0]} {given[bad[0]]}: cannot decode it "
                         f"({_expected(bad[0])} expected).") from None
    probabilities = outputs["probabilities"].numpy()[0]
    from mmzoo.export import CLASS_NAMES_FILE

    names_file = folder / CLASS_NAMES_FILE
    if names_file.is_file():
        names = json.loads(names_file.read_text(encoding="utf-8"))
    else:  # an older export: the signature names the top class only
        names = [f"class {i}" for i in range(max(len(probabilities), 2))]
        names[int(outputs["class_ids"].numpy()[0])] = outputs["class_names"].numpy()[0].decode()
    return probabilities, names


if __name__ == "__main__":
    sys.exit(main())
