"""KerasHub text backbones as mmzoo encoders: any BERT-family preset with a WordPiece tokenizer.

``encoders={"text": "keras_hub:<preset>"}`` with ``text=backbone_spec("keras_hub:<preset>")``
uses a KerasHub backbone (e.g. ``bert_tiny_en_uncased`` from Kaggle, or a local preset
folder written by ``save_to_preset``) mean-pooled over real tokens. Its tokenizer's
vocabulary goes into the spec, and mmzoo tokenizes with its own core-TF WordPiece
(:mod:`mmzoo.preprocessing.wordpiece`), so exported models need no TensorFlow Text.

Example:
    >>> spec = backbone_spec("keras_hub:/tmp/tiny_bert", sequence_length=32)  # doctest: +SKIP
    >>> model = build_classifier(text=spec, num_classes=3)  # doctest: +SKIP
"""

from __future__ import annotations

import functools

import keras

from mmzoo.backbones.base import Backbone
from mmzoo.layers import MaskedGlobalPooling1D
from mmzoo.specs import TextSpec


@keras.saving.register_keras_serializable(package="mmzoo")
class BertInputs(keras.layers.Layer):
    """Token ids ``(batch, length)`` to a KerasHub BERT backbone's input dict: the ids, the
    padding mask (ids other than ``pad_id``) and segment ids 0.

    Example:
        >>> BertInputs(0)(np.array([[101, 7, 0]]))["padding_mask"].numpy().tolist()
        [[1, 1, 0]]
    """

    def __init__(self, pad_id: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.pad_id = pad_id

    def call(self, token_ids):
        token_ids = keras.ops.cast(token_ids, "int32")
        return {"token_ids": token_ids,
                "padding_mask": keras.ops.cast(keras.ops.not_equal(token_ids, self.pad_id), "int32"),
                "segment_ids": keras.ops.zeros_like(token_ids)}

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


def mean_pooled_text_model(hub_backbone, spec: TextSpec, pad_id: int, name: str):
    """``hub_backbone``'s sequence output averaged over real tokens (padding left out), as
    sentence-transformers' mean pooling: a Functional model on ``spec.keras_input()``."""
    token_ids = spec.keras_input()
    inputs = BertInputs(pad_id, name="bert_inputs")(token_ids)
    names = [i.name for i in hub_backbone.inputs]
    sequence = hub_backbone({k: v for k, v in inputs.items() if k in names})["sequence_output"]
    pooled = MaskedGlobalPooling1D("avg", name="mean_pool")(sequence, inputs["padding_mask"])
    return keras.Model(token_ids, pooled, name=name)


class KerasHubTextBackbone(Backbone):
    """A KerasHub BERT-family backbone with its WordPiece vocabulary (see the module)."""

    modality = "text"
    free_spec_fields = ("sequence_length",)
    weights_file = None

    def __init__(self, preset: str):
        import keras_hub

        self.preset = preset
        self.name = f"keras_hub:{preset}"
        self.title = f"KerasHub preset {preset}"
        self.attribution = f"the KerasHub preset {preset} (see its model card for the license)"
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
        if not isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
            raise ValueError(f"the KerasHub preset {preset!r} has a {type(tokenizer).__name__}; "
                             "mmzoo serves KerasHub text backbones with a WordPiece tokenizer "
                             "(BERT, DistilBERT, ELECTRA...).")
        self.vocabulary = tuple(tokenizer.get_vocabulary())
        self.lowercase = bool(tokenizer.lowercase)
        self.pad_id = tokenizer.token_to_id(tokenizer.pad_token)
        self.config = keras_hub.models.Backbone.from_preset(preset, load_weights=False).get_config()
        self.features = self.config["hidden_dim"]

    def spec(self, sequence_length=128):
        return TextSpec(vocabulary_size=len(self.vocabulary), sequence_length=sequence_length,
                        standardize="bert_uncased" if self.lowercase else "bert_cased",
                        vocabulary=self.vocabulary, tokenizer="wordpiece", backbone=self.name)

    def build_model(self, spec):
        import keras_hub

        hub_backbone = keras_hub.models.Backbone.from_preset(self.preset, load_weights=False)
        return mean_pooled_text_model(hub_backbone, spec, self.pad_id, name="text_keras_hub")

    def pretrained_source(self):
        return self.preset

    def load_pretrained(self, model, path):
        import keras_hub

        pretrained = keras_hub.models.Backbone.from_preset(path)
        _hub_layer(model).set_weights(pretrained.get_weights())

    def blocks(self, model):
        hub_backbone = _hub_layer(model)
        transformer = [layer for layer in hub_backbone.layers
                       if layer.name.startswith("transformer_layer_")]
        return [[layer for layer in hub_backbone.layers if layer not in transformer],
                *([layer] for layer in transformer)]


def _hub_layer(model):
    import keras_hub

    return next(layer for layer in model.layers if isinstance(layer, keras_hub.models.Backbone))


@functools.lru_cache(maxsize=8)
def keras_hub_backbone(preset: str) -> KerasHubTextBackbone:
    """The backbone of a KerasHub preset (name or folder), read once per process."""
    return KerasHubTextBackbone(preset)
