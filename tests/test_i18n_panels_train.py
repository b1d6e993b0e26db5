"""The Train, Evaluate and Runs steps in Chinese, and the Train step's Compare runs view (issue 16).

Two real tiny runs (digits, small CNN, a few seconds each) with different names are trained into a temporary
runs folder; the Compare runs view draws both runs' training and validation curves on one chart from the run
store, and every panel of this area is built in Chinese and walked for English left in it.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import tiny_config
from visible_text import english_left

import lepton_widgets as lw
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.i18n import set_language
from lepton_widgets.panels.compare_curves import CompareRunsView
from lepton_widgets.panels.evaluate import EvaluatePanel
from lepton_widgets.panels.runs import RunsPanel
from lepton_widgets.panels.train import TrainPanel
from lepton_widgets.state import Runner, Session

NAMES = ("alpha", "beta slow")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two finished runs with different names and learning rates, trained for real."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEPTON_HOME", str(tmp_path_factory.mktemp("lepton-home")))
        runs_dir = tmp_path_factory.mktemp("runs")
        small = {"data": {"dataset": "digits", "max_per_class": 30}}
        records = [lw.train(tiny_config(name=NAMES[0], train={"epochs": 3, "fine_tune_epochs": 0}, **small),
                            runs_dir=runs_dir),
                   lw.train(tiny_config(name=NAMES[1], train={"epochs": 3, "fine_tune_epochs": 0,
                                                               "learning_rate": 3e-4}, **small), runs_dir=runs_dir)]
        yield {"runs_dir": runs_dir, "records": records}


def _panels(runs_dir, record):
    session = Session()
    session.load_config(tiny_config())
    runner = Runner(session, runs_dir=runs_dir)
    train, evaluate, runs = TrainPanel(session, runner), EvaluatePanel(session, runner), RunsPanel(session, runner)
    session.current_run = record.run_id  # the Evaluate step shows this run, the Train step its curves
    return session, train, evaluate, runs


def test_compare_runs_draws_both_runs_training_and_validation_on_one_chart(two_runs):
    records = two_runs["records"]
    assert [r.status for r in records] == ["finished", "finished"] and all(len(r.history) >= 2 for r in records)
    _session, train, _evaluate, _runs = _panels(two_runs["runs_dir"], records[0])
    view = train.compare
    assert "lepton-compare-runs" in view.widget._dom_classes and view.widget in train.widget.children
    assert set(view.select.options[i][1] for i in range(2)) == {r.run_id for r in records}
    assert view.figure is None  # nothing chosen: no chart yet

    view.select.value = tuple(r.run_id for r in records)
    figure = view.figure
    assert len(figure.data) == 4
    assert [t.name for t in figure.data] == [f"{NAMES[0]} · training", f"{NAMES[0]} · validation",
                                             f"{NAMES[1]} · training", f"{NAMES[1]} · validation"]
    for i, record in enumerate(records):
        training, validation = figure.data[2 * i], figure.data[2 * i + 1]
        assert list(training.y) == [row["loss"] for row in record.history]
        assert list(validation.y) == [row["val_loss"] for row in record.history]
        assert list(training.x) == [row["epoch"] for row in record.history]
        assert training.line.dash == "dash" and validation.line.dash == "solid"
        assert training.line.color == validation.line.color  # one colour per run
    assert figure.data[0].line.color != figure.data[2].line.color

    view.metric.value = "accuracy"
    assert view.figure is not figure and len(view.figure.data) == 4
    assert list(view.figure.data[3].y) == [row["val_accuracy"] for row in records[1].history]
    assert list(view.figure.data[2].y) == [row["accuracy"] for row in records[1].history]

    # The live curves of the current run: training and validation of each metric on one chart.
    live = [(t.name, t.xaxis, t.line.dash) for t in train.curves.data]
    assert live == [("training loss", "x", "dash"), ("validation loss", "x", "solid"),
                    ("training accuracy", "x2", "dash"), ("validation accuracy", "x2", "solid")]


def test_compare_runs_follows_runs_version(two_runs, tmp_path):
    """A run added to the store shows up when the Runner bumps runs_version; the choice is kept."""
    first, second = two_runs["records"]
    store = RunStore(tmp_path / "runs")
    shutil.copytree(first.path, store.root / first.run_id)
    session = Session()
    view = CompareRunsView(session, store)
    view.select.value = (first.run_id,)
    assert [o[1] for o in view.select.options] == [first.run_id] and len(view.figure.data) == 2
    shutil.copytree(second.path, store.root / second.run_id)
    assert len(view.select.options) == 1
    session.runs_version += 1
    assert sorted(o[1] for o in view.select.options) == sorted([first.run_id, second.run_id])
    assert view.select.value == (first.run_id,) and len(view.figure.data) == 2


def test_train_evaluate_runs_and_compare_speak_chinese(two_runs):
    records = two_runs["records"]
    assert set_language("zh") == "zh"
    session, train, evaluate, runs = _panels(two_runs["runs_dir"], records[0])
    train.compare.select.value = tuple(r.run_id for r in records)
    runs.select.value = tuple(r.run_id for r in records)
    evaluate.select_cell(0, 0)
    assert evaluate.confusion is not None and evaluate.gallery.children  # the run and a cell are shown
    session.adversarial = "fgsm"  # the adversarial note and its greyed-out controls come alive
    classes = [str(name) for name in records[0].class_names]
    # Data and names the person gave, the data set's and network's identifiers in the runs table; "dropout" is the
    # Latin term the glossary keeps beside its Chinese words.
    allowed = [*NAMES, *(r.run_id for r in records), *classes, str(two_runs["runs_dir"]),
               *(r.config.data.dataset for r in records), *(r.config.backbone.name for r in records),
               *(item.ref for item in evaluate.gallery_items), "dropout"]
    for panel in (train, evaluate, runs):
        left = english_left(panel.widget, allowed=allowed)
        print(type(panel).__name__, *left, sep="\n  ")
        assert left == [], left
    assert train.train_button.description == "训练"
    names = [t.name for t in train.compare.figure.data]
    assert names[0].startswith(NAMES[0]) and "training" not in names[0] and "validation" not in names[1]


def test_the_same_panels_in_english(two_runs):
    records = two_runs["records"]
    _session, train, evaluate, runs = _panels(two_runs["runs_dir"], records[0])
    train.compare.select.value = (records[1].run_id,)
    assert train.train_button.description == "Train"
    assert [t.name for t in train.compare.figure.data] == [f"{NAMES[1]} · training", f"{NAMES[1]} · validation"]
    assert "Per class" in evaluate.metrics.value and "test accuracy" in runs.table.value
    assert english_left(train.widget)  # the walker does find English, so the Chinese test above can fail
