"""The fusion catalogue: Keras layers that fuse a list of modality embeddings.

Every fusion layer is called as ``layer(embeddings, presence=presence)`` where
``embeddings`` is a list of ``(batch, dim_i)`` tensors (any number, one or more)
and ``presence`` an optional ``(batch, modalities)`` matrix of 1.0/0.0 flags. It
returns one ``(batch, features)`` tensor, or ``(fused, modality_weights)`` when a
layer that weighs modalities is built with ``return_weights=True``.

| name           | layer                         | reference                              |
|----------------|-------------------------------|----------------------------------------|
| `concat`       | :class:`ConcatFusion`         | late fusion                            |
| `weighted_sum` | :class:`WeightedSumFusion`    | softmax-normalized modality weights    |
| `gated`        | :class:`GatedFusion`          | GMU, Arevalo et al. 2017               |
| `attention`    | :class:`AttentionFusion`      | attention over modality embeddings     |
| `transformer`  | :class:`CrossModalTransformerFusion` | modalities as tokens, MHA        |
| `tensor`       | :class:`TensorFusion`         | TFN, Zadeh et al. 2017                 |
| `low_rank`     | :class:`LowRankFusion`        | LMF, Liu et al. 2018                   |
"""

from __future__ import annotations

import keras
from keras import layers, ops

from mmzoo.layers import TransformerEncoderBlock


def masked_softmax(scores, presence=None, axis=-1):
    """Softmax that gives absent entries zero weight (computed in float32).

    ``presence`` broadcasts against ``scores``; where nothing is present the
    weights fall back to uniform, so outputs stay finite.
    """
    scores = ops.cast(scores, "float32")
    if scores.shape[axis] == 1:  # one modality: its weight is 1
        return ops.ones_like(scores)
    if presence is not None:
        scores = ops.where(ops.cast(presence, "float32") > 0.5, scores, -1e9)
    return ops.softmax(scores, axis=axis)


class FusionLayer(layers.Layer):
    """Base class of the catalogue. Subclasses implement ``call(inputs, presence=None)``.

    ``computes_modality_weights`` tells the builders whether ``return_weights``
    is available, so a model can expose the per-example modality weights.
    """

    computes_modality_weights = False

    def __init__(self, return_weights=False, **kwargs):
        super().__init__(**kwargs)
        if return_weights and not self.computes_modality_weights:
            raise ValueError(
                f"{type(self).__name__} computes no modality weights, so return_weights=True "
                "is not available; use weighted_sum, gated or attention fusion for weights."
            )
        self.return_weights = return_weights

    def _output(self, fused, weights):
        fused = ops.cast(fused, self.compute_dtype)
        return (fused, ops.cast(weights, "float32")) if self.return_weights else fused

    def get_config(self):
        config = super().get_config()
        if self.computes_modality_weights:
            config["return_weights"] = self.return_weights
        return config


def _widest(input_shape):
    """The default fused width: the largest input embedding."""
    return max(shape[-1] for shape in input_shape)


class _ProjectedFusion(FusionLayer):
    """Shared part of the fusions that first project every modality to ``units``.

    ``units=None`` uses the largest input embedding size.
    """

    projection_activation = None

    def __init__(self, units=None, return_weights=False, **kwargs):
        super().__init__(return_weights=return_weights, **kwargs)
        self.units = units

    def build(self, input_shape):
        self.units = self.units or _widest(input_shape)
        self.projections = []
        for i, shape in enumerate(input_shape):
            projection = layers.Dense(self.units, activation=self.projection_activation,
                                      name=f"projection_{i}")
            projection.build(shape)
            self.projections.append(projection)

    def project(self, inputs):
        """The modalities as one ``(batch, modalities, units)`` tensor."""
        return ops.stack([p(x) for p, x in zip(self.projections, inputs)], axis=1)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="mmzoo")
class ConcatFusion(FusionLayer):
    """Late fusion: concatenates the embeddings.

    Example:
        >>> ConcatFusion()([np.ones((2, 3)), np.zeros((2, 4))]).shape
        TensorShape([2, 7])
    """

    def call(self, inputs, presence=None):
        return ops.concatenate([ops.cast(x, self.compute_dtype) for x in inputs], axis=-1)


