"""Pipeline throughput on the stamps data: raw files and prepared TFRecords vs a naive loop.

The naive loop is what one writes by hand: per example, OpenCV reads, composites and
resizes the image, librosa loads and resamples the first clip of the narration, and a
Python dict tokenizes the text. All three produce the same features.

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

from mmzoo.specs import AudioSpec, ImageSpec, TextSpec

TEXT = TextSpec(vocabulary_size=2000, sequence_length=16)
IMAGE = ImageSpec(64, 64, 3)
AUDIO = AudioSpec(16000, 1.0)
BATCH_SIZE = 32
PREPARED_EPOCHS = 5


def stamps_dir() -> pathlib.Path:
    default = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    path = pathlib.Path(os.environ.get("MMZOO_DATA_DIR", default)).resolve() / "stamps"
    if not path.is_dir():
        raise FileNotFoundError(f"{path} not found: set $MMZOO_DATA_DIR to the shared data folder.")
    return path


def naive_example(text: str, image_path: str, audio_path: str, vocabulary: dict) -> dict:
    """One example by hand with OpenCV and librosa."""
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
        waveform, _ = librosa.load(audio_path, sr=AUDIO.sample_rate, mono=True, duration=AUDIO.clip_seconds)
        audio[:len(waveform)] = waveform[:AUDIO.num_samples]
    tokens = re.sub(r"[^\w\s]", "", text.lower()).split()[:TEXT.sequence_length]
    ids = np.zeros(TEXT.sequence_length, np.int32)
    ids[:len(tokens)] = [vocabulary.get(token, 1) for token in tokens]
    return {"text": ids, "image": image, "audio": audio}


def examples_per_second(iterate) -> float:
    start = time.perf_counter()
    count = iterate()
    return count / (time.perf_counter() - start)


def run() -> list[tuple[str, float, float]]:
    """Measure and return rows ``(name, examples/s, ratio to the naive loop)``."""
    from mmzoo.data import from_folder, make_dataset, prepare
    from mmzoo.preprocessing import Preprocessor

    source = from_folder(stamps_dir(), audio_suffix="_desc_fr", first_line_only=True)
    preprocessor = Preprocessor(text=TEXT, image=IMAGE, audio=AUDIO).adapt(source.texts())
    vocabulary = {t: i + 2 for i, t in enumerate(preprocessor.specs["text"].vocabulary)}
    rows = [{k: v.decode() if isinstance(v, bytes) else v for k, v in row.items()}
            for row in source.rows.as_numpy_iterator()]

    def naive():
        for row in rows:
            naive_example(row["text"], row["image"], row["audio"], vocabulary)
        return len(rows)

    def consume(dataset, epochs=1):
        count = 0
        for _ in range(epochs):
            for _, labels in dataset:
                count += int(labels.shape[0])
        return count

    raw = make_dataset(source, preprocessor, BATCH_SIZE, shuffle=True, check_files=False)
    with tempfile.TemporaryDirectory() as directory:
        prepared = make_dataset(prepare(source, preprocessor, directory), preprocessor,
                                BATCH_SIZE, shuffle=True)
        consume(raw.take(2)), consume(prepared.take(2))  # warm up: tracing, file cache
        naive_rate = examples_per_second(naive)
        raw_rate = examples_per_second(lambda: consume(raw))
        prepared_rate = examples_per_second(lambda: consume(prepared, PREPARED_EPOCHS))
    return [("naive loop (OpenCV + librosa)", naive_rate, 1.0),
            ("raw files (tf.data)", raw_rate, raw_rate / naive_rate),
            ("prepared TFRecords (tf.data)", prepared_rate, prepared_rate / naive_rate)]


def main():
    rows = run()
    print(f"stamps: {IMAGE}, {AUDIO}, sequence_length={TEXT.sequence_length}, "
          f"batch {BATCH_SIZE}, {os.cpu_count()} CPUs")
    for name, rate, ratio in rows:
        print(f"{name:32s} {rate:9.1f} examples/s   x{ratio:.1f}")


if __name__ == "__main__":
    main()
