"""How many more examples each class needs: a learning curve of the probe on frozen features, extrapolated.

**The curve.** The train and val rows are cross-validated (scikit-learn ``StratifiedKFold``); inside each
fold the probe of :mod:`label_issues` (standardised PCA features, logistic regression) is trained on nested
stratified subsets of the fold's training rows (:data:`FRACTIONS` of each class, the smaller inside the
larger) and predicts the fold's held-out rows. After all folds every row has a prediction per subset size, so
overall accuracy and each class's recall are measured on all the rows, not on a val split of a handful per
class. ``repeats`` reshuffles of the folds are averaged.

**The fit.** An inverse power law ``acc(n) = a - b * n**(-c)`` (``scipy.optimize.curve_fit``, bounded:
``0 <= a <= 1``, ``b >= 0``, ``0.05 <= c <= 3``) of accuracy against training examples per class, and one per
class of its recall against its own training examples. ``a`` is the plateau: what the probe on these features
reaches with unlimited data.

**The target.** A class needs enough examples for its recall to come within :data:`PLATEAU_MARGIN` (2 points)
of its own plateau, or to gain :data:`STEP` (10 points) if that comes first: a curve fitted on a few points
is trusted for a short step, not for a far plateau (with 20 examples per class the fitted plateau is often
just the bound, 100%), and the person can add that many, then look again. A fixed target such as 90% would be wrong both ways: a hard class (Fashion-MNIST's
"shirt" levels off near 60-70% on frozen features) could never reach it however many examples it got, and an
easy one has met it long ago. The plateau is what more data can still buy with these features; the last
2 points cost the most examples (the curve is flattest there), so they are left out. A class already within
:data:`CLOSE` (4 points) of its plateau needs none: a smaller gain is within the noise of a recall measured on
a few dozen examples, and "60 more examples for 1 point" is not advice. When reaching the target would take
more than :data:`MAX_FACTOR` times the class's current examples, the answer says "more than" that.

**Examples to add** are labelled examples, not training rows: under the current split only a share of new
examples lands in training (``train_share``, 0.7 by default settings), so the training rows the curve asks
for are divided by it.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(3), 60)
    >>> x = (np.eye(3)[y] * 1.2 + rng.normal(size=(180, 3))).astype("float32")
    >>> need = estimate_data_need(x, y, split=np.array(["train", "val"] * 90), class_names=["a", "b", "c"])
    >>> need.reason, len(need.points) > 3
    ('', True)
    >>> need.predicted_accuracy(200) >= need.predicted_accuracy(10)
    True
    >>> DataNeed.from_dict(need.to_dict()).to_dict() == need.to_dict()
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np

from lepton_widgets.core.auto.label_issues import FOLDS, one_thread, probe_pipeline, too_few_reason
from lepton_widgets.i18n import _

#: Share of each class's training rows in the nested subsets (the curve's points).
FRACTIONS = (0.2, 0.4, 0.6, 0.8, 1.0)
#: A class is "close to its best" within this much recall of its fitted plateau (see the module docstring).
PLATEAU_MARGIN = 0.02
#: The most recall a class's advice promises in one step (see the module docstring).
STEP = 0.10
#: A class within this much of its plateau is "close to its best" and needs no more examples.
CLOSE = 2 * PLATEAU_MARGIN
#: Beyond this many times a class's current examples the estimate is an extrapolation too far to state.
MAX_FACTOR = 20
#: A 3-parameter curve needs at least this many distinct points to be a fit rather than an interpolation.
MIN_POINTS = 4


def power_law(n, a: float, b: float, c: float):
    """``a - b * n**(-c)``: accuracy with ``n`` examples per class (``a`` the plateau)."""
    return a - b * np.power(np.asarray(n, dtype=np.float64), -c)


@dataclass
class Curve:
    """A fitted inverse power law, or why there is none (``reason``)."""

    a: float = float("nan")
    b: float = float("nan")
    c: float = float("nan")
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason and math.isfinite(self.a)

    def at(self, n: float) -> float:
        return float(np.clip(power_law(max(float(n), 1.0), self.a, self.b, self.c), 0.0, 1.0))

    def examples_for(self, target: float) -> float:
        """Examples per class at which the curve reaches ``target`` (``inf`` at or above the plateau)."""
        if target >= self.a:
            return math.inf
        if self.b <= 0:
            return 0.0
        return float((self.b / (self.a - target)) ** (1.0 / self.c))


def fit_curve(n: Sequence[float], score: Sequence[float], exponent: Optional[float] = None) -> Curve:
    """The inverse power law through points ``(n, score)`` (see the module docstring), or a Curve whose
    ``reason`` says in words why it could not be fitted. ``exponent`` fixes ``c`` (a class's curve takes the
    overall one's shape: its recall, measured on a few dozen examples, is too noisy to fix three numbers)."""
    from scipy.optimize import curve_fit

    n = np.asarray(n, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    needed = MIN_POINTS - (exponent is not None)
    if len(np.unique(n)) < needed:
        return Curve(reason=_("too few examples to draw a learning curve (it takes {needed} different amounts of "
                              "training examples, there were {found})").format(needed=needed,
                                                                              found=len(np.unique(n))))
    top = float(score.max())
    a0, b0 = min(1.0, top + 0.05), max(0.05, top - float(score.min())) * float(n.min()) ** 0.5
    try:
        if exponent is None:
            (a, b, c), _covariance = curve_fit(power_law, n, score, p0=(a0, b0, 0.5),
                                     bounds=([0.0, 0.0, 0.05], [1.0, np.inf, 3.0]), maxfev=20000)
        else:
            c = float(exponent)
            (a, b), _covariance = curve_fit(lambda m, a, b: power_law(m, a, b, c), n, score, p0=(a0, b0),
                                  bounds=([0.0, 0.0], [1.0, np.inf]), maxfev=20000)
    except (RuntimeError, ValueError):
        return Curve(reason=_("the learning curve could not be fitted: the scores jump around too much to "
                              "extrapolate"))
    return Curve(float(a), float(b), float(c))


@dataclass
class ClassNeed:
    """One class's estimate: training examples now, its recall there (from the curve), the plateau, the
    target, and the labelled examples to add (``more_needed``; ``capped``: at least that many)."""

    name: str
    train_now: int
    recall_now: float = float("nan")
    plateau: float = float("nan")
    target: float = float("nan")
    more_needed: Optional[int] = None
    capped: bool = False
    curve: Curve = field(default_factory=Curve)
    points: list = field(default_factory=list)

    def sentence(self) -> str:
        if not self.curve.ok:
            return _("{name}: {reason}.").format(name=self.name, reason=self.curve.reason)
        now, best, target = f"{self.recall_now:.0%}", f"{self.plateau:.0%}", f"{self.target:.0%}"
        if self.more_needed == 0:
            return _("{name}: recognised {now} of the time, already close to the best these features allow (about "
                     "{best}); more examples would change little.").format(name=self.name, now=now, best=best)
        if self.capped:
            return _("{name}: recognised {now} of the time; raising that to about {target} would take more than "
                     "{more} more examples. Clearer or more varied examples may help more than many more of the "
                     "same.").format(name=self.name, now=now, target=target, more=self.more_needed)
        return _("{name}: about {more} more examples would raise how often it is recognised from {now} to about "
                 "{target}.").format(name=self.name, more=self.more_needed, now=now, target=target)


@dataclass
class DataNeed:
    """The learning curve and what it says (see the module docstring).

    ``points``: ``[examples per class, accuracy]`` of the curve; ``overall``: its fit; ``train_per_class``:
    training examples per class now (mean over classes); ``classes``: one :class:`ClassNeed` each;
    ``reason``: why there is no estimate, in words (empty when there is one)."""

    overall: Curve = field(default_factory=Curve)
    points: list = field(default_factory=list)
    train_per_class: float = 0.0
    train_share: float = 1.0
    classes: list[ClassNeed] = field(default_factory=list)
    reason: str = ""

    def predicted_accuracy(self, per_class: float) -> float:
        """Accuracy the curve predicts with ``per_class`` training examples per class."""
        if self.reason or not self.overall.ok:
            raise ValueError(self.reason or self.overall.reason or "no learning curve")
        return self.overall.at(per_class)

    @property
    def more_needed(self) -> dict[str, int]:
        """Labelled examples to add per class to come close to its plateau (classes with a fitted curve)."""
        return {need.name: need.more_needed for need in self.classes if need.more_needed is not None}

    def sentences(self) -> list[str]:
        if self.reason:
            return [_("How many more examples would help: unknown; {reason}.").format(reason=self.reason)]
        lines = []
        if self.overall.ok:
            now = self.predicted_accuracy(self.train_per_class)
            twice = self.predicted_accuracy(2 * self.train_per_class)
            numbers = dict(n=f"{self.train_per_class:.0f}", now=f"{now:.0%}", twice=f"{twice:.0%}",
                           top=f"{self.overall.a:.0%}")
            lines.append((_("With about {n} training examples per class the model is right about {now} of the time "
                            "on examples it has not seen; with twice as many it would be about {twice}, and it "
                            "levels off near {top}.") if self.overall.a < 0.99 else
                          _("With about {n} training examples per class the model is right about {now} of the time "
                            "on examples it has not seen; with twice as many it would be about {twice}."))
                         .format(**numbers))
        else:
            lines.append(_("How accuracy grows with more examples: unknown; {reason}.").format(
                reason=self.overall.reason))
        lines += [need.sentence() for need in self.classes]
        return lines

    def to_dict(self) -> dict:
        return jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> "DataNeed":
        classes = [ClassNeed(**{**item, "curve": _curve(item.get("curve"))}) for item in data.get("classes", [])]
        return cls(overall=_curve(data.get("overall")), points=[list(p) for p in data.get("points", [])],
                   train_per_class=float(data.get("train_per_class", 0.0)),
                   train_share=float(data.get("train_share", 1.0)), classes=classes,
                   reason=str(data.get("reason", "")))


def _curve(data: Optional[dict]) -> Curve:
    data = data or {}
    return Curve(*(float("nan") if data.get(k) is None else float(data[k]) for k in "abc"),
                 reason=str(data.get("reason", "")))


def jsonable(value):
    """NaN -> None (JSON has no NaN), tuples -> lists, numpy scalars -> Python ones, keys -> text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def learning_curve_points(x: np.ndarray, y: np.ndarray, *, seed: int = 0, folds: int = FOLDS,
                          fractions: Sequence[float] = FRACTIONS, repeats: int = 2):
    """Out-of-fold predictions at each subset size (see the module docstring).

    Returns ``(per_class_n, predictions)``: ``per_class_n[f, k]`` the mean training examples of class ``k`` at
    fraction ``f``, ``predictions[r, f, i]`` row ``i``'s predicted class in repeat ``r``."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y)
    present = np.flatnonzero(counts)
    k = max(2, min(folds, int(counts[present].min())))
    per_class_n = np.zeros((len(fractions), len(counts)))
    predictions = np.zeros((repeats, len(fractions), len(y)), dtype=np.int64)
    with one_thread():
        for repeat in range(repeats):
            _fold_predictions(x, y, k, present, repeat, seed, fractions, per_class_n, predictions)
    per_class_n /= k * repeats
    return per_class_n, predictions


def _fold_predictions(x, y, k, present, repeat, seed, fractions, per_class_n, predictions) -> None:
    """One repeat of the folds: fills ``predictions[repeat]`` and adds the subsets' class counts."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed + repeat)
    for fold, (fit_rows, held_out) in enumerate(splitter.split(x, y)):
        rng = np.random.default_rng([seed, repeat, fold])
        # One shuffled order per class: each subset is the first part of it, so the subsets are nested.
        orders = {c: rng.permutation(fit_rows[y[fit_rows] == c]) for c in present}
        for f, fraction in enumerate(fractions):
            chosen = [order[:max(1, int(round(fraction * len(order))))] for order in orders.values()]
            for c, rows in zip(orders, chosen):
                per_class_n[f, c] += len(rows)
            rows = np.concatenate(chosen)
            probe = probe_pipeline(len(rows), x.shape[1], seed).fit(x[rows], y[rows])
            predictions[repeat, f, held_out] = probe.predict(x[held_out])


def estimate_data_need(features=None, y: Optional[np.ndarray] = None, *, x: Optional[np.ndarray] = None,
                       split: Optional[np.ndarray] = None, class_names: Optional[list[str]] = None,
                       train_share: Optional[float] = None, seed: int = 0, folds: int = FOLDS,
                       fractions: Sequence[float] = FRACTIONS, repeats: int = 2) -> DataNeed:
    """The learning curve of the train and val rows and each class's need (see the module docstring).

    ``features``: an :class:`~lepton_widgets.core.tasks.autokit.AutoFeatures` (its ``x``, ``y``, ``split``,
    ``class_names``), or plain arrays as ``features=x, y=y`` with ``split`` and ``class_names``.
    ``train_share``: the share of a class's labelled examples the split puts in training (default: train rows
    / all rows given; the doctor passes the share including the test rows)."""
    if hasattr(features, "x"):
        x, y = features.x, features.y
        split = features.split if split is None else split
        class_names = class_names or list(features.class_names)
    elif features is not None:
        x = features
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    class_names = list(class_names) if class_names else [str(c) for c in range(int(y.max()) + 1)]
    is_train = np.ones(len(y), bool) if split is None else (np.asarray(split) == "train")
    share = float(train_share) if train_share else max(float(is_train.mean()), 1e-9)
    train_counts = np.bincount(y[is_train], minlength=len(class_names))
    reason = too_few_reason(y, class_names)
    if reason:
        # The catalogue's Chinese keeps the lead phrase as a prefix too, so this works in either language.
        return DataNeed(reason=reason.replace(_("the labels could not be checked"),
                                              _("the model cannot be tried on examples it has not seen")),
                        train_share=share)

    per_class_n, predictions = learning_curve_points(x, y, seed=seed, folds=folds, fractions=fractions,
                                                     repeats=repeats)
    present = np.flatnonzero(np.bincount(y, minlength=len(class_names)))
    mean_n = per_class_n[:, present].mean(axis=1)
    accuracy = (predictions == y).mean(axis=(0, 2))
    points = [[float(n), float(acc)] for n, acc in zip(mean_n, accuracy)]
    overall = fit_curve(mean_n, accuracy)
    classes = []
    for c in present:
        rows = y == c
        recall = (predictions[:, :, rows] == c).mean(axis=(0, 2))
        curve = fit_curve(per_class_n[:, c], recall, exponent=overall.c if overall.ok else None)
        need = ClassNeed(name=class_names[c], train_now=int(train_counts[c]), curve=curve,
                         points=[[float(n), float(r)] for n, r in zip(per_class_n[:, c], recall)])
        if curve.ok:
            now = max(1, need.train_now)
            need.recall_now, need.plateau = curve.at(now), curve.a
            need.target = min(curve.a - PLATEAU_MARGIN, need.recall_now + STEP)
            if need.recall_now >= curve.a - CLOSE:
                need.more_needed = 0
            else:
                wanted = min(curve.examples_for(need.target), MAX_FACTOR * now)
                need.capped = curve.examples_for(need.target) > MAX_FACTOR * now
                need.more_needed = _friendly(max(0.0, wanted - now) / share)
        classes.append(need)
    return DataNeed(overall=overall, points=points, train_per_class=float(train_counts[present].mean()),
                    train_share=share, classes=classes)


def _friendly(count: float) -> int:
    """Round up to a number a person would say: 5s under 100, 10s under 1000, 100s above."""
    step = 5 if count < 100 else 10 if count < 1000 else 100
    return int(max(step, math.ceil(count / step) * step))


__all__ = ["ClassNeed", "Curve", "DataNeed", "estimate_data_need", "fit_curve", "learning_curve_points",
           "power_law", "FRACTIONS", "PLATEAU_MARGIN", "CLOSE", "STEP", "MAX_FACTOR"]
