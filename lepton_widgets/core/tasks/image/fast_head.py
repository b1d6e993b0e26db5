"""Train a Keras head on in-memory cached features with one compiled call per epoch.

A head on pooled features is a few thousand multiply-adds per sample: on a CPU one optimiser step on a
batch of 32 takes microseconds, while Keras ``fit`` spends about a millisecond per batch in Python
(iterator, callbacks, dispatch). That overhead, not the arithmetic, set the speed of the head phase, of
every head-only search trial and of Auto's head stage (issue 18: 22,000 samples/s where a dense layer
manages well over 100,000).

:func:`fit_head` keeps the model's own computation and replaces only the loop around it: the features
stay in memory as tensors, and one ``tf.function`` runs a whole epoch, a ``tf.while_loop`` over the
batches that calls the model's Keras ``train_step`` (same loss, optimiser, metrics, dropout seeds and
L2 penalty as ``fit``). Validation is one call of ``test_step`` per 4,096 rows. Between epochs it does
what ``fit`` does: reset the metrics, call the callbacks (early stopping, learning-rate plateau,
checkpoints, the job's progress events and stop checks, KerasTuner's trial reporting) and stop when
one asks. Class weights become per-sample weights as in ``fit``, and batches follow the same seeded
shuffle as ``tf.data.Dataset.shuffle(n, seed, reshuffle_each_iteration=True)``, so a run gives the
same history as ``fit`` on those batches (tests/test_fast_head.py checks it to 1e-5).

Differences from ``fit``: batch hooks run once per epoch (after its last batch), so a stop request is
seen between epochs; an epoch on cached features takes milliseconds.

Example:
    >>> import numpy as np, keras
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.random((64, 8)).astype("float32"), rng.integers(0, 2, 64).astype("int32")
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
    >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> history = fit_head(model, (x, y), (x, y), epochs=2, batch_size=16, seed=0)
    >>> history.epoch, sorted(history.history)
    ([0, 1], ['accuracy', 'loss', 'val_accuracy', 'val_loss'])
"""

from __future__ import annotations

import functools
import weakref
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

#: Rows per validation or prediction call: its metrics are sample means, whatever the batching.
EVAL_BATCH = 4096
#: Validation calls of a model run eagerly before its evaluation is traced (see ``_Compiled.evaluate``).
EAGER_EVALUATIONS = 10


class _Compiled:
    """The traced epoch and evaluation functions of one compiled model (traced on first use)."""

    def __init__(self, model: keras.Model) -> None:
        # A weak reference: the functions must not keep a finished trial's model alive.
        ref = weakref.ref(model)

        def epoch(x, y, weight, order, batch):
            model = ref()
            n = tf.shape(order)[0]
            steps = (n + batch - 1) // batch

            def body(step):
                rows = order[step * batch:tf.minimum((step + 1) * batch, n)]
                data = (tf.gather(x, rows), tf.gather(y, rows))
                if weight is not None:
                    data += (tf.gather(weight, rows),)
                model.train_step(data)  # updates the weights, optimiser state and metrics
                return (step + 1,)

            tf.while_loop(lambda step: step < steps, body, (tf.constant(0, steps.dtype),), parallel_iterations=1)
            return model.get_metrics_result()

        def evaluate(x, y):
            model = ref()
            model.test_step((x, y))
            return model.get_metrics_result()

        # autograph off: the loop is an explicit while_loop, and Keras' steps are plain TensorFlow code.
        self.epoch = tf.function(epoch, autograph=False, reduce_retracing=True)
        self._traced_evaluate = tf.function(evaluate, autograph=False, reduce_retracing=True)
        self._eager_evaluate = evaluate
        self.evaluations = 0

    def evaluate(self, x, y):
        """The validation pass: eager for a model's first :data:`EAGER_EVALUATIONS` calls (one eager pass
        over a few hundred rows takes milliseconds, tracing it takes a good part of a second), traced after
        that (a search's shared head, a long run)."""
        self.evaluations += 1
        if self.evaluations <= EAGER_EVALUATIONS:
            return self._eager_evaluate(x, y)
        return self._traced_evaluate(x, y)


