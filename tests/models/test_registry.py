"""The timm-style registry: list_models, create_model with overrides, model_config."""

import pytest

import mmzoo
from mmzoo import ImageSpec
from mmzoo.models import model_config, register_model


def test_list_models_filters_with_shell_patterns():
    tiny = mmzoo.list_models("*_tiny")
    assert tiny and all(name.endswith("_tiny") for name in tiny)
    assert mmzoo.list_models("*attention*") == ["attention_small", "attention_tiny"]
    assert mmzoo.list_models() == sorted(mmzoo.list_models())


def test_create_model_applies_overrides():
    model = mmzoo.create_model("concat_tiny", image=ImageSpec(28, 28, 1), num_classes=10,
                               encoders={"image": {"kind": "resnet", "width": 4}}, name="mine")
    assert model.name == "mine"
    assert model.input["image"].shape == (None, 28, 28, 1)
    assert model.output.shape == (None, 10)
    assert model.get_layer("image_encoder").get_layer("image_stem_conv")
    # The other modalities keep the registered encoders.
    assert model.get_layer("audio_encoder").get_layer("audio_conv0")


def test_create_model_keeps_the_registered_config_intact():
    before = model_config("gated_tiny")
    mmzoo.create_model("gated_tiny", num_classes=7, encoders={"text": "bigru"})
    assert model_config("gated_tiny") == before


def test_unknown_model_and_bad_modalities():
    with pytest.raises(ValueError, match=r"model 'resnet50' is not registered; see mmzoo.list_models"):
        mmzoo.create_model("resnet50")
    with pytest.raises(ValueError, match=r"modalities=\('video',\) must be a non-empty subset"):
        mmzoo.create_model("concat_tiny", modalities=("video",))


def test_registering_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="'concat_tiny' is already registered"):
        register_model("concat_tiny", {})
