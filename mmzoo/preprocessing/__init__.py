"""Preprocessing in TF ops, shared by the pipelines, the models and the export.

The per-modality functions live here; :class:`Preprocessor`, one layer for all
modalities, is a loop over :mod:`mmzoo.converters` (which use these functions), so it is
imported when first used.
"""

from mmzoo.preprocessing.audio import (
    audio_from_waveform,
    decode_wav,
    fit_length,
    read_audio_file,
    read_audio_files,
    resample,
)
from mmzoo.preprocessing.image import augment_image, decode_image, image_from_pixels
from mmzoo.preprocessing.log_mel import LogMelSpectrogram
from mmzoo.preprocessing.text import adapt_text_spec, text_vectorizer

_LAZY = {"AUDIO_RATE_KEY", "Preprocessor"}


def __getattr__(name):
    if name in _LAZY:
        from mmzoo.preprocessing import preprocessor

        return getattr(preprocessor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AUDIO_RATE_KEY", "LogMelSpectrogram", "Preprocessor", "adapt_text_spec", "audio_from_waveform",
    "augment_image", "decode_image", "decode_wav", "fit_length", "image_from_pixels",
    "read_audio_file", "read_audio_files", "resample", "text_vectorizer",
]
