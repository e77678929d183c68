"""Named architectures, timm-style: ``list_models``, ``create_model``, ``register_model``.

An architecture is a name and the :func:`~mmzoo.models.build_classifier`
arguments that define it. ``create_model(name, **overrides)`` changes any of
them, and ``modalities=`` keeps a subset of the modalities.

Example:
    >>> list_models("*_tiny")[:3]
    ['attention_tiny', 'concat_tiny', 'gated_tiny']
    >>> model = create_model("gated_tiny", modalities=("image", "audio"), num_classes=10)
"""

from __future__ import annotations

import copy
import fnmatch

import keras

from mmzoo.models.classifier import build_classifier
from mmzoo.specs import MODALITIES

_ARCHITECTURES: dict[str, dict] = {}


def register_model(name: str, config: dict) -> None:
    """Register an architecture: ``config`` holds :func:`build_classifier` arguments."""
    if name in _ARCHITECTURES:
        raise ValueError(f"an architecture named {name!r} is already registered.")
    _ARCHITECTURES[name] = copy.deepcopy(config)


def list_models(pattern: str = "*") -> list[str]:
    """Registered architecture names matching a shell-style ``pattern``, sorted."""
    return sorted(fnmatch.filter(_ARCHITECTURES, pattern))


def model_config(name: str) -> dict:
    """A copy of the :func:`build_classifier` arguments an architecture is built from."""
    if name not in _ARCHITECTURES:
        raise ValueError(f"model {name!r} is not registered; see mmzoo.list_models() for the "
                         f"{len(_ARCHITECTURES)} known names, e.g. {list_models()[:4]}.")
    return copy.deepcopy(_ARCHITECTURES[name])


def create_model(model_name: str, modalities=None, **overrides) -> keras.Model:
    """Build a registered architecture, with any :func:`build_classifier` argument overridden.

    Args:
        model_name: a name from :func:`list_models`.
        modalities: keep only these modalities, e.g. ``("image", "audio")``.
        **overrides: e.g. ``num_classes=10``, ``image=ImageSpec(28, 28, 1)``,
            ``encoders={"text": "bigru"}`` (merged per modality), ``fusion="gated"``.

    Example:
        >>> create_model("concat_tiny", num_classes=3).output.shape
        (None, 3)
    """
    config = model_config(model_name)
    encoders = {**config.get("encoders", {}), **overrides.pop("encoders", {})}
    config.update(overrides)
    if modalities is not None:
        unknown = set(modalities) - set(MODALITIES)
        if unknown or not modalities:
            raise ValueError(f"modalities={modalities!r} must be a non-empty subset of "
                             f"{list(MODALITIES)}.")
        for modality in set(MODALITIES) - set(modalities):
            config[modality] = None
    config["encoders"] = {m: e for m, e in encoders.items() if config.get(m) is not None}
    config.setdefault("name", model_name)
    return build_classifier(**config)
