"""Runs panel: the table of past runs, their validation curves overlaid, and Reopen.

The table is the run store's ``frame()``; it refreshes when ``session.runs_version`` changes (the Runner
bumps it when a run starts and ends) or on Refresh (runs made from the CLI in another process). Selected
runs have their val accuracy and val loss drawn together. Reopen puts one run's config back into the
Session (so the setting panels show it and Train repeats it) and makes it the current run (so the
Evaluate panel shows it, and the Train panel its curves).

The overlay is a new ``FigureWidget`` per selection, built complete in its constructor, because under
Voilà changes made to a FigureWidget before it is first displayed never reach the browser.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> panel = RunsPanel(session, Runner(session, runs_dir="/tmp/lepton-doc-empty-runs"))
    >>> panel.run_ids
    []
    >>> panel.reopen("20250101-120000-tiny-abc123")   # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Optional

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lepton_widgets.config import ConfigError
from lepton_widgets.core.frozen_depth import frozen_depth_setting
from lepton_widgets.core.runs.store import run_label
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.figures import figure_widget
from lepton_widgets.panels.glossary import words_used_here
from lepton_widgets.panels.train import status_word

#: Columns of the runs table, in order, with their headers (a run without metrics shows blanks; ``problem``
#: says why a damaged run is damaged, core/runs/store.py).
HEADERS = {"name": N_("name"), "run_id": N_("run id"), "status": N_("status"), "dataset": N_("data"),
           "backbone": N_("pretrained network"), "frozen_depth": N_("frozen blocks"),
           "accuracy": N_("test accuracy"), "macro_f1": N_("macro F1"), "problem": N_("problem")}
COLUMNS = tuple(HEADERS)


def frozen_words(depth) -> str:
    """``frozen_depth`` in plain words: None freezes every block, 0 none, n the first n."""
    if isinstance(depth, str):
        return _("automatic") if depth == "auto" else depth
    setting = frozen_depth_setting(None if depth != depth else depth)  # NaN in a DataFrame column: the default
    if setting is None:
        return _("all blocks")
    return _("none") if setting == 0 else _("first {count}").format(count=setting)


def runs_table_html(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<i>{}</i>".format(html.escape(_("No runs yet.")))
    table = frame.reindex(columns=list(COLUMNS)).iloc[::-1].astype(object)  # newest first
    table["status"] = [status_word(status) if isinstance(status, str) else status for status in table["status"]]
    if "frozen_depth" in frame:
        table["frozen_depth"] = [frozen_words(depth) if status != "damaged" else None
                                 for depth, status in zip(frame["frozen_depth"].iloc[::-1], frame["status"].iloc[::-1])]
    table = table.rename(columns={key: _(label) for key, label in HEADERS.items()})
    return table.to_html(index=False, na_rep="", border=0, float_format=lambda v: f"{v:.3f}",
                         classes="lepton-runs")


PLACEHOLDER = N_("Select runs above to compare their validation curves.")


def overlay_figure(curves: dict[str, list[dict]]) -> go.FigureWidget:
    """Val accuracy (left) and val loss (right) per epoch, one colour per run."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("validation accuracy"), _("validation loss")),
                        horizontal_spacing=0.12)
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
    for i, (run_id, history) in enumerate(curves.items()):
        epochs = [row.get("epoch") for row in history]
        for col, key in ((1, "val_accuracy"), (2, "val_loss")):
            fig.add_trace(go.Scatter(x=epochs, y=[row.get(key) for row in history], mode="lines+markers",
                                     name=run_id, legendgroup=run_id, showlegend=col == 1,
                                     line={"color": palette[i % len(palette)]}), row=1, col=col)
    fig.update_xaxes(title_text=_("epoch"))
    fig.update_layout(height=300, margin={"l": 50, "r": 20, "t": 40, "b": 40}, legend={"orientation": "h", "y": -0.3})
    return figure_widget(fig)


