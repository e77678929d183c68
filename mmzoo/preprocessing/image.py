"""Image preprocessing in TF ops: decode, composite transparency, resize with padding.

Pixels come out float32 in [0, 255], shaped ``spec.shape``; models normalize them.
The resize is bilinear without antialiasing (half-pixel centers), the same
arithmetic as ``cv2.resize(..., interpolation=cv2.INTER_LINEAR)``.
"""

from __future__ import annotations

import tensorflow as tf

from mmzoo.specs import ImageSpec


def image_from_pixels(pixels, spec: ImageSpec):
    """Pixels ``(h, w, c)`` with c in 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) to ``spec.shape``.

    Transparent pixels are composited on ``spec.background``; the image is resized to fit
    ``(spec.height, spec.width)`` keeping its aspect ratio, centered, and padded with the
    background.

    Example:
        >>> image_from_pixels(tf.zeros((10, 20, 4), tf.uint8), ImageSpec(8, 8, 1))[0, 0, 0]
        <tf.Tensor: shape=(), dtype=float32, numpy=255.0>
    """
    pixels = tf.convert_to_tensor(pixels)
    shape = tf.shape(pixels)
    size = tf.cast(shape[:2], tf.float32)
    target = tf.constant([spec.height, spec.width], tf.float32)
    new_size = tf.cast(tf.maximum(tf.round(size * tf.reduce_min(target / size)), 1.0), tf.int32)

    def resize(image):
        return tf.image.resize(image, new_size, method="bilinear", antialias=False)

    # Bilinear resizing is linear, so compositing commutes with it when the colours are
    # premultiplied by alpha: the input-sized work is one multiply, the rest is output-sized.
    def premultiplied():
        alpha = tf.cast(pixels[..., -1:], tf.float32) / 255.0
        return resize(tf.cast(pixels, tf.float32) * alpha), resize(alpha)

    def opaque():
        return resize(pixels), tf.ones(tf.concat([new_size, [1]], 0))

    has_alpha = tf.equal(shape[-1] % 2, 0)
    resized, alpha = tf.cond(has_alpha, premultiplied, opaque)
    color_channels = shape[-1] - tf.cast(has_alpha, tf.int32)
    color = tf.gather(resized, tf.minimum(tf.range(3), color_channels - 1), axis=-1)
    image = color + spec.background * (1.0 - alpha)
    if spec.channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    top_left = (tf.constant([spec.height, spec.width]) - new_size) // 2
    bottom_right = tf.constant([spec.height, spec.width]) - new_size - top_left
    padding = tf.pad(tf.stack([top_left, bottom_right], axis=1), [[0, 1], [0, 0]])
    padded = tf.pad(image, padding, constant_values=spec.background)
    return tf.ensure_shape(padded, spec.shape)


def decode_image(contents, spec: ImageSpec):
    """Encoded JPEG, PNG, GIF (first frame) or BMP bytes to float32 pixels ``spec.shape``.

    Example:
        >>> png = tf.io.encode_png(tf.zeros((4, 4, 3), tf.uint8))
        >>> decode_image(png, ImageSpec(2, 2, 3)).shape
        TensorShape([2, 2, 3])
    """
    pixels = tf.io.decode_image(contents, channels=0, expand_animations=False)
    return image_from_pixels(pixels, spec)


def augment_image(image, seed, spec: ImageSpec, max_shift: float = 0.1):
    """Training augmentation: a random left-right flip and a shift of up to ``max_shift`` of the size.

    ``seed`` is a stateless seed (shape ``(2,)``), e.g. from ``tf.data.Dataset.random``;
    the uncovered border takes the background's grey level.

    Example:
        >>> augment_image(tf.zeros((8, 8, 3)), tf.constant([1, 2]), ImageSpec(8, 8, 3)).shape
        TensorShape([8, 8, 3])
    """
    flip_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    pad_h, pad_w = int(spec.height * max_shift), int(spec.width * max_shift)
    padded = tf.pad(image - spec.background, [[pad_h, pad_h], [pad_w, pad_w], [0, 0]])
    return tf.image.stateless_random_crop(padded, spec.shape, crop_seed) + spec.background
