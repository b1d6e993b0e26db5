"""How a search trains table trials: the table task's part of ``core/search`` (``TabularTask.search_trials``).

What a table search varies: the MLP's width (``tuner.head_units``: the first hidden layer; each next one
is half as wide) and depth (``tuner.hidden_layers``), ``dropout``, ``l2``, ``learning_rate`` and
``batch_size``. Each trial builds the model a normal table run of its config builds
(``model.build_tabular_model``, or ``run._plan_model`` when the run starts from another table run).

Fast path: the preprocessing layers (normalisation, one-hot lookups) hold statistics of the train split
only, which no searched value changes, so the search computes their output (layer ``encoded``) once for
the train and val rows; a trial trains the MLP part of its freshly built model on those arrays. A run
seeded from another table run (``weights: run:...``) merges encodings, so its trials train on the rows.

Example (trains, so not run as a doctest; tests/test_search_text_table.py does)::

    trials = TableTrials(cfg, Job(run_id="s1"))
    trials.check(); trials.prepare()
    plan = trials.plan(cfg)                     # "encoded columns"
    history = trials.fit_phase(plan, trials.build(plan), "train", 0, 10, callbacks=[])
"""

from __future__ import annotations

import math
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.backbones.run_backbone import is_run_weights
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.base import TrialPlan
from lepton_widgets.core.tasks.image.training import compile_model, standard_callbacks
from lepton_widgets.core.tasks.tabular.data import prepare_table
from lepton_widgets.core.tasks.tabular.model import ENCODED, build_tabular_model, fit_encoding, hidden_widths
from lepton_widgets.core.tasks.tabular.run import PHASE, _plan_model, batches, check_tabular_config

PATH_ENCODED, PATH_ROWS = "encoded columns", "rows"
#: Search settings that have no meaning for a table (it has no backbone, blocks or augmentation).
NOT_FOR_TABLES = ("backbone", "frozen_depth", "augment", "augment_strength")


class TableTrials:
    """The trials of a table search around ``base`` (see the module docstring)."""

    def __init__(self, base: RunConfig, job: Optional[Job] = None) -> None:
        self.base, self.job = base, Job.of(job)
        self.data = None
        self._encoding: Optional[dict] = None
        self._encoded: Optional[dict[str, np.ndarray]] = None

    def check(self) -> None:
        """Refuse, in words, a space this search cannot train, before anything starts."""
        check_tabular_config(self.base)
        wrong = [name for name in NOT_FOR_TABLES if getattr(self.base.tuner, name) is not None]
        if wrong:
            raise ConfigError(f"tuner {', '.join(wrong)}: a table has no backbone, blocks or augmentation to "
                              f"search; search head_units, hidden_layers, dropout, l2, learning_rate or batch_size")
        tuner = self.base.tuner
        if is_run_weights(self.base.backbone.weights) and (tuner.head_units or tuner.hidden_layers):
            raise ConfigError("tuner.head_units and tuner.hidden_layers: a run seeded from another table run "
                              "keeps that run's layers; search dropout, l2, learning_rate or batch_size")

    def prepare(self) -> None:
        job = self.job
        self.data = prepare_table(self.base.data, self.base.seed, job=job)

    def n_blocks(self, cfg: RunConfig) -> None:
        return None  # no blocks: a table's frozen depth means nothing

    def plan(self, cfg: RunConfig) -> TrialPlan:
        # one column alone has no ``encoded`` layer to cut at (nothing is concatenated): it trains on the rows
        fast = not is_run_weights(cfg.backbone.weights) and (self.data is None or len(self.data.schema.columns) > 1)
        return TrialPlan(cfg, [(PHASE, cfg.train.epochs)], PATH_ENCODED if fast else PATH_ROWS)

    def _model(self, cfg: RunConfig) -> keras.Model:
        """The model a normal run of ``cfg`` builds (no transfer)."""
        if self._encoding is None:
            self._encoding = fit_encoding(self.data.schema, self.data.split("train")[1])
        return build_tabular_model(self.data.schema, self._encoding, self.data.prepared.num_classes,
                                   widths=hidden_widths(cfg.train.head_units, cfg.train.hidden_layers),
                                   dropout=cfg.train.dropout, l2=cfg.train.l2, seed=cfg.seed)

    def encoded(self) -> dict[str, np.ndarray]:
        """The preprocessing layers' output for the train and val rows, computed once per search."""
        if self._encoded is None:
            model = self._model(self.base)
            encoder = keras.Model(model.inputs, model.get_layer(ENCODED).output)
            self._encoded = {name: np.asarray(encoder.predict(batches(self._inputs(name)), verbose=0))
                             for name in ("train", "val")}
        return self._encoded

    def _inputs(self, split: str) -> dict:
        return self.data.schema.model_inputs(self.data.split(split)[1])

    def build(self, plan: TrialPlan) -> keras.Model:
        if plan.path == PATH_ROWS:
            return _plan_model(plan.config, self.data)[0]
        self.encoded()
        model = self._model(plan.config)
        return keras.Model(model.get_layer(ENCODED).output, model.output, name="tabular_mlp_head")

    def fit_phase(self, plan: TrialPlan, model, phase: str, first: int, end: int, callbacks: list):
        """Train epochs ``[first, end)`` as a table run does (same shuffling seed); returns Keras' History."""
        cfg = plan.config
        lr, batch = cfg.train.learning_rate, cfg.train.batch_size
        labels = {name: self.data.split(name)[0].label_indices().astype("int32") for name in ("train", "val")}
        if plan.path == PATH_ENCODED:
            encoded = self.encoded()
            n = len(labels["train"])
            train = tf.data.Dataset.from_tensor_slices((encoded["train"], labels["train"])).shuffle(
                n, seed=cfg.seed, reshuffle_each_iteration=True).batch(batch)
            val = tf.data.Dataset.from_tensor_slices((encoded["val"], labels["val"])).batch(256)
        else:
            train = batches(self._inputs("train"), labels["train"], batch, shuffle_seed=cfg.seed)
            val = batches(self._inputs("val"), labels["val"])
        compile_model(model, lr, cfg, steps=(end - first) * math.ceil(len(labels["train"]) / batch))
        return model.fit(train, validation_data=val, initial_epoch=first, epochs=end, verbose=0, shuffle=False,
                         callbacks=standard_callbacks(cfg, None, PHASE, lr) + list(callbacks))