@keras.saving.register_keras_serializable(package="mmzoo")
class WeightedSumFusion(_ProjectedFusion):
    """Projects each modality to ``units`` and sums them with learned softmax weights.

    The weights are one learned logit per modality, softmax-normalized over the
    modalities present in each example (they sum to 1).

    Example:
        >>> WeightedSumFusion(8)([np.ones((2, 3)), np.ones((2, 5))]).shape
        TensorShape([2, 8])
    """

    computes_modality_weights = True

    def build(self, input_shape):
        super().build(input_shape)
        self.modality_logits = self.add_weight(name="modality_logits",
                                               shape=(len(input_shape),), initializer="zeros")

    def call(self, inputs, presence=None):
        projected = self.project(inputs)
        scores = ops.broadcast_to(self.modality_logits, ops.shape(projected)[:2])
        weights = masked_softmax(scores, presence)
        fused = ops.sum(projected * ops.cast(ops.expand_dims(weights, -1), projected.dtype), 1)
        return self._output(fused, weights)


@keras.saving.register_keras_serializable(package="mmzoo")
class GatedFusion(_ProjectedFusion):
    """Gated multimodal unit (GMU, Arevalo et al. 2017), for any number of modalities.

    ``h_i = tanh(W_i x_i)``; gates ``z = softmax_i(W_z [x_1; ...; x_M])`` per unit
    (for two modalities this is the paper's ``sigmoid`` gate); output
    ``sum_i z_i * h_i``. The modality weights are the gates averaged over units.

    Example:
        >>> GatedFusion(4)([np.ones((2, 3)), np.ones((2, 5))]).shape
        TensorShape([2, 4])
    """

    computes_modality_weights = True
    projection_activation = "tanh"

    def build(self, input_shape):
        super().build(input_shape)
        self.gate = layers.Dense(self.units * len(input_shape), name="gate")
        self.gate.build((input_shape[0][0], sum(shape[-1] for shape in input_shape)))

    def call(self, inputs, presence=None):
        hidden = self.project(inputs)  # (batch, modalities, units)
        gate_scores = self.gate(ops.concatenate(inputs, axis=-1))
        gate_scores = ops.reshape(gate_scores, (-1, len(inputs), self.units))
        mask = None if presence is None else ops.expand_dims(presence, -1)
        gates = masked_softmax(gate_scores, mask, axis=1)
        fused = ops.sum(ops.cast(gates, hidden.dtype) * hidden, axis=1)
        return self._output(fused, ops.mean(gates, axis=-1))


@keras.saving.register_keras_serializable(package="mmzoo")
class AttentionFusion(_ProjectedFusion):
    """Attention over modality embeddings: ``alpha_i = softmax_i(u_i^T W_a phi)``.

    ``u_i = tanh(W_i x_i + b_i)`` projects each modality to ``units``; ``phi`` is a
    learned context vector and ``W_a`` a learned matrix; the output is
    ``sum_i alpha_i u_i``, with absent modalities masked out of the softmax.

    Example:
        >>> AttentionFusion(8, return_weights=True)([np.ones((2, 3)), np.ones((2, 5))])[1].shape
        TensorShape([2, 2])
    """

    computes_modality_weights = True
    projection_activation = "tanh"

    def build(self, input_shape):
        super().build(input_shape)
        self.attention_matrix = self.add_weight(name="attention_matrix",
                                                shape=(self.units, self.units),
                                                initializer="glorot_uniform")
        self.context = self.add_weight(name="context", shape=(self.units,),
                                       initializer="random_normal")

    def call(self, inputs, presence=None):
        projected = self.project(inputs)  # (batch, modalities, units)
        query = ops.matmul(self.attention_matrix, ops.expand_dims(self.context, -1))
        scores = ops.squeeze(ops.matmul(projected, ops.cast(query, projected.dtype)), -1)
        weights = masked_softmax(scores, presence)
        fused = ops.sum(projected * ops.cast(ops.expand_dims(weights, -1), projected.dtype), 1)
        return self._output(fused, weights)


