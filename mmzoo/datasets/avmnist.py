"""AV-MNIST: MNIST digits paired with FSDD spoken digits, both degraded.

Built the way MultiBench's AV-MNIST is (Liang et al. 2021, after Vielzeuf et al.
2018), so that neither modality alone is enough:

* **Image**: each 28x28 MNIST digit is projected on the leading principal components
  that keep 25% of the pixel variance ("energy") of the training images, then
  reconstructed, rounded and clipped to uint8. The PCA is fit on the train split only
  (it keeps 4 components).
* **Audio**: a Free Spoken Digit Dataset recording of the same digit (8 kHz, mono),
  scaled to an RMS of 1000 (about -30 dBFS, so loudness tells nothing), left-aligned in
  a 1.0 s clip (8,000 samples: longer recordings, 0.7% of FSDD, are cut, shorter ones
  padded with zeros), plus seeded white Gaussian noise over the whole clip at an SNR of
  -10 dB (noise power 10x the recording's mean power). The rare clip that would overflow
  int16 is scaled down as a whole, which keeps the SNR. MultiBench mixes in
  ESC-50 noise, which is not available offline. On this noise a logistic regression
  on log-mel features (FSDD takes 5-49 vs 0-4) reaches 96% on clean audio, 69% at
  0 dB, 53% at -5 dB and 34% at -10 dB.

Audio is stored as int16 PCM: divide by 32768 for :class:`mmzoo.specs.AudioSpec`'s
float32 waveform in [-1, 1].

Splits (seed 2024):

============  =====================================  =========================
split         images                                 FSDD recordings (takes)
============  =====================================  =========================
train         9,000 of ``train10k``                  takes 10-49 (2,400)
validation    the other 1,000 of ``train10k``        takes 5-9 (300)
test          all 10,000 of ``t10k``                 takes 0-4 (300, customary)
============  =====================================  =========================

No recording is shared between splits. Each image is paired with a recording of its
digit from its split's takes, cycling through seeded permutations of that pool so every
recording is used about equally often.

Example:
    >>> import tensorflow_datasets as tfds
    >>> import mmzoo.datasets  # registers the builders
    >>> train = tfds.load("avmnist", split="train")  # reads $MMZOO_DATA_DIR
"""

from __future__ import annotations

import gzip
import pathlib

import numpy as np
import soundfile
import tensorflow_datasets as tfds

from mmzoo.datasets.manual_dir import ManualDirBuilder

SEED = 2024
SAMPLE_RATE = 8000
CLIP_SAMPLES = 8000
SNR_DB = -10.0
SIGNAL_RMS = 1000.0
PCA_ENERGY = 0.25
TRAIN_IMAGES = 9000
DIGITS = tuple(str(digit) for digit in range(10))
AUDIO_DOC = "1.0 s at 8 kHz, mono int16 PCM (divide by 32768 for [-1, 1])."
SPLIT_TAKES = {"train": range(10, 50), "validation": range(5, 10), "test": range(0, 5)}

CITATION = """\
@inproceedings{liang2021multibench,
  title={MultiBench: Multiscale Benchmarks for Multimodal Representation Learning},
  author={Liang, Paul Pu and others}, booktitle={NeurIPS Datasets and Benchmarks}, year={2021}}
@misc{jackson2018fsdd, title={Free Spoken Digit Dataset}, author={Jackson, Zohar and others},
  howpublished={\\url{https://github.com/Jakobovski/free-spoken-digit-dataset}}, year={2018}}
@article{lecun1998mnist, title={Gradient-based learning applied to document recognition},
  author={LeCun, Yann and Bottou, L{\\'e}on and Bengio, Yoshua and Haffner, Patrick},
  journal={Proceedings of the IEEE}, year={1998}}
"""

_MNIST = "mnist/{}-{}-idx{}-ubyte.gz"
_RECORDINGS = "fsdd/recordings"


