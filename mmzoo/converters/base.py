"""The converter contract: everything mmzoo knows about one modality's inputs.

A :class:`Converter` turns one modality's raw input (a string, encoded bytes, a file
path, an array) into the model's input, in TF ops, and owns every other place where
that modality's inputs differ from the others': how a source's rows hold it (the text
itself or a file's path), how its files are read, how a prepared TFRecord stores it,
what an exported model checks in a request and what warms it up. The pipelines,
``prepare``, the bad-data checks, the export and the CLI loop over converters; a new
modality is one converter class and :func:`mmzoo.converters.register_converter`.

Class attributes describe the source side (no spec needed); methods need the spec.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf


class Converter(keras.layers.Layer):
    """One modality's preprocessing, from raw input to model input (see the module docstring).

    Subclasses set :attr:`modality` and :attr:`spec_class` and implement
    :meth:`preprocess`; the other methods have defaults that fit a modality whose
    examples are files of encoded bytes (as images are).

    Example:
        >>> converter = converter_for(ImageSpec(8, 8, 3))  # doctest: +SKIP
        >>> converter.preprocess(tf.io.encode_png(tf.zeros((4, 4, 3), tf.uint8)), {}).shape  # doctest: +SKIP
        TensorShape([8, 8, 3])
    """

    #: The modality's name: the model input, the manifest column, the request input.
    modality: ClassVar[str]
    #: The spec class describing the preprocessed input.
    spec_class: ClassVar[type]
    #: Whether a row's value is a file's path (else it is the input itself, as text is).
    holds_paths: ClassVar[bool] = True
    #: File name extensions :func:`mmzoo.data.from_folder` gives this modality.
    file_extensions: ClassVar[tuple[str, ...]] = ()
    #: What one raw input must hold, for error messages ("a WAV file (PCM...)").
    expected_content: ClassVar[str] = "bytes"
    #: ``prepare`` stores the raw input rather than the preprocessed one (text: so that a
    #: vocabulary can be adapted after preparing).
    stores_raw: ClassVar[bool] = False
    #: :meth:`augment` changes training inputs (images: flips and shifts).
    augments: ClassVar[bool] = False
    #: :meth:`adapt` learns from the training split (text: a vocabulary).
    adaptable: ClassVar[bool] = False

    def __init__(self, spec, **kwargs):
        kwargs.setdefault("name", f"{self.modality}_converter")
        super().__init__(trainable=False, **kwargs)
        self.built = True  # no weights: nothing to build
        if not isinstance(spec, self.spec_class):
            raise ValueError(f"{self.modality}= needs a {self.spec_class.__name__}, "
                             f"got {type(spec).__name__}.")
        self.spec = spec

    # --- sources: how rows hold the modality (class methods: no spec needed) ---

    @classmethod
    def folder_value(cls, path, options: dict) -> tuple[str, str | None]:
        """The row value of a file found by ``from_folder``: its path, or its contents
        for a modality that holds no paths; and why it cannot be read (None if it can)."""
        return str(path), None

    @classmethod
    def array_columns(cls, values, options: dict) -> dict[str, np.ndarray]:
        """``from_arrays``' columns for this modality's in-memory ``values`` (one per example)."""
        return {cls.modality: np.asarray(values)}

    @classmethod
    def tfds_decoder(cls):
        """The TFDS decoder of this modality's feature (None: TFDS's own)."""
        return None

    @classmethod
    def tfds_raw(cls, value, feature, options: dict) -> dict:
        """The raw inputs of one TFDS example's feature value."""
        return {cls.modality: value}

    @classmethod
    def loading_plan(cls, paths) -> Any:
        """What :meth:`load` needs to know of all a source's paths ahead (None: nothing)."""
        return None

    def load(self, path, plan) -> dict:
        """One row's path ("" when absent) to raw inputs, in TF ops: the file's bytes and
        the presence flag."""
        present = tf.strings.length(path) > 0
        contents = tf.cond(present, lambda: tf.io.read_file(path), lambda: tf.constant(""))
        return {self.modality: contents, f"{self.modality}_present": present}

    def diagnose(self, value) -> str | None:
        """Why ``value`` (a raw input, as a row holds it) cannot be preprocessed, when TF's
        error message would not say it well (None: use TF's message)."""
        return None

    # --- preprocessing ---

    def preprocess(self, value, raw: dict):
        """One present example's raw input to the model input (TF ops). ``raw`` holds the
        example's other raw inputs (an audio waveform's rate, say)."""
        raise NotImplementedError

    def augment(self, values, seeds):
        """A training batch's inputs augmented with stateless ``seeds`` (one per example),
        when :attr:`augments`."""
        return values

    def adapt(self, values) -> Converter:
        """A converter whose spec is learned from the training split's raw ``values``;
        this one when there is nothing to learn."""
        return self

    @property
    def needs_adapting(self) -> bool:
        """Whether :meth:`adapt` must run before :meth:`preprocess` can."""
        return False

    # --- prepare's TFRecords ---

    def record_bytes(self, value: np.ndarray) -> bytes:
        """One example's preprocessed input (raw, when :attr:`stores_raw`) as a record's bytes."""
        return np.asarray(value, self.spec.dtype).tobytes()

    def parse_records(self, values):
        """A batch of :meth:`record_bytes` back to model inputs (any shape holding
        ``(batch, *spec.shape)``: the pipeline reshapes)."""
        return tf.io.decode_raw(values, self.spec.dtype)

    def stored_mismatch(self, stored) -> bool:
        """Whether a folder prepared with spec ``stored`` cannot feed this converter."""
        return stored.shape != self.spec.shape

    # --- serving ---

    def checked_request(self, value):
        """A request's raw input once checked beyond decoding (text: strict UTF-8)."""
        return value

    def valid_features(self, values) -> tuple[Any, str]:
        """Which of a batch of model inputs (as the ``preprocessed`` signature gets them)
        hold values the pipelines could have made, elementwise; and, for an error, what
        the bad examples "have"."""
        return tf.math.is_finite(values), "have values that are not finite"

    def sample_input(self) -> str | bytes:
        """A raw input that warms an exported model up (TF Serving's warm-up file)."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "spec": self.spec.get_config()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        spec = cls.spec_class.from_config(config.pop("spec"))
        config.pop("trainable", None)
        return cls(spec, **config)

