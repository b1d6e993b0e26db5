"""Fusion of text runs (GloVe on real food reviews) and table runs (German Credit): ensembles, a greedy soup of
text members that share their start, distillation of both, and the refusal to mix kinds of data.

Every fused run must be a run of its members' task: stored with its task's files, predicted by the task's own
predictor (``predict_texts``, ``predict_frame``, ``lw.predict``) exactly as its stored predictions say, and
scored on the same validation split as its members. The checks recompute the members' and the fused model's
validation scores from the stored models, not from ``fusion.json``.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lepton_widgets import api
from lepton_widgets.config import RunConfig
from lepton_widgets.core.fusion.ensemble import validation_log_loss
from lepton_widgets.core.fusion.fuse import fuse, fusion_info
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.tasks import task_for_run
from lepton_widgets.core.tasks.tabular import predict_frame, prepare_table
from lepton_widgets.core.tasks.text import predict_texts, prepare_texts, run_text_experiment

pytestmark = pytest.mark.slow

#: GloVe members: one seed (so one split and one start: the embedding is GloVe's, the head is drawn from the
#: seed), different learning rates, dropout and epochs. Frozen embedding (frozen_depth None): seconds a run.
#: Measured: val log-loss 0.541 / 0.570 / 0.626 (60 val reviews); the optimised weights were (1, 0, 0).
GLOVE = {"seed": 7, "data": {"dataset": "food_reviews", "max_per_class": 200, "test_fraction": 0.25},
         "backbone": {"name": "glove_6b_50d", "sequence_length": 96},
         "train": {"epochs": 20, "learning_rate": 3e-3, "batch_size": 32, "early_stopping_patience": 5}}
TEXT_MEMBERS = ({"learning_rate": 3e-3}, {"learning_rate": 1e-2, "dropout": 0.5}, {"learning_rate": 1e-3})
#: Table members on German Credit (1,000 loans): one seed, other learning rates and dropout.
CREDIT = {"seed": 1, "data": {"dataset": "german_credit", "max_per_class": None},
          "train": {"epochs": 30, "learning_rate": 3e-3, "early_stopping_patience": 5, "batch_size": 32}}
TABLE_MEMBERS = ({"learning_rate": 3e-3}, {"learning_rate": 1e-2, "dropout": 0.4}, {"learning_rate": 1e-3})


def member_config(base: dict, name: str, **train) -> RunConfig:
    backbone = {**base.get("backbone", {}), **train.pop("backbone", {})}
    return RunConfig.from_dict({**base, "name": name, "backbone": backbone, "train": {**base["train"], **train}})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return RunStore(tmp_path_factory.mktemp("fusion-text-table"))


@pytest.fixture(scope="module")
def text_members(store):
    runs = [run_text_experiment(member_config(GLOVE, f"glove{i}", **t), store=store)
            for i, t in enumerate(TEXT_MEMBERS)]
    assert [r.status for r in runs] == ["finished"] * 3
    return runs


@pytest.fixture(scope="module")
def table_members(store):
    runs = [api.train(member_config(CREDIT, f"credit{i}", **t), runs_dir=store.root) for i, t in enumerate(TABLE_MEMBERS)]
    assert [r.status for r in runs] == ["finished"] * 3
    return runs


@pytest.fixture(scope="module")
def reviews(text_members):
    cfg = text_members[0].config
    return prepare_texts(cfg.data, cfg.seed)


@pytest.fixture(scope="module")
def credit(table_members):
    cfg = table_members[0].config
    return prepare_table(cfg.data, cfg.seed)


def text_val_probs(run, reviews) -> np.ndarray:
    table, texts = reviews.split("val")
    return predict_texts(run, texts)[[f"p({c})" for c in run.class_names]].to_numpy()


def table_val_probs(run, credit) -> np.ndarray:
    _, rows = credit.split("val")
    return predict_frame(run, rows)[[f"p({c})" for c in run.class_names]].to_numpy()


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(probs.argmax(axis=1) == y))


# --- texts ------------------------------------------------------------------------------------------

def test_text_ensemble_is_a_text_run_no_worse_than_its_best_member_on_validation(text_members, reviews, store):
    fused = fuse(text_members, "ensemble", store=store, name="glove ensemble")
    assert fused.status == "finished"
    y_val = reviews.split("val")[0].label_indices()
    # Validation log-loss (what the weights minimise), recomputed from the stored models by the text predictor.
    members = [validation_log_loss(text_val_probs(run, reviews), y_val) for run in text_members]
    ours = validation_log_loss(text_val_probs(fused, reviews), y_val)
    info = fusion_info(fused)
    print(f"text ensemble: val log-loss {ours:.4f} vs members {[round(m, 4) for m in members]}, "
          f"weights {info['weights']}; test accuracy {fused.metrics['accuracy']:.3f} vs members "
          f"{[round(r.metrics['accuracy'], 3) for r in text_members]}")
    assert ours <= min(members) + 1e-6
    assert ours == pytest.approx(info["fused"]["val"]["log_loss"], abs=1e-5)

    # A text run like any other: its task, its files, its predictions.
    assert task_for_run(fused).name == "text" and fused.info["encoder"] == "glove_6b_50d"
    assert (fused.path / "text.json").is_file() and fused.evaluation["accuracy"] == fused.metrics["accuracy"]
    stored = fused.predictions
    table, texts = reviews.split("test")
    assert stored["ref"].tolist() == table.frame["ref"].tolist()
    again = api.predict(fused, texts[:20])
    assert again["label"].tolist() == stored["predicted"].tolist()[:20]
    np.testing.assert_allclose(again["confidence"], stored["confidence"][:20], atol=1e-5)


def test_greedy_soup_of_text_members_that_share_their_start(text_members, reviews, store):
    soup = fuse(text_members, "greedy-soup", store=store)
    assert soup.status == "finished"
    y_val = reviews.split("val")[0].label_indices()
    members = [accuracy(text_val_probs(run, reviews), y_val) for run in text_members]
    ours = accuracy(text_val_probs(soup, reviews), y_val)
    print(f"text greedy soup: val accuracy {ours:.3f} vs members {members}, soup {fusion_info(soup)['soup']}")
    assert ours >= max(members)  # the greedy soup starts as the best member and never drops
    # One member's size: a weight average, not an ensemble.
    assert soup.load_model().count_params() == text_members[0].load_model().count_params()
    assert task_for_run(soup).name == "text"


def test_distilled_text_student_trains_what_its_member_trained(text_members, reviews, store):
    record = fuse(text_members, "distill", store=store, distill_epochs=2)
    assert record.status == "finished" and [row["phase"] for row in record.history] == ["distill"] * 2
    student, start = record.load_model(), store.open(fusion_info(record)["student_from"]).load_model()

    def layer(model, kind):
        return next(x for x in model.layers if isinstance(x, kind))

    # The members trained their head on a frozen GloVe embedding: so does the student.
    np.testing.assert_array_equal(layer(student, keras.layers.Embedding).get_weights()[0],
                                  layer(start, keras.layers.Embedding).get_weights()[0])
    assert not np.allclose(student.get_layer("classifier").get_weights()[0],
                           start.get_layer("classifier").get_weights()[0])
    y_val = reviews.split("val")[0].label_indices()
    assert accuracy(text_val_probs(record, reviews), y_val) == pytest.approx(
        fusion_info(record)["fused"]["val"]["accuracy"])


# --- tables -----------------------------------------------------------------------------------------

def test_table_ensemble_is_a_table_run_no_worse_than_its_best_member_on_validation(table_members, credit, store,
                                                                                   tmp_path):
    fused = api.fuse([r.run_id for r in table_members], method="ensemble", runs_dir=store.root)
    assert fused.status == "finished"
    y_val = credit.split("val")[0].label_indices()
    members = [validation_log_loss(table_val_probs(run, credit), y_val) for run in table_members]
    ours = validation_log_loss(table_val_probs(fused, credit), y_val)
    print(f"table ensemble: val log-loss {ours:.4f} vs members {[round(m, 4) for m in members]}, weights "
          f"{fusion_info(fused)['weights']}; test ROC AUC {fused.metrics['roc_auc']:.3f} vs members "
          f"{[round(r.metrics['roc_auc'], 3) for r in table_members]}")
    assert ours <= min(members) + 1e-6

    assert task_for_run(fused).name == "tabular" and fused.metrics["roc_auc"] > 0.5
    _, rows = credit.split("test")
    csv = tmp_path / "loans.csv"
    rows.head(15).to_csv(csv, index=False)
    again = api.predict(fused, [csv])  # a table run takes CSV files, one row per table row
    assert again["label"].tolist() == fused.predictions["predicted"].tolist()[:15]

    from lepton_widgets.panels.evaluate import EvaluatePanel
    from lepton_widgets.state import Runner, Session

    session = Session()
    panel = EvaluatePanel(session, Runner(session, runs_dir=store.root))
    session.current_run = fused.run_id
    assert f"{fused.metrics['roc_auc']:.3f}" in panel.metrics.value  # evaluated like any table run


def test_distilled_table_student_moves_towards_the_ensemble(table_members, credit, store):
    record = fuse(table_members, "distill", store=store, distill_epochs=3)
    assert record.status == "finished"
    info = fusion_info(record)
    assert [row["phase"] for row in record.history] == ["distill"] * 3
    start = store.open(info["student_from"])
    assert record.load_model().count_params() == start.load_model().count_params()
    # The objective it trained: cross-entropy to the ensemble's soft labels on the train rows.
    _, rows = credit.split("train")
    weights = info["weights"]
    soft = sum(weights[r.run_id] * predict_frame(r, rows)[["p(bad)", "p(good)"]].to_numpy() for r in table_members)

    def cross_entropy(run) -> float:
        probs = predict_frame(run, rows)[["p(bad)", "p(good)"]].to_numpy()
        return float(-np.mean(np.sum(soft * np.log(np.clip(probs, 1e-7, None)), axis=1)))

    before, after = cross_entropy(start), cross_entropy(record)
    print(f"distill: cross-entropy to the soft labels {before:.4f} -> {after:.4f}; weights {weights}")
    assert max(weights.values()) < 0.999  # a real ensemble teaches, not one member
    assert after < before
    assert task_for_run(record).name == "tabular"


def test_runs_of_different_kinds_of_data_are_refused_in_plain_words(text_members, table_members, store):
    before = {p.name for p in store.root.iterdir()}
    with pytest.raises(ValueError, match="trained on one kind of data.*on texts.*on tables"):
        fuse([text_members[0], table_members[0]], "ensemble", store=store)
    assert {p.name for p in store.root.iterdir()} == before

    from lepton_widgets.panels.fusion import FusionPanel
    from lepton_widgets.state import Runner, Session

    session = Session()
    panel = FusionPanel(session, Runner(session, runs_dir=store.root))
    panel.select.value = (text_members[0].run_id, table_members[0].run_id)
    assert panel.fuse_button.disabled and "one kind of data" in panel.message.value
    panel.select.value = tuple(r.run_id for r in text_members)  # texts with texts: ready to fuse
    assert not panel.fuse_button.disabled and panel.message.value.startswith("Ready")
