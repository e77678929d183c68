import logging
import pathlib

import pytest
import tensorflow as tf

from mmzoo.data import (
    BadDataReport,
    DataError,
    check,
    from_folder,
    from_manifest,
    make_dataset,
    prepare,
)
from mmzoo.data.sources import INDEX_KEY
from tests.data.conftest import ROWS, write_manifest
from tests.data_files import tone, write_audio

BAD_ROW = "manifest.csv row 4 (line 5)"  # the header is line 1


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
    return ("A cat.", "", "", "vehicles"), BAD_ROW, "unknown label 'vehicles'"


def non_utf8_text(directory):
    return ("A caf\udce9.", "", "", "animals"), BAD_ROW, "not valid UTF-8"


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
    assert BAD_ROW in message and name in message and reason in message


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_skip_counts_and_keeps_the_good_examples(tiny, preprocessor, case):
    source, _, reason = manifest_with(tiny, case)
    clean, report = check(source, preprocessor, on_error="skip")
    assert [p.origin for p in report.skipped] == [BAD_ROW]
    assert reason in report.skipped[0].reason
    assert report.summary().startswith("skipped 1 of 4 examples")
    labels = [int(label) for _, label in make_dataset(clean, preprocessor, 1)
              .unbatch().as_numpy_iterator()]
    assert labels == [0, 1, 0]


DECODE_CASES = [corrupt_image, truncated_wav, empty_wav, corrupt_ogg]


def labels_of(dataset):
    return [int(label) for _, labels in dataset for label in labels.numpy()]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_pipeline_raise_names_the_row_the_file_and_the_reason(tiny, preprocessor, case):
    source, name, reason = manifest_with(tiny, case)
    with pytest.raises((DataError, tf.errors.InvalidArgumentError)) as error:
        labels_of(make_dataset(source, preprocessor, 1, on_error="raise"))
    message = str(error.value)
    assert BAD_ROW in message and name in message and reason in message


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_pipeline_skip_counts_and_summarizes_each_pass(tiny, preprocessor, case, caplog):
    source, _, reason = manifest_with(tiny, case)
    report = BadDataReport()
    with caplog.at_level(logging.INFO, logger="mmzoo.data"):
        dataset = make_dataset(source, preprocessor, 1, on_error="skip", report=report)
        for _ in range(2):  # every pass (epoch) counts the bad row and logs its summary
            before = len(caplog.records)
            assert labels_of(dataset) == [0, 1, 0]
            summaries = [r.getMessage() for r in caplog.records[before:]
                         if "skipped 1 of 4 examples" in r.getMessage()]
            assert len(summaries) == 1
    assert any(BAD_ROW in r.getMessage() and reason in r.getMessage()
               for r in caplog.records)


def test_pipeline_finds_bad_rows_anywhere_and_with_shuffling(tiny, preprocessor):
    corrupt_image(tiny)
    bad = ("A cat.", "bad.png", "", "animals")
    source = from_manifest(write_manifest(tiny, [bad, *ROWS, bad, bad], ".csv"),
                           class_names=["animals", "food"])
    report = BadDataReport()
    dataset = make_dataset(source, preprocessor, 1, on_error="skip", report=report,
                           shuffle=True, seed=3)
    for _ in range(2):  # after each pass the report holds that pass's count, not a running total
        assert sorted(labels_of(dataset)) == [0, 0, 1]
        assert sorted(p.origin for p in report.skipped) == [
            "manifest.csv row 1 (line 2)", "manifest.csv row 5 (line 6)",
            "manifest.csv row 6 (line 7)"]


def test_pipeline_decodes_each_good_row_once(tiny, preprocessor):
    """One pass, not a checking pass and then a training pass: only bad rows are read twice."""
    source, _, _ = manifest_with(tiny, corrupt_image)
    calls = []

    def counting_load(row, specs):
        counted = tf.py_function(lambda index: calls.append(int(index)) or 0, [row[INDEX_KEY]],
                                 tf.int64)
        with tf.control_dependencies([counted]):
            return {k: tf.identity(v) for k, v in load(row, specs).items()}

    load = source.load
    source.load = counting_load
    assert labels_of(make_dataset(source, preprocessor, 1, on_error="skip")) == [0, 1, 0]
    assert [calls.count(index) for index in range(3)] == [1, 1, 1]
    assert calls.count(3) >= 2  # the bad row: in the pass, then alone to name the reason


def test_prepare_skips_bad_files_and_summarizes(tiny, preprocessor):
    source, _, _ = manifest_with(tiny, corrupt_image)
    data = prepare(source, preprocessor, tiny / "prepared", num_shards=2, on_error="skip")
    assert data.num_examples == 3 and "1 x cannot decode the image" in data.report.summary()
    with pytest.raises(DataError, match="bad.png"):
        prepare(source, preprocessor, tiny / "prepared2", on_error="raise")


# Quotes, backticks, colons, backslashes, a newline and non-ASCII: what TF's Assert escapes.
TRICKY = DataError("données.csv row 3 (line 4)", "/tmp/it's `a`: \"b\"/é\\x.png",
                   "cannot decode the image: 'bad' `x`: \"y\" \\ ü\nnext", "Re-save it: 'ok'.")


def fields(error: DataError) -> tuple:
    return error.origin, error.path, error.reason, error.fix, str(error)


