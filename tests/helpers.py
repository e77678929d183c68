"""Test helpers shared across the suite: random model inputs and labels."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib

import numpy as np

from mmzoo.specs import MODALITIES, presence_key


def vocabulary_size(model) -> int:
    return model.get_layer("text_encoder").get_layer("text_token_embedding").input_dim


def random_inputs(model, batch_size=4, seed=0, absent=()):
    """Valid random inputs for every input of ``model``; modalities in ``absent`` flagged 0.

    Token ids avoid 0 (padding), so every text is non-empty.
    """
    rng = np.random.default_rng(seed)
    inputs = {}
    for tensor in model.inputs:
        name, shape = tensor.name, (batch_size, *tensor.shape[1:])
        if name == "text":
            inputs[name] = rng.integers(2, vocabulary_size(model), shape).astype("int32")
        elif name == "image":
            inputs[name] = rng.uniform(0, 255, shape).astype("float32")
        elif name == "audio":
            inputs[name] = rng.uniform(-1, 1, shape).astype("float32")
        else:
            modality = name.removesuffix("_present")
            inputs[name] = np.full(shape, 0.0 if modality in absent else 1.0, "float32")
    return inputs


def model_modalities(model) -> list[str]:
    return [m for m in MODALITIES if m in model.input]


def garbage_like(inputs, modality, seed=1):
    """``inputs`` with one modality replaced by different random values of its dtype."""
    rng = np.random.default_rng(seed)
    value = inputs[modality]
    if value.dtype.kind == "i":
        garbage = rng.integers(0, 100, value.shape).astype(value.dtype)
    else:
        garbage = rng.normal(0, 1000, value.shape).astype(value.dtype)
    return {**inputs, modality: garbage, presence_key(modality): inputs[presence_key(modality)]}


@contextlib.contextmanager
def shared_by_workers(tmp_path_factory, name: str):
    """A path shared by the run's pytest-xdist workers, with a file lock held meanwhile,
    so that one worker makes what it holds and the others wait and reuse it.

    Example:
        >>> with shared_by_workers(tmp_path_factory, "tfds-avmnist") as data_dir:  # doctest: +SKIP
        ...     build_into(data_dir)  # doctest: +SKIP
    """
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield pathlib.Path(root / name)
