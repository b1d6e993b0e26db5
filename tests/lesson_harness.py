"""Run a lesson's solutions notebook the way a learner would, in the small size, with a wrong answer tried
before every exercise's solution; return what its checks and claims recorded (lepton_widgets.teaching)."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from lepton_widgets.teaching import read_log

LESSONS = Path(__file__).resolve().parents[1] / "notebooks" / "lessons"


@dataclass
class LessonRun:
    notebook: nbformat.NotebookNode
    records: list[dict]
    checks: dict[str, list[bool]] = field(default_factory=dict)   # exercise key -> verdicts in order
    claims: dict[str, dict] = field(default_factory=dict)         # claim name -> its last record

    def text(self) -> str:
        """Everything the notebook printed or displayed as text."""
        return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                         for c in self.notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))


def with_wrong_answers(notebook: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """A copy where each exercise cell is preceded by the same cell holding its wrong answer."""
    cells, keys = [], []
    for cell in notebook.cells:
        lepton = cell.get("metadata", {}).get("lepton", {})
        if lepton.get("exercise"):
            wrong = copy.deepcopy(cell)
            wrong.source = lepton["wrong"]
            wrong["id"] = cell["id"] + "-wrong"
            cells.append(wrong)
            keys.append(lepton["exercise"])
        cells.append(cell)
    made = copy.deepcopy(notebook)
    made.cells = cells
    return made, keys


def run_lesson(slug: str, tmp_path: Path, monkeypatch, lang: str = "en", timeout: int = 600) -> LessonRun:
    """Execute ``<lang>/solutions/<slug>.ipynb`` in a real kernel (small size); errors fail the test."""
    log = tmp_path / "lesson.jsonl"
    monkeypatch.setenv("LEPTON_LESSON_SIZE", "small")
    monkeypatch.setenv("LEPTON_LESSON_LOG", str(log))
    monkeypatch.setenv("LEPTON_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("LEPTON_LANG", raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    notebook = nbformat.read(LESSONS / lang / "solutions" / f"{slug}.ipynb", as_version=4)
    notebook, keys = with_wrong_answers(notebook)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0].get("traceback", "")[-3:] if errors else ""
    records = read_log(log)
    run = LessonRun(notebook, records)
    for record in records:
        if record["kind"] == "check":
            run.checks.setdefault(record["key"], []).append(record["right"])
        elif record["kind"] == "claim":
            run.claims[record["name"]] = record
    missing = [key for key in keys if key not in run.checks]
    assert not missing, f"exercise cells whose check never ran: {missing}"
    return run


def assert_checks_discriminate(run: LessonRun) -> None:
    """Every exercise said wrong to its wrong answer, then right to the solution."""
    bad = {key: verdicts for key, verdicts in run.checks.items() if verdicts != [False, True]}
    assert not bad, f"checks that did not reject the wrong answer and accept the solution: {bad}"
