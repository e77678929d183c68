"""Log-mel spectrogram in TF ops: the one audio feature implementation.

Why not ``keras.layers.MelSpectrogram``: its ``top_db`` clamp uses the maximum
of the whole batch, so an example's features depend on its batch-mates (batch
inference would differ from single-example serving), and its mel filterbank is
triangular in mel space rather than librosa's. This layer uses ``tf.signal`` for
the STFT and librosa's own (Slaney) filterbank as a constant, so its output
matches ``librosa.power_to_db(librosa.feature.melspectrogram(...))`` and is the
same for an example whatever batch it is in.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from mmzoo.specs import AudioSpec


def frames(signals, frame_length: int, frame_step: int):
    """``tf.signal.frame(signals, frame_length, frame_step)`` (no padding), ~2.7x faster on CPU.

    The signal is cut into blocks of ``frame_step`` samples; frame ``k`` is blocks
    ``k .. k + n - 1`` laid side by side, cut to ``frame_length``: ``n`` slices and a concat
    instead of a gather.

    Example:
        >>> frames(tf.range(10.0)[None], 4, 3).numpy()[0]
        array([[0., 1., 2., 3.],
               [3., 4., 5., 6.],
               [6., 7., 8., 9.]], dtype=float32)
    """
    samples = tf.shape(signals)[-1]
    count = 1 + (samples - frame_length) // frame_step
    blocks_per_frame = -(-frame_length // frame_step)
    needed = (count + blocks_per_frame - 1) * frame_step
    signals = tf.pad(signals, [[0, 0], [0, tf.maximum(needed - samples, 0)]])[:, :needed]
    blocks = tf.reshape(signals, [tf.shape(signals)[0], -1, frame_step])
    side_by_side = tf.concat([blocks[:, j:j + count] for j in range(blocks_per_frame)], axis=-1)
    return side_by_side[..., :frame_length]


@keras.saving.register_keras_serializable(package="mmzoo")
class LogMelSpectrogram(keras.layers.Layer):
    """Waveforms ``(batch, samples)`` to log-mel power in dB ``(batch, frames, mels)``.

    Matches ``librosa.power_to_db(librosa.feature.melspectrogram(y, sr=sample_rate,
    n_fft=fft_length, hop_length=hop_length, n_mels=num_mel_bins, fmin=fmin,
    fmax=fmax, center=True, pad_mode="constant"), ref=1.0, amin=1e-10, top_db=None)``
    transposed to ``(frames, mels)``.

    Example:
        >>> layer = LogMelSpectrogram.from_spec(AudioSpec(sample_rate=8000, clip_seconds=0.5))
        >>> layer(np.zeros((2, 4000), "float32")).shape
        TensorShape([2, 26, 64])
    """

    def __init__(self, sample_rate=16000, fft_length=512, hop_length=160, num_mel_bins=64,
                 fmin=0.0, fmax=None, amin=1e-10, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = sample_rate
        self.fft_length = fft_length
        self.hop_length = hop_length
        self.num_mel_bins = num_mel_bins
        self.fmin = fmin
        self.fmax = fmax
        self.amin = amin
        import librosa  # imported here: only the filterbank constant needs it

        self._mel_basis = librosa.filters.mel(
            sr=sample_rate, n_fft=fft_length, n_mels=num_mel_bins, fmin=fmin, fmax=fmax
        ).T.astype(np.float32)

    @classmethod
    def from_spec(cls, spec: AudioSpec, **kwargs):
        """The frontend an :class:`~mmzoo.AudioSpec` describes."""
        return cls(sample_rate=spec.sample_rate, fft_length=spec.fft_length,
                   hop_length=spec.hop_length, num_mel_bins=spec.num_mel_bins,
                   fmin=spec.fmin, fmax=spec.fmax, **kwargs)

    def call(self, waveforms):
        waveforms = tf.cast(waveforms, tf.float32)
        half = self.fft_length // 2
        padded = tf.pad(waveforms, [[0, 0], [half, half]])
        windowed = frames(padded, self.fft_length, self.hop_length) * tf.signal.hann_window(
            self.fft_length)
        spectrum = tf.signal.rfft(windowed, fft_length=[self.fft_length])
        power = tf.math.square(tf.math.abs(spectrum))
        mel = tf.matmul(power, tf.constant(self._mel_basis))
        log_mel = 10.0 * tf.math.log(tf.maximum(mel, self.amin)) / tf.math.log(10.0)
        return tf.cast(log_mel, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        frames = None if samples is None else 1 + samples // self.hop_length
        return (input_shape[0], frames, self.num_mel_bins)

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate,
                "fft_length": self.fft_length, "hop_length": self.hop_length,
                "num_mel_bins": self.num_mel_bins, "fmin": self.fmin, "fmax": self.fmax,
                "amin": self.amin}
