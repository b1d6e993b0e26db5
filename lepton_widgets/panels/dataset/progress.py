"""A progress bar and label that follow one Runner job (``session.progress`` / ``session.status``).

Example:
    >>> from lepton_widgets.state import Session
    >>> session = Session()
    >>> bar = JobProgress(session, "prepare data", {})
    >>> session.job = "prepare data"; session.progress = {"task": "reading", "done": 3, "total": 10}
    >>> bar.bar.value, bar.label.value
    (3, 'reading: 3 / 10')
"""

from __future__ import annotations

import html
from typing import Callable, Optional

import ipywidgets as w

from lepton_widgets.i18n import _


class JobProgress:
    """:attr:`bar` and :attr:`label` for the job named ``job``; ``on_failed`` runs when it fails."""

    def __init__(self, session, job: str, style: dict, on_failed: Optional[Callable[[], None]] = None):
        self.session, self.job, self.on_failed = session, job, on_failed
        self.bar = w.IntProgress(min=0, max=1, value=0, description=_("Progress"), style=style)
        self.label = w.HTML()
        session.observe(self._progress_changed, "progress")
        session.observe(self._status_changed, "status")

    def _progress_changed(self, change) -> None:
        if self.session.job != self.job:
            return
        progress = change["new"] or {}
        total = max(int(progress.get("total") or 0), 1)
        done = min(int(progress.get("done") or 0), total)
        with self.bar.hold_sync():
            self.bar.max, self.bar.value = total, done
        task = _(str(progress.get("task") or "")) or _("starting")
        self.label.value = f"{html.escape(task)}: {done:,} / {total:,}" if progress else html.escape(_("starting"))

    def _status_changed(self, change) -> None:
        if self.session.job != self.job:
            return
        status = change["new"]
        if status == "finished":
            self.bar.value = self.bar.max
            self.bar.bar_style = "success"
            self.label.value = html.escape(_("done"))
        elif status == "failed":
            self.bar.bar_style = "danger"
            self.label.value = html.escape(_("failed"))
            if self.on_failed is not None:
                self.on_failed()
        elif status == "cancelled":
            self.label.value = html.escape(_("stopped"))
