"""The lesson notebooks are what make_lessons.py writes from their sources, in English and in Chinese, each with a
solutions twin whose exercises are answered (issue 16)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from visible_text import english_words

LESSONS = Path(__file__).resolve().parents[1] / "notebooks" / "lessons"


def _make_lessons():
    spec = importlib.util.spec_from_file_location("make_lessons", LESSONS / "make_lessons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_six_lessons_in_both_languages_each_with_solutions():
    for lang in ("en", "zh"):
        blank = sorted(p.name for p in (LESSONS / lang).glob("*.ipynb"))
        solved = sorted(p.name for p in (LESSONS / lang / "solutions").glob("*.ipynb"))
        assert len(blank) == 6 and blank == solved, (lang, blank, solved)
        assert [name[:2] for name in blank] == ["01", "02", "03", "04", "05", "06"]


def test_the_committed_notebooks_are_what_the_sources_write(tmp_path):
    written = _make_lessons().write_all(tmp_path)
    assert written
    for path in written:
        committed = LESSONS / path.relative_to(tmp_path)
        assert committed.exists(), f"{committed} missing: run python notebooks/lessons/make_lessons.py"
        assert json.loads(committed.read_text("utf-8")) == json.loads(path.read_text("utf-8")), \
            f"{committed} is stale: run python notebooks/lessons/make_lessons.py"


@pytest.mark.parametrize("path", sorted((LESSONS / "zh").glob("*.ipynb")), ids=lambda p: p.stem)
def test_the_chinese_lessons_read_in_chinese(path):
    notebook = nbformat.read(path, as_version=4)
    prose = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert prose and all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in prose)
    # Code spans and names stay as they are; the words around them are Chinese. A few English words may be
    # data (the spoken keywords "yes", "down") or a setting's own name: measured at most 4 in a lesson.
    words = [word for text in prose for word in english_words(_without_code(text))]
    assert len(words) <= 4, f"{path.name}: English left in the Chinese lesson: {words[:30]}"
    assert "LEPTON_LANG\", \"zh\"" in notebook.cells[1].source


def test_exercises_are_blank_in_the_lesson_and_answered_in_the_solutions():
    for blank_path in sorted((LESSONS / "en").glob("*.ipynb")):
        blank = nbformat.read(blank_path, as_version=4)
        solved = nbformat.read(LESSONS / "en" / "solutions" / blank_path.name, as_version=4)
        exercises = [(b, s) for b, s in zip(blank.cells, solved.cells) if b.metadata.get("lepton", {}).get("exercise")]
        assert len(exercises) >= 2, f"{blank_path.name}: at least two exercises"
        for b, s in exercises:
            assert "None" in b.source and b.source != s.source and s.metadata["lepton"]["wrong"] != s.source


def _without_code(text: str) -> str:
    import re

    return re.sub(r"```.*?```|`[^`]*`|\$[^$]*\$|\([^)]*\)\]|https?://\S+", " ", text, flags=re.S)
