"""The Backbone step's ranking view: score candidate backbones on the session's data (LogME and a linear probe,
``core/tasks/image/ranking.py``) in the Runner's worker thread, show the table, and apply the recommended one.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> view = RankingView(session, Runner(session, runs_dir="/tmp/lepton-doc-runs"))
    >>> view.use_button.disabled, view.ranking is None
    (True, True)
"""

from __future__ import annotations

import html
from typing import Optional

import ipywidgets as w
import pandas as pd

from lepton_widgets.config import ConfigError
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.glossary import term

RANK_JOB = "rank backbones"


class RankingView:
    """Candidates box, Rank and Use buttons, the ranking table; ``widget`` is the box to place in a panel."""

    def __init__(self, session, runner, style: Optional[dict] = None) -> None:
        self.session, self.runner = session, runner
        style = style or {}
        self.rank_candidates = w.Text(description=_("Candidates"), style=style, layout=w.Layout(width="520px"),
                                      placeholder=_("backbone:weights, ... (empty: the installed pretrained "
                                                    "backbones and small_cnn:none)"))
        self.rank_button = w.Button(description=_("Rank backbones"), icon="sort-amount-desc",
                                    tooltip=_("Scores each candidate on a small part of your data: LogME and a "
                                              "quick test of how well its features separate your classes"))
        self.use_button = w.Button(description=_("Use recommended"), disabled=True)
        self.rank_table = w.HTML()
        self.ranking: pd.DataFrame | None = None
        for widget, css in ((self.rank_button, "rank-button"), (self.use_button, "rank-use"),
                            (self.rank_table, "rank-table")):
            widget.add_class(f"lepton-{css}")
        self.rank_button.on_click(lambda _b: self.rank())
        self.use_button.on_click(lambda _b: self.use_recommended())
        self.session.observe(self._ranking_ended, "status")
        help_text = _("Before training, each candidate network looks at a small part of your data once. "
                      "{logme} scores how well its features separate your classes (higher is better), and a "
                      "quick simple classifier on those features gives a first accuracy.").format(
            logme=term("logme"))
        self.widget = w.VBox([w.HTML("<h4>" + html.escape(_("Which backbone suits your data?")) + "</h4>"
                                     f"<div style='color:#555'>{help_text}</div>"), self.rank_candidates,
                              w.HBox([self.rank_button, self.use_button]), self.rank_table])

    def _ranking_ended(self, change) -> None:
        # A ranking that failed or was stopped never reaches ``done``: say so instead of "ranking..." forever.
        if self.session.job == RANK_JOB and change["new"] in ("failed", "cancelled"):
            failed = change["new"] == "failed"
            reason = self.session.last_error if failed else _("stopped")
            heading = _("Ranking failed") if failed else _("Ranking stopped")
            self.rank_table.value = f"<b>{html.escape(heading)}</b>: {html.escape(reason)}"

    def rank(self):
        """Rank the candidates on the session's data in the worker thread; returns the thread."""
        text = self.rank_candidates.value.strip()
        candidates = [item.strip() for item in text.split(",") if item.strip()] or None
        try:
            cfg = self.session.to_config()
        except ConfigError as error:
            self.rank_table.value = f"<b>{html.escape(str(error))}</b>"
            return None
        self.use_button.disabled = True
        self.rank_table.value = "<i>" + html.escape(_("ranking...")) + "</i>"

        def work(job):
            from lepton_widgets.core.tasks.image.ranking import rank_backbones

            return rank_backbones(cfg, candidates, job=job)

        def done(frame):
            self.ranking = frame
            self.rank_table.value = _ranking_table(frame)
            self.use_button.disabled = not bool(frame["recommended"].any())
            self.session.message = _("ranking done")

        try:
            return self.runner.submit(RANK_JOB, work, done)
        except Exception as error:  # noqa: BLE001  (busy: say so instead of raising into the click)
            self.rank_table.value = f"<b>{html.escape(str(error))}</b>"
            return None

    def use_recommended(self) -> None:
        """Apply the ranking's recommended backbone and weights to the session."""
        if self.ranking is None or not self.ranking["recommended"].any():
            return
        best = self.ranking[self.ranking["recommended"]].iloc[0]
        with self.session.hold_trait_notifications():
            self.session.backbone, self.session.weights = str(best["backbone"]), str(best["weights"])


def _ranking_table(frame: pd.DataFrame) -> str:
    """The ranking as an HTML table, best first, the recommended row marked, reasons for unavailable rows."""
    rows = []
    for _index, row in frame.iterrows():
        def number(value, fmt):
            return "-" if pd.isna(value) else format(value, fmt)

        mark = "<b>" + html.escape(_("recommended")) + "</b>" if row["recommended"] else ""
        rows.append(f"<tr><td>{html.escape(str(row['backbone']))}</td><td>{html.escape(str(row['weights']))}</td>"
                    f"<td>{number(row['logme'], '.4f')}</td><td>{number(row['probe_accuracy'], '.3f')}</td>"
                    f"<td>{number(row['seconds'], '.1f')}</td><td>{mark}</td>"
                    f"<td>{html.escape(str(row['reason']))}</td></tr>")
    head = "".join(f"<th>{html.escape(_(h) if h else '')}</th>" for h in RANK_HEADINGS)
    return f"<table class='lepton-table lepton-ranking'><tr>{head}</tr>" + "".join(rows) + "</table>"


#: The ranking table's column headings (translated when shown).
RANK_HEADINGS = (N_("backbone"), N_("weights"), "LogME", N_("quick accuracy"), N_("seconds"), "", N_("why not"))
