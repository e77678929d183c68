"""Training throughput: MultiBench's AV-MNIST late-fusion model, mmzoo vs PyTorch.

The reference (MultiBench ``examples/multimedia/avmnist_simple_late_fusion.py``):
an image LeNet (1 -> 6 channels, 3 extra blocks: 48 features), an audio LeNet on
112x112 spectrograms (1 -> 6 channels, 5 extra blocks: 192 features),
concatenation, and an MLP 240-100-10. Each LeNet block is conv (no bias) + batch
norm + ReLU + 2x2 max pooling, the first with a 5x5 kernel, the others 3x3.

mmzoo builds it with ``build_classifier`` (``lenet`` encoders with
``embedding_dim=None``, ``concat`` fusion, ``head_units=(100,)``). One difference
is in PyTorch's favour: mmzoo's audio encoder computes the 112x112 log-mel
spectrogram from the waveform inside the model, while the PyTorch model gets
precomputed spectrograms, as MultiBench does. Same batch size, same in-memory
data, Adam, cross-entropy; examples/s over timed steps after a warm-up, the median of
three timings taken in turn (PyTorch, mmzoo, mmzoo with XLA, and again).

Run alone: ``python -m benchmarks.training``.
"""

from __future__ import annotations

import time

import numpy as np

BATCH_SIZE = 64
EXAMPLES = 1024
WARMUP_STEPS = 4
TIMED_STEPS = 32
ROUNDS = 3  # each rate is the median of this many timings, taken in turn
SAMPLE_RATE = 8000
HOP = 71  # 1 + 7881 // 71 = 112 frames
CLIP_SECONDS = 7881 / SAMPLE_RATE
MELS = 112
MMZOO = "mmzoo, tf.function (jit_compile=False)"
PIPELINE = "TFRecord pipeline alone vs the training step it feeds (mmzoo, no XLA)"
TARGETS = {MMZOO: (">=", 1.0), PIPELINE: (">=", 2.0)}


