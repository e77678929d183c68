"""YAMNet (Google, Apache-2.0, trained on AudioSet) as a mmzoo audio backbone: a Keras port.

No Keras or KerasHub class holds YAMNet (a MobileNetV1 body on 96 x 64 log-mel patches,
published as TF-Hub / TFLite files only; ``keras.applications.MobileNet`` has its layer
plan but clips activations at 6, which YAMNet's exceed), so this is a Functional port of
the recipe in tensorflow/models ``research/audioset/yamnet``:

waveform ``(batch, samples)`` at 16 kHz -> :class:`YamnetFrontend` (silence padding as the
recipe, float log-mel, patches of 96 frames every 48) ``(batch, patches, 96, 64)`` ->
:class:`PatchesToBatch` -> the 14 convolution layers (a 3x3 convolution, then 13
depthwise-separable ones; batch norm and ReLU after each convolution) -> global average
pool, a 1024-d embedding per patch -> :class:`BatchToPatches` -> the mean over the patches
that hold audio (:class:`AudiblePatchMean`) ``(batch, 1024)``.

The weights come from the int8 TFLite file (its batch norms folded into the convolutions):
:meth:`YamnetBackbone.convert` ships its int8 kernels with their float32 scales, and
:meth:`YamnetBackbone.load_pretrained` dequantizes them. Each batch norm holds identity
statistics and the folded bias as its offset (beta), so in inference mode it adds the bias;
the encoder keeps it in inference mode whenever it holds pretrained weights (statistics of
a batch would undo the folding).

Example:
    >>> spec = BACKBONE.spec(clip_seconds=2.0)
    >>> BACKBONE.build_model(spec).output.shape
    (None, 1024)
"""

from __future__ import annotations

import csv
import pathlib

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from mmzoo.backbones.base import (
    Backbone,
    WeightsFile,
    fold_bias_into_batch_norm,
    refuse_fixed_fields,
)
from mmzoo.preprocessing.log_mel import frames
from mmzoo.specs import AudioSpec

# The recipe's features (params.py there).
SAMPLE_RATE = 16000
WINDOW_LENGTH = 400  # 25 ms, periodic Hann
HOP_LENGTH = 160  # 10 ms
FFT_LENGTH = 512
NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
#: Samples of one patch, 15,600 (0.975 s): the shortest clip the recipe does not pad.
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP_LENGTH + WINDOW_LENGTH
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP_LENGTH
NUM_CLASSES = 521
EMBEDDING_SIZE = 1024
BATCH_NORM_EPSILON = 1e-4
#: (stride, filters) of the 14 layers: a 3x3 convolution, then depthwise-separable ones.
LAYERS = ((2, 32), (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512),
          (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024))
#: The Dense layer :func:`audioset_head` builds (the recipe's logits, then a sigmoid).
HEAD_NAME = "audioset_scores"


