import librosa
import numpy as np
import pytest
import soundfile
import tensorflow as tf

from mmzoo.preprocessing import (
    LogMelSpectrogram,
    decode_wav,
    fit_length,
    read_audio_file,
    read_audio_files,
    resample,
)
from mmzoo.preprocessing.log_mel import frames
from mmzoo.specs import AudioSpec
from tests.data_files import tone, write_audio

# Away from the edges, the windowed sinc agrees with soxr (librosa's default resampler)
# to ~6e-5 on tones well below Nyquist; the edges differ by the filters' transients.
RESAMPLE_TOLERANCE = 2e-4
RESAMPLE_EDGE = 100
# The log-mel layer matches librosa to ~2e-5 dB (float32 STFT vs float64).
LOG_MEL_TOLERANCE_DB = 1e-3


@pytest.mark.parametrize("orig,target", [(44100, 16000), (8000, 16000), (48000, 8000), (22050, 16000)])
def test_resample_matches_librosa(orig, target):
    wave = tone(0.3, orig)[:, 0]
    expected = librosa.resample(wave, orig_sr=orig, target_sr=target, res_type="soxr_hq")
    actual = resample(wave, orig, target).numpy()
    assert actual.shape == expected.shape
    edge = slice(RESAMPLE_EDGE, -RESAMPLE_EDGE)
    np.testing.assert_allclose(actual[edge], expected[edge], atol=RESAMPLE_TOLERANCE)


def test_resample_takes_rates_as_tensors_and_skips_equal_rates():
    wave = tone(0.1, 8000)[:, 0]
    run = tf.function(resample, input_signature=[tf.TensorSpec([None]), tf.TensorSpec([], tf.int32),
                                                 tf.TensorSpec([], tf.int32)])
    np.testing.assert_array_equal(run(wave, 8000, 8000).numpy(), wave)
    assert run(wave, 8000, 16000).shape == (1600,)


def test_decode_wav_mixes_channels_resamples_and_pads(tmp_path):
    stereo = tone(0.25, 8000, channels=2) * np.array([1.0, 0.5], np.float32)
    path = write_audio(tmp_path / "a.wav", stereo, 8000)
    spec = AudioSpec(sample_rate=16000, clip_seconds=1.0)
    actual = decode_wav(path.read_bytes(), spec).numpy()
    pcm, _ = soundfile.read(str(path), dtype="float32")
    expected = librosa.resample(pcm.mean(axis=1), orig_sr=8000, target_sr=16000, res_type="soxr_hq")
    assert actual.shape == (16000,)
    np.testing.assert_allclose(actual[RESAMPLE_EDGE:4000 - RESAMPLE_EDGE],
                               expected[RESAMPLE_EDGE:4000 - RESAMPLE_EDGE], atol=RESAMPLE_TOLERANCE)
    np.testing.assert_array_equal(actual[4000 + RESAMPLE_EDGE:], 0.0)


def test_decode_wav_crops_long_clips(tmp_path):
    path = write_audio(tmp_path / "a.wav", tone(2.0, 8000), 8000)
    pcm, _ = soundfile.read(str(path), dtype="float32")
    np.testing.assert_allclose(decode_wav(path.read_bytes(), AudioSpec(8000, 0.5)).numpy(),
                               pcm[:4000], atol=1e-6)


def test_empty_and_truncated_wavs_raise(tmp_path):
    spec = AudioSpec(8000, 0.5)
    empty = write_audio(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 8000).read_bytes()
    with pytest.raises(tf.errors.InvalidArgumentError, match="no samples"):
        decode_wav(empty, spec)
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_wav(write_audio(tmp_path / "a.wav", tone(0.5, 8000)).read_bytes()[:30], spec)


def test_fit_length():
    np.testing.assert_array_equal(fit_length(tf.range(5.0), 3).numpy(), [0, 1, 2])
    np.testing.assert_array_equal(fit_length(tf.range(2.0), 4).numpy(), [0, 1, 0, 0])


# read_audio_file decodes only the clip (plus soxr's reach), with miniaudio for Ogg and FLAC
# and soundfile for the rest, yet matches librosa.load on the whole file: ~1e-6 (float32
# rounding of the channel mean and the resampler).
READ_CLIP_TOLERANCE = 1e-5


