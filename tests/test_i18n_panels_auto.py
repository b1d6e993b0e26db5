"""The Auto and Search steps in Chinese (issue 16): built around a real Session in Chinese, neither panel shows a
word of English beyond the names every language keeps (networks, methods) and the data's own names; in English
they still read as before."""

from __future__ import annotations

from visible_text import english_left

from lepton_widgets.core.auto.events import AutoStarted, LeaderboardRow, StageEnded, StageStarted
from lepton_widgets.core.auto.stages import STAGE_ORDER
from lepton_widgets.core.backbones import list_backbones
from lepton_widgets.core.data import get_dataset, list_datasets
from lepton_widgets.core.tasks import all_tasks
from lepton_widgets.i18n import set_language
from lepton_widgets.panels.dataset.choices import USER_KINDS
from lepton_widgets.panels.auto import AutoPanel
from lepton_widgets.panels.tuner import TunerPanel
from lepton_widgets.state import Runner, Session

#: Names kept in Latin letters here: the networks (as the engine spells them), the search method Hyperband, and
#: "dropout", which the glossary keeps beside its Chinese name.
NAMES = [spec.name for spec in list_backbones()] + ["MobileNetV2", "Hyperband", "dropout"]


def _data_texts(dataset: str) -> list[str]:
    """The Data step's own words reused on the Auto step that are data, not interface: the datasets' and the
    upload kinds' names, and what the dataset registry says about ``dataset`` (its description and licence)."""
    spec = get_dataset(dataset)
    names = [name for task in all_tasks() for name in list_datasets(modality=task.name, include_user=False)]
    return [*names, *USER_KINDS, "npz", spec.description, spec.licence, spec.homepage or ""]


def _show(left) -> str:
    return "\n".join(f"{where}: {words} in {text!r}" for where, text, words in left)


def _auto(tmp_path) -> tuple[AutoPanel, Session]:
    session = Session(dataset="digits", max_per_class=20)
    return AutoPanel(session, Runner(session, runs_dir=tmp_path / "runs")), session


def test_the_auto_step_speaks_chinese_before_and_while_it_runs(tmp_path):
    set_language("zh")
    panel, session = _auto(tmp_path)
    allowed = [*_data_texts("digits"), *NAMES]
    left = english_left(panel.widget, allowed=allowed)
    assert left == [], _show(left)
    assert panel.goal._options_labels[0] == "最准确" and panel.start_button.description == "开始"
    assert "最准确" in panel.goal_note.value

    # Auto's events, as a run sends them: the stage list, the leaderboard and its chart are drawn in Chinese.
    panel.on_event(AutoStarted(run_id="a", auto_id="a", budget=60.0, goal="accuracy", stages=STAGE_ORDER,
                               done=["doctor"]))
    panel.on_event(StageStarted(run_id="a", stage="recipe", title="Choosing a recipe", seconds=3.0))
    panel.on_event(StageEnded(run_id="a", stage="recipe", status="done", seconds=0.4, summary=""))
    row = {"label": "MobileNetV2", "stage": "first", "val_score": 0.8, "metric": "accuracy",
           "test_accuracy": 0.75, "test_roc_auc": None, "seconds": 9.0, "run_id": "r1", "kept": True, "note": ""}
    panel.on_event(LeaderboardRow(run_id="r1", entry=row))
    assert panel.leaderboard_chart is not None and "lepton-auto-row-chosen" in panel.leaderboard.value
    left = english_left(panel.widget, allowed=allowed)
    assert left == [], _show(left)
    assert "lepton-auto-stage-done-before" in panel.stages.value  # the markup is the same in every language


def test_the_auto_steps_words_are_english_in_an_english_build(tmp_path):
    set_language("en")
    panel, _session = _auto(tmp_path)
    assert panel.start_button.description == "Start" and panel.goal._options_labels[0] == "Most accurate"
    assert "Words used here" in panel.widget.children[1].value


def test_the_search_step_speaks_chinese_with_plain_words_for_its_settings(tmp_path):
    set_language("zh")
    session = Session(dataset="digits", max_per_class=20)
    panel = TunerPanel(session, Runner(session, runs_dir=tmp_path / "runs"))
    left = english_left(panel.widget, allowed=NAMES)
    assert left == [], _show(left)
    # The augment choices read as words, while the values stay the engine's.
    policies = panel.space["augment"].widget
    assert "flip" in policies.options and "flip" not in policies._options_labels
    # A search's trials, as its events leave them: the table and both charts are in Chinese too.
    session.search = {"searched": ["dropout", "learning_rate"]}
    session.trials = [{"number": n, "status": "COMPLETED", "score": 0.5 + n / 10, "elapsed": 3.0,
                       "path": "cached features", "hyperparameters": {"dropout": 0.1 * n, "learning_rate": 1e-3}}
                      for n in (1, 2)] + [{"number": 3, "status": "RUNNING", "score": None, "epoch": 1, "epochs": 2,
                                           "path": "cached features", "hyperparameters": {"dropout": 0.3}}]
    assert panel.parallel is not None and panel.table.value.count("lepton-trial-row") == 3
    left = english_left(panel.widget, allowed=NAMES)
    assert left == [], _show(left)
    assert [d.label for d in panel.parallel.data[0].dimensions][-1] != "val_accuracy"


def test_the_search_step_is_english_in_an_english_build(tmp_path):
    set_language("en")
    session = Session(dataset="digits")
    panel = TunerPanel(session, Runner(session, runs_dir=tmp_path / "runs"))
    assert panel.start_button.description == "Start search"
    assert panel.space["augment"].widget._options_labels[0] == "no changes"
    assert english_left(panel.widget) != []  # the English build is English (the check itself can fail)


def test_an_upload_and_a_failed_start_on_the_auto_step_are_said_in_chinese(tmp_path):
    from test_auto_panel import pets_zip
    from test_panels_setup import upload_entry

    set_language("zh")
    panel, session = _auto(tmp_path)
    panel.uploads.upload.value = (upload_entry("pets.zip", pets_zip()),)
    message = panel.uploads.message.value
    assert session.dataset == "zip" and "<b>开始</b>" in message and "检查数据" not in message, message

    # Data that cannot be read: the status line says so in Chinese, never a traceback.
    panel.data.dataset_select.value = "folder"
    panel.data.path.value = str(tmp_path / "no such folder")
    panel.budget.value = 1
    panel.start_button.click()
    assert panel.runner.wait(120)
    status = panel.status.value
    assert "自动模式" in status and "Traceback" not in status, status
    assert english_left(panel.status, allowed=[str(tmp_path / "no such folder")]) == [], status
