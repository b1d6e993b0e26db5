"""Adversarial examples (FGSM, PGD), robustness curves and adversarial training of the full model.

Epsilons are L-infinity radii on pixels scaled to [0, 1], the convention of the literature and of
``train.adversarial_epsilon`` (0.03 is about 8/255). The transfer model takes raw pixels in [0, 255], so
the attacks move each pixel by at most ``epsilon * 255`` and clip the result to [0, 255]: an adversarial
image is still a valid image. Gradients are taken on those raw pixels, through the backbone's
normalisation layer and the backbone, with the model in inference mode (no dropout, no augmentation,
BatchNorm on its moving statistics).

* :func:`fgsm`: one signed-gradient step of size epsilon (Goodfellow et al., 2015).
* :func:`pgd`: a random start in the epsilon ball, then ``steps`` signed-gradient steps of ``step_size``,
  each projected back onto the ball and [0, 255] (Madry et al., 2018). Stronger and ``steps`` times dearer.
* :func:`robustness_curve`: test accuracy under attack at several epsilons (0 is the clean accuracy).
* :class:`AdversarialTrainer`: wraps a model so that ``fit`` trains it on batches whose first
  ``ratio`` fraction was replaced by adversarial examples crafted against the current weights. Only the
  wrapper knows about attacks; the wrapped model stays a plain functional model and is what gets saved.

Example:
    >>> import keras, numpy as np
    >>> inputs = keras.Input((4, 4, 3))
    >>> x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    >>> model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    >>> images, labels = np.full((2, 4, 4, 3), 250.0, "float32"), np.array([0, 2])
    >>> adversarial = fgsm(model, images, labels, epsilon=0.03).numpy()
    >>> bool(np.abs(adversarial - images).max() <= 0.03 * 255 + 1e-3), float(adversarial.max()) <= 255
    (True, True)
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from lepton_widgets.core.data import SampleTable, make_dataset
from lepton_widgets.core.base.levels import parse_levels
from lepton_widgets.core.base.events import Progress
from lepton_widgets.core.base.job import Job

#: The model's pixel range is [0, PIXEL_MAX]; epsilons are fractions of it.
PIXEL_MAX = 255.0
ATTACKS = ("fgsm", "pgd")
#: PGD steps when measuring robustness (evaluation is done once, so it can afford a strong attack).
PGD_STEPS = 10
#: PGD steps per batch in adversarial training: each is one more forward and backward pass of the batch.
TRAIN_PGD_STEPS = 5
#: Where ``run_experiment`` stores the robustness of an adversarially trained run.
ROBUSTNESS_FILE = "robustness.json"


def _check(method: str, epsilon) -> None:
    if method not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {method!r}")
    if isinstance(epsilon, (int, float)) and not 0 <= epsilon <= 1:
        raise ValueError(f"epsilon must be in [0, 1] (pixels scaled to [0, 1]; 8/255 is about 0.031), "
                         f"got {epsilon}")


def input_gradient(model: keras.Model, x, y) -> tf.Tensor:
    """Gradient of the summed cross-entropy of ``model(x)`` against labels ``y`` with respect to ``x``.

    The model's softmax output carries its logits (Keras keeps them on the tensor), so the loss is
    computed from the logits and a confidently right prediction still has a useful gradient.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        probabilities = model(x, training=False)
        loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, probabilities))
    return tape.gradient(loss, x)


def _project(x_adv: tf.Tensor, x: tf.Tensor, radius) -> tf.Tensor:
    """Back onto the L-infinity ball of ``radius`` around ``x``, then into the valid pixel range."""
    return tf.clip_by_value(tf.clip_by_value(x_adv, x - radius, x + radius), 0.0, PIXEL_MAX)


def fgsm(model: keras.Model, x, y, epsilon: float) -> tf.Tensor:
    """Fast gradient sign method: ``clip(x + epsilon * 255 * sign(grad), 0, 255)``."""
    _check("fgsm", epsilon)
    x = tf.convert_to_tensor(x, tf.float32)
    radius = epsilon * PIXEL_MAX
    return tf.stop_gradient(_project(x + radius * tf.sign(input_gradient(model, x, y)), x, radius))


