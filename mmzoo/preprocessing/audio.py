"""Audio preprocessing in TF ops: decode WAV, mix to mono, resample, crop or pad.

The output is a float32 mono waveform in [-1, 1] of ``spec.num_samples`` samples at
``spec.sample_rate``. Resampling is windowed-sinc interpolation (a Hann-windowed
sinc, 16 zero crossings, rolloff 0.99) written in TF ops with the rates as tensors,
so the exported SavedModel takes WAVs at any rate. Ogg/FLAC/MP3 cannot be decoded
by TF ops: :func:`read_audio_file` decodes them with librosa (offline, in ``prepare``
or in the raw-file pipeline), and the result goes through the same TF ops.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mmzoo.specs import AudioSpec

TF_AUDIO_EXTENSIONS = (".wav",)
_ZERO_CROSSINGS = 16
_ROLLOFF = 0.99


def _gcd(a, b):
    a, b = tf.while_loop(lambda a, b: b > 0, lambda a, b: (b, a % b), (a, b))
    return a


def resample(waveform, orig_rate, target_rate):
    """Resample a mono waveform ``(samples,)`` from ``orig_rate`` to ``target_rate`` (Hz).

    The rates may be tensors. Output length is ``ceil(samples * target_rate / orig_rate)``.

    Example:
        >>> resample(tf.zeros(8000), 8000, 16000).shape
        TensorShape([16000])
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    orig_rate = tf.reshape(tf.cast(orig_rate, tf.int64), [])
    target_rate = tf.reshape(tf.cast(target_rate, tf.int64), [])

    def _resample():
        gcd = _gcd(orig_rate, target_rate)
        orig, new = orig_rate // gcd, target_rate // gcd
        orig_f, new_f = tf.cast(orig, tf.float64), tf.cast(new, tf.float64)
        cutoff = tf.minimum(orig_f, new_f) * _ROLLOFF
        width = tf.cast(tf.math.ceil(_ZERO_CROSSINGS * orig_f / cutoff), tf.int64)
        # One kernel row per output phase: output sample k * new + phase reads the
        # input frame starting at k * orig - width.
        taps = tf.cast(tf.range(-width, width + orig), tf.float64) / orig_f
        phases = tf.cast(tf.range(new), tf.float64) / new_f
        t = tf.clip_by_value((taps[None, :] - phases[:, None]) * cutoff,
                             -_ZERO_CROSSINGS, _ZERO_CROSSINGS)
        window = tf.square(tf.cos(t * np.pi / (2 * _ZERO_CROSSINGS)))
        at_zero = tf.equal(t, 0.0)
        safe_t = tf.where(at_zero, tf.ones_like(t), t)
        sinc = tf.where(at_zero, tf.ones_like(t), tf.sin(np.pi * safe_t) / (np.pi * safe_t))
        kernel = tf.cast(sinc * window * cutoff / orig_f, tf.float32)
        length = tf.cast(tf.shape(waveform, out_type=tf.int64)[0], tf.int64)
        out_length = (length * new + orig - 1) // orig
        num_frames = (out_length + new - 1) // new
        padded = tf.pad(waveform, [[width, width + orig * num_frames]])
        frames = tf.signal.frame(padded, tf.cast(2 * width + orig, tf.int32),
                                 tf.cast(orig, tf.int32))[:num_frames]
        output = tf.reshape(tf.matmul(frames, kernel, transpose_b=True), [-1])
        return output[:out_length]

    return tf.cond(tf.equal(orig_rate, target_rate), lambda: waveform, _resample)


def fit_length(waveform, num_samples: int):
    """Crop a waveform to ``num_samples``, or pad it with silence at the end.

    Example:
        >>> fit_length(tf.ones(3), 5).numpy()
        array([1., 1., 1., 0., 0.], dtype=float32)
    """
    waveform = waveform[:num_samples]
    padded = tf.pad(waveform, [[0, num_samples - tf.shape(waveform)[0]]])
    return tf.ensure_shape(padded, (num_samples,))


def audio_from_waveform(waveform, sample_rate, spec: AudioSpec):
    """A waveform ``(samples,)`` or ``(samples, channels)`` at ``sample_rate`` to ``spec.shape``.

    Channels are averaged; an empty waveform is an error (it is not silence: a missing
    recording is marked absent by its presence flag instead).

    Example:
        >>> audio_from_waveform(tf.zeros((4000, 2)), 8000, AudioSpec(16000, 1.0)).shape
        TensorShape([16000])
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    if waveform.shape.rank == 2:
        waveform = tf.reduce_mean(waveform, axis=-1)
    tf.debugging.assert_positive(tf.size(waveform), message="the audio has no samples")
    # Only what the clip keeps is resampled, plus the reach of the sinc kernel.
    ratio = tf.cast(sample_rate, tf.float64) / spec.sample_rate
    reach = _ZERO_CROSSINGS / _ROLLOFF * tf.maximum(ratio, 1.0)
    needed = tf.cast(tf.math.ceil(spec.num_samples * ratio + reach), tf.int32) + 1
    resampled = resample(waveform[:needed], sample_rate, spec.sample_rate)
    return fit_length(resampled, spec.num_samples)


def decode_wav(contents, spec: AudioSpec):
    """WAV bytes (16-bit PCM, any rate, any channels) to a mono waveform ``spec.shape``.

    Example:
        >>> wav = tf.audio.encode_wav(tf.zeros((800, 1)), 8000)
        >>> decode_wav(wav, AudioSpec(16000, 1.0)).shape
        TensorShape([16000])
    """
    waveform, sample_rate = tf.audio.decode_wav(contents)
    return audio_from_waveform(waveform, sample_rate, spec)


def read_audio_file(path: str, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode any audio file librosa reads (Ogg, FLAC, MP3, WAV...): ``(waveform (samples, channels), rate)``.

    Python, not TF ops: for ``prepare`` and the raw-file pipeline, never for serving.

    Example:
        >>> waveform, rate = read_audio_file("bird.ogg", max_seconds=1.0)  # doctest: +SKIP
    """
    import librosa

    try:
        waveform, rate = librosa.load(path, sr=None, mono=False, duration=max_seconds,
                                      dtype=np.float32)
    except Exception as error:  # librosa raises soundfile's, audioread's and its own errors
        raise ValueError(f"librosa cannot decode {path} ({type(error).__name__}: {error})") from error
    return np.atleast_2d(waveform).T, int(rate)
