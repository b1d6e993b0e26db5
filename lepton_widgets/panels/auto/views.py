"""How the Auto step shows a likely mislabelled example of each task's data: the panel side of the task registry.

Pictures show as thumbnails and sounds as their spectrogram with a player (both need the checked data, to
read the example back by its id); texts and table rows show as what the doctor recorded (``ref``: the
start of the text, a summary of the row). :func:`issue_view` is the one place that picks a view for a task
(by ``task.name``, like ``panels/dataset/views.py``); a new task adds one entry to :data:`ISSUE_VIEWS`.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset
    >>> issue_view(task_for_dataset("digits")).needs_data, issue_view(task_for_dataset("german_credit")).needs_data
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import ipywidgets as w

from lepton_widgets.panels.dataset.samples import picture_thumb, sound_thumb


@dataclass(frozen=True)
class IssueView:
    """One task's picture of an example: ``thumb(table, row, size)`` draws it from the checked data's table
    (``needs_data``); without one, the example's ``ref`` is shown as text."""

    thumb: Optional[Callable[..., w.Widget]] = None

    @property
    def needs_data(self) -> bool:
        return self.thumb is not None


#: task name -> how the Auto step shows one of its examples.
ISSUE_VIEWS = {
    "image": IssueView(picture_thumb),
    "audio": IssueView(sound_thumb),
    "text": IssueView(),
    "tabular": IssueView(),
}


def issue_view(task) -> IssueView:
    """The Auto step's view of ``task``'s examples."""
    return ISSUE_VIEWS[task.name]


def row_of(table, sample_id: str) -> Optional[int]:
    """The table row of the sample whose content hash is (or starts with) ``sample_id``; None if gone."""
    hashes = table.frame["sha256"].astype(str)
    exact = (hashes == sample_id).to_numpy().nonzero()[0]
    if len(exact):
        return int(exact[0])
    prefix = hashes.str.startswith(sample_id).to_numpy().nonzero()[0] if sample_id else []
    return int(prefix[0]) if len(prefix) else None