def num_patches(num_samples: int) -> int:
    """How many patches YAMNet makes of a clip: the recipe pads it with silence to one
    patch (15,600 samples) plus a whole number of patch hops (7,680 samples).

    Example:
        >>> [num_patches(n) for n in (8000, 15600, 15601, 32000)]
        [1, 1, 2, 4]
    """
    extra = max(0, num_samples - PATCH_SAMPLES)
    return 1 + -(-extra // PATCH_HOP_SAMPLES)


def padded_length(num_samples: int) -> int:
    """The samples of a clip once padded as the recipe pads it (:func:`num_patches`).

    Example:
        >>> padded_length(16000)
        23280
    """
    return PATCH_SAMPLES + (num_patches(num_samples) - 1) * PATCH_HOP_SAMPLES


def _conv_names(index: int) -> list[str]:
    """The convolution layers of recipe layer ``index`` (1-based)."""
    if index == 1:
        return ["layer1_conv"]
    return [f"layer{index}_depthwise_conv", f"layer{index}_pointwise_conv"]


#: Every convolution layer, input side first (the order of the TFLite file's operators).
CONV_NAMES = [name for index in range(1, len(LAYERS) + 1) for name in _conv_names(index)]


@keras.saving.register_keras_serializable(package="mmzoo")
class YamnetFrontend(keras.layers.Layer):
    """Waveforms ``(batch, samples)`` at 16 kHz to YAMNet's log-mel patches
    ``(batch, patches, 96, 64)``, in float core TF ops, as the recipe computes them.

    The clip is padded with silence as the recipe does (:func:`num_patches`); then the
    magnitude STFT (25 ms periodic Hann window, 10 ms hop, 512-point FFT, no centering),
    ``tf.signal.linear_to_mel_weight_matrix`` (64 bins, 125-7500 Hz), ``log(mel + 0.001)``,
    and patches of 96 frames every 48 frames. The number of samples must be static.

    Example:
        >>> YamnetFrontend()(np.zeros((2, 16000), "float32")).shape
        TensorShape([2, 2, 96, 64])
    """

    def call(self, waveforms):
        waveforms = tf.cast(waveforms, tf.float32)
        samples = _static_samples(waveforms.shape)
        waveforms = tf.pad(waveforms, [[0, 0], [0, padded_length(samples) - samples]])
        windowed = frames(waveforms, WINDOW_LENGTH, HOP_LENGTH) * tf.signal.hann_window(
            WINDOW_LENGTH)
        magnitude = tf.abs(tf.signal.rfft(windowed, fft_length=[FFT_LENGTH]))
        mel_matrix = tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins=NUM_MEL_BINS, num_spectrogram_bins=FFT_LENGTH // 2 + 1,
            sample_rate=SAMPLE_RATE, lower_edge_hertz=MEL_MIN_HZ, upper_edge_hertz=MEL_MAX_HZ)
        log_mel = tf.math.log(tf.matmul(magnitude, mel_matrix) + LOG_OFFSET)
        patches = tf.signal.frame(log_mel, PATCH_FRAMES, PATCH_HOP_FRAMES, axis=1)
        return tf.cast(patches, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], num_patches(_static_samples(input_shape)), PATCH_FRAMES,
                NUM_MEL_BINS)


def _static_samples(shape) -> int:
    if len(shape) != 2 or shape[-1] is None:
        raise ValueError(f"the yamnet layers take waveforms (batch, samples) with a static "
                         f"number of samples, as AudioSpec.keras_input() gives, not shape "
                         f"{tuple(shape)}.")
    return int(shape[-1])


@keras.saving.register_keras_serializable(package="mmzoo")
class PatchesToBatch(keras.layers.Layer):
    """``(batch, patches, ...)`` to ``(batch * patches, ...)``: each patch an example.

    Example:
        >>> PatchesToBatch()(np.zeros((2, 3, 96, 64), "float32")).shape
        TensorShape([6, 96, 64])
    """

    def call(self, inputs):
        return tf.reshape(inputs, [-1, *inputs.shape[2:]])

    def compute_output_shape(self, input_shape):
        batch, count = input_shape[:2]
        return (None if batch is None else batch * count, *input_shape[2:])


@keras.saving.register_keras_serializable(package="mmzoo")
class BatchToPatches(keras.layers.Layer):
    """``(batch * patches, ...)`` back to ``(batch, patches, ...)`` (:class:`PatchesToBatch`
    undone).

    Example:
        >>> BatchToPatches(3)(np.zeros((6, 1024), "float32")).shape
        TensorShape([2, 3, 1024])
    """

    def __init__(self, patches: int, **kwargs):
        super().__init__(**kwargs)
        self.patches = patches

    def call(self, inputs):
        return tf.reshape(inputs, [-1, self.patches, *inputs.shape[1:]])

    def compute_output_shape(self, input_shape):
        return (None, self.patches, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "patches": self.patches}


