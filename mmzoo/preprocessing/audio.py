"""Audio preprocessing in TF ops: decode WAV, mix to mono, resample, crop or pad.

The output is a float32 mono waveform in [-1, 1] of ``spec.num_samples`` samples at
``spec.sample_rate``. Resampling is windowed-sinc interpolation (a Hann-windowed
sinc, 16 zero crossings, rolloff 0.99) written in TF ops with the rates as tensors,
so the exported SavedModel takes WAVs at any rate. Ogg/FLAC/MP3 cannot be decoded
by TF ops: :func:`read_audio_file` decodes and resamples them in Python (offline, in
``prepare`` or in the raw-file pipeline, :func:`read_audio_files` for a batch at a time).
WAVs are read by :func:`~mmzoo.preprocessing.wav.wav_samples`, in TF ops.
"""

from __future__ import annotations

import io

import numpy as np
import tensorflow as tf

from mmzoo.preprocessing.containers import container_problem, describe_header
from mmzoo.preprocessing.wav import wav_samples
from mmzoo.specs import AudioSpec

TF_AUDIO_EXTENSIONS = (".wav",)
_ZERO_CROSSINGS = 16
_ROLLOFF = 0.99
# soxr's HQ filter reaches ~256 samples at the lower rate: decoding that much past the clip
# makes its end the same (to ~1e-6) as when the whole file is resampled.
_SOXR_REACH = 256


def _gcd(a, b):
    a, b = tf.while_loop(lambda a, b: b > 0, lambda a, b: (b, a % b), (a, b))
    return a


def resample(waveform, orig_rate, target_rate):
    """Resample a mono waveform ``(samples,)`` from ``orig_rate`` to ``target_rate`` (Hz).

    The rates may be tensors. Output length is ``ceil(samples * target_rate / orig_rate)``.
    Equal rates given as Python ints return the waveform, with no resampler in the graph.

    Example:
        >>> resample(tf.zeros(8000), 8000, 16000).shape
        TensorShape([16000])
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    if isinstance(orig_rate, int) and orig_rate == target_rate:
        return waveform
    orig_rate = tf.reshape(tf.cast(orig_rate, tf.int64), [])
    target_rate = tf.reshape(tf.cast(target_rate, tf.int64), [])

    def _resample():
        gcd = _gcd(orig_rate, target_rate)
        orig, new = orig_rate // gcd, target_rate // gcd
        orig_f, new_f = tf.cast(orig, tf.float64), tf.cast(new, tf.float64)
        cutoff = tf.minimum(orig_f, new_f) * _ROLLOFF
        width = tf.cast(tf.math.ceil(_ZERO_CROSSINGS * orig_f / cutoff), tf.int64)
        # Output sample k * new + phase sits at input position k * orig + phase * orig / new;
        # its taps span 2 * width + 2 samples from k * orig + start - width. Only these taps are
        # computed, then laid into blocks of `orig` samples (zeros elsewhere) for the convolution.
        phases = tf.range(new)
        start = phases * orig // new
        span = start[:, None] + tf.range(2 * width + 2)[None, :]
        t = tf.clip_by_value((tf.cast(span - width, tf.float64) / orig_f
                              - tf.cast(phases, tf.float64)[:, None] / new_f) * cutoff,
                             -_ZERO_CROSSINGS, _ZERO_CROSSINGS)
        window = tf.square(tf.cos(t * np.pi / (2 * _ZERO_CROSSINGS)))
        at_zero = tf.equal(t, 0.0)
        safe_t = tf.where(at_zero, tf.ones_like(t), t)
        sinc = tf.where(at_zero, tf.ones_like(t), tf.sin(np.pi * safe_t) / (np.pi * safe_t))
        blocks_per_frame = (2 * width) // orig + 2
        indices = tf.stack([tf.broadcast_to(phases[:, None], tf.shape(span)), span], axis=-1)
        kernel = tf.scatter_nd(indices, tf.cast(sinc * window * cutoff / orig_f, tf.float32),
                               tf.stack([new, blocks_per_frame * orig]))
        length = tf.cast(tf.shape(waveform, out_type=tf.int64)[0], tf.int64)
        out_length = (length * new + orig - 1) // orig
        num_frames = (out_length + new - 1) // new
        num_blocks = num_frames + blocks_per_frame - 1
        padded = tf.pad(waveform, [[width, orig * num_blocks]])[:orig * num_blocks]
        # The blocks' samples as input channels and the phases as output channels: a
        # stride-1 convolution (the strides of tf.signal.frame would have to be static
        # to be fast, and the rates are tensors).
        blocks = tf.reshape(padded, tf.stack([1, num_blocks, orig]))
        filters = tf.transpose(tf.reshape(kernel, tf.stack([new, blocks_per_frame, orig])), [1, 2, 0])
        frames = tf.nn.conv1d(blocks, filters, stride=1, padding="VALID")
        return tf.reshape(frames, [-1])[:out_length]

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
    """WAV bytes (PCM or float, any rate, any channels) to a mono waveform ``spec.shape``.

    Example:
        >>> wav = tf.audio.encode_wav(tf.zeros((800, 1)), 8000)
        >>> decode_wav(wav, AudioSpec(16000, 1.0)).shape
        TensorShape([16000])
    """
    waveform, sample_rate = wav_samples(contents)
    return audio_from_waveform(waveform, sample_rate, spec)


# miniaudio's decoders read like libsndfile (stb_vorbis and dr_flac: within 3e-7 of
# librosa's decoder on the stamps' narrations), ~2x faster; anything else, or an Ogg
# stb_vorbis cannot open (Opus, say), goes to soundfile, as librosa does.
_OGG, _FLAC = b"OggS", b"fLaC"


def _clip_frames(rate: int, spec: AudioSpec) -> int:
    """Frames at ``rate`` that make the clip after resampling: its length plus soxr's reach."""
    return int(np.ceil(spec.clip_seconds * rate + _SOXR_REACH * rate / min(rate, spec.sample_rate)))


