"""One unit of work and what travels with it: its run id, where its events go, its stop request, its folder.

Before the Job, ``run_id``, ``sink``, ``stop_event`` and ``workdir`` were four parameters threaded through
every signature between a button and a Keras callback. A Job carries them together; a step hands it on, or
hands on :meth:`Job.child` when part of the work runs in its own folder (a search trial, a fusion member).

Example:
    >>> from lepton_widgets.core.base.events import ListSink, RunWarning
    >>> sink = ListSink()
    >>> job = Job(run_id="r1", sink=sink)
    >>> job.emit(RunWarning(run_id=job.run_id, message="tiny data"))
    >>> [e.message for e in sink.events]
    ['tiny data']
    >>> job.stopped
    False
    >>> job.stop(); job.stopped
    True
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from lepton_widgets.core.base.events import Event, EventSink, check_stop, null_sink


@dataclass
class Job:
    """A unit of work: ``run_id`` (``""`` before a run exists), ``sink`` for its events, ``stop_event`` to
    ask it to stop between batches, ``workdir`` for its scratch and checkpoint files (``None``: none)."""

    run_id: str = ""
    sink: EventSink = null_sink
    stop_event: threading.Event = field(default_factory=threading.Event)
    workdir: Optional[Path] = None

    @classmethod
    def of(cls, job: "Optional[Job]" = None, *, run_id: str = "", sink: Optional[EventSink] = None,
           stop_event: Optional[threading.Event] = None, workdir=None) -> "Job":
        """``job`` itself, or a Job made from the loose parameters older callers still pass."""
        if job is not None:
            return job
        return cls(run_id=run_id, sink=sink or null_sink, stop_event=stop_event or threading.Event(),
                   workdir=Path(workdir) if workdir is not None else None)

    def emit(self, event: Event) -> None:
        self.sink(event)

    def check_stop(self) -> None:
        """Raise :class:`~lepton_widgets.core.base.events.Cancelled` when a stop was asked for."""
        check_stop(self.stop_event)

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

    def stop(self) -> None:
        self.stop_event.set()

    def child(self, *, run_id: Optional[str] = None, workdir=None, sink: Optional[EventSink] = None) -> "Job":
        """The same stop request, with another run id, folder or sink (a trial, a member, a fold)."""
        return replace(self, run_id=self.run_id if run_id is None else run_id,
                       workdir=self.workdir if workdir is None else Path(workdir), sink=sink or self.sink)
