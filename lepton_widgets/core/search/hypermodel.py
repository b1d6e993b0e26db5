"""The KerasTuner ``HyperModel`` of a search, for every kind of data: the task trains, this declares.

:class:`SearchHyperModel` registers the searched values on KerasTuner's ``hp`` (``space.declare``), turns
them into a trial's RunConfig (``space.trial_config``), and hands that config to the *trials* object of the
config's task (``task_for_config(cfg).search_trials(cfg, job)``): ``plan(cfg)`` says what the trial trains
(its phases, the path in words, whether it shares one traced head), ``build(plan)`` gives the model
KerasTuner checkpoints, and ``fit_phase`` trains each phase's epochs. The task owns everything that
differs between pictures, texts and tables (``core/tasks/<task>/search.py``), including the cached-feature
fast path where the encoder is frozen; this module never asks which kind of data it searches.

Example (trains, so not run as a doctest; tests/test_tuning.py and tests/test_search_text_table.py do)::

    import keras_tuner as kt
    trials = task_for_config(cfg).search_trials(cfg, job)
    trials.prepare()
    tuner = kt.RandomSearch(SearchHyperModel(cfg, trials), objective="val_accuracy", max_trials=3)
    tuner.search(verbose=0)
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Optional

import keras_tuner as kt
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch  # not exported; checked with keras-tuner 1.4.8

from lepton_widgets.config import RunConfig
from lepton_widgets.core.base.events import Cancelled
from lepton_widgets.core.search.space import declare, trial_config
from lepton_widgets.core.tasks.image.training import seed_everything


class SearchStopped(kt.errors.FatalError, Cancelled):
    """Stop requested during a search. KerasTuner turns any other exception inside a trial into a failed
    trial and carries on; a ``FatalError`` ends ``search()``, and the trial stays "running" in the oracle,
    so resuming runs it again."""


@contextmanager
def stop_is_fatal():
    """Re-raise the engine's ``Cancelled`` (feature extraction, data loading) as :class:`SearchStopped`."""
    try:
        yield
    except SearchStopped:
        raise
    except Cancelled as error:
        raise SearchStopped(str(error)) from error


def epoch_schedule(phases: list[tuple[str, int]], epochs: Optional[int] = None,
                   initial_epoch: int = 0) -> list[tuple[str, int, int]]:
    """``(phase, first, end)`` epoch ranges for a trial's phases, cut to ``[initial_epoch, epochs)``.

    Hyperband passes its own ``epochs`` budget (which may end inside the head phase, or extend the last
    phase) and an ``initial_epoch`` when it continues an earlier trial.

    >>> epoch_schedule([("head", 2), ("fine_tune", 3)])
    [('head', 0, 2), ('fine_tune', 2, 5)]
    >>> epoch_schedule([("head", 2), ("fine_tune", 3)], epochs=4, initial_epoch=1)
    [('head', 1, 2), ('fine_tune', 2, 4)]
    >>> epoch_schedule([("head", 3)], epochs=5, initial_epoch=2)
    [('head', 2, 5)]
    """
    total = sum(n for _, n in phases) if epochs is None else int(epochs)
    ranges, start = [], 0
    for index, (phase, n) in enumerate(phases):
        end = total if index == len(phases) - 1 else min(start + n, total)
        first = max(start, initial_epoch)
        if first < end:
            ranges.append((phase, first, end))
        start += n
        if start >= total:
            break
    return ranges


def _best_row(rows: list[dict], objective: str) -> dict:
    scored = [r for r in rows if isinstance(r.get(objective), float) and math.isfinite(r[objective])]
    if not scored:
        return rows[-1] if rows else {}
    pick = max if objective.endswith("accuracy") else min
    return pick(scored, key=lambda r: r[objective])


class SearchHyperModel(kt.HyperModel):
    """A search over ``base.tuner``'s space as a KerasTuner HyperModel; ``trials`` (the task's) trains.

    Until ``trials.prepare()`` ran (and while KerasTuner only collects the space: ``declaring``), ``build``
    registers the hyper-parameters and builds nothing.

    Example:
        >>> from lepton_widgets.config import RunConfig
        >>> from lepton_widgets.core.tasks.image.search import PictureTrials
        >>> base = RunConfig.from_dict({"backbone": {"name": "small_cnn", "weights": "none", "image_size": 32},
        ...                             "tuner": {"dropout": [0.1, 0.5]}})
        >>> hypermodel = SearchHyperModel(base, PictureTrials(base))
        >>> hp = kt.HyperParameters()
        >>> hypermodel.build(hp) is None, [p.name for p in hp.space]   # no data: declares the space only
        (True, ['dropout'])
    """

    def __init__(self, base: RunConfig, trials) -> None:
        super().__init__(name="lepton_search")
        self.base, self.trials = base, trials
        #: True while KerasTuner only collects the space (tuner construction): build nothing heavy then.
        self.declaring = False
        self.prepared = False
        self._built: Optional[tuple[Any, Any]] = None

    def prepare(self) -> None:
        """Read the data (a distributed search's chief never does: it only serves the oracle)."""
        with stop_is_fatal():
            self.trials.prepare()
        self.prepared = True

    def trial_config(self, values: dict[str, Any], name: Optional[str] = None) -> RunConfig:
        return trial_config(self.base, values, name=name, n_blocks=self.trials.n_blocks)

    def plan(self, values: dict[str, Any]):
        """The trial plan (``tasks.base.TrialPlan``) for these hyper-parameter values."""
        return self.trials.plan(self.trial_config(values))

    def build(self, hp):
        values = declare(hp, self.base.tuner)
        if self.declaring or not self.prepared:
            return None  # KerasTuner only wanted the hyper-parameters registered
        plan = self.plan(values)
        seed_everything(plan.config.seed)  # same initialisation as a normal run of this config
        with stop_is_fatal():
            model = self.trials.build(plan)
        self._built = (model, plan)
        return model

    def shares_model(self, hp) -> bool:
        """Whether ``build(hp)`` will hand out a shared head (then KerasTuner's ``clear_session`` and
        garbage collection before the build would only cost time)."""
        if self.declaring or not self.prepared:
            return False
        return self.plan(declare(hp.copy(), self.base.tuner)).shared

    def fit(self, hp, model, *args, callbacks=None, epochs=None, initial_epoch=0, verbose=0, **kwargs):
        """Train ``model`` as its trial plan says; returns the best epoch's metrics (KerasTuner's score)."""
        built, plan = self._built if self._built is not None else (None, None)
        if model is not built:
            raise kt.errors.FatalRuntimeError("fit() got a model that build() did not just return")
        callbacks = list(callbacks or [])
        if self.base.tuner.algorithm != "hyperband":
            # KerasTuner saves the weights after every improving epoch (SaveBestEpoch) for get_best_models();
            # "use best" retrains the best config as a normal run instead, so those files would go unread.
            # On a head search they were a fifth of the time. Hyperband continues trials from them: kept.
            callbacks = [c for c in callbacks if not isinstance(c, SaveBestEpoch)]
        rows: list[dict] = []
        with stop_is_fatal():
            for phase, first, end in epoch_schedule(plan.phases, epochs, initial_epoch):
                history = self.trials.fit_phase(plan, model, phase, first, end, callbacks)
                for index in range(len(history.epoch)):
                    rows.append({k: float(v[index]) for k, v in history.history.items()
                                 if v[index] is not None})
        self._built = None  # the next trial builds afresh; do not keep this model alive
        return _best_row(rows, self.base.tuner.objective)


__all__ = ["SearchHyperModel", "SearchStopped", "stop_is_fatal", "epoch_schedule"]
