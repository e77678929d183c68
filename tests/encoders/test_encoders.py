"""Encoders: shapes, names, masking, keras.applications backbones, validation."""

import keras
import numpy as np
import pytest

from mmzoo.encoders import build_encoder
from mmzoo.encoders.text import TEXT_KINDS
from mmzoo.specs import AudioSpec, ImageSpec, TextSpec

TEXT = TextSpec(vocabulary_size=50, sequence_length=6)
IMAGE = ImageSpec(32, 32, 3)
AUDIO = AudioSpec(sample_rate=8000, clip_seconds=0.5, num_mel_bins=32, fft_length=256,
                  hop_length=128)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_text_encoders_ignore_padding(kind):
    """Scrambling the padding token's embedding row leaves the output unchanged."""
    encoder = build_encoder("text", TEXT, {"kind": kind, "width": 8}, embedding_dim=5)
    assert encoder.output.shape == (None, 5)
    assert all(layer.name.startswith("text") for layer in encoder.layers)
    tokens = np.array([[4, 9, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0]], "int32")
    before = numpy(encoder(tokens))
    embedding = encoder.get_layer("text_token_embedding")
    table = numpy(embedding.embeddings)
    table[0] = np.random.default_rng(0).normal(0, 10, table.shape[1])
    embedding.embeddings.assign(table)
    np.testing.assert_allclose(numpy(encoder(tokens)), before, rtol=1e-5, atol=1e-6)
    tokens[0, 1] = 11  # while a real token does count
    assert not np.allclose(numpy(encoder(tokens))[0], before[0])


def test_bag_of_embeddings_is_the_mean_of_the_token_embeddings():
    encoder = build_encoder("text", TEXT, {"kind": "bag_of_embeddings", "width": 4},
                            embedding_dim=None)
    table = numpy(encoder.get_layer("text_token_embedding").embeddings)
    out = numpy(encoder(np.array([[4, 9, 7, 0, 0, 0]], "int32")))
    np.testing.assert_allclose(out[0], table[[4, 9, 7]].mean(axis=0), rtol=1e-6)


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_text_encoders_stay_finite_on_an_empty_text(kind):
    encoder = build_encoder("text", TEXT, kind)
    assert np.isfinite(numpy(encoder(np.zeros((2, 6), "int32")))).all()


@pytest.mark.parametrize("modality,spec", [("image", IMAGE), ("audio", AUDIO)])
@pytest.mark.parametrize("kind", ["lenet", "resnet"])
def test_convolutional_encoders(modality, spec, kind):
    encoder = build_encoder(modality, spec, {"kind": kind, "width": 4, "depth": 2}, embedding_dim=7)
    assert encoder.name == f"{modality}_encoder"
    assert all(layer.name.startswith(modality) for layer in encoder.layers)
    batch = np.random.default_rng(0).uniform(0, 1, (2, *spec.shape)).astype("float32")
    assert numpy(encoder(batch)).shape == (2, 7)


def test_lenet_without_projection_reproduces_multibench_feature_sizes():
    """MultiBench's AV-MNIST LeNet(1, 6, 3) on 28x28 digits ends in 48 features."""
    encoder = build_encoder("image", ImageSpec(28, 28, 1), {"kind": "lenet", "width": 6, "depth": 4},
                            embedding_dim=None)
    assert encoder.output.shape == (None, 48)


def test_image_encoder_normalizes_pixels_itself():
    encoder = build_encoder("image", ImageSpec(8, 8, 1), {"kind": "lenet", "depth": 1})
    rescaled = encoder.get_layer("image_rescaling")(np.full((1, 8, 8, 1), 255.0, "float32"))
    np.testing.assert_allclose(numpy(rescaled), 1.0)


def test_audio_encoder_computes_log_mel_inside_the_model():
    encoder = build_encoder("audio", AUDIO, "lenet")
    spectrogram = encoder.get_layer("audio_spectrogram").output
    assert spectrogram.shape == (None, AUDIO.num_frames, AUDIO.num_mel_bins, 1)


