import cv2
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.preprocessing import augment_image, decode_image, image_from_pixels
from mmzoo.specs import ImageSpec
from tests.data_files import pattern, write_gif, write_image

# Bilinear resizes agree with cv2.INTER_LINEAR to float rounding on float inputs.
RESIZE_TOLERANCE = 1e-3


def reference(pixels: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """Composite on the background, cv2.resize keeping the aspect ratio, pad centred."""
    pixels = pixels.astype(np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    color, alpha = (pixels[..., :-1], pixels[..., -1:] / 255) if pixels.shape[-1] in (2, 4) else (pixels, 1.0)
    color = color * alpha + spec.background * (1 - alpha)
    if color.shape[-1] == 1:
        color = np.repeat(color, 3, -1)
    if spec.channels == 1:
        color = color @ np.array([0.2989, 0.587, 0.114], np.float32)[:, None]
    h, w = color.shape[:2]
    scale = min(spec.height / h, spec.width / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = cv2.resize(color, (new_w, new_h), interpolation=cv2.INTER_LINEAR).reshape(new_h, new_w, -1)
    out = np.full(spec.shape, spec.background, np.float32)
    top, left = (spec.height - new_h) // 2, (spec.width - new_w) // 2
    out[top:top + new_h, left:left + new_w] = resized
    return out


@pytest.mark.parametrize("shape,spec", [
    ((20, 30, 4), ImageSpec(16, 16, 3)),   # RGBA, wide: padded top and bottom
    ((30, 12, 3), ImageSpec(16, 16, 3)),   # RGB, tall: padded left and right
    ((9, 9, 1), ImageSpec(20, 20, 1)),     # grey, upscaled
    ((16, 10, 2), ImageSpec(8, 8, 1, background=0.0)),  # grey + alpha on black
])
def test_image_from_pixels_matches_cv2_resize(shape, spec):
    pixels = pattern(*shape)
    pixels[..., -1] = np.where(np.arange(shape[1]) % 3 == 0, 0, 255) if shape[-1] in (2, 4) else pixels[..., -1]
    np.testing.assert_allclose(image_from_pixels(pixels, spec).numpy(), reference(pixels, spec),
                               atol=RESIZE_TOLERANCE)


@pytest.mark.parametrize("name,channels,max_error,mean_error", [
    ("a.png", 4, RESIZE_TOLERANCE, RESIZE_TOLERANCE), ("a.bmp", 3, RESIZE_TOLERANCE, RESIZE_TOLERANCE),
    # TF and OpenCV decode JPEG chroma differently: a few grey levels on sharp edges.
    ("a.jpg", 3, 12.0, 2.5),
])
def test_decode_image_formats_match_opencv_decode(tmp_path, name, channels, max_error, mean_error):
    path = write_image(tmp_path / name, pattern(24, 18, channels))
    spec = ImageSpec(12, 12, 3)
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    decoded = cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA if channels == 4 else cv2.COLOR_BGR2RGB)
    error = np.abs(decode_image(path.read_bytes(), spec).numpy() - reference(decoded, spec))
    assert error.max() <= max_error and error.mean() <= mean_error, (error.max(), error.mean())


def test_decode_gif_reads_the_first_frame(tmp_path):
    grey = pattern(10, 14, 1)[..., 0]
    path = write_gif(tmp_path / "a.gif", grey)
    spec = ImageSpec(10, 14, 3)
    np.testing.assert_allclose(decode_image(path.read_bytes(), spec).numpy(),
                               np.repeat(grey[..., None], 3, -1), atol=RESIZE_TOLERANCE)


def test_corrupt_image_raises():
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_image(b"not an image at all", ImageSpec(8, 8, 3))


def test_augment_keeps_content_and_background():
    spec = ImageSpec(10, 10, 3)
    image = tf.constant(pattern(10, 10, 3), tf.float32)
    out = augment_image(image, tf.constant([3, 4]), spec, max_shift=0.2).numpy()
    assert out.shape == spec.shape
    # Every pixel is either background or a value from the image (flips and shifts only).
    values = set(np.unique(image.numpy())) | {spec.background}
    assert set(np.unique(out)) <= values
