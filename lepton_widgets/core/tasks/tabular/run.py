"""One tabular run end to end: table -> preprocessing + MLP -> training -> evaluation -> run store.

``run_experiment`` sends configs whose dataset is a table here, so ``lepton train``,
:func:`lepton_widgets.train` and the workbench's Train button all train tables the same way. The run is
stored like an image run (``config.json``, ``data_report.*``, ``split.json``, ``env.json``, events and
``history.jsonl``, ``phases.json``, ``evaluation.json``/``predictions.csv``/``metrics.json``,
``model.keras``) plus ``tabular.json`` (schema, encoding, transfer); ``run.json`` says
``"modality": "tabular"``. ``metrics.json`` adds ``roc_auc`` (binary, or one-vs-rest macro).

What the config means for a table: ``train.epochs`` epochs of one phase (``train``) with EarlyStopping
on ``val_loss`` (``train.early_stopping_patience``), ``learning_rate``, ``lr_schedule``, ``batch_size``,
``dropout``, ``l2`` and ``head_units`` as for images. ``backbone.weights = "run:..."`` transfers from a
tabular run (``transfer.py``); every other backbone setting (name, weights, frozen depth, image size),
``augment`` and ``train.fine_tune_epochs`` have no meaning for a table and are ignored, with a note in
``tabular.json``. ``train.adversarial`` is refused (attacks on pixels).

Example (trains for real; tests/test_tabular.py runs it)::

    cfg = RunConfig.from_dict({"data": {"dataset": "german_credit", "max_per_class": None},
                               "train": {"epochs": 20}})
    record = run_tabular_experiment(cfg, store=RunStore("/tmp/lepton-doc-runs"))
    record.metrics["roc_auc"]
"""

from __future__ import annotations

import math
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.backbones.run_backbone import is_run_weights
from lepton_widgets.core.base.callbacks import EventCallback
from lepton_widgets.core.base.envcard import environment_card
from lepton_widgets.core.evaluation import evaluate_predictions
from lepton_widgets.core.base.events import PhaseStarted, RunFinished
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.runs.recorder import RunRecorder
from lepton_widgets.core.runs.store import RunRecord, RunStore
from lepton_widgets.core.tasks.tabular.data import TabularData, prepare_table
from lepton_widgets.core.tasks.tabular.model import (
    build_tabular_model,
    fit_encoding,
    hidden_widths,
    trainable_params,
)
from lepton_widgets.core.tasks.tabular.schema import TableSchema
from lepton_widgets.core.tasks.tabular.transfer import (
    TABULAR_FILE,
    copy_source_weights,
    merge_encoding,
    open_source,
)
from lepton_widgets.core.tasks.image.training import (
    class_weights,
    compile_model,
    seed_everything,
    standard_callbacks,
)

PHASE = "train"


def roc_auc(y_true: np.ndarray, probs: np.ndarray, n_classes: int) -> Optional[float]:
    """ROC AUC: of the second class's probability for two classes, one-vs-rest macro for more; ``None``
    when the split lacks a class (AUC is undefined then).

    >>> roc_auc(np.array([0, 1, 1]), np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]), 2)
    1.0
    >>> three = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.3, 0.4, 0.3]])
    >>> roc_auc(np.array([0, 1, 2, 1]), three, 3), roc_auc(np.array([0, 1, 1, 1]), three, 3) is None
    (1.0, True)
    """
    if len(np.unique(y_true)) < n_classes:
        return None
    if n_classes == 2:
        return float(roc_auc_score(y_true, probs[:, 1]))
    return float(roc_auc_score(y_true, probs, multi_class="ovr", average="macro", labels=np.arange(n_classes)))


class ValidationAUC(keras.callbacks.Callback):
    """Adds ``val_roc_auc`` to each epoch's logs (before the event callback sends them on)."""

    def __init__(self, inputs: dict, labels: np.ndarray, n_classes: int) -> None:
        super().__init__()
        self.inputs, self.labels, self.n_classes = inputs, labels, n_classes

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            probs = np.asarray(self.model.predict(batches(self.inputs), verbose=0))
            logs["val_roc_auc"] = roc_auc(self.labels, probs, self.n_classes)


