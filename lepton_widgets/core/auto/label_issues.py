"""Likely mislabelled examples: cleanlab on out-of-fold predicted probabilities of a probe on frozen features.

Every row gets class probabilities from a probe that never saw it (scikit-learn ``cross_val_predict`` over
stratified folds); the probe is the one backbone ranking uses (standardised features, at most
:data:`PROBE_DIMS` principal components, a multinomial logistic regression). cleanlab's confident learning
(``cleanlab.filter.find_label_issues``) then flags the rows whose given label disagrees with what the rest of
the data says, ranked by self-confidence (the out-of-fold probability of the given label: lowest first).

**How long the list is.** cleanlab's default filter (``prune_by_noise_rate``) flags more rows than it believes
are wrong; its own count, ``cleanlab.count.num_label_issues`` (the off-diagonal mass of the confident joint),
is the better estimate (cleanlab's documentation says so). ``filter_by="low_self_confidence"`` is cleanlab's
rule that takes exactly that many rows, those with the lowest self-confidence. The rule uses only the labels
and the out-of-fold probabilities, never the truth, so it is the same in the product and in
``benchmarks/label_noise.py``.

**The probe's regularisation** (``C`` = :data:`PROBE_C`): confident learning needs calibrated probabilities,
so ``C`` is the one cross-validated log loss picks: ``LogisticRegressionCV(Cs=logspace(-3, 1, 9),
scoring="neg_log_loss")`` chose 0.1 on MobileNetV2 features of Fashion-MNIST under three noise draws. Backbone
ranking's ``C=0.5`` is sharper (it only needs the argmax) and made cleanlab's list 40% longer there.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(3), 40)
    >>> x = (np.eye(3)[y] * 4 + rng.normal(size=(120, 3))).astype("float32")
    >>> noisy = y.copy(); noisy[[0, 50, 100]] = [1, 2, 0]
    >>> issues = find_label_issues(x, noisy, seed=0)
    >>> sorted(issues.indices.tolist()[:3])
    [0, 50, 100]
    >>> sorted(zip(issues.indices.tolist()[:3], issues.suggested.tolist()[:3]))  # row, the class it looks like
    [(0, 0), (50, 1), (100, 2)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from lepton_widgets.i18n import _

#: Principal components the probe keeps: like backbone ranking's probe (core/tasks/image/ranking.py), a few
#: hundred examples lose little at 64 dims and the fit is ten times faster on 1280-d features.
PROBE_DIMS = 64
#: Inverse regularisation of the probe's logistic regression (see the module docstring).
PROBE_C = 0.1
#: Folds of the out-of-fold probabilities (fewer when the smallest class is smaller).
FOLDS = 5


def one_thread():
    """BLAS and OpenMP limited to one thread (``threadpoolctl``, scikit-learn's own dependency) for the probe's
    small fits: a few hundred rows by 1280 features are far too small to share out, and on a busy 2-core
    machine OpenBLAS's spinning threads made each fit 10-50 times slower (measured: PCA + logistic regression on
    200 rows took 2.5 s with 2 threads at load 8, 0.07 s with one)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def probe_pipeline(n_train: int, n_features: int, seed: int = 0):
    """The probe: StandardScaler, PCA to at most :data:`PROBE_DIMS` dims, StandardScaler, multinomial logistic
    regression (the lbfgs solver fits one softmax over all classes). ``n_train`` bounds the PCA dims: PCA
    cannot keep more components than the rows it is fitted on."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    dims = max(1, min(PROBE_DIMS, n_train - 1, n_features))
    return make_pipeline(StandardScaler(), PCA(dims, random_state=seed), StandardScaler(),
                         LogisticRegression(max_iter=1000, C=PROBE_C, random_state=seed))


@dataclass
class LabelIssues:
    """Rows whose label looks wrong, most likely first.

    ``indices`` index the rows given to :func:`find_label_issues`; ``given``, ``suggested`` (the probe's
    class) and ``confidence`` (the out-of-fold probability of the given label) go with them.
    ``pred_probs`` (n, classes) are the out-of-fold probabilities of every row (``None`` when there were too
    few examples); ``reason`` says in words
    why there is no list when there is none; ``labels`` are all the given labels."""

    indices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    given: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    suggested: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    pred_probs: Optional[np.ndarray] = None
    folds: int = 0
    reason: str = ""
    labels: Optional[np.ndarray] = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.indices)

    def out_of_fold_accuracy(self) -> Optional[float]:
        """How often the probe's out-of-fold guess matched the given label (``None`` without probabilities)."""
        if self.pred_probs is None or self.labels is None:
            return None
        return float((self.pred_probs.argmax(1) == self.labels).mean())


