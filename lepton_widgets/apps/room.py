"""The room's pages: the workbench behind a name panel, and the teacher's list of everyone's models.

``lepton app --room`` (apps/room_server.py) serves notebooks/workbench.ipynb with ``$LEPTON_ROOM_DIR`` set;
:func:`lepton_widgets.apps.workbench.build_workbench` then returns a :class:`RoomPage`. The page is built in
full *before* anyone arrives (Voilà's preheated kernels run the notebook ahead of time), but shows only the
"Your name" panel; the workbench below it is hidden and its runs folder is an empty placeholder. Entering a
name points the runs folder at ``<room>/people/<name>/runs``, names the next run after the person, and shows
the workbench. Pointing the store (rather than building the workbench then) keeps the name step instant: the
slow part, importing TensorFlow and building the panels, was done while the kernel waited in the pool.

The teacher's view (notebooks/room_teacher.ipynb) is :func:`build_teacher_view`: every person's runs on one
list (panels/room.py).

Example:
    >>> from lepton_widgets.apps.workbench import Workbench
    >>> page = RoomPage(Workbench, room_dir="/tmp/lepton-doc-room", dataset="digits")   # doctest: +SKIP
    >>> page.enter("张伟"); page.workbench.runner.store.root                    # doctest: +SKIP
    PosixPath('/tmp/lepton-doc-room/people/张伟/runs')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import ipywidgets as w

from lepton_widgets.core.runs.room import Room
from lepton_widgets.panels.room import NamePanel, RoomBoard


class RoomPage:
    """The name panel, then (once a name is entered) the whole workbench, saving into that person's folder.

    ``workbench_class(runs_dir=..., **workbench_kwargs)`` builds the workbench (apps/workbench.py passes its
    ``Workbench``: this module does not import it, which would make the two import each other)."""

    def __init__(self, workbench_class: Callable[..., Any], room_dir: Optional[str | Path] = None,
                 **workbench_kwargs: Any) -> None:
        self.room = Room(room_dir)
        self.person: Optional[str] = None
        # An empty folder nobody writes into (the name comes first): no one's runs are listed before then.
        placeholder = self.room.people_dir / ".nobody-yet"
        self.workbench = workbench_class(runs_dir=placeholder, **workbench_kwargs)
        self.workbench.widget.layout.display = "none"
        self.name_panel = NamePanel(self.enter)
        self.widget = w.VBox([self.name_panel.widget, self.workbench.widget])
        self.widget.add_class("lepton-room")

    def enter(self, name: str) -> None:
        """From now on this page belongs to ``name``: their runs folder, their name on new runs."""
        runs = self.room.runs_dir(name)
        self.person = name
        workbench = self.workbench
        workbench.runner.store.root = runs  # every panel holds this same store object
        workbench.session.name = name
        workbench.session.runs_version += 1  # run lists re-read the (new) folder
        self.name_panel.widget.layout.display = "none"
        workbench.widget.layout.display = None
        workbench.widget.add_class("lepton-room-ready")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def build_teacher_view(room_dir: Optional[str | Path] = None) -> RoomBoard:
    """Everyone's runs in the room, for the teacher's notebook (notebooks/room_teacher.ipynb)."""
    return RoomBoard(Room(room_dir))

