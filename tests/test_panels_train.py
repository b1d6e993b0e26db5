"""Train, Evaluate, Runs and Code panels with real widgets and real (tiny) training runs; no mocks.

One module-scoped run (digits + small_cnn, 4 epochs, ~10 s) is trained by clicking the Train button with
every panel already on screen, so the same run checks live curves, the evaluation view, the gallery with
Grad-CAM, the runs table and reopening. Stop and failure get runs of their own.
"""

from __future__ import annotations

import contextlib
import io
import time

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_config, wait_for

from lepton_widgets.core.tasks.image.gallery import cell_gallery, cell_rows, load_images, run_model
from lepton_widgets.core.tasks.image.gradcam import gradcam, overlay
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.panels.code import CodePanel
from lepton_widgets.panels.evaluate import EvaluatePanel
from lepton_widgets.panels.runs import RunsPanel
from lepton_widgets.panels.train import TrainPanel
from lepton_widgets.state import Runner, Session


def make_session(**sections) -> Session:
    session = Session()
    session.load_config(tiny_config(**sections))
    return session


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every panel built first, then one real run started by clicking Train."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEPTON_HOME", str(tmp_path_factory.mktemp("lepton-home")))
        runs_dir = tmp_path_factory.mktemp("runs")
        session = make_session()
        runner = Runner(session, runs_dir=runs_dir)
        panels = {"train": TrainPanel(session, runner), "evaluate": EvaluatePanel(session, runner),
                  "runs": RunsPanel(session, runner), "code": CodePanel(session, runner)}
        curve = panels["train"].curves.data[0]
        seen = []  # (len(history), len(trace x)) after each epoch, as the panel redrew it
        session.observe(lambda change: seen.append((len(change["new"]), len(curve.x or ()))), names="history")
        shown = []  # what the Train step showed at each change of its status line or bar, and the store then

        def snapshot(_change=None):
            train = panels["train"]
            stored = [r.status for r in runner.store.runs() if r.complete]
            shown.append((train.status.value, train.progress.value, train.progress.max,
                          train.progress.description, tuple(stored)))

        panels["train"].status.observe(snapshot, names="value")
        panels["train"].progress.observe(snapshot, names=["value", "max", "description"])
        panels["train"].name.value = "digits baseline"  # typed into the Train step's name field
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            started = time.monotonic()
            panels["train"].train_button.click()
            click_seconds = time.monotonic() - started
            busy_after_click = panels["train"].train_button.disabled
            finished = runner.wait(timeout=120)
        yield {"session": session, "runner": runner, "panels": panels, "seen": seen, "finished": finished,
               "click_seconds": click_seconds, "busy_after_click": busy_after_click, "stdout": stdout.getvalue(),
               "record": runner.store.open(session.current_run), "runs_dir": runs_dir, "shown": shown}


# --- Train panel -----------------------------------------------------------------------------------

def test_controls_are_bound_to_session_traits_both_ways():
    session = Session()
    panel = TrainPanel(session, Runner(session))
    changes = {"epochs": 9, "fine_tune_epochs": 0, "learning_rate": 3e-4, "batch_size": 8, "l2": 0.01,
               "dropout": 0.35, "early_stopping_patience": 4, "seed": 123}
    for trait, value in changes.items():
        panel.controls[trait].value = value
    assert {trait: getattr(session, trait) for trait in changes} == pytest.approx(changes)
    session.load_config(tiny_config())
    assert panel.controls["epochs"].value == 1 and panel.controls["learning_rate"].value == pytest.approx(3e-3)
    assert session.to_config().train.dropout == pytest.approx(tiny_config().train.dropout)


def test_train_click_returns_at_once_and_curves_grow_per_epoch(trained):
    session, panel = trained["session"], trained["panels"]["train"]
    assert trained["click_seconds"] < 2.0 and trained["busy_after_click"]  # training ran in the worker
    assert trained["finished"] and session.status == "finished", (session.status, session.last_error)
    history_lengths = [n for n, _ in trained["seen"] if n]
    assert history_lengths == list(range(1, len(session.history) + 1)) and len(history_lengths) == 4
    assert all(n_history == n_x for n_history, n_x in trained["seen"])  # the curve redrew with every epoch
    for trace, key in zip(panel.curves.data, ("loss", "val_loss", "accuracy", "val_accuracy")):
        assert list(trace.y) == pytest.approx([row[key] for row in session.history])
    assert not panel.train_button.disabled and panel.stop_button.disabled
    assert "finished" in panel.status.value and "test accuracy" in session.message
    assert panel.error.layout.display == "none"
    assert "━" not in trained["stdout"] and "step" not in trained["stdout"]  # no Keras progress bars


