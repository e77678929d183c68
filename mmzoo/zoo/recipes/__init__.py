"""Training recipes: the committed YAML files that make every preset shipped in the zoo.

A recipe (``mmzoo/zoo/recipes/<preset>.yaml``) names a TFDS dataset of
:mod:`mmzoo.datasets` and its splits, the modalities, an architecture (a registered
name plus :func:`mmzoo.create_model` overrides, specs included), the
:class:`~mmzoo.TrainConfig` (deterministic, seeded) and the unimodal baselines to
train with the same recipe. :func:`run_recipe` builds the dataset from
``$MMZOO_DATA_DIR``, trains the fused model and each baseline with
:func:`mmzoo.train` (keeping the epoch with the best validation loss), evaluates
them on the test split, saves the fused model with :func:`mmzoo.save_to_preset` into
``mmzoo/zoo/checkpoints/<preset>/``, registers it in ``presets.json`` and draws its
plots under ``docs/img/zoo/<preset>/``. ``make zoo`` runs every recipe::

    python -m mmzoo.zoo.recipes                       # all recipes
    python -m mmzoo.zoo.recipes concat_lenet_avmnist  # some of them

Example:
    >>> recipe = load_recipe("concat_lenet_avmnist")  # doctest: +SKIP
    >>> result = run_recipe("concat_lenet_avmnist")  # doctest: +SKIP
    >>> result["metrics"]["macro_f1"], result["metrics"]["unimodal"]["image"]["macro_f1"]  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import pathlib
import shutil
import time

import numpy as np
import yaml

RECIPES_DIR = pathlib.Path(__file__).parent
REPO_ROOT = RECIPES_DIR.parents[2]
PLOTS_DIR = REPO_ROOT / "docs" / "img" / "zoo"
#: The metrics recorded per model (test split) and checked when a preset is re-evaluated.
RECORDED_METRICS = ("accuracy", "macro_f1", "roc_auc")
#: How far a re-evaluation or a re-run may drift from the recorded metrics.
TOLERANCE = {"reevaluation": 1e-3, "retraining": 0.02}


def recipe_names() -> list[str]:
    """The committed recipes (one per shipped preset), sorted.

    Example:
        >>> "concat_lenet_avmnist" in recipe_names()
        True
    """
    return sorted(path.stem for path in RECIPES_DIR.glob("*.yaml"))


def load_recipe(name: str) -> dict:
    """The recipe ``name`` (a committed recipe's name, or a path to a YAML file), checked.

    Example:
        >>> load_recipe("concat_lenet_avmnist")["dataset"]["name"]
        'avmnist'
    """
    path = pathlib.Path(name) if name.endswith(".yaml") else RECIPES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no recipe {name!r}: the committed recipes are {recipe_names()}; or "
                         "pass the path of a .yaml file.")
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    missing = [key for key in ("name", "description", "dataset", "modalities", "model", "train",
                               "baselines", "license", "attribution") if key not in recipe]
    if missing:
        raise ValueError(f"{path} lacks {missing}; see the committed recipes in {RECIPES_DIR}.")
    unknown = set(recipe["baselines"]) - set(recipe["modalities"])
    if unknown:
        raise ValueError(f"{path}: baselines {sorted(unknown)} are not among the recipe's "
                         f"modalities {recipe['modalities']}.")
    recipe["path"] = path
    return recipe


def tfds_builder(dataset: str, data_dir=None):
    """The TFDS builder of ``dataset``, prepared (built once) in ``data_dir``.

    ``data_dir`` defaults to ``$MMZOO_HOME/tensorflow_datasets``; the files are read
    from ``$MMZOO_DATA_DIR`` (see :mod:`mmzoo.datasets`).

    Example:
        >>> builder = tfds_builder("stamps")  # doctest: +SKIP
    """
    import tensorflow_datasets as tfds

    import mmzoo.datasets  # noqa: F401  (registers the builders)
    from mmzoo.zoo.fetch import mmzoo_home

    builder = tfds.builder(dataset, data_dir=str(data_dir or mmzoo_home() / "tensorflow_datasets"))
    builder.download_and_prepare()
    return builder


def source(recipe: dict, builder, split: str, modalities=None):
    """The :class:`~mmzoo.data.Source` of a recipe's ``split`` (``"train"``, ``"validation"``,
    ``"test"``) with ``modalities`` (default: the recipe's)."""
    from mmzoo.data import from_tfds

    features = recipe["dataset"].get("features", {})
    modalities = modalities or recipe["modalities"]
    return from_tfds(builder, recipe["dataset"]["splits"][split],
                     features={m: features.get(m, m) for m in modalities},
                     audio_sample_rate=recipe["dataset"].get("audio_sample_rate"))


def preprocessor(recipe: dict, train_source, modalities=None):
    """The recipe's :class:`~mmzoo.preprocessing.Preprocessor` for ``modalities`` (default: the
    recipe's), its text vocabulary adapted on ``train_source``."""
    from mmzoo.preprocessing import Preprocessor
    from mmzoo.specs import spec_from_config

    modalities = modalities or recipe["modalities"]
    specs = recipe["model"].get("specs", {})
    made = Preprocessor(**{m: spec_from_config(m, specs.get(m, {})) for m in modalities})
    return made.adapt(train_source.texts()) if "text" in modalities else made


def model_factory(recipe: dict, pre, num_classes: int):
    """A function building the recipe's architecture for ``pre``'s specs and modalities."""
    from mmzoo.models import create_model

    options = copy.deepcopy(recipe["model"].get("options", {}))
    modalities = pre.modalities
    options["encoders"] = {m: e for m, e in options.get("encoders", {}).items() if m in modalities}
    name = recipe["name"] if modalities == tuple(recipe["modalities"]) else (
        f"{recipe['name']}_{'_'.join(modalities)}_only")
    return lambda: create_model(recipe["model"]["architecture"], modalities=modalities,
                                num_classes=num_classes, name=name, **pre.specs, **options)


def evaluation_dataset(data_source, pre, batch_size: int = 256):
    """Every example of ``data_source`` in order, batched for evaluation (no remainder dropped)."""
    from mmzoo.data import make_dataset

    return make_dataset(data_source, pre, batch_size, drop_remainder=False)


def train_one(recipe: dict, builder, modalities, run_dir: pathlib.Path) -> dict:
    """Train the recipe's model on ``modalities`` from scratch; keep the best validation epoch.

    Returns ``{"model", "preprocessor", "history", "epochs", "wall_seconds"}``.
    """
    from mmzoo.training import TrainConfig, train

    train_source = source(recipe, builder, "train", modalities)
    pre = preprocessor(recipe, train_source, modalities)
    config = TrainConfig.from_dict({**recipe["train"], "output_dir": str(run_dir),
                                    "save_weights_only": True})
    if run_dir.exists():  # train() would resume a finished run: a recipe always starts afresh
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    history = train(model_factory(recipe, pre, len(train_source.class_names)), train_source,
                    config, validation_data=source(recipe, builder, "validation", modalities),
                    preprocessor=pre)
    model = history.model
    model.load_weights(run_dir / "checkpoints" / "best.weights.h5")
    return {"model": model, "preprocessor": pre, "history": history.history,
            "epochs": len(history.history["loss"]),
            "wall_seconds": round(time.perf_counter() - started, 1)}


def summary(report: dict) -> dict:
    """The :data:`RECORDED_METRICS` of an :func:`mmzoo.evaluation.evaluate` report."""
    return {key: report[key] for key in RECORDED_METRICS}


def run_recipe(name: str, data_dir=None, work_dir=None, checkpoints_dir=None,
               plots_dir=PLOTS_DIR, register: bool = True) -> dict:
    """Train, evaluate, save, register and plot the preset of recipe ``name``.

    Args:
        name: a recipe name (:func:`recipe_names`) or a YAML path.
        data_dir: where TFDS builds the dataset (default ``$MMZOO_HOME/tensorflow_datasets``).
        work_dir: training outputs (default ``$MMZOO_HOME/recipes``).
        checkpoints_dir: where the preset folder goes (default the package's checkpoints).
        plots_dir: where the plots go (None: no plots).
        register: add the preset to ``presets.json``.

    Returns:
        The preset's metadata (``metrics`` holds test accuracy, macro-F1, ROC-AUC, the
        per-modality ablation and the unimodal baselines' metrics).

    Example:
        >>> metadata = run_recipe("concat_lenet_avmnist")  # doctest: +SKIP
    """
    from mmzoo.evaluation import evaluate, modality_ablation
    from mmzoo.zoo.fetch import mmzoo_home
    from mmzoo.zoo.preset import save_to_preset
    from mmzoo.zoo.registry import CHECKPOINTS_DIR

    recipe = load_recipe(name)
    name = recipe["name"]
    builder = tfds_builder(recipe["dataset"]["name"], data_dir)
    work_dir = pathlib.Path(work_dir or mmzoo_home() / "recipes") / name
    class_names = builder.info.features[recipe["dataset"].get("label", "label")].names

    baselines = {}
    for modality in recipe["baselines"]:
        run = train_one(recipe, builder, [modality], work_dir / f"{modality}_only")
        test = evaluation_dataset(source(recipe, builder, "test", [modality]), run["preprocessor"])
        baselines[modality] = {**summary(evaluate(run["model"], test, class_names)),
                               "epochs": run["epochs"], "wall_seconds": run["wall_seconds"]}
        print(f"{name} [{modality} only]: {baselines[modality]}", flush=True)

    fused = train_one(recipe, builder, recipe["modalities"], work_dir / "fused")
    test = evaluation_dataset(source(recipe, builder, "test"), fused["preprocessor"])
    report = evaluate(fused["model"], test, class_names)
    ablation = modality_ablation(fused["model"], test, class_names)
    metrics = {**summary(report), "split": recipe["dataset"]["splits"]["test"],
               "examples": report["examples"],
               "ablation": {row["absent"] or "none": summary(row) for row in ablation},
               "unimodal": baselines}
    print(f"{name} [fused]: {summary(report)}", flush=True)

    relative_recipe = recipe["path"].resolve().relative_to(REPO_ROOT).as_posix()
    metadata = {
        "description": recipe["description"], "dataset": recipe["dataset"]["name"],
        "split": recipe["dataset"]["splits"]["train"], "recipe": relative_recipe,
        "modalities": list(recipe["modalities"]),
        "fusion": recipe["model"].get("options", {}).get("fusion", recipe["model"]["architecture"]),
        "metrics": metrics, "license": recipe["license"], "attribution": recipe["attribution"],
        "training": {"epochs": fused["epochs"], "wall_seconds": fused["wall_seconds"],
                     "seed": recipe["train"]["seed"], "deterministic": True},
    }
    preset_dir = pathlib.Path(checkpoints_dir or CHECKPOINTS_DIR) / name
    save_to_preset(fused["model"], preset_dir, class_names=class_names,
                   preprocessor=fused["preprocessor"], metadata=metadata, overwrite=True)
    if register:
        register_in_registry(name, preset_dir)
    if plots_dir is not None:
        plot(recipe, fused, report, ablation, test, pathlib.Path(plots_dir) / name)
    return json.loads((preset_dir / "metadata.json").read_text(encoding="utf-8"))


def register_in_registry(name: str, preset_dir: pathlib.Path) -> None:
    """Add (or replace) ``name`` in the package's ``presets.json``, as a shipped ``path`` entry."""
    from mmzoo.utils import atomic_write_text
    from mmzoo.zoo.preset import registry_entry

    registry_file = RECIPES_DIR.parent / "presets.json"
    entries = json.loads(registry_file.read_text(encoding="utf-8"))
    entries[name] = registry_entry(preset_dir, path=name)
    atomic_write_text(registry_file, json.dumps(dict(sorted(entries.items())), indent=2) + "\n")


def plot(recipe: dict, fused: dict, report: dict, ablation: list, test, folder: pathlib.Path):
    """Training curves, confusion matrix, ablation bars and (where the fusion has them) the
    mean modality weights per class, as PNGs in ``folder``."""
    from mmzoo.evaluation import (
        plot_ablation,
        plot_confusion_matrix,
        plot_history,
        plot_modality_weights,
    )
    from mmzoo.models import with_modality_weights

    name = recipe["name"]
    plot_history(fused["history"], folder / "training_curves.png", f"{name}: training curves")
    plot_confusion_matrix(report, folder / "confusion_matrix.png",
                          f"{name}: test confusion matrix (rows: true class)")
    plot_ablation(ablation, folder / "ablation.png", f"{name}: test metrics with a modality absent")
    model = fused["model"]
    if not any(getattr(layer, "return_weights", False) for layer in model.layers):
        return
    weighted = with_modality_weights(model)
    weights, labels = [], []
    for features, batch_labels in test:
        weights.append(np.asarray(weighted.predict_on_batch(features)["modality_weights"]))
        labels.append(np.asarray(batch_labels))
    plot_modality_weights(np.concatenate(weights), np.concatenate(labels),
                          folder / "modality_weights.png", report["class_names"],
                          list(fused["preprocessor"].modalities),
                          f"{name}: mean modality weights per true class (test)")


def evaluate_preset(name: str, builder=None) -> dict:
    """Re-evaluate a shipped preset on its recipe's test split, from its saved files.

    ``builder`` is the recipe's TFDS builder, prepared; by default :func:`tfds_builder`.

    Example:
        >>> evaluate_preset("concat_lenet_avmnist")["accuracy"]  # doctest: +SKIP
    """
    from mmzoo.evaluation import evaluate
    from mmzoo.zoo.preset import from_preset, load_preprocessor, preset_info

    info = preset_info(name)
    recipe = load_recipe(str(REPO_ROOT / info["recipe"]))
    builder = builder or tfds_builder(recipe["dataset"]["name"])
    pre = load_preprocessor(name)
    test = evaluation_dataset(source(recipe, builder, "test", list(pre.modalities)), pre)
    return summary(evaluate(from_preset(name), test, info["class_names"]))


def markdown_table(names=None) -> str:
    """The zoo table of ``docs/zoo.md`` from the shipped preset folders' metadata."""
    from mmzoo.zoo.preset import preset_info
    from mmzoo.zoo.registry import CHECKPOINTS_DIR

    def cell(metrics):
        return f"{metrics['accuracy']:.3f} / {metrics['macro_f1']:.3f}"

    lines = ["| preset | dataset | modalities | fusion | test accuracy / macro-F1 | "
             "unimodal baselines (same recipe) | parameters | weights file |",
             "|---|---|---|---|---|---|---:|---:|"]
    for name in names or recipe_names():
        info = preset_info(CHECKPOINTS_DIR / name)  # the folder: presets.json may be newer
        metrics = info["metrics"]
        fusion = info["fusion"]["name"] if isinstance(info["fusion"], dict) else info["fusion"]
        baselines = "<br>".join(f"{m} only: {cell(v)}" for m, v in metrics["unimodal"].items())
        size = (CHECKPOINTS_DIR / name / "model.weights.h5").stat().st_size / 2**20
        lines.append(f"| `{name}` | {info['dataset']} | {' + '.join(info['modalities'])} | "
                     f"{fusion} | **{cell(metrics)}** | {baselines} | "
                     f"{info['parameter_count']:,} | {size:.2f} MB |")
    return "\n".join(lines)
