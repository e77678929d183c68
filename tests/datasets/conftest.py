"""Fixtures shared by the dataset tests: each module names its TFDS dataset in ``DATASET``."""

import pytest

from tests.datasets.prepared import build, read_splits


@pytest.fixture(scope="module")
def builder(request, tmp_path_factory, data_dir):
    """The module's ``DATASET``, built once per module from ``$MMZOO_DATA_DIR``."""
    return build(tmp_path_factory, request.module.DATASET)


@pytest.fixture(scope="module")
def splits(builder):
    return read_splits(builder)
