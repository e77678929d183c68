"""One run-config schema: ``mmzoo train --config`` files and the zoo's recipes read alike."""

from __future__ import annotations

import re

import pytest
import yaml

from mmzoo import cli, recipes
from mmzoo.run_config import RunConfig, RunConfigError

RUN = {"name": "r", "modalities": ["image"], "data": {"train": "train.csv"},
       "model": {"architecture": "concat_tiny", "specs": {"image": {"height": 16}}},
       "train": {"epochs": 2}}


@pytest.mark.parametrize("name", recipes.recipe_names())
def test_every_recipe_is_a_run_config_of_a_tfds_dataset(name):
    path = recipes.RECIPES_DIR / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    recipe = recipes.load_recipe(name)
    assert recipe == RunConfig.load(path)
    assert recipe.data["tfds"] == raw["data"]["tfds"]
    assert recipe.modalities == tuple(raw["modalities"])
    assert recipe.train_config(output_dir="x").seed == raw["train"]["seed"]
    with pytest.raises(cli.UsageError, match=rf"config .*{name}.yaml: data names a TFDS dataset "
                                             r".*python -m mmzoo.recipes"):
        cli.load_run_config(path)


def test_a_train_config_file_loads_as_written(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(RUN), encoding="utf-8")
    config = cli.load_run_config(path)
    assert (config.name, config.modalities, config.data, config.model) == (
        "r", ("image",), RUN["data"], RUN["model"])
    assert config.train_config(output_dir="out").epochs == 2
    assert config.baselines == () and config.license is None


@pytest.mark.parametrize("change, message", [
    ({"baselines": ["audio"]}, r"baselines \['audio'\] are not among the modalities"),
    ({"data": {"tfds": "stamps", "csv": "x"}}, r"data.csv is unknown"),
    ({"data": {}}, r"data needs a 'train' entry"),
])
def test_mistakes_name_the_file_and_key(tmp_path, change, message):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**RUN, **change}), encoding="utf-8")
    with pytest.raises(RunConfigError, match=rf"config {re.escape(str(path))}: {message}"):
        RunConfig.load(path)


def test_a_bad_train_field_is_named(tmp_path):
    config = RunConfig.from_dict({**RUN, "train": {"epochs": 0}}, "run.yaml")
    with pytest.raises(RunConfigError, match=r"config run.yaml: train: TrainConfig.epochs=0"):
        config.train_config()
