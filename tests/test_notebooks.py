"""The tutorial notebooks in notebooks/ run from top to bottom (their asserts included), and
are stored without outputs, so they cannot go stale."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SECONDS_EACH = 30  # the budget per notebook in CI (they take a few seconds)


def test_there_are_the_three_tutorials():
    assert [path.name for path in NOTEBOOKS] == [
        "1_backprop_by_hand.ipynb",
        "2_seed_mistakes.ipynb",
        "3_what_the_tape_costs.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_notebook_runs(path):
    pytest.importorskip("mlxtend") if "backprop_by_hand" in path.name else None
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on failure
    seconds = time.perf_counter() - start
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    assert seconds < 2 * SECONDS_EACH, f"{path.name} took {seconds:.0f} s"
