"""load_preset: one verification, a Preset's parts, new heads by rebuild, old layouts migrated."""

import json

import keras
import numpy as np
import pytest

import mmzoo
from mmzoo.finetuning import replace_head
from mmzoo.models import MultimodalClassifier
from mmzoo.zoo import Preset, from_preset, load_preset, migrate_preset, save_to_preset
from mmzoo.zoo import preset as preset_module
from tests.helpers import random_inputs
from tests.zoo.conftest import CLASS_NAMES, ZOO_METADATA, tiny_preprocessor

IMAGE = mmzoo.ImageSpec(16, 16, 1)
AUDIO = mmzoo.AudioSpec(sample_rate=8000, clip_seconds=0.5, num_mel_bins=16, fft_length=256,
                        hop_length=128)
#: A small model with a hidden head layer (the tiny preset's head has none).
HEADED = {"image": IMAGE, "audio": AUDIO, "fusion": {"name": "gated", "units": 8},
          "encoders": {"image": {"width": 4}, "audio": {"width": 4}}, "embedding_dim": 8,
          "head_units": (8,), "dropout": 0.1, "num_classes": 3, "name": "headed"}


def predict(model, inputs):
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def weights_of(layer):
    return [keras.ops.convert_to_numpy(w) for w in layer.weights]


@pytest.fixture(scope="module")
def headed(tmp_path_factory):
    """A saved preset of :data:`HEADED`: ``(model, folder)``."""
    model = mmzoo.build_classifier(**HEADED)
    folder = save_to_preset(model, tmp_path_factory.mktemp("presets") / "headed",
                            class_names=["a", "b", "c"], metadata=ZOO_METADATA)
    return model, folder


@pytest.fixture(scope="module")
def old_layout(tmp_path_factory, headed):
    """The headed preset as saved before the builder arguments: a Functional config.json."""
    model, _ = headed
    graph = keras.Model(model.input, model.output, name=model.name)
    folder = save_to_preset(graph, tmp_path_factory.mktemp("old") / "headed",
                            class_names=["a", "b", "c"], metadata=ZOO_METADATA)
    assert json.loads((folder / "config.json").read_text())["class_name"] == "Functional"
    return folder


def test_load_preset_verifies_every_file_once(saved, monkeypatch):
    _, folder, inputs = saved
    checked = []
    verify_file = preset_module.verify_file
    monkeypatch.setattr(preset_module, "verify_file",
                        lambda path, *args: checked.append(path.name) or verify_file(path, *args))
    preset = load_preset(folder)
    assert sorted(checked) == ["config.json", "model.weights.h5", "preprocessor.json"]
    preset.model(), preset.model(num_classes=7), preset.preprocessor, preset.info
    assert len(checked) == 3  # nothing is checked again
    from_preset(folder)  # a wrapper is one load_preset
    assert len(checked) == 6


def test_a_preset_gives_its_model_preprocessor_class_names_and_metadata(saved):
    model, folder, inputs = saved
    preset = mmzoo.load_preset(folder)  # the lazy top-level name
    assert isinstance(preset, mmzoo.Preset) and mmzoo.Preset is Preset
    assert preset.folder == folder
    assert preset.info == json.loads((folder / "metadata.json").read_text())
    assert preset.class_names == CLASS_NAMES
    assert preset.preprocessor.specs == tiny_preprocessor().specs
    np.testing.assert_array_equal(predict(preset.model(), inputs), predict(model, inputs))
    assert preset.model() is not preset.model()  # a new instance each time


def test_config_json_holds_the_builder_arguments(saved):
    _, folder, _ = saved
    config = json.loads((folder / "config.json").read_text())
    assert config["class_name"] == "MultimodalClassifier"
    reference = mmzoo.create_model("concat_tiny").get_config()
    assert config["config"] == json.loads(json.dumps(reference))


def test_a_new_head_is_a_rebuild_with_the_preset_weights_outside_it(headed):
    model, folder = headed
    new = load_preset(folder).model(num_classes=5)
    assert isinstance(new, MultimodalClassifier)
    assert new.get_config() == {**model.get_config(), "num_classes": 5}
    for layer in model.layers:
        if layer.name not in ("logits", "predictions"):  # encoders, fusion, hidden head layers
            for original, loaded in zip(weights_of(layer), weights_of(new.get_layer(layer.name)),
                                        strict=True):
                np.testing.assert_array_equal(loaded, original, err_msg=layer.name)
    assert new.get_layer("logits").kernel.shape == (8, 5)
    # The same layers, by name and kind, as replacing the head of the loaded model.
    replaced = replace_head(load_preset(folder).model(), 5)
    assert [(layer.name, type(layer)) for layer in new.layers] == [
        (layer.name, type(layer)) for layer in replaced.layers]


def test_a_new_head_without_hidden_layers_and_a_binary_one(headed):
    model, folder = headed
    preset = load_preset(folder)
    bare = preset.model(num_classes=2, keep_hidden_layers=False)
    names = [layer.name for layer in bare.layers]
    assert not [name for name in names if name.startswith("head_")]
    assert names == [layer.name for layer in replace_head(preset.model(), 2,
                                                          keep_hidden_layers=False).layers]
    for original, loaded in zip(weights_of(model.get_layer("fusion")),
                                weights_of(bare.get_layer("fusion")), strict=True):
        np.testing.assert_array_equal(loaded, original)
    binary = preset.model(task="binary")
    assert binary.output.shape == (None, 1)
    assert mmzoo.models.task_of(binary) == "binary"


def test_an_old_layout_folder_loads_and_gets_a_new_head(headed, old_layout):
    model, _ = headed
    inputs = random_inputs(model)
    old = load_preset(old_layout).model()
    assert not isinstance(old, MultimodalClassifier)
    np.testing.assert_array_equal(predict(old, inputs), predict(model, inputs))
    new = load_preset(old_layout).model(num_classes=5)
    assert new.output.shape == (None, 5)
    for original, loaded in zip(weights_of(model.get_layer("image_encoder")),
                                weights_of(new.get_layer("image_encoder")), strict=True):
        np.testing.assert_array_equal(loaded, original)


def test_migrate_preset_rewrites_an_old_layout_folder(headed, old_layout, tmp_path):
    model, _ = headed
    migrated = migrate_preset(old_layout, tmp_path / "new", builder_args=HEADED)
    config = json.loads((migrated / "config.json").read_text())
    assert config["class_name"] == "MultimodalClassifier"
    preset = load_preset(migrated)  # verifies every file against the new metadata
    inputs = random_inputs(model)
    np.testing.assert_allclose(predict(preset.model(), inputs), predict(model, inputs), atol=1e-6)
    old_info = load_preset(old_layout).info
    assert {k: v for k, v in preset.info.items() if k not in ("files", "sizes")} == {
        k: v for k, v in old_info.items() if k not in ("files", "sizes")}
    with pytest.raises(ValueError, match="nothing to migrate"):
        migrate_preset(migrated, tmp_path / "again")


def test_migrate_preset_refuses_builder_arguments_of_another_graph(old_layout, tmp_path):
    with pytest.raises(ValueError, match=r"builder_args=\) do not build the graph of"):
        migrate_preset(old_layout, tmp_path / "new", builder_args={**HEADED, "head_units": (4,)})
    with pytest.raises(ValueError, match=r"names no committed recipe \(recipe='none'\)"):
        migrate_preset(old_layout, tmp_path / "new")
    assert not (tmp_path / "new").exists()