def too_few_reason(y: np.ndarray, class_names: Optional[list[str]] = None) -> str:
    """Why out-of-fold checking is impossible (a class with fewer than 2 examples, or a single class); ``""``
    when it is possible."""
    counts = np.bincount(np.asarray(y, dtype=np.int64))
    present = counts[counts > 0]
    if len(present) < 2:
        return _("the labels could not be checked: it takes at least two classes with examples")
    small = [int(k) for k in np.flatnonzero((counts > 0) & (counts < 2))]
    if small:
        names = ", ".join(class_names[k] if class_names else str(k) for k in small)
        return (_("the labels could not be checked: a label is checked against a model trained on the other "
                  "examples, and {names} has a single example") if len(small) == 1 else
                _("the labels could not be checked: a label is checked against a model trained on the other "
                  "examples, and {names} have a single example")).format(names=names)
    return ""


def out_of_fold_probabilities(x: np.ndarray, y: np.ndarray, *, seed: int = 0, folds: int = FOLDS) -> np.ndarray:
    """Class probabilities of every row from a probe trained on the other folds (scikit-learn
    ``cross_val_predict``, stratified, shuffled with ``seed``); folds = min(``folds``, smallest class), >= 2.
    Columns follow the class indices 0..max(y) (classes absent from ``y`` get a zero column)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y)
    present = np.flatnonzero(counts)
    k = max(2, min(folds, int(counts[present].min())))
    n_fit = len(y) - int(np.ceil(len(y) / k))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with one_thread():
        probs = cross_val_predict(probe_pipeline(n_fit, x.shape[1], seed), x, y, cv=splitter,
                                  method="predict_proba")
    full = np.zeros((len(y), len(counts)), dtype=np.float64)
    full[:, present] = probs  # predict_proba's columns are the sorted classes present
    return full


def find_label_issues(x: np.ndarray, y: np.ndarray, *, seed: int = 0, folds: int = FOLDS,
                      class_names: Optional[list[str]] = None) -> LabelIssues:
    """Likely mislabelled rows of features ``x`` (n, d) with labels ``y`` (n,), most likely first.

    Too few examples for folds (a class with one example): no list, and ``reason`` says why."""
    import cleanlab.filter

    y = np.asarray(y, dtype=np.int64)
    reason = too_few_reason(y, class_names)
    if reason:
        return LabelIssues(reason=reason, labels=y)
    counts = np.bincount(y)
    k = max(2, min(folds, int(counts[counts > 0].min())))
    probs = out_of_fold_probabilities(x, y, seed=seed, folds=folds)
    # cleanlab wants every class of pred_probs present in the labels: keep only the classes that are.
    present = np.flatnonzero(counts)
    remap = np.full(len(counts), -1)
    remap[present] = np.arange(len(present))
    labels = remap[y]
    sub = probs[:, present]
    sub = sub / sub.sum(axis=1, keepdims=True)
    # n_jobs=1: the machine's few cores are shared with training; the filter is fast at these sizes.
    ranked = cleanlab.filter.find_label_issues(labels, sub, filter_by="low_self_confidence",
                                               return_indices_ranked_by="self_confidence", n_jobs=1)
    kept = np.asarray(ranked, dtype=np.int64)
    return LabelIssues(indices=kept, given=y[kept], suggested=present[sub[kept].argmax(1)],
                       confidence=sub[kept, labels[kept]].astype(np.float64), pred_probs=probs, folds=k, labels=y)


__all__ = ["LabelIssues", "find_label_issues", "out_of_fold_probabilities", "probe_pipeline", "one_thread", "too_few_reason",
           "PROBE_DIMS", "PROBE_C", "FOLDS"]
