"""Text encoders: token ids ``(batch, sequence_length)`` to an embedding ``(batch, dim)``."""

from __future__ import annotations

import keras
from keras import layers

from mmzoo.backbones import backbone_names
from mmzoo.encoders.common import project
from mmzoo.layers import (
    MaskedGlobalPooling1D,
    PaddingMask,
    PositionEmbedding,
    TransformerEncoderBlock,
)
from mmzoo.specs import TextSpec

TEXT_KINDS = ("bag_of_embeddings", "bigru", "bilstm", "transformer")


def build_text_encoder(spec: TextSpec, kind="bag_of_embeddings", width=64, depth=1,
                       embedding_dim=64, dropout=0.0, pooling="avg", name="text_encoder"):
    """A Functional text encoder.

    Args:
        spec: the :class:`~mmzoo.TextSpec` (vocabulary size, sequence length).
        kind: ``"bag_of_embeddings"`` (mean of token embeddings), ``"bigru"`` /
            ``"bilstm"`` (``depth`` bidirectional recurrent layers of ``width``
            units) or ``"transformer"`` (``depth`` Transformer encoder blocks).
        width: token embedding size (and recurrent units).
        depth: recurrent layers or Transformer blocks.
        embedding_dim: size of the output embedding (a final Dense + ReLU); None
            returns the pooled features as they are.
        dropout: dropout before the output projection.
        pooling: ``"avg"`` or ``"max"`` over tokens (not for the recurrent kinds,
            which use their final states).

    Example:
        >>> encoder = build_text_encoder(TextSpec(vocabulary_size=100, sequence_length=8), "bigru")
        >>> encoder.output.shape
        (None, 64)
    """
    if kind not in TEXT_KINDS:
        raise ValueError(f"text encoder kind={kind!r} is unknown; use one of {list(TEXT_KINDS)} "
                         f"or a pretrained backbone: {backbone_names('text')}.")
    token_ids = spec.keras_input()
    padding_mask = PaddingMask(name="text_padding_mask")(token_ids)
    if kind in ("bigru", "bilstm"):
        x = layers.Embedding(spec.vocabulary_size, width, mask_zero=True,
                             name="text_token_embedding")(token_ids)
        recurrent = layers.GRU if kind == "bigru" else layers.LSTM
        for i in range(depth):
            x = layers.Bidirectional(recurrent(width, return_sequences=i < depth - 1),
                                     name=f"text_{kind}_{i}")(x)
    else:
        x = layers.Embedding(spec.vocabulary_size, width, name="text_token_embedding")(token_ids)
        if kind == "transformer":
            x = PositionEmbedding(spec.sequence_length, name="text_position_embedding")(x)
            heads = max(1, width // 32)
            for i in range(depth):
                x = TransformerEncoderBlock(heads, 2 * width, dropout,
                                            name=f"text_transformer_{i}")(x, padding_mask=padding_mask)
        x = MaskedGlobalPooling1D(pooling, name=f"text_{pooling}_pool")(x, padding_mask)
    return keras.Model(token_ids, project(x, embedding_dim, dropout, "text"), name=name)

