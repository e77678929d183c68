"""Presets: a model, its preprocessing and its provenance in one folder, KerasHub-style.

A preset folder holds:

- ``config.json``: the architecture, ``keras.saving.serialize_keras_object(model)``:
  for a :class:`~mmzoo.models.MultimodalClassifier` (``build_classifier``,
  ``create_model``) the builder arguments (specs, encoders, fusion, head options),
  so a new head is a rebuild; for other models (your own encoder or fusion layer
  objects) the Functional config, whose classes must be registered Keras
  serializables. Folders saved before the builder arguments (a Functional config)
  load as they are, and :func:`migrate_preset` rewrites them;
- ``model.weights.h5``: the weights, ``model.save_weights``;
- ``preprocessor.json``: the :class:`~mmzoo.preprocessing.Preprocessor` (its specs,
  the adapted text vocabulary included), when the preset was saved with one;
- ``metadata.json``: ``class_names``, ``task``, the sha256 of every other file
  under ``files`` and its size under ``sizes``, and provenance (dataset, split,
  recipe, metrics, license...).

A preset is found by registered name (:func:`mmzoo.list_presets`), folder path,
or ``file://`` / ``http(s)://`` URL of a folder; URLs are fetched into the cache
(``$MMZOO_HOME``). :func:`load_preset` sha256-checks every file once and returns a
:class:`Preset` (model, preprocessor, class names, metadata); the file names a
metadata.json lists must be plain names inside the preset folder.

Example:
    >>> save_to_preset(model, "presets/birds", class_names=["owl", "wren"],  # doctest: +SKIP
    ...                preprocessor=preprocessor, metadata={"dataset": "birds", "license": "CC-BY-4.0"})
    >>> preset = load_preset("presets/birds")  # doctest: +SKIP
    >>> model, preprocessor = preset.model(num_classes=5), preset.preprocessor  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import re
import reprlib
import shutil
import textwrap
import urllib.parse

import keras

from mmzoo._version import __version__
from mmzoo.finetuning import replace_head
from mmzoo.models import TASKS, MultimodalClassifier, build_classifier, classifier_head
from mmzoo.preprocessing import Preprocessor
from mmzoo.utils import publish_folder, staging_folder
from mmzoo.zoo.fetch import (
    Remote,
    fetch_folder,
    is_plain_file_name,
    mmzoo_home,
    read_url,
    sha256_of,
    verify_file,
)
from mmzoo.zoo.registry import (
    CHECKPOINTS_DIR,
    REQUIRED_FILES,
    is_registered,
    is_sha256,
    preset_entry,
)

CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE = REQUIRED_FILES
PREPROCESSOR_FILE = "preprocessor.json"
#: metadata.json fields save_to_preset writes itself.
GENERATED_METADATA = ("class_names", "task", "parameter_count", "mmzoo_version", "keras_version",
                      "files", "sizes")
#: metadata.json fields every preset shipped in the zoo documents (see registry_entry).
ZOO_METADATA = ("name", "description", "dataset", "split", "recipe", "metrics", "license",
                "attribution")
#: The most bytes a downloaded metadata.json may have (nothing declares its size).
MAX_METADATA_BYTES = 4 << 20


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
        paths = sorted(staging.iterdir())
        _write_json(staging / METADATA_FILE, {
            "name": preset_dir.name, **metadata, "class_names": class_names, "task": task,
            "parameter_count": model.count_params(), "mmzoo_version": __version__,
            "keras_version": keras.__version__, "files": {p.name: sha256_of(p) for p in paths},
            "sizes": {p.name: p.stat().st_size for p in paths}})
        publish_folder(staging, preset_dir, replace=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return preset_dir


class Preset:
    """A preset resolved and verified once: its model, preprocessor, class names and metadata.

    Made by :func:`load_preset`; every file was sha256-checked then, and is read from
    :attr:`folder` without checking it again.

    Example:
        >>> preset = load_preset("gated_lenet_avmnist")  # doctest: +SKIP
        >>> preset.class_names[:3], preset.info["license"]  # doctest: +SKIP
        >>> model = preset.model(num_classes=5)  # doctest: +SKIP
        >>> features = preset.preprocessor(raw_batch)  # doctest: +SKIP
    """

    def __init__(self, name: str, folder: pathlib.Path, info: dict):
        self.name = name
        #: The local folder holding the verified files.
        self.folder = folder
        #: The metadata (``metadata.json``): class names, task, provenance, file hashes.
        self.info = info

    def __repr__(self) -> str:
        return f"Preset({self.name!r}, folder={os.fspath(self.folder)!r})"

    @property
    def class_names(self) -> list[str]:
        """The label of each output unit (binary task: negative, positive)."""
        return list(self.info["class_names"])

    @functools.cached_property
    def preprocessor(self) -> Preprocessor:
        """The :class:`~mmzoo.preprocessing.Preprocessor` (raw inputs to model inputs)."""
        if PREPROCESSOR_FILE not in self.info["files"]:
            raise ValueError(f"preset {self.name!r} was saved without a preprocessor; build "
                             "one from the specs with mmzoo.preprocessing.Preprocessor (text "
                             "needs the vocabulary the model was trained with).")
        return _deserialize(self.folder / PREPROCESSOR_FILE, Preprocessor)

    def model(self, num_classes=None, task=None, classifier_activation="auto",
              keep_hidden_layers=True) -> keras.Model:
        """A new instance of the preset's model, with its weights.

        With a ``num_classes`` (or ``task``) other than the preset's, the head is new:
        a :class:`~mmzoo.models.MultimodalClassifier` is rebuilt from its builder arguments
        with the new head options and gets the preset's weights everywhere else; another
        model (a Functional config) gets its head replaced
        (:func:`mmzoo.finetuning.replace_head`). Either way encoders and fusion keep the
        preset's weights exactly.

        Args:
            num_classes: the classes of a new head; None keeps the preset's head.
            task: the task of a new head; None keeps the preset's task.
            classifier_activation: the new head's final activation (``"auto"``: by task).
            keep_hidden_layers: keep the head's hidden Dense layers (with their weights)
                and replace only ``logits``.
        """
        model = _load_model(self.folder, self.info)
        preset_classes, preset_task = len(self.info["class_names"]), self.info["task"]
        if num_classes in (None, preset_classes) and task in (None, preset_task):
            return model
        task = task or preset_task
        if num_classes is None:  # a binary head has one unit
            num_classes = 1 if task == "binary" else preset_classes
        if not isinstance(model, MultimodalClassifier):
            return replace_head(model, num_classes, task, classifier_activation,
                                keep_hidden_layers)
        head = {"num_classes": num_classes, "task": task,
                "classifier_activation": classifier_activation}
        if not keep_hidden_layers:
            head.update(head_units=[], dropout=0.0)
        rebuilt = MultimodalClassifier.from_config({**model.get_config(), **head})
        new_logits = classifier_head(rebuilt).logits_layer
        for layer in rebuilt.layers:
            if layer.weights and layer is not new_logits:
                layer.set_weights(model.get_layer(layer.name).get_weights())
        return rebuilt


def load_preset(preset) -> Preset:
    """A registered name, a preset folder, or its ``file://``/``http(s)://`` URL, verified.

    Resolves the preset (downloading a URL's files into the cache), checks its metadata
    and the sha256 of every file once, and returns the :class:`Preset`.

    Example:
        >>> preset = mmzoo.load_preset("gated_lenet_avmnist")  # doctest: +SKIP
        >>> model = preset.model(num_classes=5)  # doctest: +SKIP
        >>> model.compile("adam", "sparse_categorical_crossentropy")  # doctest: +SKIP
    """
    return Preset(os.fspath(preset), *_open(preset))


def from_preset(preset, num_classes=None, task=None, classifier_activation="auto",
                keep_hidden_layers=True) -> keras.Model:
    """The model of a preset: ``load_preset(preset).model(...)`` (see :meth:`Preset.model`).

    Class names and provenance are in :func:`preset_info`, the matching preprocessing
    in :func:`load_preprocessor`; :func:`load_preset` gives all three from one check.

    Example:
        >>> model = mmzoo.from_preset("gated_lenet_avmnist", num_classes=5)  # doctest: +SKIP
        >>> model.compile("adam", "sparse_categorical_crossentropy")  # doctest: +SKIP
    """
    return load_preset(preset).model(num_classes, task, classifier_activation,
                                     keep_hidden_layers)


def load_preprocessor(preset) -> Preprocessor:
    """The preset's :class:`~mmzoo.preprocessing.Preprocessor`: ``load_preset(preset).preprocessor``.

    Example:
        >>> features = load_preprocessor("gated_lenet_avmnist")(raw_batch)  # doctest: +SKIP
    """
    return load_preset(preset).preprocessor


def preset_info(preset) -> dict:
    """A preset's metadata: class names, task, dataset, metrics, license, file hashes...

    A registered preset answers from the registry, without downloading anything; others
    are ``load_preset(preset).info``.

    Example:
        >>> info = preset_info("gated_lenet_avmnist")  # doctest: +SKIP
        >>> info["class_names"]  # doctest: +SKIP
    """
    if is_registered(os.fspath(preset)):
        return preset_entry(os.fspath(preset))["metadata"]
    return load_preset(preset).info


def migrate_preset(old_preset, new_folder, *, builder_args=None, overwrite=False) -> pathlib.Path:
    """Rewrite a preset whose ``config.json`` is a Functional graph into the builder-arguments
    layout (a :class:`~mmzoo.models.MultimodalClassifier` config), same weights and metadata.

    The builder arguments are ``builder_args`` (:func:`mmzoo.build_classifier` arguments)
    or, by default, those of the committed recipe the metadata's ``recipe`` names. They
    must rebuild exactly the old graph (its Functional config is compared), so the new
    preset predicts as the old one; the new folder is verified as it is loaded back.

    Args:
        old_preset: a registered name, folder or URL of a preset in the old layout.
        new_folder: the folder to write (see :func:`save_to_preset`).
        builder_args: the ``build_classifier`` arguments of the old model, when its
            metadata names no committed recipe.
        overwrite: replace an existing ``new_folder``.

    Example:
        >>> migrate_preset("gated_lenet_avmnist", "presets/gated_lenet_avmnist")  # doctest: +SKIP
    """
    old = load_preset(old_preset)
    model = old.model()
    if isinstance(model, MultimodalClassifier):
        raise ValueError(f"preset {old.name!r} already records its builder arguments in "
                         f"{CONFIG_FILE}; there is nothing to migrate.")
    rebuilt = _rebuild(old, builder_args)
    if _functional_config(rebuilt) != _functional_config(model):
        source = ("builder_args=" if builder_args is not None
                  else f"those of recipe {old.info.get('recipe')!r}")
        raise ValueError(f"the builder arguments of preset {old.name!r} ({source}) do not build "
                         f"the graph of {old.folder / CONFIG_FILE}; pass the build_classifier "
                         "arguments its model was made with as builder_args=.")
    rebuilt.set_weights(model.get_weights())
    preprocessor = old.preprocessor if PREPROCESSOR_FILE in old.info["files"] else None
    provenance = {k: v for k, v in old.info.items() if k not in GENERATED_METADATA}
    new_folder = save_to_preset(rebuilt, new_folder, class_names=old.class_names,
                                preprocessor=preprocessor, task=old.info["task"],
                                metadata=provenance, overwrite=overwrite)
    load_preset(new_folder)  # verifies what was written
    return new_folder


def _rebuild(old: Preset, builder_args) -> keras.Model:
    """The model ``builder_args`` (or the recipe of ``old``'s metadata) builds, untrained."""
    if builder_args is None:
        from mmzoo import recipes

        recipe = pathlib.PurePosixPath(str(old.info.get("recipe", ""))).stem
        if recipe not in recipes.recipe_names():
            raise ValueError(f"preset {old.name!r} names no committed recipe "
                             f"(recipe={old.info.get('recipe')!r}); pass the build_classifier "
                             "arguments its model was made with as builder_args=.")
        return recipes.load_recipe(recipe).model_factory(old.preprocessor,
                                                         len(old.class_names))()
    model = build_classifier(**builder_args)
    if not isinstance(model, MultimodalClassifier):
        raise ValueError("builder_args has an encoder or fusion layer object: such a model is "
                         "saved as a Functional config, which is already the layout it has.")
    return model


def _functional_config(model: keras.Model) -> dict:
    """The model's graph as a Functional config, JSON-normalized (tuples as lists)."""
    graph = keras.Model(model.input, model.output, name=model.name)
    return json.loads(json.dumps(graph.get_config()))


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


def _open(preset) -> tuple[pathlib.Path, dict]:
    """A local folder holding the preset's verified files, and its checked metadata."""
    preset = os.fspath(preset)
    if urllib.parse.urlsplit(preset).scheme in ("file", "http", "https"):
        folder = _url_folder(preset.rstrip("/"))
    elif pathlib.Path(preset).is_dir() and not is_registered(preset):  # "./name" for a folder
        return pathlib.Path(preset), _verified_folder_metadata(pathlib.Path(preset))
    else:
        folder = _registered_folder(preset, preset_entry(preset))  # an unknown name raises
    return folder, _read_metadata(folder)


def _registered_folder(name, entry) -> pathlib.Path:
    where = f"the registry entry of preset {name!r}"
    _check_names(entry["files"], where)
    if "path" in entry:
        folder = CHECKPOINTS_DIR / entry["path"]
        _verify_folder(folder, entry["files"], where,
                       "The installed mmzoo package is damaged: reinstall it.")
        return folder
    if not is_plain_file_name(name):
        raise ValueError(f"preset {name!r} is registered with a URL but its name cannot be a "
                         "cache folder: register it under a plain name (no '/', '\\' or '..').")
    metadata = _check_metadata(entry["metadata"], where)
    return fetch_folder(mmzoo_home() / "presets" / name,
                        _remotes(entry["url"].rstrip("/"), entry["files"], metadata))


def _url_folder(url) -> pathlib.Path:
    """An unregistered URL: its metadata.json (no published hash) says the others' hashes and sizes.

    The metadata is downloaded and checked first, and enters the cache with the files it lists.
    """
    key = hashlib.sha256(url.encode()).hexdigest()[:12]
    stem = re.sub(r"[^\w.-]", "_", url.rsplit("/", 1)[-1])[:60]
    folder = mmzoo_home() / "presets" / f"{stem}-{key}"
    if (folder / METADATA_FILE).is_file():
        metadata, contents = _read_metadata(folder), {}
    else:
        raw = read_url(f"{url}/{METADATA_FILE}", MAX_METADATA_BYTES)
        metadata = _check_metadata(_parse_json(raw, f"{url}/{METADATA_FILE}"), f"{url}/{METADATA_FILE}")
        contents = {METADATA_FILE: raw}
    return fetch_folder(folder, _remotes(url, metadata["files"], metadata), contents)


def _remotes(url: str, files: dict, metadata: dict) -> dict[str, Remote]:
    """Each of ``files`` (name to sha256) under ``url``, bounded by the size ``metadata`` records."""
    sizes = metadata.get("sizes", {})
    return {name: Remote(f"{url}/{name}", sha256,
                         MAX_METADATA_BYTES if name == METADATA_FILE else sizes.get(name))
            for name, sha256 in files.items()}


def _verified_folder_metadata(folder: pathlib.Path) -> dict:
    """A local preset folder's metadata, once every file matches the hash it records."""
    metadata = _read_metadata(folder)
    _verify_folder(folder, metadata["files"], str(folder / METADATA_FILE),
                   f"It changed after the preset was saved ({METADATA_FILE} records the hash of "
                   "every file): copy or save the preset again.")
    return metadata


def _verify_folder(folder: pathlib.Path, files: dict, where: str, remedy: str) -> None:
    """Every one of ``files`` (name to sha256) is in ``folder``, not linked away, with its hash."""
    _check_inside(folder, files, where)
    _require_files(folder, files)
    for file_name, sha256 in files.items():
        verify_file(folder / file_name, sha256, str(folder / file_name), remedy)


def _read_metadata(folder: pathlib.Path) -> dict:
    path = folder / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a preset folder: it has no {METADATA_FILE} "
                                "(mmzoo.save_to_preset writes one).")
    return _check_metadata(_read_json(path), str(path))


def _check_metadata(metadata, where: str) -> dict:
    """``metadata`` if it has every field loading relies on, well typed; else a ValueError naming ``where``."""
    def invalid(problem):
        return ValueError(f"{where} {problem}: it was not written by mmzoo (save_to_preset, "
                          "registry_entry) or it is damaged; save or download the preset again.")

    if not isinstance(metadata, dict):
        raise invalid(f"holds {reprlib.repr(metadata)}, not a JSON object")
    missing = [field for field in ("class_names", "task", "files") if field not in metadata]
    if missing:
        raise invalid(f"lacks {missing}")
    files, class_names, task = metadata["files"], metadata["class_names"], metadata["task"]
    if not isinstance(files, dict):
        raise invalid(f"has files={reprlib.repr(files)}, not an object of file name to sha256")
    _check_names(files, where)
    if METADATA_FILE in files:
        raise invalid(f"lists itself under files (a {METADATA_FILE} cannot record its own hash)")
    bad_hashes = {name: sha256 for name, sha256 in files.items()
                  if not is_sha256(sha256)}
    if bad_hashes:
        raise invalid(f"has files whose sha256 is not 64 lowercase hex digits: "
                      f"{reprlib.repr(bad_hashes)}")
    missing = [f"files.{name}" for name in (CONFIG_FILE, WEIGHTS_FILE) if name not in files]
    if missing:
        raise invalid(f"lacks {missing}")
    if not (isinstance(class_names, list) and class_names
            and all(isinstance(name, str) for name in class_names)):
        raise invalid(f"has class_names={reprlib.repr(class_names)}, not a non-empty list of "
                      "strings")
    if not (isinstance(task, str) and task in TASKS):
        raise invalid(f"has task={reprlib.repr(task)}, not one of {list(TASKS)}")
    sizes = metadata.get("sizes", {})
    if not (isinstance(sizes, dict) and set(sizes) <= set(files)
            and all(type(size) is int and size >= 0 for size in sizes.values())):
        raise invalid(f"has sizes={reprlib.repr(sizes)}, not an object of file name (one of "
                      "files) to a number of bytes")
    return metadata


def _check_names(names, where: str) -> None:
    """Raise a ValueError naming ``where`` and the culprits unless every name is a plain file name."""
    unsafe = [name for name in names if not is_plain_file_name(name)]
    if unsafe:
        listed = ", ".join(repr(name)[:200] for name in unsafe[:5])
        raise ValueError(
            f"{where} lists files named {listed}, which are not plain file names inside the preset "
            "folder (one name, no '/', '\\', ':' or control character, not starting with '.'): "
            "nothing was downloaded or written. Do not use this preset; whoever made it should "
            "save it again with mmzoo.save_to_preset.")


def _check_inside(folder: pathlib.Path, names, where: str) -> None:
    """Raise a ValueError unless every file resolves inside ``folder`` (a link may point away)."""
    root = pathlib.Path(os.path.realpath(folder))
    outside = [name for name in names
               if not pathlib.Path(os.path.realpath(folder / name)).is_relative_to(root)]
    if outside:
        raise ValueError(f"{where} lists {outside}, symbolic links in {folder} to files outside "
                         "it: a preset reads only its own files. Replace each link by a copy of "
                         "its file, or save the preset again.")


def _require_files(folder: pathlib.Path, file_names) -> None:
    missing = [name for name in file_names if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"preset folder {folder} lacks {missing}; copy or download the "
                                "whole folder again.")


def _read_json(path: pathlib.Path):
    return _parse_json(path.read_bytes(), str(path))


def _parse_json(raw: bytes, where: str):
    """The JSON value in ``raw``, UTF-8 (a byte-order mark allowed); a ValueError naming ``where``."""
    damaged = "the preset is damaged; save or download the preset again."
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{where} is not UTF-8 text (byte {error.start} is "
                         f"{raw[error.start]:#04x}): {damaged}") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{where} is not valid JSON ({error.msg}, line {error.lineno}): "
                         f"{damaged}") from error
    except RecursionError as error:
        raise ValueError(f"{where} nests JSON values too deeply to be read: {damaged}") from error


