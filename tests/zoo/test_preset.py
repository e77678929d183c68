"""Preset folders: save, load back identically, new heads, and clear errors."""

import hashlib
import json
import os
import stat

import keras
import numpy as np
import pytest

import mmzoo
from mmzoo.finetuning import head_layers
from mmzoo.zoo import (
    ChecksumError,
    from_preset,
    list_presets,
    load_preprocessor,
    preset_info,
    register_preset,
    registry_entry,
    save_to_preset,
)
from mmzoo.zoo import preset as preset_module
from tests.helpers import random_inputs
from tests.zoo.conftest import CLASS_NAMES, ZOO_METADATA, files_under, tiny_preprocessor


def predict(model, inputs):
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_preset_loads_back_into_a_model_with_identical_outputs(saved):
    model, folder, inputs = saved
    np.testing.assert_array_equal(predict(from_preset(folder), inputs), predict(model, inputs))


def test_preprocessor_and_metadata_come_back(saved):
    _, folder, _ = saved
    assert load_preprocessor(folder).specs == tiny_preprocessor().specs  # vocabulary included
    info = preset_info(folder)
    assert info["class_names"] == CLASS_NAMES
    assert info["task"] == "multiclass"
    assert info["name"] == "tiny"
    assert {k: info[k] for k in ZOO_METADATA} == ZOO_METADATA
    assert info["mmzoo_version"] == mmzoo.__version__


def test_folder_layout_and_recorded_hashes(saved):
    model, folder, _ = saved
    assert files_under(folder) == ["config.json", "metadata.json", "model.weights.h5",
                                   "preprocessor.json"]
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["files"] == {name: sha256(folder / name)
                                 for name in ("config.json", "model.weights.h5", "preprocessor.json")}
    assert metadata["sizes"] == {name: len((folder / name).read_bytes()) for name in metadata["files"]}
    assert metadata["parameter_count"] == sum(int(np.prod(w.shape)) for w in model.weights)
    assert list(folder.parent.iterdir()) == [folder]  # no staging folder left behind


def test_a_saved_preset_folder_has_the_usual_permissions(saved):
    """Staged in a private mkdtemp folder, it must not stay readable by its owner only."""
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(saved[1].stat().st_mode) == 0o777 & ~mask


def test_a_new_num_classes_keeps_every_non_head_weight_bit_for_bit(saved):
    model, folder, inputs = saved
    fine_tuned = from_preset(folder, num_classes=7)
    assert fine_tuned.output.shape == (None, 7)
    assert fine_tuned.get_layer("logits").kernel.shape[-1] == 7
    body = [layer for layer in model.layers if layer not in head_layers(model)]
    assert body, "the preset model has layers outside its head"
    for layer in body:
        for original, loaded in zip(layer.weights, fine_tuned.get_layer(layer.name).weights,
                                    strict=True):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded),
                                          keras.ops.convert_to_numpy(original), err_msg=original.path)
    assert predict(fine_tuned, inputs).shape == (4, 7)


def test_a_new_task_gets_a_new_head_with_its_activation(saved):
    _, folder, inputs = saved
    multilabel = from_preset(folder, task="multilabel")
    predictions = predict(multilabel, inputs)
    assert predictions.shape == (4, len(CLASS_NAMES))
    assert not np.allclose(predictions.sum(axis=1), 1.0)  # sigmoids, not a softmax


def test_a_model_with_a_custom_encoder_round_trips(tmp_path):
    image = mmzoo.ImageSpec(16, 16, 1)
    x = image.keras_input()
    encoder = keras.Model(x, keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(3, 3)(x)),
                          name="my_image_encoder")
    model = mmzoo.build_classifier(image=image, encoders={"image": encoder}, num_classes=1,
                                   task="binary")
    folder = save_to_preset(model, tmp_path / "custom", class_names=["no", "yes"])
    assert preset_info(folder)["task"] == "binary"
    inputs = random_inputs(model)
    np.testing.assert_array_equal(predict(from_preset(folder), inputs), predict(model, inputs))


def test_saving_never_clobbers_an_existing_preset_unless_asked(saved, preset_copy):
    model, _, inputs = saved
    before = {name: sha256(preset_copy / name) for name in files_under(preset_copy)}
    other = mmzoo.create_model("concat_tiny")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_to_preset(other, preset_copy, class_names=CLASS_NAMES)
    assert {name: sha256(preset_copy / name) for name in files_under(preset_copy)} == before
    save_to_preset(other, preset_copy, class_names=CLASS_NAMES, overwrite=True)
    assert files_under(preset_copy.parent) == [f"tiny/{n}" for n in
                                               ("config.json", "metadata.json", "model.weights.h5")]
    np.testing.assert_array_equal(predict(from_preset(preset_copy), inputs), predict(other, inputs))


