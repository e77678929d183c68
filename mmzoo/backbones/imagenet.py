"""What the ImageNet backbones (``efficientnet_lite0``, ``mobilenet_v2``) share: their spec.

Both take RGB pixels in [0, 255] on a white background, 224 x 224 by default; their
convolutions are fully convolutional and end in global average pooling, so other sizes
build too (the pretrained weights were trained at 224).
"""

from __future__ import annotations

from mmzoo.backbones.base import refuse_fixed_fields
from mmzoo.specs import ImageSpec

#: The spec fields a user may choose for an ImageNet backbone.
FREE_FIELDS = ("height", "width")
#: The smallest side the backbones take (five stride-2 stages: a 1 x 1 final map at 32).
MIN_SIZE = 32


def imagenet_spec(backbone: str, **overrides) -> ImageSpec:
    """The 224 x 224 RGB spec of ``backbone``, with ``height``/``width`` overridden if given.

    Example:
        >>> imagenet_spec("mobilenet_v2", height=160).shape
        (160, 224, 3)
    """
    refuse_fixed_fields(backbone, ImageSpec, overrides, FREE_FIELDS)
    spec = ImageSpec(**{"height": 224, "width": 224, **overrides}, channels=3, background=255.0,
                     backbone=backbone)
    for field in FREE_FIELDS:
        if getattr(spec, field) < MIN_SIZE:
            raise ValueError(f"the {backbone} backbone needs ImageSpec.{field} >= {MIN_SIZE}, "
                             f"not {getattr(spec, field)}.")
    return spec
