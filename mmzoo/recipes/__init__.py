"""Training recipes: the committed YAML files that make every preset shipped in the zoo.

A recipe (``mmzoo/recipes/<preset>.yaml``) is a :class:`~mmzoo.run_config.RunConfig`, the
schema of ``mmzoo train --config``, whose ``data`` names a TFDS dataset of
:mod:`mmzoo.datasets` and its splits, with the preset's ``baselines`` (the unimodal models
to train with the same recipe), ``license`` and ``attribution``. :func:`run_recipe` builds
the dataset from ``$MMZOO_DATA_DIR``, trains the fused model and each baseline with
:func:`mmzoo.train` (keeping the epoch with the best validation loss), evaluates them on
the test split and writes, under an output folder (never into the source tree)::

    <output>/<preset>/preset/     the preset (:func:`mmzoo.save_to_preset`), metadata with metrics
    <output>/<preset>/plots/      training curves, confusion matrix, ablation (PNG)
    <output>/<preset>/runs/       the training runs (fused, <modality>_only)

:func:`install` then copies a trained preset into ``mmzoo/zoo/checkpoints/<preset>/``, its
plots into ``docs/img/zoo/<preset>/``, and registers it in ``presets.json``. ``make zoo``
does both for every recipe::

    python -m mmzoo.recipes --output build/zoo                        # train all recipes
    python -m mmzoo.recipes --output build/zoo concat_lenet_avmnist   # some of them
    python -m mmzoo.recipes --output build/zoo --install concat_lenet_avmnist  # ship one

Example:
    >>> recipe = load_recipe("concat_lenet_avmnist")  # doctest: +SKIP
    >>> result = run_recipe("concat_lenet_avmnist", "build/zoo")  # doctest: +SKIP
    >>> result["metrics"]["macro_f1"], result["metrics"]["unimodal"]["image"]["macro_f1"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import pathlib
import shutil
import time

import numpy as np

from mmzoo.run_config import RunConfig

RECIPES_DIR = pathlib.Path(__file__).parent
REPO_ROOT = RECIPES_DIR.parents[1]
PLOTS_DIR = REPO_ROOT / "docs" / "img" / "zoo"
#: The keys a recipe has besides those every run config has.
RECIPE_KEYS = ("description", "baselines", "license", "attribution")
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


def load_recipe(name: str) -> RunConfig:
    """The recipe ``name`` (a committed recipe's name, or a path to a YAML file), checked.

    Example:
        >>> load_recipe("concat_lenet_avmnist").data["tfds"]
        'avmnist'
    """
    path = pathlib.Path(name) if name.endswith(".yaml") else RECIPES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no recipe {name!r}: the committed recipes are {recipe_names()}; or "
                         "pass the path of a .yaml file.")
    recipe = RunConfig.load(path)
    missing = [key for key in RECIPE_KEYS if not getattr(recipe, key)]
    if "tfds" not in recipe.data or "splits" not in recipe.data:
        missing += ["data.tfds and data.splits"]
    if missing:
        raise ValueError(f"{path} lacks {missing}; see the committed recipes in {RECIPES_DIR}.")
    return recipe


def default_output_dir() -> pathlib.Path:
    """Where recipes write unless told: ``$MMZOO_HOME/recipes``."""
    from mmzoo.zoo.fetch import mmzoo_home

    return mmzoo_home() / "recipes"


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


def source(recipe: RunConfig, builder, split: str, modalities=None):
    """The :class:`~mmzoo.data.Source` of a recipe's ``split`` (``"train"``, ``"validation"``,
    ``"test"``) with ``modalities`` (default: the recipe's)."""
    from mmzoo.data import from_tfds

    features = recipe.data.get("features", {})
    modalities = modalities or recipe.modalities
    return from_tfds(builder, recipe.data["splits"][split],
                     features={m: features.get(m, m) for m in modalities},
                     audio_sample_rate=recipe.data.get("audio_sample_rate"))


def evaluation_dataset(data_source, pre, batch_size: int = 256):
    """Every example of ``data_source`` in order, batched for evaluation (no remainder dropped)."""
    from mmzoo.data import make_dataset

    return make_dataset(data_source, pre, batch_size, drop_remainder=False)


def train_one(recipe: RunConfig, builder, modalities, run_dir: pathlib.Path) -> dict:
    """Train the recipe's model on ``modalities`` from scratch; keep the best validation epoch.

    Returns ``{"model", "preprocessor", "history", "epochs", "wall_seconds"}``.
    """
    from mmzoo.training import train

    train_source = source(recipe, builder, "train", modalities)
    pre = recipe.preprocessor(train_source, tuple(modalities))
    config = recipe.train_config(output_dir=str(run_dir), save_weights_only=True)
    if run_dir.exists():  # train() would resume a finished run: a recipe always starts afresh
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    history = train(recipe.model_factory(pre, len(train_source.class_names)), train_source,
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


def run_recipe(name: str, output_dir=None, data_dir=None, plots: bool = True) -> dict:
    """Train, evaluate, save and plot the preset of recipe ``name`` under ``output_dir``.

    Args:
        name: a recipe name (:func:`recipe_names`) or a YAML path.
        output_dir: the output folder (default :func:`default_output_dir`); the preset is
            ``<output_dir>/<preset>/preset`` (see the module docstring for the layout).
        data_dir: where TFDS builds the dataset (default ``$MMZOO_HOME/tensorflow_datasets``).
        plots: draw the plots into ``<output_dir>/<preset>/plots``.

    Returns:
        The preset's metadata (``metrics`` holds test accuracy, macro-F1, ROC-AUC, the
        per-modality ablation and the unimodal baselines' metrics).

    Example:
        >>> metadata = run_recipe("concat_lenet_avmnist", "build/zoo")  # doctest: +SKIP
    """
    from mmzoo.evaluation import evaluate, modality_ablation
    from mmzoo.zoo.preset import save_to_preset

    recipe = load_recipe(name)
    name = recipe.name
    builder = tfds_builder(recipe.data["tfds"], data_dir)
    work_dir = pathlib.Path(output_dir or default_output_dir()) / name
    class_names = builder.info.features[recipe.data.get("label", "label")].names

    baselines = {}
    for modality in recipe.baselines:
        run = train_one(recipe, builder, [modality], work_dir / "runs" / f"{modality}_only")
        test = evaluation_dataset(source(recipe, builder, "test", [modality]), run["preprocessor"])
        baselines[modality] = {**summary(evaluate(run["model"], test, class_names)),
                               "epochs": run["epochs"], "wall_seconds": run["wall_seconds"]}
        print(f"{name} [{modality} only]: {baselines[modality]}", flush=True)

    fused = train_one(recipe, builder, recipe.modalities, work_dir / "runs" / "fused")
    test = evaluation_dataset(source(recipe, builder, "test"), fused["preprocessor"])
    report = evaluate(fused["model"], test, class_names)
    ablation = modality_ablation(fused["model"], test, class_names)
    metrics = {**summary(report), "split": recipe.data["splits"]["test"],
               "examples": report["examples"],
               "ablation": {row["absent"] or "none": summary(row) for row in ablation},
               "unimodal": baselines}
    print(f"{name} [fused]: {summary(report)}", flush=True)

    path = recipe.path.resolve()
    metadata = {
        "description": recipe.description, "dataset": recipe.data["tfds"],
        "split": recipe.data["splits"]["train"],
        "recipe": (path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT)
                   else path).as_posix(),
        "modalities": list(recipe.modalities),
        "fusion": recipe.model.get("options", {}).get("fusion", recipe.model["architecture"]),
        "metrics": metrics, "license": recipe.license, "attribution": recipe.attribution,
        "training": {"epochs": fused["epochs"], "wall_seconds": fused["wall_seconds"],
                     "seed": recipe.train["seed"], "deterministic": True},
    }
    preset_dir = work_dir / "preset"
    save_to_preset(fused["model"], preset_dir, class_names=class_names,
                   preprocessor=fused["preprocessor"], metadata=metadata, overwrite=True)
    if plots:
        plot(recipe, fused, report, ablation, test, work_dir / "plots")
    return json.loads((preset_dir / "metadata.json").read_text(encoding="utf-8"))


def install(name: str, output_dir=None, checkpoints_dir=None, plots_dir=PLOTS_DIR) -> pathlib.Path:
    """Ship the preset :func:`run_recipe` trained under ``output_dir``: copy it into the
    package's checkpoints (or ``checkpoints_dir``), replacing the shipped one, its plots into
    ``plots_dir``, and register it in the ``presets.json`` next to the checkpoints folder.
    The installed folder.

    Example:
        >>> install("concat_lenet_avmnist", "build/zoo")  # doctest: +SKIP
    """
    from mmzoo.zoo.registry import CHECKPOINTS_DIR

    trained = pathlib.Path(output_dir or default_output_dir()) / name
    if not (trained / "preset" / "metadata.json").is_file():
        raise ValueError(f"{trained / 'preset'} holds no trained preset: run "
                         f"`python -m mmzoo.recipes --output {trained.parent} {name}` first.")
    preset_dir = pathlib.Path(checkpoints_dir or CHECKPOINTS_DIR) / name
    shutil.rmtree(preset_dir, ignore_errors=True)
    shutil.copytree(trained / "preset", preset_dir)
    if plots_dir is not None and (trained / "plots").is_dir():
        shutil.copytree(trained / "plots", pathlib.Path(plots_dir) / name, dirs_exist_ok=True)
    register_in_registry(name, preset_dir)
    return preset_dir


def register_in_registry(name: str, preset_dir: pathlib.Path) -> None:
    """Add (or replace) ``name`` in the ``presets.json`` next to the checkpoints folder holding
    ``preset_dir`` (the package's), as a shipped ``path`` entry."""
    from mmzoo.utils import atomic_write_text
    from mmzoo.zoo.preset import registry_entry

    registry_file = preset_dir.parent.parent / "presets.json"
    entries = json.loads(registry_file.read_text(encoding="utf-8"))
    entries[name] = registry_entry(preset_dir, path=name)
    atomic_write_text(registry_file, json.dumps(dict(sorted(entries.items())), indent=2) + "\n")


def plot(recipe: RunConfig, fused: dict, report: dict, ablation: list, test, folder: pathlib.Path):
    """Training curves, confusion matrix, ablation bars and (where the fusion has them) the
    mean modality weights per class, as PNGs in ``folder``."""
    from mmzoo.evaluation import (
        plot_ablation,
        plot_confusion_matrix,
        plot_history,
        plot_modality_weights,
    )
    from mmzoo.models import with_modality_weights

    name = recipe.name
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
    The recipe is found by its file's name (presets made before the recipes moved record
    ``mmzoo/zoo/recipes/<preset>.yaml``).

    Example:
        >>> evaluate_preset("concat_lenet_avmnist")["accuracy"]  # doctest: +SKIP
    """
    from mmzoo.evaluation import evaluate
    from mmzoo.zoo.preset import load_preset

    preset = load_preset(name)
    recipe = load_recipe(pathlib.PurePosixPath(preset.info["recipe"]).stem)
    builder = builder or tfds_builder(recipe.data["tfds"])
    pre = preset.preprocessor
    test = evaluation_dataset(source(recipe, builder, "test", list(pre.modalities)), pre)
    return summary(evaluate(preset.model(), test, preset.class_names))


def markdown_table(names=None, folder_of=None) -> str:
    """The zoo table of ``docs/zoo.md`` from the preset folders' metadata: the shipped ones,
    or those ``folder_of(name)`` gives (e.g. ``lambda name: output / name / "preset"``)."""
    from mmzoo.zoo.preset import preset_info
    from mmzoo.zoo.registry import CHECKPOINTS_DIR

    def cell(metrics):
        return f"{metrics['accuracy']:.3f} / {metrics['macro_f1']:.3f}"

    folder_of = folder_of or (lambda name: CHECKPOINTS_DIR / name)
    lines = ["| preset | dataset | modalities | fusion | test accuracy / macro-F1 | "
             "unimodal baselines (same recipe) | parameters | weights file |",
             "|---|---|---|---|---|---|---:|---:|"]
    for name in names or recipe_names():
        folder = folder_of(name)
        info = preset_info(folder)  # the folder: presets.json may be newer
        metrics = info["metrics"]
        fusion = info["fusion"]["name"] if isinstance(info["fusion"], dict) else info["fusion"]
        baselines = "<br>".join(f"{m} only: {cell(v)}" for m, v in metrics["unimodal"].items())
        size = (folder / "model.weights.h5").stat().st_size / 2**20
        lines.append(f"| `{name}` | {info['dataset']} | {' + '.join(info['modalities'])} | "
                     f"{fusion} | **{cell(metrics)}** | {baselines} | "
                     f"{info['parameter_count']:,} | {size:.2f} MB |")
    return "\n".join(lines)
