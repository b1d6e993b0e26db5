"""Auto's events: they go to the same sinks as training's (the CLI's bars, the workbench's Runner).

Training, search and export events of the runs Auto makes pass through unchanged; these add where Auto is:
which stage runs, how it ended in plain words, and each new row of the leaderboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lepton_widgets.core.base.events import Event


@dataclass
class AutoStarted(Event):
    """``auto_id`` (its folder's name), the budget in seconds, the goal, the stages planned in order, and
    the stages a resume found already done."""

    auto_id: str = ""
    budget: float = 0.0
    goal: str = ""
    stages: list = field(default_factory=list)
    done: list = field(default_factory=list)
    kind = "auto_started"


@dataclass
class StageStarted(Event):
    """A stage begins with ``seconds`` of the budget for it (``title`` is its plain name)."""

    stage: str = ""
    title: str = ""
    seconds: float = 0.0
    kind = "auto_stage_started"


@dataclass
class StageEnded(Event):
    """A stage ended: ``status`` ``done``, ``skipped``, ``stopped`` (its time ran out or Stop was pressed:
    what it finished is kept) or ``failed``; ``summary`` says what it found or chose, in plain words."""

    stage: str = ""
    status: str = ""
    seconds: float = 0.0
    summary: str = ""
    kind = "auto_stage_ended"


@dataclass
class LeaderboardRow(Event):
    """A model Auto made: its run, how people read it, the stage that made it and its validation score."""

    entry: dict = field(default_factory=dict)
    kind = "auto_leaderboard_row"


@dataclass
class AutoFinished(Event):
    status: str = ""
    best_run_id: str = ""
    elapsed: float = 0.0
    card_md: str = ""
    kind = "auto_finished"
