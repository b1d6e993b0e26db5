"""The Data step's check report in words: the summary for people and the table of files not used as they are.

Example:
    >>> import pandas as pd
    >>> from lepton_widgets.core.data.table import REPORT_COLUMNS
    >>> problems_html(DataReport(pd.DataFrame(columns=REPORT_COLUMNS)), 10)
    '<i>None: every file or sample was used as it is.</i>'
"""

from __future__ import annotations

import html

from lepton_widgets.core.data import DataReport


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
