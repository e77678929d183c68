"""Sources: manifests (CSV/JSONL), folder trees, TFDS, in-memory arrays and DataFrames.

Every source gives a :class:`Source`: a cheap, shuffleable ``tf.data.Dataset`` of rows
(paths and strings), a ``load`` function that reads one row's files in TF ops (images,
WAV; other audio is decoded in Python a batch at a time, :func:`load_pending_audio`), the
ordered class names, and the problems found while scanning (missing files, unknown labels,
non-UTF-8 text) for the bad-data policy.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import math
import os
import pathlib
import stat
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from mmzoo.data.errors import Problem
from mmzoo.data.manifest import file_error, read_manifest
from mmzoo.preprocessing.audio import TF_AUDIO_EXTENSIONS, read_audio_files, wav_samples
from mmzoo.preprocessing.preprocessor import AUDIO_RATE_KEY
from mmzoo.specs import MODALITIES, AudioSpec, presence_key

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
AUDIO_EXTENSIONS = (".wav", ".ogg", ".flac", ".mp3")
TEXT_EXTENSIONS = (".txt",)
INDEX_KEY = "index"
# Where a row's raw inputs (and then its features) hold the path of an audio file that TF
# ops cannot decode, until load_pending_audio decodes a batch of them in Python.
PENDING_AUDIO_KEY = "pending_audio"


@dataclasses.dataclass
class Source:
    """Labelled raw examples, ready for :func:`mmzoo.data.make_dataset` or :func:`mmzoo.data.prepare`.

    Attributes:
        rows: a ``tf.data.Dataset`` of dicts: raw inputs by modality, ``"label"`` and
            ``"index"`` (position in ``origins``).
        load: ``load(row, specs)`` maps a row to the raw inputs of a
            :class:`~mmzoo.preprocessing.Preprocessor` with ``specs`` (reads files, in TF
            ops: a non-WAV audio file is left under ``PENDING_AUDIO_KEY`` for
            :func:`load_pending_audio`); identity when rows hold the data already.
        class_names: label names, in id order.
        origins: where each row comes from, e.g. ``"train.csv row 3"``, for error messages.
        problems: rows left out while scanning, for the bad-data policy.
        multi_label: labels are multi-hot float32 vectors rather than int32 ids.
    """

    rows: tf.data.Dataset
    class_names: tuple[str, ...]
    origins: Sequence[str]
    load: Callable = staticmethod(lambda row, specs: row)
    problems: list[Problem] = dataclasses.field(default_factory=list)
    multi_label: bool = False

    def texts(self) -> tf.data.Dataset:
        """The text of every row, e.g. to adapt a vocabulary on the training split."""
        if "text" not in self.rows.element_spec:
            raise ValueError("no row of this source has text, so there is none to adapt a "
                             "vocabulary on: give the examples text, or leave text out of the "
                             "model's modalities.")
        return self.rows.map(lambda row: row["text"])


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


def file_reason(path: str, empty_ok: bool = False) -> str | None:
    """Why ``path`` cannot be read as a (non-empty, unless ``empty_ok``) regular file, or
    None if it can: it does not exist, is a directory, a FIFO, a symbolic link loop..."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return ("the file does not exist (it is a symbolic link to a missing file)"
                if os.path.islink(path) else "the file does not exist")
    except PermissionError:
        return "permission denied: a folder on the file's path cannot be searched"
    except ValueError:
        return "the path holds a NUL character"
    except OSError as error:
        return {errno.ELOOP: "the path is a symbolic link loop",
                errno.ENOTDIR: "the file does not exist (a part of its path is a file)",
                errno.ENAMETOOLONG: "the path is too long"}.get(
                    error.errno, f"the file cannot be read: {error.strerror}")
    if stat.S_ISDIR(info.st_mode):
        return "the path is a directory, not a file"
    if stat.S_ISFIFO(info.st_mode):
        return "the path is a FIFO (a named pipe), not a regular file"
    if not stat.S_ISREG(info.st_mode):
        return "the path is not a regular file (a device or a socket)"
    if info.st_size == 0 and not empty_ok:
        return "the file is empty"
    try:
        open(path, "rb").close()
    except PermissionError:
        return "permission denied: the file cannot be read"
    except OSError as error:
        return f"the file cannot be read: {error.strerror}"
    return None


def _valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _load_audio(path, spec: AudioSpec, wav_files: bool):
    """One audio path ("" if absent) to ``(mono waveform, rate, pending path)``: TF ops decode
    a WAV; any other file is left pending for :func:`load_pending_audio`, with a placeholder
    waveform that is never preprocessed. Without ``wav_files`` (the source has none) the
    graph holds no WAV decoder and the rate is static, so the preprocessor leaves its
    resampler out too: a smaller graph, faster to set up at the start of each pass."""
    placeholder = tf.zeros([1])
    if not wav_files:
        return placeholder, spec.sample_rate, path

    def tf_decode():
        waveform, rate = wav_samples(tf.io.read_file(path))
        return tf.reduce_mean(waveform, axis=-1), rate, tf.constant("")

    def pending():
        return placeholder, tf.constant(spec.sample_rate, tf.int32), path

    is_wav = tf.reduce_any([tf.strings.regex_full_match(tf.strings.lower(path), f".*\\{ext}")
                            for ext in TF_AUDIO_EXTENSIONS])
    return tf.cond(is_wav, tf_decode, pending)


