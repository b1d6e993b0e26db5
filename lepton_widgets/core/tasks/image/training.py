"""Two-phase transfer learning with Keras ``fit``: train the new head, then fine-tune.

Phase ``head`` trains only the head with every backbone block frozen. When no augmentation is on, the
backbone's pooled output is fixed, so the head trains on cached features (``feature_cache``) instead of
recomputing the backbone each step; the trained weights are then copied into the full model.
Phase ``fine_tune`` unfreezes down to ``frozen_depth`` and trains the full model at
``learning_rate * fine_tune_lr_factor``; it runs only when some block is unfrozen. Without augmentation the
frozen blocks' output is computed once and stored (``boundary_cache.py``): only the unfrozen blocks and the
head run at each step, and they are the full model's own layers.
A backbone trained from scratch (``weights: none``) has no features to protect, and a head on frozen random
features learns nothing (the README's sound example: 0.10 after 10 head epochs), so for it the ``head``
phase already trains every block down to ``frozen_depth``, at the full learning rate.
Early stopping keeps the best validation loss, but never picks an epoch whose validation accuracy is at
chance (``callbacks.KeepBestLearned``): see there why a from-scratch model needs that.
With ``train.adversarial`` on, every phase trains the full model on mixed clean and adversarial batches
(``core.adversarial.AdversarialTrainer``): attacks perturb pixels, so there are no fixed features to cache.
With ``train.head_fit: logistic`` (and a head that is a linear classifier on fixed features) the ``head`` phase
is one logistic-regression fit instead (``linear_head.py``): one "epoch" in the history, whose validation scores
are the fit's cross-validated ones, since it pools the train and validation examples (a cross-validation fold's
held-out examples never: ``train_transfer(..., val_held_out=True)``).
``train.class_weight: balanced`` weighs every fit's loss by class (:func:`class_weights`, from the train split);
texts and tables use the same function.

Example:
    >>> from lepton_widgets.config import RunConfig
    >>> cfg = RunConfig.from_dict({"backbone": {"frozen_depth": 10}, "train": {"fine_tune_epochs": 2}})
    >>> [p for p, _ in planned_phases(cfg, n_blocks=19)]
    ['head', 'fine_tune']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from lepton_widgets.config import RunConfig
from lepton_widgets.core.tasks.image.adversarial import AdversarialTrainer
from lepton_widgets.core.base.callbacks import EventCallback, KeepBestLearned, PlateauAfterLearning
from lepton_widgets.core.data import PreparedData, make_dataset
from lepton_widgets.core.base.events import PhaseStarted
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.image.boundary_cache import boundary_training_data
from lepton_widgets.core.tasks.image.fast_head import fit_head, predict_head
from lepton_widgets.core.tasks.image.feature_cache import (ExtractorOnDemand, cached_split_features, extract_features,
                                                           forward_function)
from lepton_widgets.core.tasks.image.linear_head import fit_linear_head, set_linear_head, uses_logistic_head
from lepton_widgets.core.frozen_depth import frozen_block_count
from lepton_widgets.core.tasks.image.model import TransferModel, build_head_model, copy_head_weights, freeze, freeze_to


@dataclass
class TrainResult:
    """What training produced: the trained model, the per-epoch history and a record of each phase."""

    tm: TransferModel
    history: list[dict] = field(default_factory=list)
    phases: list[dict] = field(default_factory=list)
    #: Test-split probabilities, when the last phase trained on cached features (else None: predict them).
    test_probabilities: Optional[np.ndarray] = None


def planned_phases(cfg: RunConfig, n_blocks: int) -> list[tuple[str, int]]:
    """The phases ``train_transfer`` will run, with their epoch budgets (a logistic head is one fit)."""
    phases = [("head", 1 if uses_logistic_head(cfg) else cfg.train.epochs)]
    if frozen_block_count(cfg.backbone.frozen_depth, n_blocks) < n_blocks and cfg.train.fine_tune_epochs > 0:
        phases.append(("fine_tune", cfg.train.fine_tune_epochs))
    return phases


def uses_feature_cache(cfg: RunConfig) -> bool:
    """The head phase trains on cached features unless augmentation is on or the user opted out.

    Random weights (``none``) are not cached: they are a function of the seed, not of a weights file.
    Adversarial training is not cached either: its attacks need gradients through the backbone to the pixels.
    """
    return (cfg.train.feature_cache == "auto" and not cfg.augment.active and cfg.backbone.weights != "none"
            and cfg.train.adversarial == "none")


def train_transfer(tm: TransferModel, data: PreparedData, cfg: RunConfig, job: Optional[Job] = None, *,
                   val_held_out: bool = False) -> TrainResult:
    """Run the planned phases on ``data``'s train split, validating on its val split.

    ``job`` takes the events; its ``workdir`` (when set) keeps each phase's best checkpoint. Raises
    ``events.Cancelled`` when the job is asked to stop (checked between batches). ``val_held_out``: the val
    split is a cross-validation fold's held-out examples, which a logistic head must not pool into its fit.
    """
    job = job or Job()
    result = TrainResult(tm=tm)
    target_depth = frozen_block_count(cfg.backbone.frozen_depth, tm.n_blocks)
    epoch_offset = 0
    for phase, epochs in planned_phases(cfg, tm.n_blocks):
        if phase == "head":
            # Random blocks have nothing to protect from a new head's first, large gradients: train them too.
            freeze(tm) if tm.pretrained else freeze_to(tm, target_depth)
            learning_rate = cfg.train.learning_rate
        else:
            freeze_to(tm, target_depth)
            learning_rate = cfg.train.learning_rate * cfg.train.fine_tune_lr_factor
        cached = phase == "head" and uses_feature_cache(cfg)
        logistic = phase == "head" and uses_logistic_head(cfg)
        job.emit(PhaseStarted(run_id=job.run_id, phase=phase, epochs=epochs, learning_rate=learning_rate,
                              trainable_params=tm.trainable_params(), cached_features=cached))
        callback = EventCallback(job, phase, epochs, epoch_offset=epoch_offset)
        linear = None
        if logistic:
            result.test_probabilities, linear = _fit_logistic_head(tm, data, cfg, callback, job, val_held_out)
        else:
            fit = _fit_head_on_features if cached else _fit_full_model
            result.test_probabilities = fit(tm, data, cfg, epochs, learning_rate, callback, job)
        result.history += callback.history
        result.phases.append({"phase": phase, "epochs_run": len(callback.history), "epochs": epochs,
                              "learning_rate": learning_rate, "cached_features": cached,
                              "trainable_params": tm.trainable_params(), "frozen_depth": tm.frozen_depth})
        if linear is not None:
            result.phases[-1].update(linear.record())
        if cfg.train.adversarial != "none":
            result.phases[-1]["adversarial"] = {"method": cfg.train.adversarial,
                                                "epsilon": cfg.train.adversarial_epsilon,
                                                "ratio": cfg.train.adversarial_ratio}
        epoch_offset += len(callback.history)
    freeze_to(tm, target_depth)
    return result


def _fit_full_model(tm, data, cfg, epochs, learning_rate, callback, job: Job):
    train, val = data.split("train"), data.split("val")
    size, batch = cfg.backbone.image_size, cfg.train.batch_size
    # Frozen blocks and no augmentation: train the upper layers (the full model's own) on their stored output.
    boundary = boundary_training_data(tm, data, cfg, job)
    if boundary is not None:
        model, train_ds, val_ds = boundary.model, boundary.train, boundary.val
    else:
        model = tm.model
        train_ds = make_dataset(train, size, batch, shuffle=True, seed=cfg.seed)
        # No validation rows: the final model of a cross-validated run trains on every sample (core/tasks/image/cross_validation.py).
        val_ds = make_dataset(val, size, batch) if len(val) else None
    if cfg.train.adversarial != "none":
        # fit() the wrapper: it shares tm.model's weights and freezing, and tm.model stays a plain model.
        model = AdversarialTrainer(tm.model, cfg.train.adversarial, cfg.train.adversarial_epsilon,
                                   cfg.train.adversarial_ratio, seed=cfg.seed)
    compile_model(model, learning_rate, cfg, steps=epochs * math.ceil(len(train) / batch))
    if boundary is not None:  # small steps: several per compiled call (progress and Stop every few batches)
        model.steps_per_execution = boundary.steps_per_execution
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0, shuffle=False,  # shuffled above
              class_weight=class_weights(cfg, train.label_indices(), data.num_classes),
              callbacks=standard_callbacks(cfg, job.workdir, callback.phase, learning_rate,
                                           chance=chance_accuracy(val.label_indices()) if len(val) else None)
              + [callback])


def _fit_head_on_features(tm, data, cfg, epochs, learning_rate, callback, job: Job):
    size, batch = cfg.backbone.image_size, cfg.train.batch_size
    tables = {name: data.split(name) for name in ("train", "val", "test")}
    # A private extractor (kept, traced, for the next run in this process), not this run's model, whose
    # backbone a fine-tune phase may change later
    features, _ = cached_split_features(ExtractorOnDemand(cfg, data.num_classes), tables, cfg.backbone.weights,
                                        size, batch, job)
    # In-memory copies of the memory maps, with their labels.
    splits = {name: (np.asarray(features[name]), tables[name].label_indices().astype("int32")) for name in tables}
    del features
    head = build_head_model(splits["train"][0].shape[1], data.num_classes, cfg)
    copy_head_weights(tm.model, head)  # same starting point as the full model's head
    compile_model(head, learning_rate, cfg, steps=epochs * math.ceil(len(splits["train"][1]) / batch))
    # One compiled call per epoch instead of one Keras step per batch (fast_head.py): the same batches
    # (rows shuffled with the run seed, as make_dataset shuffles the images), the same steps and callbacks.
    fit_head(head, splits["train"], splits["val"], epochs=epochs, batch_size=batch, seed=cfg.seed,
             class_weight=class_weights(cfg, splits["train"][1], data.num_classes),
             callbacks=standard_callbacks(cfg, job.workdir, callback.phase, learning_rate,
                                          chance=chance_accuracy(splits["val"][1])) + [callback])
    copy_head_weights(head, tm.model)
    # The full model computes exactly head(features) for these rows (frozen backbone, augmentation off at
    # inference), so its test predictions come from the cache too. tests/test_training.py checks this.
    return predict_head(head, splits["test"][0])


def _fit_logistic_head(tm, data, cfg, callback, job: Job, val_held_out: bool):
    """The head as a logistic regression on the frozen features of train (+ val unless ``val_held_out``):
    ``linear_head.py``. Returns (test probabilities or None, the fit). Features come from the feature cache
    when the config uses it; otherwise (a cross-validation fold's rows are no cached split) they are
    computed here, in memory, and the test split is left to the caller's evaluation."""
    size, batch = cfg.backbone.image_size, cfg.train.batch_size
    names = ["train"] + ([] if val_held_out else ["val"]) + (["test"] if uses_feature_cache(cfg) else [])
    tables = {name: data.split(name) for name in names if len(data.split(name))}
    if uses_feature_cache(cfg):
        features, _ = cached_split_features(ExtractorOnDemand(cfg, data.num_classes), tables, cfg.backbone.weights,
                                            size, batch, job)
    else:
        extractor = tm.feature_extractor()
        forward = forward_function(extractor, size)
        features = {name: extract_features(extractor, table, size, batch, job, task=f"extract features ({name})",
                                           forward=forward) for name, table in tables.items()}
    fitted = [name for name in ("train", "val") if name in tables]
    x = np.concatenate([np.asarray(features[name]) for name in fitted])
    y = np.concatenate([tables[name].label_indices() for name in fitted])
    callback.set_model(tm.model)
    callback.on_epoch_begin(0)
    linear = fit_linear_head(x, y, data.num_classes, seed=cfg.seed,
                             class_weight=class_weights(cfg, y, data.num_classes))  # weighed on what it fits
    set_linear_head(tm.model, linear)
    callback.on_epoch_end(0, linear.history_row())
    if "test" not in tables or "test" not in features:
        return None, linear
    head = build_head_model(x.shape[1], data.num_classes, cfg)
    set_linear_head(head, linear)
    # As for the gradient head on cached features: the full model computes head(features) for these rows.
    return predict_head(head, features["test"]), linear  # no predict function to trace for one call


def class_weights(cfg: RunConfig, labels: np.ndarray, num_classes: int) -> Optional[dict[int, float]]:
    """Keras ``fit``'s ``class_weight`` for ``train.class_weight``: ``None`` for ``none``; for ``balanced``,
    ``n_samples / (n_classes * count)`` of each class in ``labels`` (the train split's), so every class weighs
    the same in the loss. A class absent from ``labels`` keeps weight 1 (it has no examples to weigh).

    >>> from lepton_widgets.config import RunConfig
    >>> cfg = RunConfig.from_dict({"train": {"class_weight": "balanced"}})
    >>> class_weights(cfg, np.array([0, 0, 0, 1]), 3)
    {0: 0.6666666666666666, 1: 2.0, 2: 1.0}
    """
    if cfg.train.class_weight != "balanced":
        return None
    labels = np.asarray(labels).astype(np.int64)
    present = np.unique(labels)
    weights = {index: 1.0 for index in range(num_classes)}
    if len(present):
        weights.update(zip(present.tolist(), compute_class_weight("balanced", classes=present, y=labels).tolist()))
    return weights


def compile_model(model: keras.Model, learning_rate: float, cfg: RunConfig, steps: int) -> None:
    """Adam with the configured schedule, sparse categorical cross-entropy and accuracy."""
    schedule = learning_rate
    if cfg.train.lr_schedule == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, steps), alpha=0.01)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def chance_accuracy(labels: np.ndarray) -> Optional[float]:
    """The validation accuracy of always answering the commonest class (``None`` for no labels)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return None
    return float(np.bincount(labels.astype(np.int64)).max() / labels.size)


def standard_callbacks(cfg: RunConfig, workdir: Optional[Path], phase: str, learning_rate: float,
                       chance: Optional[float] = None) -> list:
    """Early stopping (best val loss among epochs above chance), the plateau schedule and a checkpoint.

    ``chance``: the validation accuracy of a model that learnt nothing (see :func:`chance_accuracy`); when
    left out it is one over the model's number of outputs.
    """
    callbacks: list = []
    patience = cfg.train.early_stopping_patience
    if patience > 0:
        callbacks.append(KeepBestLearned(patience=patience, chance=chance))
    if cfg.train.lr_schedule == "plateau":
        callbacks.append(PlateauAfterLearning(monitor="val_loss", factor=0.5, patience=1,
                                              min_lr=learning_rate / 100, chance=chance))
    if workdir is not None:
        checkpoint = Path(workdir) / f"checkpoint_{phase}.weights.h5"
        callbacks.append(keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_loss",
                                                         save_best_only=True, save_weights_only=True))
    return callbacks


def seed_everything(seed: int) -> None:
    """One seed for Python, NumPy and TensorFlow (initialisers, dropout, tf.data shuffles)."""
    keras.utils.set_random_seed(seed)
    np.random.seed(seed)