def pgd(model: keras.Model, x, y, epsilon: float, steps: int = PGD_STEPS, step_size: Optional[float] = None,
        random_start: bool = True, seed: Optional[int] = None) -> tf.Tensor:
    """Projected gradient descent (on the loss, so ascent): ``steps`` signed steps of ``step_size``
    (default ``2.5 * epsilon / steps``, so the walk can cross the ball), each projected onto the epsilon
    ball and [0, 255]; ``random_start`` begins at a uniform random point of the ball."""
    _check("pgd", epsilon)
    if steps < 1:
        raise ValueError(f"pgd needs at least one step, got {steps}")
    x = tf.convert_to_tensor(x, tf.float32)
    radius = epsilon * PIXEL_MAX
    alpha = (2.5 * epsilon / steps if step_size is None else step_size) * PIXEL_MAX
    x_adv = x
    if random_start:
        x_adv = _project(x + tf.random.uniform(tf.shape(x), -1.0, 1.0, seed=seed) * radius, x, radius)
    for _ in range(steps):  # a Python loop: steps is small and fixed, so tracing unrolls it
        x_adv = _project(x_adv + alpha * tf.sign(input_gradient(model, x_adv, y)), x, radius)
    return tf.stop_gradient(x_adv)


def attack(model: keras.Model, x, y, method: str, epsilon: float, steps: int = PGD_STEPS,
           seed: Optional[int] = None) -> tf.Tensor:
    """Adversarial versions of ``x`` by ``method`` (``fgsm`` or ``pgd``) at ``epsilon``."""
    _check(method, epsilon)
    if method == "fgsm":
        return fgsm(model, x, y, epsilon)
    return pgd(model, x, y, epsilon, steps=steps, seed=seed)


# --- robustness -----------------------------------------------------------------------------------


@dataclass
class RobustnessCurve:
    """Accuracy under ``method`` at each epsilon (same order); ``n`` samples were attacked."""

    method: str
    epsilons: list[float]
    accuracy: list[float]
    n: int
    pgd_steps: Optional[int] = None
    extra: dict = field(default_factory=dict)

    @property
    def clean_accuracy(self) -> Optional[float]:
        """Accuracy at epsilon 0, when 0 was one of the epsilons."""
        return next((a for e, a in zip(self.epsilons, self.accuracy) if e == 0), None)

    def at(self, epsilon: float) -> float:
        """Accuracy at ``epsilon`` (one of the curve's epsilons)."""
        for e, a in zip(self.epsilons, self.accuracy):
            if math.isclose(e, epsilon, rel_tol=1e-9, abs_tol=1e-12):
                return a
        raise KeyError(f"epsilon {epsilon} is not on the curve {self.epsilons}")

    def to_dict(self) -> dict:
        return {**asdict(self), "clean_accuracy": self.clean_accuracy}

    @classmethod
    def from_dict(cls, data: dict) -> "RobustnessCurve":
        return cls(method=data["method"], epsilons=[float(e) for e in data["epsilons"]],
                   accuracy=[float(a) for a in data["accuracy"]], n=int(data["n"]),
                   pgd_steps=data.get("pgd_steps"), extra=dict(data.get("extra") or {}))


def parse_epsilons(text: str | Sequence[float]) -> list[float]:
    """Epsilons from ``"0, 0.01, 0.03"`` (or a sequence), sorted and without repeats; ValueError on bad input."""
    return parse_levels(text, noun="epsilon", example="0, 0.01, 0.03", meaning="numbers in [0, 1]",
                        hint="epsilons are pixels scaled to [0, 1] (8/255 is about 0.031)")


def default_epsilons(training_epsilon: float) -> list[float]:
    """Clean, half, the training radius and twice it (capped at 1): what a stored run records."""
    return parse_epsilons([0.0, training_epsilon / 2, training_epsilon, min(1.0, 2 * training_epsilon)])


def _sample_rows(table: SampleTable, max_samples: Optional[int], seed: int) -> SampleTable:
    if max_samples is None or len(table) <= max_samples:
        return table
    # A seeded random subset in the table's order: the first rows of a split can be one class only.
    rows = table.frame.sample(n=max_samples, random_state=seed).sort_index().reset_index(drop=True)
    return SampleTable(rows, table.class_names, table.arrays, table.modality, table.source)


