"""The seed notebook retold on Dask runs top to bottom in a real kernel."""

from __future__ import annotations

import re
from pathlib import Path

import gmpy2
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "seed-on-dask.ipynb"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_committed_notebook_has_no_stale_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in code_cells(notebook):
        assert cell.outputs == [], cell.source[:60]
        assert cell.execution_count is None, cell.source[:60]


def text_of(cell) -> str:
    return "".join(
        output.get("text", "") or output.get("data", {}).get("text/plain", "")
        for output in cell.outputs
    )


@pytest.fixture
def executed(tmp_path, monkeypatch):
    """The notebook after a run in a fresh kernel, in an empty folder."""
    for name in ("DASK_SCHEDULER_ADDRESS", "DASK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DASK_CONFIG", str(tmp_path / "no-dask-config"))
    monkeypatch.setenv("DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS", "127.0.0.1:0")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=240,  # per cell
        startup_timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    ARTIFACTS.mkdir(exist_ok=True)
    nbformat.write(notebook, ARTIFACTS / NOTEBOOK.name)
    return notebook


def test_the_notebook_runs_top_to_bottom(executed):
    cells = code_cells(executed)
    assert all(cell.execution_count for cell in cells)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    text = "\n".join(text_of(cell) for cell in cells)
    assert "dashboard: http://127.0.0.1:" in text
    for line in [
        *(f"Square of {i} is {i**2}" for i in range(6)),
        *(f"Cube of {i} is {i**3}" for i in range(6)),
        "Square of 101 is 10201",
        f"Factorial of 5310 is {str(gmpy2.fac(5310))[:40]}... (17477 digits)",
        "exact: equal to gmpy2.fac for every n",
    ]:
        assert line in text
    table = text[text.index("part ") :].splitlines()
    assert [row.split()[0] for row in table[1:4]] == [
        "Process",
        "ProcessPoolExecutor.map",
        "Pool.map",
    ]
    images = [o for c in cells for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1


def test_the_notebook_cites_only_what_the_repository_holds():
    text = NOTEBOOK.read_text()
    assert "../" not in text
    for cited in re.findall(r"`((?:[\w.-]+/)+[\w.-]+\.\w+)`", text):
        assert (NOTEBOOK.parent.parent / cited).exists() or (
            NOTEBOOK.parent / cited
        ).exists(), cited
