"""Run Lepton Auto: every stage in order within a time budget, resumable, stoppable, explained.

:func:`run_auto` finds the data's task, opens (or resumes) the session's state, and runs the stages of
:mod:`lepton_widgets.core.auto.stages` that are not finished yet. Each stage gets a share of the time left
(the export keeps a reserve) and runs under :meth:`Budget.stage`, whose timer stops it when its share runs
out; the runs it finished stay in the run store and on the leaderboard. The caller's Stop stops the running
stage the same way and ends the session; starting it again resumes at the first unfinished stage.

Events: ``AutoStarted``, then per stage ``StageStarted`` / ``StageEnded``, a ``LeaderboardRow`` per model,
and ``AutoFinished``; the runs', the search's and the export's own events pass through to the same sink, so
the CLI shows progress bars and the workbench live curves.

Example (trains, so shown rather than run; tests/test_auto_pipeline.py runs it)::

    result = run_auto("digits", budget="2m", runs_dir="/tmp/lepton-doc-runs")
    result.status, result.best_run_id
    result.frame()          # the leaderboard, best validation score first
    print(result.card_md)   # the model card, with every choice Auto made and why
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from lepton_widgets.config import DataConfig
from lepton_widgets.core.auto import leaderboard
from lepton_widgets.core.auto.budget import Budget, parse_budget
from lepton_widgets.core.auto.events import AutoFinished, AutoStarted, StageEnded, StageStarted
from lepton_widgets.core.auto.stages import STAGE_ORDER, STAGES, AutoContext, Outcome, TimeUp
from lepton_widgets.core.auto.state import AutoState
from lepton_widgets.core.base.events import Cancelled
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.table import DataError
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.tasks.autokit import GOALS
from lepton_widgets.i18n import _

#: Label choices: keep the likely mislabelled examples, or leave them out of training.
LABEL_CHOICES = ("keep", "exclude")
#: The share of the budget kept for the export and its checks.
EXPORT_RESERVE = 0.2
#: Of the budget, what the export may run over it (the issue's promise: within the budget plus 10%).
EXPORT_SLACK = 0.08
#: Stages whose models depend on which examples are used: a changed label choice runs them again.
AFTER_LABELS = ("first", "search", "fine_tune", "fusion", "export")


@dataclass
class AutoResult:
    """What Auto did: ``status`` (``finished``, ``cancelled`` or ``failed`` with ``message``), each stage's
    status and plain summary, the leaderboard, the chosen run and its model card, and the doctor's report."""

    auto_id: str
    folder: Path
    runs_dir: Path
    status: str
    stages: dict
    entries: list
    best_run_id: str = ""
    card_md: str = ""
    message: str = ""
    elapsed: float = 0.0
    doctor: dict = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """The leaderboard, best validation score first (``chosen`` marks Auto's choice)."""
        return leaderboard.frame(self.entries)

    @property
    def label_issues(self) -> list[dict]:
        """The likely mislabelled examples the doctor found (id, ref, given and suggested class, confidence)."""
        return list(self.doctor.get("label_issues", []))

    def best_run(self):
        """The chosen run (a ``RunRecord``), or ``None`` when no model finished."""
        return RunStore(self.runs_dir).open(self.best_run_id) if self.best_run_id else None

    def card(self) -> str:
        """The model card's Markdown ("" before the export stage)."""
        return Path(self.card_md).read_text(encoding="utf-8") if self.card_md else ""


def resolve_data(data) -> DataConfig:
    """A ``DataConfig`` for anything the Data step takes: a built-in name, a folder, a zip, a CSV, a dict."""
    if isinstance(data, DataConfig):
        return data
    if isinstance(data, dict):
        return DataConfig(**data)
    from lepton_widgets.core.tasks.data_guess import data_config_for

    return data_config_for(data)


