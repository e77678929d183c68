"""Zoo fixtures: a cache in tmp_path, a registry restored after each test, a tiny preset."""

import pathlib
import shutil

import pytest

import mmzoo
from mmzoo.preprocessing import Preprocessor
from mmzoo.zoo import registry, save_to_preset
from tests.helpers import random_inputs

CLASS_NAMES = ["bird", "cat", "dog", "frog"]
ZOO_METADATA = {"description": "concat_tiny on random inputs, for tests", "dataset": "none",
                "split": "train", "recipe": "none", "metrics": {"accuracy": 0.25},
                "license": "CC0-1.0", "attribution": "the mmzoo tests"}


@pytest.fixture(autouse=True)
def mmzoo_home(tmp_path, monkeypatch) -> pathlib.Path:
    """``$MMZOO_HOME`` in the test's tmp_path (created on first download)."""
    home = tmp_path / "mmzoo_home"
    monkeypatch.setenv("MMZOO_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _isolated_registry(monkeypatch):
    monkeypatch.setattr(registry, "_PRESETS", dict(registry._PRESETS))


def files_under(folder: pathlib.Path) -> list[str]:
    """Every file below ``folder`` (hidden temporary files included), relative, sorted."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def tiny_preprocessor() -> Preprocessor:
    specs = mmzoo.models.model_config("concat_tiny")
    return Preprocessor(text=specs["text"], image=specs["image"], audio=specs["audio"]).adapt(
        ["a red frog", "a black cat", "the dog barks"])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny preset saved once per module: ``(model, folder, inputs)``; copy before altering."""
    model = mmzoo.create_model("concat_tiny")
    folder = save_to_preset(model, tmp_path_factory.mktemp("presets") / "tiny",
                            class_names=CLASS_NAMES, preprocessor=tiny_preprocessor(),
                            metadata=ZOO_METADATA)
    return model, folder, random_inputs(model)


@pytest.fixture
def preset_copy(saved, tmp_path) -> pathlib.Path:
    """A copy of the saved preset that a test may alter."""
    return pathlib.Path(shutil.copytree(saved[1], tmp_path / "copy" / "tiny"))
