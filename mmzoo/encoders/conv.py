"""Convolutional stacks shared by the image and audio encoders (2-D feature maps)."""

from __future__ import annotations

import os

import keras
from keras import layers

from mmzoo.backbones import backbone_names as pretrained_backbone_names
from mmzoo.layers import BackbonePreprocessing

CONV_KINDS = ("lenet", "resnet")


def backbone_names() -> list[str]:
    """Every ``keras.applications`` model usable as a backbone, e.g. ``"MobileNetV3Small"``."""
    return sorted(name for name in dir(keras.applications)
                  if name[:1].isupper() and callable(getattr(keras.applications, name)))


def downsampling_factor(kind: str, depth: int) -> int:
    """How much a conv stack shrinks each spatial side (the input must be at least this)."""
    return 2 ** depth if kind == "lenet" else 2 ** max(depth - 1, 0)


def check_feature_map_size(kind, depth, height, width, what):
    """Raise a ValueError when a feature map is too small for ``depth`` poolings."""
    factor = downsampling_factor(kind, depth)
    if min(height, width) < factor:
        raise ValueError(
            f"{what} gives a {height}x{width} map, too small for a {kind} encoder of depth={depth} "
            f"(needs at least {factor}x{factor}); use a larger spec or a smaller depth."
        )


def conv_stack(x, kind, width, depth, prefix):
    """LeNet-style or ResNet-style convolutions on a ``(batch, h, w, c)`` tensor.

    ``lenet``: ``depth`` blocks of conv (5x5 first, then 3x3; filters doubling
    from ``width``) + batch norm + ReLU + 2x2 max pooling, as MultiBench's LeNet.
    ``resnet``: a 3x3 stem then ``depth`` basic residual blocks, filters doubling
    and stride 2 from the second block on.
    """
    if kind == "lenet":
        for i in range(depth):
            x = layers.Conv2D(width * 2**i, 5 if i == 0 else 3, padding="same", use_bias=False,
                              name=f"{prefix}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"{prefix}_bn{i}")(x)
            x = layers.ReLU(name=f"{prefix}_relu{i}")(x)
            x = layers.MaxPooling2D(2, name=f"{prefix}_pool{i}")(x)
        return x
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{prefix}_stem_conv")(x)
    x = layers.BatchNormalization(name=f"{prefix}_stem_bn")(x)
    x = layers.ReLU(name=f"{prefix}_stem_relu")(x)
    for i in range(depth):
        x = _residual_block(x, width * 2**i, 1 if i == 0 else 2, f"{prefix}_block{i}")
    return x


def _residual_block(x, filters, stride, prefix):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                 name=f"{prefix}_shortcut_conv")(x)
        shortcut = layers.BatchNormalization(name=f"{prefix}_shortcut_bn")(shortcut)
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                      name=f"{prefix}_conv1")(x)
    y = layers.BatchNormalization(name=f"{prefix}_bn1")(y)
    y = layers.ReLU(name=f"{prefix}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}_conv2")(y)
    y = layers.BatchNormalization(name=f"{prefix}_bn2")(y)
    y = layers.Add(name=f"{prefix}_add")([shortcut, y])
    return layers.ReLU(name=f"{prefix}_out")(y)


def global_pool(x, pooling, prefix):
    """``(batch, h, w, c)`` to ``(batch, c)`` by ``"avg"`` or ``"max"`` pooling."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=f"{prefix}_avg_pool")(x)
    return layers.GlobalMaxPooling2D(name=f"{prefix}_max_pool")(x)


def check_backbone(kind, weights, channels, modality):
    """Validate a ``keras.applications`` backbone name and its ``weights`` up front."""
    argument = f"{modality} encoder kind"
    if kind not in backbone_names():
        raise ValueError(
            f"{argument}={kind!r} is unknown; use one of {list(CONV_KINDS)} or a "
            f"keras.applications backbone: {backbone_names()}, or a pretrained backbone of "
            f"mmzoo.backbones: {pretrained_backbone_names(modality)}."
        )
    if weights not in (None, "imagenet") and not os.path.isfile(str(weights)):
        raise ValueError(
            f"weights={weights!r} is neither None, 'imagenet' nor an existing weights file; "
            "pass one of those."
        )
    if weights == "imagenet" and channels != 3:
        raise ValueError(
            f"weights='imagenet' needs 3-channel images but the spec has channels={channels}; "
            "use ImageSpec(channels=3) or weights=None."
        )


def apply_backbone(x, kind, weights, pooling, prefix, what, preprocess=True):
    """Run a ``keras.applications`` backbone (``include_top=False``) and pool its output.

    ``what`` names the spec the input comes from, for error messages.
    """
    if preprocess and x.shape[-1] == 3:
        x = BackbonePreprocessing(kind, name=f"{prefix}_backbone_preprocessing")(x)
    try:
        backbone = getattr(keras.applications, kind)(
            include_top=False, weights=weights, input_shape=tuple(x.shape[1:]), pooling=pooling,
            name=f"{prefix}_{kind.lower()}",
        )
    except ValueError as error:
        raise ValueError(f"the {kind} backbone cannot take the {tuple(x.shape[1:])} input that "
                         f"{what} gives: {error}. Use a larger spec or another kind.") from None
    return backbone(x)
