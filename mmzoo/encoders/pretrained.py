"""Pretrained encoders: a backbone of :mod:`mmzoo.backbones`, then the output projection."""

from __future__ import annotations

import keras

from mmzoo.backbones import get_backbone, is_backbone
from mmzoo.backbones.base import resolved_trainable
from mmzoo.encoders.common import project


def build_pretrained_encoder(spec, kind, weights="pretrained", trainable=None, unfreeze_top=None,
                             embedding_dim=64, dropout=0.0, name=None):
    """A pretrained backbone's features, projected to ``embedding_dim``.

    The backbone pools its own way (MiniLM: the mean over real tokens, as
    sentence-transformers does; the CNNs: the global average). ``spec`` must be the one
    the backbone serves: :func:`mmzoo.backbones.backbone_spec` builds it.

    Args:
        spec: the backbone's spec, e.g. ``backbone_spec("minilm_l6", sequence_length=64)``.
        kind: the backbone name (:func:`mmzoo.backbones.backbone_names`) or
            ``"keras_hub:<preset>"`` for a KerasHub text backbone.
        weights: ``"pretrained"``, None (random) or a ``.weights.h5`` file of the backbone.
        trainable: None: frozen with pretrained weights, trainable with random ones.
        unfreeze_top: train the last N blocks only (batch norm stays frozen).
        embedding_dim: size of the output embedding; None keeps the backbone's features.
        dropout: dropout before the output projection.
        name: the model's name (default ``<modality>_encoder``).

    Example:
        >>> spec = backbone_spec("mobilenet_v2")
        >>> build_pretrained_encoder(spec, "mobilenet_v2", weights=None).output.shape
        (None, 64)
    """
    backbone = get_backbone(kind)
    if backbone.modality != spec.modality:
        raise ValueError(f"the {kind} backbone encodes {backbone.modality}, not {spec.modality}; "
                         f"use it for encoders[{backbone.modality!r}].")
    inputs = spec.keras_input()
    features = backbone.encoder(spec, weights, trainable, unfreeze_top)(inputs)
    outputs = project(features, embedding_dim, dropout, spec.modality)
    return keras.Model(inputs, outputs, name=name or f"{spec.modality}_encoder")


def rebuild_options(options: dict) -> dict:
    """A pretrained encoder's options as a model config records them: what rebuilds the
    same graph, not what made its starting weights (those travel with the model).

    Example:
        >>> rebuild_options({"kind": "yamnet"})
        {'kind': 'yamnet', 'weights': None, 'trainable': False}
    """
    trainable = resolved_trainable(options.get("weights", "pretrained"), options.get("trainable"))
    return {**options, "weights": None, "trainable": trainable}


__all__ = ["build_pretrained_encoder", "is_backbone", "rebuild_options"]
