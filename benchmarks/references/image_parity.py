"""Parity of the ImageNet backbones with their original runtimes, on the same pixels.

Both sides get the pixels mmzoo's own preprocessing makes (``decode_image`` with the
backbone's spec) from the 11 photos of ``$MMZOO_WEIGHTS_DIR/photos`` and 200 stamps
drawings (every 4th of the sorted ``$MMZOO_DATA_DIR/stamps/**/*.png``). From the
repository root, in mmzoo's environment unless said otherwise::

    python -m benchmarks.references.image_parity inputs     # /tmp/mmzoo_image_parity/inputs.npy
    /work/refvenv/bin/python benchmarks/references/efficientnet_lite0.py logits \\
        /tmp/mmzoo_image_parity/inputs.npy /tmp/mmzoo_image_parity/efficientnet_lite0.npy \\
        --weights .../efficientnet-lite0-57934424.pth      # the torch reference's logits
    python -m benchmarks.references.image_parity efficientnet_lite0  # figures, test fixture
    python -m benchmarks.references.image_parity mobilenet_v2  # figures (tf.lite.Interpreter)

``efficientnet_lite0`` prints the max abs logit difference and the top-1 agreement, and
writes ``tests/backbones/fixtures/efficientnet_lite0_logits.npz`` (the reference logits of
the photos and of every 10th stamp of the selection). ``mobilenet_v2`` runs the TFLite file
itself on the pixels rounded to uint8 (its input type; the Keras side gets the same
rounded pixels) and prints the top-1 agreement and the softmax differences.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np

from mmzoo.backbones import get_backbone
from mmzoo.backbones.base import source_weights_dir

WORK = pathlib.Path("/tmp/mmzoo_image_parity")
FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "tests" / "backbones" / "fixtures"
STAMP_STEP, STAMP_COUNT, FIXTURE_STAMP_STEP = 4, 200, 10
MOBILENET_TFLITE = "mobilenet_v2/tf2_mobilenet_v2_1.0_224_ptq.tflite"


def parity_files(data_dir: pathlib.Path, weights_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Name (``photos/bird.png``, ``stamps/animals/...``) to path: the photos, then the stamps."""
    photos = sorted((weights_dir / "photos").iterdir())
    stamps = sorted((data_dir / "stamps").rglob("*.png"))[::STAMP_STEP][:STAMP_COUNT]
    return {**{f"photos/{p.name}": p for p in photos},
            **{f"stamps/{p.relative_to(data_dir / 'stamps')}": p for p in stamps}}


def decode_files(paths, spec) -> np.ndarray:
    """float32 pixels ``(n, *spec.shape)``: mmzoo's decoding and resizing of each file."""
    import tensorflow as tf

    from mmzoo.preprocessing.image import decode_image

    return np.stack([decode_image(tf.io.read_file(str(p)), spec).numpy() for p in paths])


def imagenet_labels(weights_dir: pathlib.Path | None = None) -> list[str]:
    """The 1001 ImageNet label names (index 0 is "background")."""
    path = (weights_dir or source_weights_dir()) / "mobilenet_v2" / "imagenet_labels.txt"
    return path.read_text().splitlines()


def tflite_mobilenet_v2(pixels: np.ndarray, weights_dir: pathlib.Path | None = None) -> np.ndarray:
    """The TFLite MobileNetV2's 1001 softmax probabilities of uint8-valued pixels ``(n, 224, 224, 3)``."""
    import tensorflow as tf

    if not np.array_equal(pixels, np.round(pixels)):
        raise ValueError("the TFLite model takes uint8 pixels: round them first")
    interpreter = tf.lite.Interpreter(str((weights_dir or source_weights_dir()) / MOBILENET_TFLITE))
    interpreter.allocate_tensors()  # batch 1: its reshape to (1, 1001) fixes the batch size
    (source,), (output,) = interpreter.get_input_details(), interpreter.get_output_details()
    probabilities = []
    for image in np.clip(pixels, 0, 255).astype(np.uint8):
        interpreter.set_tensor(source["index"], image[None])
        interpreter.invoke()
        probabilities.append(interpreter.get_tensor(output["index"])[0])
    scale, zero_point = output["quantization"]
    return (np.stack(probabilities).astype(np.float32) - zero_point) * scale


def classifier(name: str):
    """The backbone's ImageNet classifier, pretrained weights loaded."""
    backbone = get_backbone(name)
    model = backbone.build_model(backbone.spec(), include_top=True)
    backbone.load_pretrained(model, backbone.weights_file.path())
    return model


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)


def write_inputs() -> None:
    from mmzoo.datasets.manual_dir import default_manual_dir

    files = parity_files(default_manual_dir(), source_weights_dir())
    WORK.mkdir(parents=True, exist_ok=True)
    np.save(WORK / "inputs.npy", decode_files(files.values(), get_backbone("efficientnet_lite0").spec()))
    (WORK / "names.txt").write_text("\n".join(files) + "\n")
    print(f"wrote {len(files)} images to {WORK / 'inputs.npy'}")


def report(names, ours: np.ndarray, reference: np.ndarray, label_offset: int, what: str) -> None:
    """Print the agreement figures and the photos' top-1 labels."""
    labels = imagenet_labels()
    photos = np.array([n.startswith("photos/") for n in names])
    for part, mask in (("photos", photos), ("stamps", ~photos), ("all", np.ones_like(photos))):
        diff = np.abs(ours[mask] - reference[mask])
        agree = (ours[mask].argmax(-1) == reference[mask].argmax(-1)).sum()
        print(f"{part}: {what} max abs diff {diff.max():.3g}, mean {diff.mean():.3g}; "
              f"top-1 agreement {agree}/{mask.sum()}")
    for name, ours_row, ref_row in zip(np.array(names)[photos], ours[photos], reference[photos]):
        print(f"  {name}: ours {labels[ours_row.argmax() + label_offset]!r} "
              f"reference {labels[ref_row.argmax() + label_offset]!r}")


def efficientnet_lite0() -> None:
    names = (WORK / "names.txt").read_text().splitlines()
    reference = np.load(WORK / "efficientnet_lite0.npy")
    ours = classifier("efficientnet_lite0").predict(np.load(WORK / "inputs.npy"), batch_size=32,
                                                    verbose=0)
    report(names, ours, reference, 1, "logit")
    stamps = [i for i, n in enumerate(names) if n.startswith("stamps/")]
    keep = [i for i, n in enumerate(names) if n.startswith("photos/")] + stamps[::FIXTURE_STAMP_STEP]
    np.savez_compressed(FIXTURES / "efficientnet_lite0_logits.npz",
                        names=np.array([names[i] for i in keep]), logits=reference[keep])
    print(f"wrote {FIXTURES / 'efficientnet_lite0_logits.npz'} ({len(keep)} images)")


def mobilenet_v2() -> None:
    names = (WORK / "names.txt").read_text().splitlines()
    pixels = np.round(np.load(WORK / "inputs.npy"))
    reference = tflite_mobilenet_v2(pixels)
    ours = softmax(classifier("mobilenet_v2").predict(pixels, batch_size=32, verbose=0))
    report(names, ours, reference, 0, "softmax probability")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["inputs", "efficientnet_lite0", "mobilenet_v2"])
    command = parser.parse_args().command
    {"inputs": write_inputs, "efficientnet_lite0": efficientnet_lite0,
     "mobilenet_v2": mobilenet_v2}[command]()


if __name__ == "__main__":
    main()
