"""The workbench's Auto step with real widgets: its controls make the ``run_auto`` request, Auto's events fill
the stage list and the leaderboard, an Auto run on real pictures (a folder of digits with some in the wrong
folder) ends with the stages explained, a leaderboard, the examples to check, the model card, and "Exclude
these and run again" / "Open in the expert steps" reach the runs and the Session.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from test_panels_setup import upload_entry

from lepton_widgets.core.auto.events import AutoStarted, LeaderboardRow, StageEnded, StageStarted
from lepton_widgets.core.auto.stages import STAGE_ORDER
from lepton_widgets.core.base.events import EpochEnded
from lepton_widgets.panels.auto import AutoPanel
from lepton_widgets.panels.auto.card import card_html
from lepton_widgets.panels.dataset import DatasetPanel
from lepton_widgets.state import Runner, Session


def _panel(tmp_path, **settings):
    session = Session(**settings)
    runner = Runner(session, runs_dir=tmp_path / "runs")
    return AutoPanel(session, runner), session, runner


def test_the_controls_make_the_auto_request_and_share_the_data_step(tmp_path):
    panel, session, runner = _panel(tmp_path, dataset="digits", max_per_class=20, seed=3)
    data_step = DatasetPanel(session, runner)
    assert (panel.budget.value, panel.goal.value) == (5, "accuracy")
    assert "most accurate" in panel.goal_note.value
    panel.budget.value = 2
    panel.goal.value = "small"
    assert "small model" in panel.goal_note.value
    request = panel.request()
    assert (request["budget"], request["goal"], request["labels"], request["seed"]) == (120, "small", "keep", 3)
    assert (request["data"].dataset, request["data"].max_per_class) == ("digits", 20)
    assert request["runs_dir"] == runner.store.root
    # The data picker is the Data step's, on the same Session traits: a choice here is a choice there.
    panel.data.dataset_select.value = "folder"
    panel.data.path.value = "/data/my pictures"
    assert (session.dataset, session.data_path) == ("folder", "/data/my pictures")
    assert (data_step.dataset_select.value, data_step.path.value) == ("folder", "/data/my pictures")
    # ...with CSS classes of its own, so the page has one .lepton-dataset-select, the Data step's.
    assert "lepton-auto-dataset-select" in panel.data.dataset_select._dom_classes
    assert "lepton-dataset-select" not in panel.data.dataset_select._dom_classes
    # Earlier exclusions (a run opened from Auto) are not part of a new request: Auto makes that choice.
    session.exclude = ["a" * 64]
    assert panel.request()["data"].exclude is None


def pets_zip() -> bytes:
    """A zip of one folder of class folders, ``pets/cat`` and ``pets/dog``, one small PNG in each."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label in ("cat", "dog"):
            picture = io.BytesIO()
            Image.fromarray(np.full((8, 8), 100 if label == "cat" else 200, np.uint8)).save(picture, format="PNG")
            archive.writestr(f"pets/{label}/a.png", picture.getvalue())
    return buffer.getvalue()


def test_an_upload_in_the_auto_step_becomes_the_sessions_data(tmp_path):
    panel, session, _ = _panel(tmp_path, dataset="digits")
    data = pets_zip()
    panel.uploads.upload.value = (upload_entry("pets.zip", data),)
    assert session.dataset == "zip" and session.data_path.endswith("pets.zip")
    assert panel.data.path.value == session.data_path and panel.request()["data"].path == session.data_path
    assert "Press <b>Start</b>" in panel.uploads.message.value and "Check data" not in panel.uploads.message.value


