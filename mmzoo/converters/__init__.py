"""Converters: one per modality, the only code that knows how a modality's inputs look.

:func:`converter_for` gives a spec's converter; :func:`register_converter` adds a
modality (its spec class too), after which sources, pipelines, ``prepare``, the
builders' inputs and the export take it like the built-in ones.

Example:
    >>> from mmzoo.specs import ImageSpec
    >>> type(converter_for(ImageSpec(8, 8, 3))).__name__
    'ImageConverter'
"""

from __future__ import annotations

from mmzoo.converters.audio import AUDIO_RATE_KEY, AudioConverter
from mmzoo.converters.base import Converter
from mmzoo.converters.image import ImageConverter
from mmzoo.converters.text import TOKENIZERS, TextConverter, WordPieceTokenizer, WordTokenizer
from mmzoo.specs import SPEC_CLASSES, modalities

#: Converter classes by modality, in modality order.
CONVERTERS: dict[str, type[Converter]] = {}


def register_converter(converter_class: type[Converter]) -> type[Converter]:
    """Register a modality: its converter class and, through it, its spec class.

    Usable as a class decorator. A modality registered again replaces the old converter.
    """
    modality = converter_class.modality
    CONVERTERS[modality] = converter_class
    SPEC_CLASSES[modality] = converter_class.spec_class
    return converter_class


def unregister_converter(modality: str) -> None:
    """Remove a modality :func:`register_converter` added (the built-in ones stay)."""
    if modality in BUILT_IN:
        raise ValueError(f"{modality!r} is built in; it cannot be unregistered.")
    CONVERTERS.pop(modality, None)
    SPEC_CLASSES.pop(modality, None)


def converter_class(modality: str) -> type[Converter]:
    """The converter class of a registered modality."""
    if modality not in CONVERTERS:
        raise ValueError(f"modality={modality!r} is unknown; use one of {list(modalities())}.")
    return CONVERTERS[modality]


def converter_for(spec) -> Converter:
    """The converter of ``spec`` (a TextSpec, ImageSpec, AudioSpec or a registered spec)."""
    return converter_class(spec.modality)(spec)


BUILT_IN = (TextConverter, ImageConverter, AudioConverter)
for _converter in BUILT_IN:
    register_converter(_converter)
BUILT_IN = tuple(c.modality for c in BUILT_IN)

__all__ = ["AUDIO_RATE_KEY", "CONVERTERS", "TOKENIZERS", "AudioConverter", "Converter",
           "ImageConverter", "TextConverter", "WordPieceTokenizer", "WordTokenizer",
           "converter_class", "converter_for", "register_converter", "unregister_converter"]
