"""The classroom view of the workbench (issue 16): the basic five steps, the "Show advanced steps" switch, the
language control that rebuilds the page around the same Session, the glossary section, and the Predict app and
the workbench header without English when the interface speaks Chinese."""

from __future__ import annotations

import ipywidgets as w
import pytest
from visible_text import english_left, widget_texts

from lepton_widgets.i18n import set_language

SMALL = dict(dataset="digits", backbone="small_cnn", weights="none", image_size=32)
BASIC = ["Data", "Backbone", "Augment", "Train", "Evaluate"]
#: The language control lists each language in its own name: "English" is meant to stay English. The word
#: finder stops at digits, so MobileNetV2 reads as "MobileNetV" (a network's name, kept in every language).
ALLOWED = ["English", "MobileNetV"]


def _workbench(tmp_path, **kwargs):
    from lepton_widgets.apps.workbench import Workbench

    return Workbench(runs_dir=tmp_path / "runs", **SMALL, **kwargs)


def _visible(app) -> list[str]:
    return [title for title, box in app.sections.items() if box.layout.display != "none"]


def _observer_count(session) -> int:
    return sum(len(handlers) for by_type in session._trait_notifiers.values() for handlers in by_type.values())


def test_basic_mode_shows_the_five_steps_and_the_switch_builds_the_others(tmp_path):
    app = _workbench(tmp_path, mode="basic")
    assert _visible(app) == BASIC == app.shown_steps
    # Only the basic steps' panels exist: the advanced ones are built when first shown.
    assert sorted(app.panels) == ["AugmentPanel", "BackbonePanel", "DatasetPanel", "EvaluatePanel", "FreezePanel",
                                  "TrainPanel"]
    assert [app.step_labels[t].value.count(f"Step {i} of 5") for i, t in enumerate(BASIC, start=1)] == [1] * 5
    assert "1. Data" in app.links.value and "5. Evaluate" in app.links.value and "Auto" not in app.links.value
    assert "lepton-advanced-switch" in app.advanced_switch._dom_classes and app.advanced_switch.value is False

    app.advanced_switch.value = True  # what a click does
    assert _visible(app) == app.step_titles and app.step_titles[0] == "Auto"
    for name in ("AutoPanel", "TunerPanel", "RunsPanel", "FusionPanel", "UpdatePanel", "ExportPanel", "CodePanel"):
        assert name in app.panels and app.panels[name].session is app.session
    assert "Step 1 of 11" in app.step_labels["Auto"].value and "Step 2 of 11" in app.step_labels["Data"].value
    search = app.sections["Search"]
    assert app.panels["TunerPanel"].widget in search.children  # built into its own, now visible, section

    auto = app.panels["AutoPanel"]
    app.advanced_switch.value = False
    assert _visible(app) == BASIC and app.sections["Auto"].layout.display == "none"
    assert "Step 1 of 5" in app.step_labels["Data"].value
    app.advanced_switch.value = True
    assert app.panels["AutoPanel"] is auto  # shown again, not built again


def test_the_glossary_is_on_the_page_in_both_modes_as_the_links_target(tmp_path):
    from lepton_widgets.i18n.glossary import TERMS
    from lepton_widgets.panels.glossary import ANCHOR

    for mode in ("basic", "advanced"):
        app = _workbench(tmp_path, mode=mode)
        sections = list(app.widget.children[1:])
        glossary = app.glossary
        assert glossary in sections and "lepton-step-glossary" in glossary._dom_classes
        assert f"id='{ANCHOR}'" in glossary.children[0].value  # the heading carries the anchor
        folded = glossary.children[1]
        assert isinstance(folded, w.Accordion) and folded.selected_index is None
        assert folded.children[0].value.count("<tr>") == 1 + len(TERMS)  # a header row, then every term
        assert f"href='#{ANCHOR}'" in app.links.value
        assert app.widget.children[-1] is app.sections["Show code"]  # Show code stays last


