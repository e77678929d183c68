"""What an audio file's bytes say, cheaply, before it is decoded: what its header looks like
(for the message when it is not audio) and whether its container ends where it should.

A decoder given a truncated file returns what it can and no error: stb_vorbis stops at the
last whole page, libsndfile clamps a WAV's data size, mpg123 drops the cut frame. The
readers decode only a clip's frames, so truncation is found from the container instead:
an Ogg file ends with a whole page flagged end-of-stream; an MP3's frames, walked by their
headers, end within the file; a WAV's data chunk fits in the file. (A FLAC's last frame
is checked by its decoder, in :func:`mmzoo.preprocessing.read_audio_file`.)
"""

from __future__ import annotations

import functools

# A file's first bytes and what they make it, for messages. Shared with the TF-op WAV reader.
SIGNATURES = (
    (b"RIFF", "a RIFF file"), (b"OggS", "an Ogg file"), (b"fLaC", "a FLAC file"),
    (b"ID3", "an MP3 file"), (b"\xff\xfb", "an MP3 file"), (b"\xff\xf3", "an MP3 file"),
    (b"\xff\xf2", "an MP3 file"), (b"FORM", "an AIFF file"), (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"), (b"BM", "a BMP image"),
    (b"PK\x03\x04", "a ZIP archive"), (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip file"),
    (b"\xef\xbb\xbf", "UTF-8 text with a byte-order mark"),
)
# Bytes shown as text in messages: printable ASCII without quotes, backslash or backtick,
# which TF's Assert would escape. A header with fewer printable bytes is shown in hex.
TEXT_BYTES = frozenset(range(0x20, 0x7F)) - set(b"'\"\\`")
SHOWN_TEXT, MIN_TEXT, SHOWN_BYTES = 8, 3, 4


def describe_header(data: bytes) -> str:
    """What the start of ``data`` looks like, e.g. ``"it starts with `OggS` (an Ogg file)"``,
    ``"it starts with bytes 0x89 0x50 0x4e 0x47 (a PNG image)"``.

    Example:
        >>> describe_header(b"hello world")
        'it starts with text `hello wo`'
    """
    if not data:
        return "it is empty"
    text = 0
    while text < min(len(data), SHOWN_TEXT) and data[text] in TEXT_BYTES:
        text += 1
    name = next((name for magic, name in SIGNATURES if data.startswith(magic)), None)
    if text >= MIN_TEXT:
        shown = f"`{data[:text].decode('ascii')}`" if name else f"text `{data[:text].decode('ascii')}`"
    else:
        shown = "bytes " + " ".join(f"0x{byte:02x}" for byte in data[:SHOWN_BYTES])
    return f"it starts with {shown}" + (f" ({name})" if name else "")


def container_problem(data: bytes) -> str | None:
    """Why the file ``data`` is truncated, judged by its container (Ogg, MP3, WAV), or None.

    Example:
        >>> container_problem(b"OggS" + bytes(100))
        'is truncated or corrupt: its last Ogg page is incomplete'
    """
    if data.startswith(b"OggS"):
        return _ogg_problem(data)
    if data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        return _wav_problem(data)
    start = _mp3_start(data)
    return None if start is None else _mp3_problem(data, start)


# The largest Ogg page: its 27-byte header, 255 lacing values and 255 segments of 255 bytes.
_MAX_OGG_PAGE = 27 + 255 + 255 * 255


def _ogg_problem(data: bytes) -> str | None:
    """The last page that ends exactly at the end of the file must be flagged end-of-stream.

    Searched backwards from the last ``OggS`` in the last page's reach, so that the pattern
    inside a packet cannot pass for a page: only a page that ends at the file's end counts.
    """
    low = max(0, len(data) - _MAX_OGG_PAGE)
    start = data.rfind(b"OggS", low)
    while start >= 0:
        segments = data[start + 26] if start + 27 <= len(data) else 0
        table = data[start + 27:start + 27 + segments]
        if data[start + 4:start + 5] == b"\x00" and len(table) == segments:
            if start + 27 + segments + sum(table) == len(data):
                if data[start + 5] & 0x04:
                    return None
                return "is truncated: its Ogg stream ends without its end-of-stream page"
        start = data.rfind(b"OggS", low, start)
    return "is truncated or corrupt: its last Ogg page is incomplete"


def _wav_problem(data: bytes) -> str | None:
    """The data chunk, found by walking the chunks (each padded to an even size), fits."""
    position = 12
    while position + 8 <= len(data):
        size = int.from_bytes(data[position + 4:position + 8], "little")
        if data[position:position + 4] == b"data":
            if position + 8 + size > len(data):
                return (f"is truncated: its data chunk holds {size} bytes but the file ends "
                        f"{len(data) - position - 8} bytes into it")
            return None
        position += 8 + size + size % 2
    return "is truncated: the file ends before its data chunk" if position != len(data) else None


# MPEG audio bit rates (kbit/s) by (MPEG-1, layer), for bit-rate indices 1 to 14.
_MPEG_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_BITRATES[False, 3] = _MPEG_BITRATES[False, 2]
# Sample rates by version bits (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5; 1 is reserved).
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _frame_length(header: int) -> int:
    """Bytes of the MPEG audio frame whose 4-byte header is ``header``; 0 if it is no frame
    header (or a free-format one, whose length the header does not give)."""
    version, layer = (header >> 19) & 3, 4 - ((header >> 17) & 3)
    bitrate_index, rate_index = (header >> 12) & 15, (header >> 10) & 3
    if (header >> 21 != 0x7FF or version == 1 or layer == 4 or bitrate_index in (0, 15)
            or rate_index == 3):
        return 0
    mpeg1, padding = version == 3, (header >> 9) & 1
    bitrate = _MPEG_BITRATES[mpeg1, layer][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    return (144 if mpeg1 or layer == 2 else 72) * bitrate // rate + padding


@functools.cache
def _frame_lengths() -> tuple[int, ...]:
    """:func:`_frame_length` by a header's second and third bytes (the first is 0xFF, the
    fourth does not count): a table makes the walk of a long file's frames ~2.5x faster."""
    return tuple(_frame_length(0xFF000000 | middle << 8) for middle in range(1 << 16))


def _mpeg_frame_length(data: bytes, position: int) -> int:
    """Bytes of the MPEG audio frame whose header is at ``position``, 0 if none is there."""
    if position + 4 > len(data) or data[position] != 0xFF:
        return 0
    return _frame_lengths()[data[position + 1] << 8 | data[position + 2]]


def _mp3_start(data: bytes) -> int | None:
    """Where an MP3's first frame is (after its ID3v2 tag, if any); None if not an MP3."""
    position = 0
    if data.startswith(b"ID3") and len(data) >= 10:
        size = sum((byte & 0x7F) << (7 * (3 - i)) for i, byte in enumerate(data[6:10]))
        position = 10 + size + (10 if data[5] & 0x10 else 0)
    return position if _mpeg_frame_length(data, position) or data.startswith(b"ID3") else None


def _xing_frames(frame: bytes) -> int | None:
    """The frame count an encoder's Xing or Info tag (in the first frame) declares, after
    the tag's own frame; None without one. The tag follows the side information: 13, 21 or
    36 bytes into the frame, by MPEG version and channels."""
    for offset in (36, 21, 13):
        if frame[offset:offset + 4] in (b"Xing", b"Info"):
            flags = int.from_bytes(frame[offset + 4:offset + 8], "big")
            return int.from_bytes(frame[offset + 8:offset + 12], "big") if flags & 1 else None
    return None


def _mp3_problem(data: bytes, position: int) -> str | None:
    """The frames, walked by their headers from ``position``, end within the file, and are
    as many as a Xing or Info tag declares (a file cut between two frames). The walk stops
    at the first byte that is no frame header (a trailing tag, say)."""
    length = _mpeg_frame_length(data, position)
    if not length:
        return f"is corrupt: it has an ID3 tag but no MPEG audio frame at byte {position}"
    declared, frames = _xing_frames(data[position:position + length]), 0
    while length:
        if position + length > len(data):
            return (f"is truncated: its MPEG audio frame at byte {position} takes {length} bytes "
                    f"but the file ends {len(data) - position} bytes into it")
        position, frames = position + length, frames + 1
        length = _mpeg_frame_length(data, position)
    if 0 < len(data) - position < 4 and data[position] == 0xFF:
        return "is truncated: the file ends inside an MPEG audio frame header"
    if declared is not None and frames - 1 < declared:
        return (f"is truncated: it holds {frames - 1} MPEG audio frames after its Xing tag, "
                f"which declares {declared}")
    return None