def batches(inputs: dict, labels: Optional[np.ndarray] = None, batch_size: int = 256,
            shuffle_seed: Optional[int] = None) -> tf.data.Dataset:
    """A tf.data pipeline of the model's input dict (string columns cannot go through ``fit`` as numpy)."""
    ds = tf.data.Dataset.from_tensor_slices(inputs if labels is None else (inputs, labels.astype("int32")))
    if shuffle_seed is not None:
        n = len(next(iter(inputs.values())))
        ds = ds.shuffle(n, seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def ignored_settings(cfg: RunConfig) -> list[str]:
    """Notes on the config values that mean nothing for a table (stored, not silently dropped)."""
    notes = []
    if not is_run_weights(cfg.backbone.weights):
        notes.append(f"backbone {cfg.backbone.name!r} with weights {cfg.backbone.weights!r} ignored: a table trains "
                     f"its own MLP from scratch (weights: run:<tabular run> transfers from a table)")
    notes.append("backbone.frozen_depth, backbone.image_size and train.fine_tune_epochs do not apply to tables")
    if cfg.augment.active:
        notes.append("augment settings ignored: image augmentations do not apply to tables")
    if cfg.train.head_fit != "gradient":
        notes.append(f"train.head_fit {cfg.train.head_fit!r} ignored: it is for pictures and sounds; a table's "
                     "network trains by gradient")
    return notes


def check_tabular_config(cfg: RunConfig) -> None:
    """Refuse what cannot work on a table, with a message (rather than a crash half-way)."""
    if cfg.train.adversarial != "none":
        raise ConfigError(f"train.adversarial={cfg.train.adversarial!r} attacks image pixels; it does not apply to "
                          f"the table {cfg.data.dataset!r}. Set train.adversarial: none")


def _plan_model(cfg: RunConfig, data: TabularData):
    _, train_features = data.split("train")
    schema: TableSchema = data.schema
    encoding = fit_encoding(schema, train_features)
    transfer, source, shared = None, None, []
    widths = hidden_widths(cfg.train.head_units, cfg.train.hidden_layers)
    if is_run_weights(cfg.backbone.weights):
        source = open_source(cfg.backbone.weights)
        encoding, shared = merge_encoding(schema, encoding, source)
        widths = source.widths  # the copied hidden layers fix the widths
    model = build_tabular_model(schema, encoding, data.prepared.num_classes, widths=widths,
                                dropout=cfg.train.dropout, l2=cfg.train.l2, seed=cfg.seed)
    if source is not None:
        transfer = copy_source_weights(model, schema, encoding, source, shared)
        if cfg.train.head_units and hidden_widths(cfg.train.head_units, cfg.train.hidden_layers) != widths:
            transfer["note"] = f"train.head_units ignored: the hidden widths {widths} follow the source run"
    return model, encoding, transfer


def _fit(model, data: TabularData, cfg: RunConfig, job: Job) -> list[dict]:
    """Train the one phase under ``job`` (the run's id, events, Stop and checkpoint folder); the epoch rows."""
    schema, n_classes = data.schema, data.prepared.num_classes
    (train, train_x), (val, val_x) = data.split("train"), data.split("val")
    train_inputs, val_inputs = schema.model_inputs(train_x), schema.model_inputs(val_x)
    y_train, y_val = train.label_indices(), val.label_indices()
    lr, epochs, batch = cfg.train.learning_rate, cfg.train.epochs, cfg.train.batch_size
    job.emit(PhaseStarted(run_id=job.run_id, phase=PHASE, epochs=epochs, learning_rate=lr,
                          trainable_params=trainable_params(model)))
    compile_model(model, lr, cfg, steps=epochs * math.ceil(len(train) / batch))
    events = EventCallback(job, PHASE, epochs)
    model.fit(batches(train_inputs, y_train, batch, shuffle_seed=cfg.seed),
              validation_data=batches(val_inputs, y_val), epochs=epochs, verbose=0, shuffle=False,
              class_weight=class_weights(cfg, y_train, n_classes),
              callbacks=[ValidationAUC(val_inputs, y_val, n_classes),
                         *standard_callbacks(cfg, job.workdir, PHASE, lr), events])
    return events.history


def run_tabular_experiment(cfg: RunConfig, job: Optional[Job] = None, *, store: Optional[RunStore] = None,
                           column_types: Optional[dict[str, str]] = None) -> RunRecord:
    """Train and evaluate a table named by ``cfg.data``, storing everything as a new run.

    ``column_types`` overrides inferred column kinds (see ``schema.py``); it is recorded in
    ``tabular.json``. Returns the stored run (``finished`` or ``cancelled``); failures are stored as
    ``failed`` and re-raised, as for image runs.
    """
    cfg.validate()
    check_tabular_config(cfg)
    store = store or RunStore()
    recorder = RunRecorder(store.create(cfg), job.sink if job else None)
    writer, run_job = recorder.writer, recorder.job(job)  # the run's id, folder, events and the caller's Stop
    writer.extra["modality"] = "tabular"

    def work() -> RunRecord:
        # late: experiment dispatches to us
        from lepton_widgets.core.runs.outputs import write_data_files, write_evaluation_files

        seed_everything(cfg.seed)
        data = prepare_table(cfg.data, cfg.seed, job=run_job, column_types=column_types)
        write_data_files(writer, data.prepared)
        run_job.check_stop()
        model, encoding, transfer = _plan_model(cfg, data)
        writer.write_json(TABULAR_FILE, {"schema": data.schema.to_dict(), "encoding": encoding,
                                         "column_types": column_types or {}, "transfer": transfer,
                                         "notes": ignored_settings(cfg)})
        writer.write_json("env.json", environment_card(
            cfg.seed, data.prepared.table.content_hash(),
            weights=f"run:{transfer['source_run']}" if transfer else "none",
            trainable_params=trainable_params(model), total_params=int(model.count_params())))
        history = _fit(model, data, cfg, run_job)
        recorder.write_history()
        writer.write_json("phases.json", [{"phase": PHASE, "epochs_run": len(history), "epochs": cfg.train.epochs,
                                           "learning_rate": cfg.train.learning_rate, "transfer": bool(transfer),
                                           "trainable_params": trainable_params(model)}])
        test, test_x = data.split("test")
        probs = np.asarray(model.predict(batches(data.schema.model_inputs(test_x)), verbose=0))
        y_test = test.label_indices()
        evaluation = evaluate_predictions(y_test, probs, test.class_names, refs=test.frame["ref"].tolist(),
                                          paths=test.frame["path"].tolist())
        metrics = write_evaluation_files(writer, evaluation, test,
                                         {"roc_auc": roc_auc(y_test, probs, len(test.class_names))})
        writer.save_model(model)
        run_job.emit(RunFinished(run_id=run_job.run_id, metrics=metrics))
        return writer.finalize("finished")

    return recorder.run(work)
