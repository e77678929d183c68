"""One preprocessor for all modalities: raw inputs to the model's feature dict, by converters."""

from __future__ import annotations

import keras
import tensorflow as tf

from mmzoo.converters import AUDIO_RATE_KEY, converter_for
from mmzoo.specs import modalities, presence_key, spec_from_config

__all__ = ["AUDIO_RATE_KEY", "Preprocessor"]


@keras.saving.register_keras_serializable(package="mmzoo")
class Preprocessor(keras.layers.Layer):
    """Raw inputs (strings, encoded images, WAV bytes) to model features, in TF ops.

    One converter per modality (:mod:`mmzoo.converters`) does the work. The tf.data
    pipelines call :meth:`preprocess_example` per example, the export calls the layer on
    batches: one implementation, so training and serving agree. An empty string/bytes
    input is an absent modality: zeros and a presence flag of 0.0.

    Raw inputs, by modality: ``text`` a string; ``image`` encoded bytes (JPEG, PNG, GIF,
    BMP) or decoded pixels ``(h, w, c)``; ``audio`` WAV bytes, or a float waveform
    ``(samples[, channels])`` with its rate under ``"audio_sample_rate"``. A presence
    flag given in the raw inputs (``"audio_present"``...) overrides the emptiness rule.
    A registered modality's spec is passed by its name too.

    Example:
        >>> pre = Preprocessor(text=TextSpec(vocabulary_size=10, sequence_length=4))
        >>> pre = pre.adapt(["a red frog", "a cat"])
        >>> features = pre({"text": tf.constant(["a frog", ""])})
        >>> features["text_present"].numpy().tolist()
        [1.0, 0.0]
    """

    def __init__(self, text=None, image=None, audio=None, **kwargs):
        registered = modalities()
        specs = {"text": text, "image": image, "audio": audio,
                 **{m: kwargs.pop(m) for m in registered if m in kwargs}}
        super().__init__(**kwargs)
        specs = {m: spec_from_config(m, s) if isinstance(s, dict) else s
                 for m, s in specs.items() if s is not None}
        if not specs:
            raise ValueError("Preprocessor needs at least one spec: pass "
                             + ", ".join(f"{m}=" for m in registered) + ".")
        self.converters = {m: converter_for(specs[m]) for m in registered if m in specs}

    @property
    def specs(self) -> dict:
        """The spec of each modality, in modality order."""
        return {m: converter.spec for m, converter in self.converters.items()}

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.converters)

    def adapt(self, values) -> Preprocessor:
        """A new preprocessor whose converter that learns from the training split (text: its
        vocabulary) learns from ``values``: that modality's raw inputs, a list or a dataset
        (e.g. ``source.texts()``). With several learning converters, use :meth:`adapted_on`.

        Example:
            >>> Preprocessor(text=TextSpec(10, 4)).adapt(["a cat"]).specs["text"].vocabulary[0]
            'a'
        """
        learning = self._learning()
        if len(learning) != 1:
            raise ValueError("This Preprocessor has "
                             + (f"several modalities that learn ({learning}): use "
                                "adapted_on(source)." if learning else
                                "no modality that learns from the training split (a text "
                                "vocabulary, say): there is nothing to adapt."))
        return self._adapted({learning[0]: values})

    def adapted_on(self, data) -> Preprocessor:
        """A new preprocessor whose converters that learn from the training split (text: its
        vocabulary) learn from ``data`` (a :class:`~mmzoo.data.Source` or
        :class:`~mmzoo.data.PreparedData` of the training split); itself if none learns.

        Example:
            >>> preprocessor = preprocessor.adapted_on(train_source)  # doctest: +SKIP
        """
        return self._adapted({m: data.values(m) for m in self._learning()})

    def _learning(self) -> list[str]:
        return [m for m, converter in self.converters.items() if converter.adaptable]

    def _adapted(self, values: dict) -> Preprocessor:
        if not values:
            return self
        specs = {**self.specs, **{m: self.converters[m].adapt(v).spec for m, v in values.items()}}
        return Preprocessor(**specs, name=self.name)

    def check_matches(self, model) -> None:
        """Raise a ValueError unless this preprocessor makes exactly ``model``'s modality inputs."""
        model_shapes = {t.name: tuple(t.shape[1:]) for t in model.inputs
                        if t.name in modalities()}
        made_shapes = {m: spec.shape for m, spec in self.specs.items()}
        if made_shapes != model_shapes:
            raise ValueError(f"the preprocessor makes {made_shapes} but model {model.name!r} takes "
                             f"{model_shapes}; use the preprocessor built from the model's specs.")

    def preprocess_example(self, raw: dict) -> dict:
        """One example's raw inputs (scalars) to its features, presence flags included."""
        features = {}
        for modality, converter in self.converters.items():
            value = tf.convert_to_tensor(raw.get(modality, ""))
            present = raw.get(presence_key(modality))
            if present is None:
                present = (tf.strings.length(value) > 0 if value.dtype == tf.string
                           else tf.size(value) > 0)
            present = tf.cast(present, tf.bool)
            spec = converter.spec
            features[modality] = tf.cond(
                present, lambda converter=converter, value=value, spec=spec: tf.ensure_shape(
                    converter.preprocess(value, raw), spec.shape),
                lambda spec=spec: tf.zeros(spec.shape, spec.dtype))
            features[presence_key(modality)] = tf.cast(present, tf.float32)
        return features

    def call(self, inputs):
        """A batch of raw inputs (a dict of rank-1 tensors) to a batch of features."""
        signature = {}
        for modality, spec in self.specs.items():
            signature[modality] = tf.TensorSpec(spec.shape, spec.dtype)
            signature[presence_key(modality)] = tf.TensorSpec((), tf.float32)
        return tf.map_fn(self.preprocess_example, dict(inputs), fn_output_signature=signature)

    def get_config(self):
        return {**super().get_config(),
                **{m: spec.get_config() for m, spec in self.specs.items()}}
