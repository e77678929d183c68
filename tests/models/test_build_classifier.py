"""build_classifier: heads, subsets of modalities, the seed documents' models, bad arguments."""

import json

import keras
import numpy as np
import pytest

import mmzoo
from mmzoo import AudioSpec, ImageSpec, TextSpec, build_classifier
from tests.helpers import random_inputs

TEXT = TextSpec(vocabulary_size=60, sequence_length=8)
IMAGE = ImageSpec(28, 28, 1)
AUDIO = AudioSpec(sample_rate=8000, clip_seconds=0.5, num_mel_bins=32, fft_length=256,
                  hop_length=128)
TINY = {"text": {"width": 8}, "image": {"width": 4}, "audio": {"width": 4}}


def tiny(**kwargs):
    kwargs.setdefault("encoders", {m: TINY[m] for m in ("text", "image", "audio") if kwargs.get(m)})
    kwargs.setdefault("embedding_dim", 8)
    return build_classifier(**kwargs)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def fit_one_epoch(model, loss, labels):
    model.compile("adam", loss)
    inputs = random_inputs(model, batch_size=len(labels))
    history = model.fit(inputs, labels, epochs=2, verbose=0).history["loss"]
    assert np.isfinite(history).all()


# The seed documents' example models, expressed with the builders.

def test_seed_a_text_and_image_concatenated_dense_sigmoid_binary():
    model = tiny(text=TEXT, image=IMAGE, fusion="concat", task="binary", head_units=(16,))
    assert model.output.shape == (None, 1)
    assert model.get_layer("predictions").activation.__name__ == "sigmoid"
    fit_one_epoch(model, "binary_crossentropy", np.array([0, 1, 1, 0], "float32"))


def test_seed_b_image_cnn_and_text_bigru_in_one_model():
    """The seeds' broken ``Sequential([image_model, text_model])``, done right."""
    model = tiny(image=IMAGE, text=TEXT, encoders={"image": {"kind": "lenet", "width": 4},
                                                   "text": {"kind": "bigru", "width": 8}},
                 num_classes=3)
    assert isinstance(model.get_layer("text_encoder").get_layer("text_bigru_0"),
                      keras.layers.Bidirectional)
    fit_one_epoch(model, "sparse_categorical_crossentropy", np.array([0, 1, 2, 1]))


def test_seed_c_image_cnn_text_lstm_audio_cnn_concatenated_softmax():
    model = tiny(text=TEXT, image=IMAGE, audio=AUDIO,
                 encoders={"text": {"kind": "bilstm", "width": 8}, "image": {"width": 4},
                           "audio": {"width": 4}}, fusion="concat", num_classes=5)
    assert model.get_layer("predictions").activation.__name__ == "softmax"
    fit_one_epoch(model, "sparse_categorical_crossentropy", np.array([0, 4, 2, 1]))


def test_seed_d_text_and_image_fused_by_multi_head_attention():
    model = tiny(text=TEXT, image=IMAGE, fusion={"name": "transformer", "units": 8, "num_heads": 2},
                 num_classes=3)
    block = model.get_layer("fusion").blocks[0]
    assert isinstance(block.attention, keras.layers.MultiHeadAttention)
    assert block.attention.num_heads == 2
    fit_one_epoch(model, "sparse_categorical_crossentropy", np.array([0, 1, 2, 1]))


# Heads.

def test_multilabel_head_is_independent_sigmoids():
    model = tiny(image=IMAGE, audio=AUDIO, task="multilabel", num_classes=4)
    out = numpy(model(random_inputs(model), training=False))
    assert out.shape == (4, 4) and not np.allclose(out.sum(axis=1), 1.0)
    fit_one_epoch(model, "binary_crossentropy", np.eye(4, dtype="float32"))


def test_logits_head_with_classifier_activation_none():
    logits_model = tiny(image=IMAGE, num_classes=3, classifier_activation=None)
    softmax_model = tiny(image=IMAGE, num_classes=3)
    softmax_model.set_weights(logits_model.get_weights())
    inputs = random_inputs(logits_model)
    np.testing.assert_allclose(numpy(keras.ops.softmax(logits_model(inputs))),
                               numpy(softmax_model(inputs)), rtol=1e-5)


