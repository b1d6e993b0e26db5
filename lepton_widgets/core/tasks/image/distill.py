"""Distillation: one member-sized student learns the ensemble's soft labels (Hinton et al. 2015).

The student starts from a member's trained model (the best one by validation accuracy) and is trained for a
few epochs on the train split, with the ensemble's probabilities as targets (cross-entropy to soft labels,
temperature 1) and with the member's own freezing, so a pretrained backbone's frozen blocks and BatchNorm
statistics stay as they were. It validates against the true labels, so its curves mean what a normal run's
mean, and like a normal run it keeps the epoch with the best validation loss. The result has the size and
speed of one member.

Soft labels are given in the train table's row order; the images stream from ``make_dataset`` in that same
order and are paired with their targets batch by batch. Whole batches are then shuffled in a small buffer
(row-level shuffling would need the labels inside the pipeline's index shuffle).

Example (trains, so shown rather than run; tests/test_fusion.py runs it)::

    history = distill(student, cfg, prepared.split("train"), soft_labels, prepared.split("val"), epochs=3)
"""

from __future__ import annotations

import math
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from lepton_widgets.config import RunConfig
from lepton_widgets.core.base.callbacks import EventCallback
from lepton_widgets.core.data import SampleTable, make_dataset
from lepton_widgets.core.base.events import PhaseStarted
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.image.model import BACKBONE_LAYER, attach

#: Batches held by the shuffle buffer: enough to mix the order, bounded in memory at any dataset size.
SHUFFLE_BATCHES = 16


def can_be_student(model: keras.Model) -> bool:
    """Whether ``model`` is a plain transfer model (an ensemble run cannot be fine-tuned as one model)."""
    return BACKBONE_LAYER in {layer.name for layer in model.layers}


def distill(student: keras.Model, cfg: RunConfig, train: SampleTable, soft_labels: np.ndarray, val: SampleTable,
            epochs: int, job: Optional[Job] = None) -> list[dict]:
    """Train ``student`` (built for ``cfg``) on ``soft_labels`` for ``train``'s rows; returns the epoch rows.

    The learning rate is the member's fine-tuning rate (``learning_rate * fine_tune_lr_factor``): the student
    already predicts well and should move towards the ensemble, not start over.
    """
    job = job or Job()
    if len(soft_labels) != len(train):
        raise ValueError(f"{len(soft_labels)} soft labels for {len(train)} training rows")
    if epochs < 1:
        raise ValueError(f"distillation needs at least 1 epoch, got {epochs}")
    tm = attach(student, cfg)
    size, batch = cfg.backbone.image_size, cfg.train.batch_size
    classes = soft_labels.shape[1]
    images = make_dataset(train, size, batch, with_labels=False)
    targets = tf.data.Dataset.from_tensor_slices(np.asarray(soft_labels, np.float32)).batch(batch)
    buffer = min(SHUFFLE_BATCHES, math.ceil(len(train) / batch))
    train_ds = tf.data.Dataset.zip((images, targets)).shuffle(buffer, seed=cfg.seed, reshuffle_each_iteration=True)
    val_ds = make_dataset(val, size, batch).map(lambda x, y: (x, tf.one_hot(y, classes)))
    learning_rate = cfg.train.learning_rate * cfg.train.fine_tune_lr_factor
    student.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                    loss=keras.losses.CategoricalCrossentropy(),
                    metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    job.emit(PhaseStarted(run_id=job.run_id, phase="distill", epochs=epochs, learning_rate=learning_rate,
                          trainable_params=tm.trainable_params(), cached_features=False))
    callback = EventCallback(job, "distill", epochs)
    # Like a normal run (training.standard_callbacks): keep the epoch with the best validation loss.
    keep_best = keras.callbacks.EarlyStopping(monitor="val_loss", patience=epochs, restore_best_weights=True)
    student.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0, shuffle=False,  # shuffled above
                callbacks=[keep_best, callback])
    return callback.history
