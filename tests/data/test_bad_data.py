import pytest

from mmzoo.data import DataError, check, from_folder, from_manifest, make_dataset, prepare
from tests.data.conftest import ROWS, write_manifest
from tests.data_files import tone, write_audio


def corrupt_image(directory):
    (directory / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return ("A cat.", "bad.png", "", "animals"), "bad.png", "cannot decode the image"


def truncated_wav(directory):
    data = write_audio(directory / "cut.wav", tone(0.5)).read_bytes()
    (directory / "cut.wav").write_bytes(data[:60])
    return ("A cat.", "", "cut.wav", "animals"), "cut.wav", "cannot decode the audio"


def empty_wav(directory):
    write_audio(directory / "empty.wav", tone(0.0))
    return ("A cat.", "", "empty.wav", "animals"), "empty.wav", "no samples"


def empty_file(directory):
    (directory / "zero.ogg").write_bytes(b"")
    return ("A cat.", "", "zero.ogg", "animals"), "zero.ogg", "the file is empty"


def corrupt_ogg(directory):
    (directory / "bad.ogg").write_bytes(b"OggS" + bytes(200))
    return ("A cat.", "", "bad.ogg", "animals"), "bad.ogg", "cannot decode the audio"


def missing_file(directory):
    return ("A cat.", "nowhere.png", "", "animals"), "nowhere.png", "does not exist"


def unknown_label(directory):
    return ("A cat.", "", "", "vehicles"), "manifest.csv row 4", "unknown label 'vehicles'"


def non_utf8_text(directory):
    return ("A caf\udce9.", "", "", "animals"), "manifest.csv row 4", "not valid UTF-8"


CASES = [corrupt_image, truncated_wav, empty_wav, empty_file, corrupt_ogg, missing_file,
         unknown_label, non_utf8_text]


def manifest_with(tiny, case):
    row, name, reason = case(tiny)
    path = write_manifest(tiny, [*ROWS, row], ".csv")  # "\udce9" is written as the byte 0xE9
    return from_manifest(path, class_names=["animals", "food"]), name, reason


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_raise_names_the_row_the_file_and_the_reason(tiny, preprocessor, case):
    source, name, reason = manifest_with(tiny, case)
    with pytest.raises(DataError, match="on_error='skip'") as error:
        check(source, preprocessor, on_error="raise")
    message = str(error.value)
    assert "manifest.csv row 4" in message and name in message and reason in message


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_skip_counts_and_keeps_the_good_examples(tiny, preprocessor, case):
    source, _, reason = manifest_with(tiny, case)
    clean, report = check(source, preprocessor, on_error="skip")
    assert [p.origin for p in report.skipped] == ["manifest.csv row 4"]
    assert reason in report.skipped[0].reason
    assert report.summary().startswith("skipped 1 of 4 examples")
    labels = [int(label) for _, label in make_dataset(clean, preprocessor, 1, check_files=False)
              .unbatch().as_numpy_iterator()]
    assert labels == [0, 1, 0]


def test_prepare_skips_bad_files_and_summarizes(tiny, preprocessor):
    source, _, _ = manifest_with(tiny, corrupt_image)
    data = prepare(source, preprocessor, tiny / "prepared", num_shards=2, on_error="skip")
    assert data.num_examples == 3 and "1 x cannot decode the image" in data.report.summary()
    with pytest.raises(DataError, match="bad.png"):
        prepare(source, preprocessor, tiny / "prepared2", on_error="raise")


def test_folder_with_non_utf8_text_file(tiny, preprocessor):
    (tiny / "food" / "cake.txt").write_bytes(b"A cake \xff\n")
    with pytest.raises(DataError, match="food/cake.*not valid UTF-8"):
        check(from_folder(tiny), preprocessor)


def test_unknown_policy_is_refused(tiny, preprocessor):
    with pytest.raises(ValueError, match="on_error='ignore' is unknown"):
        check(from_folder(tiny), preprocessor, on_error="ignore")
