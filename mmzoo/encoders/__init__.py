"""Per-modality Functional encoders, and :func:`build_encoder` to pick one by name.

Every encoder is a ``keras.Model`` named ``<modality>_encoder`` whose input is
the modality's ``keras.Input`` (from its spec) and whose output is a
``(batch, embedding_dim)`` embedding; its layer names start with the modality.
A kind is a small network trained from scratch (e.g. ``"bigru"``, ``"resnet"``), a
``keras.applications`` model, or a pretrained backbone of :mod:`mmzoo.backbones`
(e.g. ``"minilm_l6"``), which a spec built by ``backbone_spec`` selects by default.
"""

from __future__ import annotations

import inspect

import keras

from mmzoo.backbones import backbone_names as pretrained_backbone_names
from mmzoo.encoders.audio import build_audio_encoder
from mmzoo.encoders.conv import CONV_KINDS, backbone_names
from mmzoo.encoders.image import build_image_encoder
from mmzoo.encoders.pretrained import build_pretrained_encoder, is_backbone, rebuild_options
from mmzoo.encoders.text import TEXT_KINDS, build_text_encoder
from mmzoo.specs import SPEC_CLASSES
from mmzoo.utils import check_options

ENCODER_BUILDERS = {
    "text": build_text_encoder,
    "image": build_image_encoder,
    "audio": build_audio_encoder,
}


def encoder_kinds(modality: str) -> list[str]:
    """The encoder kinds available for a modality, pretrained backbones last."""
    scratch = {"text": lambda: list(TEXT_KINDS), "image": lambda: [*CONV_KINDS, *backbone_names()],
               "audio": lambda: [*CONV_KINDS, *backbone_names()]}
    if modality not in scratch:
        return []
    return [*scratch[modality](), *pretrained_backbone_names(modality)]


def build_encoder(modality, spec, encoder=None, **defaults) -> keras.Model:
    """The encoder of one modality.

    Args:
        modality: ``"text"``, ``"image"``, ``"audio"`` or a registered modality (which
            takes your own ``keras.Model`` only).
        spec: that modality's spec.
        encoder: None (the spec's ``backbone`` if it has one, else the builder's default
            kind), a kind name such as ``"bigru"`` or ``"minilm_l6"``, a dict of builder
            arguments such as ``{"kind": "resnet", "width": 32}`` or
            ``{"kind": "efficientnet_lite0", "unfreeze_top": 2}``
            (:func:`~mmzoo.encoders.pretrained.build_pretrained_encoder`), or your own
            ``keras.Model`` taking the spec's input shape and returning ``(batch, features)``.
        **defaults: builder arguments applied unless ``encoder`` sets them
            (e.g. ``embedding_dim``, ``pooling``), those the builder takes.

    Example:
        >>> from mmzoo.specs import ImageSpec
        >>> build_encoder("image", ImageSpec(32, 32, 3), {"kind": "resnet", "depth": 2}).name
        'image_encoder'
    """
    if modality not in SPEC_CLASSES:
        raise ValueError(f"modality={modality!r} is unknown; use one of {list(SPEC_CLASSES)}.")
    if not isinstance(spec, SPEC_CLASSES[modality]):
        raise ValueError(f"{modality}= needs a {SPEC_CLASSES[modality].__name__}, "
                         f"got {type(spec).__name__}.")
    if isinstance(encoder, keras.Model):
        return _check_custom_encoder(modality, spec, encoder)
    if modality not in ENCODER_BUILDERS:
        raise ValueError(f"mmzoo builds no {modality} encoder: pass your own keras.Model "
                         f"(built on spec.keras_input()) as encoders[{modality!r}].")
    options = encoder_options(spec, encoder)
    builder = ENCODER_BUILDERS[modality]
    if is_backbone(options.get("kind")):
        builder = build_pretrained_encoder
    check_options(builder, options, f"encoders[{modality!r}]")
    accepted = inspect.signature(builder).parameters
    return builder(spec, **{**{k: v for k, v in defaults.items() if k in accepted}, **options})


def encoder_options(spec, encoder) -> dict:
    """``encoder`` (None, a kind name or an option dict) as an option dict; None picks the
    backbone ``spec`` serves, if any."""
    if encoder is None and getattr(spec, "backbone", None):
        encoder = spec.backbone
    return {"kind": encoder} if isinstance(encoder, str) else dict(encoder or {})


def config_options(spec, encoder):
    """``encoder`` as a model config records it: without what only made its starting
    weights (a ``keras.applications`` model's ``weights``; a pretrained backbone's weights
    become None, its frozen state explicit), since its weights travel with the model."""
    options = encoder_options(spec, encoder)
    if is_backbone(options.get("kind")):
        return rebuild_options(options)
    if isinstance(encoder, dict):
        return {k: v for k, v in encoder.items() if k != "weights"}
    return encoder


def _check_custom_encoder(modality, spec, encoder):
    if len(encoder.inputs) != 1 or tuple(encoder.inputs[0].shape[1:]) != spec.shape:
        shapes = [tuple(i.shape[1:]) for i in encoder.inputs]
        raise ValueError(
            f"encoders[{modality!r}] takes inputs of shape {shapes} but the "
            f"{type(spec).__name__} gives {spec.shape}; build the encoder on spec.keras_input()."
        )
    if len(encoder.outputs) != 1 or len(encoder.outputs[0].shape) != 2:
        raise ValueError(f"encoders[{modality!r}] must return one (batch, features) tensor, "
                         f"not {[tuple(o.shape) for o in encoder.outputs]}.")
    return encoder


__all__ = ["ENCODER_BUILDERS", "build_audio_encoder", "build_encoder", "build_image_encoder",
           "build_pretrained_encoder", "build_text_encoder", "config_options", "encoder_kinds"]
