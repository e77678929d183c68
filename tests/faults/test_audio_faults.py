"""Audio files that are odd, cut short or not audio at all, end to end.

Three families, every file generated in tmp_path:

- valid WAV variants (PCM of 8 to 32 bits, float, WAVE_FORMAT_EXTENSIBLE, many channels,
  extra or odd-sized chunks before ``fmt ``, chunks in any order): decoded as soundfile
  (libsndfile) reads them, in the preprocessor, through the raw-file pipeline and in an
  exported SavedModel's raw signature;
- truncated Ogg, FLAC, MP3 and WAV files, cut at several points: a ``DataError`` naming
  the file under ``on_error="raise"``; under ``"skip"`` exactly those rows are dropped and
  counted while the good rows equal ``librosa.load``;
- files that are not audio (random bytes, a PNG, text) under each audio name: an error
  saying what the header looks like.
"""

from __future__ import annotations

import csv
import struct

import librosa
import numpy as np
import pytest
import soundfile
import tensorflow as tf

import mmzoo
from mmzoo.data import BadDataReport, DataError, check, from_manifest, make_dataset
from mmzoo.export import export_saved_model
from mmzoo.preprocessing import Preprocessor
from mmzoo.preprocessing.wav import wav_samples
from mmzoo.specs import AudioSpec
from tests.data_files import pattern, tone, write_image

RATE = 16000
SPEC = AudioSpec(RATE, 0.25)
# read_audio_file decodes only the clip; librosa.load decodes the whole file (as in
# tests/preprocessing/test_audio.py).
READ_CLIP_TOLERANCE = 1e-5
# The channel mean in TF ops (float32, in another order) against NumPy's.
MEAN_TOLERANCE = 1e-6
CLASSES = ("a", "b")


# --- Valid WAV variants ------------------------------------------------------------------

def _riff(*chunks) -> bytes:
    """A RIFF/WAVE file of ``(id, payload)`` chunks, each padded to an even size."""
    body = b"".join(chunk_id + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)
                    for chunk_id, payload in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def _pcm_fmt(channels: int, bits: int) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", 1, channels, RATE, RATE * block, block, bits)


def _pcm16(channels: int = 1, seconds: float = 0.3) -> np.ndarray:
    return np.round(tone(seconds, RATE, channels=channels) * 32767).astype("<i2")


LIST_INFO = b"INFOISFT" + struct.pack("<I", 6) + b"mmzoo\0"


def _hand_built(*layout: str, channels: int = 1):
    """A 16-bit PCM WAV written by hand, its chunks in the order of ``layout``: ``fmt``,
    ``data``, ``list`` (a LIST INFO chunk), ``odd`` (an unknown chunk of 3 bytes, padded)."""
    def write(path):
        samples = _pcm16(channels)
        chunks = {"fmt": (b"fmt ", _pcm_fmt(channels, 16)), "data": (b"data", samples.tobytes()),
                  "list": (b"LIST", LIST_INFO), "odd": (b"xtra", b"odd")}
        path.write_bytes(_riff(*(chunks[name] for name in layout)))
        return samples.astype(np.float32) / 32768  # PCM's scale, as libsndfile and TF read it
    return write


def _odd_sized_8bit(path):
    """8-bit PCM with an odd number of samples: the data chunk is padded, a LIST follows."""
    samples = np.round(tone(0.3, RATE)[:4001] * 127 + 128).astype(np.uint8)
    path.write_bytes(_riff((b"fmt ", _pcm_fmt(1, 8)), (b"data", samples.tobytes()),
                           (b"LIST", LIST_INFO)))
    return (samples.astype(np.float32) - 128) / 128


def _with_soundfile(subtype: str, channels: int = 1, format: str = "WAV"):
    def write(path):
        soundfile.write(str(path), tone(0.3, RATE, channels=channels) * np.linspace(1, 0.4, channels),
                        RATE, subtype=subtype, format=format)
        return None  # soundfile reads it back as the reference
    return write


