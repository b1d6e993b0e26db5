"""The KerasTuner ``HyperModel`` of a transfer-learning search, with the cached-feature fast path.

Each trial's values become a RunConfig (``space.trial_config``), and the trial trains what that
config describes, with the same building blocks as a normal run: ``build_transfer_model``,
``build_head_model``, ``compile_model``, ``planned_phases`` and the feature cache.

Fast path: a trial that only trains the head (every block frozen, no augmentation, pretrained weights:
``training.uses_feature_cache``) trains a head on the cached feature arrays. The backbone runs once over
the data per (backbone, weights, image size), for the whole search and for later runs too (the disk
cache is shared with ``run_experiment``), and one traced head serves every such trial
(``head.SharedHead``: a trial resets it instead of rebuilding and retracing it). Trials that
fine-tune or augment train the full model on images, head phase included, so that the model KerasTuner
checkpoints (and Hyperband continues) is always the one ``build`` returned.

Example (trains, so not run as a doctest; tests/test_tuning.py does)::

    import keras_tuner as kt
    hypermodel = TransferHyperModel(cfg, prepare_data(cfg.data, cfg.seed))
    tuner = kt.RandomSearch(hypermodel, objective="val_accuracy", max_trials=3)
    tuner.search(verbose=0)
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

import keras_tuner as kt
import numpy as np
import tensorflow as tf
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch  # not exported; checked with keras-tuner 1.4.8

from lepton_widgets.config import RunConfig
from lepton_widgets.core.tasks.image.adversarial import AdversarialTrainer
from lepton_widgets.core.tasks.image.blocks import block_summary
from lepton_widgets.core.data import PreparedData, make_dataset
from lepton_widgets.core.base.events import Cancelled, EventSink, null_sink
from lepton_widgets.core.tasks.image.feature_cache import ExtractorOnDemand, cached_split_features
from lepton_widgets.core.frozen_depth import frozen_block_count
from lepton_widgets.core.tasks.image.model import build_head_model, build_transfer_model, freeze, freeze_to
from lepton_widgets.core.tasks.image.training import (standard_callbacks, compile_model, planned_phases, seed_everything,
                                          uses_feature_cache)
from lepton_widgets.core.search.head import SharedHead, can_share
from lepton_widgets.core.search.space import declare, trial_config

#: Batch of the validation features in a head trial (one call per epoch instead of one per training batch).
VAL_BATCH = 4096

PATH_FEATURES, PATH_IMAGES = "cached features", "images"


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


def count_blocks(cfg: RunConfig) -> int:
    """Blocks of ``cfg``'s backbone (memoised per backbone, weights and size by ``block_summary``)."""
    return block_summary(cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size).n_blocks


def epoch_schedule(phases: list[tuple[str, int]], epochs: Optional[int] = None,
                   initial_epoch: int = 0) -> list[tuple[str, int, int]]:
    """``(phase, first, end)`` epoch ranges for ``planned_phases``, cut to ``[initial_epoch, epochs)``.

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


@dataclass
class TrialPlan:
    """What one trial trains: its RunConfig, its phases, and whether it takes the cached-feature path."""

    config: RunConfig
    phases: list[tuple[str, int]]
    fast: bool

    @property
    def path(self) -> str:
        return PATH_FEATURES if self.fast else PATH_IMAGES

    @property
    def shared(self) -> bool:
        """Trained on the search's shared head (no rebuild, no retrace)."""
        return self.fast and can_share(self.config)

    @property
    def epochs(self) -> int:
        return sum(n for _, n in self.phases)


def _best_row(rows: list[dict], objective: str) -> dict:
    scored = [r for r in rows if isinstance(r.get(objective), float) and math.isfinite(r[objective])]
    if not scored:
        return rows[-1] if rows else {}
    pick = max if objective.endswith("accuracy") else min
    return pick(scored, key=lambda r: r[objective])