def robustness_curve(model: keras.Model, data, epsilons: Sequence[float] = (0.0, 0.01, 0.03),
                     method: str = "fgsm", *, image_size: Optional[int] = None, batch_size: int = 64,
                     pgd_steps: int = PGD_STEPS, max_samples: Optional[int] = None, seed: int = 0,
                     job: Optional[Job] = None) -> RobustnessCurve:
    """Accuracy of ``model`` under ``method`` at each of ``epsilons`` on ``data``.

    ``data`` is a labelled :class:`SampleTable` (images made by the training pipeline at ``image_size``,
    default the model's input size), a ``tf.data.Dataset`` of ``(images, labels)`` batches, or an
    ``(images, labels)`` pair of arrays. ``max_samples`` attacks a seeded random subset (tables) or the
    first samples (datasets, arrays). FGSM's gradient does not depend on epsilon, so it is computed once
    per batch for every epsilon; PGD runs once per batch and non-zero epsilon. Sends ``Progress`` events
    to ``job`` and raises ``Cancelled`` when it is asked to stop (checked between batches).
    """
    job = job or Job()
    epsilons = parse_epsilons(epsilons)
    _check(method, max(epsilons))
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if isinstance(data, SampleTable):
        data = _sample_rows(data, max_samples, seed)
        total = len(data)
        size = image_size or int(model.input_shape[1])
        batches = make_dataset(data, size, batch_size)
    elif isinstance(data, tf.data.Dataset):
        batches, total = data, None
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = np.asarray(data[0], np.float32), np.asarray(data[1])
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if max_samples is not None:
            images, labels = images[:max_samples], labels[:max_samples]
        total = len(labels)
        batches = ((images[i:i + batch_size], labels[i:i + batch_size]) for i in range(0, total, batch_size))
    else:
        raise ValueError("data must be a SampleTable, a tf.data.Dataset of (images, labels) or an "
                         f"(images, labels) pair, got {type(data).__name__}")

    spec = (tf.TensorSpec((None, None, None, 3), tf.float32), tf.TensorSpec((None,), tf.int32))
    gradient_sign = tf.function(lambda x, y: tf.sign(input_gradient(model, x, y)), input_signature=spec)
    predict = tf.function(lambda x: tf.argmax(model(x, training=False), axis=-1, output_type=tf.int32),
                          input_signature=spec[:1])
    pgd_attack = tf.function(lambda x, y, eps: pgd(model, x, y, eps, steps=pgd_steps, seed=seed),
                             input_signature=(*spec, tf.TensorSpec((), tf.float32)))

    task = f"robustness ({method})"
    correct = np.zeros(len(epsilons), np.int64)
    done = 0
    job.emit(Progress(run_id=job.run_id, task=task, done=0, total=total or 0))
    for x, y in batches:
        job.check_stop()
        if max_samples is not None and done >= max_samples:
            break
        x, y = tf.convert_to_tensor(x, tf.float32), tf.cast(tf.convert_to_tensor(y), tf.int32)
        if max_samples is not None and done + int(x.shape[0]) > max_samples:
            x, y = x[:max_samples - done], y[:max_samples - done]
        sign = gradient_sign(x, y) if method == "fgsm" else None
        for i, epsilon in enumerate(epsilons):
            if epsilon == 0:
                x_eps = x
            elif method == "fgsm":
                radius = epsilon * PIXEL_MAX
                x_eps = _project(x + radius * sign, x, radius)
            else:
                x_eps = pgd_attack(x, y, tf.constant(epsilon, tf.float32))
            correct[i] += int(tf.reduce_sum(tf.cast(predict(x_eps) == y, tf.int32)))
        done += int(x.shape[0])
        job.emit(Progress(run_id=job.run_id, task=task, done=done, total=total or done))
    if done == 0:
        raise ValueError("no samples to attack")
    return RobustnessCurve(method=method, epsilons=epsilons, accuracy=[float(c) / done for c in correct], n=done,
                           pgd_steps=pgd_steps if method == "pgd" else None)


# --- stored runs ----------------------------------------------------------------------------------


