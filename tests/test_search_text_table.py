"""Search (KerasTuner) for texts and tables, through their tasks: real training on small real data.

A GloVe text search on food reviews and an MLP search on the breast-cancer table, each finding a trial
better than its worst; trials stored and resumed as for pictures; the frozen-encoder and preprocessing
fast paths taken where they apply; ``lepton tune`` accepting a text config; and the Search panel taking
texts and tables with real widgets.
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from lepton_widgets import cli
from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.base.events import ListSink
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.search.tuner import open_search, run_search
from lepton_widgets.core.tasks import run_experiment, task_for_config
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE

#: tests/test_text_glove.py's fast GloVe config, smaller: 250 reviews a class, 6 head epochs a trial (at 120 a
#: class every trial stayed at the majority's 0.5 on validation). Measured here on a loaded machine (load 12 on
#: 2 cores): trials 0.589, 0.600, 0.578 and 0.756 (word augmentation, lr 7e-3) at 300 a class, 8 epochs; 67 s.
TEXT = {"name": "reviews", "seed": 7,
        "data": {"dataset": "food_reviews", "max_per_class": 250, "test_fraction": 0.25},
        "backbone": {"name": GLOVE_BACKBONE, "sequence_length": 64},
        "train": {"epochs": 6, "fine_tune_epochs": 1, "learning_rate": 3e-3, "batch_size": 32,
                  "early_stopping_patience": 5},
        "tuner": {"max_trials": 4, "learning_rate": [1e-4, 3e-2], "dropout": [0.0, 0.5],
                  "frozen_depth": [None, 0], "head_units": [8, 128], "augment": ["none", "words"]}}
#: The breast-cancer table (569 rows), 8 epochs a trial.
TABLE = {"name": "cancer", "seed": 1, "data": {"dataset": "breast_cancer", "max_per_class": None},
         "train": {"epochs": 8, "batch_size": 32, "early_stopping_patience": 8},
         "tuner": {"max_trials": 5, "learning_rate": [1e-5, 3e-2], "dropout": [0.0, 0.5],
                   "head_units": [4, 64], "hidden_layers": [1, 3]}}


def _search(raw: dict, runs, **changes):
    cfg = RunConfig.from_dict(raw)
    if changes:
        cfg = cfg.replace(**changes)
    sink = ListSink()
    started = time.monotonic()
    result = run_search(cfg, Job(sink=sink), runs_dir=runs)
    return result, sink, time.monotonic() - started


@pytest.fixture(scope="module")
def text_search(tmp_path_factory):
    runs = tmp_path_factory.mktemp("text-search")
    result, sink, seconds = _search(TEXT, runs)
    return {"runs": runs, "result": result, "sink": sink, "seconds": seconds}


@pytest.fixture(scope="module")
def table_search(tmp_path_factory):
    runs = tmp_path_factory.mktemp("table-search")
    result, sink, seconds = _search(TABLE, runs)
    return {"runs": runs, "result": result, "sink": sink, "seconds": seconds}


def _scores(result) -> list[float]:
    return [t["score"] for t in result.completed]


def test_the_text_and_table_tasks_take_the_search_step():
    for raw in (TEXT, TABLE):
        task = task_for_config(RunConfig.from_dict(raw))
        assert task.supports("search") and task.refusal("search") is None


def test_a_text_search_finds_a_trial_better_than_its_worst(text_search):
    result, sink = text_search["result"], text_search["sink"]
    scores = _scores(result)
    print(f"text search ({text_search['seconds']:.1f} s): val_accuracy per trial {[round(s, 3) for s in scores]}")
    assert result.status == "finished" and len(scores) == 4
    assert result.best["score"] == max(scores) > min(scores)
    # A trial with the whole embedding frozen and no augmentation trains its head on the cached features;
    # one that fine-tunes or augments trains on the texts, with a fine-tune phase when it unfreezes.
    started = {e.number: e for e in sink.events if e.kind == "trial_started"}
    for trial in result.trials:
        values = trial["hyperparameters"]
        on_features = values["frozen_depth"] == -1 and values["augment"] == "none"
        assert started[trial["number"]].path == ("cached features" if on_features else "texts"), values
        assert started[trial["number"]].epochs == (6 if values["frozen_depth"] == -1 else 7), values
    assert {e.path for e in started.values()} == {"cached features", "texts"}
    best = result.best_config()
    values = result.best["hyperparameters"]
    assert best.train.learning_rate == values["learning_rate"] and best.train.head_units == values["head_units"]
    assert best.backbone.frozen_depth == (None if values["frozen_depth"] == -1 else 0)
    assert (best.augment.word_dropout > 0) == (values["augment"] == "words") and not best.tuner.searched()


def test_a_text_search_resumes_from_its_stored_trials_and_lepton_tune_takes_a_text_config(text_search, tmp_path,
                                                                                          capsys):
    runs, result = text_search["runs"], text_search["result"]
    stored = open_search(result.directory)
    assert [t["score"] for t in stored.trials] == [t["score"] for t in result.trials]
    assert json.loads((result.directory / "best.json").read_text())["trial_id"] == result.best["trial_id"]
    # One more trial: the four stored ones are kept, only the fifth trains.
    more, sink, _ = _search(TEXT, runs, tuner__max_trials=5)
    assert more.directory == result.directory and more.plan.resumed and more.plan.completed == 4
    assert [e.number for e in sink.events if e.kind == "trial_started"] == [5]
    assert [t["score"] for t in more.trials[:4]] == [t["score"] for t in result.trials]
    config = tmp_path / "reviews.yaml"
    config.write_text(yaml.safe_dump({**TEXT, "tuner": {**TEXT["tuner"], "max_trials": 5}}))
    assert cli.main(["--runs-dir", str(runs), "tune", str(config)]) == 0
    out = capsys.readouterr().out
    assert "all trials are done" in out and f"best trial {more.best['number']}:" in out


def test_a_table_search_finds_a_trial_better_than_its_worst_on_the_encoded_columns(table_search):
    result, sink = table_search["result"], table_search["sink"]
    scores = _scores(result)
    print(f"table search ({table_search['seconds']:.1f} s): val_accuracy per trial {[round(s, 3) for s in scores]}")
    assert result.status == "finished" and len(scores) == 5
    assert result.best["score"] == max(scores) > min(scores)
    assert {e.path for e in sink.events if e.kind == "trial_started"} == {"encoded columns"}
    assert {t["hyperparameters"]["hidden_layers"] for t in result.trials} <= {1, 3}


def test_the_best_table_trial_trains_as_a_normal_run_to_the_same_validation_score(table_search, tmp_path):
    """The cached preprocessing is the same computation as the run's own model: same score, same layers."""
    result = table_search["result"]
    best = result.best_config()
    values = result.best["hyperparameters"]
    assert (best.train.head_units, best.train.hidden_layers) == (values["head_units"], values["hidden_layers"])
    record = run_experiment(best, store=RunStore(tmp_path))
    assert record.status == "finished"
    assert max(row["val_accuracy"] for row in record.history) == pytest.approx(result.best["score"], abs=1e-6)
    model = record.load_model()
    hidden = [layer.units for layer in model.layers if layer.name.startswith("hidden_")]
    assert hidden == [max(1, values["head_units"] >> i) for i in range(values["hidden_layers"])]


