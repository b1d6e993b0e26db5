"""The panel side of the task registry: every registered task has a view in each step that picks one, and the
augmentation settings a task names are ones the Augment step has controls for (issue 14 items 1 and 6)."""

from __future__ import annotations

import dataclasses

from lepton_widgets.config import AugmentConfig
from lepton_widgets.core.tasks import all_tasks, task_for_backbone
from lepton_widgets.panels.backbone.views import BACKBONE_VIEWS
from lepton_widgets.panels.dataset.views import DATA_VIEWS, data_view
from lepton_widgets.state import Session


def test_every_task_has_a_data_view_and_a_backbone_view():
    names = {task.name for task in all_tasks()}
    assert names == set(DATA_VIEWS) == set(BACKBONE_VIEWS)
    # what the Data step shows follows the views, not a test of the modality
    assert [data_view(t).previews for t in all_tasks()] == [True, True, False, False]


def test_task_augmentations_name_augment_settings_the_panel_controls():
    from lepton_widgets.panels.augment import AugmentPanel

    fields = {f.name for f in dataclasses.fields(AugmentConfig)}
    panel = AugmentPanel(Session(dataset="digits"))
    try:
        for task in all_tasks():
            assert set(task.augmentations) <= fields & set(panel.controls), task.name
        assert [bool(t.augmentations) for t in all_tasks()] == [True, True, True, False]  # tables: none
    finally:
        panel.wait(60)


def test_a_backbones_task_says_why_it_cannot_be_built():
    assert task_for_backbone("small_cnn").build_problem("small_cnn", "none", 32) == ""
    assert "image size" in task_for_backbone("small_cnn").build_problem("small_cnn", "none", 4)
    assert "unknown" in task_for_backbone("no_such_net").build_problem("no_such_net", "none", 32).lower()
    assert task_for_backbone("glove_6b_50d").build_problem("glove_6b_50d", "offline", 0) == ""