@pytest.mark.parametrize("kwargs, error", [
    ({"class_names": ["a", "b"]}, r"class_names has 2 names but the multiclass model .* needs 4"),
    ({"preprocessor": mmzoo.preprocessing.Preprocessor(image=mmzoo.ImageSpec(8, 8, 1))},
     r"the preprocessor makes \{'image': \(8, 8, 1\)\} but model"),
    ({"preprocessor": mmzoo.preprocessing.Preprocessor(**{
        m: s for m, s in mmzoo.models.model_config("concat_tiny").items()
        if m in ("text", "image", "audio")})}, "adapt it on the training texts"),
    ({"metadata": {"files": {}}}, r"metadata=\['files'\] are written by save_to_preset"),
    ({"task": "regression"}, r"task='regression' is unknown"),
])
def test_save_checks_its_arguments(saved, tmp_path, kwargs, error):
    kwargs = {"class_names": CLASS_NAMES, **kwargs}
    with pytest.raises(ValueError, match=error):
        save_to_preset(saved[0], tmp_path / "bad", **kwargs)
    assert files_under(tmp_path) == []


def test_the_task_of_a_logits_model_must_be_given(tmp_path):
    model = mmzoo.create_model("concat_tiny", classifier_activation=None)
    with pytest.raises(ValueError, match="pass task="):
        save_to_preset(model, tmp_path / "logits", class_names=CLASS_NAMES)


def test_a_missing_file_is_named(preset_copy):
    (preset_copy / "model.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks \['model.weights.h5'\]"):
        from_preset(preset_copy)


def test_a_folder_without_metadata_is_not_a_preset(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a preset folder: it has no metadata.json"):
        from_preset(tmp_path)


def test_corrupt_metadata_json_is_named(preset_copy):
    (preset_copy / "metadata.json").write_text('{"class_names": [')
    with pytest.raises(ValueError, match=r"metadata.json is not valid JSON"):
        from_preset(preset_copy)


def test_a_changed_file_fails_its_hash_check_naming_both_hashes(preset_copy):
    config = preset_copy / "config.json"
    expected = sha256(config)
    config.write_text(config.read_text().replace("concat_tiny", "concat_tinz"))
    with pytest.raises(ChecksumError) as error:
        from_preset(preset_copy)
    assert str(config) in str(error.value)
    assert f"has sha256 {sha256(config)}, expected {expected}" in str(error.value)


def test_load_preprocessor_of_a_preset_saved_without_one(saved, tmp_path):
    folder = save_to_preset(saved[0], tmp_path / "bare", class_names=CLASS_NAMES)
    with pytest.raises(ValueError, match="saved without a preprocessor"):
        load_preprocessor(folder)


def test_registered_names_are_listed_and_unknown_names_get_a_hint(saved):
    entry = registry_entry(saved[1], path="tiny")
    register_preset("tiny_demo", **entry)
    register_preset("other_demo", **entry)
    assert list_presets("*_demo") == ["other_demo", "tiny_demo"]
    assert list_presets("tiny*") == ["tiny_demo"]
    assert preset_info("tiny_demo")["class_names"] == CLASS_NAMES
    with pytest.raises(ValueError, match=r"already registered"):
        register_preset("tiny_demo", **entry)
    with pytest.raises(ValueError, match=r"Did you mean \['tiny_demo'\]\?.*mmzoo.list_presets"):
        from_preset("tiny_dem")


def test_registry_entry_hashes_every_file_and_needs_zoo_metadata(saved, tmp_path):
    model, folder, _ = saved
    entry = registry_entry(folder, url="https://example.org/tiny")
    assert entry["url"] == "https://example.org/tiny"
    assert entry["files"] == {name: sha256(folder / name) for name in files_under(folder)}
    assert entry["metadata"] == json.loads((folder / "metadata.json").read_text())
    undocumented = save_to_preset(model, tmp_path / "undocumented", class_names=CLASS_NAMES)
    with pytest.raises(ValueError, match=r"does not document \['description', 'dataset'"):
        registry_entry(undocumented, path="undocumented")


@pytest.mark.parametrize("kwargs, error", [
    ({}, "exactly one of url= .* and path="),
    ({"url": "ftp://example.org/x"}, "must start with file://, http:// or https://"),
    ({"path": "x", "files": {"config.json": "0" * 64}}, r"lacks \['model.weights.h5', 'metadata.json'\]"),
    ({"path": "x", "files": dict.fromkeys(["config.json", "model.weights.h5", "metadata.json"],
                                          "ABC")}, "not lowercase hex sha256"),
])
def test_register_preset_checks_its_entry(kwargs, error):
    kwargs = {"files": dict.fromkeys(["config.json", "model.weights.h5", "metadata.json"], "0" * 64),
              "metadata": {}, **kwargs}
    with pytest.raises(ValueError, match=error):
        register_preset("bad", **kwargs)


def test_a_preset_shipped_in_the_package_loads_in_place_and_is_verified(saved, preset_copy,
                                                                        monkeypatch, mmzoo_home):
    model, _, inputs = saved
    monkeypatch.setattr(preset_module, "CHECKPOINTS_DIR", preset_copy.parent)
    register_preset("shipped", **registry_entry(preset_copy, path="tiny"))
    np.testing.assert_array_equal(predict(from_preset("shipped"), inputs), predict(model, inputs))
    assert files_under(mmzoo_home) == []  # nothing copied into the cache
    with open(preset_copy / "model.weights.h5", "r+b") as weights:
        weights.seek(-8, 2)
        weights.write(b"\0" * 8)
    with pytest.raises(ChecksumError, match="model.weights.h5 has sha256 .* reinstall"):
        from_preset("shipped")
