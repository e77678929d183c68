"""Presets: a model, its preprocessing and its provenance in one folder, KerasHub-style.

A preset folder holds:

- ``config.json``: the architecture, ``keras.saving.serialize_keras_object(model)``
  (the Functional config, so models with your own encoders or fusion layers work
  too, as long as their classes are registered Keras serializables);
- ``model.weights.h5``: the weights, ``model.save_weights``;
- ``preprocessor.json``: the :class:`~mmzoo.preprocessing.Preprocessor` (its specs,
  the adapted text vocabulary included), when the preset was saved with one;
- ``metadata.json``: ``class_names``, ``task``, the sha256 of every other file
  under ``files``, and provenance (dataset, split, recipe, metrics, license...).

A preset is found by registered name (:func:`mmzoo.list_presets`), folder path,
or ``file://`` / ``http(s)://`` URL of a folder; URLs are fetched into the cache
(``$MMZOO_HOME``). Every file is sha256-checked on every load.

Example:
    >>> save_to_preset(model, "presets/birds", class_names=["owl", "wren"],  # doctest: +SKIP
    ...                preprocessor=preprocessor, metadata={"dataset": "birds", "license": "CC-BY-4.0"})
    >>> model = from_preset("presets/birds", num_classes=5)  # doctest: +SKIP
    >>> preprocessor = load_preprocessor("presets/birds")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import urllib.parse

import keras

from mmzoo import __version__
from mmzoo.finetuning import replace_head
from mmzoo.models import TASKS, task_of
from mmzoo.preprocessing import Preprocessor
from mmzoo.utils import publish_folder, staging_folder
from mmzoo.zoo.fetch import fetch_file, mmzoo_home, sha256_of, verify_file
from mmzoo.zoo.registry import CHECKPOINTS_DIR, REQUIRED_FILES, is_registered, preset_entry

CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE = REQUIRED_FILES
PREPROCESSOR_FILE = "preprocessor.json"
#: metadata.json fields save_to_preset writes itself.
GENERATED_METADATA = ("class_names", "task", "parameter_count", "mmzoo_version", "keras_version",
                      "files")
#: metadata.json fields every preset shipped in the zoo documents (see registry_entry).
ZOO_METADATA = ("name", "description", "dataset", "split", "recipe", "metrics", "license",
                "attribution")


def save_to_preset(model: keras.Model, preset_dir, *, class_names, preprocessor=None, task=None,
                   metadata=None, overwrite=False) -> pathlib.Path:
    """Save ``model`` as a preset folder that :func:`from_preset` loads back.

    The folder is written next to its destination and renamed into place when
    complete, so an interrupted save never leaves a half-written preset.

    Args:
        model: a classifier (``mmzoo.create_model``, ``mmzoo.build_classifier`` or any
            Functional model of registered layers).
        preset_dir: the folder to create; it must not exist or be empty unless ``overwrite``.
        class_names: the label of each output unit (binary task: negative, positive).
        preprocessor: the :class:`~mmzoo.preprocessing.Preprocessor` that makes the
            model's inputs, its text vocabulary adapted.
        task: ``"multiclass"``, ``"binary"`` or ``"multilabel"``; None reads it from the
            final softmax/sigmoid.
        metadata: provenance to record, e.g. ``{"description", "dataset", "split",
            "recipe", "metrics", "license", "attribution"}``; ``name`` defaults to the
            folder's name.
        overwrite: replace an existing preset folder.

    Example:
        >>> model = mmzoo.create_model("concat_tiny", modalities=("image",), num_classes=2)  # doctest: +SKIP
        >>> save_to_preset(model, "presets/cats", class_names=["cat", "dog"])  # doctest: +SKIP
    """
    preset_dir = pathlib.Path(preset_dir)
    task = task or _infer_task(model)
    class_names = [str(name) for name in class_names]
    _check_outputs(model, class_names, task)
    if preprocessor is not None:
        _check_preprocessor(model, preprocessor)
    metadata = dict(metadata or {})
    reserved = sorted(set(metadata) & set(GENERATED_METADATA))
    if reserved:
        raise ValueError(f"metadata={reserved} are written by save_to_preset itself; leave them out.")
    if preset_dir.is_dir() and any(preset_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{preset_dir} already holds files; choose a new folder or pass "
                              "overwrite=True to replace it.")

    preset_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(preset_dir.parent, prefix=f".{preset_dir.name}.")
    try:
        architecture = keras.saving.serialize_keras_object(model)
        architecture.pop("compile_config", None)  # a preset is architecture + weights
        _write_json(staging / CONFIG_FILE, architecture)
        model.save_weights(staging / WEIGHTS_FILE)
        if preprocessor is not None:
            _write_json(staging / PREPROCESSOR_FILE, keras.saving.serialize_keras_object(preprocessor))
        files = {path.name: sha256_of(path) for path in sorted(staging.iterdir())}
        _write_json(staging / METADATA_FILE, {
            "name": preset_dir.name, **metadata, "class_names": class_names, "task": task,
            "parameter_count": model.count_params(), "mmzoo_version": __version__,
            "keras_version": keras.__version__, "files": files})
        publish_folder(staging, preset_dir, replace=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return preset_dir


def from_preset(preset, num_classes=None, task=None, classifier_activation="auto",
                keep_hidden_layers=True) -> keras.Model:
    """The model of a preset: a registered name, a preset folder, or its ``file://``/``http(s)://`` URL.

    With a ``num_classes`` (or ``task``) other than the preset's, every weight is
    loaded and then the head is replaced with a new one
    (:func:`mmzoo.finetuning.replace_head`): encoders and fusion keep the preset's
    weights exactly. Class names and provenance are in :func:`preset_info`, the
    matching preprocessing in :func:`load_preprocessor`.

    Args:
        preset: see :func:`mmzoo.list_presets`, or a path or URL.
        num_classes: the classes of a new head; None keeps the preset's head.
        task: the task of a new head; None keeps the preset's task.
        classifier_activation: the new head's final activation (``"auto"``: by task).
        keep_hidden_layers: keep the head's hidden Dense layers and replace only ``logits``.

    Example:
        >>> model = mmzoo.from_preset("gated_lenet_avmnist", num_classes=5)  # doctest: +SKIP
        >>> model.compile("adam", "sparse_categorical_crossentropy")  # doctest: +SKIP
    """
    folder = _resolve(preset)
    metadata = _read_metadata(folder)
    model = keras.saving.deserialize_keras_object(_read_json(folder / CONFIG_FILE))
    model.load_weights(folder / WEIGHTS_FILE)
    preset_classes = len(metadata["class_names"])
    if num_classes in (None, preset_classes) and task in (None, metadata["task"]):
        return model
    return replace_head(model, num_classes or preset_classes, task or metadata["task"],
                        classifier_activation, keep_hidden_layers)


def load_preprocessor(preset) -> Preprocessor:
    """The preset's :class:`~mmzoo.preprocessing.Preprocessor` (raw inputs to model inputs).

    Example:
        >>> features = load_preprocessor("gated_lenet_avmnist")(raw_batch)  # doctest: +SKIP
    """
    folder = _resolve(preset)
    if PREPROCESSOR_FILE not in _read_metadata(folder)["files"]:
        raise ValueError(f"preset {os.fspath(preset)!r} was saved without a preprocessor; build "
                         "one from the specs with mmzoo.preprocessing.Preprocessor (text needs the "
                         "vocabulary the model was trained with).")
    return keras.saving.deserialize_keras_object(_read_json(folder / PREPROCESSOR_FILE))


def preset_info(preset) -> dict:
    """A preset's metadata: class names, task, dataset, metrics, license, file hashes...

    A registered preset answers from the registry, without downloading anything.

    Example:
        >>> info = preset_info("gated_lenet_avmnist")  # doctest: +SKIP
        >>> info["class_names"]  # doctest: +SKIP
    """
    if is_registered(os.fspath(preset)):
        return preset_entry(os.fspath(preset))["metadata"]
    return _read_metadata(_resolve(preset))


def registry_entry(preset_dir, *, url=None, path=None) -> dict:
    """The registry entry of a saved preset folder, for ``presets.json`` or :func:`register_preset`.

    Checks the folder and that its metadata documents every :data:`ZOO_METADATA` field.
    Give ``url`` (where the folder's files will be served) or ``path`` (its folder
    under ``mmzoo/zoo/checkpoints``).

    Example:
        >>> entry = registry_entry("build/gated_lenet_avmnist",  # doctest: +SKIP
        ...                        url="https://example.org/mmzoo/gated_lenet_avmnist")
    """
    preset_dir = pathlib.Path(preset_dir)
    metadata = _verified_folder_metadata(preset_dir)
    undocumented = [field for field in ZOO_METADATA if field not in metadata]
    if undocumented:
        raise ValueError(f"{preset_dir / METADATA_FILE} does not document {undocumented}; a zoo "
                         f"preset records all of {list(ZOO_METADATA)} (save_to_preset(metadata=...)).")
    files = {name: sha256_of(preset_dir / name) for name in [*metadata["files"], METADATA_FILE]}
    where = {"url": url} if url is not None else {"path": path}
    return {**where, "files": files, "metadata": metadata}


def _resolve(preset) -> pathlib.Path:
    """A local folder holding the preset's verified files."""
    preset = os.fspath(preset)
    if urllib.parse.urlsplit(preset).scheme in ("file", "http", "https"):
        return _url_folder(preset.rstrip("/"))
    if pathlib.Path(preset).is_dir() and not is_registered(preset):  # "./name" for a folder
        _verified_folder_metadata(pathlib.Path(preset))
        return pathlib.Path(preset)
    return _registered_folder(preset, preset_entry(preset))  # an unknown name raises


