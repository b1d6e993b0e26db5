"""Events of a hyper-parameter search, and one line of text for each (terminal, status line, logs).

They travel through the same event sinks as a training run's events (``core.base.events``); ``run_id`` holds the
search id. Trials are numbered ``number`` of ``total`` (KerasTuner's trial id + 1, so a resumed search keeps
its numbers; ``total`` is ``max_trials``, or Hyperband's planned trial count).

Example:
    >>> event = TrialEnded(run_id="s", trial_id="1", number=2, total=5, hyperparameters={"dropout": 0.25},
    ...                    status="COMPLETED", score=0.91, objective="val_accuracy", best_score=0.93,
    ...                    best_number=1, elapsed=12.0, eta=36.0)
    >>> describe(event)
    'trial 2/5 completed in 12s: val_accuracy 0.9100 (best 0.9300, trial 1); about 36s left'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from lepton_widgets.core.base.events import Event
from lepton_widgets.i18n import N_, _


@dataclass
class SearchStarted(Event):
    """A search begins or resumes; ``message`` says which, in words (and what changed, for a new one)."""

    search_id: str = ""
    directory: str = ""
    algorithm: str = ""
    role: str = "local"            # local, chief or worker
    resumed: bool = False
    completed: int = 0             # trials already finished when this process started
    total: int = 0
    searched: list = field(default_factory=list)
    message: str = ""
    repairs: list = field(default_factory=list)  # what a resume rolled back after an interruption, in words
    kind = "search_started"


@dataclass
class TrialStarted(Event):
    trial_id: str = ""
    number: int = 0
    total: int = 0
    hyperparameters: dict = field(default_factory=dict)
    epochs: int = 0
    path: str = ""                 # "cached features" (head on cached features) or "images"
    kind = "trial_started"


@dataclass
class TrialEpoch(Event):
    trial_id: str = ""
    number: int = 0
    total: int = 0
    epoch: int = 0
    epochs: int = 0
    metrics: dict = field(default_factory=dict)
    kind = "trial_epoch"


@dataclass
class TrialEnded(Event):
    """A trial finished: ``status`` is KerasTuner's (COMPLETED, FAILED, INVALID); ``eta`` in seconds or None."""

    trial_id: str = ""
    number: int = 0
    total: int = 0
    hyperparameters: dict = field(default_factory=dict)
    status: str = ""
    score: Optional[float] = None
    objective: str = ""
    metrics: dict = field(default_factory=dict)
    best_score: Optional[float] = None
    best_number: Optional[int] = None
    elapsed: float = 0.0
    search_elapsed: float = 0.0
    eta: Optional[float] = None
    message: str = ""
    kind = "trial_ended"


@dataclass
class SearchFinished(Event):
    """The search ended: ``status`` is ``finished`` (budget spent), ``cancelled`` (stopped; resumable) or
    ``failed`` (an error ended it; the error itself is raised to the caller)."""

    search_id: str = ""
    directory: str = ""
    status: str = "finished"
    role: str = "local"
    completed: int = 0             # trials done in the search (for a worker: trials this worker ran)
    total: int = 0
    best_trial_id: Optional[str] = None
    best_number: Optional[int] = None
    best_score: Optional[float] = None
    best_hyperparameters: dict = field(default_factory=dict)
    objective: str = ""
    elapsed: float = 0.0
    kind = "search_finished"


def _seconds(value: Optional[float]) -> str:
    if value is None:
        return "?"
    value = int(round(value))
    if value >= 60:
        return _("{minutes}m{seconds}s").format(minutes=value // 60, seconds=f"{value % 60:02d}")
    return _("{seconds}s").format(seconds=value)


def _values(values: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


#: Trial and search statuses in words (KerasTuner's, lower-cased, and the search's own); others are shown as they are.
STATUS_WORDS = {"completed": N_("completed"), "failed": N_("failed"), "invalid": N_("invalid"),
                "running": N_("running"), "stopped": N_("stopped"), "finished": N_("finished"),
                "cancelled": N_("cancelled")}

#: The trial paths the tasks' searches name (``cached features``, ``images``...) in words; others as they are.
PATH_WORDS = {"cached features": N_("cached features"), "images": N_("images"), "texts": N_("texts"),
              "encoded columns": N_("encoded columns"), "rows": N_("rows")}


def _status(status: str) -> str:
    word = STATUS_WORDS.get(status.lower())
    return _(word) if word else status.lower()


def describe(event: Event) -> str:
    """One line of text for a search event ('' for events this module does not define)."""
    kind = event.kind
    if kind == "search_started":
        return event.message
    if kind == "trial_started":
        shown = _values(event.hyperparameters) or _("default values")
        return _("trial {number}/{total} started on {path}: {values}").format(
            number=event.number, total=event.total, path=_(PATH_WORDS[event.path]) if event.path in PATH_WORDS
            else event.path, values=shown)
    if kind == "trial_epoch":
        shown = ", ".join(f"{k} {v:.4f}" for k, v in event.metrics.items() if isinstance(v, float))
        return _("trial {number}/{total} epoch {epoch}/{epochs}: {metrics}").format(
            number=event.number, total=event.total, epoch=event.epoch, epochs=event.epochs, metrics=shown)
    if kind == "trial_ended":
        if event.score is None:
            why = event.message.strip().splitlines()[-1] if event.message.strip() else _("no score")
            return _("trial {number}/{total} {status}: {why}").format(
                number=event.number, total=event.total, status=_status(event.status), why=why)
        best = (_(" (best {score}, trial {number})").format(score=f"{event.best_score:.4f}", number=event.best_number)
                if event.best_score is not None else "")
        eta = _("; about {time} left").format(time=_seconds(event.eta)) if event.eta is not None else ""
        return _("trial {number}/{total} {status} in {time}: {objective} {score}{best}{eta}").format(
            number=event.number, total=event.total, status=_status(event.status), time=_seconds(event.elapsed),
            objective=event.objective, score=f"{event.score:.4f}", best=best, eta=eta)
    if kind == "search_finished":
        if event.role == "worker":
            return _("worker {status}: ran {completed} trials of search {search}").format(
                status=_status(event.status), completed=event.completed, search=event.search_id)
        head = _("search {status}: {completed}/{total} trials in {time}").format(
            status=_status(event.status), completed=event.completed, total=event.total,
            time=_seconds(event.elapsed))
        if event.best_score is None:
            return head
        return _("{head}; best trial {number}: {objective} {score} ({values})").format(
            head=head, number=event.best_number, objective=event.objective, score=f"{event.best_score:.4f}",
            values=_values(event.best_hyperparameters))
    return ""
