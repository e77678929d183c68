"""The registered architectures: every fusion method in a ``tiny`` and a ``small`` size.

``tiny`` models build and train in seconds (tests, examples); ``small`` models
are sized for the zoo's real datasets on a CPU. Names are ``<fusion>_<size>``.
"""

from __future__ import annotations

from mmzoo.models.registry import register_model
from mmzoo.specs import AudioSpec, ImageSpec, TextSpec

SIZES = {
    "tiny": {
        "text": TextSpec(vocabulary_size=128, sequence_length=16),
        "image": ImageSpec(height=32, width=32, channels=3),
        "audio": AudioSpec(sample_rate=8000, clip_seconds=0.5, num_mel_bins=32, fft_length=256,
                           hop_length=128),
        "encoders": {
            "text": {"kind": "bag_of_embeddings", "width": 16},
            "image": {"kind": "lenet", "width": 4, "depth": 2},
            "audio": {"kind": "lenet", "width": 4, "depth": 2},
        },
        "embedding_dim": 16,
        "num_classes": 4,
    },
    "small": {
        "text": TextSpec(vocabulary_size=20000, sequence_length=64),
        "image": ImageSpec(height=64, width=64, channels=3),
        "audio": AudioSpec(sample_rate=16000, clip_seconds=1.0, num_mel_bins=64),
        "encoders": {
            "text": {"kind": "bigru", "width": 64},
            "image": {"kind": "resnet", "width": 16, "depth": 3},
            "audio": {"kind": "resnet", "width": 16, "depth": 3},
        },
        "embedding_dim": 64,
        "head_units": (64,),
        "dropout": 0.1,
        "modality_dropout": 0.1,
        "num_classes": 10,
    },
}


def _fusion(name: str, width: int) -> dict:
    options = {
        "concat": {},
        "tensor": {},
        "weighted_sum": {"units": width},
        "gated": {"units": width},
        "attention": {"units": width},
        "transformer": {"units": width, "num_heads": 2},
        "low_rank": {"units": width, "rank": 4},
    }[name]
    return {"name": name, **options}


for _size, _base in SIZES.items():
    for _name in ("concat", "weighted_sum", "gated", "attention", "transformer", "tensor",
                  "low_rank"):
        _config = {**_base, "fusion": _fusion(_name, _base["embedding_dim"])}
        if _name == "tensor":  # the outer product grows as (dim + 1) ** modalities
            _config["embedding_dim"] = 8 if _size == "tiny" else 16
        register_model(f"{_name}_{_size}", _config)
