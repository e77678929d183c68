"""Text preprocessing: ``keras.layers.TextVectorization`` driven by a :class:`~mmzoo.TextSpec`."""

from __future__ import annotations

import keras
import tensorflow as tf

from mmzoo.specs import TextSpec


def text_vectorizer(spec: TextSpec) -> keras.layers.TextVectorization:
    """The ``TextVectorization`` layer a spec describes: int32 ids, 0 padding, 1 unknown.

    Example:
        >>> layer = text_vectorizer(TextSpec(vocabulary_size=10, sequence_length=4, vocabulary=("cat",)))
        >>> layer(["the cat"]).numpy().tolist()
        [[1, 2, 0, 0]]

    Its output dtype is int64 (a Keras convention); :class:`Preprocessor` casts to int32.
    """
    return keras.layers.TextVectorization(
        max_tokens=spec.vocabulary_size, standardize=spec.standardize, output_mode="int",
        output_sequence_length=spec.sequence_length, vocabulary=spec.vocabulary,
        name="text_vectorization")


def adapt_text_spec(spec: TextSpec, texts) -> TextSpec:
    """A copy of ``spec`` whose vocabulary is learned from ``texts`` (the training split).

    ``texts`` is a list of strings or a ``tf.data.Dataset`` of strings.

    Example:
        >>> adapt_text_spec(TextSpec(vocabulary_size=10), ["a cat", "a dog"]).vocabulary[0]
        'a'
    """
    layer = keras.layers.TextVectorization(max_tokens=spec.vocabulary_size,
                                           standardize=spec.standardize)
    layer.adapt(texts if isinstance(texts, tf.data.Dataset) else list(texts))
    return spec.replace(vocabulary=tuple(str(token) for token in layer.get_vocabulary()[2:]))