@keras.saving.register_keras_serializable(package="mmzoo")
class AudiblePatchMean(keras.layers.Layer):
    """The mean of patch embeddings ``(batch, patches, d)`` over the patches the recipe
    makes of the clip without its trailing silence, given the waveforms ``(batch, samples)``
    they were made of.

    mmzoo pads a clip with silence (samples equal to 0) up to the spec's ``clip_seconds``,
    then YAMNet pads it to its patch grid. The recipe, given the clip alone, makes patch
    ``k > 0`` only when the clip reaches into the last 7,680 samples (0.48 s) of that
    patch's window, so a patch is kept when a sample there is not 0; the first patch always
    is. A clip's embedding is thus the mean over the patches of the file as the recipe
    scores it, whatever ``clip_seconds``; a clip of silence gets the embedding of silence.

    Example:
        >>> waveforms = np.zeros((1, 32000), "float32")
        >>> waveforms[0, :16000] = 0.1  # the recipe makes 2 patches of 16,000 samples
        >>> embeddings = np.arange(4, dtype="float32").reshape(1, 4, 1)
        >>> AudiblePatchMean()([waveforms, embeddings]).numpy()
        array([[0.5]], dtype=float32)
    """

    def call(self, inputs):
        waveforms, embeddings = inputs
        samples = _static_samples(waveforms.shape)
        padded = padded_length(samples)
        loudness = tf.pad(tf.abs(tf.cast(waveforms, tf.float32)), [[0, 0], [0, padded - samples]])
        # the loudest sample of each hop of 7,680 samples that ends a patch's window
        tails = tf.reshape(loudness[:, PATCH_SAMPLES - PATCH_HOP_SAMPLES:],
                           [-1, embeddings.shape[1], PATCH_HOP_SAMPLES])
        kept = tf.reduce_max(tails, axis=-1) > 0
        kept = kept | (tf.range(embeddings.shape[1]) == 0)[None]
        weights = tf.cast(kept, embeddings.dtype)[..., None]
        return tf.reduce_sum(embeddings * weights, axis=1) / tf.reduce_sum(weights, axis=1)

    def compute_output_shape(self, input_shape):
        waveforms, embeddings = input_shape
        return (embeddings[0], embeddings[-1])


def _conv_bn_relu(x, conv):
    """``conv``, then batch norm (``<conv name>_bn``) and ReLU (``<conv name>_relu``)."""
    x = layers.BatchNormalization(center=True, scale=False, epsilon=BATCH_NORM_EPSILON,
                                  name=f"{conv.name}_bn")(conv(x))
    return layers.ReLU(name=f"{conv.name}_relu")(x)


def _body(x):
    """The recipe's 14 layers on patches ``(n, 96, 64, 1)``: feature maps ``(n, 3, 2, 1024)``."""
    for index, (stride, filters) in enumerate(LAYERS, 1):
        if index == 1:
            x = _conv_bn_relu(x, layers.Conv2D(filters, 3, stride, padding="same",
                                               use_bias=False, name="layer1_conv"))
        else:
            depthwise, pointwise = _conv_names(index)
            x = _conv_bn_relu(x, layers.DepthwiseConv2D(3, stride, padding="same",
                                                        use_bias=False, name=depthwise))
            x = _conv_bn_relu(x, layers.Conv2D(filters, 1, padding="same", use_bias=False,
                                               name=pointwise))
    return x


def _dequantized(tensors: dict, name: str) -> np.ndarray:
    """Kernel ``name`` in float32: int8 times its scale, or float32 as stored."""
    kernel = tensors[f"{name}/kernel"].astype(np.float32)
    scale = tensors.get(f"{name}/kernel_scale")
    return kernel if scale is None else kernel * scale


def _read_weights(path) -> dict:
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    expected = {f"{name}/{part}" for name in [*CONV_NAMES, HEAD_NAME]
                for part in ("kernel", "bias")}
    missing = expected - set(tensors)
    if missing:
        raise ValueError(f"{path} is not a YAMNet weights file: it misses {sorted(missing)[:3]}; "
                         "rebuild it with python -m mmzoo.backbones.convert yamnet.")
    return tensors


def audioset_head(path=None) -> keras.layers.Dense:
    """YAMNet's pretrained classifier: ``Dense(521, sigmoid)`` from 1024-d patch embeddings
    to AudioSet scores (``path``: the weights file; default: the shipped one).

    Example:
        >>> head = audioset_head()  # doctest: +SKIP
        >>> head(np.zeros((1, 1024), "float32")).shape  # doctest: +SKIP
        TensorShape([1, 521])
    """
    tensors = _read_weights(path or BACKBONE.weights_file.path())
    head = layers.Dense(NUM_CLASSES, activation="sigmoid", name=HEAD_NAME)
    head.build((None, EMBEDDING_SIZE))
    head.set_weights([_dequantized(tensors, HEAD_NAME), tensors[f"{HEAD_NAME}/bias"]])
    return head