@keras.saving.register_keras_serializable(package="mmzoo")
class CrossModalTransformerFusion(_ProjectedFusion):
    """Modalities as tokens: a Transformer encoder over ``[CLS, modality_1, ...]``.

    Each modality is projected to ``units`` and tagged with a learned modality
    embedding; absent modalities are masked out of attention; the output is the
    final ``CLS`` token.

    Example:
        >>> CrossModalTransformerFusion(8, num_heads=2)([np.ones((2, 3)), np.ones((2, 5))]).shape
        TensorShape([2, 8])
    """

    def __init__(self, units=None, num_heads=2, num_layers=1, intermediate_dim=None, dropout=0.0,
                 **kwargs):
        super().__init__(units, **kwargs)
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout

    def build(self, input_shape):
        super().build(input_shape)
        self.intermediate_dim = self.intermediate_dim or 2 * self.units
        count = len(input_shape)
        self.modality_embeddings = self.add_weight(name="modality_embeddings",
                                                   shape=(count, self.units),
                                                   initializer="random_normal")
        self.cls_token = self.add_weight(name="cls_token", shape=(self.units,),
                                         initializer="random_normal")
        token_shape = (input_shape[0][0], count + 1, self.units)
        self.blocks = []
        for i in range(self.num_layers):
            block = TransformerEncoderBlock(self.num_heads, self.intermediate_dim, self.dropout,
                                            name=f"block_{i}")
            block.build(token_shape)
            self.blocks.append(block)
        self.output_norm = layers.LayerNormalization(epsilon=1e-6, name="output_norm")
        self.output_norm.build((input_shape[0][0], self.units))

    def call(self, inputs, presence=None, training=None):
        tokens = self.project(inputs) + ops.cast(self.modality_embeddings, self.compute_dtype)
        batch = ops.shape(tokens)[0]
        cls = ops.broadcast_to(ops.cast(self.cls_token, tokens.dtype), (batch, 1, self.units))
        x = ops.concatenate([cls, tokens], axis=1)
        if presence is None:
            presence = ops.ones((batch, len(inputs)), tokens.dtype)
        mask = ops.concatenate([ops.ones((batch, 1), presence.dtype), presence], axis=1)
        for block in self.blocks:
            x = block(x, padding_mask=mask, training=training)
        return self.output_norm(x[:, 0])

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads,
                "num_layers": self.num_layers, "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout}


def _append_one(x):
    """``[1; x]``: the constant 1 that keeps unimodal and bimodal terms in TFN/LMF."""
    return ops.concatenate([ops.ones_like(x[:, :1]), x], axis=-1)


@keras.saving.register_keras_serializable(package="mmzoo")
class TensorFusion(FusionLayer):
    """Tensor fusion (TFN): the flattened outer product of ``[1; x_i]`` over modalities.

    The output has ``prod_i (dim_i + 1)`` features: keep the embeddings small.

    Example:
        >>> TensorFusion()([np.ones((2, 3)), np.ones((2, 4))]).shape
        TensorShape([2, 20])
    """

    def call(self, inputs, presence=None):
        fused = _append_one(ops.cast(inputs[0], self.compute_dtype))
        for x in inputs[1:]:
            extended = _append_one(ops.cast(x, self.compute_dtype))
            fused = ops.reshape(ops.einsum("bi,bj->bij", fused, extended),
                                (-1, fused.shape[-1] * extended.shape[-1]))
        return fused


@keras.saving.register_keras_serializable(package="mmzoo")
class LowRankFusion(FusionLayer):
    """Low-rank multimodal fusion (LMF): TFN followed by a linear layer, in low rank.

    ``h = sum_r w_r prod_i ([1; x_i] W_i^(r)) + b``: the same as a Dense layer of
    ``units`` (default: the largest input embedding) on :class:`TensorFusion`
    whose weight tensor has rank ``rank``, without ever forming the outer product.

    Example:
        >>> LowRankFusion(units=6, rank=2)([np.ones((2, 3)), np.ones((2, 4))]).shape
        TensorShape([2, 6])
    """

    def __init__(self, units=None, rank=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.rank = rank

    def build(self, input_shape):
        self.units = self.units or _widest(input_shape)
        self.factors = [
            self.add_weight(name=f"factor_{i}", shape=(self.rank, shape[-1] + 1, self.units),
                            initializer="glorot_normal")
            for i, shape in enumerate(input_shape)
        ]
        self.rank_weights = self.add_weight(name="rank_weights", shape=(self.rank,),
                                            initializer="glorot_normal")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs, presence=None):
        product = None
        for x, factor in zip(inputs, self.factors):
            term = ops.einsum("bd,rdu->bru", _append_one(ops.cast(x, self.compute_dtype)), factor)
            product = term if product is None else product * term
        return ops.einsum("r,bru->bu", self.rank_weights, product) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units, "rank": self.rank}
