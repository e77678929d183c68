"""Tiny media files for tests, written with independent libraries (OpenCV, soundfile)."""

from __future__ import annotations

import pathlib

import cv2
import numpy as np
import soundfile

RATE = 8000


def pattern(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    """A smooth uint8 test pattern (smooth, so lossy formats stay close to it)."""
    y, x = np.mgrid[0:height, 0:width]
    layers = [(127 + 120 * np.sin(x / 3.0 + seed + c) * np.cos(y / 4.0 + c)) for c in range(channels)]
    return np.stack(layers, -1).round().astype(np.uint8)


def write_image(path, pixels: np.ndarray) -> pathlib.Path:
    """Write RGB(A) or grey pixels with OpenCV (which stores BGR(A))."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        code = cv2.COLOR_RGB2BGR if pixels.shape[-1] == 3 else cv2.COLOR_RGBA2BGRA
        pixels = cv2.cvtColor(pixels, code)
    assert cv2.imwrite(str(path), pixels)
    return path


def write_gif(path, pixels: np.ndarray) -> pathlib.Path:
    """A one-frame GIF with a grey palette (no encoder in OpenCV: written by hand)."""
    grey = pixels if pixels.ndim == 2 else pixels[..., 0]
    height, width = grey.shape
    palette = bytes(np.repeat(np.arange(256, dtype=np.uint8), 3))
    codes, clear, end, data = [], 256, 257, grey.astype(np.uint8).ravel()
    for start in range(0, len(data), 254):  # clear often: 9-bit codes throughout
        codes.append(clear)
        codes.extend(int(v) for v in data[start:start + 254])
    codes.append(end)
    bits = "".join(format(code, "09b")[::-1] for code in codes)
    bits += "0" * (-len(bits) % 8)
    lzw = bytes(int(bits[i:i + 8][::-1], 2) for i in range(0, len(bits), 8))
    blocks = b"".join(bytes([len(lzw[i:i + 255])]) + lzw[i:i + 255] for i in range(0, len(lzw), 255))
    gif = (b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little") + b"\xf7\x00\x00"
           + palette + b"," + b"\x00\x00\x00\x00" + width.to_bytes(2, "little")
           + height.to_bytes(2, "little") + b"\x00" + b"\x08" + blocks + b"\x00;")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gif)
    return path


def tone(seconds: float, rate: int = RATE, frequency: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * frequency * t) + 0.2 * np.sin(2 * np.pi * 3 * frequency * t + 1)
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def write_audio(path, waveform: np.ndarray, rate: int = RATE) -> pathlib.Path:
    """WAV, FLAC and AIFF as 16-bit PCM, Ogg as Vorbis: with soundfile (libsndfile)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    subtype = {".wav": "PCM_16", ".ogg": "VORBIS", ".flac": "PCM_16", ".aiff": "PCM_16"}[path.suffix]
    soundfile.write(str(path), waveform, rate, subtype=subtype)
    return path
