"""Pretrained backbones: mmzoo's Keras model against its original runtime, and the served
tri-modal model.

Per backbone and batch size (1 and 32), the CPU time per example (``time.process_time``:
every thread of the process) of the reference runtime, then of mmzoo's backbone as a
``tf.function``, same inputs, same process:

- ``minilm_l6`` against sentence-transformers' ``encode`` (tokenization included on both
  sides; stamps descriptions; mmzoo pads to a fixed 64 tokens, sentence-transformers to the
  batch's longest text);
- ``efficientnet_lite0`` against the PyTorch EfficientNet-Lite0 (efficientnet-lite-pytorch);
- ``mobilenet_v2`` and ``yamnet`` against ``tf.lite.Interpreter`` on their TFLite files
  (one example per call: their reshapes fix the batch at 1).

Then the batch-1 latency (p50) of the tri-modal pretrained SavedModel on raw inputs (a
text, a JPEG, a WAV) against the Keras model on features preprocessed beforehand.
The torch rows need ``make bench``'s environment (torch, sentence-transformers,
efficientnet-lite-pytorch); the TFLite rows need ``$MMZOO_WEIGHTS_DIR``.

Run alone: ``python -m benchmarks.backbones``.
"""

from __future__ import annotations

import os
import tempfile
import time
import types

import numpy as np

BATCHES = (1, 32)
#: Examples timed per measurement (at least two batches).
EXAMPLES = 64
TEXT_LENGTH = 64
TARGETS = {f"mmzoo {name}, batch {batch}": ("<=", 1.0)
           for name in ("minilm_l6", "efficientnet_lite0") for batch in BATCHES}


def cpu_ms_per_example(call, batches: list) -> float:
    """CPU milliseconds per example of ``call`` over ``batches`` (after one warm-up call)."""
    call(batches[0])
    start = time.process_time()
    examples = 0
    for batch in batches:
        call(batch)
        examples += len(batch)
    return (time.process_time() - start) * 1000 / examples


def batched(values, size: int) -> list:
    """``values`` (a list or an array) cut into batches of ``size``, EXAMPLES in all."""
    values = (list(values) * (EXAMPLES // len(values) + 1))[:EXAMPLES]
    return [values[i:i + size] for i in range(0, EXAMPLES, size)]


def keras_call(model):
    """``model`` on a numpy batch, as one ``tf.function`` (graph mode, as served)."""
    import tensorflow as tf

    function = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return lambda batch: function(tf.constant(np.asarray(batch)))


def rows(backbone: str, reference: str, reference_call, mmzoo_call, inputs) -> list:
    """The two rows of each batch size: the reference, then mmzoo with its ratio."""
    result = []
    for size in BATCHES:
        reference_ms = cpu_ms_per_example(reference_call, batched(inputs, size))
        ours = cpu_ms_per_example(mmzoo_call, batched(inputs, size))
        result += [(f"{reference} {backbone}, batch {size}", reference_ms, "ms CPU/example", 1.0),
                   (f"mmzoo {backbone}, batch {size}", ours, "ms CPU/example", ours / reference_ms)]
    return result


def pretrained(name: str):
    """Backbone ``name``'s encoder with its pretrained weights, and its spec."""
    from mmzoo.backbones import backbone_spec, get_backbone

    spec = backbone_spec(name, **({"sequence_length": TEXT_LENGTH} if name == "minilm_l6" else {}))
    return get_backbone(name).encoder(spec), spec


def stamp_descriptions() -> list[str]:
    from mmzoo.datasets.manual_dir import default_manual_dir

    paths = sorted((default_manual_dir() / "stamps").rglob("*.txt"))[:EXAMPLES]
    return [p.read_text(encoding="utf-8").split("\n", 1)[0].strip() for p in paths]


def minilm() -> list:
    import tensorflow as tf
    from sentence_transformers import SentenceTransformer

    from mmzoo.backbones import get_backbone
    from mmzoo.converters.text import WordPieceTokenizer

    model, spec = pretrained("minilm_l6")
    tokenizer = WordPieceTokenizer(spec)
    encode = tf.function(lambda texts: model(tokenizer(texts), training=False))
    folder = get_backbone("minilm_l6").weights_file.path().parent
    reference = SentenceTransformer(str(folder), device="cpu")
    return rows("minilm_l6", "sentence-transformers", lambda texts: reference.encode(
        texts, batch_size=len(texts), convert_to_numpy=True),
        lambda texts: encode(tf.constant(texts)), stamp_descriptions())


def random_pixels(spec) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (8, *spec.shape)).round().astype(np.float32)


def efficientnet_lite0() -> list:
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    from mmzoo.backbones import get_backbone

    model, spec = pretrained("efficientnet_lite0")
    reference = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=str(get_backbone("efficientnet_lite0").weights_file.path()))
    reference.eval()

    def torch_call(batch):
        with torch.inference_mode():
            pixels = (np.asarray(batch) - 127.0) / 128.0
            return reference(torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy()))

    return rows("efficientnet_lite0", "torch", torch_call, keras_call(model), random_pixels(spec))


