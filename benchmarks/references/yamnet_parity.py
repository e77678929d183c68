"""YAMNet parity: mmzoo's Keras port against ``tf.lite.Interpreter`` on the TFLite file.

    PYTHONPATH=. .venv/bin/python -m benchmarks.references.yamnet_parity [--per-set 150]

Real clips from ``$MMZOO_DATA_DIR`` (stamps French narrations, stamps sound effects, FSDD
spoken digits), decoded and resampled to 16 kHz mono by mmzoo's own loader
(:func:`mmzoo.preprocessing.read_audio_file`), cut to their first 15,600 samples (one
patch, 0.975 s; shorter ones padded with silence, as the TFLite file takes exactly that).
Each window's 521 AudioSet scores from the interpreter are compared with mmzoo's twice:

- *waveform*: mmzoo's whole model (float log-mel frontend, dequantized weights, float
  activations);
- *TFLite log-mel*: mmzoo's body fed the interpreter's own log-mel patch (its second
  output), which leaves out the frontend's part of the gap.

Prints top-1 agreement and the max and mean absolute score difference per set (a markdown
table, as in ``docs/guides/backbones-audio.md``). Needs TensorFlow only (no torch).
"""

from __future__ import annotations

import argparse
import os
import pathlib

import numpy as np

WINDOW = 15600
SETS = ("stamps narrations (fr)", "stamps sound effects", "FSDD digits")


def data_dir() -> pathlib.Path:
    """``$MMZOO_DATA_DIR``, else ``../shared/data`` beside the repository root."""
    default = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"
    return pathlib.Path(os.environ.get("MMZOO_DATA_DIR", default))