def test_a_data_error_round_trips_through_a_pipeline_exactly():
    """Raised by a pipeline's Assert (as the one-pass decoder does), iterated eagerly and
    inside a tf.function (as Keras ``fit`` does): the same fields come back."""
    def fail(_):
        message = tf.py_function(TRICKY.to_tf_message, [], tf.string)
        with tf.control_dependencies([tf.debugging.Assert(False, [message])]):
            return tf.identity(message)

    dataset = tf.data.Dataset.range(1).map(fail)
    with pytest.raises(tf.errors.InvalidArgumentError) as eager:
        list(dataset)
    with pytest.raises(tf.errors.InvalidArgumentError) as graph:
        tf.function(lambda iterator: next(iterator))(iter(dataset))
    for error in (eager.value, graph.value):
        assert fields(DataError.from_tf_error(error)) == fields(TRICKY)
    assert DataError.from_tf_error(ValueError("DataError: a (b): c")) is None


def test_check_and_make_dataset_report_the_same_problems(tiny, preprocessor):
    corrupt_image(tiny), truncated_wav(tiny), corrupt_ogg(tiny)
    bad = [("A cat.", "bad.png", "", "animals"), ("A cat.", "", "cut.wav", "animals"),
           ("A cat.", "nowhere.png", "", "animals"), ("A cat.", "", "bad.ogg", "animals"),
           ("A cat.", "", "", "vehicles")]
    source = from_manifest(write_manifest(tiny, [ROWS[0], bad[0], ROWS[1], *bad[1:], ROWS[2]],
                                          ".csv"), class_names=["animals", "food"])
    _, checked = check(source, preprocessor, on_error="skip")
    passed = BadDataReport()
    assert labels_of(make_dataset(source, preprocessor, 1, on_error="skip",
                                  report=passed)) == [0, 1, 0]
    assert checked == passed
    # found when the source is made (rows 5 and 7), then while decoding (rows 2, 4, 6)
    assert [(p.origin.split(" (")[0], pathlib.Path(p.path).name) for p in checked.skipped] == [
        ("manifest.csv row 5", "nowhere.png"), ("manifest.csv row 7", ""),
        ("manifest.csv row 2", "bad.png"), ("manifest.csv row 4", "cut.wav"),
        ("manifest.csv row 6", "bad.ogg")]

    decoding_only = from_manifest(write_manifest(tiny, [ROWS[0], bad[0], bad[1]], ".csv"),
                                  class_names=["animals", "food"])
    with pytest.raises(DataError) as raised:
        check(decoding_only, preprocessor, on_error="raise")
    with pytest.raises(tf.errors.InvalidArgumentError) as carried:
        labels_of(make_dataset(decoding_only, preprocessor, 1, on_error="raise"))
    assert fields(DataError.from_tf_error(carried.value)) == fields(raised.value)
    assert raised.value.origin == "manifest.csv row 2 (line 3)"
    assert raised.value.path.endswith("bad.png")


def test_rows_holding_arrays_are_named_with_their_bad_file(tiny, preprocessor):
    """Rows with decoded arrays (not kept for naming bad rows) and audio files: the bad row
    is named with its file and reason by check and by make_dataset alike."""
    source, name, reason = manifest_with(tiny, corrupt_ogg)
    load = source.load

    def load_with_image_arrays(row, specs):
        arrays = {"image": row["image"]} if "image" in row else {}
        return {**load({k: v for k, v in row.items() if k != "image"}, specs), **arrays}

    images = tf.data.Dataset.from_tensor_slices({"image": tf.zeros([4, 8, 8, 3], tf.uint8)})
    source.rows = tf.data.Dataset.zip(source.rows, images).map(lambda row, a: {**row, **a})
    source.load = load_with_image_arrays
    clean, checked = check(source, preprocessor, on_error="skip")
    passed = BadDataReport()
    assert labels_of(make_dataset(source, preprocessor, 1, on_error="skip",
                                  report=passed)) == [0, 1, 0]
    assert checked == passed
    assert [p.origin for p in checked.skipped] == [BAD_ROW]
    assert checked.skipped[0].path.endswith(name) and reason in checked.skipped[0].reason
    assert labels_of(make_dataset(clean, preprocessor, 1)) == [0, 1, 0]


def test_folder_with_non_utf8_text_file(tiny, preprocessor):
    (tiny / "food" / "cake.txt").write_bytes(b"A cake \xff\n")
    with pytest.raises(DataError, match="food/cake.*not valid UTF-8"):
        check(from_folder(tiny), preprocessor)


def test_unknown_policy_is_refused(tiny, preprocessor):
    with pytest.raises(ValueError, match="on_error='ignore' is unknown"):
        check(from_folder(tiny), preprocessor, on_error="ignore")


def test_a_script_stopped_by_a_bad_file_exits(tiny):
    """An uncaught bad-file error from inside the pipeline ends the process (it used to hang
    at exit when the row was diagnosed by iterating a dataset inside the pipeline)."""
    import subprocess
    import sys

    corrupt_image(tiny)
    manifest = write_manifest(tiny, [*ROWS, ("A cat.", "bad.png", "", "animals")], ".csv")
    script = (
        "import sys; from tests.data.conftest import preprocessor\n"
        "from mmzoo.data import from_manifest, make_dataset\n"
        f"source = from_manifest({str(manifest)!r})\n"
        "for _ in make_dataset(source, preprocessor.__wrapped__(), 1): pass\n")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=120, cwd=pathlib.Path(__file__).resolve().parents[2])
    assert completed.returncode == 1
    assert BAD_ROW in completed.stderr and "bad.png" in completed.stderr
