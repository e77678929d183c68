"""Dataset transforms on pipeline output: ``(features, labels)`` elements."""

from __future__ import annotations

import tensorflow as tf

from mmzoo.specs import presence_key


def mark_absent(dataset: tf.data.Dataset, modalities) -> tf.data.Dataset:
    """The dataset with ``modalities`` marked absent (presence flags 0) in every example.

    For training or evaluating with only some modalities, or a per-modality ablation.

    Example:
        >>> audio_free = mark_absent(train_dataset, ["audio"])  # doctest: +SKIP
    """
    modalities = list(modalities)

    def mark(features, labels):
        features = dict(features)
        for modality in modalities:
            key = presence_key(modality)
            if key not in features:
                raise ValueError(f"cannot mark {modality!r} absent: the dataset has no {key!r}; "
                                 f"its features are {sorted(features)}.")
            features[key] = tf.zeros_like(features[key])
        return features, labels

    return dataset.map(mark, num_parallel_calls=tf.data.AUTOTUNE)