def test_autos_events_fill_the_stage_list_the_leaderboard_and_the_curves(tmp_path):
    panel, session, _ = _panel(tmp_path, dataset="digits")
    assert panel.stages.value == "" and panel.results.layout.display == "none"
    panel.on_event(AutoStarted(run_id="a", auto_id="a", budget=60.0, goal="accuracy", stages=STAGE_ORDER,
                               done=["doctor"]))
    panel.on_event(StageStarted(run_id="a", stage="recipe", title="Choosing a recipe", seconds=3.0))
    assert panel.stages.value.count("lepton-auto-stage ") == len(STAGE_ORDER)
    assert "lepton-auto-stage-done-before" in panel.stages.value
    assert "lepton-auto-stage-running" in panel.stages.value
    panel.on_event(StageEnded(run_id="a", stage="recipe", status="done", seconds=0.4,
                              summary="Recipe: every class has at least 30 examples."))
    assert "every class has at least 30 examples" in panel.stages.value
    session.job, session.status, session.message = "auto", "running", "epoch 1/3 (head)"
    assert "of the 1 min budget" in panel.status.value and "epoch 1/3" in panel.status.value
    assert panel.start_button.disabled and not panel.stop_button.disabled
    assert "lepton-auto-stage-running" not in panel.stages.value
    assert "No model yet" in panel.leaderboard.value
    row = {"label": "MobileNetV2 · classifier", "stage": "first", "val_score": 0.8, "metric": "accuracy",
           "test_accuracy": 0.75, "test_roc_auc": None, "seconds": 9.0, "run_id": "r1", "kept": True, "note": ""}
    panel.on_event(LeaderboardRow(run_id="r1", entry=row))
    panel.on_event(LeaderboardRow(run_id="r2", entry={**row, "label": "MobileNetV2 · searched", "stage": "search",
                                                      "val_score": 0.9, "run_id": "r2"}))
    table = panel.leaderboard.value
    assert table.count("<tr class='lepton-auto-row") == 2 and table.count("lepton-auto-row-chosen") == 1
    assert table.index("searched") < table.index("classifier"), "best validation score first"
    chosen = table[table.index("lepton-auto-row-chosen"):]
    assert "searched" in chosen[:400] and "90%" in chosen[:400]
    assert list(panel.leaderboard_chart.data[0].x) == [0.8, 0.9]  # bars bottom-up: the best on top
    # A run's epochs go on to the Runner (session.history), and a new run starts its own curves.
    panel.on_event(EpochEnded(run_id="r3", epoch=1, epochs=3, phase="head", metrics={"loss": 1.2, "val_loss": 1.3}))
    assert len(session.history) == 1 and list(panel.curves.data[0].y) == [1.2]


def test_a_start_on_data_that_cannot_be_read_says_why_in_plain_words(tmp_path):
    panel, session, runner = _panel(tmp_path, dataset="folder", data_path=str(tmp_path / "no such folder"))
    panel.budget.value = 1
    panel.start_button.click()
    assert runner.wait(120)
    text = panel.status.value
    assert "no such folder" in text or "not found" in text.lower() or "does not exist" in text.lower(), text
    assert "Traceback" not in text and "Error:" not in text, text
    assert not panel.start_button.disabled and panel.stop_button.disabled


def test_the_model_card_is_html_and_what_users_wrote_stays_text():
    text = card_html("# Model card\n\n| metric | value |\n| --- | --- |\n| accuracy | 0.9 |\n\n"
                     "- Classes: <img src=x onerror=alert(1)>, `a<b`")
    assert "<h1>Model card</h1>" in text and "<td>0.9</td>" in text
    assert "<img" not in text and "&lt;img" in text and "<code>a&lt;b</code>" in text


def test_auto_is_the_first_step_of_the_workbench():
    from lepton_widgets.apps.workbench import default_steps

    title, panels = default_steps()[0]
    assert (title, panels) == ("Auto", [AutoPanel])


# --- a real Auto run --------------------------------------------------------------------------------------------