def test_the_status_says_evaluating_with_its_progress_until_the_run_is_stored(trained):
    """"finished" must never stand beside a bar that is still filling, nor before the run is on disk."""
    shown = trained["shown"]

    def word(status_html: str) -> str:
        return status_html.split("<b>")[1].split("</b>")[0] if "<b>" in status_html else ""

    words = [word(status) for status, *_ in shown]
    order = [w for i, w in enumerate(words) if w and (i == 0 or words[i - 1] != w)]
    assert order[-2:] == ["evaluating", "finished"] and order.count("finished") == 1, order
    evaluating = [(value, top, task) for (status, value, top, task, _), w in zip(shown, words) if w == "evaluating"]
    assert any(task.startswith("evaluat") and value < top for value, top, task in evaluating), evaluating
    assert any(task.startswith("evaluat") and value == top for value, top, task in evaluating), evaluating
    finished = [(value, top, stored) for (status, value, top, task, stored), w in zip(shown, words)
                if w == "finished"]
    assert finished and all(value == top and stored == ("finished",) for value, top, stored in finished), finished
    assert "test accuracy" in shown[-1][0]


def test_the_run_name_from_the_train_step_shows_in_every_list_of_runs(trained):
    from lepton_widgets.api import list_runs
    from lepton_widgets.panels.backbone import BackbonePanel
    from lepton_widgets.panels.export import ExportPanel
    from lepton_widgets.panels.fusion import FusionPanel
    from lepton_widgets.panels.update import UpdatePanel

    session, runner, record = trained["session"], trained["runner"], trained["record"]
    assert record.config.name == "digits baseline" and session.name == "digits baseline"
    assert "digits-baseline" in record.run_id  # the folder name carries it too
    assert list(list_runs(runs_dir=trained["runs_dir"])["name"]) == ["digits baseline"]
    runs = trained["panels"]["runs"]
    assert "digits baseline" in runs.table.value and runs.select.options[0][0].startswith("digits baseline · ")
    pickers = {"fusion": FusionPanel(session, runner).select, "update": UpdatePanel(session, runner).run_choice,
               "export": ExportPanel(session, runner).run, "backbone": BackbonePanel(session, runner).run_select}
    labels = {step: [label for label, value in picker.options if value] for step, picker in pickers.items()}
    assert all(len(shown) == 1 and shown[0].startswith("digits baseline · ") for shown in labels.values()), labels


@pytest.mark.parametrize("typed, why", [("../../etc", "letters, digits"), ("x" * 41, "at most 40"),
                                        ("  ", "empty")])
def test_the_name_field_refuses_unsafe_names_in_words_and_starts_nothing(typed, why):
    session = make_session()
    runner = Runner(session)
    panel = TrainPanel(session, runner)
    session.name = "from the session"
    assert panel.name.value == "from the session"  # bound both ways
    panel.name.value = typed
    assert session.name == typed and why in panel.name_note.value and panel.train_button.disabled
    panel.train_button.click()
    assert not runner.busy and why in panel.error_message.value
    panel.name.value = "fine name_2.b"
    assert panel.name_note.value == "" and not panel.train_button.disabled


def test_stop_during_training_cancels_and_stores_a_cancelled_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "home"))
    session = make_session(train={"fine_tune_epochs": 200})
    runner = Runner(session, runs_dir=tmp_path / "runs")
    panel = TrainPanel(session, runner)
    session.name = "run"  # the untouched default: the run is named after its data and backbone instead
    panel.train_button.click()
    assert session.name == "digits-small_cnn" and panel.name.value == "digits-small_cnn"
    assert wait_for(lambda: len(session.history) >= 1, timeout=60), session.status
    assert not panel.stop_button.disabled
    panel.stop_button.click()
    stopped_at = time.monotonic()
    assert wait_for(lambda: session.status == "cancelled", timeout=5), session.status
    assert time.monotonic() - stopped_at < 5
    assert runner.wait(timeout=30)
    assert RunStore(tmp_path / "runs").runs()[-1].status == "cancelled"
    assert RunStore(tmp_path / "runs").runs()[-1].config.name == "digits-small_cnn"
    assert not panel.train_button.disabled and panel.stop_button.disabled
    assert len(panel.curves.data[0].x) == len(session.history) < 200


