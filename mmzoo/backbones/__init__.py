"""Pretrained backbones: converted offline with measured parity, usable as encoders.

Each is a :class:`~mmzoo.backbones.base.Backbone` selected by name, e.g.
``build_classifier(text=backbone_spec("minilm_l6"), encoders={"text": "minilm_l6"})``:

- ``minilm_l6`` (text): all-MiniLM-L6-v2, keras-hub's ``BertBackbone`` with exact GELU,
  mean-pooled over real tokens; WordPiece tokenization in core TF ops.
- ``efficientnet_lite0`` (image): EfficientNet-Lite0 (ImageNet), a Keras port.
- ``mobilenet_v2`` (image): ``keras.applications.MobileNetV2`` (ImageNet), from the
  dequantized TFLite file.
- ``yamnet`` (audio): YAMNet (AudioSet), a Keras port with its float log-mel patch frontend.

Example:
    >>> sorted(backbone_names("image"))
    ['efficientnet_lite0', 'mobilenet_v2']
"""

from __future__ import annotations

import importlib

from mmzoo.backbones.base import Backbone, WeightsFile

#: Backbone names and the module defining each (imported on first use).
BACKBONES: dict[str, str] = {
    "minilm_l6": "mmzoo.backbones.minilm",
    "efficientnet_lite0": "mmzoo.backbones.efficientnet_lite",
    "mobilenet_v2": "mmzoo.backbones.mobilenet_v2",
    "yamnet": "mmzoo.backbones.yamnet",
}
#: The modality of each backbone, known without importing its module.
BACKBONE_MODALITIES: dict[str, str] = {
    "minilm_l6": "text", "efficientnet_lite0": "image", "mobilenet_v2": "image",
    "yamnet": "audio",
}


def backbone_names(modality: str | None = None) -> list[str]:
    """The backbone names, those of ``modality`` only when given."""
    return [name for name in BACKBONES if modality in (None, BACKBONE_MODALITIES[name])]


def get_backbone(name: str) -> Backbone:
    """The :class:`Backbone` called ``name``; a ValueError lists the names otherwise."""
    if name not in BACKBONES:
        raise ValueError(f"backbone {name!r} is unknown; use one of {list(BACKBONES)}.")
    return importlib.import_module(BACKBONES[name]).BACKBONE


def backbone_spec(name: str, **overrides):
    """The spec a backbone serves, e.g. ``backbone_spec("minilm_l6", sequence_length=64)``."""
    return get_backbone(name).spec(**overrides)


__all__ = ["BACKBONES", "Backbone", "WeightsFile", "backbone_names", "backbone_spec",
           "get_backbone"]
