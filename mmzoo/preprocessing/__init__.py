"""Preprocessing in TF ops, shared by the pipelines, the models and the export."""

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
from mmzoo.preprocessing.preprocessor import AUDIO_RATE_KEY, Preprocessor
from mmzoo.preprocessing.text import adapt_text_spec, text_vectorizer

__all__ = [
    "AUDIO_RATE_KEY", "LogMelSpectrogram", "Preprocessor", "adapt_text_spec", "audio_from_waveform",
    "augment_image", "decode_image", "decode_wav", "fit_length", "image_from_pixels",
    "read_audio_file", "read_audio_files", "resample", "text_vectorizer",
]