def test_a_failing_run_shows_its_error_and_the_panel_stays_usable(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "home"))
    session = make_session(backbone={"frozen_depth": 99})
    runner = Runner(session, runs_dir=tmp_path / "runs")
    panel, runs, evaluate = TrainPanel(session, runner), RunsPanel(session, runner), EvaluatePanel(session, runner)
    panel.train_button.click()
    assert runner.wait(timeout=60)
    assert session.status == "failed" and "frozen_depth 99" in session.last_error
    assert "failed" in runs.select.options[0][0] and "is failed" in evaluate.note.value
    assert "frozen_depth 99" in panel.error_message.value and panel.error.layout.display is None
    assert "Traceback" in panel.traceback.value and panel.error_details.layout.display is None
    assert not panel.train_button.disabled and RunStore(tmp_path / "runs").runs()[-1].status == "failed"

    session.val_fraction = 0.9  # invalid settings: refused before any thread starts, said in the panel
    panel.train_button.click()
    assert not runner.busy and "val_fraction" in panel.error_message.value
    assert panel.error_details.layout.display == "none"  # no traceback for a settings error

    session.val_fraction, session.frozen_depth = 0.15, 0  # usable again: a new job starts and can be stopped
    panel.train_button.click()
    assert session.busy and panel.error.layout.display == "none"
    panel.stop_button.click()
    assert runner.wait(timeout=60) and session.status == "cancelled"
    assert not panel.train_button.disabled


# --- Grad-CAM and gallery (core) -------------------------------------------------------------------

def test_gradcam_heatmaps_have_the_image_shape_are_in_0_1_and_not_constant(trained):
    record = trained["record"]
    model = run_model(record)
    rows = record.predictions.head(6)
    images = load_images(record, rows, 32, as_float=True)
    result = gradcam(model, images)
    assert result.heatmaps.shape == (6, 32, 32) and result.heatmaps.dtype == np.float32
    assert result.heatmaps.min() >= 0.0 and result.heatmaps.max() <= 1.0
    assert all(heat.max() == pytest.approx(1.0) and heat.std() > 0.01 for heat in result.heatmaps)
    # Same forward pass as the model: the probabilities are the stored predictions.
    assert result.class_indices.tolist() == rows["predicted_index"].tolist()
    assert result.probabilities.max(axis=1) == pytest.approx(rows["confidence"].to_numpy(), abs=1e-4)
    other = gradcam(model, images, class_index=(rows["predicted_index"].to_numpy() + 1) % 10)
    assert not np.allclose(other.heatmaps, result.heatmaps)
    blended = overlay(load_images(record, rows.head(1), 96)[0], result.heatmaps[0])
    assert blended.shape == (96, 96, 3) and blended.dtype == np.uint8


def test_gallery_reads_file_rows_from_their_paths(tmp_path):
    from PIL import Image

    from lepton_widgets.config import RunConfig

    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
        paths.append(str(tmp_path / f"img_{i}.png"))
        Image.new("RGB", (20, 10), colour).save(paths[-1])
    writer = RunStore(tmp_path / "runs").create(RunConfig())
    writer.extra["class_names"] = ["red", "blue"]
    record = writer.finalize("finished")
    rows = pd.DataFrame({"ref": ["img_0.png", "img_1.png"], "path": paths, "array_index": [-1, -1],
                         "true": ["red", "blue"], "predicted": ["blue", "blue"], "true_index": [0, 1],
                         "predicted_index": [1, 1], "confidence": [0.6, 0.9]})
    images = load_images(record, rows, 16)
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8
    assert images[0, 8, 8].tolist() == [255, 0, 0] and images[1, 8, 8].tolist() == [0, 0, 255]
    items = cell_gallery(record, 0, 1, with_gradcam=False, predictions=rows)
    assert [item.ref for item in items] == ["img_0.png"] and items[0].overlay is None


# --- Evaluate panel --------------------------------------------------------------------------------

