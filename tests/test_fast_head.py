"""The fast head (core/tasks/image/fast_head.py) trains exactly like Keras ``fit``, and the head phase and the
tuner use it.

Tolerance: 1e-5 on every history value and weight. Both run the model's own Keras ``train_step`` on the
same batches in the same order, so they differ only by float rounding (measured here: 0 to 1e-7); a wrong
order, a missed class weight, a dropout seed drawn differently or a skipped epoch each move the loss by
1e-3 or more after one epoch.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lepton_widgets.config import RunConfig
from lepton_widgets.core.base.events import Cancelled, ListSink
from lepton_widgets.core.base.callbacks import EventCallback
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.image import fast_head
from lepton_widgets.core.tasks.image.fast_head import fit_head, predict_head
from lepton_widgets.core.tasks.image.model import build_head_model
from lepton_widgets.core.tasks.image.training import (class_weights, compile_model, seed_everything,
                                                      standard_callbacks)

ATOL = 1e-5
RNG = np.random.default_rng(0)
# Learnable but noisy: classes shifted along a few dimensions, so early stopping has something to do.
Y = RNG.integers(0, 4, 200).astype("int32")
X = (RNG.normal(size=(200, 24)) + 0.6 * np.eye(4, 24)[Y] * 3).astype("float32")
VAL_X, VAL_Y = X[:50] + RNG.normal(scale=0.5, size=(50, 24)).astype("float32"), Y[:50]


def _head(cfg: RunConfig):
    seed_everything(cfg.seed)
    model = build_head_model(24, 4, cfg)
    compile_model(model, cfg.train.learning_rate, cfg, steps=6 * 13)
    return model


def _keras_fit(cfg: RunConfig, epochs: int, class_weight):
    """The plain-Keras loop this replaces: fit() on a tf.data pipeline shuffled with the run seed."""
    model = _head(cfg)
    train = (tf.data.Dataset.range(len(Y)).shuffle(len(Y), seed=cfg.seed, reshuffle_each_iteration=True)
             .batch(cfg.train.batch_size).map(lambda rows: (tf.gather(X, rows), tf.gather(Y, rows))))
    history = model.fit(train, validation_data=(VAL_X, VAL_Y), epochs=epochs, verbose=0, shuffle=False,
                        class_weight=class_weight,
                        callbacks=standard_callbacks(cfg, None, "head", cfg.train.learning_rate))
    return model, history.history


@pytest.mark.parametrize("train", [
    # dropout, L2, a hidden layer, balanced class weights, the plateau schedule and early stopping
    {"dropout": 0.3, "l2": 1e-3, "head_units": 8, "class_weight": "balanced", "lr_schedule": "plateau",
     "early_stopping_patience": 1, "learning_rate": 3e-2, "batch_size": 16},
    # the cosine schedule (it counts optimiser steps) and a last batch smaller than the others
    {"dropout": 0.0, "l2": 0.0, "lr_schedule": "cosine", "early_stopping_patience": 0, "batch_size": 48},
])
def test_fast_head_gives_the_same_history_and_weights_as_keras_fit(train):
    cfg = RunConfig.from_dict({"seed": 5, "train": train})
    weights = class_weights(cfg, Y, 4)
    keras_model, expected = _keras_fit(cfg, 6, weights)
    model = _head(cfg)
    got = fit_head(model, (X, Y), (VAL_X, VAL_Y), epochs=6, batch_size=cfg.train.batch_size, seed=cfg.seed,
                   class_weight=weights,
                   callbacks=standard_callbacks(cfg, None, "head", cfg.train.learning_rate)).history
    assert sorted(got) == sorted(expected)
    assert len(got["loss"]) == len(expected["loss"])  # early stopping stopped at the same epoch
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], atol=ATOL, err_msg=key)
    for a, b in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=ATOL)
    np.testing.assert_allclose(predict_head(model, VAL_X), keras_model.predict(VAL_X, verbose=0), atol=ATOL)
    if train["early_stopping_patience"]:
        assert len(got["loss"]) < 6, "this case is meant to stop early: make the data noisier"


def test_progress_events_and_stop_requests_reach_the_job_between_epochs():
    cfg = RunConfig.from_dict({"seed": 5, "train": {"early_stopping_patience": 0}})
    sink = ListSink()
    job = Job(sink=sink)
    model = _head(cfg)
    fit_head(model, (X, Y), (VAL_X, VAL_Y), epochs=3, batch_size=32, seed=1,
             callbacks=[EventCallback(job, "head", 3, batch_interval=0.0)])
    ended = sink.of_kind("epoch_ended")
    assert [e.epoch for e in ended] == [1, 2, 3]  # counted from 1, as the page shows them
    assert all(set(e.metrics) >= {"loss", "val_accuracy"} for e in ended)
    assert any(e.kind == "batch_progress" for e in sink.events)

    class StopAfterFirstEpoch(EventCallback):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            self.job.stop()

    stopped = ListSink()
    with pytest.raises(Cancelled):
        fit_head(model, (X, Y), None, epochs=5, batch_size=32, seed=1,
                 callbacks=[StopAfterFirstEpoch(Job(sink=stopped), "head", 5)])
    assert len(stopped.of_kind("epoch_ended")) == 1


def test_head_only_search_trials_train_through_the_fast_head(tmp_path, monkeypatch):
    """A head-only search's trials call fit_head (the head phase of a run, through training.py, is checked
    against an uncached run by tests/test_training.py)."""
    from lepton_widgets.core.search.tuner import run_search
    from lepton_widgets.core.tasks.image import search

    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "home"))
    calls: list[str] = []

    def counting(module):
        real = module.fit_head

        def fit(*args, **kwargs):
            calls.append(module.__name__.rsplit(".", 1)[-1])
            return real(*args, **kwargs)
        return fit

    monkeypatch.setattr(search, "fit_head", counting(search))
    cfg = RunConfig.from_dict({
        "name": "fast-head", "seed": 3, "data": {"dataset": "fashion_mnist", "max_per_class": 20},
        "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": 32},
        "train": {"epochs": 2, "batch_size": 32, "early_stopping_patience": 0},
        "tuner": {"max_trials": 2, "learning_rate": [1e-3, 3e-2]}})
    result = run_search(cfg, Job(), runs_dir=tmp_path / "runs")
    assert len(result.completed) == 2 and calls == ["search", "search"]
    assert all(0.0 < t["score"] <= 1.0 for t in result.completed), result.completed  # val_accuracy of each


def test_shuffled_orders_are_permutations_that_change_every_epoch_and_repeat_with_the_seed():
    first, again = fast_head.shuffled_orders(30, 4, 3), fast_head.shuffled_orders(30, 4, 3)
    assert (first == again).all()
    assert all(sorted(order) == list(range(30)) for order in first.tolist())
    assert len({tuple(order) for order in first.tolist()}) == 3
    assert (fast_head.shuffled_orders(5, None, 2) == np.arange(5)).all()