def run_test_table(record) -> SampleTable:
    """A run's test split as a labelled table, from its ``predictions.csv`` (what was evaluated), with the
    dataset's arrays for built-in datasets (loaded through the gallery's cache)."""
    predictions = record.predictions
    array_index = predictions["array_index"].fillna(-1).astype(np.int64).to_numpy()
    frame = pd.DataFrame({"ref": predictions["ref"].to_numpy(), "label": predictions["true"].astype(str).to_numpy(),
                          "path": predictions["path"].where(array_index < 0, None).to_numpy(),
                          "array_index": array_index})
    unreadable = int((frame["path"].isna() & (array_index < 0)).sum())
    if unreadable:
        # An update that mixed two built-in datasets: its config describes only the first one's arrays.
        raise ValueError(f"{unreadable} test images of run {record.run_id} come from a dataset its config does "
                         "not describe (an update that mixed two sources), so they cannot be loaded to attack; "
                         "measure the robustness of the parent run or of a version trained from one dataset")
    arrays = None
    if (array_index >= 0).any():
        from lepton_widgets.core.tasks.image.gallery import dataset_table  # shares the gallery's dataset cache

        arrays = dataset_table(record.config).arrays
    return SampleTable(frame=frame, class_names=[str(name) for name in record.class_names], arrays=arrays)


def stored_robustness(record) -> Optional[RobustnessCurve]:
    """The robustness curve stored with a run (adversarially trained runs have one), or None."""
    path = Path(record.path) / ROBUSTNESS_FILE
    if not path.exists():
        return None
    return RobustnessCurve.from_dict(json.loads(path.read_text()))


# --- adversarial training -------------------------------------------------------------------------


def mix_adversarial(model: keras.Model, x, y, method: str, epsilon: float, ratio: float,
                    steps: int = TRAIN_PGD_STEPS, seed: Optional[int] = None) -> tf.Tensor:
    """The batch ``x`` with its first ``ceil(ratio * len(x))`` images replaced by adversarial ones.

    Batches come shuffled, so the first rows are a random choice; labels stay where they were.
    """
    _check(method, epsilon)
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    x = tf.convert_to_tensor(x, tf.float32)
    n = tf.shape(x)[0]
    # The small offset keeps float noise (0.3 * 10 = 3.0000000000000004) from adding a row.
    k = tf.minimum(n, tf.cast(tf.math.ceil(ratio * tf.cast(n, tf.float32) - 1e-4), tf.int32))
    x_adv = attack(model, x[:k], y[:k], method, epsilon, steps=steps, seed=seed)
    return tf.concat([x_adv, x[k:]], axis=0)


class AdversarialTrainer(keras.Model):
    """``fit`` this instead of ``model`` to train ``model`` on mixed clean and adversarial batches.

    Per batch, ``ratio`` of the images are attacked (``method`` at ``epsilon``, against the current weights,
    the model in inference mode), then Keras' own ``train_step`` trains on the mix, so the loss, the
    regularisation losses, the metrics and the callbacks (early stopping, checkpoints, stop events)
    behave as with ``model.fit``. The training loss and accuracy are those of the mixed batches; the
    validation ones are clean. The wrapper owns no weights: it shares ``model``'s, and freezing ``model``'s
    layers is seen here. Save ``model``, not the wrapper.
    """

    def __init__(self, model: keras.Model, method: str, epsilon: float, ratio: float,
                 pgd_steps: int = TRAIN_PGD_STEPS, seed: Optional[int] = None, **kwargs) -> None:
        _check(method, epsilon)
        if not 0 < ratio <= 1:
            raise ValueError(f"ratio must be in (0, 1], got {ratio}")
        super().__init__(name=kwargs.pop("name", f"adversarial_{model.name}"), **kwargs)
        self.inner = model
        self.method, self.epsilon, self.ratio = method, float(epsilon), float(ratio)
        self.pgd_steps, self.seed = pgd_steps, seed

    def call(self, inputs, training=None):
        return self.inner(inputs, training=training)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        # Crafted before super()'s tape opens: the attack's own gradients are not part of the update.
        x = mix_adversarial(self.inner, x, y, self.method, self.epsilon, self.ratio, self.pgd_steps, self.seed)
        return super().train_step(keras.utils.pack_x_y_sample_weight(x, y, sample_weight))
