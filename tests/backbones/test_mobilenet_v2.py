"""MobileNetV2: the dequantized Keras model against ``tf.lite.Interpreter`` on the TFLite
file its weights come from, on the real photos (pixels rounded to the TFLite's uint8 input)."""

import keras
import numpy as np
import pytest

from benchmarks.references.image_parity import MOBILENET_TFLITE, softmax, tflite_mobilenet_v2
from mmzoo.backbones.base import sha256_of, source_weights_dir
from mmzoo.backbones.convert import convert
from mmzoo.backbones.mobilenet_v2 import BACKBONE
from tests.backbones.imagenet_photos import SANITY_LABELS, decode_files, photo_labels, real_files

# Measured on the 11 photos (docs/guides/backbones-image.md): max 0.050, mean 1.6e-4; the
# TFLite file quantizes every activation to int8, which the float model does not.
MAX_PROBABILITY_DIFF, MEAN_PROBABILITY_DIFF = 0.1, 1e-3


def tflite_source():
    path = source_weights_dir() / MOBILENET_TFLITE
    if not path.is_file():
        pytest.skip(f"the TFLite source is not at {path}: set $MMZOO_WEIGHTS_DIR to ../shared/weights")
    return path


@pytest.fixture(scope="module")
def model():
    model = BACKBONE.build_model(BACKBONE.spec(), include_top=True)
    BACKBONE.load_pretrained(model, BACKBONE.weights_file.path())
    return model


@pytest.fixture(scope="module")
def photos(data_dir):
    tflite_source()
    files = {n: p for n, p in real_files(data_dir).items() if n.startswith("photos/")}
    return list(files), np.round(decode_files(files.values(), BACKBONE.spec()))


@pytest.fixture(scope="module")
def probabilities(model, photos):
    names, pixels = photos
    return tflite_mobilenet_v2(pixels), softmax(model.predict(pixels, verbose=0))


def test_top1_agrees_with_tflite_and_probabilities_are_close(probabilities):
    reference, ours = probabilities
    np.testing.assert_array_equal(ours.argmax(-1), reference.argmax(-1))
    diff = np.abs(ours - reference)
    assert diff.max() <= MAX_PROBABILITY_DIFF and diff.mean() <= MEAN_PROBABILITY_DIFF


def test_the_photos_top1_labels_are_right(photos, probabilities):
    labels = photo_labels(photos[0], probabilities[1], 0)
    assert {name: labels[name] for name in SANITY_LABELS} == SANITY_LABELS


def test_every_layer_fed_tflites_input_gives_its_output_within_half_a_step(model, photos):
    """Each convolution + batch norm (+ ReLU6), run on the TFLite's own dequantized input,
    rounds to the TFLite's int8 output: the gap is the activations' quantization only."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(str(tflite_source()), experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                           photos[1][:1].astype(np.uint8))
    interpreter.invoke()
    details = {t["index"]: t for t in interpreter.get_tensor_details()}

    def dequantized(index):
        scale, zero_point = details[index]["quantization"]
        return (interpreter.get_tensor(index).astype(np.float32) - zero_point) * scale, scale

    ops = [op for op in interpreter._get_ops_details()
           if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    convolutions = [layer for layer in model.layers
                    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    assert len(ops) == len(convolutions) + 1  # the classifier is a Dense layer
    following = dict(zip(model.layers, model.layers[1:]))
    previous = dict(zip(model.layers[1:], model.layers))
    worst = 0.0
    for op, layer in zip(ops, convolutions):
        x, _ = dequantized(op["inputs"][0])
        expected, step = dequantized(op["outputs"][0])
        if isinstance(previous[layer], keras.layers.ZeroPadding2D):
            x = previous[layer](x)
        x = following[layer](layer(x), training=False)
        if isinstance(following[following[layer]], keras.layers.ReLU):
            x = following[following[layer]](x)
        worst = max(worst, float(np.abs(np.asarray(x) - expected).max() / step))
    assert worst <= 0.5 + 1e-3


def test_the_converter_writes_the_shipped_bytes(tmp_path):
    tflite_source()
    output = convert("mobilenet_v2", tmp_path)
    assert sha256_of(output) == BACKBONE.weights_file.sha256
    assert sha256_of(BACKBONE.weights_file.path()) == BACKBONE.weights_file.sha256
    assert output.stat().st_size <= 20 * 2 ** 20