def clip_paths(root: pathlib.Path, per_set: int) -> dict[str, list[pathlib.Path]]:
    """At most ``per_set`` files of each set, evenly spread over its sorted paths (so over
    the stamps' categories and the FSDD digits and speakers)."""
    stamps = sorted((root / "stamps").rglob("*.ogg"))
    sets = {SETS[0]: [p for p in stamps if p.name.endswith("_desc_fr.ogg")],
            SETS[1]: [p for p in stamps if "_desc" not in p.name],
            SETS[2]: sorted((root / "fsdd" / "recordings").glob("*.wav"))}
    return {name: paths[::max(1, len(paths) // per_set)][:per_set]
            for name, paths in sets.items()}


def windows(paths) -> np.ndarray:
    """The clips' first 15,600 samples at 16 kHz, mono, padded with silence: ``(n, 15600)``."""
    from mmzoo.backbones.yamnet import BACKBONE
    from mmzoo.preprocessing.audio import read_audio_files

    clips, errors = read_audio_files([str(p) for p in paths], BACKBONE.spec())
    bad = [error.decode() for error in errors if error]
    if bad:
        raise ValueError(f"cannot decode: {bad[:3]}")
    return clips


def tflite_outputs(tflite_path, clips: np.ndarray, kernels: str = "default"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The interpreter's scores ``(n, 521)`` and log-mel patches ``(n, 96, 64)``, with its
    ``"default"`` kernels (XNNPACK) or its ``"builtin"`` ones (no delegate)."""
    import tensorflow as tf

    resolvers = {"default": tf.lite.experimental.OpResolverType.AUTO,
                 "builtin": tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    interpreter = tf.lite.Interpreter(model_path=str(tflite_path),
                                      experimental_op_resolver_type=resolvers[kernels])
    interpreter.allocate_tensors()
    (waveform,) = interpreter.get_input_details()
    outputs = {tuple(o["shape"]): o["index"] for o in interpreter.get_output_details()}
    scores, log_mels = [], []
    for clip in clips:
        interpreter.set_tensor(waveform["index"], clip[None].astype(np.float32))
        interpreter.invoke()
        scores.append(interpreter.get_tensor(outputs[(1, 521)])[0])
        log_mels.append(interpreter.get_tensor(outputs[(96, 64)]))
    return np.stack(scores), np.stack(log_mels)


def mmzoo_outputs(clips: np.ndarray, log_mels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mmzoo's scores ``(n, 521)`` of the waveforms and of the given log-mel patches."""
    from mmzoo.backbones.yamnet import BACKBONE, log_mel_scores_model, patch_scores_model

    encoder = BACKBONE.encoder(BACKBONE.spec())
    from_waveform = patch_scores_model(encoder).predict(clips, batch_size=64, verbose=0)
    from_log_mel = log_mel_scores_model(encoder).predict(log_mels, batch_size=64, verbose=0)
    return from_waveform[:, 0], from_log_mel


def emulated_log_mel(tflite_path, clips: np.ndarray, kernels: str) -> np.ndarray:
    """The TFLite file's frontend emulated in numpy: its int8 DFT and mel matrices applied
    to inputs quantized to int8 row by row at run time (dynamic range quantization:
    asymmetric in the ``"default"`` XNNPACK kernels, symmetric in the ``"builtin"`` ones).
    ``(n, 96, 64)``: what the quantized frontend alone does to the log-mel."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tflite_path))
    details = {tensor["index"]: tensor for tensor in interpreter.get_tensor_details()}

    def weights(index):  # int8 times its one scale
        scale = details[index]["quantization_parameters"]["scales"][0]
        return interpreter.get_tensor(index).astype(np.float32) * scale

    products = [op for op in interpreter._get_ops_details() if op["op_name"] == "FULLY_CONNECTED"]
    real, imaginary, mel = (weights(int(op["inputs"][1])) for op in products[:3])

    def quantized(rows):
        if kernels == "builtin":
            scale = np.abs(rows).max(-1, keepdims=True) / 127
            return np.round(rows / np.where(scale == 0, 1, scale)) * scale
        low, high = np.minimum(rows.min(-1, keepdims=True), 0), np.maximum(rows.max(-1, keepdims=True), 0)
        scale = (high - low) / 255
        scale = np.where(scale == 0, 1, scale)
        zero = np.round(-128 - low / scale)
        return (np.clip(np.round(rows / scale) + zero, -128, 127) - zero) * scale

    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    starts = 160 * np.arange(96)
    framed = clips[:, starts[:, None] + np.arange(400)] * hann  # (n, 96, 400)
    framed = quantized(np.pad(framed, [(0, 0), (0, 0), (56, 56)]))  # centred in 512, as the file
    magnitude = np.sqrt((framed @ real.T) ** 2 + (framed @ imaginary.T) ** 2)
    return np.log(quantized(magnitude) @ mel.T + 0.001).astype(np.float32)


def agreement(reference: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Top-1 agreement rate and max / mean absolute difference of two score matrices."""
    difference = np.abs(reference - scores)
    return {"top1": float(np.mean(reference.argmax(-1) == scores.argmax(-1))),
            "max_abs": float(difference.max()), "mean_abs": float(difference.mean())}


def main(argv=None) -> None:
    from mmzoo.backbones.yamnet import BACKBONE, YamnetFrontend

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-set", type=int, default=150, help="clips per set (default 150)")
    args = parser.parse_args(argv)
    tflite = BACKBONE.source_file.path()
    results = {}  # (set, kernels) -> reference, from waveform, from TFLite log-mel
    log_mel_rows = []
    for name, paths in clip_paths(data_dir(), args.per_set).items():
        clips = windows(paths)
        float_log_mel = YamnetFrontend()(clips).numpy()[:, 0]
        for kernels in ("default", "builtin"):
            reference, log_mels = tflite_outputs(tflite, clips, kernels)
            results[name, kernels] = (reference, *mmzoo_outputs(clips, log_mels))
            emulated = emulated_log_mel(tflite, clips, kernels)
            log_mel_rows.append((name, kernels, np.abs(float_log_mel - log_mels),
                                 np.abs(emulated - log_mels)))
    for kernels in ("default", "builtin"):
        results["all", kernels] = tuple(np.concatenate(parts) for parts in zip(
            *(value for (name, k), value in results.items() if k == kernels and name != "all")))
    print("| clips | n | interpreter kernels | mmzoo input | top-1 agreement | max abs diff "
          "| mean abs diff |")
    print("|---|---:|---|---|---:|---:|---:|")
    for (name, kernels), (reference, from_waveform, from_log_mel) in results.items():
        for label, scores in (("waveform", from_waveform), ("TFLite log-mel", from_log_mel)):
            m = agreement(reference, scores)
            print(f"| {name} | {len(reference)} | {kernels} | {label} | {m['top1']:.3f} | "
                  f"{m['max_abs']:.4f} | {m['mean_abs']:.5f} |")
    print("\n| clips | interpreter kernels | log-mel abs diff, mmzoo float frontend (mean / max) "
          "| emulated int8 frontend (mean / max) |")
    print("|---|---|---:|---:|")
    for name, kernels, float_diff, emulated_diff in log_mel_rows:
        print(f"| {name} | {kernels} | {float_diff.mean():.4f} / {float_diff.max():.2f} | "
              f"{emulated_diff.mean():.1e} / {emulated_diff.max():.3f} |")


if __name__ == "__main__":
    main()
