"""MobileNetV2 1.0 224 (ImageNet): ``keras.applications.MobileNetV2`` with the TFLite weights.

The architecture is Keras' own class (``alpha=1.0``, average pooling, 1280 features),
after an in-graph normalization. Its weights come from an int8 post-training-quantized
TFLite file (google-coral/test_data, Apache-2.0) that no registry carries, so mmzoo ships
them converted (``python -m mmzoo.backbones.convert mobilenet_v2``): per convolution the
int8 kernel as TFLite holds it (symmetric, per output channel), its float32 per-channel
scales and its float32 bias. TFLite folds batch normalization into the convolutions, so
each Keras ``BatchNormalization`` is set to the identity plus that bias (gamma 1, mean 0,
variance ``1 - epsilon``, beta the bias). Loading dequantizes the kernels
(``int8 * scale``); nothing reads the TFLite file at run time.

- Input: pixels in [0, 255], normalized as the TFLite input quantization says,
  ``(x - 127) / 127.5`` (its zero point is 127, its scale 1 / 127.5).
- ``build_model(spec, include_top=True)`` adds the 1001-class ImageNet logits
  (index 0 is "background"), the TFLite file's last convolution as a ``Dense`` layer.

Example:
    >>> model = BACKBONE.encoder(BACKBONE.spec(), weights=None)
    >>> model.output.shape
    (None, 1280)
"""

from __future__ import annotations

import pathlib
import re

import keras
import numpy as np
from keras import layers

from mmzoo.backbones.base import Backbone, WeightsFile, fold_bias_into_batch_norm
from mmzoo.backbones.imagenet import FREE_FIELDS, imagenet_spec

CLASSES, FEATURES = 1001, 1280
#: The TFLite file's input quantization: pixel q stands for ``(q - 127) / 127.5``.
PIXEL_ZERO_POINT, PIXEL_SCALE = 127.0, 1.0 / 127.5
_BLOCK = re.compile(r"^(expanded_conv|block_\d+)_")


def _weighted_layers(model):
    """The convolutions and the classifier, in the order TFLite runs them."""
    return [layer for layer in model.layers
            if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense))]


