"""The real photos and stamps the ImageNet backbone tests run on, and their expected labels."""

from __future__ import annotations

import pytest

from benchmarks.references.image_parity import decode_files, imagenet_labels, parity_files
from mmzoo.backbones.base import source_weights_dir

#: The photos whose reference top-1 ImageNet label (torch EfficientNet-Lite0 and the TFLite
#: MobileNetV2 agree on all of them) is right by eye. Left out: owl.jpg (a burrowing owl;
#: both say "ruffed grouse") and sunflower.png (ImageNet has no sunflower; both say "daisy").
SANITY_LABELS = {
    "bird.png": "chickadee", "cat.png": "Egyptian cat", "cat_720p.jpg": "Egyptian cat",
    "dragonfly.png": "dragonfly", "grace_hopper.png": "military uniform",
    "hot_dog.jpg": "hotdog", "kite_and_cold.jpg": "seashore",
    "missvickie_potato_chips.png": "packet", "parrot.jpg": "macaw",
}


def real_files(data_dir):
    """Name to path of the parity images; skips when the photos are missing."""
    weights_dir = source_weights_dir()
    if not (weights_dir / "photos").is_dir():
        pytest.skip(f"the photos are not at {weights_dir / 'photos'}: set $MMZOO_WEIGHTS_DIR "
                    "to ../shared/weights")
    return parity_files(data_dir, weights_dir)


def photo_labels(names, scores, offset: int) -> dict[str, str]:
    """Photo file name to the first name of its top-1 label."""
    labels = imagenet_labels()
    return {name.split("/", 1)[1]: labels[row.argmax() + offset].split(",")[0]
            for name, row in zip(names, scores) if name.startswith("photos/")}


__all__ = ["SANITY_LABELS", "decode_files", "photo_labels", "real_files"]
