"""The training phases of a text run, whichever the encoder: what MiniLM and GloVe runs share.

:class:`PhaseTrainer` holds one run's split texts and labels and trains each phase (``head``, then
``fine_tune``) with the workbench's own compile, callbacks, events and Stop, recording the history and
``phases.json`` rows. An encoder's trainer says only what differs (:class:`MiniLMTrainer` in ``run.py``,
:class:`GloveTrainer` in ``glove_run.py``): which model a phase trains, on what inputs, how a batch of
(augmented) texts becomes inputs, and what freezing means.

Augmented training batches (:class:`AugmentedBatches`) are drawn afresh every epoch from
``(seed, epoch)``, so a run repeats; validation and test texts are never augmented.

Example (what a trainer's run looks like; ``run.py`` drives it)::

    trainer = GloveTrainer(cfg, data, gm, job, neighbours=None)  # job: the run's own (RunRecorder.job)
    for phase, epochs, lr in planned_phases(cfg):
        trainer.run_phase(phase, epochs, lr)
    probabilities = trainer.test_probabilities()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np

from lepton_widgets.config import RunConfig
from lepton_widgets.core.base.callbacks import EventCallback
from lepton_widgets.core.base.events import PhaseStarted
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.text.augment import augment_texts, text_augment_active
from lepton_widgets.core.tasks.text.data import TextData
from lepton_widgets.core.tasks.text.encoder import TEXT_ENCODERS, text_encoder_name
from lepton_widgets.core.tasks.text.model import frozen_layers
from lepton_widgets.core.tasks.image.training import class_weights, compile_model, standard_callbacks

#: Texts predicted at once (test split, caching).
PREDICT_BATCH = 64


class AugmentedBatches(keras.utils.PyDataset):
    """Training batches of freshly augmented texts, turned into model inputs by ``encode``.

    Each epoch draws a new order and new augmentations from ``(seed, epoch)``, so a run repeats.
    """

    def __init__(self, texts: list[str], labels: np.ndarray, encode: Callable, batch_size: int, seed: int,
                 augment_cfg, neighbours: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__()
        self.texts, self.labels, self.encode = texts, labels.astype("int32"), encode
        self.batch_size, self.seed = batch_size, seed
        self.word_dropout, self.word_swap = augment_cfg.word_dropout, augment_cfg.word_swap
        self.word_substitute, self.neighbours = augment_cfg.word_substitute, neighbours
        self.epoch = 0
        self._order()

    def _order(self) -> None:
        self.order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.texts))

    def __len__(self) -> int:
        return math.ceil(len(self.texts) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        texts = augment_texts([self.texts[i] for i in rows], rows, word_dropout=self.word_dropout,
                              word_swap=self.word_swap, seed=self.seed, epoch=self.epoch,
                              word_substitute=self.word_substitute, neighbours=self.neighbours)
        return self.encode(texts), self.labels[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order()


def encoder_blocks(cfg: RunConfig) -> int:
    """How many blocks ``backbone.frozen_depth`` counts for this run's text encoder."""
    return TEXT_ENCODERS[text_encoder_name(cfg.backbone.name)]


def planned_phases(cfg: RunConfig) -> list[tuple[str, int, float]]:
    """``(phase, epochs, learning rate)`` of each phase the run will train: the head, then a fine-tune
    when ``backbone.frozen_depth`` leaves a block unfrozen and ``train.fine_tune_epochs > 0``."""
    lr = cfg.train.learning_rate
    phases = [("head", cfg.train.epochs, lr)]
    blocks = encoder_blocks(cfg)
    if frozen_layers(cfg.backbone.frozen_depth, blocks) < blocks and cfg.train.fine_tune_epochs > 0:
        phases.append(("fine_tune", cfg.train.fine_tune_epochs, lr * cfg.train.fine_tune_lr_factor))
    return phases