def in_memory_data(seed=0):
    """Random digits: images, waveforms, their 112x112 spectrograms, labels."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (EXAMPLES, 28, 28, 1)).astype("float32")
    waveforms = rng.uniform(-0.5, 0.5, (EXAMPLES, round(CLIP_SECONDS * SAMPLE_RATE))).astype("float32")
    labels = rng.integers(0, 10, EXAMPLES)
    return images, waveforms, labels


def specs():
    """28x28 digits and the audio whose log-mel spectrogram is 112x112."""
    from mmzoo import AudioSpec, ImageSpec

    return {"image": ImageSpec(28, 28, 1),
            "audio": AudioSpec(sample_rate=SAMPLE_RATE, clip_seconds=CLIP_SECONDS,
                               num_mel_bins=MELS, fft_length=512, hop_length=HOP)}


def mmzoo_model():
    import mmzoo

    return mmzoo.build_classifier(
        **specs(),
        encoders={"image": {"kind": "lenet", "width": 6, "depth": 4},
                  "audio": {"kind": "lenet", "width": 6, "depth": 6}},
        embedding_dim=None, pooling="max", fusion="concat", head_units=(100,), num_classes=10,
        classifier_activation=None, name="multibench_avmnist_late_fusion")


def mmzoo_timer(images, waveforms, labels, jit_compile):
    """A warmed-up mmzoo training run: call it to time :data:`TIMED_STEPS` steps (examples/s)."""
    import keras
    import tensorflow as tf

    model = mmzoo_model()
    assert model.get_layer("image_encoder").output.shape[-1] == 48
    assert model.get_layer("audio_encoder").output.shape[-1] == 192
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile)
    ones = np.ones(len(labels), "float32")
    features = {"image": images, "audio": waveforms, "image_present": ones, "audio_present": ones}
    dataset = (tf.data.Dataset.from_tensor_slices((features, labels)).batch(BATCH_SIZE)
               .repeat().prefetch(2))
    model.fit(dataset, steps_per_epoch=WARMUP_STEPS, epochs=1, verbose=0)

    def timed():
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=TIMED_STEPS, epochs=1, verbose=0)
        return TIMED_STEPS * BATCH_SIZE / (time.perf_counter() - start)

    return timed


def torch_model():
    from torch import nn

    def lenet(extra_blocks):
        layers, channels = [], 1
        for i in range(extra_blocks + 1):
            out = 6 * 2**i
            kernel = 5 if i == 0 else 3
            layers += [nn.Conv2d(channels, out, kernel, padding=kernel // 2, bias=False),
                       nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            channels = out
        return nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten())

    class LateFusion(nn.Module):
        def __init__(self):
            super().__init__()
            self.image, self.audio = lenet(3), lenet(5)
            self.head = nn.Sequential(nn.Linear(240, 100), nn.ReLU(), nn.Linear(100, 10))

        def forward(self, image, spectrogram):
            import torch

            return self.head(torch.cat([self.image(image), self.audio(spectrogram)], dim=1))

    return LateFusion()


def torch_timer(images, spectrograms, labels):
    """A warmed-up PyTorch training loop: call it to time :data:`TIMED_STEPS` steps (examples/s)."""
    import torch

    model = torch_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    images = torch.from_numpy(images.transpose(0, 3, 1, 2) / 255.0).float()
    spectrograms = torch.from_numpy(spectrograms[:, None]).float()
    labels = torch.from_numpy(labels)
    batches = len(labels) // BATCH_SIZE

    def step(i):
        batch = slice((i % batches) * BATCH_SIZE, (i % batches + 1) * BATCH_SIZE)
        optimizer.zero_grad()
        loss = loss_fn(model(images[batch], spectrograms[batch]), labels[batch])
        loss.backward()
        optimizer.step()

    model.train()
    for i in range(WARMUP_STEPS):
        step(i)

    def timed():
        start = time.perf_counter()
        for i in range(TIMED_STEPS):
            step(i)
        return TIMED_STEPS * BATCH_SIZE / (time.perf_counter() - start)

    return timed


def spectrograms_of(waveforms):
    """The 112x112 log-mel spectrograms PyTorch trains on (MultiBench precomputes them)."""
    from mmzoo.preprocessing import LogMelSpectrogram

    layer = LogMelSpectrogram(sample_rate=SAMPLE_RATE, fft_length=512, hop_length=HOP,
                              num_mel_bins=MELS)
    return np.asarray(layer(waveforms))


def pipeline_examples_per_second(images, waveforms, labels, epochs=5):
    """The same examples as prepared TFRecords, streamed by ``make_dataset`` (no model) and
    read in a ``tf.function`` as ``fit`` reads them."""
    import tempfile

    from benchmarks.pipeline import count_in_graph
    from mmzoo.data import from_arrays, make_dataset, prepare
    from mmzoo.preprocessing import Preprocessor

    preprocessor = Preprocessor(**specs())
    source = from_arrays(labels, image=images[..., 0].astype("uint8"), audio=waveforms,
                         audio_sample_rate=SAMPLE_RATE, class_names=[str(d) for d in range(10)])
    with tempfile.TemporaryDirectory() as directory:
        dataset = make_dataset(prepare(source, preprocessor, directory), preprocessor, BATCH_SIZE,
                               shuffle=True)
        count_in_graph(dataset)  # warm up: trace, file cache
        start = time.perf_counter()
        count = sum(int(count_in_graph(dataset)) for _ in range(epochs))
        return count / (time.perf_counter() - start)


def run() -> list[tuple[str, float, str, float]]:
    """Rows ``(measured, examples/s, unit, ratio)``: to PyTorch, then between mmzoo rows."""
    images, waveforms, labels = in_memory_data()
    spectrograms = spectrograms_of(waveforms)
    assert spectrograms.shape[1:] == (112, 112)
    timers = {"torch": torch_timer(images, spectrograms, labels),
              "eager": mmzoo_timer(images, waveforms, labels, jit_compile=False),
              "xla": mmzoo_timer(images, waveforms, labels, jit_compile=True)}
    samples = {name: [] for name in timers}
    for _ in range(ROUNDS):  # interleaved, so that a busy moment of the machine hits all alike
        for name, timed in timers.items():
            samples[name].append(timed())
    torch_rate, eager_rate, xla_rate = (float(np.median(samples[name])) for name in timers)
    pipeline_rate = pipeline_examples_per_second(images, waveforms, labels)
    return [
        ("PyTorch 2.13 (CPU), spectrograms precomputed", torch_rate, "examples/s", 1.0),
        (MMZOO, eager_rate, "examples/s", eager_rate / torch_rate),
        ("mmzoo, XLA (jit_compile=True)", xla_rate, "examples/s", xla_rate / torch_rate),
        ("mmzoo XLA vs mmzoo without XLA", xla_rate, "examples/s", xla_rate / eager_rate),
        (PIPELINE, pipeline_rate, "examples/s", pipeline_rate / eager_rate),
    ]


if __name__ == "__main__":
    for name, value, unit, ratio in run():
        print(f"{name:50s} {value:10.1f} {unit:12s} {ratio:6.2f}x")
