"""The avmnist TFDS dataset, checked against MNIST and FSDD files read independently."""

from __future__ import annotations

import collections
import gzip
import wave

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.datasets.prepared import build, record_examples

pytestmark = [pytest.mark.data, pytest.mark.slow]
DATASET = "avmnist"

TAKES = {"train": range(10, 50), "validation": range(5, 10), "test": range(0, 5)}


def read_mnist(data_dir, name):
    with gzip.open(data_dir / "mnist" / f"{name}-images-idx3-ubyte.gz") as file:
        images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(data_dir / "mnist" / f"{name}-labels-idx1-ubyte.gz") as file:
        labels = np.frombuffer(file.read(), np.uint8, offset=8)
    return images, labels


def read_wav(path) -> np.ndarray:
    with wave.open(str(path)) as file:
        return np.frombuffer(file.readframes(file.getnframes()), "<i2")


def take_of(name: str) -> int:
    return int(name.removesuffix(".wav").split("_")[2])


@pytest.fixture(scope="module")
def mnist(data_dir):
    return {name: read_mnist(data_dir, name) for name in ("train10k", "t10k")}


def test_split_sizes_follow_the_mnist_files(splits, mnist):
    sizes = {split: len(examples["label"]) for split, examples in splits.items()}
    assert sizes == {"train": 9000, "validation": len(mnist["train10k"][1]) - 9000,
                     "test": len(mnist["t10k"][1])}


def test_tfds_load_by_name(builder):
    validation = tfds.load("avmnist", split="validation", data_dir=builder.data_dir_root)
    assert validation.cardinality().numpy() == 1000


def test_labels_match_the_image_and_the_recording(builder, splits, mnist):
    assert builder.info.features["label"].names == [str(digit) for digit in range(10)]
    for examples in splits.values():
        assert set(examples["label"]) == set(range(10))
        for label, image_id, audio_id in zip(
                examples["label"], examples["image_id"], examples["audio_id"], strict=True):
            source, index = image_id.split("/")
            assert label == mnist[source][1][int(index)]
            assert label == int(audio_id.split("_")[0])


def test_splits_share_no_recording_and_no_image(splits, data_dir):
    on_disk = [path.name for path in (data_dir / "fsdd" / "recordings").glob("*.wav")]
    used = {split: set(examples["audio_id"]) for split, examples in splits.items()}
    for split, takes in TAKES.items():
        assert used[split] == {name for name in on_disk if take_of(name) in takes}
    assert not used["train"] & used["test"]
    assert not used["train"] & used["validation"]
    assert not used["validation"] & used["test"]
    assert not set(splits["train"]["image_id"]) & set(splits["validation"]["image_id"])
    assert len(set(splits["train"]["image_id"])) == 9000


def test_recordings_are_used_evenly(splits):
    for examples in splits.values():
        uses = collections.Counter(examples["audio_id"])
        for digit in range(10):
            counts = [count for name, count in uses.items() if name.startswith(f"{digit}_")]
            assert max(counts) - min(counts) <= 1


def test_presence_flags_are_all_one(splits):
    for examples in splits.values():
        np.testing.assert_array_equal(examples["image_present"], 1.0)
        np.testing.assert_array_equal(examples["audio_present"], 1.0)


def test_images_keep_a_quarter_of_the_pca_energy_of_train(splits, mnist):
    decomposition = pytest.importorskip("sklearn.decomposition")
    train_indices = [int(image_id.split("/")[1]) for image_id in splits["train"]["image_id"]]
    pca = decomposition.PCA(n_components=0.25, svd_solver="covariance_eigh")
    pca.fit(mnist["train10k"][0][train_indices].reshape(9000, -1).astype(np.float64))
    assert pca.n_components_ == 4
    for examples in splits.values():
        sources = [image_id.split("/") for image_id in examples["image_id"]]
        originals = np.stack([mnist[source][0][int(index)] for source, index in sources])
        flat = originals.reshape(len(originals), -1).astype(np.float64)
        expected = np.clip(np.rint(pca.inverse_transform(pca.transform(flat))), 0, 255)
        stored = examples["image"].reshape(len(flat), -1).astype(np.float64)
        assert examples["image"].shape[1:] == (28, 28, 1)
        assert np.abs(stored - expected).max() <= 1
        assert np.abs(stored - flat).mean() > 10  # degraded, not the original digits


def test_audio_is_the_normalized_recording_plus_noise_at_minus_10_db(splits, data_dir):
    recordings = {}
    for path in (data_dir / "fsdd" / "recordings").glob("*.wav"):
        samples = read_wav(path).astype(np.float64)
        recordings[path.name] = samples * 1000 / np.sqrt(np.mean(samples**2))
    for examples in splits.values():
        clips = examples["audio"].astype(np.float64)
        assert clips.shape[1:] == (8000,) and examples["audio"].dtype == np.int16
        clean = np.zeros_like(clips)
        for row, name in enumerate(examples["audio_id"]):
            clean[row, : len(recordings[name])] = recordings[name][:8000]
        unscaled = np.abs(clips).max(axis=1) < 32767  # overflowing mixes are scaled down
        assert unscaled.mean() > 0.99
        noise = clips[unscaled] - clean[unscaled]
        snr_db = 10 * np.log10(1000**2 / np.mean(noise**2, axis=1))
        assert np.abs(snr_db + 10).max() < 0.3
    first, second = np.flatnonzero(examples["audio_id"] == examples["audio_id"][0])[:2]
    fresh = clips - clean
    assert abs(np.corrcoef(fresh[first], fresh[second])[0, 1]) < 0.1  # new noise per example


def test_building_twice_gives_identical_records(builder, splits, tmp_path_factory):
    assert record_examples(build(tmp_path_factory, "avmnist", copy="b")) == record_examples(builder)