def _mono(channels: np.ndarray) -> np.ndarray:
    """``(frames, channels)`` to their mean ``(frames,)``: a matrix-vector product, ~20x faster
    than ``channels.mean(axis=1)`` on two channels."""
    return channels @ np.full(channels.shape[1], 1.0 / channels.shape[1], np.float32)


def _flac_total_frames(data: bytes) -> int:
    """The frames a FLAC's STREAMINFO says it holds (0: unknown)."""
    return int.from_bytes(data[18:26], "big") & ((1 << 36) - 1) if data[4] & 0x7F == 0 else 0


def _read_flac(data: bytes, path: str, spec: AudioSpec) -> tuple[np.ndarray, int]:
    """A FLAC's clip with miniaudio's ``ma_decoder`` (dr_flac), mixed to mono. Truncated or
    corrupt (a ValueError) when fewer frames decode than the clip needs of the STREAMINFO
    total, or when the last frame does not decode (dr_flac checks each frame's CRC)."""
    from miniaudio import ffi, lib

    decoder = ffi.new("ma_decoder *")
    config = lib.ma_decoder_config_init(lib.ma_format_f32, 1, 0)  # float32, mono, the file's rate
    if lib.ma_decoder_init_memory(data, len(data), ffi.addressof(config), decoder) != lib.MA_SUCCESS:
        raise ValueError(f"{path} is truncated or corrupt: its FLAC header cannot be read")
    try:
        rate, total = int(decoder.outputSampleRate), _flac_total_frames(data)
        waveform = np.empty(_clip_frames(rate, spec), np.float32)
        read = ffi.new("ma_uint64 *")
        result = lib.ma_decoder_read_pcm_frames(decoder, ffi.from_buffer(waveform), len(waveform), read)
        frames = read[0]
        if result not in (lib.MA_SUCCESS, lib.MA_AT_END) or (total and frames < min(total, len(waveform))):
            raise ValueError(f"{path} is truncated or corrupt: {frames} of its {total} frames decode")
        last = np.empty(1, np.float32)
        if total > frames and (lib.ma_decoder_seek_to_pcm_frame(decoder, total - 1) != lib.MA_SUCCESS
                               or lib.ma_decoder_read_pcm_frames(decoder, ffi.from_buffer(last), 1,
                                                                 read) != lib.MA_SUCCESS
                               or read[0] != 1):
            raise ValueError(f"{path} is truncated or corrupt: its last FLAC frame (of {total} "
                             f"frames) does not decode")
        return waveform[:frames], rate
    finally:
        lib.ma_decoder_uninit(decoder)


def _read_vorbis(data: bytes, spec: AudioSpec) -> tuple[np.ndarray, int] | None:
    """An Ogg Vorbis clip with stb_vorbis (bundled in miniaudio, called through its cffi
    bindings), mixed to mono; None if it cannot open the file (not Vorbis)."""
    from miniaudio import ffi, lib

    vorbis = lib.stb_vorbis_open_memory(data, len(data), ffi.new("int *"), ffi.NULL)
    if vorbis == ffi.NULL:
        return None
    try:
        info = lib.stb_vorbis_get_info(vorbis)
        frames = np.empty((_clip_frames(info.sample_rate, spec), info.channels), np.float32)
        read = lib.stb_vorbis_get_samples_float_interleaved(
            vorbis, info.channels, ffi.cast("float *", ffi.from_buffer(frames)), frames.size)
    finally:
        lib.stb_vorbis_close(vorbis)
    return _mono(frames[:read]), info.sample_rate


