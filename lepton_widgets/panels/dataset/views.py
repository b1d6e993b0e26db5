"""How the Data step shows each task's data: the panel side of the task registry.

:func:`data_view` is the one place that picks a view for a task (by ``task.name``). A view says which settings
the step shows for that data and draws the samples per class from what ``task.prepare`` returned: thumbnails
for pictures, spectrograms with a player for sounds, a few rows for tables, the start of a few texts for texts.
A new task adds one entry to :data:`DATA_VIEWS`.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset
    >>> view = data_view(task_for_dataset("german_credit"))
    >>> view.class_column, view.own_test_set, view.previews
    (True, False, False)
    >>> data_view(task_for_dataset("spoken_keywords")).previews
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import ipywidgets as w

from lepton_widgets.panels.dataset.samples import (picture_samples, picture_thumb, sound_thumb, table_samples,
                                                   text_samples)


@dataclass(frozen=True)
class DataView:
    """One task's Data step.

    - ``samples(checked, per_class, seed, thumb)``: the widgets of the samples per class;
    - ``previews``: what its check returns is a ``PreparedData`` that the other steps preview from
      (``session.prepared``); texts and tables return their own checked data, keeping ``.prepared`` inside;
    - ``own_test_set``: your own data of this kind may come with a separate test set (tables and texts keep
      their fixed split);
    - ``class_column``: the class is a column to name (tables).
    """

    samples: Callable[..., tuple]
    previews: bool = False
    own_test_set: bool = False
    class_column: bool = False

    def prepared(self, checked):
        """The ``PreparedData`` inside what the check returned (its split and report)."""
        return checked if self.previews else checked.prepared


def _pictures(checked, per_class: int, seed: int, thumb: int) -> tuple[w.Widget, ...]:
    return picture_samples(checked.table, per_class, seed, thumb, picture_thumb)


def _sounds(checked, per_class: int, seed: int, thumb: int) -> tuple[w.Widget, ...]:
    return picture_samples(checked.table, per_class, seed, thumb, sound_thumb)


def _tables(checked, per_class: int, seed: int, thumb: int) -> tuple[w.Widget, ...]:
    return (table_samples(checked, per_class, seed),)


def _texts(checked, per_class: int, seed: int, thumb: int) -> tuple[w.Widget, ...]:
    return (text_samples(checked, per_class, seed),)


#: The panel side of the task registry: task name -> how the Data step shows its data.
DATA_VIEWS = {
    "image": DataView(_pictures, previews=True, own_test_set=True),
    "audio": DataView(_sounds, previews=True, own_test_set=True),
    "text": DataView(_texts),
    "tabular": DataView(_tables, class_column=True),
}


def data_view(task) -> DataView:
    """The Data step's view of ``task``'s data."""
    return DATA_VIEWS[task.name]