WAV_VARIANTS = {
    "pcm16_plain": _with_soundfile("PCM_16"),
    "pcm8": _with_soundfile("PCM_U8", channels=2),
    "pcm16_extensible_mono": _with_soundfile("PCM_16", format="WAVEX"),
    "pcm16_extensible_stereo": _with_soundfile("PCM_16", channels=2, format="WAVEX"),
    "pcm16_6_channels": _with_soundfile("PCM_16", channels=6),
    "pcm24": _with_soundfile("PCM_24"),
    "pcm24_extensible_3_channels": _with_soundfile("PCM_24", channels=3, format="WAVEX"),
    "pcm32": _with_soundfile("PCM_32", channels=2),
    "float32_with_fact_and_peak_chunks": _with_soundfile("FLOAT", channels=2),
    "float32_extensible": _with_soundfile("FLOAT", format="WAVEX"),
    "float64": _with_soundfile("DOUBLE"),
    "list_before_fmt": _hand_built("list", "fmt", "data"),
    "odd_chunk_before_fmt": _hand_built("odd", "fmt", "data", channels=2),
    "list_after_data": _hand_built("fmt", "data", "list"),
    "data_before_fmt": _hand_built("data", "odd", "fmt"),
    "pcm8_odd_sized_data": _odd_sized_8bit,
}
EXTENSIBLE = [name for name in WAV_VARIANTS if "extensible" in name]


def _write_variant(folder, name):
    """The variant's file and its samples ``(frames, channels)`` as the reference reads them:
    soundfile where it reads the file, else the samples written."""
    path = folder / f"{name}.wav"
    written = WAV_VARIANTS[name](path)
    if written is None:
        written, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        assert rate == RATE
    return path, written.reshape(len(written), -1)


def _clip(samples: np.ndarray) -> np.ndarray:
    """The preprocessor's output for ``samples`` at the spec's rate: the channel mean, cropped."""
    mono = samples.mean(axis=1)[:SPEC.num_samples]
    return np.pad(mono, (0, SPEC.num_samples - len(mono)))


@pytest.mark.parametrize("name", WAV_VARIANTS)
def test_wav_variant_decodes_as_soundfile_reads_it(tmp_path, name):
    path, expected = _write_variant(tmp_path, name)
    contents = path.read_bytes()
    if name in EXTENSIBLE:  # the corpus is what it says: format tag 0xFFFE
        assert contents[12:16] == b"fmt " and contents[20:22] == b"\xfe\xff"
    samples, rate = wav_samples(contents)
    assert int(rate) == RATE
    np.testing.assert_array_equal(samples.numpy(), expected)
    clips = Preprocessor(audio=SPEC)({"audio": tf.constant([contents, b""])})
    np.testing.assert_allclose(clips["audio"].numpy()[0], _clip(expected), atol=MEAN_TOLERANCE)
    np.testing.assert_array_equal(clips["audio_present"].numpy(), [1.0, 0.0])


def test_parsed_16bit_pcm_is_bit_identical_to_tf_decode_wav(tmp_path):
    """A LIST chunk first sends the file to the chunk parser; tf.audio.decode_wav reads the
    same samples laid out the usual way, and the two agree to the bit."""
    samples = _pcm16(channels=2).tobytes()
    usual = _riff((b"fmt ", _pcm_fmt(2, 16)), (b"data", samples))
    with_list = _riff((b"LIST", LIST_INFO), (b"fmt ", _pcm_fmt(2, 16)), (b"data", samples))
    expected, expected_rate = tf.audio.decode_wav(usual)
    actual, rate = wav_samples(with_list)
    assert int(rate) == int(expected_rate) == RATE
    np.testing.assert_array_equal(actual.numpy().view(np.uint32), expected.numpy().view(np.uint32))


def _manifest(folder, paths, labels=None):
    path = folder / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["audio", "label"])
        for row, audio in enumerate(paths):
            writer.writerow([audio.name, CLASSES[row % 2] if labels is None else labels[row]])
    return from_manifest(path, class_names=CLASSES)


def _clips(dataset) -> np.ndarray:
    return np.concatenate([features["audio"].numpy() for features, _ in dataset])


def test_wav_variants_decode_in_the_raw_file_pipeline(tmp_path):
    written = [_write_variant(tmp_path, name) for name in WAV_VARIANTS]
    source = _manifest(tmp_path, [path for path, _ in written])
    report = BadDataReport()
    clips = _clips(make_dataset(source, Preprocessor(audio=SPEC), 4, drop_remainder=False,
                                on_error="raise", report=report))
    assert report.skipped == []
    np.testing.assert_allclose(clips, np.stack([_clip(samples) for _, samples in written]),
                               atol=MEAN_TOLERANCE)