@pytest.mark.parametrize("modality,spec", [("image", IMAGE), ("audio", AudioSpec(8000, 1.0))])
def test_keras_applications_backbone_by_name(modality, spec):
    encoder = build_encoder(modality, spec, {"kind": "MobileNetV3Small"}, embedding_dim=8)
    assert encoder.get_layer(f"{modality}_mobilenetv3small") is not None
    batch = np.random.default_rng(0).uniform(0, 1, (1, *spec.shape)).astype("float32")
    assert numpy(encoder(batch)).shape == (1, 8)


def test_backbone_weights_load_from_a_path(tmp_path):
    first = build_encoder("image", IMAGE, {"kind": "MobileNetV3Small"})
    path = tmp_path / "backbone.weights.h5"
    first.get_layer("image_mobilenetv3small").save_weights(path)
    second = build_encoder("image", IMAGE, {"kind": "MobileNetV3Small", "weights": str(path)})
    for a, b in zip(first.get_layer("image_mobilenetv3small").weights,
                    second.get_layer("image_mobilenetv3small").weights):
        np.testing.assert_array_equal(numpy(a), numpy(b))


def test_backbone_preprocessing_is_the_family_preprocess_input():
    encoder = build_encoder("image", IMAGE, {"kind": "MobileNetV2"})
    pixels = np.random.default_rng(1).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    ours = numpy(encoder.get_layer("image_backbone_preprocessing")(pixels))
    np.testing.assert_allclose(ours, keras.applications.mobilenet_v2.preprocess_input(pixels.copy()),
                               rtol=1e-6)


def test_imagenet_weights_need_three_channels():
    with pytest.raises(ValueError, match=r"weights='imagenet' needs 3-channel images.*channels=1"):
        build_encoder("image", ImageSpec(32, 32, 1), {"kind": "MobileNetV3Small",
                                                      "weights": "imagenet"})


def test_missing_weights_file_is_named():
    with pytest.raises(ValueError, match=r"weights='/nope.h5' is neither None"):
        build_encoder("image", IMAGE, {"kind": "ResNet50", "weights": "/nope.h5"})


def test_unknown_encoder_kinds_list_the_allowed_values():
    with pytest.raises(ValueError, match=r"text encoder kind='gru' is unknown; use one of \["):
        build_encoder("text", TEXT, "gru")
    with pytest.raises(ValueError, match=r"image encoder kind='vgg' is unknown; use one of "
                                         r"\['lenet', 'resnet'\] or a keras.applications"):
        build_encoder("image", IMAGE, "vgg")


def test_too_small_inputs_are_refused_with_the_spec_named():
    with pytest.raises(ValueError, match=r"ImageSpec gives a 8x8 map, too small for a lenet "
                                         r"encoder of depth=4"):
        build_encoder("image", ImageSpec(8, 8, 1), {"kind": "lenet", "depth": 4})
    with pytest.raises(ValueError, match=r"MobileNetV3Small backbone cannot take the \(16, 16, 3\) "
                                         r"input that ImageSpec gives"):
        build_encoder("image", ImageSpec(16, 16, 3), "MobileNetV3Small")


def test_custom_encoder_must_match_the_spec():
    inputs = keras.Input((28, 28, 1), name="image")
    custom = keras.Model(inputs, keras.layers.Flatten()(inputs))
    with pytest.raises(ValueError, match=r"takes inputs of shape \[\(28, 28, 1\)\] but the ImageSpec "
                                         r"gives \(32, 32, 3\)"):
        build_encoder("image", IMAGE, custom)
    assert build_encoder("image", ImageSpec(28, 28, 1), custom) is custom


def test_spec_of_the_wrong_modality_is_refused():
    with pytest.raises(ValueError, match="text= needs a TextSpec, got ImageSpec"):
        build_encoder("text", IMAGE)


def test_unknown_encoder_option_is_named():
    with pytest.raises(ValueError, match=r"encoders\['audio'\] does not take \['layers'\]"):
        build_encoder("audio", AUDIO, {"kind": "lenet", "layers": 3})


def test_an_encoder_dict_overrides_the_builder_defaults():
    encoder = build_encoder("image", IMAGE, {"kind": "lenet", "width": 4, "embedding_dim": 3},
                            embedding_dim=5, pooling="max")
    assert encoder.output.shape == (None, 3)
    assert encoder.get_layer("image_max_pool")
