"""One preprocessor for all modalities: raw inputs to the model's feature dict."""

from __future__ import annotations

import keras
import tensorflow as tf

from mmzoo.preprocessing.audio import audio_from_waveform, decode_wav
from mmzoo.preprocessing.image import decode_image, image_from_pixels
from mmzoo.preprocessing.text import adapt_text_spec, text_vectorizer
from mmzoo.specs import MODALITIES, AudioSpec, ImageSpec, TextSpec, presence_key, spec_from_config

AUDIO_RATE_KEY = "audio_sample_rate"


@keras.saving.register_keras_serializable(package="mmzoo")
class Preprocessor(keras.layers.Layer):
    """Raw inputs (strings, encoded images, WAV bytes) to model features, in TF ops.

    The tf.data pipelines call :meth:`preprocess_example` per example, the export calls
    the layer on batches: one implementation, so training and serving agree. An empty
    string/bytes input is an absent modality: zeros and a presence flag of 0.0.

    Raw inputs, by modality: ``text`` a string; ``image`` encoded bytes (JPEG, PNG, GIF,
    BMP) or decoded pixels ``(h, w, c)``; ``audio`` WAV bytes, or a float waveform
    ``(samples[, channels])`` with its rate under ``"audio_sample_rate"``. A presence
    flag given in the raw inputs (``"audio_present"``...) overrides the emptiness rule.

    Example:
        >>> pre = Preprocessor(text=TextSpec(vocabulary_size=10, sequence_length=4))
        >>> pre = pre.adapt(["a red frog", "a cat"])
        >>> features = pre({"text": tf.constant(["a frog", ""])})
        >>> features["text_present"].numpy().tolist()
        [1.0, 0.0]
    """

    def __init__(self, text: TextSpec | None = None, image: ImageSpec | None = None,
                 audio: AudioSpec | None = None, **kwargs):
        super().__init__(**kwargs)
        specs = {"text": text, "image": image, "audio": audio}
        self.specs = {m: spec_from_config(m, s) if isinstance(s, dict) else s
                      for m, s in specs.items() if s is not None}
        if not self.specs:
            raise ValueError("Preprocessor needs at least one spec: pass text=, image= or audio=.")
        self.text_vectorizer = text_vectorizer(self.specs["text"]) if "text" in self.specs else None

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.specs)

    def adapt(self, texts) -> Preprocessor:
        """A new preprocessor whose text vocabulary is learned from ``texts`` (training split)."""
        if "text" not in self.specs:
            raise ValueError("This Preprocessor has no TextSpec: there is no vocabulary to adapt.")
        specs = dict(self.specs, text=adapt_text_spec(self.specs["text"], texts))
        return Preprocessor(**specs, name=self.name)

    def check_matches(self, model) -> None:
        """Raise a ValueError unless this preprocessor makes exactly ``model``'s modality inputs."""
        model_shapes = {t.name: tuple(t.shape[1:]) for t in model.inputs if t.name in MODALITIES}
        made_shapes = {m: spec.shape for m, spec in self.specs.items()}
        if made_shapes != model_shapes:
            raise ValueError(f"the preprocessor makes {made_shapes} but model {model.name!r} takes "
                             f"{model_shapes}; use the preprocessor built from the model's specs.")

    def preprocess_example(self, raw: dict) -> dict:
        """One example's raw inputs (scalars) to its features, presence flags included."""
        features = {}
        for modality in self.modalities:
            value = tf.convert_to_tensor(raw.get(modality, ""))
            present = raw.get(presence_key(modality))
            if present is None:
                present = (tf.strings.length(value) > 0 if value.dtype == tf.string
                           else tf.size(value) > 0)
            present = tf.cast(present, tf.bool)
            features[modality] = self._preprocess(modality, value, raw, present)
            features[presence_key(modality)] = tf.cast(present, tf.float32)
        return features

    def _preprocess(self, modality, value, raw, present):
        spec = self.specs[modality]
        if modality == "text":
            if spec.vocabulary is None:
                raise ValueError("The TextSpec has no vocabulary yet: adapt it on the training "
                                 "texts first, e.g. preprocessor = preprocessor.adapt(source.texts()).")
            return tf.cast(self.text_vectorizer(value[None])[0], tf.int32)
        if modality == "image":
            decode = decode_image if value.dtype == tf.string else image_from_pixels
        elif value.dtype == tf.string:
            decode = decode_wav
        else:
            rate = raw[AUDIO_RATE_KEY]

            def decode(waveform, spec):
                return audio_from_waveform(waveform, rate, spec)
        return tf.cond(present, lambda: decode(value, spec), lambda: tf.zeros(spec.shape))

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