def tflite_call(path, input_dtype):
    """A batch through a TFLite file one example at a time (its batch is fixed at 1)."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(str(path), num_threads=os.cpu_count())
    interpreter.allocate_tensors()
    (source,), output = interpreter.get_input_details(), interpreter.get_output_details()[0]

    def call(batch):
        for example in batch:
            interpreter.set_tensor(source["index"], np.asarray(example, input_dtype)[None])
            interpreter.invoke()
            interpreter.get_tensor(output["index"])

    return call


def mobilenet_v2() -> list:
    from mmzoo.backbones import get_backbone
    from mmzoo.backbones.base import source_weights_dir

    model, spec = pretrained("mobilenet_v2")
    path = source_weights_dir() / "mobilenet_v2" / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
    return rows("mobilenet_v2", "tf.lite", tflite_call(path, np.uint8), keras_call(model),
                random_pixels(get_backbone("mobilenet_v2").spec()))


def yamnet() -> list:
    from mmzoo.backbones import get_backbone

    backbone = get_backbone("yamnet")
    model, spec = pretrained("yamnet")
    noise = np.random.default_rng(0).normal(0, 0.1, (8, spec.num_samples)).astype(np.float32)
    return rows("yamnet", "tf.lite", tflite_call(backbone.source_file.path(), np.float32),
                keras_call(model), noise)


def serving() -> list:
    """Batch-1 p50 latency: the exported tri-modal pretrained model on raw inputs, and the
    Keras model on preprocessed features."""
    import tensorflow as tf

    import mmzoo
    from benchmarks.serving import SINGLE_CALLS, latencies_ms, raw_example
    from mmzoo.backbones import backbone_spec
    from mmzoo.export import export_saved_model
    from mmzoo.preprocessing import Preprocessor

    specs = {"text": backbone_spec("minilm_l6", sequence_length=TEXT_LENGTH),
             "image": backbone_spec("efficientnet_lite0"), "audio": backbone_spec("yamnet")}
    model = mmzoo.build_classifier(**specs, num_classes=16)
    preprocessor = Preprocessor(**specs)
    with tempfile.TemporaryDirectory() as directory:
        serve = tf.saved_model.load(str(export_saved_model(
            model, directory, preprocessor=preprocessor))).signatures["serving_default"]
    raw = {name: tf.constant([value]) for name, value in raw_example().items()}
    features = preprocessor(raw)
    keras_ms = np.median(latencies_ms(lambda: model(features, training=False), SINGLE_CALLS))
    served_ms = np.median(latencies_ms(lambda: serve(**raw), SINGLE_CALLS))
    return [("Keras, preprocessed features, batch 1 p50", keras_ms, "ms", 1.0),
            ("SavedModel, raw inputs, batch 1 p50", served_ms, "ms", served_ms / keras_ms)]


def group(run):
    """A benchmark group as ``benchmarks.run`` takes one: its ``run`` and the ``TARGETS``."""
    return types.SimpleNamespace(run=run, TARGETS=TARGETS)


#: The benchmark groups, by title (``benchmarks.run`` prints each as a group of rows).
GROUPS = {
    "Text backbone (MiniLM-L6, 64 tokens) vs sentence-transformers": group(minilm),
    "Image backbone (EfficientNet-Lite0, 224x224) vs PyTorch": group(efficientnet_lite0),
    "Image backbone (MobileNetV2, 224x224) vs its int8 TFLite file": group(mobilenet_v2),
    "Audio backbone (YAMNet, 0.975 s) vs its int8 TFLite file": group(yamnet),
    "Serving the tri-modal pretrained model (MiniLM + EfficientNet-Lite0 + YAMNet)": group(serving),
}


if __name__ == "__main__":
    for title, group in GROUPS.items():
        print(title)
        for name, value, unit, ratio in group.run():
            print(f"  {name}: {value:,.2f} {unit} ({ratio:.2f}x)")
