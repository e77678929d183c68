import librosa
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.data import (
    check,
    from_arrays,
    from_dataframe,
    from_folder,
    from_manifest,
    from_rows,
    from_tfds,
    make_dataset,
)
from mmzoo.preprocessing import Preprocessor, decode_image, decode_wav
from mmzoo.specs import AudioSpec
from tests.data.conftest import ROWS, write_manifest
from tests.data_files import pattern, tone, write_audio


def examples(source, preprocessor):
    """All (features, label) of a source, unbatched, in order."""
    dataset = make_dataset(source, preprocessor, batch_size=1).unbatch()
    return list(dataset.as_numpy_iterator())


def librosa_clip(path, spec):
    """The reference clip: librosa.load at the spec's rate, cut or padded to its length."""
    waveform, _ = librosa.load(str(path), sr=spec.sample_rate)
    return np.pad(waveform[:spec.num_samples], (0, max(0, spec.num_samples - len(waveform))))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_manifest_gives_the_files_decoded(tiny, preprocessor, suffix):
    source = from_manifest(write_manifest(tiny, ROWS, suffix))
    assert source.class_names == ("animals", "food")
    got = examples(source, preprocessor)
    assert [int(label) for _, label in got] == [0, 1, 0]
    frog = got[0][0]
    assert frog["text"].tolist() == [2, 3, 4, 0, 0]  # a green frog
    expected = decode_image(tf.io.read_file(str(tiny / ROWS[0][1])), preprocessor.specs["image"])
    np.testing.assert_allclose(frog["image"], expected.numpy())
    expected = decode_wav(tf.io.read_file(str(tiny / ROWS[0][2])), preprocessor.specs["audio"])
    np.testing.assert_allclose(frog["audio"], expected.numpy(), atol=1e-6)
    assert got[1][0]["audio_present"] == 1.0  # the Ogg, decoded in Python
    np.testing.assert_allclose(got[1][0]["audio"],
                               librosa_clip(tiny / ROWS[1][2], preprocessor.specs["audio"]), atol=1e-5)
    fish = got[2][0]
    assert fish["audio_present"] == 0.0 and not fish["audio"].any()


@pytest.mark.parametrize("on_error", ["skip", "raise"])
def test_audio_files_tf_cannot_decode_are_decoded_in_python_in_order(tmp_path, on_error):
    """Ogg and FLAC only (no WAV: the graph has no WAV decoder), over several batches, the
    last one partial: every row keeps its own clip, in order; a bad file is skipped or named
    wherever it is."""
    spec = AudioSpec(8000, 0.25, fft_length=256)
    rows = []
    for i in range(35):
        path = tmp_path / f"a{i}{'.flac' if i % 3 else '.ogg'}"
        write_audio(path, tone(0.1 + 0.01 * i, 16000, frequency=200.0 + 30 * i), 16000)
        rows.append({"audio": str(path), "label": "x"})
    rows[17]["audio"] = str(tmp_path / "bad.ogg")
    (tmp_path / "bad.ogg").write_bytes(b"OggS" + bytes(200))
    source = from_rows(rows, [f"row {i}" for i in range(len(rows))])
    dataset = make_dataset(source, Preprocessor(audio=spec), 4, drop_remainder=False,
                           on_error=on_error)
    if on_error == "raise":
        with pytest.raises(tf.errors.InvalidArgumentError, match="row 17.*bad.ogg"):
            list(dataset)
        return
    clips = np.concatenate([features["audio"] for features, _ in dataset.as_numpy_iterator()])
    good = [row["audio"] for row in rows if not row["audio"].endswith("bad.ogg")]
    assert len(clips) == len(good)
    for clip, path in zip(clips, good, strict=True):
        np.testing.assert_allclose(clip, librosa_clip(path, spec), atol=1e-5, err_msg=path)


def test_labels_as_ids_with_given_class_names(tiny, preprocessor):
    rows = [(*row[:3], str(i % 2)) for i, row in enumerate(ROWS)]
    source = from_manifest(write_manifest(tiny, rows, ".csv"), class_names=["x", "y"])
    assert [int(label) for _, label in examples(source, preprocessor)] == [0, 1, 0]


def test_multi_label(tiny, preprocessor):
    rows = [(*ROWS[0][:3], "animals|food"), (*ROWS[2][:3], "food")]
    source = from_manifest(write_manifest(tiny, rows, ".csv"), multi_label=True)
    labels = [label.tolist() for _, label in examples(source, preprocessor)]
    assert labels == [[1.0, 1.0], [0.0, 1.0]]


