"""Pipeline throughput on the stamps data: raw files and prepared TFRecords vs a naive loop.

The naive loop is the seed documents' approach, written by hand: per example, OpenCV
reads, composites and resizes the image, ``librosa.load(path, sr=16000)`` decodes and
resamples the whole narration (as ``mmzoo/datasets/stamps.py`` does) before the clip is
cut, and a Python dict tokenizes the text. A second naive row passes librosa
``duration=`` so that only the clip is decoded, for reference. All produce the same
features. The raw-file row runs ``make_dataset(source)`` for one epoch, as training does
(bad files found in the same pass: no separate checking pass). Each rate is the median
of three epochs taken in turn (naive, naive clip only, raw, prepared, and again).

Run: ``python -m benchmarks.pipeline`` (needs $MMZOO_DATA_DIR/stamps or ../shared/data/stamps).
"""

from __future__ import annotations

import os
import pathlib
import re
import tempfile
import time

import cv2
import numpy as np
import tensorflow as tf

from mmzoo.specs import AudioSpec, ImageSpec, TextSpec

TEXT = TextSpec(vocabulary_size=2000, sequence_length=16)
IMAGE = ImageSpec(64, 64, 3)
AUDIO = AudioSpec(16000, 1.0)
BATCH_SIZE = 32
PREPARED_EPOCHS = 5
ROUNDS = 3  # each rate is the median of this many epochs, measured in turn
NAIVE, RAW, PREPARED = ("naive loop (OpenCV + librosa)", "raw files (tf.data)",
                        "prepared TFRecords (tf.data)")
TARGETS = {RAW: (">=", 3.0), PREPARED: (">=", 20.0)}  # ratios to the naive loop


def stamps_dir() -> pathlib.Path:
    default = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    path = pathlib.Path(os.environ.get("MMZOO_DATA_DIR", default)).resolve() / "stamps"
    if not path.is_dir():
        raise FileNotFoundError(f"{path} not found: set $MMZOO_DATA_DIR to the shared data folder.")
    return path


def naive_example(text: str, image_path: str, audio_path: str, vocabulary: dict,
                  clip_only: bool = False) -> dict:
    """One example by hand with OpenCV and librosa (``clip_only``: decode only the clip)."""
    import librosa

    pixels = cv2.imread(image_path, cv2.IMREAD_UNCHANGED).astype(np.float32)
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    has_alpha = pixels.shape[-1] in (2, 4)
    color = pixels[..., :-1] if has_alpha else pixels
    color = color[..., ::-1] if color.shape[-1] == 3 else np.repeat(color, 3, axis=-1)  # BGR, grey
    alpha = pixels[..., -1:] / 255.0 if has_alpha else 1.0
    color = color * alpha + IMAGE.background * (1.0 - alpha)
    h, w = color.shape[:2]
    scale = min(IMAGE.height / h, IMAGE.width / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    image = np.full(IMAGE.shape, IMAGE.background, np.float32)
    top, left = (IMAGE.height - new_h) // 2, (IMAGE.width - new_w) // 2
    image[top:top + new_h, left:left + new_w] = cv2.resize(color, (new_w, new_h))
    audio = np.zeros(AUDIO.num_samples, np.float32)
    if audio_path:
        duration = AUDIO.clip_seconds if clip_only else None
        waveform, _ = librosa.load(audio_path, sr=AUDIO.sample_rate, mono=True, duration=duration)
        audio[:len(waveform)] = waveform[:AUDIO.num_samples]
    tokens = re.sub(r"[^\w\s]", "", text.lower()).split()[:TEXT.sequence_length]
    ids = np.zeros(TEXT.sequence_length, np.int32)
    ids[:len(tokens)] = [vocabulary.get(token, 1) for token in tokens]
    return {"text": ids, "image": image, "audio": audio}


@tf.function
def count_in_graph(dataset: tf.data.Dataset) -> tf.Tensor:
    """The examples of one pass over ``dataset``, read inside a ``tf.function`` as Keras
    ``fit`` reads its batches. (A Python ``for`` loop is not how training reads it; when Ogg
    was decoded by one ``numpy_function`` call per row, such a loop stalled on the GIL in
    one pass out of two: ~385 vs ~600 examples/s.)"""
    count = tf.constant(0, tf.int64)
    for _, labels in dataset:
        count += tf.shape(labels, out_type=tf.int64)[0]
    return count


def examples_per_second(iterate) -> float:
    start = time.perf_counter()
    count = iterate()
    return count / (time.perf_counter() - start)


def run() -> list[tuple[str, float, str, float]]:
    """Measure and return rows ``(name, examples/s, unit, ratio to the naive loop)``."""
    from mmzoo.data import from_folder, make_dataset, prepare
    from mmzoo.preprocessing import Preprocessor

    source = from_folder(stamps_dir(), audio_suffix="_desc_fr", first_line_only=True)
    preprocessor = Preprocessor(text=TEXT, image=IMAGE, audio=AUDIO).adapt(source.texts())
    vocabulary = {t: i + 2 for i, t in enumerate(preprocessor.specs["text"].vocabulary)}
    rows = [{k: v.decode() if isinstance(v, bytes) else v for k, v in row.items()}
            for row in source.rows.as_numpy_iterator()]

    def naive(clip_only=False):
        for row in rows:
            naive_example(row["text"], row["image"], row["audio"], vocabulary, clip_only)
        return len(rows)

    def consume(dataset, epochs=1):
        return sum(int(count_in_graph(dataset)) for _ in range(epochs))

    raw_dataset = make_dataset(source, preprocessor, BATCH_SIZE, shuffle=True)
    with tempfile.TemporaryDirectory() as directory:
        prepared = make_dataset(prepare(source, preprocessor, directory), preprocessor,
                                BATCH_SIZE, shuffle=True)
        # Warm up: the file cache, TF's start-up, librosa's first call (~2 s of lazy imports).
        consume(raw_dataset), consume(prepared.take(2)), naive_example(
            rows[0]["text"], rows[0]["image"], rows[0]["audio"], vocabulary)
        runs = {NAIVE: naive,
                "naive loop, clip only": lambda: naive(clip_only=True),
                RAW: lambda: consume(raw_dataset),
                PREPARED: lambda: consume(prepared, PREPARED_EPOCHS)}
        samples = {name: [] for name in runs}
        for _ in range(ROUNDS):  # interleaved, so that a busy moment of the machine hits all alike
            for name, iterate in runs.items():
                samples[name].append(examples_per_second(iterate))
    rates = {name: float(np.median(values)) for name, values in samples.items()}
    naive_rate = rates[NAIVE]
    return [(name, rate, "examples/s", rate / naive_rate) for name, rate in rates.items()]


def main():
    load_before = os.getloadavg()[0]
    rows = run()
    print(f"stamps: {IMAGE}, {AUDIO}, sequence_length={TEXT.sequence_length}, "
          f"batch {BATCH_SIZE}, {os.cpu_count()} CPUs, 1-min load average "
          f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    for name, rate, unit, ratio in rows:
        print(f"{name:32s} {rate:9.1f} {unit}   x{ratio:.1f}")


if __name__ == "__main__":
    main()
