"""The ``mmzoo`` command: list, info, prepare, train, evaluate, finetune, export, predict.

A trained model travels as a preset folder (model, preprocessor with its
vocabulary, class names, metadata): ``train`` and ``finetune`` write one, and
``evaluate``, ``export`` and ``predict`` take a preset name, folder or URL.
Errors print one line (``--verbose`` adds the traceback); exit codes: 0 success,
1 error, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import textwrap

import yaml

EXAMPLES = """\
examples:
  mmzoo list "*attention*"
  mmzoo info concat_lenet_avmnist
  mmzoo train --config my_run.yaml
  mmzoo evaluate runs/my_run/preset --data test.csv
  mmzoo finetune concat_lenet_avmnist --data train.csv --output runs/digits --epochs 5
  mmzoo export runs/my_run/preset --output serving/my_model
  mmzoo predict serving/my_model/1 --image cat.png --text "a cat"
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


class UsageError(ValueError):
    """A mistake in the command line or config: exit code 2."""


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args.run(args)
    except UsageError as error:
        return _fail(args, f"mmzoo {args.command}: {error}", 2)
    except (ValueError, OSError, KeyError) as error:
        return _fail(args, f"mmzoo {args.command}: error: {_message(error)}", 1)
    except Exception as error:  # noqa: BLE001 - the command's last line of defence
        return _fail(args, f"mmzoo {args.command}: unexpected {type(error).__name__}: "
                           f"{_message(error)} (run again with --verbose for the traceback)", 1)
    return 0


