"""Missing modalities: presence flags, modality dropout, learned "missing" embeddings.

Every fused model gets a presence flag per modality (1.0 present, 0.0 absent).
An absent modality's embedding is replaced by a learned "missing" vector, so its
input (zeros, garbage, anything) has no effect on the output; fusions that weight
modalities also mask it out of their softmax.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="mmzoo")
class ModalityPresence(layers.Layer):
    """Stacks per-modality presence flags, each ``(batch,)``, into ``(batch, modalities)``.

    Example:
        >>> ModalityPresence()([np.array([1.0, 0.0]), np.array([1.0, 1.0])]).numpy().tolist()
        [[1.0, 1.0], [0.0, 1.0]]
    """

    def call(self, flags):
        return ops.stack([ops.cast(ops.reshape(f, (-1,)), self.compute_dtype) for f in flags], 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape))


@keras.saving.register_keras_serializable(package="mmzoo")
class ModalityDropout(layers.Layer):
    """While training, marks each present modality absent with probability ``rate``.

    Teaches a model to cope with missing modalities. An example never loses all
    of its modalities: where every flag would drop, its flags are kept. At
    inference the presence flags pass through unchanged.

    Example:
        >>> presence = np.ones((4, 3), "float32")
        >>> ModalityDropout(0.5, seed=1)(presence, training=True).numpy().sum(axis=1).min() >= 1
        True
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"ModalityDropout rate={rate!r} must be in [0, 1).")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, presence, training=None):
        if not training or self.rate == 0.0:
            return presence
        keep = keras.random.uniform(ops.shape(presence), seed=self.seed_generator) >= self.rate
        dropped = presence * ops.cast(keep, presence.dtype)
        anything_left = ops.sum(dropped, axis=1, keepdims=True) > 0
        return ops.where(anything_left, dropped, presence)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="mmzoo")
class MissingModalityEmbedding(layers.Layer):
    """Replaces the embedding of each absent modality by a learned vector.

    Call it on a list of embeddings ``(batch, dim_i)`` and the presence matrix
    ``(batch, modalities)``; it returns the list with absent rows replaced.

    Example:
        >>> layer = MissingModalityEmbedding()
        >>> out = layer([np.ones((2, 3), "float32")], np.array([[1.0], [0.0]], "float32"))
        >>> out[0].numpy().tolist()  # the missing vector starts at zeros
        [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    """

    def build(self, embeddings_shape, presence_shape):
        self.missing_embeddings = [
            self.add_weight(name=f"missing_{i}", shape=(shape[-1],), initializer="zeros")
            for i, shape in enumerate(embeddings_shape)
        ]

    def call(self, embeddings, presence):
        return [
            ops.where(ops.expand_dims(presence[:, i], -1) > 0.5, embedding,
                      ops.cast(ops.expand_dims(missing, 0), embedding.dtype))
            for i, (embedding, missing) in enumerate(zip(embeddings, self.missing_embeddings))
        ]
