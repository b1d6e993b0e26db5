"""The room's pages: the workbench behind a name panel, and the teacher's list of everyone's models.

``lepton app --room`` (apps/room_server.py) serves notebooks/workbench.ipynb with ``$LEPTON_ROOM_DIR`` set;
:func:`lepton_widgets.apps.workbench.build_workbench` then returns a :class:`RoomPage`. Voilà's preheated
kernels run the notebook *before* anyone arrives: that imports TensorFlow and every panel's module (most of a
first page's wait) and shows the "Your name" panel, nothing else. Entering a name builds the workbench with
its runs folder at ``<room>/people/<name>/runs`` and the person's name on the next run.

The teacher's view (notebooks/room_teacher.ipynb) is :func:`build_teacher_view`: every person's runs on one
list (panels/room.py).

Example:
    >>> from lepton_widgets.apps.workbench import Workbench
    >>> page = RoomPage(Workbench, room_dir="/tmp/lepton-doc-room", dataset="digits")   # doctest: +SKIP
    >>> page.enter("张伟"); page.workbench.runner.store.root                               # doctest: +SKIP
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

    ``workbench_class(runs_dir=..., **workbench_kwargs)`` builds the workbench, and ``warm_up()`` imports what it
    needs (apps/workbench.py passes both: this module does not import it, which would make the two import each
    other)."""

    def __init__(self, workbench_class: Callable[..., Any], room_dir: Optional[str | Path] = None,
                 warm_up: Optional[Callable[[], Any]] = None, **workbench_kwargs: Any) -> None:
        self.room = Room(room_dir)
        self.person: Optional[str] = None
        self.workbench: Any = None
        self._make_workbench = lambda runs_dir: workbench_class(runs_dir=runs_dir, **workbench_kwargs)
        # The slow part of a first page, done now, while the kernel waits in Voilà's pool: TensorFlow and every
        # panel's module. The workbench's widgets are made only once a name is entered: a page loads every widget
        # the kernel holds, so a whole hidden workbench would make the name box slow to appear.
        if warm_up is not None:
            warm_up()
        self.name_panel = NamePanel(self.enter)
        self.widget = w.VBox([self.name_panel.widget])
        self.widget.add_class("lepton-room")

    def enter(self, name: str) -> None:
        """From now on this page belongs to ``name``: the workbench saves into their folder, names runs after them."""
        runs = self.room.runs_dir(name)
        self.person = name
        self.workbench = workbench = self._make_workbench(runs)
        workbench.session.name = name
        workbench.widget.add_class("lepton-room-ready")
        self.widget.children = [workbench.widget]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

def build_teacher_view(room_dir: Optional[str | Path] = None) -> RoomBoard:
    """Everyone's runs in the room, for the teacher's notebook (notebooks/room_teacher.ipynb)."""
    return RoomBoard(Room(room_dir))

