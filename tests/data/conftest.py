"""A tiny multimodal dataset on disk: three labelled stamps, as a folder tree and manifests."""

import csv
import json

import pytest

from mmzoo.preprocessing import Preprocessor
from mmzoo.specs import AudioSpec, ImageSpec, TextSpec
from tests.data_files import pattern, tone, write_audio, write_image

ROWS = [  # text, image, audio, label
    ("A green frog.", "animals/frog.png", "animals/frog.wav", "animals"),
    ("A red apple.", "food/apple.png", "food/apple.ogg", "food"),
    ("A blue fish.", "animals/fish.png", "", "animals"),
]


@pytest.fixture
def tiny(tmp_path):
    """The files of ROWS under tmp_path (text files too, for the folder source)."""
    for i, (text, image, audio, _) in enumerate(ROWS):
        write_image(tmp_path / image, pattern(12 + i, 10, 4, seed=i))
        (tmp_path / image).with_suffix(".txt").write_text(text + "\nfr.utf8=...\n", encoding="utf-8")
        if audio:
            write_audio(tmp_path / audio, tone(0.3 + 0.1 * i, 8000 * (i + 1)), 8000 * (i + 1))
    return tmp_path


def write_manifest(directory, rows, suffix):
    path = directory / f"manifest{suffix}"
    records = [dict(zip(("text", "image", "audio", "label"), row, strict=True)) for row in rows]
    if suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as file:
            writer = csv.DictWriter(file, fieldnames=["text", "image", "audio", "label"])
            writer.writeheader()
            writer.writerows(records)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def preprocessor():
    return Preprocessor(text=TextSpec(vocabulary_size=50, sequence_length=5,
                                      vocabulary=("a", "green", "frog", "red", "apple")),
                        image=ImageSpec(8, 8, 3), audio=AudioSpec(8000, 0.25, fft_length=256))
