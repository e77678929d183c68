"""Presence flags, modality dropout and the learned missing embedding."""

import keras
import numpy as np
import pytest

from mmzoo.fusion import MissingModalityEmbedding, ModalityDropout, ModalityPresence


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_presence_flags_stack_per_example():
    stacked = ModalityPresence()([np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 1.0])])
    np.testing.assert_array_equal(numpy(stacked), [[1, 0, 1], [0, 1, 1]])


def test_modality_dropout_drops_at_its_rate_and_never_everything():
    presence = np.ones((20000, 3), "float32")
    dropped = numpy(ModalityDropout(0.3, seed=7)(presence, training=True))
    assert dropped.sum(axis=1).min() >= 1.0
    # Every flag drops with p = 0.3, except rows where all three would (p^3 = 2.7%) are kept.
    expected_kept = (1 - 0.3) + 0.3**3
    assert abs(dropped.mean() - expected_kept) < 0.01


def test_modality_dropout_never_revives_an_absent_modality():
    presence = np.array([[1, 0, 1]] * 1000, "float32")
    dropped = numpy(ModalityDropout(0.5, seed=3)(presence, training=True))
    assert (dropped[:, 1] == 0).all()


def test_modality_dropout_is_the_identity_at_inference():
    presence = np.array([[1, 0, 1], [1, 1, 1]], "float32")
    np.testing.assert_array_equal(numpy(ModalityDropout(0.9)(presence, training=False)), presence)


def test_modality_dropout_rejects_a_rate_of_one():
    with pytest.raises(ValueError, match=r"rate=1.0 must be in \[0, 1\)"):
        ModalityDropout(1.0)


def test_missing_embedding_replaces_only_absent_rows():
    layer = MissingModalityEmbedding()
    embeddings = [np.arange(6, dtype="float32").reshape(2, 3), np.ones((2, 2), "float32")]
    presence = np.array([[1, 0], [0, 1]], "float32")
    layer(embeddings, presence)
    layer.set_weights([np.full(3, -5.0, "float32"), np.full(2, 9.0, "float32")])
    first, second = (numpy(t) for t in layer(embeddings, presence))
    np.testing.assert_array_equal(first, [[0, 1, 2], [-5, -5, -5]])
    np.testing.assert_array_equal(second, [[9, 9], [1, 1]])


def test_missing_embedding_gives_absent_inputs_zero_gradient():
    layer = MissingModalityEmbedding()
    import tensorflow as tf

    x = tf.Variable(np.ones((2, 3), "float32"))
    with tf.GradientTape() as tape:
        (out,) = layer([x], np.array([[1.0], [0.0]], "float32"))
        loss = tf.reduce_sum(out * 3.0)
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [[3, 3, 3], [0, 0, 0]])
