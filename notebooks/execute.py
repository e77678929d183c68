"""Execute the notebooks top to bottom and save them with their outputs (they are committed so).

Usage, from the repository root::

    .venv/bin/python notebooks/execute.py                       # every notebook, in place
    .venv/bin/python notebooks/execute.py notebooks/01_quickstart.ipynb

Each notebook runs in a fresh kernel of this interpreter, with ``notebooks/`` as its
working directory. TensorFlow's C++ start-up lines (``I0000 ... cuda_platform.cc ...``,
printed before any Python setting can silence them) are removed from the saved outputs,
and no per-cell timestamps are recorded, so re-running a notebook changes its file only
where its results change. The tests (``tests/notebooks``) use :func:`execute` too.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import sys
import tempfile
import time

import nbclient
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parent
#: A line TensorFlow's C++ logging writes to stderr: ``I0000 00:00:17.51 1234 file.cc:31] ...``.
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] |"
                         r"^WARNING: All log messages before absl::InitializeLog\(\)")


def notebooks() -> list[pathlib.Path]:
    """The notebooks of this folder, in their numbered order."""
    return sorted(NOTEBOOKS_DIR.glob("[0-9]*.ipynb"))


def kernel_manager(folder) -> KernelManager:
    """A manager for a kernel of *this* interpreter (``sys.executable``), on Unix sockets.

    The native ``python3`` kernel spec of ipykernel is used rather than any
    ``kernel.json`` installed under that name, which may run another Python. Unix
    sockets and the connection file in ``folder`` (``transport="ipc"``) instead of TCP
    ports: kernels started at the same moment (``pytest -n 2``) cannot pick the same
    free port.
    """
    folder = pathlib.Path(folder)
    return KernelManager(kernel_name="python3", transport="ipc", ip=str(folder / "kernel"),
                         connection_file=str(folder / "kernel.json"),
                         kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))


def execute(notebook: nbformat.NotebookNode, timeout: int = 600) -> nbformat.NotebookNode:
    """Run every cell of ``notebook`` (changed in place, and returned) in a fresh kernel.

    The kernel's working directory is ``notebooks/``; its sockets and IPython's
    profile folder are in a temporary folder of its own. A cell that raises stops the
    run with ``nbclient.exceptions.CellExecutionError``, whose message holds the cell's
    source and traceback.
    """
    # Unix socket paths are limited to ~100 characters: a short folder under the system tmp.
    with tempfile.TemporaryDirectory(prefix="nbk-") as folder:
        client = nbclient.NotebookClient(
            notebook, timeout=timeout, km=kernel_manager(folder), record_timing=False,
            resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
        # cleanup_kc: shut the kernel down at the end (nbclient does so by default only for
        # kernel managers it makes itself).
        client.execute(cleanup_kc=True,
                       env={**os.environ, "IPYTHONDIR": str(pathlib.Path(folder) / "ipython")})
    return clean_outputs(notebook)


def clean_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove TensorFlow's C++ log lines from the stderr outputs (and outputs left empty),
    and join consecutive pieces of one stream, as Jupyter shows them."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            if output.output_type == "stream":
                if output.name == "stderr":
                    lines = output.text.splitlines(keepends=True)
                    output.text = "".join(line for line in lines if not TF_LOG_LINE.match(line))
                if not output.text:
                    continue
                previous = outputs[-1] if outputs else None
                if (previous is not None and previous.output_type == "stream"
                        and previous.name == output.name):
                    previous.text += output.text
                    continue
            outputs.append(output)
        cell.outputs = outputs
    return notebook


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python notebooks/execute.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=pathlib.Path,
                        help="notebooks to execute in place (default: all of notebooks/)")
    for path in parser.parse_args(argv).paths or notebooks():
        started = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        execute(notebook)
        nbformat.write(notebook, path)
        print(f"{path}: executed in {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