def read_idx(path: pathlib.Path) -> np.ndarray:
    """An MNIST IDX file (gzip) as a uint8 array, e.g. ``(10000, 28, 28)`` for images."""
    with gzip.open(path, "rb") as file:
        data = file.read()
    ndim = data[3]
    shape = np.frombuffer(data, ">u4", count=ndim, offset=4)
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fit_pca(images: np.ndarray, energy: float) -> tuple[np.ndarray, np.ndarray]:
    """The pixel mean and the fewest principal axes whose variance reaches ``energy`` of the total.

    Example:
        >>> mean, axes = fit_pca(train_images, energy=0.25)  # (784,), (4, 784) on MNIST
    """
    flat = images.reshape(len(images), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    variances, axes = np.linalg.eigh(np.cov(flat, rowvar=False))
    variances, axes = variances[::-1], axes[:, ::-1]
    explained = np.cumsum(variances) / np.sum(variances)
    return mean, axes[:, : np.searchsorted(explained, energy) + 1].T


def pca_restore(images: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``images`` projected on ``axes`` around ``mean``, as uint8 of the same shape.

    Example:
        >>> degraded = pca_restore(test_images, *fit_pca(train_images, energy=0.25))
    """
    flat = images.reshape(len(images), -1).astype(np.float64) - mean
    restored = flat @ axes.T @ axes + mean
    return np.clip(np.rint(restored), 0, 255).astype(np.uint8).reshape(images.shape)


def mix_noise(recording: np.ndarray, rng: np.random.Generator, snr_db: float = SNR_DB,
              rms: float = SIGNAL_RMS, length: int = CLIP_SAMPLES) -> np.ndarray:
    """A fixed-length int16 clip: ``recording`` scaled to ``rms``, cut/padded, plus white noise.

    The noise's standard deviation is ``rms / 10 ** (snr_db / 20)``. A clip that would
    overflow int16 is scaled down as a whole (the SNR stays).

    Example:
        >>> clip = mix_noise(recording, np.random.default_rng(0))  # (8000,) int16
    """
    signal = recording.astype(np.float64)
    signal *= rms / np.sqrt(np.mean(signal**2))
    clip = np.zeros(length)
    clip[: len(signal)] = signal[:length]
    clip += rng.normal(0.0, rms / 10 ** (snr_db / 20), length)
    peak = np.abs(clip).max()
    if peak > np.iinfo(np.int16).max:
        clip *= np.iinfo(np.int16).max / peak
    return np.rint(clip).astype(np.int16)


def pair_recordings(labels: np.ndarray, pools: dict[int, list[str]],
                    rng: np.random.Generator) -> list[str]:
    """For each label, a recording name of that digit, cycling through seeded permutations.

    Example:
        >>> pair_recordings(np.array([3, 3]), {3: ["3_a_7.wav"]}, np.random.default_rng(0))
        ['3_a_7.wav', '3_a_7.wav']
    """
    paired = np.empty(len(labels), dtype=object)
    for digit in sorted(pools):
        positions = np.flatnonzero(labels == digit)
        pool = pools[digit]
        cycles = -(-len(positions) // len(pool))
        draws = np.concatenate([rng.permutation(pool) for _ in range(cycles)])
        paired[positions] = draws[: len(positions)]
    return paired.tolist()


def recording_take(name: str) -> int:
    """The take of an FSDD file name ``{digit}_{speaker}_{take}.wav``: ``recording_take("3_jackson_12.wav") == 12``."""
    return int(name.rsplit(".", 1)[0].rsplit("_", 1)[1])


class Avmnist(ManualDirBuilder):
    """AV-MNIST from local MNIST and FSDD files (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: PCA 25% images, white noise at -10 dB."}
    SOURCES = (
        _MNIST.format("train10k", "images", 3), _MNIST.format("train10k", "labels", 1),
        _MNIST.format("t10k", "images", 3), _MNIST.format("t10k", "labels", 1), _RECORDINGS,
    )

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__.split("Example:")[0],
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(28, 28, 1)),
                "audio": tfds.features.Tensor(shape=(CLIP_SAMPLES,), dtype=np.int16,
                                              encoding="bytes", doc=AUDIO_DOC),
                "label": tfds.features.ClassLabel(names=DIGITS),
                "image_present": tfds.features.Scalar(np.float32, doc="Always 1.0."),
                "audio_present": tfds.features.Scalar(np.float32, doc="Always 1.0."),
                "image_id": tfds.features.Text(doc="'<mnist file>/<index>', e.g. 't10k/17'."),
                "audio_id": tfds.features.Text(doc="FSDD file name, e.g. '3_jackson_12.wav'."),
            }),
            homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
            citation=CITATION,
            license="MNIST: CC BY-SA 3.0; FSDD: CC BY-SA 4.0",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = self.source_dir()
        rng = np.random.default_rng(SEED)
        train_images = read_idx(root / _MNIST.format("train10k", "images", 3))
        train_labels = read_idx(root / _MNIST.format("train10k", "labels", 1))
        test_images = read_idx(root / _MNIST.format("t10k", "images", 3))
        test_labels = read_idx(root / _MNIST.format("t10k", "labels", 1))
        order = rng.permutation(len(train_images))
        indices = {"train": order[:TRAIN_IMAGES], "validation": order[TRAIN_IMAGES:],
                   "test": np.arange(len(test_images))}
        pca = fit_pca(train_images[indices["train"]], PCA_ENERGY)
        degraded = {"train10k": pca_restore(train_images, *pca),
                    "t10k": pca_restore(test_images, *pca)}
        labels = {"train10k": train_labels, "t10k": test_labels}
        recordings = {path.name: soundfile.read(path, dtype="int16")[0]
                      for path in sorted((root / _RECORDINGS).glob("*.wav"))}
        splits = {}
        for split_number, (split, takes) in enumerate(SPLIT_TAKES.items()):
            source = "t10k" if split == "test" else "train10k"
            pools = {digit: [name for name in recordings
                             if name.startswith(f"{digit}_") and recording_take(name) in takes]
                     for digit in range(10)}
            split_labels = labels[source][indices[split]]
            splits[split] = self._generate_examples(
                images=degraded[source][indices[split]], labels=split_labels,
                image_ids=[f"{source}/{index}" for index in indices[split]],
                audio_ids=pair_recordings(split_labels, pools, rng),
                recordings=recordings, seed=(SEED, split_number))
        return splits

    def _generate_examples(self, images, labels, image_ids, audio_ids, recordings, seed):
        for number, (image, label, image_id, audio_id) in enumerate(
                zip(images, labels, image_ids, audio_ids, strict=True)):
            yield image_id, {
                "image": image[..., None],
                "audio": mix_noise(recordings[audio_id], np.random.default_rng((*seed, number))),
                "label": int(label),
                "image_present": 1.0,
                "audio_present": 1.0,
                "image_id": image_id,
                "audio_id": audio_id,
            }
