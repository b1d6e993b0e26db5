"""How a search trains picture (and sound) trials: the image task's part of ``core/search``.

``ImageTask.search_trials(cfg, job)`` returns :class:`PictureTrials`; ``core/search/hypermodel.py`` turns
KerasTuner's values into a trial config, asks :meth:`PictureTrials.plan` what the trial trains, then
:meth:`~PictureTrials.build` and :meth:`~PictureTrials.fit_phase` for each phase. The trial trains what
its config describes, with the same building blocks as a normal run: ``build_transfer_model``,
``build_head_model``, ``compile_model``, ``planned_phases`` and the feature cache.

Fast path: a trial that only trains the head (every block frozen, no augmentation, pretrained weights:
``training.uses_feature_cache``) trains a head on the cached feature arrays. The backbone runs once over
the data per (backbone, weights, image size), for the whole search and for later runs too (the disk
cache is shared with ``run_experiment``), one traced head serves every such trial
(``search_head.SharedHead``: a trial resets it instead of rebuilding and retracing it), and it trains one
compiled call per epoch (``fast_head.fit_head``), as a normal run's head phase does. Trials that
fine-tune or augment train the full model on images, head phase included, so that the model KerasTuner
checkpoints (and Hyperband continues) is always the one ``build`` returned.

Example (trains, so not run as a doctest; tests/test_tuning.py does)::

    trials = PictureTrials(cfg, Job(run_id="s1"))
    trials.prepare()
    plan = trials.plan(cfg)
    model = trials.build(plan)
    history = trials.fit_phase(plan, model, "head", 0, 2, callbacks=[])
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import tensorflow as tf

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.backbones import get_backbone
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data import make_dataset, prepare_data
from lepton_widgets.core.frozen_depth import frozen_block_count
from lepton_widgets.core.tasks.base import TrialPlan
from lepton_widgets.core.tasks.image.adversarial import AdversarialTrainer
from lepton_widgets.core.tasks.image.blocks import block_summary
from lepton_widgets.core.tasks.image.fast_head import fit_head
from lepton_widgets.core.tasks.image.feature_cache import ExtractorOnDemand, cached_split_features
from lepton_widgets.core.tasks.image.model import build_head_model, build_transfer_model, freeze, freeze_to
from lepton_widgets.core.tasks.image.search_head import SharedHead, can_share
from lepton_widgets.core.tasks.image.training import (compile_model, planned_phases, standard_callbacks,
                                                      uses_feature_cache)

PATH_FEATURES, PATH_IMAGES = "cached features", "images"


def count_blocks(cfg: RunConfig) -> int:
    """Blocks of ``cfg``'s backbone (memoised per backbone, weights and size by ``block_summary``)."""
    return block_summary(cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size).n_blocks


class PictureTrials:
    """The trials of a picture or sound search around ``base`` (see the module docstring)."""

    def __init__(self, base: RunConfig, job: Optional[Job] = None) -> None:
        self.base, self.job = base, Job.of(job)
        self.data = None
        self._features: dict[tuple, dict] = {}
        self._splits: dict[tuple, dict] = {}
        self._heads: dict[tuple, SharedHead] = {}
        self._transfer: dict[int, object] = {}  # id(model) -> its TransferModel, for freezing per phase

    def check(self) -> None:
        for name in self.base.tuner.backbone or []:
            get_backbone(name)  # ValueError naming the known backbones, before anything starts
        if self.base.tuner.algorithm == "hyperband" and self.base.train.adversarial != "none":
            # Hyperband continues a trial from KerasTuner's checkpoint of the model it fitted, and an adversarial
            # trial fits a wrapper around the model: its checkpoint does not load back into the plain model.
            raise ConfigError("tuner.algorithm hyperband cannot search with train.adversarial on; "
                              "use random or bayesian")

    def prepare(self) -> None:
        job = self.job
        self.data = prepare_data(self.base.data, self.base.seed, job=job)

    def n_blocks(self, cfg: RunConfig) -> int:
        return count_blocks(cfg)

    def plan(self, cfg: RunConfig) -> TrialPlan:
        # frozen_depth None means every block frozen: no fine-tune phase, whatever the block count.
        n_blocks = count_blocks(cfg) if cfg.backbone.frozen_depth is not None else 0
        phases = planned_phases(cfg, n_blocks)
        fast = uses_feature_cache(cfg) and len(phases) == 1
        return TrialPlan(cfg, phases, PATH_FEATURES if fast else PATH_IMAGES, shared=fast and can_share(cfg))

    def build(self, plan: TrialPlan):
        cfg = plan.config
        if plan.shared:
            return self._shared_head(cfg).reset(cfg)
        if plan.path == PATH_FEATURES:
            return build_head_model(self.features(cfg)["train"].shape[1], self.data.num_classes, cfg)
        tm = build_transfer_model(cfg, self.data.num_classes)
        self._transfer = {id(tm.model): tm}  # only the trial being trained
        return tm.model

    def _shared_head(self, cfg: RunConfig) -> SharedHead:
        key = (cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size, cfg.train.head_units)
        if key not in self._heads:
            self._heads[key] = SharedHead(self.features(cfg)["train"].shape[1], self.data.num_classes, cfg)
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
                                                   self.base.train.batch_size, self.job)
            self._features[key] = features
        return self._features[key]

    def fit_phase(self, plan: TrialPlan, model, phase: str, first: int, end: int, callbacks: list):
        """Train epochs ``[first, end)`` of ``phase``; returns Keras' History."""
        cfg = plan.config
        learning_rate = cfg.train.learning_rate * (cfg.train.fine_tune_lr_factor if phase == "fine_tune" else 1.0)
        if plan.path == PATH_FEATURES:
            # A head on cached features: one compiled call per epoch (fast_head.py), not one Keras step per batch.
            train, val = self._feature_tensors(cfg)
            if not plan.shared:  # the shared head was reset instead (compiling would drop its traces)
                steps = (end - first) * math.ceil(int(train[1].shape[0]) / cfg.train.batch_size)
                compile_model(model, learning_rate, cfg, steps=steps)
            return fit_head(model, train, val, epochs=end, initial_epoch=first, batch_size=cfg.train.batch_size,
                            seed=cfg.seed, callbacks=standard_callbacks(cfg, None, phase, learning_rate) + callbacks)
        tm = self._transfer[id(model)]
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
        steps = (end - first) * math.ceil(n_train / cfg.train.batch_size)
        compile_model(trainer, learning_rate, cfg, steps=steps)  # also after freezing: Keras needs it
        return trainer.fit(train_ds, validation_data=val_ds, initial_epoch=first, epochs=end, verbose=0,
                           shuffle=False,  # the datasets shuffle with the run seed
                           callbacks=standard_callbacks(cfg, None, phase, learning_rate) + callbacks)

    def _feature_tensors(self, cfg: RunConfig):
        """(features, labels) tensors of the train and val rows: they become tensors once per search, not
        once per trial."""
        key = (cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size)
        if key not in self._splits:
            features = self.features(cfg)
            self._splits[key] = {name: (tf.constant(np.asarray(features[name])),
                                        tf.constant(self.data.split(name).label_indices().astype("int32")))
                                 for name in ("train", "val")}
        return self._splits[key]["train"], self._splits[key]["val"]
