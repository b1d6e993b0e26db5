"""The time budget is a promise: every stage gets a share of what is left, and a timer stops it when its
share runs out, so the whole of Auto ends within the budget plus a little.

A stage runs under :meth:`Budget.stage`, which gives it a :class:`~lepton_widgets.core.base.job.Job` of its own
whose stop request is set either by the caller's Stop or by the stage's timer. The engine already checks that
request between batches, trials and files, so a stage stops within about a batch of its time, and what it
finished (runs, search trials) stays usable.

Example:
    >>> parse_budget("10m"), parse_budget("90s"), parse_budget("1h30m"), parse_budget(45)
    (600.0, 90.0, 5400.0, 45.0)
    >>> budget = Budget(100.0, reserve=10.0)
    >>> round(budget.share(0.5))   # half of what is left once the export's reserve is set aside
    45
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator, Optional

from lepton_widgets.core.base.job import Job
from lepton_widgets.i18n import _

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)")


def parse_budget(value: "str | float | int") -> float:
    """Seconds in ``value``: a number of seconds, or text such as ``10m``, ``90s``, ``1h30m``, ``2.5m``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(_("budget {value}: write it like 10m, 90s or 1h30m").format(value=repr(value)))
            seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds < 30:
        raise ValueError(_("budget {value} is {seconds} s: Auto needs at least 30 seconds").format(
            value=repr(value), seconds=f"{seconds:g}"))
    return seconds


class Budget:
    """``seconds`` of wall time from now; ``reserve`` of them are kept for the last stage (the export)."""

    def __init__(self, seconds: float, *, reserve: float = 0.0, clock=time.monotonic) -> None:
        self.seconds = float(seconds)
        self.reserve = min(float(reserve), self.seconds / 2)
        self.clock = clock
        self.started = clock()

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    @property
    def left(self) -> float:
        return max(0.0, self.seconds - self.elapsed)

    def share(self, fraction: float, *, last: bool = False) -> float:
        """Seconds for a stage that may use ``fraction`` of what is left (the reserve set aside unless
        ``last``)."""
        if last:
            return self.left
        return max(0.0, (self.left - self.reserve) * fraction)

    @contextmanager
    def stage(self, job: Job, seconds: float) -> Iterator[Job]:
        """A Job for one stage: stopped by ``job``'s Stop or after ``seconds``, whichever comes first.

        On leaving, the timer is cancelled. ``timed_out()`` on the yielded job's ``stop_event`` owner tells a
        stage that its time ran out rather than the user stopping it (:func:`stopped_by_user`)."""
        stage_stop = threading.Event()
        done = threading.Event()

        def watch() -> None:
            deadline = self.clock() + max(0.0, seconds)
            while not done.is_set():
                if job.stopped or self.clock() >= deadline:
                    stage_stop.set()
                    return
                done.wait(0.1)

        watcher = threading.Thread(target=watch, name="lepton-auto-budget", daemon=True)
        watcher.start()
        try:
            yield replace(job, stop_event=stage_stop)
        finally:
            done.set()
            watcher.join(timeout=1.0)


def stopped_by_user(outer: Optional[Job]) -> bool:
    """Whether the caller asked Auto to stop (rather than a stage's time running out)."""
    return outer is not None and outer.stopped
