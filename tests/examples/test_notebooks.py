"""The example notebooks (examples/) run top to bottom, in order, at the QUICK budget: the
walk through the stages that researchers read must not rot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("[0-9][0-9]_*.ipynb"))


def test_there_are_the_spec_notebooks_and_a_prediction_one():
    names = [p.stem for p in NOTEBOOKS]
    assert names[:4] == ["01_dataset", "02_timeformer_xl", "03_tft_xl", "04_veto_and_ensemble"]
    assert "05_predict" in names


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


def test_notebooks_run_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEFORMER_EXAMPLES_BUDGET", "quick")
    monkeypatch.setenv("TRADEFORMER_EXAMPLES_RUN", str(tmp_path / "runs" / "examples"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(
            book, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
        )
        client.execute()  # raises CellExecutionError naming the cell and its traceback
    run = tmp_path / "runs" / "examples"
    assert (run / "bundle" / "manifest.json").exists()
    assert (run / "report" / "index.html").exists()
    assert os.environ["TRADEFORMER_EXAMPLES_BUDGET"] == "quick"