def test_include_top_false_returns_the_fused_features():
    model = tiny(text=TEXT, image=IMAGE, include_top=False, head_units=(32,))
    assert model.output.shape == (None, 16)  # two 8-d embeddings, concatenated
    assert "predictions" not in [layer.name for layer in model.layers]


def test_max_pooling_reaches_the_encoders():
    model = tiny(text=TEXT, image=IMAGE, num_classes=2, pooling="max")
    assert model.get_layer("image_encoder").get_layer("image_max_pool")
    assert model.get_layer("text_encoder").get_layer("text_max_pool")


def test_mixed_precision_keeps_float32_predictions():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny(text=TEXT, image=IMAGE, audio=AUDIO, fusion="attention", num_classes=3)
        out = model(random_inputs(model), training=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out.dtype == "float32" and np.isfinite(numpy(out)).all()


@pytest.mark.parametrize("modalities", [("text",), ("image",), ("audio",), ("text", "audio"),
                                        ("image", "audio"), ("text", "image", "audio")])
def test_any_subset_of_modalities_builds(modalities):
    model = mmzoo.create_model("gated_tiny", modalities=modalities)
    assert sorted(m for m in ("text", "image", "audio") if m in model.input) == sorted(modalities)


def test_modality_weights_output_for_weighting_fusions():
    model = tiny(text=TEXT, image=IMAGE, audio=AUDIO, fusion="attention", num_classes=3)
    weighted = mmzoo.with_modality_weights(model)
    inputs = random_inputs(model, absent=("audio",))
    outputs = weighted(inputs, training=False)
    weights = numpy(outputs["modality_weights"])
    assert weights.shape == (4, 3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(weights[:, 2], 0.0)
    np.testing.assert_array_equal(numpy(outputs["predictions"]), numpy(model(inputs)))


def test_modality_weights_refused_for_fusions_without_them():
    with pytest.raises(ValueError, match="has no fusion that computes modality weights"):
        mmzoo.with_modality_weights(tiny(image=IMAGE, num_classes=2))


def test_a_registered_custom_fusion_builds_into_a_model(monkeypatch):
    monkeypatch.setattr(mmzoo.fusion.registry, "_FUSIONS", dict(mmzoo.fusion.registry._FUSIONS))

    @mmzoo.register_fusion("test_max")
    class MaxFusion(mmzoo.fusion.FusionLayer):
        def call(self, inputs, presence=None):
            return keras.ops.max(keras.ops.stack(inputs, axis=1), axis=1)

    model = tiny(image=IMAGE, audio=AUDIO, fusion="test_max", num_classes=2)
    assert isinstance(model.get_layer("fusion"), MaxFusion)
    assert "test_max" in mmzoo.list_fusions()
    mmzoo.register_fusion("test_max")(MaxFusion)  # again, as a re-run notebook cell does
    with pytest.raises(ValueError, match="'concat' is mmzoo's ConcatFusion; pick another name"):
        mmzoo.register_fusion("concat")(MaxFusion)
    mmzoo.register_fusion("concat", overwrite=True)(MaxFusion)
    assert isinstance(tiny(image=IMAGE, fusion="concat", num_classes=2).get_layer("fusion"),
                      MaxFusion)


# Bad arguments: ValueError naming the argument and what is allowed.

@pytest.mark.parametrize("kwargs,message", [
    ({}, r"needs at least one modality: pass text=TextSpec"),
    ({"image": IMAGE, "num_classes": 2, "fusion": "mean"}, r"fusion='mean' is unknown; choose one of \["),
    ({"image": IMAGE, "num_classes": 2, "encoders": {"image": "alexnet"}}, r"image encoder kind='alexnet' is unknown"),
    ({"image": IMAGE, "num_classes": 0}, r"num_classes=0 is invalid: a multiclass head needs an "
                                         r"integer num_classes >= 1"),
    ({"image": IMAGE}, r"num_classes=None is invalid"),
    ({"image": IMAGE, "task": "binary", "num_classes": 3}, r"num_classes=3 with task='binary'"),
    ({"image": IMAGE, "task": "regression"}, r"task='regression' is unknown; use one of"),
    ({"image": IMAGE, "num_classes": 2, "pooling": "sum"}, r"pooling='sum' is unknown"),
    ({"image": IMAGE, "num_classes": 2, "encoders": {"audio": "lenet"}},
     r"encoders names \['audio'\] but no spec was given for them"),
    ({"image": ImageSpec(32, 32, 1), "num_classes": 2,
      "encoders": {"image": {"kind": "EfficientNetV2B0", "weights": "imagenet"}}},
     r"weights='imagenet' needs 3-channel images"),
])
def test_bad_arguments_raise_value_errors_that_say_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_classifier(**kwargs)


def test_spec_input_shape_mismatch_of_a_custom_encoder():
    inputs = keras.Input((32, 32, 3), name="image")
    encoder = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ValueError, match=r"encoders\['image'\] takes inputs of shape"):
        build_classifier(image=IMAGE, encoders={"image": encoder}, num_classes=2)


# MultimodalClassifier: the model's config is its builder arguments.

def test_the_config_is_the_builder_arguments_and_rebuilds_the_same_graph():
    text = TEXT.replace(vocabulary=("frog", "cat"))
    model = build_classifier(text=text, image=IMAGE,
                             encoders={"image": {"width": 4, "weights": None}},
                             fusion={"name": "gated", "units": 8}, num_classes=3,
                             embedding_dim=8, head_units=(16,), dropout=0.1, name="birds")
    assert isinstance(model, mmzoo.models.MultimodalClassifier)
    config = model.get_config()
    assert config == {
        "name": "birds", "trainable": True, "text": {**TEXT.get_config(), "vocabulary": None},
        "image": IMAGE.get_config(), "audio": None,
        "encoders": {"image": {"width": 4}},  # starting weights are not architecture
        "fusion": {"name": "gated", "units": 8}, "num_classes": 3, "task": "multiclass",
        "include_top": True, "pooling": "avg", "classifier_activation": "auto",
        "embedding_dim": 8, "head_units": [16], "dropout": 0.1, "modality_dropout": 0.0}
    rebuilt = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(model))))
    assert type(rebuilt) is type(model) and rebuilt.get_config() == config
    graph = [keras.Model(m.input, m.output).get_config()["layers"] for m in (model, rebuilt)]
    assert graph[0] == graph[1]  # every layer, by name and config
    rebuilt.set_weights(model.get_weights())
    inputs = random_inputs(model)
    np.testing.assert_array_equal(numpy(rebuilt(inputs)), numpy(model(inputs)))


