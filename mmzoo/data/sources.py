"""Sources: manifests (CSV/JSONL), folder trees, TFDS, in-memory arrays and DataFrames.

Every source gives a :class:`Source`: a cheap, shuffleable ``tf.data.Dataset`` of rows
(paths and strings), a ``load`` function that reads one row's files (each modality's
converter reads its own: :meth:`mmzoo.converters.Converter.load`), the ordered class
names, and the problems found while scanning (missing files, unknown labels, non-UTF-8
text) for the bad-data policy.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import pathlib
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from mmzoo.converters import CONVERTERS, converter_class
from mmzoo.data.errors import Problem
from mmzoo.data.manifest import file_error, read_manifest
from mmzoo.specs import modalities as registered_modalities
from mmzoo.utils import file_reason

INDEX_KEY = "index"


@dataclasses.dataclass
class Source:
    """Labelled raw examples, ready for :func:`mmzoo.data.make_dataset` or :func:`mmzoo.data.prepare`.

    Attributes:
        rows: a ``tf.data.Dataset`` of dicts: raw inputs by modality, ``"label"`` and
            ``"index"`` (position in ``origins``).
        load: ``load(row, converters)`` maps a row to the raw inputs of a
            :class:`~mmzoo.preprocessing.Preprocessor` with those converters (each reads
            its modality's file); identity when rows hold the data already.
        class_names: label names, in id order.
        origins: where each row comes from, e.g. ``"train.csv row 3"``, for error messages.
        problems: rows left out while scanning, for the bad-data policy.
        multi_label: labels are multi-hot float32 vectors rather than int32 ids.
    """

    rows: tf.data.Dataset
    class_names: tuple[str, ...]
    origins: Sequence[str]
    load: Callable = staticmethod(lambda row, converters: row)
    problems: list[Problem] = dataclasses.field(default_factory=list)
    multi_label: bool = False

    def values(self, modality: str) -> tf.data.Dataset:
        """The raw ``modality`` input of every row, e.g. to adapt a converter on the training split."""
        if modality not in self.rows.element_spec:
            raise ValueError(f"no row of this source has {modality}, so there is none to adapt "
                             f"on: give the examples {modality}, or leave {modality} out of the "
                             "model's modalities.")
        return self.rows.map(lambda row: row[modality])

    def texts(self) -> tf.data.Dataset:
        """The text of every row, e.g. to adapt a vocabulary on the training split."""
        return self.values("text")


_NOT_A_LABEL = "a label is a class name or a class id (an integer)"
_NOT_UTF8 = "is not valid UTF-8 (is its file in another encoding? re-save it as UTF-8)"


def _label_names(row: dict, multi_label: bool) -> list[str]:
    """The label names (or ids, as strings) of one row; a ValueError says why its value is
    not a label: missing, empty, null, a boolean, a fraction, a list (single-label)."""
    if "label" not in row:
        raise ValueError("the example has no label")
    value = row["label"]
    if isinstance(value, list | tuple):
        if not multi_label:
            raise ValueError(f"the label is a list ({list(value)!r}), but the source is not "
                             "multi-label (pass multi_label=True)")
        items = list(value)
    else:
        items = value.split("|") if multi_label and isinstance(value, str) else [value]
    names = [_label_name(item) for item in items]
    if not names or "" in names:
        raise ValueError("the label is empty")
    return names


def _label_name(value) -> str:
    if isinstance(value, str):
        if not _valid_utf8(value):
            raise ValueError(f"the label {_NOT_UTF8}")
        return value.strip()
    if value is None:
        raise ValueError(f"the label is null: {_NOT_A_LABEL}")
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"the label is {str(bool(value)).lower()} (a boolean): {_NOT_A_LABEL}")
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        if float(value).is_integer():
            return str(int(value))
        raise ValueError(f"the label is {value} (a fraction): {_NOT_A_LABEL}")
    raise ValueError(f"the label is a {type(value).__name__}: {_NOT_A_LABEL}")


def _label_ids(names: list[str], class_names: Sequence[str]) -> list[int]:
    """Label ids from names or ids; a ValueError says which one is unknown."""
    ids = []
    for name in names:
        if name in class_names:
            ids.append(class_names.index(name))
        elif name.lstrip("-").isdigit() and 0 <= int(name) < len(class_names):
            ids.append(int(name))
        else:
            raise ValueError(f"unknown label {name!r}: the classes are {list(class_names)}")
    return ids


def _class_names_from(labels: list[list[str]]) -> tuple[str, ...]:
    names = {name for row in labels for name in row}
    if names and all(n.isdigit() for n in names):
        return tuple(str(i) for i in range(max(int(n) for n in names) + 1))
    return tuple(sorted(names))


def _valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _load_files(row, converters, plans: dict):
    """A row of paths to raw inputs: each modality that holds paths is read by its converter."""
    raw = dict(row)
    for modality, plan in plans.items():
        if modality in row and modality in converters:
            raw.update(converters[modality].load(row[modality], plan))
    return raw


def _value(value, modality: str, base_dir, origin: str) -> tuple[str, Problem | None]:
    """One row's value: the input itself (text), or a file's path joined to ``base_dir`` (""
    if absent); and the problem that makes the row bad, if any."""
    if value is None or isinstance(value, float) and math.isnan(value):
        return "", None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="surrogateescape")
    holds_paths = converter_class(modality).holds_paths
    if holds_paths and isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        kind = "a path" if holds_paths else "a string"
        return "", Problem(origin, "", f"the {modality} is {value!r}, not {kind}")
    if not _valid_utf8(value):
        what = f"{modality} path" if holds_paths else modality
        return "", Problem(origin, "", f"the {what} {_NOT_UTF8}")
    if not holds_paths or not value:
        return value, None
    if "\x00" in value:
        return "", Problem(origin, "", f"the {modality} path holds a NUL character")
    path = str(pathlib.Path(base_dir, value))
    reason = file_reason(path)
    return path, Problem(origin, path, reason) if reason else None


def from_rows(rows: Sequence[dict], origins: Sequence[str], *, base_dir=".",
              class_names: Sequence[str] | None = None, multi_label: bool = False) -> Source:
    """A source from dicts with any of ``text`` (a string), ``image`` / ``audio`` (paths) and ``label``.

    Paths are relative to ``base_dir``; an empty, null or missing value is an absent
    modality. Labels are names or ids (multi-label: a list, or names joined by ``|``); a
    row whose label is missing, empty, null, a boolean or a fraction is bad, and so is one
    whose file is not a readable, non-empty regular file.

    Example:
        >>> source = from_rows([{"text": "a frog", "label": "animals"}], ["row 1"])
        >>> source.class_names
        ('animals',)
    """
    labels, label_problems = [], {}
    for row, origin in zip(rows, origins, strict=True):
        try:
            labels.append(_label_names(row, multi_label))
        except ValueError as error:
            labels.append(None)
            label_problems[origin] = Problem(origin, "", str(error))
    class_names = (tuple(class_names) if class_names is not None
                   else _class_names_from([names for names in labels if names is not None]))
    modalities = [m for m in registered_modalities() if any(row.get(m) for row in rows)]
    columns = {m: [] for m in modalities}
    kept_labels, kept_origins, problems = [], [], []
    for row, origin, names in zip(rows, origins, labels, strict=True):
        values, problem = {}, None
        for modality in modalities:
            values[modality], found = _value(row.get(modality), modality, base_dir, origin)
            problem = problem or found
        problem = problem or label_problems.get(origin)
        if not problem:
            try:
                ids = _label_ids(names, class_names)
            except ValueError as error:
                problem = Problem(origin, "", str(error))
        if problem:
            problems.append(problem)
            continue
        for modality in modalities:
            columns[modality].append(values[modality])
        if multi_label:
            kept_labels.append(np.isin(np.arange(len(class_names)), ids).astype(np.float32))
        else:
            kept_labels.append(ids[0])
        kept_origins.append(origin)
    label_array = (np.stack(kept_labels) if multi_label and kept_labels
                   else np.asarray(kept_labels, np.float32 if multi_label else np.int32))
    if multi_label and not kept_labels:
        label_array = label_array.reshape(0, len(class_names))
    data = {m: np.asarray(v, dtype=object).astype(str) for m, v in columns.items()}
    data.update(label=label_array, index=np.arange(len(kept_origins), dtype=np.int64))
    plans = {m: CONVERTERS[m].loading_plan(columns[m]) for m in modalities
             if CONVERTERS[m].holds_paths}
    load = functools.partial(_load_files, plans=plans) if plans else Source.load
    return Source(rows=tf.data.Dataset.from_tensor_slices(data), class_names=class_names,
                  origins=kept_origins, load=load,
                  problems=problems, multi_label=multi_label)


def _with_problems(source: Source, problems: list[Problem], order: Sequence[str]) -> Source:
    """``source`` with ``problems`` (found before its rows were made) among its own, in the
    order of ``order`` (every origin, good rows' too)."""
    position = {origin: i for i, origin in enumerate(order)}
    source.problems = sorted([*problems, *source.problems], key=lambda p: position[p.origin])
    return source


def from_manifest(path, *, class_names: Sequence[str] | None = None,
                  multi_label: bool = False) -> Source:
    """A CSV or JSONL manifest with columns ``text``, ``image`` (path), ``audio`` (path), ``label``.

    Paths are relative to the manifest's folder. The whole file is checked first: a file
    that is not a manifest (empty, not UTF-8, not comma-separated, without a ``label`` or
    modality column, or none of whose rows is usable) raises :class:`DataError` at once.
    A bad row (missing or extra fields, not a JSON object, an oversized cell, non-UTF-8
    bytes, a bad label or file) is a problem for the bad-data policy, named by its line.

    Example:
        >>> source = from_manifest("train.csv")  # doctest: +SKIP
    """
    path = pathlib.Path(path)
    if path.suffix.lower() not in (".csv", ".jsonl", ".json"):
        raise ValueError(f"{path}: unknown manifest format {path.suffix!r}; use .csv or .jsonl.")
    reason = file_reason(str(path))
    if reason:
        raise file_error(path, reason, "Pass a CSV or JSONL manifest.")
    records, origins = read_manifest(path, path.read_bytes())
    rows = [(record, origin) for record, origin in zip(records, origins, strict=True)
            if not isinstance(record, Problem)]
    source = from_rows([row for row, _ in rows], [origin for _, origin in rows],
                       base_dir=path.parent, class_names=class_names, multi_label=multi_label)
    source = _with_problems(source, [r for r in records if isinstance(r, Problem)], origins)
    if not source.origins:
        first = source.problems[0]
        raise file_error(path, f"no row is usable (the first of {len(origins)}, "
                         f"{first.origin}: {first.reason})", "Fix the file, or pass the right one.")
    return source


def from_dataframe(frame, *, base_dir=".", class_names: Sequence[str] | None = None,
                   multi_label: bool = False) -> Source:
    """A pandas DataFrame laid out like a manifest (``text``, ``image``, ``audio``, ``label``).

    Example:
        >>> source = from_dataframe(pd.DataFrame({"text": ["a frog"], "label": [0]}))  # doctest: +SKIP
    """
    rows = frame.to_dict("records")
    origins = [f"dataframe row {index}" for index in frame.index]
    return from_rows(rows, origins, base_dir=base_dir, class_names=class_names,
                     multi_label=multi_label)


def from_folder(root, *, class_names: Sequence[str] | None = None, audio_suffix: str = "",
                first_line_only: bool = False) -> Source:
    """A folder tree ``<label>/[<sub>/]<name>.png|.txt|.wav|.ogg...``: files sharing a stem form one example.

    The label is the first folder under ``root``. Audio files are matched to
    ``<name><audio_suffix>.<ext>`` (e.g. ``audio_suffix="_desc_fr"``); audio files whose
    stem lacks the suffix are ignored, and so are hidden files and folders (``.name``).
    ``first_line_only`` keeps the first line of text files.

    Example:
        >>> source = from_folder("stamps", audio_suffix="_desc_fr", first_line_only=True)  # doctest: +SKIP
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise file_error(root, file_reason(str(root)) or "the path is not a folder",
                         "Pass a folder of <label>/<name>.* files, or a manifest.")
    by_extension = {extension: converter for converter in CONVERTERS.values()
                    for extension in converter.file_extensions}
    suffixes = {"audio": audio_suffix}  # a file's stem ends so, and loses it, to join its example
    options = {"first_line_only": first_line_only}
    examples: dict[str, dict] = {}
    problems: dict[str, Problem] = {}
    for path in sorted(p for p in root.rglob("*") if not p.is_dir()):
        relative = path.relative_to(root)
        converter = by_extension.get(path.suffix.lower())
        if (converter is None or len(relative.parts) < 2
                or any(part.startswith(".") for part in relative.parts)):
            continue
        suffix = suffixes.get(converter.modality, "")
        if not path.stem.endswith(suffix):
            continue
        key = str(relative.parent / path.stem[:len(path.stem) - len(suffix)])
        row = examples.setdefault(key, {"label": relative.parts[0]})
        row[converter.modality], reason = converter.folder_value(path, options)
        if reason:
            problems.setdefault(key, Problem(key, str(path), reason))
    if not examples:
        names = ", ".join(f"<name>{converter.file_extensions[0]}"
                          for converter in CONVERTERS.values() if converter.file_extensions)
        raise file_error(root, "the folder holds no examples", "Put each example's files in a "
                         f"folder named after its label: <label>/{names}...")
    keys = sorted(examples)
    good = [key for key in keys if key not in problems]
    source = from_rows([examples[k] for k in good], good, class_names=class_names)
    return _with_problems(source, list(problems.values()), keys)


def from_arrays(labels, *, text=None, image=None, audio=None, audio_sample_rate: int | None = None,
                class_names: Sequence[str] | None = None, multi_label: bool = False,
                **other_modalities) -> Source:
    """In-memory data: ``text`` strings, ``image`` uint8 pixels ``(n, h, w[, c])``, ``audio``
    float waveforms ``(n, samples)`` at ``audio_sample_rate``; or, for image/audio, lists of
    paths. A registered modality's values are passed by its name too.

    Example:
        >>> source = from_arrays([0, 1], image=np.zeros((2, 28, 28), "uint8"), class_names=["a", "b"])
        >>> source.class_names
        ('a', 'b')
    """
    given = {m: v for m, v in {"text": text, "image": image, "audio": audio,
                               **other_modalities}.items() if v is not None}
    in_rows = {m: v for m, v in given.items()
               if not converter_class(m).holds_paths or _are_paths(v)}
    labels = list(labels)
    rows = [{m: v[i] for m, v in in_rows.items()} | {"label": label}
            for i, label in enumerate(labels)]
    source = from_rows(rows, [f"array index {i}" for i in range(len(rows))],
                       class_names=class_names, multi_label=multi_label)
    arrays = {m: v for m, v in given.items() if m not in in_rows}
    if arrays:
        kept = np.asarray([int(origin.rsplit(" ", 1)[1]) for origin in source.origins], np.int64)
        options = {"audio_sample_rate": audio_sample_rate}
        columns = {}
        for modality, values in arrays.items():
            columns.update(CONVERTERS[modality].array_columns(np.asarray(values)[kept], options))
        source.rows = tf.data.Dataset.zip(
            source.rows, tf.data.Dataset.from_tensor_slices(columns)).map(
                lambda row, arrays: {**row, **arrays})
    return source


def _are_paths(values) -> bool:
    return (isinstance(values, list | tuple) and len(values) > 0
            and isinstance(values[0], str | os.PathLike))


def from_tfds(dataset, split: str, *, features: dict[str, str], label: str = "label",
              data_dir=None, audio_sample_rate: int | None = None) -> Source:
    """A TFDS dataset (a name or a builder) with ``features`` mapping modalities to feature keys.

    Images are read as their encoded bytes and decoded by the same TF ops as files;
    audio is read at the rate the dataset declares (a ``tfds.features.Audio``), or at
    ``audio_sample_rate`` for a feature that declares none (a plain ``Tensor`` of samples).
    Class names come from the label feature.

    Example:
        >>> source = from_tfds("mnist", "train", features={"image": "image"})  # doctest: +SKIP
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(dataset, data_dir=data_dir) if isinstance(dataset, str) else dataset
    info = builder.info.features
    unknown = set(features) - set(registered_modalities())
    if unknown:
        raise ValueError(f"features={features!r} maps unknown modalities {sorted(unknown)}; "
                         f"use {', '.join(map(repr, registered_modalities()))}.")
    for key in [*features.values(), label]:
        if key not in info:
            raise ValueError(f"{builder.name} has no feature {key!r}; its features are {list(info)}.")
    converters = {modality: CONVERTERS[modality] for modality in features}
    decoders = {features[m]: c.tfds_decoder() for m, c in converters.items()
                if c.tfds_decoder() is not None}
    rows = builder.as_dataset(split=split, decoders=decoders or None)
    num_examples = builder.info.splits[split].num_examples

    def to_raw(index, example):
        raw = {}
        for modality, converter in converters.items():
            key = features[modality]
            raw.update(converter.tfds_raw(example[key], info[key], {
                "audio_sample_rate": audio_sample_rate,
                "where": f"{builder.name}'s feature {key!r}"}))
        raw.update(label=tf.cast(example[label], tf.int32), index=index)
        return raw

    return Source(rows=rows.enumerate().map(to_raw),
                  class_names=tuple(info[label].names),
                  origins=[f"{builder.name}[{split}] example {i}" for i in range(num_examples)])
