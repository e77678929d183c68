"""Audio encoders: waveforms ``(batch, samples)`` to an embedding ``(batch, dim)``.

The log-mel frontend is part of the model, so exported models take waveforms.
"""

from __future__ import annotations

import keras
from keras import layers

from mmzoo.encoders.common import project
from mmzoo.encoders.conv import (
    CONV_KINDS,
    apply_backbone,
    check_backbone,
    check_feature_map_size,
    conv_stack,
    global_pool,
)
from mmzoo.preprocessing.log_mel import LogMelSpectrogram
from mmzoo.specs import AudioSpec


def build_audio_encoder(spec: AudioSpec, kind="lenet", width=16, depth=2, embedding_dim=64,
                        dropout=0.0, pooling="avg", weights=None, name="audio_encoder"):
    """A Functional audio encoder: log-mel frontend, then a 2-D CNN on the spectrogram.

    The log-mel spectrogram ``(frames, mel bins)`` is batch-normalized per mel
    bin and treated as a one-channel image.

    Args:
        spec: the :class:`~mmzoo.AudioSpec` (sample rate, clip length, mel settings).
        kind: ``"lenet"``, ``"resnet"`` or any ``keras.applications`` model name
            (a learned 1x1 convolution maps the spectrogram to 3 channels).
        width: filters of the first block (CNN kinds).
        depth: number of blocks (CNN kinds).
        embedding_dim: size of the output embedding; None keeps the pooled features.
        dropout: dropout before the output projection.
        pooling: ``"avg"`` or ``"max"`` global pooling of the final feature map.
        weights: backbones only: None, ``"imagenet"`` or a path to a weights file.

    Example:
        >>> spec = AudioSpec(sample_rate=8000, clip_seconds=0.5)
        >>> build_audio_encoder(spec, "lenet", width=8, depth=2).output.shape
        (None, 64)
    """
    waveforms = spec.keras_input()
    x = LogMelSpectrogram.from_spec(spec, name="audio_log_mel")(waveforms)
    x = layers.BatchNormalization(name="audio_mel_norm")(x)
    x = layers.Reshape((spec.num_frames, spec.num_mel_bins, 1), name="audio_spectrogram")(x)
    if kind in CONV_KINDS:
        check_feature_map_size(kind, depth, spec.num_frames, spec.num_mel_bins,
                               "AudioSpec's log-mel spectrogram")
        x = global_pool(conv_stack(x, kind, width, depth, "audio"), pooling, "audio")
    else:
        check_backbone(kind, weights, 3, "audio")
        x = layers.Conv2D(3, 1, name="audio_to_channels")(x)
        x = apply_backbone(x, kind, weights, pooling, "audio", "AudioSpec's log-mel spectrogram",
                           preprocess=False)
    return keras.Model(waveforms, project(x, embedding_dim, dropout, "audio"), name=name)
