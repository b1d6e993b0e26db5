"""Backbone ranking: LogME against a brute-force evidence maximisation, rank_backbones, CLI and panel."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from conftest import tiny_config
from lepton_widgets import api
from lepton_widgets.cli import main
from lepton_widgets.core.backbones.run_backbone import run_weights
from lepton_widgets.core.base.events import Cancelled, ListSink
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks import run_experiment
from lepton_widgets.core.tasks.image.ranking import logme, parse_candidates, rank_backbones
from lepton_widgets.core.runs.store import RunStore

CFG = tiny_config(data={"dataset": "digits", "max_per_class": 30})


def _evidence(f, y, alpha, beta):
    """Log evidence of Bayesian linear regression, straight from the definition (no eigen tricks)."""
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    return (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - beta / 2 * np.sum((y - f @ m) ** 2)
            - alpha / 2 * m @ m - np.linalg.slogdet(a)[1] / 2 - n / 2 * np.log(2 * np.pi)) / n


@pytest.mark.parametrize("n, d", [(80, 6), (12, 30)])      # N > D, and N < D (rank-deficient F^T F)
def test_logme_reaches_the_maximum_evidence_found_by_grid_search(n, d):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, n)
    f = np.eye(3)[labels] @ rng.normal(size=(3, d)) + 0.5 * rng.normal(size=(n, d))
    grid = np.exp(np.linspace(-6, 14, 101))     # with N < D the best noise precision is large
    best = np.mean([max(_evidence(f, (labels == k).astype(float), a, b) for a in grid for b in grid)
                    for k in range(3)])
    score = logme(f, labels)
    assert score == pytest.approx(best, abs=0.02)
    assert score > logme(rng.normal(size=(n, d)), labels)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return RunStore(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def source(store):
    record = run_experiment(tiny_config(name="source", data={"classes": [0, 1, 2, 3, 4], "max_per_class": 30},
                                        train={"epochs": 1, "fine_tune_epochs": 2}), store=store)
    assert record.status == "finished"
    return record


def test_rank_backbones_scores_caches_and_explains(source):
    candidates = ["small_cnn:none", f"run:{source.path}", "mobilenet_v2:imagenet", "nope:none"]
    assert parse_candidates(candidates)[1] == ("", f"run:{source.path}")  # the family comes from the run
    sink = ListSink()
    frame = api.rank_backbones(CFG, candidates, sink=sink, train_per_class=10, val_per_class=5)
    assert list(frame.columns) == ["backbone", "weights", "logme", "probe_accuracy", "seconds", "recommended",
                                   "status", "reason"]
    scored = frame[frame["status"] == "ok"]
    assert len(scored) == 2 and scored["logme"].notna().all() and scored["probe_accuracy"].between(0, 1).all()
    assert frame["recommended"].sum() == 1 and frame.iloc[0]["recommended"] and frame.iloc[0]["status"] == "ok"
    assert (frame["status"] == "unavailable").sum() == 2
    assert "not in the Keras cache" in frame.set_index("backbone").loc["mobilenet_v2", "reason"]
    assert "unknown backbone 'nope'" in frame.set_index("backbone").loc["nope", "reason"]
    assert frame.set_index("weights").loc[f"run:{source.path}", "backbone"] == "small_cnn"
    # A run that cannot serve says why, instead of stopping the ranking or blaming an unknown backbone.
    missing = rank_backbones(CFG, ["small_cnn:none", "run:no-such-run-anywhere"], train_per_class=10,
                             val_per_class=5)
    row = missing.set_index("weights").loc["run:no-such-run-anywhere"]
    assert row["status"] == "unavailable" and "no-such-run-anywhere" in row["reason"], row["reason"]
    ranks = [e for e in sink.events if e.kind == "progress" and e.task == "rank backbones"]
    assert (ranks[0].done, ranks[-1].done, ranks[-1].total) == (0, 4, 4)
    assert any(e.kind == "progress" and e.task.startswith("extract features") for e in sink.events)

    # The run backbone's features are cached under its identity: a second ranking extracts nothing for it.
    again = ListSink()
    second = rank_backbones(CFG, [f"run:{source.path}"], job=Job(sink=again), train_per_class=10, val_per_class=5)
    assert not any(e.kind == "progress" and e.task.startswith("extract") for e in again.events)
    first_score = frame.set_index("weights").loc[f"run:{source.path}", "logme"]
    assert second.iloc[0]["logme"] == pytest.approx(first_score)

    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        rank_backbones(CFG, ["small_cnn:none"], job=Job(stop_event=stop))
    with pytest.raises(ValueError, match="NAME:WEIGHTS"):
        rank_backbones(CFG, ["small_cnn"])


def test_cli_rank_prints_the_table_and_the_recommendation(tmp_path, store, source, capsys):
    config = tmp_path / "rank.yaml"
    config.write_text(CFG.to_yaml())
    code = main(["--runs-dir", str(store.root), "rank", str(config), "--candidates",
                 f"small_cnn:none,run:{source.run_id},mobilenet_v2:imagenet", "--train-per-class", "8",
                 "--val-per-class", "4", "--json", str(tmp_path / "rank.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "<-- recommended" in out and "recommended: backbone small_cnn" in out
    assert f"run:{source.path.resolve()}" in out                      # the id was found in --runs-dir
    assert "mobilenet_v2:imagenet unavailable: ImageNet weights not in the Keras cache" in out
    assert (tmp_path / "rank.json").read_text().count('"backbone"') == 3


def test_backbone_panel_offers_runs_and_ranks(store, source):
    from lepton_widgets.panels.backbone import BackbonePanel
    from lepton_widgets.state import Runner, Session

    session = Session(dataset="digits", max_per_class=20, backbone="mobilenet_v2", weights="offline",
                      image_size=32)
    runner = Runner(session, runs_dir=store.root)
    panel = BackbonePanel(session, runner)
    values = [value for _, value in panel.run_select.options]
    assert run_weights(source) in values

    panel.weights_select.value = "run"
    assert session.weights == "offline" and "pick one of your finished runs" in panel.notice.value
    panel.run_select.value = run_weights(source)
    assert (session.backbone, session.weights) == ("small_cnn", run_weights(source))
    assert panel.weights_select.value == "run" and panel.notice.layout.display == "none"
    assert "unit" in panel.info.value and source.run_id in panel.sources.value

    writer = store.create(tiny_config(name="later"))                  # a new run appears in the store...
    later = writer.finalize("cancelled")
    finished_later = run_experiment(tiny_config(name="later-ok", train={"epochs": 1, "fine_tune_epochs": 0}),
                                    store=store)
    session.runs_version += 1                                          # ...and the list follows
    values = [value for _, value in panel.run_select.options]
    assert run_weights(finished_later) in values and run_weights(later) not in values

    session.backbone, session.weights = "mobilenet_v2", "offline"
    panel.rank_candidates.value = f"small_cnn:none, small_cnn:run:{source.path}, mobilenet_v2:imagenet"
    panel.rank_button.click()
    assert runner.wait(300) and session.status == "finished", session.last_error
    assert "recommended" in panel.rank_table.value and "not in the Keras cache" in panel.rank_table.value
    assert not panel.use_button.disabled
    best = panel.ranking[panel.ranking["recommended"]].iloc[0]
    panel.use_button.click()
    assert (session.backbone, session.weights) == (best["backbone"], best["weights"])
