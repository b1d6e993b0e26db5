"""Evaluation with scikit-learn metrics: accuracy, per-class P/R/F1, confusion matrix, top-k,
calibration (ECE) and the most confidently wrong examples with references to their files.

Example:
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> result = evaluate_predictions(np.array([0, 1, 1]), probs, ["cat", "dog"], refs=["a", "b", "c"])
    >>> round(result.accuracy, 3), result.confusion.tolist()
    (0.667, [[1, 0], [1, 1]])
    >>> result.worst[0]["ref"]
    'c'
    >>> print(result.summary()["caution"])
    Only 3 test items: accuracy 0.667 could really be anywhere from 0.208 to 0.939 (95% Wilson interval). Treat it as a rough guide, not a measurement.

A test split smaller than ``SMALL_TEST_SET`` items gets that ``caution`` in its metrics (and wherever test
metrics are shown); every summary carries the 95% Wilson interval of its accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from lepton_widgets.core.base.callbacks import PredictProgress
from lepton_widgets.core.data import SampleTable, make_dataset
from lepton_widgets.core.base.job import Job


#: Below this many test items, an accuracy comes with a caution: at 100 items the 95% interval is still
#: about +-0.1 wide around 0.5, at 9 it is about +-0.3.
SMALL_TEST_SET = 100


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for ``z=1.96``); ``(0, 1)`` when ``n`` is 0.

    Unlike the normal approximation it stays inside [0, 1] and is not zero-width at 0/n or n/n, which is
    exactly where a small test set lands ("1.000 on 9 images").

    >>> [round(v, 3) for v in wilson_interval(9, 9)]
    [0.701, 1.0]
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def small_test_caution(accuracy: Optional[float], n: Optional[int]) -> str:
    """A plain-words caution for an accuracy measured on fewer than ``SMALL_TEST_SET`` items ('' otherwise)."""
    if accuracy is None or n is None or n >= SMALL_TEST_SET:
        return ""
    if n <= 0:
        return "No test items: there is no test accuracy to trust."
    low, high = wilson_interval(round(accuracy * n), n)
    return (f"Only {n} test item{'s' if n != 1 else ''}: accuracy {accuracy:.3f} could really be anywhere from "
            f"{low:.3f} to {high:.3f} (95% Wilson interval). Treat it as a rough guide, not a measurement.")


@dataclass
class EvaluationResult:
    """Metrics of one model on one split. ``per_class`` is a DataFrame indexed by class name."""

    accuracy: float
    top_k: int
    top_k_accuracy: float
    ece: float
    log_loss: float
    per_class: pd.DataFrame
    confusion: np.ndarray
    class_names: list[str]
    worst: list[dict] = field(default_factory=list)
    n: int = 0
    y_true: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    probs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)

    def summary(self) -> dict:
        """The headline numbers, JSON-friendly (what the run store's ``metrics.json`` holds), with the
        accuracy's 95% Wilson interval and, for a small test split, a ``caution`` in words."""
        low, high = wilson_interval(int(round(self.accuracy * self.n)), self.n)
        summary = {
            "n": self.n,
            "accuracy": self.accuracy,
            f"top_{self.top_k}_accuracy": self.top_k_accuracy,
            "macro_f1": float(self.per_class["f1"].mean()),
            "ece": self.ece,
            "log_loss": self.log_loss,
            "accuracy_low95": low,
            "accuracy_high95": high,
        }
        caution = small_test_caution(self.accuracy, self.n)
        if caution:
            summary["caution"] = caution
        return summary

    def predictions(self, table: Optional[SampleTable] = None) -> pd.DataFrame:
        """One row per evaluated sample: true and predicted class, confidence, and (given the table that
        was evaluated) where the sample lives, so a confusion-matrix cell can show its images."""
        y_pred = self.probs.argmax(axis=1)
        frame = pd.DataFrame({
            "true": [self.class_names[i] for i in self.y_true],
            "predicted": [self.class_names[i] for i in y_pred],
            "true_index": self.y_true, "predicted_index": y_pred,
            "confidence": self.probs.max(axis=1),
        })
        if table is not None:
            frame.insert(0, "ref", table.frame["ref"].to_numpy())
            frame.insert(1, "path", table.frame["path"].to_numpy())
            frame.insert(2, "array_index", table.frame["array_index"].to_numpy())
        return frame

    def to_dict(self) -> dict:
        return {
            **self.summary(),
            "top_k": self.top_k,
            "class_names": self.class_names,
            "per_class": self.per_class.reset_index().to_dict(orient="records"),
            "confusion": self.confusion.tolist(),
            "worst": self.worst,
        }


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins.

    scikit-learn has ``calibration_curve`` for binary problems only, hence this short multiclass version.
    """
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def evaluate_predictions(y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str],
                         refs: Optional[Sequence[str]] = None, paths: Optional[Sequence] = None,
                         top_k: int = 3, n_worst: int = 24) -> EvaluationResult:
    """All metrics from true labels and predicted probabilities (rows sum to 1)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 only within ~1e-7
    labels = np.arange(len(class_names))
    y_pred = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    per_class = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support},
                             index=pd.Index(list(class_names), name="class"))
    k = max(1, min(top_k, len(class_names) - 1))
    top_k_acc = top_k_accuracy_score(y_true, probs, k=k, labels=labels) if len(class_names) > 2 else \
        accuracy_score(y_true, y_pred)
    return EvaluationResult(
        accuracy=float(accuracy_score(y_true, y_pred)),
        top_k=k,
        top_k_accuracy=float(top_k_acc),
        ece=expected_calibration_error(y_true, probs),
        log_loss=float(log_loss(y_true, probs, labels=labels)),
        per_class=per_class,
        confusion=confusion_matrix(y_true, y_pred, labels=labels),
        class_names=list(class_names),
        worst=_worst_misclassified(y_true, probs, class_names, refs, paths, n_worst),
        n=int(len(y_true)),
        y_true=y_true,
        probs=probs,
    )


