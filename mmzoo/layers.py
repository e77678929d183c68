"""Small building-block layers shared by the encoders and the fusion catalogue.

Each is a serializable Keras layer (``package="mmzoo"``), safe under XLA and with
finite outputs for any finite input, including fully padded sequences.
"""

from __future__ import annotations

import sys

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="mmzoo")
class PaddingMask(layers.Layer):
    """Token ids ``(batch, length)`` to a float mask: 1.0 for real tokens, 0.0 for padding (id 0).

    Example:
        >>> PaddingMask()(np.array([[5, 3, 0]])).numpy().tolist()
        [[1.0, 1.0, 0.0]]
    """

    def call(self, token_ids):
        return ops.cast(ops.not_equal(token_ids, 0), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="mmzoo")
class MaskedGlobalPooling1D(layers.Layer):
    """Average or max over the positions a mask keeps; all-masked rows give zeros.

    Unlike ``GlobalAveragePooling1D`` with a Keras mask, an empty sequence gives
    zeros instead of NaN (0/0), so an absent text never poisons gradients.

    Example:
        >>> x = np.ones((1, 3, 2), "float32"); mask = np.array([[1.0, 0.0, 0.0]])
        >>> MaskedGlobalPooling1D("avg")(x, mask).numpy().tolist()
        [[1.0, 1.0]]
    """

    def __init__(self, mode="avg", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("avg", "max"):
            raise ValueError(f"mode={mode!r} is unknown; use 'avg' or 'max'.")
        self.mode = mode

    def call(self, inputs, mask):
        mask = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        if self.mode == "avg":
            count = ops.maximum(ops.sum(mask, axis=1), 1.0)
            return ops.sum(inputs * mask, axis=1) / count
        lowest = ops.min(inputs, axis=1, keepdims=True)
        pooled = ops.max(inputs * mask + lowest * (1.0 - mask), axis=1)
        return pooled * ops.minimum(ops.sum(mask, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="mmzoo")
class PositionEmbedding(layers.Layer):
    """Adds a learned embedding per position to ``(batch, length, dim)`` inputs."""

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            name="position_embeddings", shape=(self.sequence_length, input_shape[-1]),
            initializer=self.initializer,
        )

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        return inputs + ops.expand_dims(self.position_embeddings[:length], 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="mmzoo")
class TransformerEncoderBlock(layers.Layer):
    """A pre-norm Transformer encoder block: self-attention then a feed-forward net.

    ``padding_mask`` (batch, length) marks the positions that may be attended to;
    a row with nothing to attend to stays finite (Keras' masked softmax is uniform).

    Example:
        >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
        >>> block(np.zeros((2, 5, 16), "float32")).shape
        TensorShape([2, 5, 16])
    """

    def __init__(self, num_heads, intermediate_dim, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout

    def build(self, input_shape):
        width = input_shape[-1]
        if width % self.num_heads:
            raise ValueError(
                f"TransformerEncoderBlock width {width} is not divisible by num_heads="
                f"{self.num_heads}; pick num_heads dividing the width."
            )
        self.attention_norm = layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.attention = layers.MultiHeadAttention(
            num_heads=self.num_heads, key_dim=width // self.num_heads, dropout=self.dropout,
            name="attention",
        )
        self.feedforward_norm = layers.LayerNormalization(epsilon=1e-6, name="feedforward_norm")
        self.feedforward_in = layers.Dense(self.intermediate_dim, activation="gelu",
                                           name="feedforward_in")
        self.feedforward_out = layers.Dense(width, name="feedforward_out")
        self.dropout_layer = layers.Dropout(self.dropout)
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.feedforward_norm.build(input_shape)
        self.feedforward_in.build(input_shape)
        self.feedforward_out.build((*input_shape[:-1], self.intermediate_dim))

    def call(self, inputs, padding_mask=None, training=None):
        attention_mask = None
        if padding_mask is not None:
            keys = ops.cast(ops.expand_dims(padding_mask, 1), "bool")  # (batch, 1, length)
            attention_mask = ops.broadcast_to(
                keys, (ops.shape(inputs)[0], ops.shape(inputs)[1], ops.shape(inputs)[1])
            )
        normed = self.attention_norm(inputs)
        attended = self.attention(normed, normed, attention_mask=attention_mask, training=training)
        x = inputs + self.dropout_layer(attended, training=training)
        hidden = self.feedforward_out(self.feedforward_in(self.feedforward_norm(x)))
        return x + self.dropout_layer(hidden, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="mmzoo")
class BackbonePreprocessing(layers.Layer):
    """Pixels in [0, 255] to what a ``keras.applications`` backbone expects.

    Calls the backbone family's own ``preprocess_input`` (a no-op for families
    that normalize inside the model, such as MobileNetV3 and EfficientNetV2).

    Example:
        >>> BackbonePreprocessing("MobileNetV2")(np.full((1, 2, 2, 3), 255.0)).numpy().max()
        1.0
    """

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        module = sys.modules[getattr(keras.applications, backbone).__module__]
        self._preprocess_input = module.preprocess_input

    def call(self, images):
        return self._preprocess_input(images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "backbone": self.backbone}
