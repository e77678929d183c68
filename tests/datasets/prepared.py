"""Helpers for the real-data tests: build each TFDS dataset once per run, read it back."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

import mmzoo.datasets  # noqa: F401  (registers the builders)
from tests.helpers import shared_by_workers


def build(tmp_path_factory, name: str, copy: str = "a") -> tfds.core.DatasetBuilder:
    """``tfds.builder(name)`` prepared in a temporary data dir, with the default manual dir.

    Under xdist the dir is shared by the run's workers and a file lock makes one build it.
    """
    with shared_by_workers(tmp_path_factory, f"tfds-{name}-{copy}") as data_dir:
        builder = tfds.builder(name, data_dir=data_dir)
        builder.download_and_prepare()
    return builder


def read_splits(builder: tfds.core.DatasetBuilder) -> dict[str, dict[str, np.ndarray]]:
    """Every split as {feature: array over its examples}; strings decoded, ragged as objects."""
    splits = {}
    for split in builder.info.splits:
        examples = list(tfds.as_numpy(builder.as_dataset(split=split)))
        splits[split] = {key: _stack([example[key] for example in examples])
                         for key in examples[0]}
    return splits


def record_examples(builder: tfds.core.DatasetBuilder) -> dict[str, list[tf.train.Example]]:
    """Every record of a prepared builder as a ``tf.train.Example``, by file name.

    Compared as protos, not bytes: protobuf serializes the feature map in an order that
    depends on the process's hash seed, so two processes write the same examples in
    different bytes.
    """
    return {path.name: [tf.train.Example.FromString(record.numpy())
                        for record in tf.data.TFRecordDataset(str(path))]
            for path in sorted(builder.data_path.glob("*.tfrecord*"))}


def _stack(values: list) -> np.ndarray:
    if isinstance(values[0], bytes):
        return np.array([value.decode() for value in values])
    if len({np.shape(value) for value in values}) == 1:
        return np.stack(values)
    stacked = np.empty(len(values), dtype=object)
    stacked[:] = values
    return stacked
