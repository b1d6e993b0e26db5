"""The Data step's check report: the summary for people, the table of files not used as they are, the samples
per class as a bar chart, and what a failed check says.

Example:
    >>> import pandas as pd
    >>> from lepton_widgets.core.data.table import REPORT_COLUMNS
    >>> problems_html(DataReport(pd.DataFrame(columns=REPORT_COLUMNS)), 10)
    '<i>None: every file or sample was used as it is.</i>'
"""

from __future__ import annotations

import html
from typing import Optional

import plotly.graph_objects as go

from lepton_widgets.core.data import DataReport
from lepton_widgets.panels.figures import figure_widget
from lepton_widgets.panels.style import alert_box


def summary_for_people(report: DataReport, drop: str = "") -> str:
    """``report.summary()`` for the page: the Python pointer ``(see report.problems())`` becomes the table's
    heading, and the ``Error:`` line that repeats ``drop`` (the message already shown) is left out."""
    lines = []
    for line in report.summary().splitlines():
        if drop and line.startswith("Error:") and line.removeprefix("Error:").strip() == drop.strip():
            continue
        lines.append(line.replace("(see report.problems())", "(listed below, under 'Files not used as they are')"))
    return "\n".join(lines)


def problems_html(report: DataReport, limit: int) -> str:
    """Skipped, converted and duplicate files as an HTML table (file, status, reason)."""
    problems = report.problems()
    if len(problems) == 0:
        return "<i>None: every file or sample was used as it is.</i>"
    shown = problems.head(limit)
    rows = "".join(f"<tr><td>{html.escape(str(r.ref))}</td><td>{html.escape(str(r.status))}</td>"
                   f"<td>{html.escape(str(r.reason))}</td></tr>" for r in shown.itertuples())
    more = f"<div><i>... and {len(problems) - limit:,} more.</i></div>" if len(problems) > limit else ""
    return ("<div style='max-height:300px;overflow:auto'><table class='lepton-table lepton-problems-table'>"
            "<tr><th>file</th><th>status</th><th>reason</th></tr>" + rows + "</table></div>" + more)


def counts_figure(report: DataReport) -> go.FigureWidget:
    """Samples per class as bars. A new figure per report, data in the constructor: a report can arrive before
    the panel is shown, and under Voila changes to a FigureWidget made before it is displayed never reach the
    browser."""
    names = list(report.class_counts)
    counts = [report.class_counts[n] for n in names]
    return figure_widget(
        data=[go.Bar(x=names, y=counts, text=counts, textposition="auto", marker_color="#1565c0",
                     hovertemplate="%{x}: %{y} samples<extra></extra>")],
        layout=go.Layout(title=go.layout.Title(text="Samples per class (after max per class)"), height=280,
                         margin=dict(l=50, r=20, t=50, b=70), xaxis=dict(type="category"),
                         yaxis=dict(title="samples")))


def failure_html(message: str, report: Optional[DataReport]) -> str:
    """What a failed check says: the error, then the report's summary when the check got that far."""
    parts = [f"<b>The data cannot be used.</b> {html.escape(message)}"]
    if report is not None:
        details = summary_for_people(report, drop=message)
        if details:
            parts.append(f"<pre style='white-space:pre-wrap'>{html.escape(details)}</pre>")
    return alert_box("".join(parts))
