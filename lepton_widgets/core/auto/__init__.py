"""Lepton Auto: from a folder of data to a verified model within a time budget, for every kind of data.

:func:`~lepton_widgets.core.auto.pipeline.run_auto` runs the stages in order (``stages.STAGES``): the data
doctor, the recipe, backbone ranking, a first model, a KerasTuner search, fine-tuning, fusion and a verified
export with a model card that says why each choice was made. Each kind of data answers its own questions
through its task's ``auto_kit()`` (``core/tasks/autokit.py``); nothing here asks which kind it is.

Example (trains, so shown rather than run; tests/test_auto_pipeline.py runs it)::

    from lepton_widgets.core.auto import run_auto
    result = run_auto("digits", budget="2m")
    result.leaderboard, result.best_run_id, result.card_md
"""

from lepton_widgets.core.auto.budget import Budget, parse_budget
from lepton_widgets.core.auto.pipeline import AutoResult, run_auto

__all__ = ["AutoResult", "Budget", "parse_budget", "run_auto"]
