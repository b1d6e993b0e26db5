"""The first steps of the workbench (Data, Backbone, Freeze, Augment) in Chinese: built around a real Session on
the digits with the small CNN, the data checked for real, every text a person can read holds no English word
except names kept in every language and what the data or the registries themselves bring (class names, dataset
and backbone names, the registries' descriptions and reasons, which are the data layer's text). And the same
panels built in English still read English, so the test fails if the catalogue is bypassed either way.
"""

from __future__ import annotations

import pytest

from lepton_widgets.core.backbones import NORMALIZATION_DOCS, get_backbone, list_backbones
from lepton_widgets.core.data import get_dataset, list_datasets
from lepton_widgets.core.tasks import all_tasks
from lepton_widgets.i18n import set_language
from lepton_widgets.panels.augment import AugmentPanel
from lepton_widgets.panels.backbone import BackbonePanel
from lepton_widgets.panels.backbone.sources import SOURCES, source_availability
from lepton_widgets.panels.dataset import DatasetPanel
from lepton_widgets.panels.dataset.choices import USER_KINDS
from lepton_widgets.panels.freeze import FreezePanel
from lepton_widgets.state import Runner, Session

from visible_text import english_left

#: Small and real: digits at 32 px with the small CNN; six pictures per class, so the Data step's advice shows.
SMALL = dict(dataset="digits", backbone="small_cnn", weights="none", image_size=32, max_per_class=6)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "lepton-home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    return tmp_path


def _no_english(panel, allowed) -> None:
    left = english_left(panel.widget, allowed=allowed)
    for where, text, words in left:
        print(f"{type(panel).__name__} {where}: {words}\n    {text}")
    assert left == [], f"{len(left)} texts of {type(panel).__name__} still hold English (printed above)"


def _dataset_names() -> list[str]:
    return [name for task in all_tasks() for name in list_datasets(modality=task.name, include_user=False)]


def _backbone_texts(name: str, weights: str, size: int) -> list[str]:
    """What the backbone registry itself says about ``name`` (its card, normalisation and weights reasons)."""
    spec = get_backbone(name)
    norm = spec.normalization_for(weights)
    reasons = [source_availability(spec, option, "", size)[1] for option in SOURCES]
    return [spec.name, spec.family, spec.description, spec.licence or "", norm, NORMALIZATION_DOCS[norm], *reasons]


def test_the_first_steps_speak_chinese_with_the_data_checked(home):
    set_language("zh")
    session = Session(**SMALL)
    runner = Runner(session, runs_dir=home / "runs")

    data = DatasetPanel(session, runner)
    assert data.check_button.description == "检查数据"
    data.check_button.click()
    assert runner.wait(120) and session.status == "finished", session.last_error
    report = session.data_report
    assert report.class_counts == {str(d): 6 for d in range(10)}
    # six pictures per class: the advice says so in plain words (and how to fix it)
    assert "图片少于 20 个" in data.advice.value and "每类上限" in data.advice.value, data.advice.value
    spec = get_dataset("digits")
    _no_english(data, [*_dataset_names(), *USER_KINDS, *report.class_counts, *report.notes, *report.warnings, "npz",
                       spec.description, spec.licence, spec.homepage or ""])

    backbone = BackbonePanel(session, runner)
    assert backbone.wait(60)
    backbone_names = [s.name for s in list_backbones()]
    _no_english(backbone, [*backbone_names, *_backbone_texts("small_cnn", "none", 32)])

    freeze = FreezePanel(session, runner)
    assert freeze.wait(120) and freeze.summary is not None
    freeze.slider.value = 2  # part frozen: the count names the blocks on both sides
    assert "后 2 个" in freeze.count.value, freeze.count.value
    _no_english(freeze, ["small_cnn", *freeze.summary.block_names])

    augment = AugmentPanel(session, runner)
    augment.controls["rotation"].value = 0.1
    assert augment.wait(60)
    assert "来自已检查数据的样本" in augment.caption.value, augment.caption.value
    _no_english(augment, [])

    # A table's note on the Backbone step is plain Chinese too.
    session.dataset = "german_credit"
    assert "表格" in backbone.modality_note.value
    assert english_left(backbone.modality_note, allowed=["MLP"]) == []


def test_the_ranking_table_speaks_chinese():
    import ipywidgets as w
    import pandas as pd

    from lepton_widgets.panels.backbone.ranking import _ranking_table

    set_language("zh")
    frame = pd.DataFrame([
        dict(backbone="small_cnn", weights="none", logme=-0.5, probe_accuracy=0.91, seconds=1.2, recommended=True,
             reason=""),
        dict(backbone="mobilenet_v2", weights="imagenet", logme=float("nan"), probe_accuracy=float("nan"),
             seconds=0.0, recommended=False, reason="ImageNet weights not in the Keras cache")])
    shown = _ranking_table(frame)
    assert "推荐" in shown and "不可用的原因" in shown
    assert english_left(w.HTML(shown), allowed=["small_cnn", "mobilenet_v2", "none", frame["reason"][1]]) == []


def test_the_same_steps_built_in_english_read_english(home):
    set_language("en")
    session = Session(**SMALL)
    runner = Runner(session, runs_dir=home / "runs")
    assert DatasetPanel(session, runner).check_button.description == "Check data"
    freeze = FreezePanel(session, runner)
    assert freeze.wait(120)
    assert freeze.slider.description == "Frozen blocks" and "Trainable parameters" in freeze.count.value
    assert AugmentPanel(session, runner).controls["rotation"].description == "Rotation"
    assert BackbonePanel(session, runner).image_size.description == "Image size"
    # and the English build, walked the same way, is full of English: the check itself can fail
    assert english_left(freeze.widget)
