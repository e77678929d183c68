"""The data contract: one spec per modality.

A spec says what a modality looks like once preprocessed. The same spec object
drives the tf.data pipelines, the ``keras.Input`` of the builders and the serving
graph of the export, so training and serving can never disagree.

Every model input is named after its modality (``text``, ``image``, ``audio``),
and every modality has a presence flag input (``text_present``, ...): a float32
scalar per example, 1.0 when the modality is there and 0.0 when it is missing.

Example:
    >>> spec = ImageSpec(height=28, width=28, channels=1)
    >>> spec.shape
    (28, 28, 1)
    >>> AudioSpec(sample_rate=8000, clip_seconds=1.0).num_samples
    8000
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

#: The built-in modalities; :func:`modalities` also lists those registered since
#: (:func:`mmzoo.converters.register_converter`).
MODALITIES = ("text", "image", "audio")


def modalities() -> tuple[str, ...]:
    """Every registered modality, in order: the built-in ones first."""
    return tuple(SPEC_CLASSES)


def presence_key(modality: str) -> str:
    """The name of a modality's presence flag: ``presence_key("text") == "text_present"``."""
    return f"{modality}_present"


def _require(condition: bool, spec: str, field: str, value: Any, what: str) -> None:
    if not condition:
        raise ValueError(f"{spec}.{field}={value!r} is invalid: {what}.")


@dataclasses.dataclass(frozen=True)
class Spec:
    """Shared behaviour: config round trip, the keras.Input, the tf.TensorSpec."""

    modality: ClassVar[str]
    dtype: ClassVar[str]

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def keras_input(self):
        """The ``keras.Input`` for this modality, named after it."""
        import keras

        return keras.Input(shape=self.shape, dtype=self.dtype, name=self.modality)

    def tensor_spec(self, batch_size: int | None = None):
        """The ``tf.TensorSpec`` of a batch of this modality (pipelines, export)."""
        import tensorflow as tf

        return tf.TensorSpec((batch_size, *self.shape), self.dtype, name=self.modality)

    def get_config(self) -> dict[str, Any]:
        """A JSON-serializable dict of the constructor arguments."""
        config = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(config) - fields
        if unknown:
            raise ValueError(
                f"{cls.__name__} config has unknown fields {sorted(unknown)}; "
                f"allowed fields are {sorted(fields)}."
            )
        return cls(**config)

    def replace(self, **changes):
        """A copy with some fields changed, e.g. ``spec.replace(height=64)``."""
        return dataclasses.replace(self, **changes)

    def unlearned(self):
        """The spec without what preprocessing learned from a training split (the model's
        graph does not depend on it): itself, except a TextSpec's vocabulary."""
        return self


@dataclasses.dataclass(frozen=True)
class TextSpec(Spec):
    """Text as a fixed-length sequence of int32 token ids (0 = padding, 1 = unknown).

    Args:
        vocabulary_size: number of token ids, padding and unknown included.
        sequence_length: tokens per example; longer texts are cut, shorter padded.
        standardize: how raw strings are normalized before splitting: ``"word"``, a
            ``keras.layers.TextVectorization`` standardize mode; ``"wordpiece"``,
            ``"bert_uncased"`` or ``"bert_cased"`` (BERT's normalizer).
        vocabulary: the tokens, when known. ``"word"``: set by adapting on a training
            split, position ``i`` holds the token of id ``i + 2``. ``"wordpiece"``: the
            backbone's word pieces, position ``i`` holds id ``i``; None: the vocabulary of
            ``backbone``.
        tokenizer: the tokenizer (:data:`mmzoo.converters.TOKENIZERS`); ``"word"``:
            words of the vocabulary, by ``keras.layers.TextVectorization``;
            ``"wordpiece"``: BERT's WordPiece in core TF ops.
        backbone: the pretrained backbone the ids are for (:mod:`mmzoo.backbones`), if any.
    """

    vocabulary_size: int = 20000
    sequence_length: int = 64
    standardize: str = "lower_and_strip_punctuation"
    vocabulary: tuple[str, ...] | None = dataclasses.field(default=None, repr=False)
    tokenizer: str = "word"
    backbone: str | None = None

    modality: ClassVar[str] = "text"
    dtype: ClassVar[str] = "int32"

    def __post_init__(self):
        _require(self.vocabulary_size >= 3, "TextSpec", "vocabulary_size",
                 self.vocabulary_size, "it needs room for padding, unknown and one token (>= 3)")
        _require(self.sequence_length >= 1, "TextSpec", "sequence_length",
                 self.sequence_length, "it must be at least 1")
        if self.vocabulary is not None:
            object.__setattr__(self, "vocabulary", tuple(self.vocabulary))
            reserved = 2 if self.learns_vocabulary else 0
            _require(len(self.vocabulary) + reserved <= self.vocabulary_size, "TextSpec",
                     "vocabulary", f"<{len(self.vocabulary)} tokens>",
                     f"it holds more tokens than vocabulary_size - {reserved} = "
                     f"{self.vocabulary_size - reserved}")

    @property
    def learns_vocabulary(self) -> bool:
        """Whether the vocabulary is learned from a training split (``"word"``), not given
        with a pretrained backbone."""
        return self.tokenizer == "word"

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.sequence_length,)

    def unlearned(self) -> TextSpec:
        return self.replace(vocabulary=None) if self.learns_vocabulary else self


