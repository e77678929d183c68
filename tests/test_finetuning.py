"""Fine-tuning helpers: a new head keeps everything else; frozen weights stay put."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmzoo
from mmzoo.data.transforms import mark_absent
from mmzoo.finetuning import freeze_encoders, head_layers, replace_head, unfreeze_encoders
from tests.helpers import random_inputs


def snapshot(layers):
    return {w.path: keras.ops.convert_to_numpy(w).copy() for layer in layers for w in layer.weights}


@pytest.fixture
def pretrained():
    return mmzoo.create_model("gated_tiny", head_units=(8,), num_classes=4)


@pytest.mark.parametrize("keep_hidden_layers", [True, False])
def test_replace_head_keeps_every_non_head_weight_bit_identical(pretrained, keep_hidden_layers):
    body = [layer for layer in pretrained.layers if layer not in head_layers(pretrained)]
    before = snapshot(body)
    model = replace_head(pretrained, num_classes=7, keep_hidden_layers=keep_hidden_layers)
    assert model.output.shape == (None, 7)
    after = snapshot([model.get_layer(layer.name) for layer in body])
    assert before.keys() == after.keys()
    for path in before:
        np.testing.assert_array_equal(after[path], before[path], err_msg=path)
    kept = [layer.name for layer in model.layers if layer.name.startswith("head_dense")]
    assert kept == (["head_dense_0"] if keep_hidden_layers else [])


def test_frozen_encoders_are_unchanged_by_fit_while_the_rest_trains(pretrained):
    model = replace_head(pretrained, num_classes=3)
    freeze_encoders(model)
    encoders = [model.get_layer(f"{m}_encoder") for m in ("text", "image", "audio")]
    frozen_before = snapshot(encoders)
    head_before = snapshot(head_layers(model))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(random_inputs(model, batch_size=8), np.arange(8) % 3, epochs=3, verbose=0)
    frozen_after = snapshot(encoders)
    for path in frozen_before:  # batch-norm moving statistics included
        np.testing.assert_array_equal(frozen_after[path], frozen_before[path], err_msg=path)
    head_after = snapshot(head_layers(model))
    assert any(not np.array_equal(head_after[p], head_before[p]) for p in head_before)


def test_unfreezing_lets_encoders_train_again(pretrained):
    freeze_encoders(pretrained, ["image"])
    assert not pretrained.get_layer("image_encoder").trainable
    assert pretrained.get_layer("audio_encoder").trainable
    unfreeze_encoders(pretrained)
    assert all(pretrained.get_layer(f"{m}_encoder").trainable for m in ("text", "image", "audio"))


@pytest.mark.parametrize("batch_norm", [False, True])
def test_unfreezing_keeps_batch_norm_frozen_unless_asked(pretrained, batch_norm):
    freeze_encoders(pretrained)
    unfreeze_encoders(pretrained, ["image", "audio"], batch_norm=batch_norm)
    layers = {layer.name: layer for m in ("image", "audio")
              for layer in pretrained.get_layer(f"{m}_encoder").layers}
    norms = [layer for layer in layers.values()
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.trainable == batch_norm for layer in norms)
    assert layers["image_conv0"].trainable and layers["audio_conv0"].trainable
    assert not pretrained.get_layer("text_encoder").trainable


def test_unknown_modalities_are_named(pretrained):
    model = mmzoo.create_model("concat_tiny", modalities=("image",))
    with pytest.raises(ValueError, match=r"modalities \['audio'\] are not in model"):
        freeze_encoders(model, ["audio"])


def test_training_with_only_some_modalities_marks_the_others_absent(pretrained):
    inputs = random_inputs(pretrained, batch_size=4)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, np.zeros(4, int))).batch(4)
    features, _ = next(iter(mark_absent(dataset, ["audio", "text"])))
    np.testing.assert_array_equal(features["audio_present"], 0.0)
    np.testing.assert_array_equal(features["text_present"], 0.0)
    np.testing.assert_array_equal(features["image_present"], 1.0)
    with pytest.raises(ValueError, match="the dataset has no 'video_present'"):
        mark_absent(dataset, ["video"])
