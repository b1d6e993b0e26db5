"""The head of a picture or sound model fitted as a logistic regression on frozen features (``head_fit: logistic``).

With a handful of examples per class, training the head by gradient descent for a few epochs, with early stopping
on a validation split of one or two examples per class, does worse than a plain L2 logistic regression on the
same frozen features (issue 15: the product scored below scikit-learn's baseline on its own features). So when
the head is a plain linear classifier on fixed features (every block frozen, ``head_units: 0``, augmentation off:
``RunConfig.logistic_head_blockers``), :func:`fit_linear_head` fits it with scikit-learn's
``LogisticRegressionCV`` on the features as the backbone gives them, the L2 strength ``C`` chosen from
:data:`CS` by stratified cross-validation (log loss; at most ``MAX_FOLDS`` folds, no more than the smallest
class has examples) on every example it is given, since a held-out split would eat the few there are.

Why not standardised: a frozen network's pooled features share one scale, and standardising lifts its
near-silent, noisy channels to the weight of the informative ones, which a handful of examples then overfit.
Measured (``benchmarks/few_shot.py``'s data, 5 per class, MobileNetV2 features, test accuracy on 400):
standardised with C by cross-validation 0.615 / 0.508 (Fashion-MNIST / spoken keywords), raw with C by
cross-validation 0.638 / 0.570, plain ``LogisticRegression()`` 0.633 / 0.558.

:func:`set_linear_head` copies the weights into the model's softmax ``classifier`` layer, so the stored model is a plain Keras model: export, prediction and Grad-CAM work
unchanged, and it predicts what the scikit-learn model predicts (tests/test_auto_engine.py checks 1e-4).

Example:
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 6)
    >>> features = rng.normal(size=(18, 4)).astype("float32") + labels[:, None]
    >>> fit = fit_linear_head(features, labels, num_classes=3, seed=0)
    >>> fit.kernel.shape, fit.bias.shape, fit.folds
    ((4, 3), (3,), 5)
    >>> bool(np.allclose(fit.probabilities(features), fit.estimator.predict_proba(features), atol=1e-5))
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from threadpoolctl import threadpool_limits

from lepton_widgets.config import RunConfig
from lepton_widgets.core.tasks.image.model import CLASSIFIER_LAYER

#: At most this many cross-validation folds choose ``C`` (fewer when the smallest class has fewer examples).
MAX_FOLDS = 5
#: Candidate L2 strengths, log-spaced around scikit-learn's default of 1.
CS = (0.01, 0.1, 1.0, 10.0, 100.0)
#: The logit of a class the head never saw an example of: its probability is 0 to float precision.
ABSENT_LOGIT = -1e4


def uses_logistic_head(cfg: RunConfig) -> bool:
    """``train.head_fit`` is ``logistic`` and the config's head is a linear classifier on fixed features."""
    return cfg.train.head_fit == "logistic" and not cfg.logistic_head_blockers()


@dataclass
class LinearHeadFit:
    """A fitted head: the classifier layer's ``kernel`` (features x classes) and ``bias``, the scikit-learn
    ``estimator`` (a pipeline of the logistic regression) they came from,
    the chosen ``C`` and how it was judged (``folds``; ``cv_accuracy``/``cv_log_loss``: held-out scores of
    that ``C``, None without cross-validation), and the scores on the examples it was fitted on."""

    kernel: np.ndarray
    bias: np.ndarray
    estimator: Pipeline
    C: float
    folds: int
    cv_accuracy: Optional[float]
    cv_log_loss: Optional[float]
    train_accuracy: float
    train_log_loss: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """What the Keras classifier layer computes with these weights: softmax(features @ kernel + bias)."""
        logits = np.asarray(features, np.float64) @ self.kernel.astype(np.float64) + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def history_row(self) -> dict:
        """The one "epoch" of the head phase: scores on the fitted examples and, as validation, the
        cross-validated ones (None when the classes were too small to cross-validate)."""
        return {"loss": self.train_log_loss, "accuracy": self.train_accuracy,
                "val_loss": self.cv_log_loss, "val_accuracy": self.cv_accuracy}

    def record(self) -> dict:
        """What ``phases.json`` keeps about the fit."""
        return {"head_fit": "logistic", "C": self.C, "cv_folds": self.folds, "cv_accuracy": self.cv_accuracy,
                "cv_log_loss": self.cv_log_loss}