def _registered_folder(name, entry) -> pathlib.Path:
    if "path" in entry:
        folder = CHECKPOINTS_DIR / entry["path"]
        _require_files(folder, entry["files"])
        for file_name, sha256 in entry["files"].items():
            verify_file(folder / file_name, sha256, str(folder / file_name),
                        "The installed mmzoo package is damaged: reinstall it.")
        return folder
    folder = mmzoo_home() / "presets" / name
    for file_name, sha256 in entry["files"].items():
        fetch_file(f"{entry['url'].rstrip('/')}/{file_name}", folder / file_name, sha256)
    return folder


def _url_folder(url) -> pathlib.Path:
    """An unregistered URL: its metadata.json (no published hash) says the others' hashes."""
    key = hashlib.sha256(url.encode()).hexdigest()[:12]
    folder = mmzoo_home() / "presets" / f"{url.rsplit('/', 1)[-1]}-{key}"
    metadata_path = fetch_file(f"{url}/{METADATA_FILE}", folder / METADATA_FILE, sha256=None)
    try:
        files = _read_metadata(folder)["files"]
    except ValueError:
        metadata_path.unlink()
        raise
    for file_name, sha256 in files.items():
        fetch_file(f"{url}/{file_name}", folder / file_name, sha256)
    return folder