class PhaseTrainer:
    """The phases of one run on one :class:`TextData` (subclasses: see the module docstring)."""

    #: Whether, without augmentation, phases train on features the frozen part computed once.
    caches_features = False

    def __init__(self, cfg: RunConfig, data: TextData, job: Job,
                 neighbours: Mapping[str, Sequence[str]] | None = None) -> None:
        # job: the run's id, events, Stop and folder (checkpoints); a search trial's has no folder
        self.cfg, self.data, self.job, self.neighbours = cfg, data, job, neighbours
        self.n_blocks = encoder_blocks(cfg)
        self.depth = frozen_layers(cfg.backbone.frozen_depth, self.n_blocks)
        self.augment = text_augment_active(cfg.augment)
        #: Whether training batches stream through the whole encoder (always with augmentation).
        self.stream = self.augment
        self.history: list[dict] = []
        self.phases: list[dict] = []
        self.last: tuple[keras.Model, bool] | None = None  # the model of the last phase, and if it fine-tuned
        self.splits = {name: data.split(name) for name in ("train", "val", "test")}
        self.labels = {name: table.label_indices().astype("int32") for name, (table, _) in self.splits.items()}

    # what an encoder's trainer says ----------------------------------------------------------------
    def phase_model(self, fine_tune: bool) -> keras.Model:
        """Freeze for the phase and return the model it trains."""
        raise NotImplementedError

    def phase_inputs(self, split: str, fine_tune: bool):
        """The (unaugmented) inputs of ``split`` for the phase's model."""
        raise NotImplementedError

    def encode_batch(self, texts: list[str], fine_tune: bool):
        """The phase model's inputs for a batch of (augmented) training texts."""
        raise NotImplementedError

    def trainable_params(self) -> int:
        raise NotImplementedError

    # shared --------------------------------------------------------------------------------------------
    @property
    def cached(self) -> bool:
        return self.caches_features and not self.stream

    def train_data(self, fine_tune: bool):
        """The (unaugmented) training data for ``fit``: ``(x, y)`` arrays, or a ``tf.data`` dataset of
        ``(x, y)`` batches that is already shuffled and batched."""
        return self.phase_inputs("train", fine_tune), self.labels["train"]

    def val_data(self, fine_tune: bool):
        """``fit``'s ``validation_data``: ``(x, y)`` arrays or a batched ``tf.data`` dataset."""
        return self.phase_inputs("val", fine_tune), self.labels["val"]

    def fit(self, model: keras.Model, fine_tune: bool, *, epochs: int, callbacks: list, class_weight=None,
            initial_epoch: int = 0):
        """Train ``model`` (the phase's model, compiled) as this trainer trains: augmented batches made afresh
        every epoch, else the cached (or plain) training data. Returns Keras' History."""
        batch = self.cfg.train.batch_size
        common = dict(validation_data=self.val_data(fine_tune), epochs=epochs, initial_epoch=initial_epoch,
                      verbose=0, callbacks=callbacks, class_weight=class_weight)
        if self.stream:
            batches = AugmentedBatches(self.splits["train"][1], self.labels["train"],
                                       lambda texts: self.encode_batch(texts, fine_tune), batch, self.cfg.seed,
                                       self.cfg.augment, self.neighbours)
            return model.fit(batches, shuffle=False, **common)
        data = self.train_data(fine_tune)
        if isinstance(data, tuple):
            return model.fit(*data, batch_size=batch, shuffle=True, **common)
        return model.fit(data, shuffle=False, **common)  # the dataset shuffles itself, seeded

    def run_phase(self, phase: str, epochs: int, learning_rate: float) -> None:
        fine_tune = phase == "fine_tune"
        model = self.phase_model(fine_tune)
        self.job.emit(PhaseStarted(run_id=self.job.run_id, phase=phase, epochs=epochs, learning_rate=learning_rate,
                                   trainable_params=self.trainable_params(), cached_features=self.cached))
        batch = self.cfg.train.batch_size
        compile_model(model, learning_rate, self.cfg, steps=epochs * math.ceil(len(self.labels["train"]) / batch))
        callback = EventCallback(self.job, phase, epochs, epoch_offset=len(self.history))
        callbacks = standard_callbacks(self.cfg, self.job.workdir, phase, learning_rate) + [callback]
        weights = class_weights(self.cfg, self.labels["train"], len(self.data.class_names))
        self.fit(model, fine_tune, epochs=epochs, callbacks=callbacks, class_weight=weights)
        self.history += callback.history
        self.phases.append({"phase": phase, "epochs_run": len(callback.history), "epochs": epochs,
                            "learning_rate": learning_rate, "cached_features": self.cached,
                            "frozen_layers": self.depth if fine_tune else self.n_blocks,
                            "trainable_params": self.trainable_params()})
        self.last = (model, fine_tune)

    def test_probabilities(self) -> np.ndarray:
        model, fine_tune = self.last
        return np.asarray(model.predict(self.phase_inputs("test", fine_tune), batch_size=PREDICT_BATCH, verbose=0))
