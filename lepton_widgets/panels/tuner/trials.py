"""A search's events as Session traits: the search's state, one row per trial, the status line.

The search sends its events from the Runner's worker thread; the Search panel hands them here, and the
table and figures follow the traits this writes (``search``, ``trials``, ``status``, ``message``).

Example:
    >>> from lepton_widgets.state import Session
    >>> session = Session()
    >>> update_trial(session, 2, status="RUNNING", epoch=1)
    >>> [(row["number"], row["status"]) for row in session.trials]
    [(2, 'RUNNING')]
"""

from __future__ import annotations

from typing import Any

from lepton_widgets.core.base.events import Event
from lepton_widgets.core.search.events import describe
from lepton_widgets.core.search.space import read_trials


def apply_search_event(session, event: Event) -> bool:
    """Write a search event into ``session``'s traits; ``False`` for an event that is not a search's."""
    kind = event.kind
    if kind == "search_started":
        rows = [] if not event.resumed else [{**row, "path": ""} for row in read_trials(event.directory)]
        session.search = {"search_id": event.search_id, "directory": event.directory, "resumed": event.resumed,
                          "total": event.total, "searched": list(event.searched), "message": event.message,
                          "repairs": list(event.repairs)}
        session.trials = [r for r in rows if r["status"] != "RUNNING"]  # an interrupted one runs again
        if session.status != "stopping":
            session.status = "running"
        session.message = event.message
    elif kind == "trial_started":
        update_trial(session, event.number, trial_id=event.trial_id, status="RUNNING", score=None, epoch=0,
                     epochs=event.epochs, hyperparameters=dict(event.hyperparameters), path=event.path)
        session.message = describe(event)
    elif kind == "trial_epoch":
        update_trial(session, event.number, epoch=event.epoch, metrics=dict(event.metrics))
    elif kind == "trial_ended":
        update_trial(session, event.number, trial_id=event.trial_id, status=event.status, score=event.score,
                     elapsed=event.elapsed, metrics=dict(event.metrics), hyperparameters=dict(event.hyperparameters))
        session.message = describe(event)
    elif kind == "search_finished":
        session.message = describe(event)
    else:
        return False
    return True


def update_trial(session, number: int, **values: Any) -> None:
    """Set ``values`` on trial ``number``'s row of ``session.trials`` (a new row if it has none yet)."""
    rows = [dict(r) for r in session.trials]
    row = next((r for r in rows if r["number"] == number), None)
    if row is None:
        row = {"number": number, "hyperparameters": {}, "status": "", "score": None}
        rows.append(row)
    row.update(values)
    session.trials = sorted(rows, key=lambda r: r["number"])
