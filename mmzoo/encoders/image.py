"""Image encoders: pixels ``(batch, h, w, c)`` in [0, 255] to an embedding ``(batch, dim)``."""

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
from mmzoo.specs import ImageSpec


def build_image_encoder(spec: ImageSpec, kind="lenet", width=16, depth=2, embedding_dim=64,
                        dropout=0.0, pooling="avg", weights=None, name="image_encoder"):
    """A Functional image encoder; it normalizes [0, 255] pixels itself.

    Args:
        spec: the :class:`~mmzoo.ImageSpec` (height, width, channels).
        kind: ``"lenet"`` (small CNN), ``"resnet"`` (small ResNet) or the name of
            any ``keras.applications`` model, e.g. ``"MobileNetV3Small"``.
        width: filters of the first block (CNN kinds).
        depth: number of blocks (CNN kinds).
        embedding_dim: size of the output embedding; None keeps the pooled features.
        dropout: dropout before the output projection.
        pooling: ``"avg"`` or ``"max"`` global pooling of the final feature map.
        weights: backbones only: None, ``"imagenet"`` or a path to a weights file.

    Example:
        >>> build_image_encoder(ImageSpec(28, 28, 1), "lenet", width=6, depth=3).output.shape
        (None, 64)
    """
    images = spec.keras_input()
    if kind in CONV_KINDS:
        check_feature_map_size(kind, depth, spec.height, spec.width, "ImageSpec")
        x = layers.Rescaling(1.0 / 255.0, name="image_rescaling")(images)
        x = global_pool(conv_stack(x, kind, width, depth, "image"), pooling, "image")
    else:
        check_backbone(kind, weights, spec.channels, "image")
        x = apply_backbone(images, kind, weights, pooling, "image", "ImageSpec")
    return keras.Model(images, project(x, embedding_dim, dropout, "image"), name=name)
