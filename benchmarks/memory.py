"""Memory: peak RSS while training from prepared TFRecords on 1x and on 10x the data.

The input stream reads shards with a bounded shuffle buffer and prefetch, so its
memory must not grow with the dataset. Each size is trained for one epoch in a
fresh process, on TFRecords written by ``mmzoo.data.prepare`` from generated
image + audio examples. The peak is ``VmHWM`` from ``/proc/self/status``: Linux
keeps ``ru_maxrss`` across ``execve``, so a child started by ``subprocess`` would
report its parent's peak (here, the parent's while it wrote the TFRecords).

Run alone: ``python -m benchmarks.memory``.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

BASE_EXAMPLES = 1000
SCALE = 10
BATCH_SIZE = 64
SAMPLE_RATE = 8000
CLIP_SECONDS = 0.5


def row_name(examples: int) -> str:
    return f"peak RSS training on {examples:,} examples from TFRecords"


TARGETS = {row_name(BASE_EXAMPLES * SCALE): ("<=", 1.1)}  # ratio to 1x


def specs():
    from mmzoo import AudioSpec, ImageSpec

    return {"image": ImageSpec(28, 28, 1),
            "audio": AudioSpec(SAMPLE_RATE, CLIP_SECONDS, num_mel_bins=32, fft_length=256,
                               hop_length=128)}


def write_tfrecords(examples: int, directory: pathlib.Path) -> None:
    from mmzoo.data import from_arrays, prepare
    from mmzoo.preprocessing import Preprocessor

    rng = np.random.default_rng(examples)
    samples = int(SAMPLE_RATE * CLIP_SECONDS)
    source = from_arrays(rng.integers(0, 10, examples),
                         image=rng.integers(0, 256, (examples, 28, 28), dtype=np.uint8),
                         audio=rng.uniform(-1, 1, (examples, samples)).astype("float32"),
                         audio_sample_rate=SAMPLE_RATE, class_names=[str(d) for d in range(10)])
    prepare(source, Preprocessor(**specs()), directory, num_shards=8)


def train_one_epoch(directory: str) -> dict:
    """In this process: one epoch over the prepared folder; returns the peak RSS in MiB."""
    import mmzoo
    from mmzoo.data import PreparedData, make_dataset
    from mmzoo.preprocessing import Preprocessor

    data = PreparedData.load(directory)
    dataset = make_dataset(data, Preprocessor(**specs()), BATCH_SIZE, shuffle=True)
    model = mmzoo.create_model("concat_tiny", num_classes=10, **specs(), text=None)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(dataset, epochs=1, verbose=0)
    return {"examples": data.num_examples, "peak_rss_mib": peak_rss_of_this_process()}


def peak_rss_of_this_process() -> float:
    """This address space's high-water RSS in MiB (``VmHWM``, reset by ``execve``)."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM line: this benchmark needs Linux.")


def peak_rss(directory: pathlib.Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--train", str(directory)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run() -> list[tuple[str, float, str, float]]:
    """Rows ``(measured, peak RSS, unit, ratio to 1x)``."""
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        for examples in (BASE_EXAMPLES, BASE_EXAMPLES * SCALE):
            directory = pathlib.Path(tmp) / str(examples)
            write_tfrecords(examples, directory)
            results.append(peak_rss(directory))
    base = results[0]["peak_rss_mib"]
    return [(row_name(r["examples"]), r["peak_rss_mib"],
             "MiB", r["peak_rss_mib"] / base) for r in results]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--train"]:
        print(json.dumps(train_one_epoch(sys.argv[2])))
    else:
        for name, value, unit, ratio in run():
            print(f"{name:55s} {value:10.1f} {unit:4s} {ratio:6.3f}x")