def test_the_language_control_rebuilds_the_page_in_chinese_and_keeps_the_session(tmp_path):
    app = _workbench(tmp_path, mode="basic")
    session, runner, old_train = app.session, app.runner, app.panels["TrainPanel"]
    session.epochs, session.batch_size = 7, 24
    assert "Data" in app.step_labels["Data"].value and "lepton-language" in app.language._dom_classes
    before = _observer_count(session)

    app.language.value = "zh"  # what choosing 简体中文 does
    assert "数据" in app.step_labels["Data"].value and "第 1 步" in app.step_labels["Data"].value
    assert "Data" not in app.step_labels["Data"].value
    assert app.language.value == "zh" and app.language.description == "语言"
    assert app.session is session and app.runner is runner and (session.epochs, session.batch_size) == (7, 24)
    assert app.panels["TrainPanel"] is not old_train and app.panels["TrainPanel"].session is session
    assert _visible(app) == BASIC  # still the classroom view
    # The old panels' Session observers are gone: the count stays what one set of panels needs.
    assert _observer_count(session) == before

    app.language.value = "en"
    assert "Data" in app.step_labels["Data"].value and session.epochs == 7
    assert _observer_count(session) == before


def test_lepton_lang_zh_builds_the_workbench_in_chinese(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_LANG", "zh")
    monkeypatch.setenv("LEPTON_MODE", "basic")
    set_language(None)  # back to $LEPTON_LANG
    app = _workbench(tmp_path)
    assert app.mode == "basic" and app.language.value == "zh"
    assert "训练" in app.step_labels["Train"].value and "数据增强" in app.step_labels["Augment"].value
    assert "显示高级步骤" == app.advanced_switch.description


def test_a_bad_lepton_mode_names_the_variable(tmp_path, monkeypatch):
    from lepton_widgets.apps.workbench import mode_from_env

    assert mode_from_env({}) == "advanced" and mode_from_env({"LEPTON_MODE": "Basic"}) == "basic"
    with pytest.raises(ValueError, match="LEPTON_MODE"):
        mode_from_env({"LEPTON_MODE": "beginner"})


def test_no_english_left_in_the_workbench_header_and_glossary_in_chinese(tmp_path):
    set_language("zh")
    app = _workbench(tmp_path, mode="basic")
    labels = w.VBox([app.header, app.glossary, *app.step_labels.values()])
    app.glossary.children[1].selected_index = 0  # opened: the table is read too
    left = english_left(labels, allowed=ALLOWED)
    assert not left, "\n".join(f"{where}: {words} in {text!r}" for where, text, words in left)
    # The check can fail: the same header in English is full of English.
    set_language("en")
    assert english_left(_workbench(tmp_path, mode="basic").header, allowed=ALLOWED)


def test_no_english_left_in_the_predict_app_in_chinese(tmp_path):
    from lepton_widgets.apps.predict import PredictApp

    set_language("zh")
    app = PredictApp(runs_dir=tmp_path / "runs")  # no run yet: the "no exported model" line shows
    assert "lepton export" in app.panel.message.value
    left = english_left(app.widget, allowed=["lepton export"])  # a command, shown as it is typed
    assert not left, "\n".join(f"{where}: {words} in {text!r}" for where, text, words in left)
    # Its terms link to a glossary on the same page, in Chinese.
    page = "".join(text for _where, text in widget_texts(app.widget))
    assert "href='#lepton-glossary'" in page and "id='lepton-glossary'" in page and "置信度" in page
    # Each kind of model's upload caption and hint, as the panel shows them.
    from lepton_widgets.core.tasks import task_named
    from lepton_widgets.panels.predict.views import view_for

    shown = []
    for task in ("image", "audio", "text", "tabular"):
        view = view_for(task_named(task))
        from lepton_widgets.i18n import _

        shown += [w.HTML(_(view.caption)), w.HTML(_(view.hint)), w.HTML(_(view.takes))]
    left = english_left(w.VBox(shown), allowed=["wav", "CSV"])
    assert not left, left