def _verified_folder_metadata(folder: pathlib.Path) -> dict:
    """A local preset folder's metadata, once every file matches the hash it records."""
    metadata = _read_metadata(folder)
    _require_files(folder, metadata["files"])
    for file_name, sha256 in metadata["files"].items():
        verify_file(folder / file_name, sha256, str(folder / file_name),
                    f"It changed after the preset was saved ({METADATA_FILE} records the hash of "
                    "every file): copy or save the preset again.")
    return metadata


def _read_metadata(folder: pathlib.Path) -> dict:
    path = folder / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a preset folder: it has no {METADATA_FILE} "
                                "(mmzoo.save_to_preset writes one).")
    metadata = _read_json(path)
    missing = [field for field in ("class_names", "task", "files") if field not in metadata]
    if not missing:
        missing = [f"files.{name}" for name in (CONFIG_FILE, WEIGHTS_FILE)
                   if name not in metadata["files"]]
    if missing:
        raise ValueError(f"{path} lacks {missing}: it was not written by mmzoo.save_to_preset "
                         "or is damaged.")
    return metadata


def _require_files(folder: pathlib.Path, file_names) -> None:
    missing = [name for name in file_names if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"preset folder {folder} lacks {missing}; copy or download the "
                                "whole folder again.")


def _read_json(path: pathlib.Path) -> dict:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error.msg}, line {error.lineno}): the preset "
                         "is damaged; save or download it again.") from error


def _write_json(path: pathlib.Path, content: dict) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(content, file, indent=2)
        file.write("\n")


def _infer_task(model: keras.Model) -> str:
    task = task_of(model)
    if task is None:
        raise ValueError(f"cannot tell the task of model {model.name!r} from its final activation "
                         f"(logits or none); pass task= one of {list(TASKS)}.")
    return task


def _check_outputs(model: keras.Model, class_names: list[str], task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task={task!r} is unknown; use one of {list(TASKS)}.")
    if not isinstance(model.output, keras.KerasTensor):
        raise ValueError(f"model {model.name!r} has several outputs; save the classifier itself "
                         "(not with_modality_weights(...)).")
    expected = 2 if task == "binary" else model.output.shape[-1]
    if len(class_names) != expected:
        raise ValueError(f"class_names has {len(class_names)} names but the {task} model "
                         f"{model.name!r} needs {expected} (one per class).")


def _check_preprocessor(model: keras.Model, preprocessor: Preprocessor) -> None:
    preprocessor.check_matches(model)
    text = preprocessor.specs.get("text")
    if text is not None and text.vocabulary is None:
        raise ValueError("the preprocessor's TextSpec has no vocabulary: adapt it on the training "
                         "texts first (preprocessor = preprocessor.adapt(texts)).")