class TransferHyperModel(kt.HyperModel):
    """Transfer learning as a KerasTuner HyperModel over ``base.tuner``'s search space.

    ``data`` is the prepared dataset (train on ``train``, score on ``val``; ``test`` stays untouched for the
    final run). ``sink`` receives the feature extraction's ``Progress`` events; ``stop_event`` stops it.

    Example:
        >>> from lepton_widgets.config import RunConfig
        >>> base = RunConfig.from_dict({"backbone": {"name": "small_cnn", "weights": "none", "image_size": 32},
        ...                             "tuner": {"dropout": [0.1, 0.5]}})
        >>> hypermodel = TransferHyperModel(base, data=None)
        >>> hp = kt.HyperParameters()
        >>> hypermodel.build(hp) is None, [p.name for p in hp.space]   # no data: declares the space only
        (True, ['dropout'])
    """

    def __init__(self, base: RunConfig, data: Optional[PreparedData], *, sink: EventSink = null_sink,
                 stop_event: Optional[threading.Event] = None, run_id: str = "") -> None:
        super().__init__(name="lepton_transfer")
        self.base, self.data = base, data
        self.sink, self.stop_event, self.run_id = sink, stop_event, run_id
        #: True while KerasTuner only collects the space (tuner construction): build nothing heavy then.
        self.declaring = False
        self._features: dict[tuple, np.ndarray] = {}
        self._splits: dict[tuple, dict[str, tuple]] = {}
        self._heads: dict[tuple, SharedHead] = {}
        self._built: Optional[tuple[Any, TrialPlan, Any]] = None

    def plan(self, values: dict[str, Any]) -> TrialPlan:
        """The trial plan for these hyper-parameter values."""
        cfg = trial_config(self.base, values, n_blocks=count_blocks)
        # frozen_depth None means every block frozen: no fine-tune phase, whatever the block count.
        n_blocks = count_blocks(cfg) if cfg.backbone.frozen_depth is not None else 0
        phases = planned_phases(cfg, n_blocks)
        return TrialPlan(cfg, phases, fast=uses_feature_cache(cfg) and len(phases) == 1)

    def build(self, hp):
        values = declare(hp, self.base.tuner)
        if self.declaring or self.data is None:
            return None  # KerasTuner only wanted the hyper-parameters registered
        plan = self.plan(values)
        cfg = plan.config
        seed_everything(cfg.seed)  # same initialisation as a normal run of this config
        with stop_is_fatal():
            if plan.shared:
                model, tm = self._shared_head(cfg).reset(cfg), None
            elif plan.fast:
                features = self.features(cfg)["train"]
                model, tm = build_head_model(features.shape[1], self.data.num_classes, cfg), None
            else:
                tm = build_transfer_model(cfg, self.data.num_classes)
                model = tm.model
        self._built = (model, plan, tm)
        return model

    def shares_model(self, hp) -> bool:
        """Whether ``build(hp)`` will hand out the shared head (then KerasTuner's ``clear_session`` and
        garbage collection before the build would only cost time)."""
        if self.declaring or self.data is None:
            return False
        return self.plan(declare(hp.copy(), self.base.tuner)).shared

    def _shared_head(self, cfg: RunConfig) -> SharedHead:
        key = (cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size, cfg.train.head_units)
        if key not in self._heads:
            features = self.features(cfg)["train"]
            self._heads[key] = SharedHead(features.shape[1], self.data.num_classes, cfg)
        return self._heads[key]

    def features(self, cfg: RunConfig) -> dict[str, np.ndarray]:
        """Pooled features of the train and val rows for ``cfg``'s backbone (read-only memory maps of the
        disk cache; extracted the first time). The search never looks at the test rows."""
        key = (cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size)
        if key not in self._features:
            tables = {name: self.data.split(name) for name in ("train", "val")}
            # The base batch size, as a normal run's extraction uses (a searched one varies per trial).
            features, _hit = cached_split_features(ExtractorOnDemand(cfg, self.data.num_classes), tables,
                                                   cfg.backbone.weights, cfg.backbone.image_size,
                                                   self.base.train.batch_size, self.sink, self.stop_event,
                                                   run_id=self.run_id)
            self._features[key] = features
        return self._features[key]

    def fit(self, hp, model, *args, callbacks=None, epochs=None, initial_epoch=0, verbose=0, **kwargs):
        """Train ``model`` as its trial plan says; returns the best epoch's metrics (KerasTuner's score)."""
        built, plan, tm = self._built if self._built is not None else (None, None, None)
        if model is not built:
            raise kt.errors.FatalRuntimeError("fit() got a model that build() did not just return")
        cfg = plan.config
        callbacks = list(callbacks or [])
        if self.base.tuner.algorithm != "hyperband":
            # KerasTuner saves the weights after every improving epoch (SaveBestEpoch) for get_best_models();
            # "use best" retrains the best config as a normal run instead, so those files would go unread.
            # On a head search they were a fifth of the time. Hyperband continues trials from them: kept.
            callbacks = [c for c in callbacks if not isinstance(c, SaveBestEpoch)]
        rows: list[dict] = []
        with stop_is_fatal():
            for phase, first, end in epoch_schedule(plan.phases, epochs, initial_epoch):
                learning_rate = cfg.train.learning_rate * (cfg.train.fine_tune_lr_factor if phase == "fine_tune"
                                                           else 1.0)
                if plan.fast:
                    train_ds, val_ds, n_train = self._feature_datasets(cfg)
                else:
                    depth = frozen_block_count(cfg.backbone.frozen_depth, tm.n_blocks)
                    if phase == "head" and tm.pretrained:
                        freeze(tm)
                    else:  # fine-tune; or random blocks, which train from the start as in train_transfer
                        freeze_to(tm, depth)
                    train, val = self.data.split("train"), self.data.split("val")
                    size, batch = cfg.backbone.image_size, cfg.train.batch_size
                    train_ds = make_dataset(train, size, batch, shuffle=True, seed=cfg.seed)
                    val_ds, n_train = make_dataset(val, size, batch), len(train)
                trainer = model
                if cfg.train.adversarial != "none":  # never on the feature path: attacks need the pixels
                    trainer = AdversarialTrainer(model, cfg.train.adversarial, cfg.train.adversarial_epsilon,
                                                 cfg.train.adversarial_ratio, seed=cfg.seed)
                if not plan.shared:  # the shared head was reset instead (compiling would drop its traces)
                    steps = (end - first) * math.ceil(n_train / cfg.train.batch_size)
                    compile_model(trainer, learning_rate, cfg, steps=steps)  # also after freezing: Keras needs it
                history = trainer.fit(train_ds, validation_data=val_ds, initial_epoch=first, epochs=end, verbose=0,
                                    shuffle=False,  # the datasets shuffle with the run seed
                                    callbacks=standard_callbacks(cfg, None, phase, learning_rate) + callbacks)
                for index in range(len(history.epoch)):
                    rows.append({k: float(v[index]) for k, v in history.history.items()})
        self._built = None  # the next trial builds afresh; do not keep this model alive
        return _best_row(rows, self.base.tuner.objective)

    def _feature_datasets(self, cfg: RunConfig):
        """Train/val datasets of cached features, in the order ``training``'s head phase uses (row indices
        shuffled with the run seed). The split arrays become tensors once per search, not once per trial."""
        key = (cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size)
        if key not in self._splits:
            features = self.features(cfg)
            self._splits[key] = {name: (tf.constant(np.asarray(features[name])),
                                        tf.constant(self.data.split(name).label_indices().astype("int32")))
                                 for name in ("train", "val")}
        train, val = self._splits[key]["train"], self._splits[key]["val"]
        batch, n_train = cfg.train.batch_size, int(train[1].shape[0])
        train_ds = tf.data.Dataset.from_tensor_slices(train).shuffle(
            n_train, seed=cfg.seed, reshuffle_each_iteration=True).batch(batch)
        # Validation in as few calls as possible: its metrics are sample means, whatever the batching.
        val_ds = tf.data.Dataset.from_tensor_slices(val).batch(VAL_BATCH)
        return train_ds, val_ds, n_train


__all__ = ["TransferHyperModel", "TrialPlan", "SearchStopped", "stop_is_fatal", "epoch_schedule", "count_blocks"]
