"""Keras callbacks that connect ``fit``/``predict`` to a :class:`~lepton_widgets.core.base.job.Job`: its events
go to the job's sink, and the job's stop request is checked on every batch.

Stopping raises :class:`~lepton_widgets.core.base.events.Cancelled` from a batch hook instead of setting
``model.stop_training``: Keras would otherwise still run the epoch's validation pass before stopping,
which on a CPU can take longer than the user is willing to wait after pressing Stop.

Example:
    >>> from lepton_widgets.core.base.events import ListSink
    >>> sink = ListSink()
    >>> callback = EventCallback(Job(run_id="r1", sink=sink), phase="head", epochs=3)
    >>> callback.on_epoch_begin(0); callback.job.stop()
    >>> try:
    ...     callback.on_train_batch_end(0)  # the next batch after a Stop raises
    ... except Cancelled:
    ...     print("cancelled")
    cancelled
"""

from __future__ import annotations

import math
import time
from typing import Optional

import keras

from lepton_widgets.core.base.events import BatchProgress, Cancelled, EpochEnded, Progress  # noqa: F401 (doc)
from lepton_widgets.core.base.job import Job


def _plain(logs: Optional[dict]) -> dict:
    """Metric logs as JSON-friendly floats (Keras may hand over numpy or tensor scalars)."""
    out = {}
    for key, value in (logs or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        out[key] = number if math.isfinite(number) else None
    return out


class EventCallback(keras.callbacks.Callback):
    """Sends ``BatchProgress`` (at most every ``batch_interval`` seconds) and ``EpochEnded`` events.

    ``epoch_offset`` numbers epochs across phases (head then fine-tune) so curves continue.
    """

    def __init__(self, job: Job, phase: str, epochs: int, *, epoch_offset: int = 0,
                 batch_interval: float = 0.5) -> None:
        super().__init__()
        self.job, self.phase = job, phase
        self.epochs, self.epoch_offset = epochs, epoch_offset
        self.batch_interval = batch_interval
        self.history: list[dict] = []
        self._epoch = 0
        self._last_batch_event = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1
        self.job.check_stop()

    def on_train_batch_end(self, batch, logs=None):
        self.job.check_stop()
        now = time.monotonic()
        if now - self._last_batch_event >= self.batch_interval:
            self._last_batch_event = now
            steps = (self.params or {}).get("steps") or 0
            self.job.emit(BatchProgress(run_id=self.job.run_id, phase=self.phase,
                                        epoch=self._epoch + self.epoch_offset, step=batch + 1, steps=int(steps),
                                        metrics=_plain(logs)))

    def on_test_batch_end(self, batch, logs=None):
        self.job.check_stop()

    def on_epoch_end(self, epoch, logs=None):
        metrics = _plain(logs)
        learning_rate = _current_learning_rate(self.model)
        if learning_rate is not None:
            metrics["learning_rate"] = learning_rate
        row = {"epoch": epoch + 1 + self.epoch_offset, "phase": self.phase, **metrics}
        self.history.append(row)
        self.job.emit(EpochEnded(run_id=self.job.run_id, phase=self.phase, epoch=row["epoch"],
                             epochs=self.epochs + self.epoch_offset, metrics=metrics))


class PredictProgress(keras.callbacks.Callback):
    """Progress events and stop checks during ``model.predict`` (feature extraction, evaluation)."""

    def __init__(self, job: Job, task: str, total: int, *, interval: float = 0.25) -> None:
        super().__init__()
        self.job, self.task, self.total = job, task, total
        self.interval = interval
        self._last = 0.0
        self.batch_size = 1

    def on_predict_begin(self, logs=None):
        self.job.emit(Progress(run_id=self.job.run_id, task=self.task, done=0, total=self.total))

    def on_predict_batch_end(self, batch, logs=None):
        self.job.check_stop()
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            done = min(self.total, (batch + 1) * self.batch_size)
            self.job.emit(Progress(run_id=self.job.run_id, task=self.task, done=done, total=self.total))

    def on_predict_end(self, logs=None):
        self.job.emit(Progress(run_id=self.job.run_id, task=self.task, done=self.total, total=self.total))


def _model_chance(model) -> Optional[float]:
    """One over the model's number of outputs (its classes), or ``None`` when that cannot be read."""
    try:
        units = int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return 1.0 / units if units > 1 else None


class _AfterLearning:
    """Mixin: an epoch whose validation accuracy is still at chance is skipped by the wrapped callback.

    Why: a model that has learnt nothing predicts about the class frequencies, and its validation loss
    (about ln K for K balanced classes) is a baseline that a backbone trained from scratch cannot beat for
    its first epochs: its BatchNorm statistics are still settling, so its validation predictions are confident
    and often wrong even while its validation accuracy climbs (the README's sound example: val loss 2.30 at
    chance accuracy, then 2.51, 2.77, 2.44 while accuracy went 0.10 -> 0.14 -> 0.38 -> 0.87). Judged by val
    loss alone, the untrained first epoch was the "best" one, and early stopping restored it.
    """

    def _setup_chance(self, chance: Optional[float]) -> None:
        self.chance = chance
        self.skipped_at_chance = 0

    def _at_chance(self, logs) -> bool:
        chance = self.chance if self.chance is not None else _model_chance(self.model)
        accuracy = (logs or {}).get("val_accuracy")
        if chance is None or accuracy is None:
            return False
        return float(accuracy) <= chance + 1e-6  # float32 logs: 0.1 arrives as 0.10000000149


class KeepBestLearned(_AfterLearning, keras.callbacks.EarlyStopping):
    """Early stopping on validation loss that never keeps, restores or counts patience on an epoch whose
    validation accuracy is at chance (``chance``: the commonest class's share; default one over the classes).

    When every epoch is at chance nothing is restored: the last weights are no worse than the first ones.

    Example:
        >>> stop = KeepBestLearned(patience=3, chance=0.1)
        >>> stop.monitor, stop.restore_best_weights
        ('val_loss', True)
    """

    def __init__(self, patience: int, chance: Optional[float] = None, monitor: str = "val_loss") -> None:
        super().__init__(monitor=monitor, patience=patience, restore_best_weights=True)
        self._setup_chance(chance)

    def on_epoch_end(self, epoch, logs=None):
        if self._at_chance(logs):
            self.skipped_at_chance += 1
            return
        super().on_epoch_end(epoch, logs)


class PlateauAfterLearning(_AfterLearning, keras.callbacks.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` that does not halve the learning rate while validation accuracy is at chance
    (a from-scratch model's rising validation loss in its first epochs is not a plateau)."""

    def __init__(self, chance: Optional[float] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._setup_chance(chance)

    def on_epoch_end(self, epoch, logs=None):
        if self._at_chance(logs):
            self.skipped_at_chance += 1
            # Keras' own callback records the rate in every epoch's logs; keep the history's columns equal
            # (the tuner reads the history row by row).
            rate = _current_learning_rate(self.model)
            if logs is not None and rate is not None:
                logs["learning_rate"] = rate
            return
        super().on_epoch_end(epoch, logs)


def _current_learning_rate(model) -> Optional[float]:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (TypeError, ValueError, AttributeError):
        return None