_COMPILED: "weakref.WeakKeyDictionary[keras.Model, tuple]" = weakref.WeakKeyDictionary()


def _compiled(model: keras.Model) -> _Compiled:
    """One set of traced functions per model and compilation (``compile`` makes a new optimiser)."""
    entry = _COMPILED.get(model)
    if entry is None or entry[0] is not model.optimizer:
        entry = (model.optimizer, _Compiled(model))
        _COMPILED[model] = entry
    return entry[1]


def shuffled_orders(n: int, seed: Optional[int], epochs: int) -> np.ndarray:
    """Row orders of ``epochs`` epochs (one row each): those ``fit`` draws from
    ``Dataset.range(n).shuffle(n, seed, reshuffle_each_iteration=True)``, which is also the order
    ``make_dataset(shuffle=True, seed=seed)`` gives the images. ``None``: every epoch in order.

    >>> orders = shuffled_orders(5, seed=1, epochs=2)
    >>> sorted(orders[0].tolist()), orders[0].tolist() != orders[1].tolist()
    ([0, 1, 2, 3, 4], True)
    """
    if seed is None:
        return np.tile(np.arange(n, dtype="int32"), (epochs, 1))
    # The shuffles are a function of the global and operation seeds (get_seed gives the pair that
    # Dataset.shuffle uses), so a search's trials and repeated runs reuse them: building the tf.data
    # pipeline that draws them cost more than an epoch of a small head.
    return _drawn_orders(n, tf.compat.v1.random.get_seed(seed), epochs)


@functools.lru_cache(maxsize=8)
def _drawn_orders(n: int, seeds: tuple, epochs: int) -> np.ndarray:
    seed = seeds[1]
    # Each pass draws the next shuffle. Keras 3's fit() opens two iterators per epoch (its epoch iterator
    # makes a fresh one when the last ends), so its epochs see every other shuffle: the same here, so that
    # this loop and fit() see the same batches (tests/test_fast_head.py). One iterator for every epoch:
    # opening one costs milliseconds, as much as an epoch of a head.
    rows = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat(2 * epochs)
    orders = next(iter(rows.batch(2 * epochs * n))).numpy().reshape(2 * epochs, n)[::2].astype("int32")
    orders.flags.writeable = False  # shared by every caller with these seeds
    return orders


def sample_weights(labels: np.ndarray, class_weight: Optional[dict]) -> Optional[np.ndarray]:
    """``fit``'s ``class_weight`` as one weight per sample (``None`` stays ``None``).

    >>> sample_weights(np.array([0, 1, 1]), {0: 2.0, 1: 0.5}).tolist()
    [2.0, 0.5, 0.5]
    """
    if not class_weight:
        return None
    table = np.ones(int(max(max(class_weight), np.max(labels, initial=0))) + 1, dtype="float32")
    for index, value in class_weight.items():
        table[int(index)] = value
    return table[np.asarray(labels, dtype=np.int64)]


