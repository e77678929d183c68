"""Text: the string itself in rows and requests, token ids for the model.

The tokenizer is a slot: :data:`TOKENIZERS` maps a :class:`~mmzoo.TextSpec`'s
``tokenizer`` name to a layer class with ``__call__(strings) -> int32 ids`` and
``adapted_spec(spec, texts)``. ``"word"`` is ``keras.layers.TextVectorization`` over a
word vocabulary learned on the training split; ``"wordpiece"`` is BERT's uncased WordPiece
(:mod:`mmzoo.preprocessing.wordpiece`) over a pretrained backbone's vocabulary.

Python strings given to a tokenizer become UTF-8 bytes by :func:`mmzoo.utils.utf8_bytes`: a
lone surrogate (``"\\ud800"``, or an undecodable byte kept by ``errors="surrogateescape"``)
becomes U+FFFD.
"""

from __future__ import annotations

import pathlib
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from mmzoo.converters.base import Converter
from mmzoo.preprocessing.text import adapt_text_spec, text_vectorizer
from mmzoo.preprocessing.wordpiece import WordPiece
from mmzoo.specs import TextSpec
from mmzoo.utils import file_reason, utf8_bytes


@keras.saving.register_keras_serializable(package="mmzoo")
class WordTokenizer(keras.layers.Layer):
    """Words of a learned vocabulary to int32 ids (0 padding, 1 unknown), by ``TextVectorization``.

    Example:
        >>> tokenizer = WordTokenizer(TextSpec(10, 4, vocabulary=("cat",)))
        >>> tokenizer(tf.constant(["the cat"])).numpy().tolist()
        [[1, 2, 0, 0]]
    """

    def __init__(self, spec: TextSpec, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.built = True  # no weights: nothing to build
        self.vectorizer = text_vectorizer(spec)

    def call(self, strings):
        return tf.cast(self.vectorizer(strings), tf.int32)

    @staticmethod
    def adapted_spec(spec: TextSpec, texts) -> TextSpec:
        """``spec`` with the vocabulary of ``texts`` (a list or a dataset of strings)."""
        return adapt_text_spec(spec, texts)


def _string_tensor(strings):
    """Python or numpy strings as a string tensor, encoded by :func:`utf8_bytes`; tensors as they are."""
    if not isinstance(strings, str | bytes | list | tuple | np.ndarray):
        return strings
    array = np.asarray(strings, dtype=object)
    encoded = [utf8_bytes(s) if isinstance(s, str) else bytes(s) for s in array.ravel()]
    return tf.constant(np.asarray(encoded, dtype=object).reshape(array.shape), tf.string)


@keras.saving.register_keras_serializable(package="mmzoo")
class WordPieceTokenizer(keras.layers.Layer):
    """Strings to BERT WordPiece ids ``(batch, spec.sequence_length)``, in core TF ops.

    The ids are ``[CLS]``, the first ``sequence_length - 2`` word pieces (a longer text is
    truncated), ``[SEP]``, then ``[PAD]``: those of Hugging Face ``tokenizers`` with the
    backbone's ``tokenizer.json`` (:mod:`mmzoo.preprocessing.wordpiece`). The vocabulary is
    ``spec.vocabulary`` (id ``i`` at position ``i``), else the backbone's.
    ``spec.standardize`` is ``"bert_uncased"`` (lowercase, accents stripped) or ``"bert_cased"``.

    Example:
        >>> tokenizer = WordPieceTokenizer(backbone_spec("minilm_l6", sequence_length=6))
        >>> tokenizer(["Hello, world!"]).numpy().tolist()
        [[101, 7592, 1010, 2088, 999, 102]]
    """

    #: The normalizations it implements (``TextSpec.standardize``): whether each lowercases.
    STANDARDIZE = {"bert_uncased": True, "bert_cased": False}

    def __init__(self, spec: TextSpec, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.built = True  # no weights: nothing to build
        if spec.standardize not in self.STANDARDIZE:
            raise ValueError(f"TextSpec.standardize={spec.standardize!r} is not one the "
                             f"wordpiece tokenizer does: use one of {list(self.STANDARDIZE)}.")
        if spec.sequence_length < 2:
            raise ValueError(f"TextSpec.sequence_length={spec.sequence_length} leaves no room "
                             "for [CLS] and [SEP]: use at least 2.")
        self.spec = spec
        self.wordpiece = WordPiece(self._vocabulary(spec), self.STANDARDIZE[spec.standardize])

    @staticmethod
    def _vocabulary(spec: TextSpec) -> tuple[str, ...]:
        if spec.vocabulary is not None:
            return spec.vocabulary
        if spec.backbone is None:
            raise ValueError("TextSpec.vocabulary is None and TextSpec.backbone too: the "
                             "wordpiece tokenizer needs a vocabulary, or a backbone's.")
        from mmzoo.backbones import get_backbone

        vocabulary = get_backbone(spec.backbone).vocabulary()
        if len(vocabulary) > spec.vocabulary_size:
            raise ValueError(f"TextSpec.vocabulary_size={spec.vocabulary_size} is smaller than "
                             f"the {spec.backbone} vocabulary ({len(vocabulary)} tokens).")
        return vocabulary

    def __call__(self, strings, *args, **kwargs):
        return super().__call__(_string_tensor(strings), *args, **kwargs)

    def call(self, strings):
        return self.wordpiece.ids(strings, self.spec.sequence_length)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.spec.sequence_length)

    def compute_output_spec(self, strings):
        return keras.KerasTensor((*strings.shape, self.spec.sequence_length), "int32")

    def get_config(self):
        return {**super().get_config(), "spec": self.spec.get_config()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        return cls(TextSpec.from_config(config.pop("spec")), **config)

    @staticmethod
    def adapted_spec(spec: TextSpec, texts) -> TextSpec:
        """``spec`` itself: the vocabulary is the backbone's, learned from nothing."""
        return spec


#: Tokenizer classes by the name a TextSpec records.
TOKENIZERS: dict[str, type[keras.layers.Layer]] = {"word": WordTokenizer,
                                                    "wordpiece": WordPieceTokenizer}


def _tokenizer_class(spec: TextSpec):
    if spec.tokenizer not in TOKENIZERS:
        raise ValueError(f"TextSpec.tokenizer={spec.tokenizer!r} is unknown; use one of "
                         f"{sorted(TOKENIZERS)}.")
    return TOKENIZERS[spec.tokenizer]


@keras.saving.register_keras_serializable(package="mmzoo")
class TextConverter(Converter):
    """Strings to ``spec.sequence_length`` token ids, by the spec's tokenizer.

    Example:
        >>> converter = TextConverter(TextSpec(10, 4)).adapt(["a frog", "a cat"])
        >>> converter.preprocess(tf.constant("a dog"), {}).numpy().tolist()
        [2, 1, 0, 0]
    """

    modality: ClassVar[str] = "text"
    spec_class: ClassVar[type] = TextSpec
    holds_paths: ClassVar[bool] = False
    file_extensions: ClassVar[tuple[str, ...]] = (".txt",)
    expected_content: ClassVar[str] = "UTF-8 text"
    stores_raw: ClassVar[bool] = True
    adaptable: ClassVar[bool] = True

    def __init__(self, spec: TextSpec, **kwargs):
        super().__init__(spec, **kwargs)
        self.tokenizer = _tokenizer_class(spec)(spec, name="tokenizer")

    @classmethod
    def folder_value(cls, path, options):
        """A text file's text (without a byte-order mark; non-UTF-8 bytes kept as surrogates,
        for the example to be found bad), its first line with ``first_line_only``."""
        reason = file_reason(str(path), empty_ok=True)
        if reason:
            return "", reason
        text = pathlib.Path(path).read_bytes().decode("utf-8", errors="surrogateescape")
        text = text.removeprefix("\ufeff")
        return (text.splitlines()[0] if options.get("first_line_only") and text else text), None

    @classmethod
    def array_columns(cls, values, options):
        return {cls.modality: np.asarray(values, dtype=object).astype(str)}

    @property
    def needs_adapting(self) -> bool:
        return self.spec.learns_vocabulary and self.spec.vocabulary is None

    def adapt(self, values) -> TextConverter:
        return TextConverter(_tokenizer_class(self.spec).adapted_spec(self.spec, values),
                             name=self.name)

    def preprocess(self, value, raw):
        if self.needs_adapting:
            raise ValueError("The TextSpec has no vocabulary yet: adapt it on the training "
                             "texts first, e.g. preprocessor = preprocessor.adapt(source.texts()).")
        return self.tokenizer(value[None])[0]

    def record_bytes(self, value) -> bytes:
        return bytes(value)

    def parse_records(self, values):
        return self.tokenizer(values)

    def stored_mismatch(self, stored) -> bool:
        return False  # the raw text is stored: any tokenizer reads it

    def checked_request(self, value):
        """``value`` decoded strictly and encoded again: itself if valid UTF-8, else an
        InvalidArgumentError (a data dependency: a check the model did not need would be
        pruned). The pipelines reject such text as a bad row."""
        return tf.strings.unicode_encode(tf.strings.unicode_decode(value, "UTF-8",
                                                                   errors="strict"), "UTF-8")

    def valid_features(self, values):
        size = self.spec.vocabulary_size
        return ((values >= 0) & (values < size),
                f"have token ids outside [0, {size}) (the vocabulary)")

    def sample_input(self) -> str:
        return "warm up"
