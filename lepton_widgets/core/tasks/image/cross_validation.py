"""k-fold cross-validation for tiny picture datasets (``data.cv_below``, ``data.cv_folds``).

With a handful of samples per class, a fixed split leaves one validation and one test sample per class: the
model trains on 3 of 5, and its "test accuracy" is a few coin flips. Instead every sample (except a
user-given ``data.test_path`` set) goes through scikit-learn's ``StratifiedKFold``: each fold trains a fresh
model on the other folds and predicts its own held-out samples, so every sample is predicted exactly once by
a model that never saw it. The run's evaluation is those held-out predictions, with the mean and spread of
the fold accuracies; the stored model is then trained on all the samples.

Folds and the final model train for the full epoch budget with early stopping and the plateau schedule off:
no held-out sample may choose an epoch or a learning rate, or the estimate would flatter the model.

Example (trains for real; tests/test_small_data.py runs it)::

    cfg = RunConfig.from_dict({"data": {"dataset": "folder", "path": "five_per_class/"}, ...})
    cv = cross_validate(cfg, prepared, folds=5)
    cv.metrics()   # {'cv_folds': 5, 'cv_accuracy_mean': 0.84, 'cv_accuracy_std': 0.08, ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from lepton_widgets.config import RunConfig
from lepton_widgets.core.data import PreparedData, SampleTable
from lepton_widgets.core.data.split import stratified_folds
from lepton_widgets.core.evaluation import EvaluationResult, evaluate_predictions, predict_table
from lepton_widgets.core.base.events import EventSink, Progress, null_sink
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.image.model import build_transfer_model
from lepton_widgets.core.tasks.image.training import seed_everything, train_transfer

TASK = "cross-validation"


@dataclass
class CrossValidation:
    """Held-out predictions of every pooled sample and each fold's accuracy."""

    pool: SampleTable
    probabilities: np.ndarray
    fold_accuracies: list[float] = field(default_factory=list)

    def evaluation(self) -> EvaluationResult:
        """Every metric, from the held-out predictions (each sample predicted by a model that never saw it)."""
        return evaluate_predictions(self.pool.label_indices(), self.probabilities, self.pool.class_names,
                                    refs=self.pool.frame["ref"].tolist(), paths=self.pool.frame["path"].tolist())

    def metrics(self) -> dict:
        accuracies = np.asarray(self.fold_accuracies, dtype=float)
        return {"cv_folds": len(accuracies), "cv_accuracy_mean": float(accuracies.mean()),
                "cv_accuracy_std": float(accuracies.std(ddof=1)) if len(accuracies) > 1 else 0.0,
                "cv_fold_accuracies": [float(a) for a in accuracies]}


def fixed_budget(cfg: RunConfig) -> RunConfig:
    """``cfg`` with nothing chosen on validation data: no early stopping, no plateau schedule, no feature
    cache (the cache is keyed by split, and a fold's rows are no split)."""
    schedule = "constant" if cfg.train.lr_schedule == "plateau" else cfg.train.lr_schedule
    return cfg.replace(train__early_stopping_patience=0, train__lr_schedule=schedule, train__feature_cache="never")


def pooled(prepared: PreparedData, user_test: bool) -> SampleTable:
    """The samples cross-validation uses: every row, except the test set the user gave (``user_test``)."""
    table = prepared.table
    frame = table.frame[table.frame["split"] != "test"] if user_test else table.frame
    return SampleTable(frame.reset_index(drop=True), table.class_names, table.arrays, table.modality, table.source)


def cross_validate(cfg: RunConfig, pool: SampleTable, report, folds: int,
                   job: Optional[Job] = None) -> CrossValidation:
    """Train ``folds`` models on ``pool`` (each on all folds but one) and predict each held-out fold.

    Progress goes to ``job`` as ``Progress(task="cross-validation", done=fold, total=folds)``; the folds'
    own epochs are not reported as the run's history (the stored model's are).
    """
    job = job or Job()
    # The folds keep no checkpoints (no folder) and send only progress: their epochs are not the run's history.
    fold_job = replace(job, sink=_progress_only(job.sink), workdir=None)
    cfg = fixed_budget(cfg)
    labels = pool.label_indices()
    probabilities = np.zeros((len(pool), len(pool.class_names)), dtype=np.float64)
    accuracies = []
    job.emit(Progress(run_id=job.run_id, task=TASK, done=0, total=folds))
    for number, (train_rows, held_rows) in enumerate(stratified_folds(labels, folds, cfg.seed), start=1):
        job.check_stop()
        split = np.full(len(pool), "train", dtype=object)
        split[held_rows] = "val"  # watched in the curves only: nothing is chosen on it (fixed_budget)
        frame = pool.frame.copy()
        frame["split"] = split
        fold = PreparedData(table=SampleTable(frame, pool.class_names, pool.arrays, pool.modality, pool.source),
                            report=report)
        seed_everything(cfg.seed)
        tm = build_transfer_model(cfg, len(pool.class_names))
        train_transfer(tm, fold, cfg, fold_job, val_held_out=True)  # a logistic head must not fit on it
        held = fold.split("val")
        probs = predict_table(tm.model, held, cfg.backbone.image_size, job=replace(job, sink=null_sink))
        probabilities[held_rows] = probs  # held rows keep pool order: subset() keeps row order
        accuracies.append(float(np.mean(probs.argmax(axis=1) == labels[held_rows])))
        job.emit(Progress(run_id=job.run_id, task=TASK, done=number, total=folds))
    return CrossValidation(pool=pool, probabilities=probabilities, fold_accuracies=accuracies)


def _progress_only(sink: EventSink) -> EventSink:
    """The folds' feature and prediction progress reaches the user; their epochs are not the run's history."""
    def forward(event) -> None:
        if event.kind == "progress":
            sink(event)
    return forward
