"""Helpers for the real-data tests: build each TFDS dataset once per run, read it back."""

from __future__ import annotations

import numpy as np
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


def record_bytes(builder: tfds.core.DatasetBuilder) -> dict[str, bytes]:
    """The bytes of every record file of a prepared builder, by file name."""
    return {path.name: path.read_bytes() for path in sorted(builder.data_path.glob("*.tfrecord*"))}


def _stack(values: list) -> np.ndarray:
    if isinstance(values[0], bytes):
        return np.array([value.decode() for value in values])
    if len({np.shape(value) for value in values}) == 1:
        return np.stack(values)
    stacked = np.empty(len(values), dtype=object)
    stacked[:] = values
    return stacked