def test_a_table_resumes_as_a_picture_search_does(table_search):
    runs, result = table_search["runs"], table_search["result"]
    again, sink, _ = _search(TABLE, runs)
    assert again.directory == result.directory and again.plan.resumed and again.plan.completed == 5
    assert not [e for e in sink.events if e.kind == "trial_started"]
    assert again.best["trial_id"] == result.best["trial_id"]


@pytest.mark.parametrize("raw, changes, fragment", [
    (TABLE, {"tuner__frozen_depth": [None, 1]}, "a table has no backbone, blocks or augmentation"),
    (TEXT, {"tuner__augment": ["none", "geometric"]}, "augment pictures; for texts choose among"),
    (TEXT, {"tuner__backbone": ["small_cnn"]}, "a text search chooses among the text encoders"),
    (TEXT, {"tuner__hidden_layers": [1, 2]}, "does not apply to texts"),
])
def test_what_a_text_or_table_search_cannot_vary_is_refused_in_words(raw, changes, fragment, tmp_path):
    with pytest.raises(ConfigError, match=fragment):
        run_search(RunConfig.from_dict(raw).replace(**changes), runs_dir=tmp_path)
    assert not (tmp_path / "searches").exists()  # refused before anything was written


def test_the_search_panel_offers_a_tables_space_and_searches_it_with_real_widgets(tmp_path, monkeypatch):
    from lepton_widgets.panels.tuner import TunerPanel
    from lepton_widgets.state import Runner, Session

    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "home"))
    session = Session()
    session.load_config(RunConfig.from_dict({**TABLE, "tuner": {}}))
    session.tuner = {"max_trials": 3, "learning_rate": [1e-4, 1e-2], "frozen_depth": [None, 3]}
    runner = Runner(session, runs_dir=tmp_path / "runs")
    panel = TunerPanel(session, runner)
    shown = [name for name, row in panel.space.items() if row.box.layout.display != "none"]
    assert shown == ["dropout", "l2", "learning_rate", "batch_size", "head_units", "hidden_layers"]
    assert "frozen_depth" not in session.tuner  # a table has no blocks: dropped, not refused at Start
    panel.space["hidden_layers"].search.value = True
    panel.space["hidden_layers"].widget.value = "1, 3"
    low, _to, high = panel.space["learning_rate"].widget.children
    low.value, high.value = 1e-5, 3e-2
    panel.max_trials.value = 3
    panel.start_button.click()
    assert runner.wait(timeout=300) and session.status == "finished", (session.status, session.last_error)
    assert session.tuner["hidden_layers"] == [1, 3]
    scores = [r["score"] for r in session.trials]
    assert len(scores) == 3 and session.best_trial["score"] == max(scores)
    assert {r["path"] for r in session.trials} == {"encoded columns"}
    assert panel.table.value.count("class='lepton-trial-row'") == 3
    session.dataset = "food_reviews"  # texts: their encoders and word policies, no network depth
    assert panel.space["hidden_layers"].box.layout.display == "none"
    assert GLOVE_BACKBONE in panel.space["backbone"].widget.options
    assert "words" in panel.space["augment"].widget.options and "geometric" not in panel.space["augment"].widget.options
    assert "hidden_layers" not in session.tuner