def patch_scores_model(encoder, path=None) -> keras.Model:
    """The AudioSet scores of every patch, ``(batch, patches, 521)``, from the waveform
    input of a pretrained yamnet ``encoder`` (its layers shared).

    Example:
        >>> encoder = BACKBONE.encoder(BACKBONE.spec())  # doctest: +SKIP
        >>> patch_scores_model(encoder).output.shape  # doctest: +SKIP
        (None, 1, 521)
    """
    embeddings = encoder.get_layer("patch_embeddings").output
    return keras.Model(encoder.input, audioset_head(path)(embeddings), name="yamnet_scores")


def log_mel_scores_model(encoder, path=None) -> keras.Model:
    """The AudioSet scores ``(n, 521)`` of log-mel patches ``(n, 96, 64)`` (the frontend
    skipped), through a pretrained yamnet ``encoder``'s layers, e.g. to feed it another
    frontend's patches."""
    patches = encoder.get_layer("patches_to_batch").output
    embedding = encoder.get_layer("patch_embedding").output
    return keras.Model(patches, audioset_head(path)(embedding), name="yamnet_log_mel_scores")


def audioset_class_names() -> list[str]:
    """The display names of the 521 AudioSet classes, in score order, read from
    ``yamnet/yamnet_class_map.csv`` in ``$MMZOO_WEIGHTS_DIR`` (sha256-checked)."""
    with open(CLASS_MAP_FILE.path(), newline="", encoding="utf-8") as file:
        return [row["display_name"] for row in csv.DictReader(file)]


#: The class names beside the TFLite file (not needed to use the encoder).
CLASS_MAP_FILE = WeightsFile("yamnet/yamnet_class_map.csv",
                             "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2")


