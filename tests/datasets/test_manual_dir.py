"""Fast tests without the real data: the manual dir, the split and pairing rules, the noise."""

from __future__ import annotations

import collections
import pathlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

import mmzoo.datasets
from mmzoo.datasets.avmnist import mix_noise, pair_recordings
from mmzoo.datasets.stamps import stratified_split

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_default_manual_dir_is_the_env_var_else_shared_data(monkeypatch, tmp_path):
    monkeypatch.setenv("MMZOO_DATA_DIR", str(tmp_path))
    assert mmzoo.datasets.default_manual_dir() == tmp_path
    monkeypatch.delenv("MMZOO_DATA_DIR")
    assert mmzoo.datasets.default_manual_dir().resolve() == (REPO_ROOT / ".." / "shared" / "data").resolve()


def test_require_sources_names_the_missing_path_and_the_env_var(tmp_path):
    (tmp_path / "mnist").mkdir()
    assert mmzoo.datasets.require_sources(tmp_path, ["mnist"], "avmnist") == tmp_path
    with pytest.raises(FileNotFoundError) as error:
        mmzoo.datasets.require_sources(tmp_path, ["mnist", "fsdd/recordings"], "avmnist")
    assert str(tmp_path / "fsdd" / "recordings") in str(error.value)
    assert "MMZOO_DATA_DIR" in str(error.value)


@pytest.mark.parametrize("name", ["avmnist", "stamps"])
def test_building_without_data_says_to_set_the_env_var(name, monkeypatch, tmp_path):
    monkeypatch.setenv("MMZOO_DATA_DIR", str(tmp_path / "nowhere"))
    builder = tfds.builder(name, data_dir=tmp_path / "tfds")
    with pytest.raises(FileNotFoundError, match="MMZOO_DATA_DIR") as error:
        builder.download_and_prepare()
    assert str(tmp_path / "nowhere") in str(error.value)


def test_stratified_split_holds_out_15_percent_per_category():
    sizes = {"tiny": 1, "three": 3, "six": 6, "big": 249}
    ids = [f"{category}/{number}" for category, size in sizes.items() for number in range(size)]
    splits = stratified_split(ids)
    assert sorted(sum(splits.values(), [])) == sorted(ids)
    counts = {split: collections.Counter(i.split("/")[0] for i in split_ids)
              for split, split_ids in splits.items()}
    assert counts["test"] == counts["validation"] == {"six": 1, "big": 37}
    assert counts["train"] == {"tiny": 1, "three": 3, "six": 4, "big": 175}
    assert stratified_split(list(reversed(ids))) == splits
    assert stratified_split(ids, seed=7) != splits


def test_pair_recordings_matches_digits_and_uses_the_pool_evenly():
    labels = np.random.default_rng(0).integers(0, 2, 101)
    pools = {0: ["0_a_1.wav", "0_a_2.wav", "0_b_1.wav"], 1: ["1_a_1.wav", "1_b_9.wav"]}
    paired = pair_recordings(labels, pools, np.random.default_rng(1))
    for digit, pool in pools.items():
        uses = collections.Counter(name for name, label in zip(paired, labels, strict=True) if label == digit)
        assert set(uses) == set(pool)
        assert max(uses.values()) - min(uses.values()) <= 1


def test_mix_noise_sets_rms_length_and_snr():
    recording = (3000 * np.sin(np.arange(4000) * 0.3)).astype(np.int16)
    clip = mix_noise(recording, np.random.default_rng(0)).astype(np.float64)
    assert clip.shape == (8000,)
    clean = np.zeros(8000)
    clean[:4000] = 1000 * np.sqrt(2) * np.sin(np.arange(4000) * 0.3)  # the sine at RMS 1000
    assert 10 * np.log10(1000**2 / np.mean((clip - clean) ** 2)) == pytest.approx(-10, abs=0.2)
    long_recording = np.tile(recording, 3)
    assert mix_noise(long_recording, np.random.default_rng(0)).shape == (8000,)
