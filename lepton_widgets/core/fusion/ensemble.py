"""Prediction ensembles: weights optimised on the validation split, stored as one plain Keras model.

The ensemble predicts ``sum_k w_k * p_k(x)`` with ``w`` on the probability simplex. The weights minimise
the validation log-loss, which is convex in ``w`` (minus the log of a linear function), so the optimum is
global. It is found with L-BFGS on a softmax parametrisation starting from uniform weights; because a
softmax never reaches an exact corner, the result is then compared with the uniform weights and with
each single member, and the lowest validation log-loss wins. The ensemble is therefore never worse than
its best member in validation log-loss.

The stored model uses only built-in layers, so ``keras.saving.load_model(safe_mode=True)`` loads it: each
member becomes a sub-model named ``member_<k>``, its probabilities are scaled by a ``Rescaling`` layer
holding its weight, and an ``Add`` layer sums them.

Example:
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 0])
    >>> good = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.9, 0.1]])
    >>> noise = np.full((4, 2), 0.5)
    >>> weights = optimise_weights([good, noise], y)
    >>> bool(weights[0] > 0.99), round(float(weights.sum()), 6)
    (True, 1.0)
    >>> bool(validation_log_loss(ensemble_probabilities([good, noise], weights), y)
    ...      <= validation_log_loss(good, y))
    True
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
from scipy.optimize import minimize
from scipy.special import softmax

from lepton_widgets.core.tasks.fusing import ENSEMBLE_NAME  # the name FusionData.can_be_student refuses

#: Probabilities are clipped here before the log, as scikit-learn's log_loss does for float64.
EPS = 1e-15


def _true_class_probabilities(probs: Sequence[np.ndarray], y_true: np.ndarray) -> np.ndarray:
    """(members, samples): each member's probability of the true class."""
    rows = np.arange(len(y_true))
    return np.stack([np.asarray(p, np.float64)[rows, y_true] for p in probs])


def validation_log_loss(probs: np.ndarray, y_true: np.ndarray) -> float:
    """Mean negative log probability of the true class (log-loss for rows that sum to 1)."""
    rows = np.arange(len(y_true))
    return float(-np.mean(np.log(np.clip(np.asarray(probs, np.float64)[rows, y_true], EPS, None))))


def ensemble_probabilities(probs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """``sum_k weights[k] * probs[k]`` in float64."""
    return np.tensordot(np.asarray(weights, np.float64), np.stack([np.asarray(p, np.float64) for p in probs]), 1)


def optimise_weights(probs: Sequence[np.ndarray], y_true: np.ndarray) -> np.ndarray:
    """Simplex weights minimising the log-loss of the weighted average of ``probs`` on ``y_true``."""
    y_true = np.asarray(y_true, np.int64)
    q = _true_class_probabilities(probs, y_true)  # the loss only depends on these
    k = len(q)

    def loss(w: np.ndarray) -> float:
        return float(-np.mean(np.log(np.clip(w @ q, EPS, None))))

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        w = softmax(z)
        mix = np.clip(w @ q, EPS, None)
        grad_w = -np.mean(q / mix, axis=1)
        return float(-np.mean(np.log(mix))), w * (grad_w - w @ grad_w)  # chain rule through the softmax

    found = softmax(minimize(objective, np.zeros(k), jac=True, method="L-BFGS-B").x)
    candidates = [found, np.full(k, 1.0 / k), *np.eye(k)]
    best = min(candidates, key=loss)  # first of equals: the optimiser's weights, then uniform
    return best / best.sum()


def build_ensemble_model(models: Sequence[keras.Model], weights: Sequence[float], inputs) -> keras.Model:
    """One functional model: what a member takes in (``inputs``: fresh ``keras.Input`` s shaped like a
    member's, one tensor or a dict of them; the task's ``FusionData.ensemble_inputs`` makes them),
    ``sum_k weights[k] * models[k](x)`` out.

    Members with weight exactly 0 are left out (they cannot change the output). The members' layers are
    reused, not copied: build the ensemble from models loaded for this purpose.
    """
    parts = []
    for index, (model, weight) in enumerate(zip(models, weights), start=1):
        if weight == 0:
            continue
        # A fresh functional wrapper gives each member a unique name: loaded runs are all "lepton_<backbone>".
        member = keras.Model(model.input, model.output, name=f"member_{index}")
        parts.append(keras.layers.Rescaling(float(weight), name=f"weight_{index}")(member(inputs)))
    if not parts:
        raise ValueError("an ensemble needs at least one member with a weight above 0")
    outputs = keras.layers.Add(name="ensemble")(parts) if len(parts) > 1 else parts[0]
    return keras.Model(inputs, outputs, name=ENSEMBLE_NAME)
