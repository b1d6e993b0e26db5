"""How a search trains text trials: the text task's part of ``core/search`` (``TextTask.search_trials``).

What a text search varies: the encoder (``tuner.backbone``: ``glove_6b_50d``, ``all_minilm_l6_v2``), its
frozen depth (``tuner.frozen_depth``), ``learning_rate``, ``dropout``, ``l2``, ``batch_size``, the head's
width (``head_units``, the GloVe head's hidden layer) and word augmentation (``tuner.augment`` choices
``none``, ``base``, ``word_dropout``, ``word_swap``, ``word_substitute``, ``words``, at
``augment_strength``). Each trial trains what a normal text run of its config trains, with the run's own
builders (``glove_model``, ``model``) and trainers (``run._trainer_for``).

Fast path, as for pictures: a trial with the whole encoder frozen, no augmentation and no run as its
weights trains only the head, on features the frozen encoder computed once for the whole search (GloVe:
the mean of the word vectors; MiniLM: the pooled sentence embedding), per (encoder, weights, sequence
length). The trial's head is the head of a freshly built classifier (same layers, same seeded start as a
normal run's). Trials that fine-tune or augment train on the texts themselves.

Example (trains, so not run as a doctest; tests/test_search_text_table.py does)::

    trials = TextTrials(cfg, Job(run_id="s1"))
    trials.check(); trials.prepare()
    plan = trials.plan(cfg)                     # "cached features" when the encoder stays frozen
    history = trials.fit_phase(plan, trials.build(plan), "head", 0, 3, callbacks=[])
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.backbones.run_backbone import is_run_weights
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.base import TrialPlan
from lepton_widgets.core.tasks.image.training import compile_model, standard_callbacks
from lepton_widgets.core.tasks.text.augment import text_augment_active
from lepton_widgets.core.tasks.text.data import prepare_texts
from lepton_widgets.core.tasks.text.encoder import NUM_LAYERS, TEXT_ENCODERS, load_minilm, text_encoder_name
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE, load_glove, run_vocabulary
from lepton_widgets.core.tasks.text.glove_model import build_glove_classifier
from lepton_widgets.core.tasks.text.model import POOLING, build_text_classifier
from lepton_widgets.core.tasks.text.phases import PREDICT_BATCH, encoder_blocks, planned_phases
from lepton_widgets.core.tasks.text.boundary import encode_split, weights_fingerprint
from lepton_widgets.core.tasks.text.run import _trainer_for, check_text_config
from lepton_widgets.core.tasks.text.token_cache import cached_tokenize

PATH_FEATURES, PATH_TEXTS = "cached features", "texts"


class TextTrials:
    """The trials of a text search around ``base`` (see the module docstring)."""

    def __init__(self, base: RunConfig, job: Optional[Job] = None, *, policies: tuple = ()) -> None:
        self.base, self.job = base, Job.of(job)
        self.policies = policies  # the tuner.augment choices that mean something for texts (TextTask's)
        self.data = None
        self._features: dict[tuple, dict[str, np.ndarray]] = {}
        self._minilm: dict[str, tuple] = {}   # weights -> (backbone, tokenizer), loaded once
        self._vocabulary: Optional[list[str]] = None
        self._trainers: dict[int, object] = {}  # id(model) -> the run trainer of a trial on texts

    def encoders(self) -> list[str]:
        return [text_encoder_name(n) for n in (self.base.tuner.backbone or [self.base.backbone.name])]

    def check(self) -> None:
        """Refuse, in words, a space this search cannot train, before anything starts."""
        tuner = self.base.tuner
        check_text_config(self.base)
        wrong = [n for n in tuner.backbone or [] if n not in TEXT_ENCODERS]
        if wrong:
            raise ConfigError(f"tuner.backbone {wrong}: a text search chooses among the text encoders "
                              f"{', '.join(TEXT_ENCODERS)}")
        wrong = [p for p in tuner.augment or [] if p not in self.policies]
        if wrong:
            raise ConfigError(f"tuner.augment {wrong} augment pictures; for texts choose among {self.policies}")
        if tuner.head_units is not None and any(e != GLOVE_BACKBONE for e in self.encoders()):
            raise ConfigError("tuner.head_units: only the GloVe encoder's head has a hidden layer to size; "
                              "MiniLM's head is its classifier alone")
        if tuner.hidden_layers is not None:
            raise ConfigError("tuner.hidden_layers sets a table's MLP depth; it does not apply to texts")
        on_texts = tuner.frozen_depth is not None or tuner.augment is not None or \
            self.plan(self.base).path == PATH_TEXTS
        if tuner.algorithm == "hyperband" and on_texts and any(e != GLOVE_BACKBONE for e in self.encoders()):
            # MiniLM trains each phase on its own view of the weights; Hyperband would continue the wrong one.
            raise ConfigError("tuner.algorithm hyperband searches MiniLM heads on cached features only; "
                              "use random or bayesian to fine-tune or augment")

    def prepare(self) -> None:
        job = self.job
        self.data = prepare_texts(self.base.data, self.base.seed, job=job)

    def n_blocks(self, cfg: RunConfig) -> int:
        return encoder_blocks(cfg)

    def plan(self, cfg: RunConfig) -> TrialPlan:
        phases = [(phase, epochs) for phase, epochs, _lr in planned_phases(cfg)]
        fast = len(phases) == 1 and not text_augment_active(cfg.augment) and not is_run_weights(cfg.backbone.weights)
        return TrialPlan(cfg, phases, PATH_FEATURES if fast else PATH_TEXTS)

    # --- building ---------------------------------------------------------------------------------------------
    def _classifier(self, cfg: RunConfig, weights: str):
        """``(full model, the layer whose output is the frozen encoder's features)`` of a fresh classifier."""
        n_classes = self.data.prepared.num_classes
        if text_encoder_name(cfg.backbone.name) == GLOVE_BACKBONE:
            if self._vocabulary is None:
                self._vocabulary = run_vocabulary(load_glove(), self.data.split("train")[1])
            gm = build_glove_classifier(load_glove(), self._vocabulary, n_classes,
                                        sequence_length=cfg.backbone.sequence_length, dropout=cfg.train.dropout,
                                        l2=cfg.train.l2, weights=weights, seed=cfg.seed,
                                        hidden_units=cfg.train.head_units)
            return gm.model, gm.model.get_layer(POOLING).output
        backbone, _tokenizer = self._minilm_backbone(cfg.backbone.weights)
        tm = build_text_classifier(backbone, n_classes, dropout=cfg.train.dropout, l2=cfg.train.l2, seed=cfg.seed)
        return tm, None

    def _minilm_backbone(self, weights: str):
        if weights not in self._minilm:
            self._minilm[weights] = load_minilm(weights)
        return self._minilm[weights]

    def build(self, plan: TrialPlan):
        cfg = plan.config
        if plan.path == PATH_FEATURES:
            self.features(cfg)  # extracted before the head is built (the encoder's run may be long)
            # weights "none" for a GloVe head: the embedding is never used here, so skip copying the vectors
            model, pooled = self._classifier(cfg, "none")
            if pooled is None:  # MiniLM: the TextModel's own head view
                return model.head()
            return keras.Model(pooled, model.output, name="text_head")
        # no checkpoint folder: fit_phase trains with its own callbacks, the trainer's run_phase is not used
        trainer, model, _info, _assets = _trainer_for(cfg, self.data, replace(self.job, workdir=None))
        self._trainers = {id(model): trainer}  # only the trial being trained
        return model

    def features(self, cfg: RunConfig) -> dict[str, np.ndarray]:
        """The frozen encoder's features of the train and val texts (computed once per encoder, weights and
        sequence length; the search never looks at the test texts)."""
        key = (text_encoder_name(cfg.backbone.name), cfg.backbone.weights, cfg.backbone.sequence_length)
        if key not in self._features:
            texts = {name: self.data.split(name)[1] for name in ("train", "val")}
            if key[0] == GLOVE_BACKBONE:
                model, pooled = self._classifier(cfg, cfg.backbone.weights)
                encoder = keras.Model(model.input, pooled)
                self._features[key] = {name: np.asarray(encoder.predict(tf.constant(t, dtype=tf.string),
                                                                        batch_size=PREDICT_BATCH, verbose=0))
                                       for name, t in texts.items()}
            else:
                tm, _ = self._classifier(cfg, cfg.backbone.weights)
                _backbone, tokenizer = self._minilm_backbone(cfg.backbone.weights)
                fingerprint = weights_fingerprint(tm.backbone)
                self._features[key] = {
                    name: encode_split(tm, NUM_LAYERS, cached_tokenize(tokenizer, t, cfg.backbone.sequence_length)[0],
                                       fingerprint, self.job, split=name)[0].pooled
                    for name, t in texts.items()}
        return self._features[key]

    # --- training -----------------------------------------------------------------------------------------------
    def fit_phase(self, plan: TrialPlan, model, phase: str, first: int, end: int, callbacks: list):
        """Train epochs ``[first, end)`` of ``phase`` as a text run's phase does; returns Keras' History."""
        cfg = plan.config
        fine_tune = phase == "fine_tune"
        learning_rate = cfg.train.learning_rate * (cfg.train.fine_tune_lr_factor if fine_tune else 1.0)
        batch = cfg.train.batch_size
        labels = {name: self.data.split(name)[0].label_indices().astype("int32") for name in ("train", "val")}
        steps = (end - first) * math.ceil(len(labels["train"]) / batch)
        callbacks = standard_callbacks(cfg, None, phase, learning_rate) + list(callbacks)
        common = dict(initial_epoch=first, epochs=end, verbose=0, callbacks=callbacks)
        if plan.path == PATH_FEATURES:
            features = self.features(cfg)
            compile_model(model, learning_rate, cfg, steps=steps)
            return model.fit(features["train"], labels["train"], batch_size=batch, shuffle=True,
                             validation_data=(features["val"], labels["val"]), **common)
        trainer = self._trainers[id(model)]
        phase_model = trainer.phase_model(fine_tune)
        compile_model(phase_model, learning_rate, cfg, steps=steps)
        return trainer.fit(phase_model, fine_tune, epochs=end, initial_epoch=first, callbacks=callbacks)
