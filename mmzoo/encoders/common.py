"""What every encoder shares: the output projection."""

from __future__ import annotations

from keras import layers


def project(x, embedding_dim, dropout, prefix):
    """The encoders' common ending: dropout, then a Dense + ReLU to ``embedding_dim``."""
    if dropout:
        x = layers.Dropout(dropout, name=f"{prefix}_dropout")(x)
    if embedding_dim is None:
        return x
    return layers.Dense(embedding_dim, activation="relu", name=f"{prefix}_embedding")(x)