def _read_with_soundfile(data: bytes, path: str, spec: AudioSpec) -> tuple[np.ndarray, int]:
    """The clip with soundfile (libsndfile: MP3, Ogg Opus, WAV, AIFF...), mixed to mono."""
    import soundfile

    try:
        with soundfile.SoundFile(io.BytesIO(data)) as file:
            rate = file.samplerate
            channels = file.read(_clip_frames(rate, spec), dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        known = any(data.startswith(magic) for magic in (_OGG, _FLAC, b"RIFF", b"ID3", b"FORM"))
        what = "is truncated or corrupt" if known else "is not audio that can be read"
        reason = getattr(error, "error_string", error)  # a LibsndfileError's, without "<BytesIO>"
        raise ValueError(f"{path} {what}: {describe_header(data)} "
                         f"({type(error).__name__}: {reason})") from error
    return _mono(channels), rate


def _read_clip(path: str, spec: AudioSpec) -> tuple[np.ndarray, int]:
    """The file's clip, mixed to mono, and its rate: its container checked for truncation
    first (:func:`~mmzoo.preprocessing.containers.container_problem`), then decoded by
    miniaudio (Ogg Vorbis, FLAC) or soundfile (the rest), from its bytes."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise ValueError(f"cannot read {path} ({error.strerror or error})") from error
    problem = container_problem(data)
    if problem:
        raise ValueError(f"{path} {problem}")
    if data.startswith(_FLAC):
        return _read_flac(data, path, spec)
    decoded = _read_vorbis(data, spec) if data.startswith(_OGG) else None
    return decoded if decoded is not None else _read_with_soundfile(data, path, spec)


def read_audio_file(path: str, spec: AudioSpec) -> np.ndarray:
    """Decode any audio file soundfile reads (Ogg, FLAC, MP3, WAV...) to a mono clip at ``spec.sample_rate``.

    Python, not TF ops: for the formats TF cannot decode, in ``prepare`` and the raw-file
    pipeline, never for serving. Only the frames the clip needs are decoded (plus the
    resampler's reach), channels are averaged and soxr resamples ("HQ", librosa's default),
    so the result is ``librosa.load(path, sr=spec.sample_rate)[0][:spec.num_samples]`` to
    ~1e-6: float32, at most ``spec.num_samples`` long (:func:`audio_from_waveform` pads it).
    Ogg Vorbis and FLAC are decoded by miniaudio's decoders, the rest by soundfile (libsndfile).
    The decoder is chosen by the file's first bytes, not its name.

    A truncated or corrupt file (a cut Ogg, FLAC, MP3 or WAV: see
    :mod:`mmzoo.preprocessing.containers`) or one that is not audio is a ValueError naming
    the file and saying which, with what its header looks like when it is not audio.

    Example:
        >>> read_audio_file("bird.ogg", AudioSpec(16000, 1.0)).shape  # doctest: +SKIP
        (16000,)
    """
    import soxr

    waveform, rate = _read_clip(path, spec)
    if rate != spec.sample_rate:
        waveform = soxr.resample(waveform, rate, spec.sample_rate, quality="HQ")
    return waveform[:spec.num_samples]


def read_audio_files(paths, spec: AudioSpec) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_audio_file` for many files: their clips ``(len(paths), spec.num_samples)``,
    padded with silence, and a message per file saying why it could not be decoded
    (``b""`` when it was). An empty path is skipped (silence, no message).

    One Python call for many files: in a tf.data pipeline, one ``numpy_function`` call per
    batch of rows rather than per row (each call waits for the GIL).

    Example:
        >>> clips, errors = read_audio_files([b"bird.ogg", b""], AudioSpec(16000, 1.0))  # doctest: +SKIP
        >>> clips.shape, errors.tolist()  # doctest: +SKIP
        ((2, 16000), [b'', b''])
    """
    clips = np.zeros((len(paths), spec.num_samples), np.float32)
    errors = np.full(len(paths), b"", dtype=object)
    for row, path in enumerate(paths):
        path = path.decode() if isinstance(path, bytes) else str(path)
        if not path:
            continue
        try:
            waveform = read_audio_file(path, spec)
        except Exception as error:  # any failure is this file's, not the batch's
            message = str(error) if isinstance(error, ValueError) else (
                f"cannot decode {path} ({type(error).__name__}: {error})")
            errors[row] = message.encode()
            continue
        clips[row, :len(waveform)] = waveform
        if not len(waveform):  # as audio_from_waveform says of an empty WAV
            errors[row] = b"the audio has no samples"
    return clips, errors