def _load_model(folder: pathlib.Path, metadata: dict) -> keras.Model:
    """The preset's model with its weights, checked against its metadata's classes and task."""
    config, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    model = _deserialize(config, keras.Model)
    try:
        model.load_weights(weights)
    except Exception as error:  # h5py's OSError, Keras' ValueError for other shapes...
        raise ValueError(f"{weights} does not hold weights for the model of {config} "
                         f"({type(error).__name__}: {textwrap.shorten(str(error), 300)}); save "
                         "the preset again.") from error
    try:
        _check_outputs(model, metadata["class_names"], metadata["task"])
    except ValueError as error:
        raise ValueError(f"{folder / METADATA_FILE} does not fit the model of {config}: {error} "
                         "Save the preset again.") from error
    return model


def _deserialize(path: pathlib.Path, cls: type):
    """The ``cls`` that the Keras config in ``path`` describes; a ValueError naming ``path`` otherwise."""
    config = _read_json(path)
    try:
        built = keras.saving.deserialize_keras_object(config)
    except Exception as error:  # Keras raises TypeError, KeyError, ValueError... for what it cannot build
        raise ValueError(
            f"{path} is not a {cls.__name__} that Keras can build ({type(error).__name__}: "
            f"{textwrap.shorten(str(error), 300)}). If it uses your own layers, import the module "
            "that registers them (@keras.saving.register_keras_serializable) first; else save "
            "the preset again.") from error
    if not isinstance(built, cls):
        raise ValueError(f"{path} describes a {type(built).__name__}, not a {cls.__name__}: it is "
                         "not a preset's file; save the preset again.")
    return built


def _write_json(path: pathlib.Path, content: dict) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(content, file, indent=2)
        file.write("\n")


def _infer_task(model: keras.Model) -> str:
    task = classifier_head(model).task
    if task is None:
        raise ValueError(f"cannot tell the task of model {model.name!r} from its final activation "
                         f"(logits or none); pass task= one of {list(TASKS)}.")
    return task


def _check_outputs(model: keras.Model, class_names: list[str], task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task={task!r} is unknown; use one of {list(TASKS)}.")
    classifier_head(model).checked_class_names(class_names, task)


def _check_preprocessor(model: keras.Model, preprocessor: Preprocessor) -> None:
    preprocessor.check_matches(model)
    unadapted = [m for m, converter in preprocessor.converters.items() if converter.needs_adapting]
    if unadapted:
        raise ValueError(f"the preprocessor's {unadapted[0]} converter has not learned from the "
                         "training split (a TextSpec has no vocabulary yet): adapt it on the "
                         "training texts first (preprocessor = preprocessor.adapted_on(source)).")
