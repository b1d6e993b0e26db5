"""Latest-wins background work for panel redraws that take too long for the kernel's main thread.

A slider dragged across five values asks for five redraws; only the last one matters. :class:`Latest`
runs requests one at a time in short-lived daemon threads, waits ``delay`` seconds first (debounce), and
drops a request, or the result of one, as soon as a newer request has been made. This is for quick,
disposable work (a model summary, a preview); jobs that change state and can be stopped belong to the
:class:`~lepton_widgets.state.runner.Runner`, whose status the whole workbench shows.

Example:
    >>> seen = []
    >>> latest = Latest(delay=0.05)
    >>> for value in (1, 2, 3):
    ...     latest.request(lambda v=value: v * 10, seen.append)
    >>> latest.wait(5), seen
    (True, [30])
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional


class Latest:
    """Run ``compute()`` off the main thread and hand its result to ``apply`` unless superseded."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self._generation = 0
        self._pending = 0
        self._state = threading.Condition()
        self._one_at_a_time = threading.Lock()

    def request(self, compute: Callable[[], Any], apply: Callable[[Any], None],
                on_error: Optional[Callable[[Exception], None]] = None) -> None:
        with self._state:
            self._generation += 1
            self._pending += 1
            generation = self._generation
        threading.Thread(target=self._run, args=(generation, compute, apply, on_error), daemon=True,
                         name="lepton-panel-redraw").start()

    def _current(self, generation: int) -> bool:
        return generation == self._generation

    def _run(self, generation, compute, apply, on_error) -> None:
        try:
            if self.delay:
                time.sleep(self.delay)
            with self._one_at_a_time:
                if not self._current(generation):
                    return
                try:
                    result = compute()
                    if self._current(generation):
                        apply(result)
                except Exception as error:  # a redraw must never kill the kernel; the panel says what failed
                    if on_error is not None and self._current(generation):
                        on_error(error)
        finally:
            with self._state:
                self._pending -= 1
                self._state.notify_all()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until every request has finished or been dropped (tests, scripts); True when idle."""
        with self._state:
            return self._state.wait_for(lambda: self._pending == 0, timeout)
