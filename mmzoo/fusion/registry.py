"""Fusion methods by name, and registration of your own.

Example:
    >>> get_fusion("attention", units=32)
    <AttentionFusion name=fusion, built=False>
    >>> @register_fusion("mean")
    ... class MeanFusion(FusionLayer):
    ...     def call(self, inputs, presence=None):
    ...         return keras.ops.mean(keras.ops.stack(inputs, 1), 1)
"""

from __future__ import annotations

import keras

from mmzoo.fusion.layers import (
    AttentionFusion,
    ConcatFusion,
    CrossModalTransformerFusion,
    GatedFusion,
    LowRankFusion,
    TensorFusion,
    WeightedSumFusion,
)
from mmzoo.utils import check_options

_FUSIONS: dict[str, type[keras.layers.Layer]] = {
    "concat": ConcatFusion,
    "weighted_sum": WeightedSumFusion,
    "gated": GatedFusion,
    "attention": AttentionFusion,
    "transformer": CrossModalTransformerFusion,
    "tensor": TensorFusion,
    "low_rank": LowRankFusion,
}


def list_fusions() -> list[str]:
    """The registered fusion names, sorted."""
    return sorted(_FUSIONS)


def register_fusion(name: str, *, overwrite: bool = False):
    """Class decorator: make a fusion layer available by ``name`` (and serializable).

    The layer is called as ``layer(embeddings, presence=presence)``; see
    :mod:`mmzoo.fusion.layers` for the contract. Registering your own class again
    under its name (re-running a notebook cell) is fine; replacing one of mmzoo's
    fusions needs ``overwrite=True``.
    """

    def decorator(cls):
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            raise TypeError(f"register_fusion({name!r}) decorates a keras.layers.Layer subclass, "
                            f"not {cls!r}.")
        existing = _FUSIONS.get(name)
        if existing is not None and existing.__module__.startswith("mmzoo.") and not overwrite:
            raise ValueError(f"register_fusion({name!r}): {name!r} is mmzoo's "
                             f"{existing.__name__}; pick another name, or pass overwrite=True "
                             "to replace it.")
        _FUSIONS[name] = cls
        return keras.saving.register_keras_serializable(package="mmzoo_user")(cls)

    return decorator


def get_fusion(fusion, *, expose_weights=False, **options) -> keras.layers.Layer:
    """A fusion layer from a name (with constructor options), a config dict or a layer.

    ``fusion`` may be ``"attention"``, ``{"name": "attention", "units": 32}`` or a
    ready ``keras.layers.Layer``, returned as is. ``expose_weights=True`` builds
    fusions that weigh modalities with ``return_weights=True``.
    """
    if isinstance(fusion, keras.layers.Layer):
        return fusion
    if isinstance(fusion, dict):
        options = {**{k: v for k, v in fusion.items() if k != "name"}, **options}
        fusion = fusion.get("name")
    if fusion not in _FUSIONS:
        raise ValueError(
            f"fusion={fusion!r} is unknown; choose one of {list_fusions()}, "
            "pass a keras.layers.Layer, or register one with mmzoo.fusion.register_fusion."
        )
    options.setdefault("name", "fusion")
    if expose_weights and getattr(_FUSIONS[fusion], "computes_modality_weights", False):
        options["return_weights"] = True
    cls = _FUSIONS[fusion]
    check_options(cls, options, f"fusion={fusion!r}")
    return cls(**options)