def test_evaluate_panel_shows_the_run_and_a_cell_fills_the_gallery(trained):
    panel, record, session = trained["panels"]["evaluate"], trained["record"], trained["session"]
    predictions = record.predictions
    assert panel.record is not None and panel.record.run_id == record.run_id  # followed the live run
    z = np.asarray(panel.confusion.data[0].z)
    assert z.sum() == len(predictions) == record.metrics["n"]
    assert "accuracy" in panel.metrics.value and "macro F1" in panel.metrics.value
    assert panel.metrics.value.count("<tr>") >= 6 + 10  # headline rows + one row per class

    mistakes = [(t, p) for t in range(z.shape[0]) for p in range(z.shape[1]) if t != p and z[t, p] > 0]
    true_index, predicted_index = mistakes[0] if mistakes else (0, 0)
    panel.select_cell(true_index, predicted_index)
    assert session.selected_cell == (true_index, predicted_index)
    expected = cell_rows(predictions, true_index, predicted_index)
    assert len(panel.gallery.children) == len(panel.gallery_items) == min(len(expected), 12) > 0
    assert [item.ref for item in panel.gallery_items] == expected["ref"].head(12).tolist()
    for item in panel.gallery_items:
        assert item.overlay.shape == item.image.shape == (96, 96, 3) and not np.array_equal(item.overlay, item.image)
    images = panel.gallery.children[0].children[0].children
    assert len(images) == 2 and images[1].value[:4] == b"\x89PNG" and "lepton-gradcam" in images[1]._dom_classes


def test_a_click_on_the_heatmap_takes_the_select_cell_path(trained):
    panel, session = trained["panels"]["evaluate"], trained["session"]
    z = np.asarray(panel.confusion.data[0].z)
    names = [str(n) for n in panel.evaluation["class_names"]]
    diagonal = max(range(len(names)), key=lambda i: z[i, i])
    # What the browser sends for a click on a heatmap cell: its x/y categories and its [row, col].
    panel.confusion._js2py_pointsCallback = {
        "event_type": "plotly_click", "points": {"trace_indexes": [0], "point_indexes": [[diagonal, diagonal]],
                                                 "xs": [names[diagonal]], "ys": [names[diagonal]]}}
    assert session.selected_cell == (diagonal, diagonal)
    assert len(panel.gallery_items) == min(z[diagonal, diagonal], 12)
    assert all(item.true == item.predicted == names[diagonal] for item in panel.gallery_items)


# --- Runs and Code panels --------------------------------------------------------------------------

def test_runs_panel_lists_runs_overlays_curves_and_reopens(trained):
    session, panels, record = trained["session"], trained["panels"], trained["record"]
    runs = panels["runs"]
    assert runs.run_ids == [record.run_id]  # refreshed on runs_version, without a click
    assert record.run_id in runs.table.value and "lepton-runs" in runs.table.value
    runs.select.value = (record.run_id,)
    assert len(runs.figure.data) == 2 and len(runs.figure.data[0].x) == len(record.history)
    assert not runs.reopen_button.disabled

    session.epochs, session.dropout, session.selected_cell = 9, 0.5, (0, 0)
    session.current_run = None
    assert panels["evaluate"].confusion is None and panels["evaluate"].gallery.children == ()
    runs.reopen_button.click()
    assert session.to_config() == record.config and session.current_run == record.run_id
    assert session.selected_cell is None and len(panels["train"].curves.data[0].x) == len(record.history)
    assert np.asarray(panels["evaluate"].confusion.data[0].z).sum() == record.metrics["n"]
    assert "epochs: 1" in panels["code"].yaml_text


def test_code_panel_snippet_round_trips_and_follows_every_setting():
    session = make_session()
    panel = CodePanel(session, Runner(session))
    session.name, session.epochs, session.learning_rate, session.data_path = "it's \"quoted\"", 3, 1e-5, r"C:\x"
    session.flip = "horizontal"
    namespace: dict = {}
    exec(panel.config_code, namespace)
    assert namespace["config"] == session.to_config()
    compile(panel.python_code, "snippet.py", "exec")
    assert "lw.train(config)" in panel.python_code and panel.cli_line == "lepton train config.yaml"
    from lepton_widgets.config import RunConfig
    assert RunConfig.from_yaml(panel.yaml_text) == session.to_config()
    assert "horizontal" in panel.yaml_view.value

    session.test_fraction = 0.7
    assert "test_fraction" in panel.error and "test_fraction" in panel.message.value and panel.config_code == ""
    session.test_fraction = 0.2
    assert panel.error == "" and "'test_fraction': 0.2" in panel.config_code