def _worst_misclassified(y_true, probs, class_names, refs, paths, n_worst) -> list[dict]:
    """Wrong predictions, most confident first: the examples most worth a look."""
    y_pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    order = wrong[np.argsort(-probs[wrong, y_pred[wrong]], kind="stable")][:n_worst]
    rows = []
    for i in order:
        rows.append({
            "index": int(i),
            "ref": refs[i] if refs is not None else str(i),
            "path": (paths[i] if paths is not None and isinstance(paths[i], str) else None),
            "true": class_names[y_true[i]],
            "predicted": class_names[y_pred[i]],
            "confidence": float(probs[i, y_pred[i]]),
            "true_probability": float(probs[i, y_true[i]]),
        })
    return rows


def predict_table(model, table: SampleTable, image_size: int, batch_size: int = 64, job: Optional[Job] = None,
                  *, task: str = "predict") -> np.ndarray:
    """Class probabilities for every row of ``table``, in row order (``job``: progress events and Stop)."""
    dataset = make_dataset(table, image_size, batch_size, shuffle=False, with_labels=False)
    progress = PredictProgress(job or Job(), task, total=len(table))
    progress.batch_size = batch_size
    return np.asarray(model.predict(dataset, verbose=0, callbacks=[progress]))


def evaluate_model(model, table: SampleTable, image_size: int, batch_size: int = 64,
                   job: Optional[Job] = None) -> EvaluationResult:
    """Predict ``table`` with ``model`` and compute every metric, with file references for mistakes."""
    probs = predict_table(model, table, image_size, batch_size, job, task="evaluate")
    return evaluate_predictions(table.label_indices(), probs, table.class_names,
                                refs=table.frame["ref"].tolist(), paths=table.frame["path"].tolist())
