"""A room's folder: one runs folder per person, and every person's runs on one list.

``lepton app --room`` serves one workbench to a whole class. Each person types their name first and from then
on trains into their own runs folder, so nobody's run list shows anybody else's runs, and the teacher's view
reads every folder at once. Layout under the room folder (``$LEPTON_ROOM_DIR``)::

    people/<safe name>/person.json   the name as typed ({"name": "张伟"})
    people/<safe name>/runs/         that person's runs (a normal run store: core/runs/store.py)
    queue/                           the training queue's folder ($LEPTON_QUEUE_DIR, read by the queue)
    app/                             the notebooks the room server serves

A *safe name* keeps the letters and digits of any script (张伟, José, Ann_2) and turns everything else (spaces,
``/``, dots) into ``-``; it never starts with a dot, so it can never name ``..`` or a hidden folder. Two names that
differ only in punctuation ("Ann B", "Ann-B") share a folder: in a room, that is the same person.

Example:
    >>> import tempfile
    >>> room = Room(tempfile.mkdtemp())
    >>> safe_name(" 张伟 "), safe_name("../etc"), safe_name("Ann B.")
    ('张伟', 'etc', 'Ann-B')
    >>> room.runs_dir("张伟").relative_to(room.root).as_posix()
    'people/张伟/runs'
    >>> [person.name for person in room.people()]
    ['张伟']
    >>> room.frame().empty
    True
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd

from lepton_widgets.core.base.atomic import atomic_write_text
from lepton_widgets.core.runs.store import RunStore, check_run_name
from lepton_widgets.i18n import _

#: The room folder, set by ``lepton app --room`` for every kernel it starts.
ROOM_DIR_ENV = "LEPTON_ROOM_DIR"
PEOPLE = "people"


def safe_name(name: str) -> str:
    """``name`` as a folder name: letters and digits of any script, ``_`` and ``-``; everything else becomes
    ``-``. ValueError when nothing is left (a name of punctuation only)."""
    text = re.sub(r"[^\w-]+", "-", str(name).strip(), flags=re.UNICODE).strip("-_")
    if not text:
        raise ValueError(_("a name needs at least one letter or digit"))
    return text[:40]


def check_person_name(name: str) -> str:
    """The name as a person typed it, stripped; ValueError (in plain words) when it cannot name their runs.

    The rule is a run name's (core/runs/store.py): the name also names their runs.

    >>> check_person_name("  Ann B ")
    'Ann B'
    """
    text = check_run_name(name)
    safe_name(text)
    return text


@dataclass(frozen=True)
class Person:
    """One person in the room: the name they typed and their runs folder."""

    name: str
    runs_dir: Path


class Room:
    """The room folder (default ``$LEPTON_ROOM_DIR``): see the module's docstring for the layout."""

    def __init__(self, root: Optional[str | Path] = None) -> None:
        root = root if root is not None else os.environ.get(ROOM_DIR_ENV)
        if not root:
            raise ValueError(f"no room folder: set ${ROOM_DIR_ENV} or start the room with `lepton app --room`")
        self.root = Path(root).resolve()

    @property
    def people_dir(self) -> Path:
        return self.root / PEOPLE

    @property
    def queue_dir(self) -> Path:
        return self.root / "queue"

    @property
    def app_dir(self) -> Path:
        return self.root / "app"

    def runs_dir(self, name: str) -> Path:
        """``name``'s runs folder, created on first use with the name as typed beside it (``person.json``)."""
        name = check_person_name(name)
        folder = self.people_dir / safe_name(name)
        (folder / "runs").mkdir(parents=True, exist_ok=True)
        if not (folder / "person.json").exists():
            atomic_write_text(folder / "person.json", json.dumps({"name": name}, ensure_ascii=False))
        return folder / "runs"

    def people(self) -> list[Person]:
        """Everyone who has entered a name, by name."""
        if not self.people_dir.is_dir():
            return []
        found = []
        for folder in sorted(p for p in self.people_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                name = json.loads((folder / "person.json").read_text(encoding="utf-8"))["name"]
            except (OSError, ValueError, KeyError, TypeError):
                name = folder.name  # a damaged or missing record: the folder's name still says who
            found.append(Person(str(name), folder / "runs"))
        return sorted(found, key=lambda person: person.name.lower())

    def frame(self) -> pd.DataFrame:
        """Every person's runs, one row each (a run store's row plus ``person``), best test accuracy first;
        runs still training or interrupted are left out (they have no result to compare)."""
        rows = []
        for person in self.people():
            for record in RunStore(person.runs_dir).runs(include_incomplete=False):
                rows.append({"person": person.name, **record.row()})
        if not rows:
            return pd.DataFrame(columns=["person", "name", "status", "accuracy", "run_id"])
        table = pd.DataFrame(rows)
        if "accuracy" not in table:
            table["accuracy"] = float("nan")
        return table.sort_values("accuracy", ascending=False, na_position="last", kind="mergesort").reset_index(
            drop=True)
