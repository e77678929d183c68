"""Good rows for the manifest and file corpora: their files, manifests holding only them
(written with the stdlib's csv and json), and their features decoded, the reference the
good rows of each bad manifest are compared with."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from mmzoo.data import BadDataReport, DataError, from_manifest, make_dataset
from mmzoo.preprocessing import Preprocessor
from mmzoo.specs import AudioSpec, ImageSpec, TextSpec
from tests.data_files import pattern, tone, write_audio, write_image

# text, image, audio, label; row 1 has no image, row 2 no text
GOOD = [
    ("a green frog", "img/0.png", "snd/0.wav", "animals"),
    ("a red apple", "", "snd/1.wav", "food"),
    ("", "img/2.png", "", "animals"),
    ("an apple", "img/3.png", "snd/3.wav", "food"),
]
COLUMNS = ("text", "image", "audio", "label")


def preprocessor() -> Preprocessor:
    return Preprocessor(text=TextSpec(vocabulary_size=20, sequence_length=4,
                                      vocabulary=("a", "green", "frog", "red", "apple", "an")),
                        image=ImageSpec(8, 8, 3), audio=AudioSpec(8000, 0.1, fft_length=256))


def write_files(directory) -> None:
    """The image and WAV files of GOOD under ``directory``."""
    for i, (_, image, audio, _) in enumerate(GOOD):
        if image:
            write_image(directory / image, pattern(10 + i, 9, 3, seed=i))
        if audio:
            write_audio(directory / audio, tone(0.05 + 0.02 * i, 8000, 300.0 + 100 * i), 8000)


def records(rows=GOOD) -> list[dict]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def csv_lines(rows=GOOD) -> list[str]:
    """The CSV header and rows, one string a record, by the stdlib's writer."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records(rows))
    return out.getvalue().splitlines()


def jsonl_lines(rows=GOOD) -> list[str]:
    return [json.dumps(record) for record in records(rows)]


def examples(source, report: BadDataReport | None = None) -> list:
    """``(features, label)`` of every usable row of ``source``, skipping bad ones, in order."""
    dataset = make_dataset(source, preprocessor(), 1, on_error="skip", report=report)
    return list(dataset.unbatch().as_numpy_iterator())


def reference(directory, rows=GOOD) -> tuple[tuple[str, ...], list]:
    """Class names and examples of a CSV manifest holding only ``rows``, in ``directory``
    (where their files are)."""
    path = directory / "reference.csv"
    path.write_text("\n".join(csv_lines(rows)) + "\n", encoding="utf-8")
    source = from_manifest(path)
    return source.class_names, examples(source)


def assert_same_examples(got: list, expected: list) -> None:
    assert len(got) == len(expected)
    for (features, label), (want, want_label) in zip(got, expected, strict=True):
        assert features.keys() == want.keys()
        for key in want:
            np.testing.assert_array_equal(features[key], want[key], err_msg=key)
        np.testing.assert_array_equal(label, want_label)


def assert_skips_exactly(source, directory, bad: list[tuple[str, str]], good_rows=GOOD,
                         file: str = "") -> None:
    """Under ``raise`` the first bad row's DataError names its origin, ``file`` and reason;
    under ``skip`` exactly ``bad`` (origin, reason) are counted and the other rows equal
    the reference decoded from a manifest of ``good_rows`` alone."""
    first_origin, first_reason = bad[0]
    with pytest.raises(DataError) as error:
        make_dataset(source, preprocessor(), 1, on_error="raise")
    assert first_origin in str(error.value) and first_reason in str(error.value)
    assert error.value.path == file and file in str(error.value)
    report = BadDataReport()
    got = examples(source, report)
    assert [p.origin for p in report.skipped] == [origin for origin, _ in bad]
    for problem, (_, reason) in zip(report.skipped, bad, strict=True):
        assert reason in problem.reason
    assert report.summary().startswith(f"skipped {len(bad)} of {len(bad) + len(good_rows)} ")
    class_names, expected = reference(directory, good_rows)
    assert source.class_names == class_names
    assert_same_examples(got, expected)
