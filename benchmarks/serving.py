"""Serving: the exported SavedModel on raw inputs vs Keras ``model.predict`` on preprocessed ones.

``attention_small`` (BiGRU text, ResNet image and audio encoders, random weights) is
exported with :func:`mmzoo.export_saved_model` and loaded back with
``tf.saved_model.load``, as TF Serving would. Its ``serving_default`` signature takes
what a client sends (a 12-word text, a 128x96 JPEG, a 1 s WAV at 22.05 kHz that is
resampled to 16 kHz) and does the decoding and preprocessing itself; the Keras rows get
features preprocessed beforehand, so they measure the model alone. The ``preprocessed``
signature (same features as Keras) isolates what the export adds around the model.
Batch 1: latency percentiles over single requests; batch 64: throughput.

Run alone: ``python -m benchmarks.serving``.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

ARCHITECTURE = "attention_small"
TEXT = "a small green frog sits on the wet stone by the river and sings at night"
LARGE_BATCH = 64
LARGE_BATCH_CALLS = 8
SINGLE_CALLS = 100


def raw_example() -> dict[str, bytes | str]:
    """One request's inputs: text, a JPEG photo-like gradient, a 1 s tone at 22.05 kHz."""
    import tensorflow as tf

    y, x = np.mgrid[0:96, 0:128]
    pixels = np.stack([x * 2, y * 2, (x + y) % 256], axis=-1).astype(np.uint8)
    t = np.arange(22050) / 22050
    wave = (0.4 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(0).normal(size=t.size))
    return {"text": TEXT, "image": tf.io.encode_jpeg(pixels).numpy(),
            "audio": tf.audio.encode_wav(wave[:, None].astype(np.float32), 22050).numpy()}


def latencies_ms(call, calls: int) -> np.ndarray:
    call()  # warm-up: the first call traces or compiles
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return np.array(times)


def measure() -> dict[str, np.ndarray]:
    """Milliseconds per call of every measured configuration."""
    import tensorflow as tf

    import mmzoo
    from mmzoo.export import export_saved_model
    from mmzoo.models import model_config
    from mmzoo.preprocessing import Preprocessor

    config = model_config(ARCHITECTURE)
    preprocessor = Preprocessor(text=config["text"], image=config["image"],
                                audio=config["audio"]).adapt([TEXT, "a dog barks", "rain"])
    model = mmzoo.create_model(ARCHITECTURE)
    example = raw_example()
    with tempfile.TemporaryDirectory() as directory:
        loaded = tf.saved_model.load(str(export_saved_model(model, directory,
                                                            preprocessor=preprocessor)))
    serve, preprocessed = loaded.signatures["serving_default"], loaded.signatures["preprocessed"]

    def batch(size):
        return {name: tf.constant([value] * size) for name, value in example.items()}

    raw = {size: batch(size) for size in (1, LARGE_BATCH)}
    features = {size: preprocessor(raw[size]) for size in (1, LARGE_BATCH)}
    return {
        "keras 64": latencies_ms(lambda: model.predict(features[LARGE_BATCH], verbose=0),
                                 LARGE_BATCH_CALLS),
        "raw 64": latencies_ms(lambda: serve(**raw[LARGE_BATCH]), LARGE_BATCH_CALLS),
        "preprocessed 64": latencies_ms(lambda: preprocessed(**features[LARGE_BATCH]),
                                        LARGE_BATCH_CALLS),
        "keras 1": latencies_ms(lambda: model.predict(features[1], verbose=0), SINGLE_CALLS),
        "raw 1": latencies_ms(lambda: serve(**raw[1]), SINGLE_CALLS),
    }


def run() -> list[tuple[str, float, str, float]]:
    """Rows ``(measured, value, unit, ratio)``: throughput at batch 64, latency at batch 1."""
    times = measure()
    rate = {name: LARGE_BATCH * 1000 / np.mean(t) for name, t in times.items() if "64" in name}
    p50 = {name: np.percentile(times[name], 50) for name in ("keras 1", "raw 1")}
    p95 = {name: np.percentile(times[name], 95) for name in ("keras 1", "raw 1")}
    for name in ("keras 1", "raw 1"):
        print(f"{name}: p50 {p50[name]:.2f} ms, p95 {p95[name]:.2f} ms over {SINGLE_CALLS} calls")
    keras = rate["keras 64"]
    return [
        ("Keras model.predict, preprocessed inputs, batch 64", keras, "examples/s", 1.0),
        ("SavedModel raw signature (decode + preprocess + model) vs Keras predict, batch 64",
         rate["raw 64"], "examples/s", rate["raw 64"] / keras),
        ("SavedModel preprocessed signature vs Keras predict, batch 64", rate["preprocessed 64"],
         "examples/s", rate["preprocessed 64"] / keras),
        ("Keras model.predict, preprocessed inputs, batch 1: p50 latency", p50["keras 1"], "ms", 1.0),
        ("SavedModel raw signature vs Keras predict, batch 1: p50 latency", p50["raw 1"], "ms",
         p50["raw 1"] / p50["keras 1"]),
        ("SavedModel raw signature vs Keras predict, batch 1: p95 latency", p95["raw 1"], "ms",
         p95["raw 1"] / p95["keras 1"]),
    ]


if __name__ == "__main__":
    for name, value, unit, ratio in run():
        print(f"{name:84s} {value:9.1f} {unit:10s} {ratio:6.2f}x")
