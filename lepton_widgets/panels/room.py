"""The room's two panels: "Your name" (first thing a person sees in a room) and the teacher's board.

:class:`NamePanel` asks for a name and calls ``on_name(name)`` with it once it is a good one; a bad name gets a
plain sentence under the box. :class:`RoomBoard` shows every person's runs in one table, best test accuracy
first (core/runs/room.py reads the folders), with a Refresh button.

Example:
    >>> import tempfile
    >>> from lepton_widgets.core.runs.room import Room
    >>> chosen = []
    >>> panel = NamePanel(chosen.append)
    >>> panel.name_box.value = "张伟"; panel.enter()
    >>> chosen
    ['张伟']
    >>> board = RoomBoard(Room(tempfile.mkdtemp()))
    >>> "No runs yet" in board.table.value
    True
"""

from __future__ import annotations

import html
import math
from typing import Callable

import ipywidgets as w

from lepton_widgets.core.runs.room import Room, check_person_name
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.style import alert_box
from lepton_widgets.panels.train import status_word


class NamePanel:
    """A name box and an "Enter" button; ``on_name(name)`` runs once with the checked name."""

    def __init__(self, on_name: Callable[[str], None]) -> None:
        self.on_name = on_name
        intro = w.HTML("<h3 style='margin:4px 0'>{}</h3><div>{}</div>".format(
            html.escape(_("Welcome to the class")),
            html.escape(_("Type your name to start. Your models are saved under it, apart from everyone "
                          "else's, and your teacher sees them on the class list."))))
        self.name_box = w.Text(placeholder=_("your name"), layout=w.Layout(width="260px"))
        self.name_box.add_class("lepton-room-name")
        self.name_box.on_submit(lambda _box: self.enter())
        self.button = w.Button(description=_("Start"), button_style="primary")
        self.button.add_class("lepton-room-start")
        self.button.on_click(lambda _button: self.enter())
        self.message = w.HTML()
        self.message.add_class("lepton-room-message")
        self.widget = w.VBox([intro, w.HBox([self.name_box, self.button]), self.message],
                             layout=w.Layout(padding="8px", gap="8px"))
        self.widget.add_class("lepton-room-name-panel")

    def enter(self) -> None:
        try:
            name = check_person_name(self.name_box.value)
        except ValueError as error:
            self.message.value = alert_box(html.escape(str(error)))
            return
        self.message.value = html.escape(_("Getting your workbench ready..."))
        self.button.disabled = self.name_box.disabled = True
        self.on_name(name)


def _cell(value, digits: int = 3) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{digits}f}"
    return html.escape("" if value is None else str(value))


class RoomBoard:
    """Every person's runs on one list, best test accuracy first, and a Refresh button."""

    COLUMNS = (("person", N_("Person")), ("name", N_("Run name")), ("dataset", N_("Data")),
               ("backbone", N_("Network")), ("accuracy", N_("Test accuracy")), ("status", N_("Status")),
               ("run_id", N_("Run id")))

    def __init__(self, room: Room) -> None:
        self.room = room
        self.table = w.HTML()
        self.table.add_class("lepton-room-board")
        refresh = w.Button(description=_("Refresh"))
        refresh.on_click(lambda _button: self.refresh())
        title = w.HTML("<h3 style='margin:4px 0'>{}</h3>".format(html.escape(_("The class's models"))))
        self.widget = w.VBox([w.HBox([title, refresh], layout=w.Layout(align_items="center", gap="12px")),
                              self.table])
        self.refresh()

    @staticmethod
    def _shown(key: str, value):
        return status_word(value) if key == "status" and isinstance(value, str) else value

    def refresh(self) -> None:
        frame = self.room.frame()
        people = len(self.room.people())
        summary = _("{people} people, {runs} models").format(people=people, runs=len(frame))
        if frame.empty:
            self.table.value = f"<div>{html.escape(summary)}</div><i>{html.escape(_('No runs yet.'))}</i>"
            return
        head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(_(label))}</th>"
                       for _key, label in self.COLUMNS)
        rows = "".join(
            "<tr>" + "".join(f"<td style='padding:2px 8px'>{_cell(self._shown(key, row.get(key)))}</td>"
                            for key, _label in self.COLUMNS)
            + "</tr>" for row in frame.to_dict("records"))
        self.table.value = (f"<div>{html.escape(summary)}</div>"
                            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
