"""What fusion needs from a task's data, behind one face: :class:`FusionData` (and :class:`FusionKit`).

The fusion engine (``core/fusion/run.py``, a layer above the tasks) never asks which kind of data it has. A task's fusion kit
(``core/tasks/<x>/fusion.py``, reached through ``task.fusion_kit()``) loads the members' shared data and
models and returns a :class:`FusionData`; the engine then only calls its methods: predict a split, give the
ensemble model its inputs, train a distilled student, write the task's own run files.

:class:`InMemoryFusionData` is the part texts and tables share: every split is one model input held in memory
(strings or token ids for texts, a dict of columns for tables), so prediction and distillation are the same
for both.

Example:
    >>> import keras, numpy as np
    >>> inputs = keras.Input((3,), name="x")
    >>> model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    >>> data = InMemoryFusionData(None, {"val": np.ones((5, 3), "float32")})
    >>> data.predict(model, "val", "doc").shape, data.predict(model, "val", "doc", rows=2).shape
    ((5, 2), (2, 2))
"""

from __future__ import annotations

from typing import Any, Optional

import keras
import numpy as np
import tensorflow as tf

from lepton_widgets.core.base.callbacks import EventCallback, PredictProgress
from lepton_widgets.core.base.events import PhaseStarted
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data import PreparedData, SampleTable

#: The name of a stored ensemble model (``core/fusion/ensemble.py`` gives it): it cannot be a distilled student.
ENSEMBLE_NAME = "lepton_ensemble"

PREDICT_BATCH = 64


class FusionData:
    """The members' shared data (``prepared``: rows, report and split) and the task's part of fusing.

    ``job`` carries where events go and the stop request; the engine replaces it with the fused run's own
    Job once that run exists. Subclasses implement :meth:`predict`, :meth:`ensemble_inputs` and
    :meth:`distill`; the rest has defaults that suit most tasks.
    """

    def __init__(self, prepared: Optional[PreparedData], job: Optional[Job] = None) -> None:
        self.prepared = prepared
        self.job = job or Job()

    def split(self, name: str) -> SampleTable:
        return self.prepared.split(name)

    def load_model(self, record) -> keras.Model:
        """A member's model, loaded so that it predicts this data."""
        return record.load_model()

    def predict(self, model: keras.Model, split: str, task: str, rows: Optional[int] = None) -> np.ndarray:
        """Class probabilities of ``model`` for the ``split`` rows (the first ``rows`` only, when given)."""
        raise NotImplementedError

    def ensemble_inputs(self, model: keras.Model):
        """Fresh ``keras.Input`` s shaped like ``model``'s inputs (the fused ensemble takes what a member takes)."""
        raise NotImplementedError

    def can_be_student(self, model: keras.Model) -> bool:
        """Whether ``model`` can be fine-tuned as one model (an ensemble cannot)."""
        return model.name != ENSEMBLE_NAME

    def distill(self, student: keras.Model, cfg, soft_labels: np.ndarray, epochs: int) -> list[dict]:
        """Train ``student`` towards ``soft_labels`` (train rows, in order); returns the epoch rows."""
        raise NotImplementedError

    def write_run_files(self, writer, base) -> None:
        """Write what a run of this task holds besides the common files (the fused run's config is ``base``'s)."""

    def extra_metrics(self, y_true: np.ndarray, probs: np.ndarray) -> dict:
        """Metrics this task adds to ``metrics.json`` (tables: ROC AUC)."""
        return {}


class FusionKit:
    """A task's part of fusion: what must match between members, and how to load their data.

    ``input_fields(record)``: labelled values every member must share so that one fused model takes one
    input (pictures: the image size); ``start_fields(record)``: what soup members must share, architecture
    and initial weights (the same start); ``load(records, job)``: the members' data as a :class:`FusionData`.
    """

    def input_fields(self, record) -> dict[str, Any]:
        return {}

    def start_fields(self, record) -> dict[str, Any]:
        raise NotImplementedError

    def load(self, records: list, job: Optional[Job] = None) -> FusionData:
        raise NotImplementedError


def _head(inputs: Any, rows: Optional[int]) -> Any:
    return inputs if rows is None else keras.tree.map_structure(lambda v: v[:rows], inputs)


def _rows(inputs: Any) -> int:
    return int(keras.tree.flatten(inputs)[0].shape[0])


class InMemoryFusionData(FusionData):
    """Splits held in memory as model inputs: ``inputs[split]`` is what ``model.predict`` takes for them."""

    def __init__(self, prepared: Optional[PreparedData], inputs: dict[str, Any], job: Optional[Job] = None) -> None:
        super().__init__(prepared, job)
        self.inputs = inputs

    def _dataset(self, inputs: Any, batch: int) -> tf.data.Dataset:
        # tf.data, not numpy: string columns and string tensors cannot go through predict/fit as numpy
        return tf.data.Dataset.from_tensor_slices(inputs).batch(batch)

    def predict(self, model, split, task, rows=None):
        inputs = _head(self.inputs[split], rows)
        progress = PredictProgress(self.job, task, total=_rows(inputs))
        progress.batch_size = PREDICT_BATCH
        return np.asarray(model.predict(self._dataset(inputs, PREDICT_BATCH), verbose=0, callbacks=[progress]))

    def ensemble_inputs(self, model):
        def fresh(tensor, name):
            return keras.Input(shape=tuple(tensor.shape[1:]), dtype=tensor.dtype, name=name)

        if isinstance(model.input, dict):
            return {name: fresh(tensor, name) for name, tensor in model.input.items()}
        return fresh(model.inputs[0], "inputs")

    def distill(self, student, cfg, soft_labels, epochs):
        """Cross-entropy to the soft labels at the member's fine-tuning rate (``learning_rate *
        fine_tune_lr_factor``: the student already predicts well and should move towards the ensemble,
        not start over), validated on the true labels, keeping the epoch with the best validation loss."""
        train, val = self.inputs["train"], self.inputs["val"]
        if len(soft_labels) != _rows(train):
            raise ValueError(f"{len(soft_labels)} soft labels for {_rows(train)} training rows")
        if epochs < 1:
            raise ValueError(f"distillation needs at least 1 epoch, got {epochs}")
        batch, classes = cfg.train.batch_size, soft_labels.shape[1]
        targets = np.asarray(soft_labels, np.float32)
        train_ds = tf.data.Dataset.from_tensor_slices((train, targets)).shuffle(
            len(targets), seed=cfg.seed, reshuffle_each_iteration=True).batch(batch)
        y_val = keras.utils.to_categorical(self.split("val").label_indices(), classes).astype("float32")
        val_ds = tf.data.Dataset.from_tensor_slices((val, y_val)).batch(batch)
        learning_rate = cfg.train.learning_rate * cfg.train.fine_tune_lr_factor
        student.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                        loss=keras.losses.CategoricalCrossentropy(),
                        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
        trainable = int(sum(np.prod(w.shape) for w in student.trainable_weights))
        self.job.emit(PhaseStarted(run_id=self.job.run_id, phase="distill", epochs=epochs,
                                   learning_rate=learning_rate, trainable_params=trainable))
        callback = EventCallback(self.job, "distill", epochs)
        keep_best = keras.callbacks.EarlyStopping(monitor="val_loss", patience=epochs, restore_best_weights=True)
        student.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0, shuffle=False,  # shuffled above
                    callbacks=[keep_best, callback])
        return callback.history