def _tflite_layers(source) -> list[tuple[dict, np.ndarray, np.ndarray, str]]:
    """The convolution operators of the TFLite file and its classifier, in graph order, each
    as (kernel details, kernel, bias, bias name); a DEQUANTIZE before a kernel is looked through."""
    interpreter = tf.lite.Interpreter(
        model_path=str(source), experimental_op_resolver_type=(
            tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    interpreter.allocate_tensors()
    details = {tensor["index"]: tensor for tensor in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    dequantized = {int(op["outputs"][0]): int(op["inputs"][0]) for op in ops
                   if op["op_name"] == "DEQUANTIZE"}
    convs = [op for op in ops if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    # the frontend's DFT and mel matrix products come first; the classifier is the last
    classifier = [op for op in ops if op["op_name"] == "FULLY_CONNECTED"][-1]
    found = []
    for op in [*convs, classifier]:
        kernel, bias = int(op["inputs"][1]), int(op["inputs"][2])
        kernel = dequantized.get(kernel, kernel)
        found.append((details[kernel], interpreter.get_tensor(kernel),
                      interpreter.get_tensor(bias), details[bias]["name"]))
    return found


def _converted(name: str, details: dict, kernel: np.ndarray, bias: np.ndarray) -> dict:
    """One layer's tensors in Keras layouts: the kernel (int8 or float32 as in the file),
    its float32 scale broadcastable to it (per output channel or per tensor, as in the file)
    and the float32 bias."""
    if kernel.ndim == 4:  # (out, h, w, in) or depthwise (1, h, w, c) -> (h, w, in, out), (h, w, c, 1)
        kernel = kernel.transpose(1, 2, 3, 0)
    else:  # fully connected (out, in) -> (in, out)
        kernel = kernel.T
    tensors = {f"{name}/kernel": np.ascontiguousarray(kernel),
               f"{name}/bias": np.asarray(bias, np.float32)}
    if kernel.dtype == np.int8:
        quantization = details["quantization_parameters"]
        if np.any(quantization["zero_points"] != 0):
            raise ValueError(f"the TFLite kernel of {name} is not symmetrically quantized")
        scales = np.asarray(quantization["scales"], np.float32)
        shape = [1] * kernel.ndim
        shape[-1] = scales.size  # the output channels (1: one scale for the tensor)
        tensors[f"{name}/kernel_scale"] = scales.reshape(shape)
    return tensors


def _tflite_name(name: str) -> str:
    """The recipe's name of a layer, as in the TFLite file's tensor names."""
    return "/dense/" if name == HEAD_NAME else "/" + name.replace("_", "/", 1) + "/"


class YamnetBackbone(Backbone):
    """YAMNet: 16 kHz waveforms to the mean of the 1024-d embeddings of its patches."""

    name = "yamnet"
    modality = "audio"
    title = "YAMNet (AudioSet, 521 classes), MobileNetV1 on 96 x 64 log-mel patches"
    attribution = ("YAMNet (Google, Apache-2.0), trained on AudioSet; weights converted from "
                   "the int8 TFLite file of the GitHub repository Jaskaran197/Speaker-Detector "
                   "(a TFLite fork of tensorflow/models research/audioset/yamnet)")
    features = EMBEDDING_SIZE
    weights_file = WeightsFile(
        "yamnet.safetensors", "c768509517aff7e03187e3cedaef9e6e1ff51a87a622f34f55d6ae01fc556c9b",
        shipped=True)
    source_file = WeightsFile("yamnet/yamnet.tflite",
                              "469be6a3421cbc52cf97e9f2f966cba984198e8e7af9854d68b3e3ebb1e04194")
    free_spec_fields = ("clip_seconds",)

    def spec(self, **overrides) -> AudioSpec:
        """The AudioSpec YAMNet serves; only ``clip_seconds`` is free (0.975 s, one patch,
        by default; shorter clips are padded with silence, longer ones give more patches).

        Example:
            >>> BACKBONE.spec(clip_seconds=2.0).num_samples
            32000
        """
        refuse_fixed_fields(self.name, AudioSpec, overrides, self.free_spec_fields)
        return AudioSpec(sample_rate=SAMPLE_RATE, clip_seconds=overrides.get("clip_seconds", 0.975),
                         num_mel_bins=NUM_MEL_BINS, fft_length=FFT_LENGTH,
                         hop_length=HOP_LENGTH, fmin=MEL_MIN_HZ, fmax=MEL_MAX_HZ,
                         backbone=self.name)

    def build_model(self, spec: AudioSpec) -> keras.Model:
        waveforms = spec.keras_input()
        patches = YamnetFrontend(name="yamnet_frontend")(waveforms)
        x = PatchesToBatch(name="patches_to_batch")(patches)
        x = layers.Reshape((PATCH_FRAMES, NUM_MEL_BINS, 1), name="patch_image")(x)
        x = layers.GlobalAveragePooling2D(name="patch_embedding")(_body(x))
        x = BatchToPatches(num_patches(spec.num_samples), name="patch_embeddings")(x)
        embedding = AudiblePatchMean(name="embedding")([waveforms, x])
        return keras.Model(waveforms, embedding, name="yamnet")

    def load_pretrained(self, model, path: pathlib.Path) -> None:
        tensors = _read_weights(path)
        for name in CONV_NAMES:
            model.get_layer(name).set_weights([_dequantized(tensors, name)])
            fold_bias_into_batch_norm(model.get_layer(f"{name}_bn"), tensors[f"{name}/bias"])

    def blocks(self, model) -> list[list]:
        """The recipe's 14 layers (convolutions, batch norms, ReLUs), input side first."""
        return [[layer for layer in model.layers if layer.name.startswith(f"layer{index}_")]
                for index in range(1, len(LAYERS) + 1)]

    def convert(self, source: pathlib.Path) -> dict[str, np.ndarray]:
        """The TFLite file's kernels in Keras layouts (int8 ones with their float32 scales,
        per output channel or per tensor as in the file) and float32 biases (folded batch
        norms), named ``<keras layer>/kernel``, ``/kernel_scale`` and ``/bias``."""
        found = _tflite_layers(source)
        names = [*CONV_NAMES, HEAD_NAME]
        if len(found) != len(names):
            raise ValueError(f"{source} has {len(found)} convolution and classifier operators, "
                             f"not YAMNet's {len(names)}")
        tensors = {}
        for name, (details, kernel, bias, bias_name) in zip(names, found):
            if not all(_tflite_name(name) in tensor for tensor in (details["name"], bias_name)):
                raise ValueError(f"{source}: the operator taken for {name} reads "
                                 f"{details['name']!r} and {bias_name!r}, not that layer's")
            tensors.update(_converted(name, details, kernel, bias))
        return tensors


BACKBONE = YamnetBackbone()

__all__ = ["BACKBONE", "AudiblePatchMean", "BatchToPatches", "PatchesToBatch", "YamnetBackbone",
           "YamnetFrontend", "audioset_class_names", "audioset_head", "log_mel_scores_model",
           "num_patches", "padded_length", "patch_scores_model"]
