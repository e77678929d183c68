"""Frozen YAMNet embeddings of the stamps French narrations: a logistic-regression probe.

    PYTHONPATH=. .venv/bin/python -m benchmarks.references.yamnet_probe [--clip-seconds 5]

Embeds every stamp's narration (``*_desc_fr.ogg``; silence where it is missing) with the
pretrained ``yamnet`` encoder, fits scikit-learn's logistic regression on standardized
embeddings of mmzoo's stamps train split and prints validation and test accuracy and
macro-F1 for two poolings of the patch embeddings: the encoder's own (the mean over the
patches that hold audio) and the plain mean over every patch, silence padding included.
"""

from __future__ import annotations

import argparse

import numpy as np


def main(argv=None) -> None:
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import StandardScaler

    from benchmarks.references.yamnet_parity import data_dir
    from mmzoo.backbones.yamnet import BACKBONE
    from mmzoo.datasets.stamps import find_stamps, stamp_files, stratified_split
    from mmzoo.preprocessing.audio import read_audio_files

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip-seconds", type=float, default=5.0)
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularization")
    args = parser.parse_args(argv)
    stamps = data_dir() / "stamps"
    ids = find_stamps(stamps)
    narrations = [stamp_files(stamps, stamp_id)["narration"] for stamp_id in ids]
    spec = BACKBONE.spec(clip_seconds=args.clip_seconds)
    clips, _ = read_audio_files([str(p) if p.exists() else "" for p in narrations], spec)
    encoder = BACKBONE.encoder(spec)
    both = keras.Model(encoder.input, [encoder.output,
                                       encoder.get_layer("patch_embeddings").output])
    audible, patches = both.predict(clips, batch_size=64, verbose=0)
    row = {stamp_id: k for k, stamp_id in enumerate(ids)}
    splits = {name: [row[i] for i in members] for name, members in stratified_split(ids).items()}
    labels = np.array([stamp_id.split("/", 1)[0] for stamp_id in ids])
    print(f"clip_seconds={args.clip_seconds}, C={args.C}, train {len(splits['train'])}, "
          f"test {len(splits['test'])}")
    for pooling, features in (("audible patches (the encoder)", audible),
                              ("all patches", patches.mean(axis=1))):
        scaler = StandardScaler().fit(features[splits["train"]])
        probe = LogisticRegression(C=args.C, max_iter=3000).fit(
            scaler.transform(features[splits["train"]]), labels[splits["train"]])
        scores = []
        for split in ("validation", "test"):
            predicted = probe.predict(scaler.transform(features[splits[split]]))
            scores += [accuracy_score(labels[splits[split]], predicted),
                       f1_score(labels[splits[split]], predicted, average="macro")]
        print(f"| {pooling} | val acc {scores[0]:.3f} | val F1 {scores[1]:.3f} | "
              f"test acc {scores[2]:.3f} | test F1 {scores[3]:.3f} |")


if __name__ == "__main__":
    main()