def test_wav_variants_decode_in_the_exported_raw_signature(tmp_path):
    """One export for every variant: the raw signature's probabilities equal the Keras
    model's on the reference clips; a truncated WAV is an InvalidArgumentError naming the
    input and its batch index."""
    written = [_write_variant(tmp_path, name) for name in WAV_VARIANTS]
    model = mmzoo.create_model("concat_tiny", modalities=("audio",), audio=SPEC, num_classes=2)
    path = export_saved_model(model, tmp_path / "serving", preprocessor=Preprocessor(audio=SPEC),
                              class_names=list(CLASSES))
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    contents = [file.read_bytes() for file, _ in written]
    outputs = serve(audio=tf.constant(contents))
    clips = np.stack([_clip(samples) for _, samples in written])
    expected = model({"audio": clips, "audio_present": np.ones(len(clips), np.float32)},
                     training=False)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), np.asarray(expected), atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)audio: .* not a WAV .*\[1\]"):
        serve(audio=tf.constant([contents[0], contents[1][:len(contents[1]) // 2]]))


# --- Truncated files ---------------------------------------------------------------------

CODECS = {".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"), ".mp3": ("MP3", "MPEG_LAYER_III"),
          ".wav": ("WAV", "PCM_16")}


def _write_good(path, seconds=1.0, channels=2):
    format, subtype = CODECS[path.suffix]
    soundfile.write(str(path), tone(seconds, RATE, channels=channels), RATE, format=format,
                    subtype=subtype)
    return path


def _ogg_last_page_start(data: bytes) -> int:
    return data.rfind(b"OggS")  # soundfile's Ogg files hold no "OggS" in packets near the end


def _mp3_frame_starts(data: bytes) -> list[int]:
    """Where each MPEG audio frame starts: found by an independent walk of the frame
    headers (MPEG-2 layer III at 16 kHz: 72 * bitrate / rate + padding bytes)."""
    bitrates = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
    starts, position = [], 0
    while position + 4 <= len(data) and data[position] == 0xFF:
        starts.append(position)
        position += 72 * bitrates[data[position + 2] >> 4] * 1000 // RATE + (data[position + 2] >> 1 & 1)
    return starts


# (case id, suffix, where to cut the good file's bytes)
CUTS = [(f"{suffix[1:]}_cut_at_{int(fraction * 100)}_percent", suffix,
         lambda data, fraction=fraction: int(len(data) * fraction))
        for suffix in CODECS for fraction in (0.25, 0.5, 0.9)]
CUTS += [(f"{suffix[1:]}_without_its_last_byte", suffix, lambda data: len(data) - 1)
         for suffix in CODECS]
CUTS += [
    ("ogg_cut_before_its_last_page", ".ogg", _ogg_last_page_start),
    ("mp3_cut_between_two_frames", ".mp3", lambda data: _mp3_frame_starts(data)[-5]),
    ("wav_header_only", ".wav", lambda data: 40),
    ("flac_header_only", ".flac", lambda data: 42),
]


def _write_cut(folder, case_id, suffix, cut):
    data = _write_good(folder / f"whole_{case_id}{suffix}").read_bytes()
    path = folder / f"{case_id}{suffix}"
    path.write_bytes(data[:cut(data)])
    return path


def _good_files(folder) -> list:
    """One good file per codec, mono and stereo, shorter and longer than the clip."""
    return [_write_good(folder / f"good{i}{suffix}", seconds=0.15 + 0.2 * i, channels=1 + i % 2)
            for i, suffix in enumerate(CODECS)]


def _reference(path) -> np.ndarray:
    """``librosa.load`` of the whole file, cut to the clip and padded."""
    waveform, _ = librosa.load(str(path), sr=RATE, mono=True)
    waveform = waveform[:SPEC.num_samples]
    return np.pad(waveform, (0, SPEC.num_samples - len(waveform)))


@pytest.mark.parametrize("case_id,suffix,cut", CUTS, ids=[case[0] for case in CUTS])
def test_truncated_file_raises_naming_it(tmp_path, case_id, suffix, cut):
    bad = _write_cut(tmp_path, case_id, suffix, cut)
    source = _manifest(tmp_path, [_write_good(tmp_path / f"good{suffix}"), bad])
    with pytest.raises(DataError) as error:
        check(source, Preprocessor(audio=SPEC), on_error="raise")
    assert error.value.origin == source.origins[1] and error.value.path.endswith(bad.name)
    assert "truncated" in error.value.reason and str(bad) in str(error.value)


def _assert_skips_exactly(tmp_path, bad_files, reason_words):
    """Good files interleaved with ``bad_files`` in one manifest: one pass of the raw-file
    pipeline under skip drops and counts exactly the bad rows, and the good rows' clips
    equal librosa.load's."""
    good = _good_files(tmp_path)
    files = [file for pair in zip(bad_files, good * len(bad_files)) for file in pair]
    source = _manifest(tmp_path, files)
    report = BadDataReport()
    clips = _clips(make_dataset(source, Preprocessor(audio=SPEC), 4, drop_remainder=False,
                                on_error="skip", report=report))
    bad_rows = [row for row, file in enumerate(files) if file in bad_files]
    assert sorted(problem.origin for problem in report.skipped) == sorted(
        source.origins[row] for row in bad_rows)
    assert report.summary().startswith(f"skipped {len(bad_files)} of {len(files)} examples")
    for problem in report.skipped:
        assert any(word in problem.reason for word in reason_words), problem
    good_rows = [file for file in files if file not in bad_files]
    np.testing.assert_allclose(clips, np.stack([_reference(file) for file in good_rows]),
                               atol=READ_CLIP_TOLERANCE)


def test_truncated_files_are_skipped_and_counted(tmp_path):
    bad = [_write_cut(tmp_path, case_id, suffix, cut) for case_id, suffix, cut in CUTS]
    _assert_skips_exactly(tmp_path, bad, ["truncated"])


# --- Not audio ---------------------------------------------------------------------------

RANDOM_BYTES = b"\xfa" + np.random.default_rng(13).bytes(999)  # 0xfa: the byte UTF-8 choked on
TEXT = b"hello, this is a note, not a recording\n"


def _png_bytes(folder) -> bytes:
    return write_image(folder / "picture.png", pattern(8, 8, 3)).read_bytes()


NOT_AUDIO = {  # name -> (contents from a folder, what the message says its header looks like)
    "random_bytes": (lambda folder: RANDOM_BYTES,
                     "it starts with bytes " + " ".join(f"0x{b:02x}" for b in RANDOM_BYTES[:4])),
    "png": (_png_bytes, "it starts with bytes 0x89 0x50 0x4e 0x47 (a PNG image)"),
    "text": (lambda folder: TEXT, "it starts with text `hello, t`"),
}
NOT_AUDIO_CASES = [(name, suffix) for name in NOT_AUDIO for suffix in CODECS]


def _write_not_audio(folder, name, suffix):
    path = folder / f"{name}{suffix}"
    path.write_bytes(NOT_AUDIO[name][0](folder))
    return path


@pytest.mark.parametrize("name,suffix", NOT_AUDIO_CASES,
                         ids=[f"{name}_as{suffix}" for name, suffix in NOT_AUDIO_CASES])
def test_not_audio_is_named_by_its_header(tmp_path, name, suffix):
    bad = _write_not_audio(tmp_path, name, suffix)
    source = _manifest(tmp_path, [_write_good(tmp_path / f"good{suffix}"), bad])
    with pytest.raises(DataError) as error:
        check(source, Preprocessor(audio=SPEC), on_error="raise")
    assert error.value.origin == source.origins[1] and error.value.path.endswith(bad.name)
    expected = "not a WAV file" if suffix == ".wav" else f"{bad} is not audio that can be read"
    assert expected in error.value.reason and NOT_AUDIO[name][1] in error.value.reason


def test_not_audio_files_are_skipped_and_counted(tmp_path):
    bad = [_write_not_audio(tmp_path, name, suffix) for name, suffix in NOT_AUDIO_CASES]
    _assert_skips_exactly(tmp_path, bad, ["not a WAV file", "is not audio"])
