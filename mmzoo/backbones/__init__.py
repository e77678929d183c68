"""Pretrained backbones: converted offline with measured parity, usable as encoders.

Each is a :class:`~mmzoo.backbones.base.Backbone` selected by name, e.g.
``build_classifier(text=backbone_spec("minilm_l6"), encoders={"text": "minilm_l6"})``:

- ``minilm_l6`` (text): all-MiniLM-L6-v2, keras-hub's ``BertBackbone`` with exact GELU,
  mean-pooled over real tokens; WordPiece tokenization in core TF ops.
- ``efficientnet_lite0`` (image): EfficientNet-Lite0 (ImageNet), a Keras port.
- ``mobilenet_v2`` (image): ``keras.applications.MobileNetV2`` (ImageNet), from the
  dequantized TFLite file.
- ``yamnet`` (audio): YAMNet (AudioSet), a Keras port with its float log-mel patch frontend.
- ``keras_hub:<preset>`` (text): any KerasHub BERT-family backbone with a WordPiece
  tokenizer, from a preset name or folder (:mod:`mmzoo.backbones.hub`).

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


#: The prefix of a KerasHub preset used as a backbone, e.g. ``"keras_hub:bert_tiny_en_uncased"``.
KERAS_HUB_PREFIX = "keras_hub:"


def backbone_names(modality: str | None = None) -> list[str]:
    """The backbone names, those of ``modality`` only when given."""
    return [name for name in BACKBONES if modality in (None, BACKBONE_MODALITIES[name])]


def is_backbone(kind) -> bool:
    """Whether an encoder kind names a pretrained backbone."""
    return isinstance(kind, str) and (kind in BACKBONES or kind.startswith(KERAS_HUB_PREFIX))


def get_backbone(name: str) -> Backbone:
    """The :class:`Backbone` called ``name``; a ValueError lists the names otherwise."""
    if isinstance(name, str) and name.startswith(KERAS_HUB_PREFIX):
        from mmzoo.backbones.hub import keras_hub_backbone

        return keras_hub_backbone(name[len(KERAS_HUB_PREFIX):])
    if name not in BACKBONES:
        raise ValueError(f"backbone {name!r} is unknown; use one of {list(BACKBONES)} or "
                         f"'{KERAS_HUB_PREFIX}<preset>'.")
    return importlib.import_module(BACKBONES[name]).BACKBONE


def backbone_spec(name: str, **overrides):
    """The spec a backbone serves, e.g. ``backbone_spec("minilm_l6", sequence_length=64)``."""
    return get_backbone(name).spec(**overrides)


__all__ = ["BACKBONES", "KERAS_HUB_PREFIX", "Backbone", "WeightsFile", "backbone_names",
           "backbone_spec", "get_backbone", "is_backbone"]