@pytest.mark.parametrize("suffix,rate,seconds", [
    (".ogg", 44100, 2.0),   # stereo Ogg, longer than the clip: cropped, resampled
    (".flac", 8000, 0.3),   # stereo FLAC, shorter than the clip: kept whole, resampled
    (".ogg", 16000, 1.5),   # already at the spec's rate: no resampling
    (".aiff", 22050, 1.2),  # not for miniaudio: soundfile decodes it
])
def test_read_audio_file_equals_librosa_load(tmp_path, suffix, rate, seconds):
    spec = AudioSpec(16000, 1.0)
    path = str(write_audio(tmp_path / f"a{suffix}", tone(seconds, rate, channels=2), rate))
    expected, _ = librosa.load(path, sr=spec.sample_rate, mono=True)
    actual = read_audio_file(path, spec)
    assert actual.dtype == np.float32 and actual.shape == expected[:spec.num_samples].shape
    np.testing.assert_allclose(actual, expected[:spec.num_samples], atol=READ_CLIP_TOLERANCE)


def test_read_audio_file_names_the_file_it_cannot_decode(tmp_path):
    (tmp_path / "bad.ogg").write_bytes(b"OggS" + bytes(200))
    with pytest.raises(ValueError, match="bad.ogg is truncated or corrupt"):
        read_audio_file(str(tmp_path / "bad.ogg"), AudioSpec(16000, 1.0))


def test_read_audio_files_pads_each_clip_and_names_each_failure(tmp_path):
    spec = AudioSpec(16000, 1.0)
    short = str(write_audio(tmp_path / "short.ogg", tone(0.4, 44100, channels=2), 44100))
    (tmp_path / "bad.ogg").write_bytes(b"OggS" + bytes(200))
    paths = [short.encode(), b"", str(tmp_path / "bad.ogg").encode(), str(tmp_path / "gone.flac").encode()]
    clips, errors = read_audio_files(paths, spec)
    expected, _ = librosa.load(short, sr=spec.sample_rate, mono=True)
    assert clips.shape == (4, spec.num_samples) and clips.dtype == np.float32
    np.testing.assert_allclose(clips[0, :len(expected)], expected, atol=READ_CLIP_TOLERANCE)
    assert not clips[0, len(expected):].any() and not clips[1:].any()
    assert errors[:2].tolist() == [b"", b""]
    assert b"bad.ogg is truncated or corrupt" in errors[2]
    assert b"gone.flac" in errors[3] and b"No such file" in errors[3]


def test_read_audio_files_keeps_any_failure_to_its_file(tmp_path, monkeypatch):
    """An unexpected error (not a ValueError) while decoding one file fails that file only."""
    import mmzoo.preprocessing.audio as audio

    good = str(write_audio(tmp_path / "good.ogg", tone(0.2, 16000), 16000))
    real = audio.read_audio_file

    def flaky(path, spec):
        if path.endswith("flaky.ogg"):
            raise RuntimeError("decoder crashed")
        return real(path, spec)

    monkeypatch.setattr(audio, "read_audio_file", flaky)
    clips, errors = read_audio_files([b"/data/flaky.ogg", good.encode()], AudioSpec(16000, 1.0))
    assert errors[0] == b"cannot decode /data/flaky.ogg (RuntimeError: decoder crashed)"
    assert errors[1] == b"" and np.abs(clips[1]).max() > 0.1 and not clips[0].any()


def test_log_mel_matches_librosa():
    spec = AudioSpec(sample_rate=8000, clip_seconds=0.5, num_mel_bins=32, fft_length=256, hop_length=80)
    wave = tone(0.5, 8000)[:, 0] + 0.01 * np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    actual = LogMelSpectrogram.from_spec(spec)(wave[None]).numpy()[0]
    mel = librosa.feature.melspectrogram(y=wave.astype(np.float64), sr=8000, n_fft=256, hop_length=80,
                                         n_mels=32, center=True, pad_mode="constant")
    expected = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T
    assert actual.shape == expected.shape == (spec.num_frames, 32)
    np.testing.assert_allclose(actual, expected, atol=LOG_MEL_TOLERANCE_DB)


@pytest.mark.parametrize("samples,frame_length,frame_step", [
    (8393, 512, 71),   # the step does not divide the frame: 8 blocks a frame, cut
    (16512, 512, 160),
    (512, 512, 160),   # exactly one frame
    (1000, 256, 300),  # a step longer than the frame: samples between frames are skipped
])
def test_frames_equal_tf_signal_frame(samples, frame_length, frame_step):
    signals = tf.constant(np.random.default_rng(0).standard_normal((3, samples)), tf.float32)
    np.testing.assert_array_equal(frames(signals, frame_length, frame_step).numpy(),
                                  tf.signal.frame(signals, frame_length, frame_step).numpy())