def _load_files(row, specs, wav_files: bool):
    """A row of paths to raw inputs: image bytes, audio waveform and rate, presence flags,
    and under ``PENDING_AUDIO_KEY`` the audio file that TF ops cannot decode ("" if none).
    A pending file is absent to the preprocessor (silence, nothing decoded) until
    :func:`load_pending_audio` puts its clip and presence in."""
    raw = dict(row)
    if "image" in row and "image" in specs:
        present = tf.strings.length(row["image"]) > 0
        raw["image"] = tf.cond(present, lambda: tf.io.read_file(row["image"]), lambda: tf.constant(""))
        raw[presence_key("image")] = present
    if "audio" in row and "audio" in specs:
        raw["audio"], raw[AUDIO_RATE_KEY], raw[PENDING_AUDIO_KEY] = _load_audio(
            row["audio"], specs["audio"], wav_files)
        raw[presence_key("audio")] = ((tf.strings.length(row["audio"]) > 0)
                                      & (tf.strings.length(raw[PENDING_AUDIO_KEY]) == 0))
    return raw


def load_pending_audio(features: dict, spec: AudioSpec) -> tuple[dict, tf.Tensor]:
    """Complete a batch of preprocessed rows: decode the audio files they left pending
    (Ogg, FLAC, MP3) with :func:`~mmzoo.preprocessing.read_audio_files`, in one Python call
    for the batch. Returns the features, with those rows' clips and presence flags put in
    and ``PENDING_AUDIO_KEY`` removed, and a message per row saying why its file could not
    be decoded ("" if fine).

    Example:
        >>> rows = dataset.batch(32).map(lambda f, label: (*load_pending_audio(f, spec), label))  # doctest: +SKIP
    """
    features = dict(features)
    paths = features.pop(PENDING_AUDIO_KEY)
    clips, errors = tf.numpy_function(lambda paths: read_audio_files(paths, spec), [paths],
                                      (tf.float32, tf.string), stateful=False)
    pending = tf.strings.length(paths) > 0
    clips = tf.ensure_shape(clips, (paths.shape[0], *spec.shape))
    features["audio"] = tf.where(pending[:, None], clips, features["audio"])
    present = features[presence_key("audio")]
    features[presence_key("audio")] = tf.where(pending, tf.ones_like(present), present)
    return features, tf.ensure_shape(errors, paths.shape)


def _value(value, modality: str, base_dir, origin: str) -> tuple[str, Problem | None]:
    """One row's text, or its image / audio path joined to ``base_dir`` ("" if absent), and
    the problem that makes the row bad, if any."""
    if value is None or isinstance(value, float) and math.isnan(value):
        return "", None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="surrogateescape")
    if modality != "text" and isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        kind = "a string" if modality == "text" else "a path"
        return "", Problem(origin, "", f"the {modality} is {value!r}, not {kind}")
    if not _valid_utf8(value):
        what = "text" if modality == "text" else f"{modality} path"
        return "", Problem(origin, "", f"the {what} {_NOT_UTF8}")
    if modality == "text" or not value:
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
    modalities = [m for m in MODALITIES if any(row.get(m) for row in rows)]
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
    has_files = "image" in modalities or "audio" in modalities
    wav_files = any(path.lower().endswith(TF_AUDIO_EXTENSIONS) for path in columns.get("audio", []))
    load = functools.partial(_load_files, wav_files=wav_files) if has_files else Source.load
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


