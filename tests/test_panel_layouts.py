"""Every control of a panel owns its Layout: hiding one widget (``layout.display = "none"``) must never hide
another. A Layout shared by several widgets is one model in the browser, so hiding the Update step's path
box once hid all six of its controls. Real panels, real widget trees, walked from each panel's root."""

from __future__ import annotations

import ipywidgets as w
import pytest

from lepton_widgets.state import Runner, Session


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from _walk(child)


def _shared_layouts(root) -> dict[str, list[str]]:
    """Layout model id -> descriptions of the widgets that share it (only ids used more than once)."""
    owners: dict[str, list[str]] = {}
    for widget in _walk(root):
        layout = getattr(widget, "layout", None)
        if isinstance(layout, w.Layout):
            owners.setdefault(layout.model_id, []).append(
                f"{type(widget).__name__}({getattr(widget, 'description', '') or ''})")
    return {key: names for key, names in owners.items() if len(names) > 1}


def _panel(name, tmp_path):
    import importlib

    module = importlib.import_module(f"lepton_widgets.panels.{name}")
    home = module.__name__ + "."  # a panel split into a package defines its class in a submodule
    cls = next(getattr(module, attr) for attr in dir(module) if attr.endswith("Panel") and attr != "Panel"
               and (getattr(module, attr).__module__ + ".").startswith(home))
    session = Session(dataset="digits", backbone="small_cnn", weights="none", image_size=32)
    return cls(session, Runner(session, runs_dir=tmp_path / "runs"))


@pytest.mark.parametrize("name", ["update", "train", "export", "predict", "freeze"])
def test_no_two_widgets_of_a_panel_share_a_layout(name, tmp_path):
    panel = _panel(name, tmp_path)
    try:
        assert _shared_layouts(panel.widget) == {}
    finally:
        if hasattr(panel, "wait"):
            panel.wait(120)  # the Freeze panel counts blocks in a thread: let it end inside the test


def test_update_step_shows_every_control_while_the_path_box_is_hidden(tmp_path):
    from lepton_widgets.panels.update import PATH_CHOICE, UpdatePanel

    session = Session()
    panel = UpdatePanel(session, Runner(session, runs_dir=tmp_path / "runs"))
    panel.data_choice.value = PATH_CHOICE
    panel.data_choice.value = "digits"  # a built-in dataset: the path box is hidden
    assert panel.path.layout.display == "none"
    for control in (panel.run_choice, panel.data_choice, panel.classes, panel.replay, panel.epochs):
        assert control.layout.display != "none", f"{control.description} is hidden with the path box"