def fit_head(model: keras.Model, train: tuple, val: Optional[tuple] = None, *, epochs: int, batch_size: int,
             seed: Optional[int] = None, initial_epoch: int = 0, class_weight: Optional[dict] = None,
             callbacks: Sequence[keras.callbacks.Callback] = ()) -> keras.callbacks.History:
    """Train compiled ``model`` on ``train = (features, labels)`` for epochs ``[initial_epoch, epochs)``,
    validating on ``val`` after each; returns the ``History`` as ``model.fit`` would.

    ``seed``: shuffle the rows each epoch as ``tf.data`` does with that seed (``None``: keep their order).
    ``class_weight`` and ``callbacks`` mean what they mean to ``fit``. See the module docstring.
    """
    if tf.distribute.get_strategy().num_replicas_in_sync > 1:
        return _fit_distributed(model, train, val, epochs=epochs, batch_size=batch_size, seed=seed,
                                initial_epoch=initial_epoch, class_weight=class_weight, callbacks=callbacks)
    x, y = _tensor(train[0], tf.float32), _tensor(train[1], tf.int32)
    n = int(y.shape[0])
    if n == 0:
        raise ValueError("no training rows to fit the head on")
    weights = sample_weights(np.asarray(train[1]), class_weight)
    weight = None if weights is None else tf.convert_to_tensor(weights)
    has_val = val is not None and int(val[1].shape[0]) > 0
    if has_val:
        val_x, val_y = _tensor(val[0], tf.float32), _tensor(val[1], tf.int32)
    model._symbolic_build(data_batch=(x[:1], y[:1]) + (() if weight is None else (weight[:1],)))  # noqa: SLF001
    compiled = _compiled(model)
    steps = -(-n // batch_size)
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(list(callbacks) + [history], add_history=False,
                                                 add_progbar=False, model=model, verbose=0, epochs=epochs,
                                                 steps=steps)
    batch = tf.constant(batch_size, tf.int32)
    # As fit() on a new dataset: a continued run (initial_epoch > 0) starts the seeded shuffles afresh.
    orders = shuffled_orders(n, seed, max(0, epochs - initial_epoch))
    model.stop_training = False
    callback_list.on_train_begin()
    logs: dict = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        order = tf.convert_to_tensor(orders[epoch - initial_epoch])
        callback_list.on_train_batch_begin(steps - 1)
        logs = _floats(compiled.epoch(x, y, weight, order, batch))
        callback_list.on_train_batch_end(steps - 1, logs)
        if has_val:
            model.reset_metrics()
            val_logs = {}
            for start in range(0, int(val_y.shape[0]), EVAL_BATCH):
                val_logs = compiled.evaluate(val_x[start:start + EVAL_BATCH], val_y[start:start + EVAL_BATCH])
            logs = {**logs, **{f"val_{k}": v for k, v in _floats(val_logs).items()}}
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    model.history = history
    return history


def _fit_distributed(model, train, val, *, epochs, batch_size, seed, initial_epoch, class_weight, callbacks):
    """Several replicas (core/base/distribute.py): the compiled epoch above calls ``train_step`` outside
    ``strategy.run``, which mirrored variables refuse, so Keras ``fit`` splits each batch across the replicas
    instead, on the same seeded shuffle."""
    rows = tf.data.Dataset.from_tensor_slices((np.asarray(train[0], "float32"), np.asarray(train[1], "int32")))
    if seed is not None:
        rows = rows.shuffle(len(train[1]), seed=seed, reshuffle_each_iteration=True)
    has_val = val is not None and int(val[1].shape[0]) > 0
    val_rows = (tf.data.Dataset.from_tensor_slices((np.asarray(val[0], "float32"), np.asarray(val[1], "int32")))
                .batch(EVAL_BATCH) if has_val else None)
    return model.fit(rows.batch(batch_size), validation_data=val_rows, epochs=epochs, initial_epoch=initial_epoch,
                     verbose=0, shuffle=False, class_weight=class_weight, callbacks=list(callbacks))


def predict_head(model: keras.Model, features: np.ndarray) -> np.ndarray:
    """``model``'s outputs on ``features`` in inference mode, without tracing a predict function (a small
    head's eager call on a few thousand rows takes milliseconds; tracing ``predict`` took a second)."""
    features = np.asarray(features, dtype="float32")
    if len(features) == 0:
        return np.zeros((0,) + tuple(model.output_shape[1:]), dtype="float32")
    return np.concatenate([np.asarray(model(features[start:start + EVAL_BATCH], training=False))
                           for start in range(0, len(features), EVAL_BATCH)])


def _tensor(array, dtype) -> tf.Tensor:
    """A tensor of ``array`` (NumPy, a memory map or a tensor already: then no copy)."""
    if isinstance(array, tf.Tensor):
        return array if array.dtype == dtype else tf.cast(array, dtype)
    return tf.convert_to_tensor(np.asarray(array, dtype=dtype.as_numpy_dtype))


def _floats(logs: dict) -> dict:
    return {key: float(value) for key, value in logs.items()}


__all__ = ["fit_head", "predict_head", "shuffled_orders", "sample_weights", "EVAL_BATCH"]
