"""Images: a file's encoded bytes (JPEG, PNG, GIF, BMP) or pixels, float32 pixels for the model."""

from __future__ import annotations

from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from mmzoo.converters.base import Converter
from mmzoo.preprocessing.image import augment_image, decode_image, image_from_pixels
from mmzoo.specs import ImageSpec


@keras.saving.register_keras_serializable(package="mmzoo")
class ImageConverter(Converter):
    """Encoded images or pixels ``(h, w, c)`` to float32 pixels in [0, 255] of ``spec.shape``.

    Example:
        >>> png = tf.io.encode_png(tf.zeros((4, 4, 3), tf.uint8))
        >>> ImageConverter(ImageSpec(2, 2, 3)).preprocess(png, {}).shape
        TensorShape([2, 2, 3])
    """

    modality: ClassVar[str] = "image"
    spec_class: ClassVar[type] = ImageSpec
    file_extensions: ClassVar[tuple[str, ...]] = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
    expected_content: ClassVar[str] = "a JPEG, PNG, GIF or BMP image"
    augments: ClassVar[bool] = True

    @classmethod
    def array_columns(cls, values, options):
        """uint8 pixels ``(n, h, w[, c])``: a grey image gets its channel axis."""
        images = np.asarray(values)
        return {cls.modality: images[..., None] if images.ndim == 3 else images}

    @classmethod
    def tfds_decoder(cls):
        import tensorflow_datasets as tfds

        return tfds.decode.SkipDecoding()  # the encoded bytes, decoded as files are

    def preprocess(self, value, raw):
        decode = decode_image if value.dtype == tf.string else image_from_pixels
        return decode(value, self.spec)

    def augment(self, values, seeds):
        return tf.map_fn(lambda args: augment_image(args[0], args[1], self.spec), (values, seeds),
                         fn_output_signature=tf.TensorSpec(self.spec.shape, tf.float32))

    def record_bytes(self, value) -> bytes:
        """Pixels stored as uint8: within 0.5 of the float ones."""
        return np.clip(np.round(value), 0, 255).astype(np.uint8).tobytes()

    def parse_records(self, values):
        return tf.cast(tf.io.decode_raw(values, tf.uint8), tf.float32)

    def valid_features(self, values):
        return ((values >= 0) & (values <= 255),  # false for NaN and infinities too
                "have pixels that are not finite numbers in [0, 255]")

    def sample_input(self) -> bytes:
        """A grey PNG of the spec's size."""
        spec = self.spec
        pixels = tf.fill((spec.height, spec.width, spec.channels), tf.constant(128, tf.uint8))
        return tf.io.encode_png(pixels).numpy()