def test_folder_groups_files_by_stem(tiny, preprocessor):
    source = from_folder(tiny, first_line_only=True)
    assert source.class_names == ("animals", "food")
    assert list(source.origins) == ["animals/fish", "animals/frog", "food/apple"]
    got = examples(source, preprocessor)
    assert [e["audio_present"] for e, _ in got] == [0.0, 1.0, 1.0]
    assert got[1][0]["text"].tolist() == [2, 3, 4, 0, 0]


def test_arrays(preprocessor):
    images = pattern(5, 8, 3)[None].repeat(2, 0)
    audio = np.stack([np.linspace(-1, 1, 2000, dtype=np.float32)] * 2)
    source = from_arrays(["b", "a"], text=["a frog", ""], image=images, audio=audio,
                         audio_sample_rate=8000)
    assert source.class_names == ("a", "b")
    (first, label), (second, _) = examples(source, preprocessor)
    assert int(label) == 1 and first["text"].tolist()[:2] == [2, 4]
    assert second["text_present"] == 0.0 and first["image_present"] == 1.0
    np.testing.assert_allclose(first["audio"], audio[0], atol=1e-6)


def test_dataframe_equals_manifest(tiny, preprocessor):
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame([dict(zip(("text", "image", "audio", "label"), r, strict=True)) for r in ROWS])
    from_frame = examples(from_dataframe(frame, base_dir=tiny), preprocessor)
    from_csv = examples(from_manifest(write_manifest(tiny, ROWS, ".csv")), preprocessor)
    for (a, _), (b, _) in zip(from_frame, from_csv, strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_tfds_builder(tmp_path, preprocessor):
    tfds = pytest.importorskip("tensorflow_datasets")

    class Tiny(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "picture": tfds.features.Image(shape=(6, 6, 3)),
                "sound": tfds.features.Audio(shape=(1000,), dtype=np.int16, sample_rate=4000),
                "label": tfds.features.ClassLabel(names=["cat", "dog"])}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for i in range(2):
                yield i, {"picture": pattern(6, 6, 3, seed=i), "label": i,
                          "sound": (np.arange(1000) % 50 * 100).astype(np.int16)}

    builder = Tiny(data_dir=tmp_path)
    builder.download_and_prepare()
    source = from_tfds(builder, "train", features={"image": "picture", "audio": "sound"})
    assert source.class_names == ("cat", "dog")
    preprocessor = type(preprocessor)(image=preprocessor.specs["image"], audio=preprocessor.specs["audio"])
    source, report = check(source, preprocessor)
    got = sorted(examples(source, preprocessor), key=lambda e: int(e[1]))
    assert [int(label) for _, label in got] == [0, 1] and report.skipped == []
    expected = tf.image.resize(pattern(6, 6, 3, seed=0).astype(np.float32), (8, 8)).numpy()
    np.testing.assert_allclose(got[0][0]["image"], expected, atol=1e-3)
    assert got[0][0]["audio"].shape == (2000,) and got[0][0]["audio_present"] == 1.0


def test_dataframe_labels_whole_floats_are_ids_and_missing_ones_bad(tiny, preprocessor):
    """pandas makes an integer column holding a missing value float: 1.0 is the id 1, NaN
    an empty label (a bad row), and 0.5 is no class id."""
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"text": ["a frog", "an apple", "a fish", "a pear"],
                              "label": [0, 1, None, 0.5]})
    source, report = check(from_dataframe(frame), preprocessor, on_error="skip")
    assert source.class_names == ("0", "1")
    assert [int(label) for _, label in examples(source, preprocessor)] == [0, 1]
    assert [(p.origin, p.reason.split(":")[0]) for p in report.skipped] == [
        ("dataframe row 2", "the label is empty"), ("dataframe row 3", "the label is 0.5 (a fraction)")]


def test_arrays_with_boolean_labels_are_bad(preprocessor):
    source = from_arrays([True, False, 1], text=["a", "b", "c"], class_names=["x", "y"])
    assert [p.reason.split(" (")[0] for p in source.problems] == ["the label is true",
                                                                  "the label is false"]
    preprocessor = Preprocessor(text=preprocessor.specs["text"])
    clean, _ = check(source, preprocessor, on_error="skip")
    assert [int(label) for _, label in examples(clean, preprocessor)] == [1]


def test_texts_of_a_source_without_text_says_so(tiny):
    source = from_rows([{"image": str(tiny / ROWS[0][1]), "label": "a"}], ["row 1"])
    with pytest.raises(ValueError, match="no row of this source has text"):
        source.texts()
