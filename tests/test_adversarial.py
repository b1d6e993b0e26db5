"""Adversarial robustness on real data: FGSM and PGD against real trained models, adversarial training,
the stored robustness of a run, and the Train / Evaluate panel controls. No mocks.

Two module-scoped runs (digits, small_cnn at 32 px, 1 head + 3 fine-tune epochs, ~12 s each) are trained
with ``run_experiment``: one plain, one with FGSM adversarial training (epsilon 0.03, half of each batch).
Measured on this machine (80 test images; ``robustness_curve(..., [0, 0.015, 0.03, 0.06], "fgsm")`` and
PGD with 10 steps at 0.03):

    plain:        clean 0.750, FGSM 0.537 / 0.425 / 0.312, PGD@0.03 0.225
    FGSM-trained: clean 0.812, FGSM 0.775 / 0.688 / 0.650, PGD@0.03 0.613

Since models from scratch train every block in their first phase too (issue 12's defaults that learn), the
plain model is stronger and the gap at epsilon narrower (a full-suite run on the 2-core CI machine):

    plain:        clean 0.950, FGSM 0.838 / 0.725 / 0.512
    FGSM-trained: clean 0.912, FGSM 0.850 / 0.812 / 0.725

The thresholds below leave a margin around those numbers.
"""

from __future__ import annotations

import json
import threading

import keras
import numpy as np
import pytest
from conftest import tiny_config

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.tasks.image.adversarial import (AdversarialTrainer, attack, default_epsilons, fgsm, input_gradient,
                                             mix_adversarial, parse_epsilons, pgd, robustness_curve, run_test_table,
                                             stored_robustness)
from lepton_widgets.core.data import make_dataset, prepare_data
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks import run_experiment
from lepton_widgets.core.tasks.image.model import build_transfer_model
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.tasks.image.training import uses_feature_cache
from lepton_widgets.panels.evaluate import EvaluatePanel
from lepton_widgets.panels.train import TrainPanel
from lepton_widgets.state import Runner, Session

