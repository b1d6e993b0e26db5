"""Where an Auto session stands, as traits the Auto step draws: each stage's status and summary, the leaderboard
rows, and the result once it ends.

Auto's events arrive in the Runner's worker thread; :func:`apply_auto_event` writes them here (the runs'
own epoch events go on to the Runner, which turns them into ``session.history``: the live curves).

Example:
    >>> from lepton_widgets.core.auto.events import AutoStarted, StageEnded, StageStarted
    >>> progress = AutoProgress()
    >>> apply_auto_event(progress, AutoStarted(auto_id="digits-accuracy-1", budget=60, goal="accuracy",
    ...                                        stages=["doctor", "recipe"]))
    True
    >>> apply_auto_event(progress, StageStarted(stage="doctor", title="Checking the data", seconds=15))
    True
    >>> apply_auto_event(progress, StageEnded(stage="doctor", status="done", seconds=3.2, summary="10 classes."))
    True
    >>> [(s["name"], s["status"]) for s in progress.stages]
    [('doctor', 'done'), ('recipe', 'waiting')]
"""

from __future__ import annotations

from traitlets import Any, Dict, HasTraits, List, Unicode

from lepton_widgets.core.auto.stages import STAGE_ORDER, STAGES
from lepton_widgets.core.base.events import Event


def planned_stages(names=None, done=()) -> list[dict]:
    """One row per stage (``name``, ``title``, ``status``, ``seconds``, ``summary``), in Auto's order."""
    return [{"name": name, "title": STAGES[name][0] if name in STAGES else name,
             "status": "done before" if name in done else "waiting", "seconds": None, "summary": ""}
            for name in (names or STAGE_ORDER)]


class AutoProgress(HasTraits):
    """The Auto step's live state: ``stages`` (rows of :func:`planned_stages`), ``rows`` (leaderboard entries,
    as ``core.auto.leaderboard.entry`` makes them), ``budget`` (seconds), ``auto_id``, ``result`` (the
    ``AutoResult`` once it ends) and ``labels`` (the choice it ran with: ``keep`` or ``exclude``)."""

    stages = List()
    rows = List()
    budget = Any(None)
    auto_id = Unicode("")
    labels = Unicode("keep")
    result = Any(None)
    finished = Dict()  # the AutoFinished event's fields, before the worker hands back the result

    def reset(self, labels: str = "keep") -> None:
        with self.hold_trait_notifications():
            self.stages, self.rows, self.budget, self.auto_id = planned_stages(), [], None, ""
            self.labels, self.result, self.finished = labels, None, {}


def _set_stage(progress: AutoProgress, name: str, **values) -> None:
    rows = [dict(row) for row in progress.stages]
    row = next((r for r in rows if r["name"] == name), None)
    if row is None:
        row = planned_stages([name])[0]
        rows.append(row)
    row.update(values)
    progress.stages = rows


def apply_auto_event(progress: AutoProgress, event: Event) -> bool:
    """Write one of Auto's own events into ``progress``; ``False`` for any other event (a run's, a search's)."""
    kind = event.kind
    if kind == "auto_started":
        with progress.hold_trait_notifications():
            progress.auto_id, progress.budget = event.auto_id, event.budget
            progress.stages = planned_stages(event.stages, event.done)
    elif kind == "auto_stage_started":
        _set_stage(progress, event.stage, title=event.title or STAGES.get(event.stage, (event.stage,))[0],
                   status="running", seconds=None, summary="")
    elif kind == "auto_stage_ended":
        _set_stage(progress, event.stage, status=event.status, seconds=event.seconds, summary=event.summary)
    elif kind == "auto_leaderboard_row":
        rows = [r for r in progress.rows if r.get("run_id") != event.entry.get("run_id")]
        progress.rows = rows + [dict(event.entry)]
    elif kind == "auto_finished":
        progress.finished = {"status": event.status, "best_run_id": event.best_run_id, "elapsed": event.elapsed}
    else:
        return False
    return True
