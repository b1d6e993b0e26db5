"""One traced head model for every head-only trial of a search: the fast path's per-trial cost.

Head-only trials differ in dropout, L2, learning rate and batch size. Building a fresh Keras head per
trial costs a graph trace (about 1.5 s on a busy 2-core machine) plus KerasTuner's ``clear_session`` and
garbage collection (about 0.6 s), which is many times the training itself on cached features. A
:class:`SharedHead` holds the head of ``model.build_head_model`` (same layer names, same initialiser,
same loss, optimiser and metrics), except that the dropout rate and the L2 factor are variables. A
trial *resets* it (weights to their seeded initial values, optimiser state to zero, hyper-parameters
assigned) and trains with the already traced functions of the fast head (``fast_head.fit_head`` keeps
them per model and optimiser, and a reset keeps both).

The training is the same computation as a fresh ``build_head_model`` head: ``RateDropout`` draws its
mask with the same seed stream and TensorFlow op as ``keras.layers.Dropout``, and ``VariableL2`` adds the
same penalty as ``keras.regularizers.L2``. tests/test_tuning.py checks that both give the same history. ``search.py`` beside this file uses it.

Example:
    >>> from lepton_widgets.config import RunConfig
    >>> head = SharedHead(8, 3, RunConfig())
    >>> model = head.reset(RunConfig().replace(train__dropout=0.5, train__l2=0.0))
    >>> float(head.rate.numpy()), model.get_layer("classifier").units, model is head.model
    (0.5, 3, True)
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from lepton_widgets.config import RunConfig
from lepton_widgets.core.tasks.image.model import CLASSIFIER_LAYER, DROPOUT_LAYER, HIDDEN_LAYER, head_layer_names
from lepton_widgets.core.tasks.image.training import compile_model


class RateDropout(keras.layers.Layer):
    """``keras.layers.Dropout`` whose rate is a variable (read when the step runs, not when it is traced)."""

    def __init__(self, rate: keras.Variable, seed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        # What keras.layers.Dropout does for a rate in (0, 1): the TensorFlow backend's random.dropout.
        seed = self.seed_generator.next()
        seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), "int32")
        return tf.nn.experimental.stateless_dropout(inputs, rate=tf.cast(self.rate, inputs.dtype), seed=seed)


class VariableL2(keras.regularizers.Regularizer):
    """``keras.regularizers.L2`` with its factor in a variable (0 adds nothing, like no regularizer)."""

    def __init__(self, factor: keras.Variable) -> None:
        self.factor = factor

    def __call__(self, x):
        return ops.cast(self.factor, x.dtype) * ops.sum(ops.square(x))


def can_share(cfg: RunConfig) -> bool:
    """A cosine schedule bakes the step count (which depends on the batch size) into the optimiser."""
    return cfg.train.lr_schedule != "cosine"


class SharedHead:
    """A compiled head on ``feature_dim`` pooled features, reset per trial instead of rebuilt.

    The head's shape (``cfg.train.head_units``) is fixed at construction: one SharedHead per width.
    """

    def __init__(self, feature_dim: int, num_classes: int, cfg: RunConfig) -> None:
        self.rate = keras.Variable(0.0, trainable=False, name="dropout_rate")
        self.l2 = keras.Variable(0.0, trainable=False, name="l2_factor")
        self.seed = cfg.seed
        self.head_units = cfg.train.head_units
        inputs = x = keras.Input((feature_dim,), name="features")
        if self.head_units > 0:
            x = keras.layers.Dense(self.head_units, activation="relu", kernel_regularizer=VariableL2(self.l2),
                                   kernel_initializer=keras.initializers.GlorotUniform(seed=cfg.seed + 1),
                                   name=HIDDEN_LAYER)(x)
        x = RateDropout(self.rate, seed=cfg.seed, name=DROPOUT_LAYER)(x)
        outputs = keras.layers.Dense(
            num_classes, activation="softmax", kernel_regularizer=VariableL2(self.l2),
            kernel_initializer=keras.initializers.GlorotUniform(seed=cfg.seed), name=CLASSIFIER_LAYER)(x)
        self.model = keras.Model(inputs, outputs, name="head")
        compile_model(self.model, cfg.train.learning_rate, cfg, steps=1)
        self.model.optimizer.build(self.model.trainable_variables)  # create its slots now, to reset them later
        weights = [v for name in head_layer_names(self.model) for v in self.model.get_layer(name).weights]
        self._initial = [(v, np.array(v.numpy()))
                         for v in (*weights, self.model.get_layer(DROPOUT_LAYER).seed_generator.state)]

    def reset(self, cfg: RunConfig) -> keras.Model:
        """Start a trial: initial weights and dropout seed, fresh optimiser, this config's values.
        Do not compile the model again: a new optimiser would make ``fast_head`` trace its functions again."""
        if cfg.train.head_units != self.head_units:
            raise ValueError(f"this shared head has {self.head_units} hidden units, the trial wants "
                             f"{cfg.train.head_units}")
        for variable, value in self._initial:
            variable.assign(value)
        optimizer = self.model.optimizer
        for variable in optimizer.variables:
            if variable is not optimizer._learning_rate:  # noqa: SLF001 - the one variable that is a setting
                variable.assign(ops.zeros(variable.shape, variable.dtype))
        optimizer.learning_rate = cfg.train.learning_rate
        self.rate.assign(cfg.train.dropout)
        self.l2.assign(cfg.train.l2)
        self.model.stop_training = False
        return self.model
