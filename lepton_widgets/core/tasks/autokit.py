"""What Lepton Auto asks of a task: its recipe defaults, the backbones worth ranking, frozen features, and the
configs of each stage (a head on cached features, a search, fine-tuning).

``core/auto/`` runs the same stages for every kind of data (doctor, recipe, ranking, search, fine-tuning,
fusion, export); each task's ``auto_kit()`` answers the questions that differ. A kit never trains a stored run
itself: it returns :class:`~lepton_widgets.config.RunConfig` objects, and Auto trains them with the task's own
``run`` (so every model Auto makes is an ordinary run the expert steps can open).

Example:
    >>> recipe_for({"a": 8, "b": 9}).name, recipe_for({"a": 80, "b": 90}).name
    ('few', 'enough')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import numpy as np

from lepton_widgets.config import DataConfig, RunConfig
from lepton_widgets.i18n import N_, _

if TYPE_CHECKING:
    import pandas as pd

    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.data import PreparedData

#: What Auto may be asked to favour (``lw.auto(goal=...)``); the words are catalogue strings, shown with ``_()``.
GOALS = {
    "accuracy": N_("the most accurate model the time allows"),
    "small": N_("a small model (the smallest backbone that ranks close to the best)"),
    "fast": N_("a fast model (quick to train and to run: no fine-tuning of big backbones)"),
}
#: The columns of :meth:`AutoKit.rank`'s frame, in this order.
RANK_COLUMNS = ["label", "score", "probe_accuracy", "logme", "seconds", "status", "reason", "index"]
#: Below this many training examples in the smallest class, a held-out split would eat the data: Auto fits a
#: linear head on frozen features and judges it by cross-validation (:func:`recipe_for`).
FEW_PER_CLASS = 20


@dataclass
class AutoFeatures:
    """Frozen features of the train and validation rows (never the test rows), for the data doctor.

    ``ids`` are the rows' sample ids (``sha256``, what ``data.exclude`` takes), ``refs`` what a person
    recognises (file name, text, a row summary), ``split`` ``train``/``val`` per row."""

    x: np.ndarray
    y: np.ndarray
    ids: list[str]
    refs: list[str]
    split: np.ndarray
    class_names: list[str]
    source: str = ""


@dataclass
class Candidate:
    """One model family Auto may train: its config and how a person reads it (``MobileNetV2 · ImageNet``)."""

    config: RunConfig
    label: str
    #: Plain words on what it is, for the card ("pretrained on ImageNet photos", "trained from scratch").
    about: str = ""


@dataclass
class Recipe:
    """How much data there is decides the recipe (issue 15): ``few`` examples per class get a linear head on
    frozen features judged by cross-validation; ``enough`` get a head, then fine-tuning."""

    name: str
    smallest: int
    why: str
    fine_tune: bool = field(default=False)


def recipe_for(train_counts: dict[str, int], few: int = FEW_PER_CLASS) -> Recipe:
    """The recipe for a split with ``train_counts`` examples per class (see :class:`Recipe`)."""
    smallest = min(train_counts.values()) if train_counts else 0
    if smallest < few:
        return Recipe("few", smallest, _("the smallest class has {smallest} examples (under {few}): a simple "
                                         "classifier on the pretrained network's features, judged by "
                                         "cross-validation so that no example is set aside").format(
            smallest=smallest, few=few), fine_tune=False)
    return Recipe("enough", smallest, _("every class has at least {smallest} examples: a classifier on the "
                                        "pretrained network's features first, then fine-tuning of its last "
                                        "layers").format(smallest=smallest), fine_tune=True)


class AutoKit:
    """A task's answers to Lepton Auto. Subclasses (``core/tasks/<task>/auto.py``) implement the methods.

    ``selection_metric``: the validation score Auto compares models by (``accuracy``, or ``roc_auc`` for two
    classes of a table), read from each run's history as ``val_<metric>``."""

    selection_metric: str = "accuracy"

    def __init__(self, task) -> None:
        self.task = task

    def selection_metric_for(self, class_names: "list[str]") -> str:
        """The metric Auto selects by for data of ``class_names`` (default: :attr:`selection_metric`)."""
        return self.selection_metric

    def base_config(self, data_cfg: DataConfig, seed: int, goal: str) -> RunConfig:
        """A config for ``data_cfg`` with this task's sensible defaults for ``goal`` (see :data:`GOALS`)."""
        raise NotImplementedError

    def prepare(self, cfg: RunConfig, job: "Optional[Job]" = None) -> "PreparedData":
        """``cfg``'s data loaded, checked and split as a run would (a ``PreparedData``)."""
        prepared = self.task.prepare(cfg.data, cfg.seed, job=job)
        return getattr(prepared, "prepared", prepared)

    def candidates(self, cfg: RunConfig, goal: str) -> "list[Candidate]":
        """The backbones (encoders, networks) worth ranking for ``cfg``'s data, this task's default first."""
        raise NotImplementedError

    def rank(self, cfg: RunConfig, candidates: "list[Candidate]", prepared: "PreparedData",
             job: "Optional[Job]" = None) -> "pd.DataFrame":
        """Score ``candidates`` before training, best first: columns ``label``, ``score`` (higher is better),
        ``probe_accuracy``, ``logme``, ``seconds``, ``status`` (``ok``/``unavailable``), ``reason``, ``index``
        (the candidate's position in ``candidates``)."""
        raise NotImplementedError

    def rank_units(self, cfg: RunConfig, candidates: "list[Candidate]", prepared: "PreparedData") -> float:
        """What :meth:`rank` will cost, in first-model times (Auto skips the ranking when they do not fit):
        by default one per candidate after the first."""
        return float(max(len(candidates) - 1, 0))

    def features(self, cfg: RunConfig, prepared: "PreparedData", job: "Optional[Job]" = None) -> AutoFeatures:
        """Frozen features of the train and val rows through ``cfg``'s backbone, for the data doctor."""
        raise NotImplementedError

    def head_config(self, cfg: RunConfig, recipe: Recipe) -> RunConfig:
        """``cfg`` training only a classifier on frozen features (cached): the first model of every recipe."""
        raise NotImplementedError

    def search_config(self, cfg: RunConfig, trials: int) -> Optional[RunConfig]:
        """``cfg`` with a ``tuner`` section of ``trials`` trials over the head's hyper-parameters on cached
        features; ``None`` when this task has nothing cheap to search."""
        raise NotImplementedError

    def recipe(self, train_counts: dict[str, int]) -> Recipe:
        """The recipe for a training split with ``train_counts`` examples per class (:func:`recipe_for`; a
        task without pretrained layers says so in its own words)."""
        return recipe_for(train_counts)

    def scratch_candidates(self, cfg: RunConfig, goal: str) -> "list[Candidate]":
        """Models that learn everything from the data (no pretrained weights): ranking on frozen features
        cannot judge them, so Auto trains them when time allows (with enough examples). Default: none."""
        return []

    def fine_tune_config(self, cfg: RunConfig) -> Optional[RunConfig]:
        """``cfg`` with its last blocks trained too (after the head); ``None`` when there is nothing to
        fine-tune (a table's network trains whole)."""
        raise NotImplementedError


__all__ = ["AutoFeatures", "AutoKit", "Candidate", "GOALS", "FEW_PER_CLASS", "RANK_COLUMNS", "Recipe", "recipe_for"]
