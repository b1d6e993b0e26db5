"""Keras callbacks that connect ``fit``/``predict`` to the engine's event sink and stop event.

Stopping raises :class:`~lepton_widgets.core.events.Cancelled` from a batch hook instead of setting
``model.stop_training``: Keras would otherwise still run the epoch's validation pass before stopping,
which on a CPU can take longer than the user is willing to wait after pressing Stop.

Example:
    >>> import threading
    >>> from lepton_widgets.core.events import ListSink
    >>> sink, stop = ListSink(), threading.Event()
    >>> callback = EventCallback(sink, run_id="r1", phase="head", epochs=3, stop_event=stop)
"""

from __future__ import annotations

import math
import threading
import time
from typing import Optional

import keras

from lepton_widgets.core.events import BatchProgress, EpochEnded, EventSink, Progress, check_stop


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

    def __init__(
        self,
        sink: EventSink,
        run_id: str,
        phase: str,
        epochs: int,
        stop_event: Optional[threading.Event] = None,
        epoch_offset: int = 0,
        batch_interval: float = 0.5,
    ) -> None:
        super().__init__()
        self.sink, self.run_id, self.phase = sink, run_id, phase
        self.epochs, self.epoch_offset = epochs, epoch_offset
        self.stop_event = stop_event
        self.batch_interval = batch_interval
        self.history: list[dict] = []
        self._epoch = 0
        self._last_batch_event = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1
        check_stop(self.stop_event)

    def on_train_batch_end(self, batch, logs=None):
        check_stop(self.stop_event)
        now = time.monotonic()
        if now - self._last_batch_event >= self.batch_interval:
            self._last_batch_event = now
            steps = (self.params or {}).get("steps") or 0
            self.sink(BatchProgress(run_id=self.run_id, phase=self.phase, epoch=self._epoch + self.epoch_offset,
                                    step=batch + 1, steps=int(steps), metrics=_plain(logs)))

    def on_test_batch_end(self, batch, logs=None):
        check_stop(self.stop_event)

    def on_epoch_end(self, epoch, logs=None):
        metrics = _plain(logs)
        learning_rate = _current_learning_rate(self.model)
        if learning_rate is not None:
            metrics["learning_rate"] = learning_rate
        row = {"epoch": epoch + 1 + self.epoch_offset, "phase": self.phase, **metrics}
        self.history.append(row)
        self.sink(EpochEnded(run_id=self.run_id, phase=self.phase, epoch=row["epoch"],
                             epochs=self.epochs + self.epoch_offset, metrics=metrics))


class PredictProgress(keras.callbacks.Callback):
    """Progress events and stop checks during ``model.predict`` (feature extraction, evaluation)."""

    def __init__(self, sink: EventSink, run_id: str, task: str, total: int,
                 stop_event: Optional[threading.Event] = None, interval: float = 0.25) -> None:
        super().__init__()
        self.sink, self.run_id, self.task, self.total = sink, run_id, task, total
        self.stop_event, self.interval = stop_event, interval
        self._last = 0.0
        self.batch_size = 1

    def on_predict_begin(self, logs=None):
        self.sink(Progress(run_id=self.run_id, task=self.task, done=0, total=self.total))

    def on_predict_batch_end(self, batch, logs=None):
        check_stop(self.stop_event)
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            done = min(self.total, (batch + 1) * self.batch_size)
            self.sink(Progress(run_id=self.run_id, task=self.task, done=done, total=self.total))

    def on_predict_end(self, logs=None):
        self.sink(Progress(run_id=self.run_id, task=self.task, done=self.total, total=self.total))


def _current_learning_rate(model) -> Optional[float]:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (TypeError, ValueError, AttributeError):
        return None
