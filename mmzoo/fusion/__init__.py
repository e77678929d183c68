"""Fusion layers, modality dropout and missing-modality handling."""

from mmzoo.fusion.layers import (
    AttentionFusion,
    ConcatFusion,
    CrossModalTransformerFusion,
    FusionLayer,
    GatedFusion,
    LowRankFusion,
    TensorFusion,
    WeightedSumFusion,
    masked_softmax,
)
from mmzoo.fusion.missing import MissingModalityEmbedding, ModalityDropout, ModalityPresence
from mmzoo.fusion.registry import get_fusion, list_fusions, register_fusion

__all__ = [
    "AttentionFusion", "ConcatFusion", "CrossModalTransformerFusion", "FusionLayer",
    "GatedFusion", "LowRankFusion", "MissingModalityEmbedding", "ModalityDropout",
    "ModalityPresence", "TensorFusion", "WeightedSumFusion", "get_fusion", "list_fusions",
    "masked_softmax", "register_fusion",
]
