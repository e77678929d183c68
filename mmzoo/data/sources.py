"""Sources: manifests (CSV/JSONL), folder trees, TFDS, in-memory arrays and DataFrames.

Every source gives a :class:`Source`: a cheap, shuffleable ``tf.data.Dataset`` of rows
(paths and strings), a ``load`` function that reads one row's files in TF ops (images,
WAV; other audio is decoded in Python a batch at a time, :func:`load_pending_audio`), the
ordered class names, and the problems found while scanning (missing files, unknown labels,
non-UTF-8 text) for the bad-data policy.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import os
import pathlib
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from mmzoo.data.errors import Problem
from mmzoo.preprocessing.audio import TF_AUDIO_EXTENSIONS, read_audio_files, wav_samples
from mmzoo.preprocessing.preprocessor import AUDIO_RATE_KEY
from mmzoo.specs import AudioSpec, presence_key

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
        return self.rows.map(lambda row: row["text"])


def _label_ids(value, class_names: Sequence[str], multi_label: bool) -> list[int]:
    """Label ids of one row from names or ids; a ValueError says which one is unknown."""
    ids = []
    for item in _label_values(value, multi_label):
        text = str(item).strip()
        if text in class_names:
            ids.append(class_names.index(text))
        elif text.lstrip("-").isdigit() and 0 <= int(text) < len(class_names):
            ids.append(int(text))
        else:
            raise ValueError(f"unknown label {text!r}: the classes are {list(class_names)}")
    return ids


def _label_values(value, multi_label: bool) -> list:
    if isinstance(value, list | tuple):
        return list(value)
    return str(value).split("|") if multi_label else [value]


def _class_names_from(labels, multi_label: bool) -> tuple[str, ...]:
    names = set()
    for value in labels:
        names.update(str(v).strip() for v in _label_values(value, multi_label))
    names.discard("")
    if names and all(n.isdigit() for n in names):
        return tuple(str(i) for i in range(max(int(n) for n in names) + 1))
    return tuple(sorted(names))


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


def from_rows(rows: Sequence[dict], origins: Sequence[str], *, base_dir=".",
              class_names: Sequence[str] | None = None, multi_label: bool = False) -> Source:
    """A source from dicts with any of ``text`` (a string), ``image`` / ``audio`` (paths) and ``label``.

    Paths are relative to ``base_dir``; an empty or missing value is an absent modality.
    Labels are names or ids (multi-label: a list, or names joined by ``|``).

    Example:
        >>> source = from_rows([{"text": "a frog", "label": "animals"}], ["row 1"])
        >>> source.class_names
        ('animals',)
    """
    labels = [row.get("label", "") for row in rows]
    class_names = tuple(class_names) if class_names is not None else _class_names_from(labels, multi_label)
    modalities = [m for m in ("text", "image", "audio") if any(row.get(m) for row in rows)]
    columns = {m: [] for m in modalities}
    kept_labels, kept_origins, problems = [], [], []
    for row, origin in zip(rows, origins, strict=True):
        values, problem = {}, None
        for modality in modalities:
            value = row.get(modality) or ""
            value = "" if isinstance(value, float) and np.isnan(value) else str(value)
            if modality == "text":
                if not _valid_utf8(value):
                    problem = Problem(origin, "", "the text is not valid UTF-8")
            elif value:
                value = str(pathlib.Path(base_dir, value))
                if not os.path.isfile(value):
                    problem = Problem(origin, value, "the file does not exist")
                elif os.path.getsize(value) == 0:
                    problem = Problem(origin, value, "the file is empty")
            values[modality] = value
        try:
            ids = _label_ids(row.get("label", ""), class_names, multi_label)
        except ValueError as error:
            problem = problem or Problem(origin, "", str(error))
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


def from_manifest(path, *, class_names: Sequence[str] | None = None,
                  multi_label: bool = False) -> Source:
    """A CSV or JSONL manifest with columns ``text``, ``image`` (path), ``audio`` (path), ``label``.

    Paths are relative to the manifest's folder. Non-UTF-8 bytes in a row make that
    row bad (not the whole file).

    Example:
        >>> source = from_manifest("train.csv")  # doctest: +SKIP
    """
    path = pathlib.Path(path)
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
        if path.suffix.lower() == ".csv":
            rows = list(csv.DictReader(file))
        elif path.suffix.lower() in (".jsonl", ".json"):
            rows = [json.loads(line) for line in file if line.strip()]
        else:
            raise ValueError(f"{path}: unknown manifest format {path.suffix!r}; use .csv or .jsonl.")
    origins = [f"{path.name} row {i + 1}" for i in range(len(rows))]
    return from_rows(rows, origins, base_dir=path.parent, class_names=class_names,
                     multi_label=multi_label)


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
    stem lacks the suffix are ignored. ``first_line_only`` keeps the first line of text files.

    Example:
        >>> source = from_folder("stamps", audio_suffix="_desc_fr", first_line_only=True)  # doctest: +SKIP
    """
    root = pathlib.Path(root)
    examples: dict[str, dict] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        extension, stem = path.suffix.lower(), path.stem
        if len(relative.parts) < 2:
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
            text = path.read_bytes().decode("utf-8", errors="surrogateescape")
            row["text"] = text.splitlines()[0] if first_line_only and text else text
        else:
            row[modality] = str(path)
    keys = sorted(examples)
    return from_rows([examples[k] for k in keys], keys, class_names=class_names)


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
    source.rows = tf.data.Dataset.zip(source.rows, tf.data.Dataset.from_tensor_slices(extra)).map(
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
    unknown = set(features) - {"text", "image", "audio"}
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