@dataclasses.dataclass(frozen=True)
class ImageSpec(Spec):
    """An image as float32 pixels in [0, 255], shape ``(height, width, channels)``.

    Models normalize pixels themselves (each image encoder knows what its
    backbone expects), so pipelines and serving only decode and resize.

    Args:
        height: height after an aspect-preserving resize with padding.
        width: width after that resize.
        channels: 1 (grayscale) or 3 (RGB). Transparent pixels are composited on
            ``background``.
        background: the grey level (0-255) used for padding and transparency.
        backbone: the pretrained backbone the pixels are for (:mod:`mmzoo.backbones`), if any.
    """

    height: int = 64
    width: int = 64
    channels: int = 3
    background: float = 255.0
    backbone: str | None = None

    modality: ClassVar[str] = "image"
    dtype: ClassVar[str] = "float32"

    def __post_init__(self):
        for field in ("height", "width"):
            value = getattr(self, field)
            _require(value >= 1, "ImageSpec", field, value, "it must be at least 1 pixel")
        _require(self.channels in (1, 3), "ImageSpec", "channels", self.channels,
                 "use 1 (grayscale) or 3 (RGB)")
        _require(0.0 <= self.background <= 255.0, "ImageSpec", "background", self.background,
                 "it is a grey level between 0 and 255")

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.height, self.width, self.channels)


@dataclasses.dataclass(frozen=True)
class AudioSpec(Spec):
    """Audio as a mono float32 waveform in [-1, 1] of a fixed number of samples.

    Models compute log-mel features from the waveform themselves
    (:class:`mmzoo.preprocessing.LogMelSpectrogram`), with these settings.

    Args:
        sample_rate: samples per second after resampling.
        clip_seconds: clip length; longer clips are cut, shorter padded with silence.
        num_mel_bins: mel bands of the log-mel frontend.
        fft_length: STFT window and FFT size, in samples.
        hop_length: STFT hop, in samples.
        fmin: the mel filterbank's lowest frequency in Hz.
        fmax: its highest frequency in Hz (None: the Nyquist frequency).
        backbone: the pretrained backbone the waveform is for (:mod:`mmzoo.backbones`), if
            any; it computes its own frontend (e.g. YAMNet's log-mel patches).
    """

    sample_rate: int = 16000
    clip_seconds: float = 1.0
    num_mel_bins: int = 64
    fft_length: int = 512
    hop_length: int = 160
    fmin: float = 0.0
    fmax: float | None = None
    backbone: str | None = None

    modality: ClassVar[str] = "audio"
    dtype: ClassVar[str] = "float32"

    def __post_init__(self):
        _require(self.sample_rate >= 1000, "AudioSpec", "sample_rate", self.sample_rate,
                 "use at least 1000 Hz")
        _require(self.num_samples >= self.fft_length // 2 + 1, "AudioSpec", "clip_seconds",
                 self.clip_seconds, f"the clip must hold more than fft_length / 2 = "
                 f"{self.fft_length // 2} samples")
        _require(self.num_mel_bins >= 1, "AudioSpec", "num_mel_bins", self.num_mel_bins,
                 "it must be at least 1")
        _require(self.hop_length >= 1, "AudioSpec", "hop_length", self.hop_length,
                 "it must be at least 1")
        nyquist = self.sample_rate / 2
        fmax = nyquist if self.fmax is None else self.fmax
        _require(0.0 <= self.fmin < fmax <= nyquist, "AudioSpec", "fmax", self.fmax,
                 f"need 0 <= fmin < fmax <= sample_rate / 2 = {nyquist}")

    @property
    def num_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    @property
    def num_frames(self) -> int:
        """Frames of the (centered) log-mel spectrogram."""
        return 1 + self.num_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.num_samples,)


#: Spec classes by modality, the registered ones included.
SPEC_CLASSES: dict[str, type[Spec]] = {cls.modality: cls for cls in (TextSpec, ImageSpec, AudioSpec)}


def spec_from_config(modality: str, config: dict[str, Any]) -> Spec:
    """Rebuild a spec from ``get_config()`` output, e.g. read from a preset's JSON.

    A pretrained backbone's spec may be given by its name and the fields a user chooses
    only, as in a run config's YAML: ``{"backbone": "minilm_l6", "sequence_length": 64}``.

    Example:
        >>> spec_from_config("image", {"height": 32, "width": 32}).shape
        (32, 32, 3)
    """
    if modality not in SPEC_CLASSES:
        raise ValueError(f"modality={modality!r} is unknown; use one of {list(modalities())}.")
    config = dict(config)
    if config.get("backbone"):
        from mmzoo.backbones import backbone_spec, get_backbone

        backbone = get_backbone(config["backbone"])
        if set(config) - {"backbone"} <= set(backbone.free_spec_fields):
            return backbone_spec(config.pop("backbone"), **config)
    return SPEC_CLASSES[modality].from_config(config)
