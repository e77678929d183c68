"""A KerasHub text backbone as a mmzoo encoder: a tiny random-weight BERT preset folder."""

import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub", reason="the pretrained extra (keras-hub) is not installed")
import keras  # noqa: E402

from mmzoo import build_classifier  # noqa: E402
from mmzoo.backbones import backbone_spec, get_backbone  # noqa: E402

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "sat", "on",
              "mat", ".", "a", "dog"]


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """A KerasHub preset folder: a 2-layer BERT with random weights and its tokenizer."""
    folder = tmp_path_factory.mktemp("tiny_bert")
    keras.utils.set_random_seed(1)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32)
    backbone.save_to_preset(str(folder))
    keras_hub.tokenizers.BertTokenizer(vocabulary=VOCABULARY, lowercase=True).save_to_preset(str(folder))
    return f"keras_hub:{folder}"


@pytest.fixture(scope="module")
def token_ids():
    return np.array([[2, 5, 6, 7, 8, 3, 0, 0], [2, 12, 13, 3, 0, 0, 0, 0]], "int32")


def test_the_spec_carries_the_preset_vocabulary_and_wordpiece(preset):
    spec = backbone_spec(preset, sequence_length=8)
    assert spec.vocabulary == tuple(VOCABULARY)
    assert (spec.tokenizer, spec.standardize, spec.backbone) == ("wordpiece", "bert_uncased", preset)
    assert spec.vocabulary_size == len(VOCABULARY)


def test_features_are_the_preset_backbone_mean_pooled_over_real_tokens(preset, token_ids):
    spec = backbone_spec(preset, sequence_length=8)
    encoder = get_backbone(preset).encoder(spec)
    reference = keras_hub.models.Backbone.from_preset(preset.split(":", 1)[1])
    mask = (token_ids != 0).astype("int32")
    sequence = reference({"token_ids": token_ids, "padding_mask": mask,
                          "segment_ids": np.zeros_like(token_ids)})["sequence_output"]
    expected = (np.asarray(sequence) * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(encoder(token_ids).numpy(), expected, atol=1e-6)


def test_a_classifier_freezes_the_backbone_and_rebuilds_without_its_weights(preset, token_ids, tmp_path):
    spec = backbone_spec(preset, sequence_length=8)
    model = build_classifier(text=spec, num_classes=3, embedding_dim=8)
    trainable = {v.path.split("/")[0] for v in model.trainable_variables}
    assert not any("keras_hub" in path or "transformer" in path for path in trainable), trainable
    config = model.get_config()
    assert config["encoders"]["text"] == {"kind": preset, "weights": None, "trainable": False}
    inputs = {"text": token_ids, "text_present": np.ones(2, "float32")}
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0),
                               atol=1e-6)


def test_unfreeze_top_trains_the_last_transformer_layers_only(preset):
    spec = backbone_spec(preset, sequence_length=8)
    model = build_classifier(text=spec, num_classes=3,
                             encoders={"text": {"kind": preset, "unfreeze_top": 1}})
    paths = [v.path for v in model.trainable_variables]
    assert any("transformer_layer_1" in p for p in paths), paths
    assert not any("transformer_layer_0" in p or "embedding" in p.split("/")[-2] for p in paths
                   if "text_embedding" not in p), paths


def test_a_preset_without_wordpiece_is_refused_with_the_reason(tmp_path):
    keras_hub.models.GPT2Backbone(vocabulary_size=4, num_layers=1, num_heads=1, hidden_dim=4,
                                  intermediate_dim=4, max_sequence_length=8).save_to_preset(str(tmp_path))
    vocabulary = {"<|endoftext|>": 0, "a": 1, "b": 2, "ab": 3}
    keras_hub.tokenizers.GPT2Tokenizer(vocabulary=vocabulary, merges=["a b"]).save_to_preset(str(tmp_path))
    with pytest.raises(ValueError, match="WordPiece"):
        get_backbone(f"keras_hub:{tmp_path}")


def test_mmzoo_tokenizes_as_the_preset_tokenizer(preset):
    """mmzoo's core-TF WordPiece against the preset's own (TensorFlow Text) tokenizer."""
    from mmzoo.converters.text import WordPieceTokenizer

    texts = ["The cats sat on the mat.", "A DOG, a cat; the mats!", "zebra cats", ""]
    ours = WordPieceTokenizer(backbone_spec(preset, sequence_length=12))(texts).numpy()
    reference = keras_hub.tokenizers.Tokenizer.from_preset(preset.split(":", 1)[1])
    for row, text in zip(ours, texts):
        pieces = np.asarray(reference.tokenize(text)).tolist()
        assert row.tolist() == [2, *pieces, 3] + [0] * (12 - len(pieces) - 2), text
