"""Rate-limited :class:`~lepton_widgets.core.base.events.Progress` events plus stop checks for data loops.

A widget redraw per file would swamp the UI, so an event goes out only every ~1% of the work or 0.2 s,
and always at the end. The stop event is checked on every step, so a cancel takes effect at once.

Example:
    >>> from lepton_widgets.core.base.events import ListSink
    >>> sink = ListSink()
    >>> from lepton_widgets.core.base.job import Job
    >>> progress = ProgressReporter(Job(sink=sink), total=1000)
    >>> for i in range(1000):
    ...     progress.step()
    >>> progress.finish()
    >>> 2 <= len(sink.events) <= 102 and sink.events[-1].done == 1000
    True
"""

from __future__ import annotations

import time
from typing import Optional

from lepton_widgets.core.base.events import Progress
from lepton_widgets.core.base.job import Job


class ProgressReporter:
    """Counts work done, emits Progress(task, done, total) to ``job`` now and then and raises Cancelled when
    the job is asked to stop (``job=None``: no events, no stop request)."""

    def __init__(self, job: Optional[Job], total: int, *, task: str = "validate",
                 min_interval_s: float = 0.2) -> None:
        self.job, self.total, self.task = job or Job(), int(total), task
        self.done = 0
        self._every = max(1, self.total // 100)
        self._min_interval_s = min_interval_s
        self._last_done, self._last_time = 0, time.monotonic()
        self.job.check_stop()
        self._emit()

    def step(self, n: int = 1) -> None:
        self.done += n
        self.job.check_stop()
        now = time.monotonic()
        if self.done - self._last_done >= self._every or now - self._last_time >= self._min_interval_s:
            self._emit(now)

    def finish(self) -> None:
        self.done = max(self.done, self.total)
        if self._last_done != self.done:
            self._emit()

    def _emit(self, now: Optional[float] = None) -> None:
        self._last_done, self._last_time = self.done, now or time.monotonic()
        self.job.emit(Progress(run_id=self.job.run_id, task=self.task, done=self.done, total=self.total))
