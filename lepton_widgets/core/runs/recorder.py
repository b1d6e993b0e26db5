"""What every stored run does around its own work: record its events, keep its epochs, store its outcome.

Training (``experiment.py``), updating (``update/incremental.py``) and fusing (``fusion/run.py``) each write a
run in their own way, but they share the plumbing: every event is appended to the run's ``events.jsonl``, epoch
events are kept for ``history.jsonl`` (so a stopped or failed run still has its curves), a Stop is stored
as a ``cancelled`` run, and an error as a ``failed`` run, with its traceback in the events, then re-raised.

Example:
    >>> import tempfile
    >>> from lepton_widgets.config import RunConfig
    >>> from lepton_widgets.core.base.events import EpochEnded, Cancelled
    >>> from lepton_widgets.core.runs.store import RunStore
    >>> recorder = RunRecorder(RunStore(tempfile.mkdtemp()).create(RunConfig(name="doc")))
    >>> def work():
    ...     recorder.emit(EpochEnded(run_id=recorder.run_id, phase="head", epoch=1, epochs=3, metrics={"loss": 1.0}))
    ...     raise Cancelled("stopped by the user")
    >>> record = recorder.run(work)
    >>> record.status, [row["epoch"] for row in record.history]
    ('cancelled', [1])
"""

from __future__ import annotations

import traceback
from typing import Callable, Optional

from lepton_widgets.core.base.events import (Cancelled, Event, EventSink, RunCancelled, RunFailed, RunStarted,
                                        fanout)
from lepton_widgets.core.base.distribute import active_facts
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.runs.store import RunRecord, RunWriter


class RunRecorder:
    """Events of one run go to ``emit``: into the run folder, into ``history`` (epochs) and on to ``sink``."""

    def __init__(self, writer: RunWriter, sink: Optional[EventSink] = None) -> None:
        self.writer = writer
        self.history: list[dict] = []
        self.emit: EventSink = fanout(writer.append_event, self._record_epoch, sink)
        self.emit(RunStarted(run_id=writer.run_id, config=writer.config.to_dict(), distribution=active_facts()))

    def job(self, outer: Optional[Job] = None) -> Job:
        """The run's own Job: its run id, its folder, events through :attr:`emit`, and ``outer``'s stop request."""
        outer = outer or Job()
        return Job(run_id=self.run_id, sink=self.emit, stop_event=outer.stop_event, workdir=self.writer.path)

    @property
    def run_id(self) -> str:
        return self.writer.run_id

    def _record_epoch(self, event: Event) -> None:
        if event.kind == "epoch_ended":
            self.history.append({"epoch": event.epoch, "phase": event.phase, **event.metrics})

    def write_history(self) -> None:
        self.writer.write_jsonl("history.jsonl", self.history)

    def run(self, work: Callable[[], RunRecord]) -> RunRecord:
        """``work()`` writes the run and returns ``writer.finalize("finished")``; a ``Cancelled`` from it
        stores the run as ``cancelled``; any other error stores it as ``failed`` and is re-raised."""
        try:
            return work()
        except Cancelled:
            self.write_history()
            self.emit(RunCancelled(run_id=self.run_id))
            return self.writer.finalize("cancelled")
        except Exception as error:
            self.write_history()
            message = f"{type(error).__name__}: {error}"
            self.emit(RunFailed(run_id=self.run_id, error=message, traceback=traceback.format_exc()))
            self.writer.finalize("failed", error=message)
            raise
