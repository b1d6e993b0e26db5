"""The notebooks run top to bottom in a real kernel (nbclient), in their small smoke setting."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.slow
def test_quickstart_notebook_runs_and_trains(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_SMOKE", "1")
    monkeypatch.setenv("LEPTON_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = nbformat.read(NOTEBOOKS / "01_quickstart.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                        for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", []))
    assert "finished" in outputs
    assert "accuracy" in outputs
    assert not any(o.get("output_type") == "error" for c in notebook.cells for o in c.get("outputs", []))
    assert len(list((tmp_path / "runs").iterdir())) == 1
