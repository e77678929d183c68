"""The stamps TFDS dataset, checked against the stamp files read independently."""

from __future__ import annotations

import collections

import cv2
import numpy as np
import pytest
import soundfile
from scipy import signal

from tests.datasets.prepared import build, record_examples

pytestmark = [pytest.mark.data, pytest.mark.slow]
DATASET = "stamps"


@pytest.fixture(scope="module")
def stamps_dir(data_dir):
    return data_dir / "stamps"


@pytest.fixture(scope="module")
def on_disk(stamps_dir):
    """Stamp id -> its PNG path, found by globbing the folder."""
    return {str(path.relative_to(stamps_dir).with_suffix("")): path
            for path in stamps_dir.glob("**/*.png")}


def test_label_names_are_the_sorted_category_folders(builder, splits, stamps_dir):
    folders = sorted(path.name for path in stamps_dir.iterdir() if path.is_dir())
    assert len(folders) == 16
    assert builder.info.features["label"].names == folders
    assert set(splits["train"]["label"]) == set(range(16))


def test_every_stamp_in_exactly_one_split(splits, on_disk):
    ids = [set(examples["id"]) for examples in splits.values()]
    assert sum(len(split_ids) for split_ids in ids) == len(on_disk)
    assert set.union(*ids) == set(on_disk)


def test_splits_are_stratified_70_15_15(builder, splits, on_disk):
    per_category = collections.Counter(stamp_id.split("/")[0] for stamp_id in on_disk)
    names = builder.info.features["label"].names
    for category, count in per_category.items():
        held_out = int(0.15 * count + 0.5)  # 15% rounded half up
        got = {split: int(np.sum(examples["label"] == names.index(category)))
               for split, examples in splits.items()}
        assert got == {"train": count - 2 * held_out, "validation": held_out, "test": held_out}


def test_labels_are_the_top_level_folder(builder, splits):
    names = builder.info.features["label"].names
    for examples in splits.values():
        for label, stamp_id in zip(examples["label"], examples["id"], strict=True):
            assert names[label] == stamp_id.split("/")[0]


def test_presence_flags_match_the_files(splits, on_disk):
    suffixes = {"text_present": ".txt", "audio_present": "_desc_fr.ogg",
                "sound_effect_present": ".ogg", "image_present": ".png"}
    for flag, suffix in suffixes.items():
        expected = {stamp_id: float(png.with_name(png.stem + suffix).exists())
                    for stamp_id, png in on_disk.items()}
        got = {stamp_id: value for examples in splits.values()
               for stamp_id, value in zip(examples["id"], examples[flag], strict=True)}
        assert got == expected
    rates = {flag: np.mean([value for examples in splits.values() for value in examples[flag]])
             for flag in suffixes}
    assert rates["text_present"] == pytest.approx(950 / 961)
    assert rates["audio_present"] == pytest.approx(925 / 961)
    assert rates["sound_effect_present"] == pytest.approx(134 / 961)


def test_text_is_the_first_line_of_the_txt(splits, on_disk):
    for examples in splits.values():
        for stamp_id, text in zip(examples["id"], examples["text"], strict=True):
            txt = on_disk[stamp_id].with_suffix(".txt")
            expected = txt.read_text(encoding="utf-8").splitlines()[0].strip() if txt.exists() else ""
            assert text == expected


def test_audio_is_16khz_mono_of_the_file_duration(splits, on_disk):
    for feature, suffix in (("audio", "_desc_fr.ogg"), ("sound_effect", ".ogg")):
        for examples in splits.values():
            for stamp_id, wave in zip(examples["id"], examples[feature], strict=True):
                path = on_disk[stamp_id].with_name(on_disk[stamp_id].stem + suffix)
                assert wave.dtype == np.int16 and wave.ndim == 1
                if not path.exists():
                    assert wave.size == 0
                    continue
                info = soundfile.info(str(path))
                assert abs(wave.size - info.frames * 16000 / info.samplerate) <= 1


def test_narrations_match_a_scipy_resampling(splits, on_disk):
    examples = splits["test"]
    checked = 0
    for stamp_id, wave, present in zip(examples["id"], examples["audio"],
                                       examples["audio_present"], strict=True):
        if not present or checked == 10:
            continue
        samples, rate = soundfile.read(on_disk[stamp_id].with_name(
            on_disk[stamp_id].stem + "_desc_fr.ogg"), always_2d=True)
        assert rate == 44100
        reference = signal.resample_poly(samples.mean(axis=1), 160, 441)
        size = min(len(reference), len(wave))
        assert np.corrcoef(reference[:size], wave[:size] / 32768)[0, 1] > 0.99
        checked += 1
    assert checked == 10


def test_images_are_the_pngs_as_rgba(splits, on_disk):
    for examples in splits.values():
        for stamp_id, image in zip(examples["id"], examples["image"], strict=True):
            reference = cv2.imread(str(on_disk[stamp_id]), cv2.IMREAD_UNCHANGED)
            assert image.shape[:2] == reference.shape[:2] and image.shape[2] == 4
            if reference.ndim == 3 and reference.shape[2] == 4 and reference.dtype == np.uint8:
                np.testing.assert_array_equal(image, cv2.cvtColor(reference, cv2.COLOR_BGRA2RGBA))


def test_building_twice_gives_identical_records(builder, tmp_path_factory):
    assert record_examples(build(tmp_path_factory, "stamps", copy="b")) == record_examples(builder)