class MobileNetV2(Backbone):
    """MobileNetV2 1.0 224: 2.3 M parameters without the classifier, 1280 features."""

    name = "mobilenet_v2"
    modality = "image"
    title = "MobileNetV2 1.0 224 (ImageNet-1k), keras.applications.MobileNetV2, 1280 features"
    attribution = ("MobileNetV2 by Google (Apache-2.0), trained on ImageNet-1k; weights from "
                   "tf2_mobilenet_v2_1.0_224_ptq.tflite of google-coral/test_data (Apache-2.0), "
                   "int8 per-channel, dequantized.")
    features = FEATURES
    weights_file = WeightsFile(
        "mobilenet_v2.safetensors",
        "72093c62f5f9768a4c958bf73318f92bc5b595075d099e0df9c10d15da431e69", shipped=True)
    source_file = WeightsFile(
        "mobilenet_v2/tf2_mobilenet_v2_1.0_224_ptq.tflite",
        "5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c")
    free_spec_fields = FREE_FIELDS

    def spec(self, **overrides):
        return imagenet_spec(self.name, **overrides)

    def build_model(self, spec, include_top=False):
        """Keras' MobileNetV2 on ``spec`` (random weights): 1280 features, or the 1001
        ImageNet logits with ``include_top=True``."""
        images = spec.keras_input()
        x = layers.Rescaling(PIXEL_SCALE, -PIXEL_ZERO_POINT * PIXEL_SCALE, name="normalize")(images)
        base = keras.applications.MobileNetV2(
            input_shape=spec.shape, alpha=1.0, include_top=False, weights=None, input_tensor=x,
            pooling="avg")
        x = base.output
        if include_top:
            x = layers.Dense(CLASSES, name="predictions")(x)
        return keras.Model(images, x, name=self.name)

    def load_pretrained(self, model, path: pathlib.Path) -> None:
        """Dequantize the shipped kernels into ``model`` and set batch norm to identity + bias."""
        from safetensors.numpy import load_file

        tensors = load_file(str(path))
        following = dict(zip(model.layers, model.layers[1:]))
        for layer in _weighted_layers(model):
            kernel = tensors[f"{layer.name}/kernel"].astype(np.float32) * tensors[f"{layer.name}/scale"]
            bias = tensors[f"{layer.name}/bias"]
            if isinstance(layer, layers.Dense):
                layer.set_weights([kernel, bias])
                continue
            layer.set_weights([kernel])
            # Keras' MobileNetV2 puts each batch norm right after its convolution
            fold_bias_into_batch_norm(following[layer], bias)

    def convert(self, source: pathlib.Path) -> dict[str, np.ndarray]:
        """The int8 kernels (in Keras' layout), float32 per-channel scales (shaped to
        broadcast over the kernel) and float32 biases of the TFLite file's 53 convolutions,
        keyed ``<keras layer>/kernel|scale|bias``."""
        model = self.build_model(self.spec(), include_top=True)
        targets = _weighted_layers(model)
        convolutions = _tflite_convolutions(source)
        if len(convolutions) != len(targets):
            raise ValueError(f"{source} has {len(convolutions)} convolutions, not the "
                             f"{len(targets)} of Keras' MobileNetV2")
        tensors = {}
        for layer, (kind, kernel, scales, bias) in zip(targets, convolutions):
            # TFLite: CONV_2D (out, kh, kw, in), DEPTHWISE_CONV_2D (1, kh, kw, channels).
            kernel = kernel.transpose(1, 2, 3, 0)
            if isinstance(layer, layers.Dense):
                kernel = kernel.reshape(-1, kernel.shape[-1])
            elif isinstance(layer, layers.DepthwiseConv2D):
                scales = scales.reshape(-1, 1)
            expected = tuple(layer.kernel.shape)
            if kernel.shape != expected or (kind == "DEPTHWISE_CONV_2D") != isinstance(
                    layer, layers.DepthwiseConv2D):
                raise ValueError(f"{source}: the {kind} {kernel.shape} does not fit the Keras "
                                 f"layer {layer.name} {expected}")
            tensors.update({f"{layer.name}/kernel": np.ascontiguousarray(kernel),
                            f"{layer.name}/scale": scales, f"{layer.name}/bias": bias})
        return tensors

    def blocks(self, model):
        """The stem (with the normalization), the 17 inverted-residual blocks, then the head
        (the last 1x1 convolution and the pooling)."""
        groups: dict[str, list] = {}
        key = "stem"
        for layer in model.layers:
            if isinstance(layer, layers.InputLayer) or layer.name == "predictions":
                continue
            match = _BLOCK.match(layer.name)
            if match:
                key = match.group(1)
            elif layer.name == "Conv_1":
                key = "head"
            groups.setdefault(key, []).append(layer)
        return list(groups.values())


def _tflite_convolutions(source: pathlib.Path):
    """(op, int8 filter, float32 per-channel scales, float32 bias) of each convolution, in
    execution order; the bias dequantized with its own per-channel scales."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(str(source))
    interpreter.allocate_tensors()
    details = {t["index"]: t for t in interpreter.get_tensor_details()}
    convolutions = []
    for op in interpreter._get_ops_details():
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        _, kernel_index, bias_index = op["inputs"]
        kernel_q = details[kernel_index]["quantization_parameters"]
        bias_q = details[bias_index]["quantization_parameters"]
        if np.any(kernel_q["zero_points"]) or np.any(bias_q["zero_points"]):
            raise ValueError(f"{source}: {op['op_name']} {op['index']} is not symmetric int8")
        kernel = interpreter.get_tensor(kernel_index)
        bias = interpreter.get_tensor(bias_index).astype(np.float64) * bias_q["scales"]
        convolutions.append((op["op_name"], kernel.astype(np.int8),
                             kernel_q["scales"].astype(np.float32), bias.astype(np.float32)))
    return convolutions


BACKBONE = MobileNetV2()
