"""Build the notebooks from their sources: convert each ``sources/NN_name.py`` to
``NN_name.ipynb``, execute it top to bottom and save it with its outputs (committed so).

The ``.py`` source is the truth (the keras-io tutobooks habit): it is what is reviewed and
linted (``make lint``), in jupytext's percent format (``# %%`` starts a code cell,
``# %% [markdown]`` a markdown cell of ``#`` comment lines). After editing a source::

    make notebooks                                              # every notebook
    .venv/bin/python notebooks/execute.py notebooks/sources/01_quickstart.py

Each notebook runs in a fresh kernel of this interpreter, with ``notebooks/`` as its
working directory. TensorFlow's C++ start-up lines (``I0000 ... cuda_platform.cc ...``,
printed before any Python setting can silence them) are removed from the saved outputs,
and cell ids are numbered and no per-cell timestamps are recorded, so rebuilding a
notebook changes its file only where its results change. The tests (``tests/notebooks``)
use :func:`from_source` and :func:`execute` too.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import sys
import tempfile
import time

import jupytext
import nbclient
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parent
#: A line TensorFlow's C++ logging writes to stderr: ``I0000 00:00:17.51 1234 file.cc:31] ...``.
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] |"
                         r"^WARNING: All log messages before absl::InitializeLog\(\)")


SOURCES_DIR = NOTEBOOKS_DIR / "sources"
#: The kernel every notebook is built with, recorded in its metadata for Jupyter.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def notebooks() -> list[pathlib.Path]:
    """The built notebooks of this folder, in their numbered order."""
    return sorted(NOTEBOOKS_DIR.glob("[0-9]*.ipynb"))


def sources() -> list[pathlib.Path]:
    """The notebooks' sources, in their numbered order."""
    return sorted(SOURCES_DIR.glob("[0-9]*.py"))


def notebook_path(source: pathlib.Path) -> pathlib.Path:
    """Where the notebook built from ``source`` is saved."""
    return NOTEBOOKS_DIR / f"{source.stem}.ipynb"


def from_source(source: pathlib.Path) -> nbformat.NotebookNode:
    """The notebook of ``source``, not executed: its cells, numbered ids, the kernel."""
    notebook = jupytext.read(source, fmt="py:percent")
    notebook.metadata = {"kernelspec": dict(KERNELSPEC)}
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"
    return notebook


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
                        help="sources to build (default: all of notebooks/sources/)")
    for source in parser.parse_args(argv).paths or sources():
        started = time.perf_counter()
        path = notebook_path(source)
        nbformat.write(execute(from_source(source)), path)
        print(f"{path}: built from {source} in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)


if __name__ == "__main__":
    main()
