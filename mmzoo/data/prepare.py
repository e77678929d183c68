"""prepare: decode, resample and resize raw files once, into sharded TFRecords."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np
import tensorflow as tf

from mmzoo.data.checking import decoded_examples
from mmzoo.data.errors import BadDataReport
from mmzoo.data.sources import Source
from mmzoo.specs import presence_key

METADATA_FILE = "metadata.json"


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """A folder of TFRecord shards written by :func:`prepare`, and what it holds.

    Example:
        >>> data = PreparedData.load("prepared/train")  # doctest: +SKIP
        >>> data.class_names  # doctest: +SKIP
    """

    directory: pathlib.Path
    class_names: tuple[str, ...]
    multi_label: bool
    num_examples: int
    shards: tuple[str, ...]
    specs: dict  # modality -> spec config (image and audio are stored decoded at these sizes)
    report: BadDataReport | None = None

    @classmethod
    def load(cls, directory) -> PreparedData:
        directory = pathlib.Path(directory)
        path = directory / METADATA_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run mmzoo.data.prepare(...) to write "
                                    f"{directory} first.")
        metadata = json.loads(path.read_text())
        return cls(directory=directory, class_names=tuple(metadata["class_names"]),
                   multi_label=metadata["multi_label"], num_examples=metadata["num_examples"],
                   shards=tuple(str(directory / s) for s in metadata["shards"]),
                   specs=metadata["specs"])

    def feature_description(self) -> dict:
        """The ``tf.io.parse_example`` description of one record."""
        description = {"label": (tf.io.FixedLenFeature([len(self.class_names)], tf.float32)
                                 if self.multi_label else tf.io.FixedLenFeature([], tf.int64))}
        for modality in self.specs:
            description[modality] = tf.io.FixedLenFeature([], tf.string)
            description[presence_key(modality)] = tf.io.FixedLenFeature([], tf.float32)
        return description

    def values(self, modality: str) -> tf.data.Dataset:
        """The stored ``modality`` input of every example (raw for text: e.g. to adapt a
        vocabulary on the training split)."""
        description = {modality: tf.io.FixedLenFeature([], tf.string)}
        return tf.data.TFRecordDataset(list(self.shards)).map(
            lambda record: tf.io.parse_single_example(record, description)[modality])

    def texts(self) -> tf.data.Dataset:
        """The stored texts, e.g. to adapt a vocabulary on the training split."""
        return self.values("text")


def _serialize(features: dict, label, converters: dict) -> bytes:
    def bytes_feature(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    feature = {"label": (tf.train.Feature(float_list=tf.train.FloatList(value=label))
                         if np.ndim(label) else tf.train.Feature(int64_list=tf.train.Int64List(value=[label])))}
    for modality, converter in converters.items():
        feature[modality] = bytes_feature(converter.record_bytes(features[modality]))
        flag = presence_key(modality)
        feature[flag] = tf.train.Feature(float_list=tf.train.FloatList(value=[features[flag]]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def prepare(source: Source, preprocessor, directory, *, num_shards: int = 8,
            on_error: str = "raise") -> PreparedData:
    """Decode, resample and resize every example of ``source`` once, into ``num_shards`` TFRecords.

    Each modality is stored as its converter says (``record_bytes``): text as the raw
    string (the vocabulary is applied when reading, so it can be adapted later); images
    as uint8 pixels of the spec's size; audio as float32 waveforms of the spec's rate and
    length. Bad examples are raised or skipped per ``on_error``
    (see :class:`~mmzoo.data.DataError`), with a summary at the end.

    Example:
        >>> data = prepare(from_folder("stamps"), Preprocessor(image=ImageSpec()), "prepared")  # doctest: +SKIP
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    modalities = preprocessor.modalities
    names = [f"shard-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
    writers = [tf.io.TFRecordWriter(str(directory / name)) for name in names]
    report, count = BadDataReport(), 0
    try:
        for features, label in decoded_examples(source, preprocessor, on_error, report,
                                                f"preparing {directory}", raw_inputs=True):
            writers[count % num_shards].write(_serialize(features, label, preprocessor.converters))
            count += 1
    finally:
        for writer in writers:
            writer.close()
    metadata = {"class_names": list(source.class_names), "multi_label": source.multi_label,
                "num_examples": count, "shards": names, "report": report.summary(),
                "specs": {m: preprocessor.specs[m].get_config() for m in modalities}}
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=1))
    return dataclasses.replace(PreparedData.load(directory), report=report)

