"""The Fuse, Update and Export steps speak Chinese (issue 16): built around real tiny runs, used through their
buttons (fuse two runs, check new data and update, export a Keras file), no English is left in what a person
reads, except data the person brought (run names and ids, the backbone's name, the exported files' names) and
the model card, an English document the engine writes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import tiny_config
from visible_text import english_left, english_words

from lepton_widgets.core.data import list_datasets
from lepton_widgets.core.fusion.methods import METHODS
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.tasks import run_experiment
from lepton_widgets.i18n import set_language
from lepton_widgets.panels.export import ExportPanel
from lepton_widgets.panels.export.files import FORMAT_LABELS
from lepton_widgets.panels.fusion import FusionPanel
from lepton_widgets.panels.update import UpdatePanel
from lepton_widgets.state import Runner, Session

pytestmark = pytest.mark.slow  # two tiny runs, a fusion, an update and an export: about a minute on 2 cores

#: The classes the runs know; the update adds two more.
OLD, NEW = ["0", "1", "2"], ["3", "4"]


def small(name: str, learning_rate: float):
    return tiny_config(name=name, data={"dataset": "digits", "max_per_class": 30, "classes": OLD},
                       train={"epochs": 1, "fine_tune_epochs": 1, "learning_rate": learning_rate})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished tiny runs on the same data and split (a few seconds each)."""
    root = tmp_path_factory.mktemp("i18n-advanced")
    store = RunStore(root / "runs")
    records = [run_experiment(small("alpha", 3e-3), store=store), run_experiment(small("beta", 1e-3), store=store)]
    assert [r.status for r in records] == ["finished", "finished"]
    return SimpleNamespace(root=root, store=store, records=records, ids=[r.run_id for r in records])


#: Names every language keeps: keys printed on Chinese keyboards too, the formats' and runtimes' names
#: (``TFLite int8``: the walk's word pattern reads "int" out of "int8"), the export folder's name.
NAMES = ["Ctrl", "Shift", *FORMAT_LABELS.values(), "tf.saved_model", "onnxruntime", "exports"]


def allowed_data(store: RunStore) -> list[str]:
    """What the person brought or named: run ids and names (every run in the store, fused and updated ones
    too), the backbone's and the built-in datasets' names (identifiers, as typed on the command line), and
    :data:`NAMES`."""
    words = ["small_cnn", *list_datasets(), *NAMES]
    for record in store.runs(include_incomplete=True):
        words += [record.run_id, record.config.name]
    return words


def leftovers(widget, store: RunStore, extra=()) -> list:
    found = english_left(widget, allowed=allowed_data(store) + list(extra))
    for where, text, words in found:
        print(f"{where}: {words} in {text!r}")
    return found


def test_fusion_panel_in_chinese_fuses_two_runs_with_no_english_left(runs):
    set_language("zh")
    session = Session()
    runner = Runner(session, runs_dir=runs.store.root)
    panel = FusionPanel(session, runner)
    assert panel.fuse_button.description == "融合" and "lepton-words-used" in panel.widget.children[-1]._dom_classes
    assert leftovers(panel.widget, runs.store) == []  # nothing chosen yet
    panel.select.value = tuple(runs.ids)
    for method in METHODS:  # each method's plain-words description, in Chinese
        panel.method.value = method
        assert english_words(panel.about.value) == [], panel.about.value
    panel.method.value = "ensemble"
    assert not panel.fuse_button.disabled, panel.message.value
    panel.fuse_button.click()
    assert runner.wait(timeout=240) and session.status == "finished", session.last_error
    assert panel.figure is not None and panel.table.value  # the chart and the table are there...
    assert [trace.name for trace in panel.figure.data] == ["验证集准确率", "测试集准确率"]
    assert leftovers(panel.widget, runs.store) == []  # ...in Chinese


def test_update_panel_in_chinese_checks_and_updates_with_no_english_left(runs):
    set_language("zh")
    session = Session()
    runner = Runner(session, runs_dir=runs.store.root)
    panel = UpdatePanel(session, runner)
    panel.run_choice.value = runs.ids[0]
    panel.data_choice.value = "digits"
    panel.classes.value = ",".join(NEW)
    panel.replay.value, panel.epochs.value = 20, 1
    assert leftovers(panel.widget, runs.store) == []
    panel.check_button.click()
    assert panel.wait(60) and not panel.update_button.disabled, panel.error.value
    assert "新增 2 个类别" in panel.checked.value
    assert leftovers(panel.widget, runs.store) == []
    panel.update_button.click()
    assert runner.wait(timeout=240) and session.status == "finished", session.last_error
    assert panel.meter is not None and panel.version_id in panel.result.value
    assert list(panel.meter.data[0].x) == ["旧数据：更新前", "旧数据：更新后", "新数据：更新后"]
    assert leftovers(panel.widget, runs.store) == []


def test_export_panel_in_chinese_exports_a_verified_file_with_no_english_left(runs, tmp_path):
    set_language("zh")
    session = Session()
    runner = Runner(session, runs_dir=runs.store.root)
    panel = ExportPanel(session, runner)
    panel.run.value = runs.ids[1]
    assert leftovers(panel.widget, runs.store) == []
    for name, box in panel.formats.items():
        box.value = name == "keras"
    panel.out.value = str(tmp_path / "out")
    panel.export_button.click()
    assert runner.wait(timeout=240) and session.status == "finished", session.last_error
    assert [r.status for r in panel.results] == ["passed"]
    assert "lepton-export-passed" in panel.table.value and "通过" in panel.table.value
    panel.download_buttons["keras"].click()
    assert "保存 model.keras" in panel.download_link.value
    # The model card is a document the engine writes in English; its words, and the files' names, are allowed.
    card = (tmp_path / "out" / "model_card.md").read_text(encoding="utf-8")
    # So is the folder the person typed, where the files are kept.
    assert leftovers(panel.widget, runs.store, extra=[card, "model_card.md", "model.keras", panel.out.value]) == []


def test_the_same_panels_speak_english_by_default(runs):
    session = Session()
    runner = Runner(session, runs_dir=runs.store.root)
    export, fusion = ExportPanel(session, runner), FusionPanel(session, runner)
    assert export.export_button.description == "Export" and fusion.fuse_button.description == "Fuse"
    words = {word for _where, _text, found in english_left(export.widget) for word in found}
    assert {"Every", "file", "loaded"} <= words  # the walk sees the English text it would flag in Chinese