EPSILON = 0.03
ADVERSARIAL = {"adversarial": "fgsm", "adversarial_epsilon": EPSILON, "adversarial_ratio": 0.5}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A plain run and an FGSM-adversarially trained run of the same config, and their test split."""
    store = RunStore(tmp_path_factory.mktemp("adv-runs"))
    plain = run_experiment(tiny_config(), store=store)
    robust = run_experiment(tiny_config(train=ADVERSARIAL), store=store)
    assert plain.status == "finished" and robust.status == "finished"
    cfg = tiny_config()
    test = prepare_data(cfg.data, cfg.seed).split("test")
    return {"store": store, "plain": plain, "robust": robust, "test": test,
            "plain_model": plain.load_model(), "robust_model": robust.load_model()}


@pytest.fixture(scope="module")
def curves(runs):
    """FGSM curves of both models at 0, eps/2, eps and 2 eps, on the same test images."""
    epsilons = default_epsilons(EPSILON)
    return {name: robustness_curve(runs[f"{name}_model"], runs["test"], epsilons, "fgsm")
            for name in ("plain", "robust")}


@pytest.mark.slow
def test_fgsm_lowers_the_plain_models_accuracy(curves):
    plain = curves["plain"]
    assert plain.epsilons == [0.0, EPSILON / 2, EPSILON, 2 * EPSILON]
    assert plain.n == 80
    assert plain.clean_accuracy >= 0.6  # measured 0.750: the model did learn
    assert plain.clean_accuracy - plain.at(EPSILON) >= 0.15  # measured 0.750 -> 0.425
    # A larger radius hurts at least as much (same gradient sign, longer step): monotone within noise.
    assert plain.at(2 * EPSILON) <= plain.at(EPSILON) + 1 / plain.n


@pytest.mark.slow
def test_adversarial_training_raises_accuracy_under_attack(curves):
    plain, robust = curves["plain"], curves["robust"]
    assert robust.at(EPSILON) >= plain.at(EPSILON) + 0.05  # measured 0.812 vs 0.725 (was 0.688 vs 0.425)
    assert robust.at(2 * EPSILON) >= plain.at(2 * EPSILON) + 0.10  # measured 0.725 vs 0.512 (was 0.650 vs 0.312)
    assert robust.clean_accuracy >= 0.6  # measured 0.912: robustness did not cost the clean accuracy


@pytest.mark.slow
def test_pgd_is_at_least_as_strong_as_fgsm(runs, curves):
    strong = {name: robustness_curve(runs[f"{name}_model"], runs["test"], [EPSILON], "pgd", seed=3)
              for name in ("plain", "robust")}
    for name, curve in strong.items():
        assert curve.pgd_steps == 10 and curve.n == curves[name].n
        # PGD can only tie or beat FGSM up to sampling noise: one image of slack.
        assert curve.at(EPSILON) <= curves[name].at(EPSILON) + 1 / curve.n, name
    # On the plain model PGD is clearly stronger (measured 0.225 vs FGSM 0.425).
    assert strong["plain"].at(EPSILON) <= curves["plain"].at(EPSILON) - 0.08


@pytest.mark.slow
def test_perturbations_stay_in_the_epsilon_ball_and_the_pixel_range(runs):
    model, test = runs["plain_model"], runs["test"]
    x, y = next(iter(make_dataset(test, 32, 32)))
    x, y = x.numpy(), y.numpy()
    radius = EPSILON * 255
    assert x.min() == 0  # digits have black backgrounds: the clip to [0, 255] is exercised
    for method in ("fgsm", "pgd"):
        adversarial = attack(model, x, y, method, EPSILON).numpy()
        assert adversarial.shape == x.shape
        assert np.abs(adversarial - x).max() <= radius + 1e-3, method
        assert adversarial.min() >= 0 and adversarial.max() <= 255, method
        assert np.abs(adversarial - x).max() >= 0.9 * radius, method  # and it does move pixels
    # FGSM moves every pixel with a non-zero gradient by exactly the radius unless the range clips it.
    step = fgsm(model, x, y, EPSILON).numpy() - x
    unclipped = (x > radius) & (x < 255 - radius)
    moved = np.abs(step[unclipped])
    assert np.mean(np.isclose(moved, radius, atol=1e-3)) > 0.9
    # PGD without a random start and with one step of size epsilon is FGSM.
    one_step = pgd(model, x, y, EPSILON, steps=1, step_size=EPSILON, random_start=False).numpy()
    np.testing.assert_allclose(one_step, fgsm(model, x, y, EPSILON).numpy(), atol=1e-3)


@pytest.mark.slow
def test_mix_replaces_the_first_share_of_each_batch(runs):
    model, test = runs["plain_model"], runs["test"]
    x, y = next(iter(make_dataset(test, 32, 16)))
    mixed = mix_adversarial(model, x, y, "fgsm", EPSILON, ratio=0.5).numpy()
    changed = np.abs(mixed - x.numpy()).reshape(len(mixed), -1).max(axis=1) > 0
    assert changed[:8].all() and not changed[8:].any()
    mixed = mix_adversarial(model, x[:5], y[:5], "fgsm", EPSILON, ratio=0.3).numpy()  # ceil(1.5) = 2 rows
    changed = np.abs(mixed - x.numpy()[:5]).reshape(5, -1).max(axis=1) > 0
    assert changed.tolist() == [True, True, False, False, False]


@pytest.mark.slow
def test_an_adversarial_run_stores_its_robustness_and_a_plain_model(runs, curves):
    robust, plain = runs["robust"], runs["plain"]
    assert stored_robustness(plain) is None and not (plain.path / "robustness.json").exists()
    stored = stored_robustness(robust)
    assert stored.method == "fgsm" and stored.epsilons == default_epsilons(EPSILON)
    assert stored.n == len(robust.predictions) == 80
    # Epsilon 0 is the evaluation itself: same images, same model.
    assert abs(stored.clean_accuracy - robust.metrics["accuracy"]) <= 1 / stored.n
    # The stored curve is the one measured again from the saved model (same weights, same images).
    np.testing.assert_allclose(stored.accuracy, curves["robust"].accuracy, atol=1 / stored.n + 1e-9)
    phases = json.loads((robust.path / "phases.json").read_text())
    assert all(p["adversarial"] == {"method": "fgsm", "epsilon": EPSILON, "ratio": 0.5} for p in phases)
    assert not any(p["cached_features"] for p in phases)
    assert "adversarial" not in json.loads((plain.path / "phases.json").read_text())[0]
    # model.keras is the plain functional model: it loads in safe mode without the training wrapper.
    model = runs["robust_model"]
    assert type(model).__name__ == "Functional" and not isinstance(model, AdversarialTrainer)
    assert model.output_shape == (None, 10)


def test_attacks_reach_the_raw_pixels_through_a_pretrained_backbone():
    """MobileNetV2 (offline weights, frozen, its own normalisation layer): the input gradient is not zero,
    so FGSM moves pixels, and the attack leaves the frozen BatchNorm statistics alone."""
    cfg = tiny_config(data={"max_per_class": 5}, backbone={"name": "mobilenet_v2", "weights": "offline",
                                                           "image_size": 32, "frozen_depth": None})
    prepared = prepare_data(cfg.data, cfg.seed)
    tm = build_transfer_model(cfg, prepared.num_classes)
    batchnorm = [layer for layer in tm.backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    before = [layer.moving_mean.numpy().copy() for layer in batchnorm]
    x, y = next(iter(make_dataset(prepared.split("train"), 32, 8)))
    gradient = input_gradient(tm.model, x, y).numpy()
    assert np.abs(gradient).mean() > 0 and np.isfinite(gradient).all()
    moved = np.abs(fgsm(tm.model, x, y, EPSILON).numpy() - x.numpy())
    assert np.mean(moved > 0) > 0.5 and moved.max() <= EPSILON * 255 + 1e-3
    assert all(np.array_equal(layer.moving_mean.numpy(), old) for layer, old in zip(batchnorm, before))


def test_adversarial_training_turns_the_feature_cache_off():
    cfg = RunConfig.from_dict({"backbone": {"name": "mobilenet_v2", "weights": "offline"}})
    assert uses_feature_cache(cfg)
    assert not uses_feature_cache(cfg.replace(train__adversarial="pgd"))


def test_a_cancelled_pgd_adversarial_run_stops(tmp_path):
    """Stop after the first training batch: the PGD train step ran once, then the run ends as cancelled."""
    stop = threading.Event()
    batches = []

    def sink(event):
        if event.kind == "batch_progress":
            batches.append(event)
            stop.set()

    cfg = tiny_config(train={**ADVERSARIAL, "adversarial": "pgd", "epochs": 2})
    record = run_experiment(cfg, Job(sink=sink, stop_event=stop), store=RunStore(tmp_path))
    assert record.status == "cancelled"
    assert len(batches) == 1 and batches[0].step == 1
    assert record.history == [] and not record.model_path.exists()


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="not a number"):
        parse_epsilons("0, 0.01, eight")
    with pytest.raises(ValueError, match="outside"):
        parse_epsilons("0, 8")
    with pytest.raises(ValueError, match="at least one"):
        parse_epsilons(" , ")
    assert parse_epsilons("0.03; 0, 0.01,0.03") == [0.0, 0.01, 0.03]
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
    images, labels = np.zeros((2, 4, 4, 3), np.float32), np.array([0, 1])
    with pytest.raises(ValueError, match="epsilon must be in"):
        fgsm(model, images, labels, epsilon=8)
    with pytest.raises(ValueError, match="attack must be one of"):
        attack(model, images, labels, "deepfool", 0.01)
    with pytest.raises(ValueError, match="ratio"):
        AdversarialTrainer(model, "fgsm", 0.01, ratio=0)
    with pytest.raises(ValueError, match="SampleTable"):
        robustness_curve(model, "images.npy", [0.01])
    with pytest.raises(ValueError, match="2 images but 1 labels"):
        robustness_curve(model, (images, labels[:1]), [0.01])
    with pytest.raises(ConfigError, match="train.adversarial must be one of"):
        tiny_config(train={"adversarial": "deepfool"}).validate()
    # Arrays work too: zero images give zero logits, a tie that argmax breaks towards class 0.
    curve = robustness_curve(model, (images, np.zeros(2, np.int64)), [0, 0.5], "fgsm")
    assert curve.n == 2 and curve.epsilons == [0.0, 0.5] and curve.accuracy[0] == 1.0


def test_train_panel_adversarial_toggles_bind_to_the_session():
    session = Session()
    session.load_config(tiny_config())
    panel = TrainPanel(session, Runner(session))
    controls = panel.controls
    assert controls["adversarial"].value == "none"
    assert controls["adversarial_epsilon"].disabled and controls["adversarial_ratio"].disabled
    assert "head_units" in controls  # the lead's control is still there
    controls["adversarial"].value = "pgd"
    controls["adversarial_epsilon"].value = 0.02
    controls["adversarial_ratio"].value = 0.25
    assert (session.adversarial, session.adversarial_epsilon, session.adversarial_ratio) == ("pgd", 0.02, 0.25)
    train = session.to_config().train
    assert (train.adversarial, train.adversarial_epsilon, train.adversarial_ratio) == ("pgd", 0.02, 0.25)
    assert not controls["adversarial_epsilon"].disabled and "5.1/255" in panel.adversarial_note.value
    session.load_config(tiny_config(train={"adversarial": "fgsm", "adversarial_epsilon": 0.1}))
    assert controls["adversarial"].value == "fgsm" and controls["adversarial_epsilon"].value == 0.1
    controls["adversarial"].value = "none"
    assert session.to_config().train.adversarial == "none" and controls["adversarial_ratio"].disabled
    assert panel.adversarial_note.value == ""


@pytest.mark.slow
def test_evaluate_panel_plots_accuracy_against_epsilon(runs):
    session = Session()
    runner = Runner(session, runs_dir=runs["store"].root)
    panel = EvaluatePanel(session, runner)
    assert panel.robustness_button.disabled and panel.robustness_plot is None  # no run yet

    session.current_run = runs["plain"].run_id
    assert not panel.robustness_button.disabled and panel.robustness_plot is None  # a plain run stores none
    panel.robustness_epsilons.value = "0, 0.01, 1.5"
    panel.robustness_button.click()
    assert "outside" in panel.robustness_status.value and not runner.busy  # nothing started

    session.current_run = runs["robust"].run_id
    stored = panel.robustness_plot
    assert [len(trace.x) for trace in stored.data] == [4]  # the FGSM curve stored at training
    panel.robustness_method.value = "pgd"
    panel.robustness_epsilons.value = "0, 0.01, 0.03"
    panel.robustness_samples.value = 40
    panel.robustness_button.click()
    assert runner.wait(timeout=300)
    assert session.status == "finished", session.last_error
    curve = panel.robustness_result
    assert curve.method == "pgd" and curve.n == 40 and curve.epsilons == [0.0, 0.01, 0.03]
    fig = panel.robustness_plot
    assert fig is not stored and panel.robustness_box.children == (fig,)
    assert list(fig.data[0].x) == [0.0, 0.01, 0.03] and list(fig.data[0].y) == curve.accuracy
    assert len(fig.data[1].x) == 4 and fig.data[1].line.dash == "dash"  # the stored curve, for comparison
    assert curve.accuracy[0] >= curve.accuracy[-1]
    assert "robustness (pgd) on 40 test images" in session.message

    table = run_test_table(runs["robust"])  # what the button attacked: the run's own test split
    assert len(table) == 80 and table.class_names == runs["robust"].class_names
