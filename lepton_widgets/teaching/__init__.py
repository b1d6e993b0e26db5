"""What the lessons share: self-check exercises that say right or wrong and why, the lesson size (a small
one for the tests, the full one for the room), and the claims a lesson measures.

A lesson notebook (``notebooks/lessons/<lang>/``, written by ``notebooks/lessons/make_lessons.py``) asks a
question, the learner writes an answer in a cell, and an :class:`Exercise` checks it. Everything a learner
reads goes through the message catalogue, so ``LEPTON_LANG=zh`` (set by the Chinese lessons) speaks Chinese.

With ``LEPTON_LESSON_LOG=<file>`` every check and every :func:`claim` also appends one JSON line there: the
tests and the ``lessons`` benchmark read it to assert that the solutions pass, a wrong answer fails, and the
lesson's own claim ("pretrained beats scratch here") held on this run.

Example:
    >>> from lepton_widgets.i18n import N_
    >>> overfits = Exercise("demo_overfit", accept=lambda answer: answer == "B",
    ...                     right=N_("Run B trains longest without augmentation, so it memorises."),
    ...                     wrong=N_("Look at which run trains longest with nothing to stop it memorising."))
    >>> overfits.check("B")
    ✅ Right. Run B trains longest without augmentation, so it memorises.
    True
    >>> overfits.check("A")
    ❌ Not yet. Look at which run trains longest with nothing to stop it memorising.
    False
    >>> overfits.check(None)
    ✍️ Write your answer in the cell above (replace None), then run this cell again.
    False
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Optional

from lepton_widgets.i18n import N_, _

SIZE_ENV = "LEPTON_LESSON_SIZE"
LOG_ENV = "LEPTON_LESSON_LOG"
SIZES = ("small", "full")


def lesson_size() -> str:
    """``"small"`` (the tests: seconds of training) when ``$LEPTON_LESSON_SIZE`` says so, else ``"full"``."""
    return "small" if os.environ.get(SIZE_ENV, "").strip().lower() == "small" else "full"


def sized(full: Any, small: Any) -> Any:
    """``full`` in a real lesson, ``small`` under the tests' small size: ``epochs = sized(8, 2)``."""
    return small if lesson_size() == "small" else full


def _log(record: dict) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({**record, "time": time.time()}, default=float) + "\n")


def claim(name: str, **values: Any) -> dict:
    """Record what the lesson measured for its claim (``claim("pretrained_vs_scratch", pretrained=0.8, ...)``)."""
    record = {"kind": "claim", "name": name, **values}
    _log(record)
    return record


class Exercise:
    """One self-check: ``accept(answer)`` decides; ``right`` / ``wrong`` say why (catalogue strings, ``N_``).

    ``answer`` ``None`` (the blank the exercise notebook ships with) gets a reminder, not a verdict of wrong.
    ``accept`` may raise ``ValueError``/``TypeError`` for an answer of the wrong kind; that counts as wrong.
    """

    def __init__(self, key: str, accept: Callable[[Any], bool], right: str, wrong: str,
                 hint: Optional[str] = None) -> None:
        self.key, self.accept, self.right, self.wrong, self.hint = key, accept, right, wrong, hint

    def check(self, answer: Any) -> bool:
        if answer is None:
            print("✍️ " + _("Write your answer in the cell above (replace None), then run this cell again."))
            _log({"kind": "check", "key": self.key, "answered": False, "right": False})
            return False
        try:
            right = bool(self.accept(answer))
        except (ValueError, TypeError, KeyError):
            right = False
        if right:
            print("✅ " + _("Right.") + " " + _(self.right))
        else:
            print("❌ " + _("Not yet.") + " " + _(self.wrong) + ((" " + _(self.hint)) if self.hint else ""))
        _log({"kind": "check", "key": self.key, "answered": True, "right": right})
        return right


def read_log(path) -> list[dict]:
    """The JSON lines a lesson wrote to ``$LEPTON_LESSON_LOG`` (for the tests and the benchmark)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


__all__ = ["Exercise", "N_", "claim", "lesson_size", "read_log", "sized"]
