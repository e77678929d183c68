"""The shipped presets: each loads offline and documents itself; with the real data, each
re-evaluates on its test split to the metrics it records, and fine-tuning one beats training
from scratch."""

from __future__ import annotations

import functools
import json

import keras
import numpy as np
import pytest

import mmzoo
from benchmarks import finetune_avmnist
from mmzoo import recipes
from mmzoo.zoo.preset import ZOO_METADATA, preset_info
from mmzoo.zoo.registry import CHECKPOINTS_DIR, preset_entry
from tests.datasets.prepared import build
from tests.helpers import random_inputs

SHIPPED = mmzoo.list_presets()
MAX_WEIGHTS_BYTES = 5 * 2**20


def test_every_recipe_has_a_shipped_preset_and_back():
    assert SHIPPED == recipes.recipe_names()
    assert len(mmzoo.list_presets("*avmnist")) >= 2
    assert len(mmzoo.list_presets("*stamps")) >= 2


@pytest.mark.parametrize("dataset", ["avmnist", "stamps"])
def test_each_dataset_has_presets_with_different_fusions(dataset):
    fusions = {preset_info(name)["fusion"]["name"] for name in mmzoo.list_presets(f"*{dataset}")}
    assert len(fusions) >= 2


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_loads_offline_and_predicts(name):
    entry = preset_entry(name)
    assert entry["path"] == name
    model = mmzoo.from_preset(name)  # every file is checked against its sha256 on load
    info = preset_info(name)
    assert model.output.shape[-1] == len(info["class_names"])
    assert info["parameter_count"] == model.count_params()
    preprocessor = mmzoo.load_preprocessor(name)
    assert preprocessor.modalities == tuple(info["modalities"])
    probabilities = model.predict(random_inputs(model, batch_size=2), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_loads_by_load_preset_and_migrates_with_identical_predictions(name, tmp_path):
    folder = CHECKPOINTS_DIR / name
    # The path from_preset took before load_preset: the Functional config.json, its weights.
    reference = keras.saving.deserialize_keras_object(
        json.loads((folder / "config.json").read_text(encoding="utf-8")))
    reference.load_weights(folder / "model.weights.h5")
    inputs = random_inputs(reference, batch_size=3)
    expected = keras.ops.convert_to_numpy(reference(inputs, training=False))

    def predict(model):
        return keras.ops.convert_to_numpy(model(inputs, training=False))

    preset = mmzoo.load_preset(name)
    assert preset.folder == folder
    np.testing.assert_array_equal(predict(preset.model()), expected)
    np.testing.assert_array_equal(predict(mmzoo.from_preset(name)), expected)

    migrated = mmzoo.load_preset(mmzoo.migrate_preset(name, tmp_path / name))  # re-verified
    config = json.loads((migrated.folder / "config.json").read_text(encoding="utf-8"))
    assert config["class_name"] == "MultimodalClassifier"
    np.testing.assert_allclose(predict(migrated.model()), expected, atol=1e-6)
    assert migrated.preprocessor.specs == preset.preprocessor.specs
    assert migrated.info["metrics"] == preset.info["metrics"]
    new_head = migrated.model(num_classes=3)
    for layer in reference.layers:
        if layer.name.endswith("_encoder") or layer.name == "fusion":
            for original, loaded in zip(layer.weights, new_head.get_layer(layer.name).weights,
                                        strict=True):
                np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded),
                                              keras.ops.convert_to_numpy(original))


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_documents_its_provenance(name):
    info = preset_info(name)
    assert set(ZOO_METADATA) <= set(info)
    recipe = recipes.load_recipe(name)
    # Recorded when trained: mmzoo/zoo/recipes/ then, mmzoo/recipes/ since the recipes moved.
    assert info["recipe"] in (f"mmzoo/zoo/recipes/{name}.yaml", f"mmzoo/recipes/{name}.yaml")
    assert info["dataset"] == recipe.data["tfds"]
    assert info["license"] == recipe.license and info["attribution"] == recipe.attribution
    assert info["training"]["deterministic"] and info["training"]["seed"] == recipe.train["seed"]
    metrics = info["metrics"]
    assert set(metrics["unimodal"]) == set(recipe.baselines)
    assert set(metrics["ablation"]) == {"none", *recipe.modalities}
    assert metrics["ablation"]["none"] == {k: metrics[k] for k in recipes.RECORDED_METRICS}


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_is_small(name):
    assert (CHECKPOINTS_DIR / name / "model.weights.h5").stat().st_size <= MAX_WEIGHTS_BYTES


@pytest.mark.parametrize("name", SHIPPED)
def test_fused_model_beats_every_unimodal_baseline(name):
    metrics = preset_info(name)["metrics"]
    for baseline in metrics["unimodal"].values():
        assert metrics["accuracy"] > baseline["accuracy"]
        assert metrics["macro_f1"] > baseline["macro_f1"]


@pytest.fixture(scope="module")
def builder_of(tmp_path_factory, data_dir):
    """``builder_of(dataset)``: its TFDS build, made once per run (the dataset tests' build)."""
    return functools.cache(lambda dataset: build(tmp_path_factory, dataset))


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_preset_reevaluates_to_its_recorded_test_metrics(name, builder_of):
    info = preset_info(name)
    measured = recipes.evaluate_preset(name, builder_of(info["dataset"]))
    for metric in recipes.RECORDED_METRICS:
        assert measured[metric] == pytest.approx(info["metrics"][metric],
                                                 abs=recipes.TOLERANCE["reevaluation"])


@pytest.mark.data
@pytest.mark.slow
def test_finetuned_avmnist_preset_beats_the_same_model_from_scratch(builder_of):
    results = finetune_avmnist.compare("gated_lenet_avmnist", builder_of("avmnist"))
    for metric in ("accuracy", "macro_f1"):
        assert results["fine-tuned"][metric] > results["from scratch"][metric]
