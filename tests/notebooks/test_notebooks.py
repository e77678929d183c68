"""The notebooks: built from their ``.py`` sources, committed executed and clean, and they
run top to bottom in a fresh kernel.

Each is built by ``notebooks/execute.py`` (``make notebooks``: the script that converts the
sources and saves the notebooks with their outputs), in a kernel of this interpreter whose
working directory is ``notebooks/``.
"""

from __future__ import annotations

import copy
import importlib.util
import pathlib
import re
import sys

import jupytext
import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = ("01_quickstart.ipynb", "02_finetune_zoo_checkpoint.ipynb",
            "03_export_and_serve.ipynb", "04_custom_fusion.ipynb")


def _load_execute_script():
    spec = importlib.util.spec_from_file_location("notebooks_execute", NOTEBOOKS_DIR / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


execute_script = _load_execute_script()
NOTEBOOKS = execute_script.notebooks()
SOURCES = execute_script.sources()


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def error_outputs(notebook) -> list[str]:
    return [f"{output.ename}: {output.evalue}" for cell in code_cells(notebook)
            for output in cell.outputs if output.output_type == "error"]


def test_every_notebook_is_found():
    assert tuple(path.name for path in NOTEBOOKS) == EXPECTED
    readme = (NOTEBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in EXPECTED), "notebooks/README.md lists every notebook"
    assert [source.stem for source in SOURCES] == [path.stem for path in NOTEBOOKS], (
        "each notebook has its source notebooks/sources/<name>.py, and each source its notebook")
    nav = (NOTEBOOKS_DIR.parent / "mkdocs.yml").read_text(encoding="utf-8")
    assert all(f"notebooks/{name}" in nav for name in EXPECTED), "the docs site shows them all"


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_notebook_matches_its_source(source):
    """The committed notebook holds its source's cells, as the source says them: the two
    cannot drift. (The notebook's cells as jupytext reads its percent-format source.)"""
    committed = nbformat.read(execute_script.notebook_path(source), as_version=4)
    cells = [(cell.cell_type, cell.source) for cell in jupytext.read(source).cells]
    assert [(cell.cell_type, cell.source) for cell in committed.cells] == cells, (
        f"{source.name} changed since its notebook was built: run `make notebooks` (or "
        f"`.venv/bin/python notebooks/execute.py {source.relative_to(NOTEBOOKS_DIR.parent)}`)")
    built = execute_script.from_source(source)
    assert [cell.id for cell in committed.cells] == [cell.id for cell in built.cells]
    assert committed.metadata.kernelspec == built.metadata.kernelspec


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_committed_executed_and_clean(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells[0].cell_type == "markdown", "a notebook opens with what it shows"
    cells = code_cells(notebook)
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"code cells not executed once, in order (execution counts {counts}): run "
        f"`.venv/bin/python notebooks/execute.py notebooks/sources/{path.stem}.py`")
    empty = [i for i, cell in enumerate(cells, 1) if not cell.outputs]
    assert not empty, f"code cells {empty} have no output"
    assert not error_outputs(notebook)
    stderr = [output.text for cell in cells for output in cell.outputs
              if output.output_type == "stream" and output.name == "stderr"]
    assert not stderr, f"warnings or logs in the saved outputs: {stderr}"
    assert not [cell for cell in notebook.cells if cell.metadata.get("execution")], (
        "per-cell timestamps saved: build it with `make notebooks`")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(path):
    committed = nbformat.read(path, as_version=4)
    notebook = copy.deepcopy(committed)
    # One more cell, to check the kernel is this interpreter (the virtualenv's Python).
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    try:
        execute_script.execute(notebook)
    except CellExecutionError as error:
        traceback = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # without the terminal colours
        pytest.fail(f"{path.name}: a cell raised\n{traceback}", pytrace=False)
    assert not error_outputs(notebook)
    *cells, probe = code_cells(notebook)
    assert probe.outputs[0].text.strip() == sys.executable
    empty = [i for i, cell in enumerate(cells, 1) if not cell.outputs]
    assert not empty, f"code cells {empty} printed nothing when run"
    # The same kinds of output as the committed notebook, cell by cell: its outputs are current.
    kinds = [[(output.output_type, output.get("name")) for output in cell.outputs]
             for cell in cells]
    committed_kinds = [[(output.output_type, output.get("name")) for output in cell.outputs]
                       for cell in code_cells(committed)]
    assert kinds == committed_kinds
