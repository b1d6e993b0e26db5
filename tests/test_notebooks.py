"""The notebooks run top to bottom in a real kernel (nbclient), in their small smoke setting."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from tf_noise import GENUINE, INJECT, leaked

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.slow
def test_quickstart_notebook_runs_and_trains(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_SMOKE", "1")
    monkeypatch.setenv("LEPTON_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # the notebook must quieten TensorFlow itself
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)  # else ipykernel hides file-descriptor output
    notebook = nbformat.read(NOTEBOOKS / "01_quickstart.ipynb", as_version=4)
    # Make TensorFlow's import print the start-up lines an AVX-512 machine prints, on any CPU (tests/tf_noise.py).
    notebook.cells.insert(0, nbformat.v4.new_code_cell(INJECT))
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                        for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", []))
    assert "finished" in outputs
    assert "accuracy" in outputs
    assert not any(o.get("output_type") == "error" for c in notebook.cells for o in c.get("outputs", []))
    assert len(list((tmp_path / "runs").iterdir())) == 1
    stderr = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.get("name") == "stderr")
    assert leaked(stderr) == [] and GENUINE in stderr, stderr[:3000]
