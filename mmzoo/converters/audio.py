"""Audio: a file (WAV in TF ops; Ogg, FLAC, MP3 in Python), WAV bytes or a waveform; a mono clip for the model."""

from __future__ import annotations

from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from mmzoo.converters.base import Converter
from mmzoo.preprocessing.audio import (
    TF_AUDIO_EXTENSIONS,
    audio_from_waveform,
    decode_wav,
    fit_length,
    read_audio_files,
    wav_samples,
)
from mmzoo.specs import AudioSpec

#: The raw input holding a waveform's sample rate (Hz), next to the waveform.
AUDIO_RATE_KEY = "audio_sample_rate"
# The raw input saying the waveform is the spec's clip already (decoded and resampled in Python).
_AT_SPEC_RATE_KEY = "audio_at_spec_rate"


def _is_tf_decodable(path) -> bool:
    return str(path).lower().endswith(TF_AUDIO_EXTENSIONS)


@keras.saving.register_keras_serializable(package="mmzoo")
class AudioConverter(Converter):
    """Audio to a mono float32 clip of ``spec.num_samples`` samples at ``spec.sample_rate``.

    Raw inputs: WAV bytes (decoded and resampled in TF ops, as an exported model does), a
    float waveform with its rate under ``"audio_sample_rate"``, or, in a source's rows, a
    file's path: a WAV is read in TF ops; any other file (Ogg, FLAC, MP3) is decoded and
    resampled (soxr) in Python by :func:`~mmzoo.preprocessing.read_audio_file`, once, when
    the row is loaded. Serving takes WAV only: no Python there.

    Example:
        >>> wav = tf.audio.encode_wav(tf.zeros((800, 1)), 8000)
        >>> AudioConverter(AudioSpec(16000, 1.0)).preprocess(wav, {}).shape
        TensorShape([16000])
    """

    modality: ClassVar[str] = "audio"
    spec_class: ClassVar[type] = AudioSpec
    file_extensions: ClassVar[tuple[str, ...]] = (".wav", ".ogg", ".flac", ".mp3")
    expected_content: ClassVar[str] = "a WAV file (PCM or IEEE float) with samples"

    @classmethod
    def array_columns(cls, values, options):
        """Float waveforms ``(n, samples)`` at ``options["audio_sample_rate"]``."""
        rate = options.get(AUDIO_RATE_KEY)
        if rate is None:
            raise ValueError("from_arrays(audio=...) needs audio_sample_rate= (the waveforms' "
                             "rate in Hz).")
        waveforms = np.asarray(values, np.float32)
        return {cls.modality: waveforms, AUDIO_RATE_KEY: np.full(len(waveforms), rate, np.int32)}

    @classmethod
    def tfds_raw(cls, value, feature, options):
        """Samples (integers are 16-bit PCM) at the rate the feature declares, or at
        ``options["audio_sample_rate"]`` for a feature that declares none."""
        rate = getattr(feature, "sample_rate", None) or options.get(AUDIO_RATE_KEY)
        if rate is None:
            raise ValueError(f"{options['where']} declares no sample rate; pass "
                             "audio_sample_rate= (its rate in Hz).")
        waveform = (tf.cast(value, tf.float32) / 32768.0 if value.dtype.is_integer
                    else tf.cast(value, tf.float32))
        return {cls.modality: waveform, AUDIO_RATE_KEY: tf.constant(rate, tf.int32)}

    @classmethod
    def loading_plan(cls, paths) -> bool:
        """Whether any path is a WAV: without one, the graph holds no WAV decoder and no
        resampler (a smaller graph, faster to set up at the start of each pass)."""
        return any(_is_tf_decodable(path) for path in paths)

    def load(self, path, plan):
        present = tf.strings.length(path) > 0

        def decoded_in_python():
            return tf.cond(present, lambda: self._decoded_in_python(path),
                           lambda: tf.zeros(self.spec.shape))

        if not plan:
            return {self.modality: decoded_in_python(), _AT_SPEC_RATE_KEY: True,
                    f"{self.modality}_present": present}

        def wav():
            waveform, rate = wav_samples(tf.io.read_file(path))
            return tf.reduce_mean(waveform, axis=-1), rate, tf.constant(False)

        def other():
            return decoded_in_python(), tf.constant(self.spec.sample_rate, tf.int32), tf.constant(True)

        is_wav = tf.reduce_any([tf.strings.regex_full_match(tf.strings.lower(path), f".*\\{ext}")
                                for ext in TF_AUDIO_EXTENSIONS])
        waveform, rate, at_spec_rate = tf.cond(present & is_wav, wav, other)
        return {self.modality: waveform, AUDIO_RATE_KEY: rate, _AT_SPEC_RATE_KEY: at_spec_rate,
                f"{self.modality}_present": present}

    def _decoded_in_python(self, path):
        """The file's clip, decoded and resampled in Python; the row fails if it cannot be
        (:meth:`diagnose` says why)."""
        clips, errors = tf.numpy_function(lambda path: read_audio_files([path], self.spec),
                                          [path], (tf.float32, tf.string), stateful=False)
        with tf.control_dependencies([tf.debugging.Assert(tf.equal(errors[0], ""), [errors[0]])]):
            return tf.ensure_shape(tf.identity(clips[0]), self.spec.shape)

    def diagnose(self, value):
        path = value.decode() if isinstance(value, bytes) else str(value)
        if not path or _is_tf_decodable(path):
            return None  # TF's own decoder says why
        return read_audio_files([path], self.spec)[1][0].decode() or None

    def preprocess(self, value, raw):
        if value.dtype == tf.string:
            return decode_wav(value, self.spec)
        at_spec_rate = raw.get(_AT_SPEC_RATE_KEY, False)
        if at_spec_rate is True:
            return fit_length(value, self.spec.num_samples)

        def resampled():
            return audio_from_waveform(value, raw[AUDIO_RATE_KEY], self.spec)

        if at_spec_rate is False:
            return resampled()
        return tf.cond(at_spec_rate, lambda: fit_length(value, self.spec.num_samples), resampled)

    def stored_mismatch(self, stored) -> bool:
        return stored.shape != self.spec.shape or stored.sample_rate != self.spec.sample_rate

    def sample_input(self) -> bytes:
        """A 440 Hz tone as a WAV at the spec's rate."""
        spec = self.spec
        tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(spec.num_samples) / spec.sample_rate)
        return tf.audio.encode_wav(tone[:, None].astype(np.float32), spec.sample_rate).numpy()