def test_a_keras_file_and_clone_model_keep_a_multimodal_classifier_working(tmp_path):
    model = tiny(image=IMAGE, audio=AUDIO, fusion="attention", num_classes=3)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(reloaded, mmzoo.models.MultimodalClassifier)
    assert reloaded.get_config() == model.get_config()
    inputs = random_inputs(model)
    np.testing.assert_array_equal(numpy(reloaded(inputs)), numpy(model(inputs)))
    fit_one_epoch(reloaded, "sparse_categorical_crossentropy", np.array([0, 1, 2, 0]))
    clone = keras.models.clone_model(model)
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert sorted(mmzoo.with_modality_weights(reloaded).output) == ["modality_weights",
                                                                   "predictions"]


def test_a_layer_object_encoder_or_fusion_gives_a_plain_functional_model():
    inputs = keras.Input(IMAGE.shape, name="image")
    encoder = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs),
                          name="image_encoder")
    for kwargs in ({"encoders": {"image": encoder}},
                   {"fusion": mmzoo.fusion.get_fusion("concat")}):
        model = build_classifier(image=IMAGE, num_classes=2, **kwargs)
        assert not isinstance(model, mmzoo.models.MultimodalClassifier)
        assert keras.Model.from_config(model.get_config()).output.shape == (None, 2)
    with pytest.raises(ValueError, match="for a layer object use mmzoo.build_classifier"):
        mmzoo.models.MultimodalClassifier(image=IMAGE, num_classes=2, encoders={"image": encoder})