def _text_file(path: pathlib.Path, first_line_only: bool) -> tuple[str, str | None]:
    """A text file's text (without a byte-order mark; non-UTF-8 bytes kept as surrogates, for
    the example to be found bad), or why it cannot be read."""
    reason = file_reason(str(path), empty_ok=True)
    if reason:
        return "", reason
    text = path.read_bytes().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    return (text.splitlines()[0] if first_line_only and text else text), None


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
    examples: dict[str, dict] = {}
    problems: dict[str, Problem] = {}
    for path in sorted(p for p in root.rglob("*") if not p.is_dir()):
        relative = path.relative_to(root)
        extension, stem = path.suffix.lower(), path.stem
        if len(relative.parts) < 2 or any(part.startswith(".") for part in relative.parts):
            continue
        if extension in IMAGE_EXTENSIONS:
            modality = "image"
        elif extension in TEXT_EXTENSIONS:
            modality = "text"
        elif extension in AUDIO_EXTENSIONS and stem.endswith(audio_suffix):
            modality, stem = "audio", stem[:len(stem) - len(audio_suffix)]
        else:
            continue
        key = str(relative.parent / stem)
        row = examples.setdefault(key, {"label": relative.parts[0]})
        if modality == "text":
            row["text"], reason = _text_file(path, first_line_only)
            if reason:
                problems.setdefault(key, Problem(key, str(path), reason))
        else:
            row[modality] = str(path)
    if not examples:
        raise file_error(root, "the folder holds no examples", "Put each example's files in a "
                         f"folder named after its label: <label>/<name>{IMAGE_EXTENSIONS[0]}, "
                         f"{TEXT_EXTENSIONS[0]}, {AUDIO_EXTENSIONS[0]}...")
    keys = sorted(examples)
    good = [key for key in keys if key not in problems]
    source = from_rows([examples[k] for k in good], good, class_names=class_names)
    return _with_problems(source, list(problems.values()), keys)


def from_arrays(labels, *, text=None, image=None, audio=None, audio_sample_rate: int | None = None,
                class_names: Sequence[str] | None = None, multi_label: bool = False) -> Source:
    """In-memory data: ``text`` strings, ``image`` uint8 pixels ``(n, h, w[, c])``, ``audio``
    float waveforms ``(n, samples)`` at ``audio_sample_rate``; or, for image/audio, lists of paths.

    Example:
        >>> source = from_arrays([0, 1], image=np.zeros((2, 28, 28), "uint8"), class_names=["a", "b"])
        >>> source.class_names
        ('a', 'b')
    """
    columns = {"text": text, "image": image, "audio": audio}
    if any(isinstance(v, list | tuple) and v and isinstance(v[0], str | os.PathLike)
           for m, v in columns.items() if m != "text" and v is not None):
        rows = [{m: v[i] for m, v in columns.items() if v is not None} | {"label": labels[i]}
                for i in range(len(labels))]
        return from_rows(rows, [f"array index {i}" for i in range(len(rows))],
                         class_names=class_names, multi_label=multi_label)
    labels = list(labels)
    rows = [{"text": "" if text is None else text[i], "label": label} for i, label in enumerate(labels)]
    source = from_rows(rows, [f"array index {i}" for i in range(len(rows))],
                       class_names=class_names, multi_label=multi_label)
    kept = np.asarray([int(origin.rsplit(" ", 1)[1]) for origin in source.origins], np.int64)
    extra = {}
    if image is not None:
        image = np.asarray(image)[kept]
        extra["image"] = image[..., None] if image.ndim == 3 else image
    if audio is not None:
        if audio_sample_rate is None:
            raise ValueError("from_arrays(audio=...) needs audio_sample_rate= (the waveforms' rate in Hz).")
        extra["audio"] = np.asarray(audio, np.float32)[kept]
        extra[AUDIO_RATE_KEY] = np.full(len(kept), audio_sample_rate, np.int32)
    if extra:  # else text only: the rows hold it already
        source.rows = tf.data.Dataset.zip(
            source.rows, tf.data.Dataset.from_tensor_slices(extra)).map(
                lambda row, arrays: {**row, **arrays})
    return source


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
    unknown = set(features) - set(MODALITIES)
    if unknown:
        raise ValueError(f"features={features!r} maps unknown modalities {sorted(unknown)}; "
                         f"use 'text', 'image' and 'audio'.")
    for key in [*features.values(), label]:
        if key not in info:
            raise ValueError(f"{builder.name} has no feature {key!r}; its features are {list(info)}.")
    if "audio" in features:
        audio_sample_rate = getattr(info[features["audio"]], "sample_rate", None) or audio_sample_rate
        if audio_sample_rate is None:
            raise ValueError(f"{builder.name}'s feature {features['audio']!r} declares no sample "
                             "rate; pass audio_sample_rate= (its rate in Hz).")
    decoders = {features["image"]: tfds.decode.SkipDecoding()} if "image" in features else None
    rows = builder.as_dataset(split=split, decoders=decoders)
    num_examples = builder.info.splits[split].num_examples

    def to_raw(index, example):
        raw = {modality: example[key] for modality, key in features.items()}
        if "audio" in features:
            audio = example[features["audio"]]
            raw["audio"] = (tf.cast(audio, tf.float32) / 32768.0 if audio.dtype.is_integer
                            else tf.cast(audio, tf.float32))
            raw[AUDIO_RATE_KEY] = tf.constant(audio_sample_rate, tf.int32)
        raw.update(label=tf.cast(example[label], tf.int32), index=index)
        return raw

    return Source(rows=rows.enumerate().map(to_raw),
                  class_names=tuple(info[label].names),
                  origins=[f"{builder.name}[{split}] example {i}" for i in range(num_examples)])
