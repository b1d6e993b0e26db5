"""The three kinds of cell a lesson is written in (see make_lessons.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Cell:
    kind: str                      # "md", "code" or "exercise"
    text: str                      # markdown (a catalogue string, translated when written) or code
    key: Optional[str] = None      # an exercise's key (the Exercise's key in the code)
    solution: Optional[str] = None  # an exercise's code in the solutions notebook
    wrong: Optional[str] = None     # a wrong answer: the tests run it first and expect the check to say so


def md(text: str) -> Cell:
    """Markdown shown to the learner; pass an ``N_("...")`` string so it is translated per language."""
    return Cell("md", text)


def code(source: str) -> Cell:
    """Code the learner runs as it is."""
    return Cell("code", source.strip("\n"))


def exercise(key: str, blank: str, solution: str, wrong: str) -> Cell:
    """An answer cell: ``blank`` in the lesson (``answer = None``...), ``solution`` in the solutions notebook,
    ``wrong`` a plausible wrong answer the tests feed the check. Its last line must call the exercise's check."""
    return Cell("exercise", blank.strip("\n"), key=key, solution=solution.strip("\n"), wrong=wrong.strip("\n"))
