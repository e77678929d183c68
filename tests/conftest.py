"""Shared fixtures: quiet TensorFlow, the real-data folder, deterministic seeds."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

DATA_DIR = pathlib.Path(
    os.environ.get("MMZOO_DATA_DIR", pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
).resolve()


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    """The real datasets; tests using it are skipped, with the reason, when absent."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real data not found at {DATA_DIR}: set $MMZOO_DATA_DIR to ../shared/data")
    return DATA_DIR
