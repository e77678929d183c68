"""WAV (RIFF/WAVE) bytes to samples in core TF ops: the one WAV reader of the pipelines and
of the exported SavedModel (no ``py_function``: TF Serving runs it).

``tf.audio.decode_wav`` reads only 16-bit PCM with ``fmt `` as the first chunk, so it rejects
valid files (WAVE_FORMAT_EXTENSIBLE, a ``LIST`` chunk first, 24-bit). This reader walks the
chunks in any order (odd sizes padded, as RIFF says) and reads PCM of 8, 16, 24 or 32 bits
and IEEE float of 32 or 64 bits, plain or EXTENSIBLE, any channel count; 16-bit PCM
decodes bit for bit as ``tf.audio.decode_wav`` does. A file that is not a WAV, is truncated
(its data chunk runs past the end of the file) or holds a format it does not read is an
InvalidArgument error saying so.
"""

from __future__ import annotations

import tensorflow as tf

from mmzoo.preprocessing.containers import (
    MIN_TEXT,
    SHOWN_BYTES,
    SHOWN_TEXT,
    SIGNATURES,
    TEXT_BYTES,
)

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
# An EXTENSIBLE format's subformat GUID: its format code (2 bytes) then these 14 bytes.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
# (format, bits per sample) read, in the order of _SAMPLE_DECODERS, and their index by
# 9 * (format is float) + bytes per sample.
_LAYOUTS = ((_PCM, 8), (_PCM, 16), (_PCM, 24), (_PCM, 32), (_FLOAT, 32), (_FLOAT, 64))
_LAYOUT_INDEX = [next((i for i, (c, b) in enumerate(_LAYOUTS) if c == code and b == 8 * size), -1)
                 for code in (_PCM, _FLOAT) for size in range(9)]
