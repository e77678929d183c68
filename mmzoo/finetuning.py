"""Fine-tuning: a new head for new classes, frozen or unfrozen encoders.

The usual recipe: replace the head, freeze the encoders and train the head and
fusion; then unfreeze (batch normalization excepted) and train everything with a
learning rate ten times lower.

Example:
    >>> model = replace_head(pretrained, num_classes=5)  # doctest: +SKIP
    >>> freeze_encoders(model)  # doctest: +SKIP
    >>> model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")  # doctest: +SKIP
    >>> model.fit(few_examples, epochs=10)  # doctest: +SKIP
    >>> unfreeze_encoders(model)  # doctest: +SKIP
    >>> model.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")  # doctest: +SKIP
"""

from __future__ import annotations

import keras

from mmzoo.models.head import classification_head, classifier_head


def replace_head(model: keras.Model, num_classes: int, task="multiclass",
                 classifier_activation="auto", keep_hidden_layers=True) -> keras.Model:
    """The model with a new, freshly initialized classifier for ``num_classes``.

    Encoders and fusion are the same layers (their weights are kept exactly, and
    shared with ``model``). ``keep_hidden_layers`` keeps the head's hidden Dense
    layers too and replaces only the final ``logits`` layer.
    """
    head = classifier_head(model)
    features = head.logits_layer.input if keep_hidden_layers else head.features
    outputs = classification_head(features, task, num_classes, classifier_activation)
    return keras.Model(model.input, outputs, name=model.name)


def head_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of the classification head (hidden Dense, dropout, logits, predictions)."""
    return classifier_head(model).layers


def freeze_encoders(model: keras.Model, modalities=None) -> None:
    """Freeze the encoders of ``modalities`` (default: all). Recompile afterwards.

    Frozen encoders also keep their batch-norm statistics (Keras runs frozen
    ``BatchNormalization`` in inference mode).
    """
    for encoder in classifier_head(model).encoders(modalities).values():
        encoder.trainable = False


def unfreeze_encoders(model: keras.Model, modalities=None, batch_norm: bool = False) -> None:
    """Make the encoders of ``modalities`` (default: all) trainable again. Recompile afterwards,
    usually with a learning rate about ten times lower than the head's.

    Their ``BatchNormalization`` layers stay frozen (in inference mode, with the
    pretrained statistics) unless ``batch_norm=True``: as Keras' transfer-learning
    guide advises, since moving statistics re-estimated from the small batches of a
    small dataset usually undo much of what the encoders learned.
    """
    for encoder in classifier_head(model).encoders(modalities).values():
        encoder.trainable = True
        if not batch_norm:
            for layer in _sublayers(encoder):
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False


def _sublayers(layer):
    """Every layer nested in ``layer`` (backbones' layers included)."""
    for sublayer in getattr(layer, "layers", []):
        yield sublayer
        yield from _sublayers(sublayer)
