"""Write the lesson notebooks from their sources in ``source/`` (Python, so they stay reviewable).

For each language (English, Simplified Chinese) and each lesson it writes ``<lang>/<slug>.ipynb`` (the
exercises left blank) and ``<lang>/solutions/<slug>.ipynb`` (answered). Markdown goes through the message
catalogue, so ``zh/`` reads in Chinese; the first cell sets ``LEPTON_LANG`` so the checks answer in the same
language. ``tests/test_lessons_*.py`` run the English solutions in a small size; ``benchmarks/lessons.py``
times the full size.

Run: python notebooks/lessons/make_lessons.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "source"
sys.path.insert(0, str(SOURCE))

from lepton_widgets.i18n import LANGUAGES, N_, _, set_language  # noqa: E402

SETUP = """import os

# Before TensorFlow is imported: keep its C++ messages out of the notebook, and speak this lesson's language.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("LEPTON_LANG", "{lang}")
from lepton_widgets.teaching import Exercise, claim, lesson_size, sized  # noqa: F401
print(lesson_size())"""

SOLUTIONS_NOTE = N_("This is the solutions notebook: every exercise is answered.")


def lessons() -> list:
    """The lesson source modules, in order (``source/lesson_NN*.py``)."""
    found = []
    for path in sorted(SOURCE.glob("lesson_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found.append(module)
    return found


def notebook(lesson, lang: str, solutions: bool) -> nbformat.NotebookNode:
    """One lesson in ``lang``, blank or answered."""
    set_language(lang)
    try:
        cells = [new_markdown_cell(f"# {_(lesson.TITLE)}" + (f"\n\n*{_(SOLUTIONS_NOTE)}*" if solutions else "")),
                 new_code_cell(SETUP.format(lang=lang))]
        for cell in lesson.CELLS:
            if cell.kind == "md":
                cells.append(new_markdown_cell(_(cell.text)))
            elif cell.kind == "code":
                cells.append(new_code_cell(cell.text))
            else:
                made = new_code_cell(cell.solution if solutions else cell.text)
                made.metadata["tags"] = ["exercise"]
                made.metadata["lepton"] = {"exercise": cell.key, "wrong": cell.wrong}
                cells.append(made)
    finally:
        set_language(None)
    made = new_notebook(cells=cells, metadata={"kernelspec": {"display_name": "Python 3", "language": "python",
                                                               "name": "python3"},
                                               "language_info": {"name": "python"}})
    # Stable cell ids, so that writing again changes nothing unless a lesson did.
    for index, cell in enumerate(made.cells):
        cell["id"] = f"{lesson.SLUG[:2]}-{'s' if solutions else 'e'}-{index:02d}"
    return made


def write_all(root: Path = HERE) -> list[Path]:
    """Write every lesson in every language under ``root``; returns the paths written."""
    written = []
    for lesson in lessons():
        for lang in LANGUAGES:
            for solutions in (False, True):
                folder = root / lang / ("solutions" if solutions else "")
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{lesson.SLUG}.ipynb"
                nbformat.write(notebook(lesson, lang, solutions), path)
                written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(path.relative_to(HERE))