def fit_linear_head(features: np.ndarray, labels: np.ndarray, num_classes: int, seed: int,
                    class_weight: Optional[dict[int, float]] = None) -> LinearHeadFit:
    """:func:`fit_head` with one BLAS thread. The problems are tiny (tens to thousands of rows): threads only
    add overhead, and on a busy machine (TensorFlow's own threads, a second run) a threaded BLAS made each
    solver step 100 times slower (measured: 3 s instead of 0.03 s for one fit on 40 x 1280 features)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return fit_head(features, labels, num_classes, seed, class_weight)


def fit_head(features: np.ndarray, labels: np.ndarray, num_classes: int, seed: int,
             class_weight: Optional[dict[int, float]] = None) -> LinearHeadFit:
    """Fit an L2 logistic regression on ``features`` with ``C`` chosen by stratified
    cross-validation (log loss), and fold it into a ``num_classes``-way softmax layer's weights.

    ``class_weight``: per-class loss weights (``training.class_weights``), or None. Cross-validation needs two
    examples of every class; with fewer, ``C`` stays 1 and the fit reports no held-out scores.
    """
    features = np.asarray(features, np.float64)
    labels = np.asarray(labels).astype(np.int64)
    present = np.unique(labels)
    if len(present) < 2:
        raise ValueError("a classifier head needs examples of at least two classes")
    folds = int(min(MAX_FOLDS, np.bincount(labels)[present].min()))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed) if folds >= 2 else None
    weights = None if class_weight is None else {int(c): float(class_weight[int(c)]) for c in present}
    if splitter is not None:
        # l1_ratios=(0,): a pure L2 penalty. Refit on every example at the best C, as the run's head.
        estimator = make_pipeline(LogisticRegressionCV(
            Cs=list(CS), l1_ratios=(0.0,), cv=splitter, scoring="neg_log_loss", max_iter=5000, class_weight=weights,
            random_state=seed, use_legacy_attributes=False))
        estimator.fit(features, labels)
        best_c = float(estimator[-1].C_)
    else:
        best_c = 1.0
        estimator = make_pipeline(LogisticRegression(C=best_c, max_iter=5000, class_weight=weights,
                                                     random_state=seed))
        estimator.fit(features, labels)
    cv_accuracy = cv_loss = None
    if splitter is not None:
        # Held-out predictions at the chosen C: the head's validation scores, from no extra data.
        at_best = LogisticRegression(C=best_c, max_iter=5000, class_weight=weights, random_state=seed)
        held = cross_val_predict(at_best, features, labels, cv=splitter, method="predict_proba")
        cv_accuracy = float(accuracy_score(labels, present[held.argmax(axis=1)]))
        cv_loss = float(log_loss(labels, held, labels=present))
    kernel, bias = _folded_weights(estimator, num_classes)
    train_probabilities = estimator.predict_proba(features)
    return LinearHeadFit(kernel=kernel, bias=bias, estimator=estimator, C=best_c, folds=folds if splitter else 0,
                         cv_accuracy=cv_accuracy, cv_log_loss=cv_loss,
                         train_accuracy=float(accuracy_score(labels, present[train_probabilities.argmax(axis=1)])),
                         train_log_loss=float(log_loss(labels, train_probabilities, labels=present)))


def _folded_weights(estimator: Pipeline, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The softmax layer's (kernel, bias) computing ``estimator.predict_proba`` on the features."""
    model = estimator[-1]
    coef, intercept = np.asarray(model.coef_, np.float64), np.asarray(model.intercept_, np.float64)
    classes = np.asarray(model.classes_, np.int64)
    if len(classes) == 2:
        # Binary: sklearn keeps one logit, sigmoid(w.x + b) for the second class; softmax([0, w.x + b]) is the same.
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.array([0.0, intercept[0]])
    weights = np.zeros((num_classes, coef.shape[1]))
    bias = np.full(num_classes, ABSENT_LOGIT)
    weights[classes], bias[classes] = coef, intercept
    return weights.T.copy(), bias


def set_linear_head(model, fit: LinearHeadFit) -> None:
    """Copy ``fit``'s weights into ``model``'s softmax classifier layer (a full model or a head model)."""
    layer = model.get_layer(CLASSIFIER_LAYER)
    layer.set_weights([fit.kernel.astype("float32"), fit.bias.astype("float32")])