class RunsPanel(Panel):
    """Past runs: table (lepton-runs-table), multi-select overlay of val curves, Reopen.

    Key widgets: ``table`` (HTML), ``select`` (SelectMultiple of run ids), ``figure`` (the current overlay
    FigureWidget), ``reopen_button`` (enabled when exactly one run is selected and nothing is running).

    Example:
        >>> from lepton_widgets.state import Runner, Session
        >>> session = Session()
        >>> panel = RunsPanel(session, Runner(session, runs_dir="/tmp/lepton-doc-empty-runs"))
        >>> panel.table.value
        '<i>No runs yet.</i>'
    """

    title = N_("Runs")

    def build(self) -> w.Widget:
        self.frame = pd.DataFrame()
        self._refreshing = False
        self.table = w.HTML()
        self.table.add_class("lepton-runs-table")
        self.select = w.SelectMultiple(options=[], rows=8, description=_("Compare"), layout=w.Layout(width="520px"),
                                       tooltip=_("Hold Ctrl (or Cmd) to choose several runs"))
        self.select.observe(self._on_select, names="value")
        self.refresh_button = w.Button(description=_("Refresh"), tooltip=_("Read the list of runs again"))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.reopen_button = w.Button(description=_("Reopen"), button_style="info", disabled=True,
                                      tooltip=_("Load this run's settings and show its evaluation"))
        self.reopen_button.add_class("lepton-reopen-button")
        self.reopen_button.on_click(self._on_reopen)
        self.message = w.HTML()
        # No chart until there is something to draw: every FigureWidget on the page loads Plotly's script
        # and must start within anywidget's 2 s, which a page full of empty charts makes harder under load.
        self.figure: Optional[go.FigureWidget] = None
        self.figure_box = w.Box([self._placeholder()])

        self.session.observe(lambda _c: self.refresh(), names="runs_version")
        # The Runner bumps runs_version when a run starts and when it finishes or is cancelled, not when it
        # fails; without this the failed run would stay listed as "running".
        self.session.observe(lambda c: self.refresh() if c["new"] == "failed" else None, names="status")
        self.session.observe(lambda _c: self._update_buttons(), names="busy")
        self.refresh()
        buttons = w.VBox([self.refresh_button, self.reopen_button])
        words = words_used_here(["run", "validation", "accuracy", "loss", "macro_f1", "frozen_depth"])
        return w.VBox([words, self.table, w.HBox([self.select, buttons]), self.message, self.figure_box])

    @staticmethod
    def _placeholder() -> w.HTML:
        return w.HTML(f"<i>{html.escape(_(PLACEHOLDER))}</i>")

    @property
    def run_ids(self) -> list[str]:
        return [] if self.frame.empty else list(self.frame["run_id"])

    def refresh(self) -> None:
        """Re-read the run store; keeps the selection of runs that still exist."""
        self.frame = self.runner.store.frame()
        self.table.value = runs_table_html(self.frame)
        options = [(self._label(row), row["run_id"]) for _, row in self.frame.iloc[::-1].iterrows()] \
            if not self.frame.empty else []
        before = tuple(self.select.value)
        keep = tuple(run_id for run_id in before if run_id in self.run_ids)
        self._refreshing = True  # new options reset the value: redraw once at the end, not per step
        try:
            self.select.options = options
            self.select.value = keep
        finally:
            self._refreshing = False
        if keep != before:
            self._on_select()
        self._update_buttons()

    @staticmethod
    def _label(row: pd.Series) -> str:
        accuracy = row.get("accuracy")
        words = status_word(row["status"])
        if isinstance(accuracy, float) and accuracy == accuracy:
            words = _("{status}, accuracy {accuracy}").format(status=words, accuracy=f"{accuracy:.3f}")
        return run_label(row, words)

    def _on_select(self, _change=None) -> None:
        if self._refreshing:
            return
        store = self.runner.store
        curves = {run_id: store.open(run_id).history for run_id in self.select.value}
        old, self.figure = self.figure, overlay_figure(curves) if curves else None
        self.figure_box.children = [self.figure if self.figure is not None else self._placeholder()]
        if old is not None:
            old.close()
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.reopen_button.disabled = self.session.busy or len(self.select.value) != 1

    def _on_reopen(self, _button=None) -> None:
        if len(self.select.value) == 1:
            self.reopen(self.select.value[0])

    def reopen(self, run_id: str) -> Optional[str]:
        """Load ``run_id``'s config into the Session and make it the current run; returns an error or None."""
        if self.session.busy:
            return self._say(_("A job is running: stop it or wait before reopening a run."))
        try:
            record = self.runner.store.open(run_id)
            record.config  # read here: a damaged config is said in the message, not raised from the Session
        except (FileNotFoundError, ConfigError) as error:
            return self._say(_("Cannot reopen {run}: {error}").format(run=run_id, error=error))
        self.session.open_run(record)
        self.message.value = _("Reopened {run} ({status}).").format(
            run=f"<code>{html.escape(record.run_id)}</code>", status=html.escape(status_word(record.status)))
        return None

    def _say(self, text: str) -> str:
        self.message.value = f"<span style='color:#b00020'>{html.escape(text)}</span>"
        return text