_SAMPLE_BYTES = [bits // 8 for _, bits in _LAYOUTS]


def _bytes(contents, length, position, size):
    """``size`` bytes of ``contents`` (``length`` bytes long) from ``position``: fewer near
    the end, none past it."""
    position = tf.clip_by_value(tf.convert_to_tensor(position, tf.int64), 0, length)
    return tf.strings.substr(contents, position, tf.convert_to_tensor(size, tf.int64))


def _words(contents, length, position, count: int):
    """``count`` little-endian uint32 from ``position`` (int64; past the end read as 0)."""
    words = tf.io.decode_raw(_bytes(contents, length, position, 4 * count), tf.int32,
                             fixed_length=4 * count)
    return tf.bitwise.bitwise_and(tf.cast(words, tf.int64), 0xFFFFFFFF)


def _chunk_id(name: bytes) -> int:
    return int.from_bytes(name, "little")


# The usual 16-bit PCM WAV, which tf.audio.decode_wav reads: a 44-byte header (RIFF, a
# 16-byte fmt chunk of format 1, the data chunk's header), then the samples to the end of
# the file. Its fixed bytes by offset, and as (uint16 word, value) pairs.
_PLAIN_BYTES = {0: b"RIFF", 8: b"WAVEfmt \x10\x00\x00\x00\x01\x00", 34: b"\x10\x00data"}
_PLAIN_WORDS = tuple(((offset + i) // 2, int.from_bytes(fixed[i:i + 2], "little"))
                     for offset, fixed in _PLAIN_BYTES.items() for i in range(0, len(fixed), 2))


def _plain_pcm16(contents, length):
    """Whether ``contents`` is the usual 16-bit PCM WAV (see ``_PLAIN_WORDS``), consistent
    throughout (rates, block size, data size to the end of the file)."""
    words = tf.cast(tf.io.decode_raw(tf.strings.substr(contents, 0, 44), tf.uint16,
                                     fixed_length=44), tf.int64)
    fixed = tf.reduce_all(tf.equal(tf.gather(words, [w for w, _ in _PLAIN_WORDS]),
                                   [v for _, v in _PLAIN_WORDS]))
    channels, block = words[11], words[16]
    rate, byte_rate, _, _, data_size = tf.unstack(words[12::2] + words[13::2] * 65536)
    return (fixed & (channels > 0) & (rate > 0) & tf.equal(block, 2 * channels)
            & tf.equal(byte_rate, rate * block) & tf.equal(44 + data_size, length))


def _pcm24(data):
    """Packed little-endian 24-bit samples to floats (exact: float32 holds 24 bits)."""
    low, middle, high = tf.unstack(tf.cast(tf.reshape(tf.io.decode_raw(data, tf.uint8), [-1, 3]),
                                           tf.int32), axis=1)
    value = low + middle * 256 + high * 65536 - tf.cast(high >= 128, tf.int32) * (1 << 24)
    return tf.cast(value, tf.float32) / float(1 << 23)


_SAMPLE_DECODERS = (
    lambda data: (tf.cast(tf.io.decode_raw(data, tf.uint8), tf.float32) - 128.0) / 128.0,
    lambda data: tf.cast(tf.io.decode_raw(data, tf.int16), tf.float32) / 32768.0,
    _pcm24,
    lambda data: tf.cast(tf.io.decode_raw(data, tf.int32), tf.float32) / float(1 << 31),
    lambda data: tf.io.decode_raw(data, tf.float32),
    lambda data: tf.cast(tf.io.decode_raw(data, tf.float64), tf.float32),
)


def _chunks(contents, length, header):
    """Walk the chunks after the 12-byte RIFF header until ``fmt `` and ``data`` are found:
    ``(where the walk stopped, fmt offset, fmt size, data offset, data size)``, offsets -1
    when not found. ``header`` is the file's first 5 words (RIFF, size, WAVE, the first
    chunk's id and size). The usual layout (``fmt `` first, ``data`` next) is read without
    the loop: each op counts in the decoding of a short file."""
    def searching(position, fmt, fmt_size, data, data_size):
        return (position + 8 <= length) & ((fmt < 0) | (data < 0))

    def step(position, fmt, fmt_size, data, data_size):
        chunk_id, size = tf.unstack(_words(contents, length, position, 2))
        is_fmt = tf.equal(chunk_id, _chunk_id(b"fmt ")) & (fmt < 0)
        is_data = tf.equal(chunk_id, _chunk_id(b"data")) & (data < 0)
        return (position + 8 + size + size % 2,
                tf.where(is_fmt, position + 8, fmt), tf.where(is_fmt, size, fmt_size),
                tf.where(is_data, position + 8, data), tf.where(is_data, size, data_size))

    fmt_size = header[4]
    data = 28 + fmt_size + fmt_size % 2
    data_id, data_size = tf.unstack(_words(contents, length, data - 8, 2))
    usual = (tf.equal(header[3], _chunk_id(b"fmt ")) & tf.equal(data_id, _chunk_id(b"data"))
             & (data <= length))
    missing, zero = tf.constant(-1, tf.int64), tf.constant(0, tf.int64)
    return tf.cond(usual, lambda: (data + data_size + data_size % 2, tf.constant(20, tf.int64),
                                   fmt_size, data, data_size),
                   lambda: tf.while_loop(searching, step,
                                         (tf.constant(12, tf.int64), missing, zero, missing, zero)))


def describe_header(contents):
    """:func:`mmzoo.preprocessing.containers.describe_header` in TF ops (a scalar string)."""
    length = tf.cast(tf.strings.length(contents), tf.int64)
    head = tf.io.decode_raw(_bytes(contents, length, 0, SHOWN_TEXT), tf.uint8,
                            fixed_length=SHOWN_TEXT)
    printable = tf.reduce_any(tf.equal(tf.cast(head, tf.int32)[:, None], sorted(TEXT_BYTES)), axis=1)
    printable &= tf.range(SHOWN_TEXT, dtype=tf.int64) < length
    text = tf.reduce_sum(tf.math.cumprod(tf.cast(printable, tf.int64)))
    matches = tf.stack([tf.equal(_bytes(contents, length, 0, len(magic)), magic)
                        for magic, _ in SIGNATURES])
    name = tf.where(tf.reduce_any(matches),
                    tf.gather([f" ({name})" for _, name in SIGNATURES],
                              tf.argmax(tf.cast(matches, tf.int32))), "")
    hex_bytes = tf.gather([f"0x{byte:02x}" for byte in range(256)],
                          tf.cast(head[:tf.minimum(length, SHOWN_BYTES)], tf.int32))
    shown = tf.where(text >= MIN_TEXT,
                     tf.strings.join([tf.where(name == "", "text `", "`"),
                                      _bytes(contents, length, 0, text), "`"]),
                     tf.strings.join(["bytes ", tf.strings.reduce_join(hex_bytes, separator=" ")]))
    return tf.where(length == 0, "it is empty", tf.strings.join(["it starts with ", shown, name]))


def _number(value):
    return tf.strings.as_string(value)


def wav_samples(contents):
    """WAV bytes to ``(samples (frames, channels) float32, sample rate int32)``, in TF ops.

    PCM is scaled to [-1, 1) (``int / 2 ** (bits - 1)``; 8-bit is unsigned, centred on
    128); float samples are kept as stored, and must be finite. The usual 16-bit PCM file
    goes to ``tf.audio.decode_wav`` (fewer ops: faster on short files); the rest is parsed.

    Example:
        >>> samples, rate = wav_samples(tf.audio.encode_wav(tf.zeros((800, 2)), 8000))
        >>> samples.shape, int(rate)
        (TensorShape([800, 2]), 8000)
    """
    contents = tf.convert_to_tensor(contents, tf.string)
    length = tf.cast(tf.strings.length(contents), tf.int64)
    samples, rate, problem = tf.cond(
        _plain_pcm16(contents, length), lambda: (*tf.audio.decode_wav(contents), tf.constant("")),
        lambda: _parsed_samples(contents, length))
    # Raised after the cond, which then stays stateless (cheaper for TF to run): the parsed
    # branch reads whatever the header says without failing, and says what is wrong.
    check = tf.raw_ops.Assert(condition=tf.equal(problem, ""), data=[problem])
    with tf.control_dependencies([check]):
        return tf.identity(samples), tf.identity(rate)


def _not_inlined(function):
    """``function`` as a TF function that graphs call rather than inline: in the branch of a
    ``tf.cond`` not taken it is one op skipped (inlined, each of its ops would still run,
    dead: ~1.3x the decoding time of a short usual WAV)."""
    return tf.function(function, autograph=False, experimental_attributes={"_noinline": True})


@_not_inlined
def _parsed_samples(contents, length):
    """:func:`wav_samples` of any WAV, its chunks walked: ``(samples, rate, problem)``, the
    problem ("" if none) saying why the file cannot be read."""
    header = _words(contents, length, 0, 5)
    position, fmt, fmt_size, data, data_size = _chunks(contents, length, header)
    fields = tf.unstack(tf.cast(tf.io.decode_raw(_bytes(contents, length, fmt, 26), tf.uint16,
                                                 fixed_length=26), tf.int64))
    code, channels, rate, block, bits = (fields[0], fields[1], fields[2] + fields[3] * 65536,
                                         fields[6], fields[7])
    extensible = tf.equal(code, _EXTENSIBLE)
    known_guid = (fmt_size >= 40) & tf.equal(_bytes(contents, length, fmt + 26, 14), _GUID_TAIL)
    code = tf.where(extensible, tf.where(known_guid, fields[12], -1), code)
    # The sample decoder: _LAYOUT_INDEX[9 * (format is float) + bytes per sample], -1 if none.
    whole_bytes = (bits % 8 == 0) & (bits <= 64) & ((code == _PCM) | (code == _FLOAT))
    layout = tf.where(whole_bytes, tf.gather(_LAYOUT_INDEX, tf.cast(code == _FLOAT, tf.int64) * 9
                                             + tf.minimum(bits // 8, 8)), -1)
    frame_bytes = channels * (bits // 8)
    # Samples read whatever the header says, as nothing here may fail before the problem
    # is reported: whole frames of the bytes there are, one channel if the format is bad.
    width = tf.where((layout >= 0) & (channels > 0), channels, 1)
    decoder = tf.cast(tf.maximum(layout, 0), tf.int32)
    frame = width * tf.gather(tf.constant(_SAMPLE_BYTES, tf.int64), decoder)
    available = tf.maximum(tf.minimum(data_size, length - data), 0)
    samples = _bytes(contents, length, data, available // frame * frame)
    samples = tf.switch_case(decoder, [lambda decode=decode: decode(samples)
                                       for decode in _SAMPLE_DECODERS])
    # (bad, message) in the order they are reported: the first bad one is.
    problems = (
        (~(tf.equal(header[0], _chunk_id(b"RIFF")) & tf.equal(header[2], _chunk_id(b"WAVE"))),
         lambda: tf.strings.join(["not a WAV file: ", describe_header(contents)])),
        ((data < 0) & (position != length), lambda: tf.strings.join([
            "the WAV is truncated: the file (", _number(length),
            " bytes) ends inside a chunk, before its samples"])),
        (fmt < 0, lambda: tf.constant("the WAV has no fmt chunk")),
        (data < 0, lambda: tf.constant("the WAV has no data chunk")),
        (data + data_size > length, lambda: tf.strings.join([
            "the WAV is truncated: its data chunk holds ", _number(data_size),
            " bytes but the file ends ", _number(length - data), " bytes into it"])),
        (fmt_size < 16, lambda: tf.strings.join([
            "the WAV is corrupt: its fmt chunk is ", _number(fmt_size), " bytes, not 16 or more"])),
        (layout < 0, lambda: tf.strings.join([
            "the WAV holds ", _number(bits), "-bit samples of format ", _number(code),
            tf.where(extensible & ~known_guid, " (an unknown EXTENSIBLE subformat)", ""),
            ": only PCM (8, 16, 24 or 32 bits) and IEEE float (32 or 64 bits) are read"])),
        ((channels == 0) | (rate == 0), lambda: tf.strings.join([
            "the WAV is corrupt: ", _number(channels), " channels at ", _number(rate), " Hz"])),
        (block != frame_bytes, lambda: tf.strings.join([
            "the WAV is corrupt: its block size is ", _number(block), " bytes, but ",
            _number(channels), " channels of ", _number(bits), " bits take ", _number(frame_bytes)])),
        ((layout >= 4) & ~tf.reduce_all(tf.math.is_finite(samples)),
         lambda: tf.constant("the WAV holds NaN or infinite samples")),
    )
    bad = tf.stack([condition for condition, _ in problems])
    first = tf.argmax(tf.cast(bad, tf.int32), output_type=tf.int32)
    message = tf.cond(tf.reduce_any(bad),
                      _not_inlined(lambda: tf.switch_case(first, [make for _, make in problems])),
                      lambda: tf.constant(""))
    return tf.reshape(samples, tf.stack([-1, width])), tf.cast(rate, tf.int32), message
