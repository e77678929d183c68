"""Frozen-backbone probes on the stamps: one softmax layer on each pretrained backbone's
features, per modality and fused (``benchmarks/backbone_probes.yaml``, a recipe).

    python -m benchmarks.backbone_probes [--output build/probes]

trains the fused model and each single-modality baseline with :func:`mmzoo.recipes.run_recipe`
on mmzoo's stamps split (675 / 143 / 143), evaluates them on the test split and prints their
accuracy and macro-F1 (the figures of docs/guides/backbones.md). Needs ``$MMZOO_DATA_DIR``
and the pretrained extra; about half an hour on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import pathlib

RECIPE = pathlib.Path(__file__).with_name("backbone_probes.yaml")


def main(argv=None) -> dict:
    from mmzoo.recipes import run_recipe

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("build/probes"))
    metadata = run_recipe(str(RECIPE), parser.parse_args(argv).output)
    metrics = metadata["metrics"]
    rows = {"fused": metrics, **metrics["unimodal"]}
    for name, row in rows.items():
        print(f"{name:>6}: accuracy {row['accuracy']:.3f}, macro-F1 {row['macro_f1']:.3f}")
    print(json.dumps(metrics, indent=1))
    return metrics


if __name__ == "__main__":
    main()