def run_auto(data, *, budget: "str | float" = "10m", goal: str = "accuracy", labels: str = "keep",
             seed: int = 42, runs_dir: "Optional[str | Path]" = None, job: Optional[Job] = None,
             fresh: bool = False) -> AutoResult:
    """Run (or resume) Auto on ``data`` within ``budget`` (``"10m"``, ``"90s"``, seconds) for ``goal``
    (``accuracy``, ``small`` or ``fast``); ``labels="exclude"`` leaves the likely mislabelled examples out.

    ``fresh=True`` starts over instead of resuming. Returns an :class:`AutoResult`; bad data is a ``failed``
    result whose ``message`` says why in plain words (nothing is raised for it)."""
    seconds = parse_budget(budget)
    if goal not in GOALS:
        raise ValueError(f"goal {goal!r}: choose one of {', '.join(GOALS)}")
    if labels not in LABEL_CHOICES:
        raise ValueError(f"labels {labels!r}: choose keep or exclude")
    job = job or Job()
    data_cfg = resolve_data(data)
    from lepton_widgets.core.tasks import task_for_dataset

    task = task_for_dataset(data_cfg.dataset)
    task.require("auto", "Lepton Auto")
    store = RunStore(runs_dir)
    state = AutoState.open(store.root, data_cfg, goal=goal, seed=seed, fresh=fresh)
    if state.label_choice != labels:
        state.forget_from(list(AFTER_LABELS))  # the models trained on the other set of examples are stale
        state.label_choice = labels
    state.status = "running"
    state.save()
    ctx = AutoContext(kit=task.auto_kit(), store=store, state=state, data_cfg=data_cfg, goal=goal, seed=seed,
                      outer=job, label_choice=labels)
    clock = Budget(seconds, reserve=EXPORT_RESERVE * seconds)
    ctx.budget = clock
    job.emit(AutoStarted(run_id=state.auto_id, auto_id=state.auto_id, budget=seconds, goal=goal,
                         stages=STAGE_ORDER, done=[s for s in STAGE_ORDER if state.done(s)]))
    status, message = "finished", ""
    models_before = len(state.leaderboard)
    for name in STAGE_ORDER:
        # A resumed session that made new models chooses and exports again, even if an earlier call exported.
        rechoose = name == "export" and len(state.leaderboard) != models_before
        if state.done(name) and not rechoose:
            continue
        title, share, work = STAGES[name]
        stage_seconds = clock.share(1.0 if share is None else share, last=name == "export")
        if name == "export":  # its first format always runs (the model card comes with it): the slack is its
            stage_seconds += EXPORT_SLACK * seconds
        ctx.deadline = time.monotonic() + stage_seconds
        job.emit(StageStarted(run_id=state.auto_id, stage=name, title=title, seconds=stage_seconds))
        started = time.monotonic()
        with clock.stage(job, stage_seconds) as stage_job:
            outcome = _run_stage(work, ctx, stage_job, job)
        outcome.detail["_choices"] = outcome.choices
        state.finish_stage(name, outcome.status, time.monotonic() - started, outcome.summary, outcome.detail)
        job.emit(StageEnded(run_id=state.auto_id, stage=name, status=outcome.status,
                            seconds=time.monotonic() - started, summary=outcome.summary))
        if job.stopped:
            status, message = "cancelled", _("Stopped: what finished is kept; start Auto again to resume.")
            break
        if outcome.status == "failed" and name in ("doctor", "recipe"):
            status, message = "failed", outcome.summary
            break
    if status == "finished" and not state.best_run_id:
        status, message = "failed", state.stages.get("export", {}).get("summary", _("No model was chosen."))
    state.status = status
    state.save()
    job.emit(AutoFinished(run_id=state.auto_id, status=status, best_run_id=state.best_run_id,
                          elapsed=clock.elapsed, card_md=state.card_md))
    return AutoResult(auto_id=state.auto_id, folder=state.folder, runs_dir=store.root, status=status,
                      stages=state.stages, entries=state.leaderboard, best_run_id=state.best_run_id,
                      card_md=state.card_md, message=message, elapsed=clock.elapsed,
                      doctor=state.detail("doctor"))


def _run_stage(work, ctx: AutoContext, stage_job: Job, outer: Job) -> Outcome:
    """One stage; a stop (the user's or the stage's timer) or a failure becomes its Outcome, never a crash."""
    try:
        return work(ctx, stage_job)
    except (Cancelled, TimeUp) as stop:
        if outer.stopped:
            return Outcome("stopped", _("Stopped by you; what finished is kept."))
        why = str(stop) if isinstance(stop, TimeUp) else _("its share of the time ran out")
        return Outcome("stopped", _("Stopped: {why}; what finished is kept.").format(why=why))
    except (DataError, ValueError) as error:  # the engine's own refusals are already plain sentences
        return Outcome("failed", str(error))
    except Exception as error:  # noqa: BLE001 - one stage failing must not lose what the others made
        return Outcome("failed", _("This step failed ({error}); the other steps go on.").format(
            error=f"{type(error).__name__}: {error}"))


def open_auto(folder: "str | Path") -> dict:
    """A stored session's ``auto.json`` (what the workbench and ``lepton auto`` show of a past session)."""
    import json

    return json.loads((Path(folder) / "auto.json").read_text(encoding="utf-8"))


__all__ = ["AutoResult", "LABEL_CHOICES", "resolve_data", "run_auto", "open_auto"]
