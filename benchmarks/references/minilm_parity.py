"""``minilm_l6`` against sentence-transformers on every stamps description, in mmzoo's environment.

After ``benchmarks/references/minilm.py`` (the torch reference, see its docstring) wrote
``/tmp/mmzoo_minilm_reference.npz``::

    python -m benchmarks.references.minilm_parity [/tmp/mmzoo_minilm_reference.npz]

tokenizes the same descriptions with mmzoo's WordPiece tokenizer (sequence length: the
reference's ``max_seq_length``), encodes them with the pretrained encoder, and prints how
many token ids differ and the max abs difference of the mean-pooled and of the
L2-normalized embeddings; and, for comparison, that of the mean-pooled embeddings with
keras-hub's default tanh-approximated GELU (why the encoder sets the exact one).
"""

from __future__ import annotations

import sys

import numpy as np
from keras_hub.src.utils.keras_utils import gelu_approximate

from mmzoo.backbones import get_backbone
from mmzoo.converters.text import WordPieceTokenizer


def parity(reference_file: str) -> dict[str, float]:
    """The figures, computed on every description of ``reference_file``."""
    reference = np.load(reference_file)
    backbone = get_backbone("minilm_l6")
    spec = backbone.spec(sequence_length=int(reference["max_seq_length"]))
    ids = WordPieceTokenizer(spec)(list(reference["texts"])).numpy()
    expected_ids = np.where(reference["ids"] >= 0, reference["ids"], 0)
    width = expected_ids.shape[1]
    encoder = backbone.encoder(spec)
    pooled = _embeddings(encoder, ids)
    normalized = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    for layer in backbone.blocks(encoder)[1:]:
        layer[0]._feedforward_intermediate_dense.activation = gelu_approximate
    tanh_gelu = _embeddings(encoder, ids)
    return {"descriptions": len(ids),
            "rows_with_other_ids": int(np.any(ids[:, :width] != expected_ids, axis=1).sum()
                                       + np.any(ids[:, width:] != 0, axis=1).sum()),
            "max_abs_pooled": float(np.abs(pooled - reference["pooled"]).max()),
            "max_abs_normalized": float(np.abs(normalized - reference["normalized"]).max()),
            "min_cosine": float(np.min(np.sum(normalized * reference["normalized"], axis=1))),
            "max_abs_pooled_tanh_gelu": float(np.abs(tanh_gelu - reference["pooled"]).max())}


def _embeddings(encoder, ids) -> np.ndarray:
    return np.concatenate([encoder(ids[i:i + 64], training=False).numpy()
                           for i in range(0, len(ids), 64)])


if __name__ == "__main__":
    for key, value in parity(sys.argv[1] if len(sys.argv) > 1
                             else "/tmp/mmzoo_minilm_reference.npz").items():
        print(f"{key}: {value:.3g}" if isinstance(value, float) else f"{key}: {value}")