def _message(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _fail(args, line: str, code: int) -> int:
    if getattr(args, "verbose", False):
        import traceback

        traceback.print_exc()
    print(line, file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmzoo", description="Multimodal (text + image + audio) classifiers for Keras.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, run, help, epilog=None):
        sub = commands.add_parser(name, help=help, description=help, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--verbose", action="store_true", help="show tracebacks on errors")
        sub.set_defaults(run=run)
        return sub

    sub = command("list", _list, "list architectures, fusions and zoo presets",
                  "example:\n  mmzoo list \"*_tiny\"")
    sub.add_argument("pattern", nargs="?", default="*", help="shell-style filter (default: *)")

    sub = command("info", _info, "show a preset's metadata or an architecture's configuration",
                  "example:\n  mmzoo info attention_tiny")
    sub.add_argument("name", help="a preset (name, folder, URL) or an architecture name")

    sub = command("prepare", _prepare, "decode raw files once into TFRecord shards",
                  "example:\n  mmzoo prepare data/train.csv --preset my_preset --output prepared/train")
    sub.add_argument("data", help="a CSV/JSONL manifest or a folder tree")
    sub.add_argument("--preset", required=True, help="the preset whose preprocessing to apply")
    sub.add_argument("--output", required=True, help="folder for the shards")
    sub.add_argument("--shards", type=int, default=8)
    sub.add_argument("--on-error", choices=("raise", "skip"), default="raise")

    sub = command("train", _train, "train a model from a YAML config into a preset folder",
                  "a config (see docs/guides/cli.md):\n\n" + textwrap.indent(CONFIG_EXAMPLE, "  "))
    sub.add_argument("--config", required=True, help="the run's YAML file")

    sub = command("evaluate", _evaluate, "metrics and per-modality ablation on labelled data",
                  "example:\n  mmzoo evaluate runs/my_run/preset --data test.csv --json")
    sub.add_argument("preset", help="a preset name, folder or URL")
    sub.add_argument("--data", required=True, help="a CSV/JSONL manifest or a folder tree")
    sub.add_argument("--json", action="store_true", help="print the report as JSON")

    sub = command("finetune", _finetune, "fine-tune a preset on new labelled data",
                  "example:\n  mmzoo finetune concat_lenet_avmnist --data digits.csv "
                  "--output runs/digits")
    sub.add_argument("preset", help="a preset name, folder or URL")
    sub.add_argument("--data", required=True, help="training data (manifest or folder)")
    sub.add_argument("--validation", help="validation data (manifest or folder)")
    sub.add_argument("--output", required=True, help="run folder; the preset lands in <output>/preset")
    sub.add_argument("--epochs", type=int, default=10)
    sub.add_argument("--batch-size", type=int, default=32)
    sub.add_argument("--learning-rate", type=float, default=1e-3)
    sub.add_argument("--freeze-encoders", action="store_true",
                     help="train only the fusion and the new head")

    sub = command("export", _export, "export a preset as a SavedModel for TF Serving",
                  "example:\n  mmzoo export my_preset --output serving/my_model")
    sub.add_argument("preset", help="a preset name, folder or URL")
    sub.add_argument("--output", required=True, help="the model's base folder (versions inside)")
    sub.add_argument("--version", type=int, help="default: the next free version")
    sub.add_argument("--overwrite", action="store_true", help="replace an existing version")

    sub = command("predict", _predict, "classify raw files with a preset or an exported SavedModel",
                  "examples:\n  mmzoo predict my_preset --image frog.png --text \"a frog\"\n"
                  "  mmzoo predict serving/my_model/1 --audio croak.wav")
    sub.add_argument("model", help="a preset (name, folder, URL) or a SavedModel version folder")
    sub.add_argument("--text", default="", help="the text (absent if not given)")
    sub.add_argument("--image", help="an image file (JPEG, PNG, GIF, BMP)")
    sub.add_argument("--audio", help="a WAV file")
    sub.add_argument("--top", type=int, default=3, help="how many classes to show")
    return parser


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
        info = mmzoo.preset_info(args.name)
    print(json.dumps(info, indent=2, default=str))


def _source(path):
    from mmzoo.data import from_folder, from_manifest

    path = pathlib.Path(path)
    if path.is_dir():
        return from_folder(path)
    if not path.is_file():
        raise UsageError(f"{path} does not exist: pass a CSV/JSONL manifest or a folder.")
    return from_manifest(path)


def _prepare(args):
    from mmzoo.data import prepare
    from mmzoo.zoo import load_preprocessor

    data = prepare(_source(args.data), load_preprocessor(args.preset), args.output,
                   num_shards=args.shards, on_error=args.on_error)
    print(f"prepared {data.num_examples} examples into {args.output}")


def load_run_config(path) -> dict:
    """A ``train --config`` YAML file: ``name``, ``modalities``, ``data``, ``model``, ``train``."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UsageError(f"config {path} does not exist.")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise UsageError(f"config {path} is not valid YAML ({_message(error)}).") from None
    if not isinstance(config, dict):
        raise UsageError(f"config {path} must be a mapping with name, modalities, data, model, train.")
    missing = [k for k in ("name", "modalities", "data", "model", "train") if k not in config]
    if missing:
        raise UsageError(f"config {path} lacks {missing}; see `mmzoo train --help` for an example.")
    if "train" not in config["data"]:
        raise UsageError(f"config {path}: data needs a 'train' manifest or folder.")
    return config


def _train(args):
    from mmzoo.training import TrainConfig
    from mmzoo.zoo import recipes

    config = load_run_config(args.config)
    output = pathlib.Path(config.get("output_dir", pathlib.Path("runs") / config["name"]))
    try:
        train_config = TrainConfig.from_dict({**config["train"], "output_dir": str(output)})
    except (TypeError, ValueError) as error:
        raise UsageError(f"config {args.config}: train: {_message(error)}") from None
    train_source = _source(config["data"]["train"])
    pre = recipes.preprocessor(config, train_source)
    factory = recipes.model_factory(config, pre, len(train_source.class_names))
    _fit_and_save(factory, train_source, pre, train_config, config["data"].get("validation"),
                  f"trained by `mmzoo train` from {args.config}")


def _finetune(args):
    from mmzoo.finetuning import freeze_encoders
    from mmzoo.training import TrainConfig
    from mmzoo.zoo import from_preset, load_preprocessor

    train_source = _source(args.data)

    def factory():
        model = from_preset(args.preset, num_classes=len(train_source.class_names))
        if args.freeze_encoders:
            freeze_encoders(model)
        return model

    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                               learning_rate=args.learning_rate, output_dir=args.output)
    _fit_and_save(factory, train_source, load_preprocessor(args.preset), train_config,
                  args.validation, f"fine-tuned from {args.preset} by `mmzoo finetune`")


def _fit_and_save(factory, train_source, pre, train_config, validation, description):
    """Train, then save the model with its preprocessor as ``<output_dir>/preset``."""
    from mmzoo.training import train
    from mmzoo.zoo import save_to_preset

    history = train(factory, train_source, train_config, preprocessor=pre,
                    validation_data=_source(validation) if validation else None)
    preset = save_to_preset(history.model, pathlib.Path(train_config.output_dir) / "preset",
                            class_names=train_source.class_names, preprocessor=pre, overwrite=True,
                            metadata={"description": description})
    print(f"preset written to {preset}")


def _evaluate(args):
    from mmzoo import evaluation
    from mmzoo.data import make_dataset
    from mmzoo.zoo import from_preset, load_preprocessor, preset_info

    model, pre = from_preset(args.preset), load_preprocessor(args.preset)
    names = preset_info(args.preset)["class_names"]
    source = _source(args.data)
    source = type(source)(**{**source.__dict__, "class_names": tuple(names)})
    dataset = make_dataset(source, pre, 64, drop_remainder=False)
    report = evaluation.evaluate(model, dataset, names)
    report["ablation"] = evaluation.modality_ablation(model, dataset, names)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['examples']} examples: accuracy {report['accuracy']:.4f}, "
          f"macro-F1 {report['macro_f1']:.4f}, ROC-AUC {report['roc_auc']}")
    for row in report["ablation"][1:]:
        print(f"  {row['absent']} absent: accuracy {row['accuracy']:.4f}, "
              f"macro-F1 {row['macro_f1']:.4f}")


def _export(args):
    from mmzoo.export import export_saved_model

    path = export_saved_model(args.preset, args.output, version=args.version,
                              overwrite=args.overwrite)
    print(f"exported to {path}")


def _predict(args):
    import numpy as np
    import tensorflow as tf

    raw = {"text": [args.text]}
    for modality in ("image", "audio"):
        path = getattr(args, modality)
        if path and not pathlib.Path(path).is_file():
            raise UsageError(f"--{modality} {path}: no such file.")
        raw[modality] = [pathlib.Path(path).read_bytes() if path else b""]
    folder = pathlib.Path(args.model)
    if (folder / "saved_model.pb").is_file():
        serve = tf.saved_model.load(str(folder)).signatures["serving_default"]
        wanted = serve.structured_input_signature[1]
        outputs = serve(**{k: tf.constant(v) for k, v in raw.items() if k in wanted})
        probabilities = outputs["probabilities"].numpy()[0]
        # The signature names the top class only; the others go by class id.
        names = [f"class {i}" for i in range(len(probabilities))]
        names[int(outputs["class_ids"].numpy()[0])] = outputs["class_names"].numpy()[0].decode()
    else:
        from mmzoo.zoo import from_preset, load_preprocessor, preset_info

        model, pre = from_preset(args.model), load_preprocessor(args.model)
        features = pre({k: tf.constant(v) for k, v in raw.items() if k in pre.specs})
        probabilities = np.asarray(model(features, training=False))[0]
        names = preset_info(args.model)["class_names"]
    for index in np.argsort(-probabilities)[: args.top]:
        print(f"{names[index]:24s} {probabilities[index]:.4f}")


if __name__ == "__main__":
    sys.exit(main())
