"""Typed events the engine emits while it works, and the sinks that receive them.

The engine never prints or draws. It calls ``sink(event)``; the CLI turns events into tqdm bars, the
run store appends them to ``events.jsonl`` and the widget layer turns them into trait updates. A sink is
any callable taking one event.

Example:
    >>> sink = ListSink()
    >>> emit = fanout(sink, None)
    >>> emit(EpochEnded(run_id="r1", phase="head", epoch=1, epochs=3, metrics={"loss": 0.5}))
    >>> sink.kinds()
    ['epoch_ended']
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

EventSink = Callable[["Event"], None]


@dataclass
class Event:
    """Base of all events; ``kind`` names the type in JSON and ``time`` is a Unix timestamp."""

    run_id: str = ""
    time: float = field(default_factory=time.time)
    kind = "event"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kind"] = self.kind
        return data


@dataclass
class RunStarted(Event):
    config: dict = field(default_factory=dict)
    #: The tf.distribute strategy, replicas and global batch (``core/base/distribute.py``); {} outside a run.
    distribution: dict = field(default_factory=dict)
    kind = "run_started"


@dataclass
class Progress(Event):
    """Progress of a long piece of work that is not an epoch: validation, feature extraction."""

    task: str = ""
    done: int = 0
    total: int = 0
    kind = "progress"


@dataclass
class PhaseStarted(Event):
    """A training phase begins: ``head`` (backbone frozen) or ``fine_tune`` (unfrozen to the depth)."""

    phase: str = ""
    epochs: int = 0
    learning_rate: float = 0.0
    trainable_params: int = 0
    cached_features: bool = False
    kind = "phase_started"


@dataclass
class BatchProgress(Event):
    phase: str = ""
    epoch: int = 0
    step: int = 0
    steps: int = 0
    metrics: dict = field(default_factory=dict)
    kind = "batch_progress"


@dataclass
class EpochEnded(Event):
    phase: str = ""
    epoch: int = 0
    epochs: int = 0
    metrics: dict = field(default_factory=dict)
    kind = "epoch_ended"


@dataclass
class RunWarning(Event):
    """A setting that is allowed but will not learn well (``RunConfig.warnings``), said before training."""

    message: str = ""
    kind = "run_warning"


@dataclass
class RunFinished(Event):
    metrics: dict = field(default_factory=dict)
    kind = "run_finished"


@dataclass
class RunFailed(Event):
    error: str = ""
    traceback: str = ""
    kind = "run_failed"


@dataclass
class RunCancelled(Event):
    reason: str = "stopped by user"
    kind = "run_cancelled"


class Cancelled(Exception):
    """Raised inside the engine when the stop event is set; the caller records the run as cancelled."""


def check_stop(stop_event: Optional[threading.Event]) -> None:
    """Raise :class:`Cancelled` if a stop was requested. Call it between units of work."""
    if stop_event is not None and stop_event.is_set():
        raise Cancelled("stop requested")


class ListSink:
    """Collects events in memory (tests, notebooks)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of_kind(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


def fanout(*sinks: Optional[EventSink]) -> EventSink:
    """One sink that forwards to several; ``None`` entries are ignored."""
    active = [s for s in sinks if s is not None]

    def emit(event: Event) -> None:
        for sink in active:
            sink(event)

    return emit


def null_sink(event: Event) -> None:
    """A sink that drops everything."""