def _digit_folder(root, flipped: int, per_class: int = 25, seed: int = 0) -> set[str]:
    """Real digits (scikit-learn) as PNG files in class folders, ``flipped`` of them in a wrong folder; their
    file names."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(digits.target == c), per_class, replace=False)
                             for c in range(10)])
    wrong = set(rng.choice(chosen, flipped, replace=False).tolist())
    for index in chosen:
        label = int(digits.target[index])
        path = root / str((label + 3) % 10 if index in wrong else label) / f"d{index}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image = (digits.images[index] * 255 / 16).astype(np.uint8)
        Image.fromarray(image).resize((32, 32), Image.NEAREST).save(path)
    return {f"d{index}.png" for index in wrong}


@pytest.mark.slow
def test_auto_on_pictures_with_wrong_labels_shows_them_excludes_them_and_opens_in_the_expert_steps(tmp_path):
    folder = tmp_path / "digits"
    wrong = _digit_folder(folder, flipped=6)
    panel, session, runner = _panel(tmp_path)
    panel.data.dataset_select.value = "folder"
    panel.data.path.value = str(folder)
    panel.budget.value = 3
    panel.goal.value = "fast"
    panel.start_button.click()
    assert not panel.stop_button.disabled and panel.start_button.disabled
    assert runner.wait(3 * 60 * 1.1 + 60)
    result = panel.state.result
    assert result is not None and result.status == "finished", (result and result.message, session.last_error)

    # Every stage is listed, each with its plain summary.
    stages = panel.stages.value
    assert stages.count("lepton-auto-stage ") == len(STAGE_ORDER)
    for name, stage in result.stages.items():
        assert stage["status"] in ("done", "skipped"), (name, stage)
        assert stage["summary"].split(":")[0][:30].replace("&", "&amp;") in stages.replace("&#x27;", "'")
    # The leaderboard has every model, Auto's choice marked; the curves showed the runs' epochs.
    table = panel.leaderboard.value
    assert table.count("<tr class='lepton-auto-row") == len(result.entries) >= 1
    assert table.count("lepton-auto-row-chosen") == 1
    assert sum(len(trace.x) for trace in panel.curves.data) > 0
    # The examples to check are thumbnails of pictures, among them the ones put in the wrong folder.
    issues = result.label_issues
    assert {i["ref"].split("/")[-1] for i in issues} & wrong, issues
    cards = panel.issue_cards.children
    assert len(cards) == min(len(issues), 24)
    assert all(type(card.children[0]).__name__ == "Image" for card in cards)
    assert panel.issue_buttons.layout.display == "" and "look mislabelled" in panel.issues_text.value
    # The model card.
    assert "Model card" in panel.card.value and "How Auto chose this model" in panel.card.value
    assert "Auto finished" in panel.status.value

    # Exclude them: Auto runs again; the runs it trains leave them out, and the choice shows.
    panel.exclude_button.click()
    assert runner.wait(3 * 60 * 1.1 + 60)
    again = panel.state.result
    assert again is not result and again.status == "finished", again.message
    ids = {issue["id"] for issue in issues}
    record = again.best_run()
    assert set(record.config.data.exclude or []) == ids
    assert "left out of this run" in panel.issues_text.value and panel.issue_buttons.layout.display == "none"

    # Open in the expert steps: the Session holds the chosen run's settings, so every other step shows them.
    assert session.exclude is None
    # The chosen model can also be the last one Auto trained (on a loaded machine Auto skips the optional
    # stages), which would make the current run right already: clear it, so that opening must set it.
    session.current_run = None
    panel.open_button.click()
    assert set(session.exclude) == ids and session.current_run == record.run_id
    assert (session.dataset, session.data_path) == ("folder", str(folder))
    assert session.to_config().to_dict() == record.config.to_dict()
    assert session.evaluation and "Opened" in panel.open_message.value


@pytest.mark.slow
def test_stop_keeps_what_finished_and_start_resumes_from_there(tmp_path):
    from conftest import wait_for

    panel, session, runner = _panel(tmp_path, dataset="digits", max_per_class=20)
    panel.budget.value = 3
    panel.start_button.click()
    doctor_done = lambda: any(s["name"] == "doctor" and s["status"] == "done" for s in panel.state.stages)  # noqa: E731
    assert wait_for(doctor_done, 240), [(s["name"], s["status"], s.get("summary")) for s in panel.state.stages]
    panel.stop_button.click()
    assert runner.wait(240)
    stopped = panel.state.result
    assert stopped.status == "cancelled" and stopped.stages["doctor"]["status"] == "done"
    assert "Auto stopped" in panel.status.value and "what finished is kept" in panel.status.value
    assert "Traceback" not in panel.status.value
    assert not panel.start_button.disabled and panel.stop_button.disabled

    # Start again: the finished data check is not repeated, and the stage list says it was done before.
    panel.start_button.click()
    assert wait_for(lambda: panel.state.budget is not None, 120)
    assert "lepton-auto-stage-done-before" in panel.stages.value
    assert next(s for s in panel.state.stages if s["name"] == "doctor")["status"] == "done before"
    panel.stop_button.click()
    assert runner.wait(240)
    assert next(s for s in panel.state.stages if s["name"] == "doctor")["status"] == "done before"
    assert panel.state.result.stages["doctor"] == stopped.stages["doctor"], "the data check ran only once"
