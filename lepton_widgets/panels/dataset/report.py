"""The Data step's check report: the summary for people, the small-data advice in plain words, the table of files
not used as they are, the samples per class as a bar chart, and what a failed check says.

Everything here is in the interface's language; what the check itself found (notes such as where the data came
from, a failed check's reason) is the data layer's text and shows as it is.

Example:
    >>> import pandas as pd
    >>> from lepton_widgets.core.data.table import REPORT_COLUMNS
    >>> problems_html(DataReport(pd.DataFrame(columns=REPORT_COLUMNS)), 10)
    '<i>None: every file or sample was used as it is.</i>'
    >>> small_data_advice({"cat": 6, "dog": 40}, items="pictures")[0]
    "Only 6 pictures of 'cat': the model will guess poorly for this class. Add at least 20 per class."
"""

from __future__ import annotations

import html
from typing import Optional

import plotly.graph_objects as go

from lepton_widgets.core.data import DataReport
from lepton_widgets.core.data.report import class_warnings
from lepton_widgets.core.data.table import status_label
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.figures import figure_widget
from lepton_widgets.panels.style import alert_box

#: Fewer examples than this in a class, and the Data step says so in plain words.
FEW_PER_CLASS = 20
#: Up to this many small classes are named one by one; more are said in one line.
MAX_NAMED = 3
#: The largest class this many times the smallest, and the Data step says the classes are uneven.
UNEVEN_RATIO = 3.0
#: What one example of each kind of data is called (plural), for the advice.
EXAMPLE_WORDS = {"image": N_("pictures"), "audio": N_("sounds"), "text": N_("texts"), "tabular": N_("rows")}
#: The statuses the summary counts (files not used as they are).
COUNTED_STATUSES = ("converted", "skipped", "duplicate")


def small_data_advice(class_counts: dict, items: str = "examples", cap: Optional[int] = None,
                      few: int = FEW_PER_CLASS) -> list[str]:
    """Plain words for classes with too few examples, and for very uneven classes: what is wrong and what to do.
    ``items`` names one kind of example (a catalogue string, plural); ``cap`` is the max per class, if any."""
    words = _(items)
    advice = []
    small = {name: count for name, count in class_counts.items() if count < few}
    if len(small) <= MAX_NAMED:
        for name, count in small.items():
            advice.append(_("Only {count} {items} of '{name}': the model will guess poorly for this class. Add at "
                            "least {few} per class.").format(count=count, items=words, name=name, few=few))
    else:  # many small classes: one line, not a wall of the same sentence
        smallest = min(small, key=small.get)
        advice.append(_("{classes} classes have fewer than {few} {items} (the smallest, '{name}', has {count}): "
                        "the model will guess poorly. Add at least {few} per class.").format(
            classes=len(small), few=few, items=words, name=smallest, count=small[smallest]))
    if small and cap and max(small.values()) >= cap:
        advice.append(_("Or raise 'Max per class' (now {cap}).").format(cap=cap))
    if class_counts:
        largest = max(class_counts, key=class_counts.get)
        smallest = min(class_counts, key=class_counts.get)
        if class_counts[smallest] and class_counts[largest] / class_counts[smallest] > UNEVEN_RATIO:
            advice.append(_("'{large}' has {large_count} {items} but '{small}' only {small_count}: the model may "
                            "lean towards '{large}'. Add {items} of '{small}', or set 'Max per class' to even "
                            "them out.").format(large=largest, large_count=class_counts[largest], items=words,
                                                small=smallest, small_count=class_counts[smallest]))
    return advice


def summary_for_people(report: DataReport, drop: str = "", min_class_size: Optional[int] = None) -> str:
    """What the check found, line by line, in the interface's language: the counts, the samples per class, the
    files not used as they are (listed in the table below), then the check's notes, warnings and errors. The
    data layer's warnings about tiny or uneven classes (those ``class_warnings`` gives for ``min_class_size``) are
    left to :func:`small_data_advice`, and the ``Error:`` line that repeats ``drop`` (the message already shown)
    is left out."""
    counts = report.class_counts
    selected = sum(counts.values())
    # The data layer's own words for these lines (DataReport.summary), so both say the same.
    first = _("{used} samples usable in {classes} classes; {unused} not usable.").format(
        used=report.n_used, classes=len(counts), unused=report.n_skipped)
    if counts and selected < report.n_used:
        first += " " + _("{selected} selected (max_per_class); the other {rest} left out.").format(
            selected=selected, rest=report.n_used - selected)
    lines = [first]
    if counts:
        lines.append(_("Per class: {counts}.").format(counts=_(", ").join(f"{name}: {n}" for name, n in counts.items())))
    status_counts = report.frame["status"].value_counts().to_dict() if len(report.frame) else {}
    for status in COUNTED_STATUSES:
        if status_counts.get(status):
            lines.append(_("{count} {status} (listed below, under 'Files not used as they are').").format(
                count=status_counts[status], status=status_label(status)))
    advised = set(class_warnings(counts, min_class_size)) if min_class_size is not None else set()
    lines += [_("Note: {text}").format(text=note) for note in report.notes]
    lines += [_("Warning: {text}").format(text=warning) for warning in report.warnings if warning not in advised]
    lines += [_("Error: {text}").format(text=error) for error in report.errors
              if not (drop and error.strip() == drop.strip())]
    return "\n".join(lines)


def problems_html(report: DataReport, limit: int) -> str:
    """Skipped, converted and duplicate files as an HTML table (file, status, reason)."""
    problems = report.problems()
    if len(problems) == 0:
        return "<i>" + html.escape(_("None: every file or sample was used as it is.")) + "</i>"
    shown = problems.head(limit)
    rows = "".join(f"<tr><td>{html.escape(str(r.ref))}</td>"
                   f"<td>{html.escape(status_label(str(r.status)))}</td>"
                   f"<td>{html.escape(str(r.reason))}</td></tr>" for r in shown.itertuples())
    more = ("<div><i>" + html.escape(_("... and {count} more.").format(count=f"{len(problems) - limit:,}"))
            + "</i></div>" if len(problems) > limit else "")
    head = "".join(f"<th>{html.escape(_(h))}</th>" for h in (N_("file"), N_("status"), N_("reason")))
    return ("<div style='max-height:300px;overflow:auto'><table class='lepton-table lepton-problems-table'>"
            f"<tr>{head}</tr>" + rows + "</table></div>" + more)


def counts_figure(report: DataReport) -> go.FigureWidget:
    """Samples per class as bars. A new figure per report, data in the constructor: a report can arrive before
    the panel is shown, and under Voila changes to a FigureWidget made before it is displayed never reach the
    browser."""
    names = list(report.class_counts)
    counts = [report.class_counts[n] for n in names]
    return figure_widget(
        data=[go.Bar(x=names, y=counts, text=counts, textposition="auto", marker_color="#1565c0",
                     hovertemplate="%{x}: %{y} " + _("samples") + "<extra></extra>")],
        layout=go.Layout(title=go.layout.Title(text=_("Samples per class (after max per class)")), height=280,
                         margin=dict(l=50, r=20, t=50, b=70), xaxis=dict(type="category"),
                         yaxis=dict(title=_("samples"))))


def failure_html(message: str, report: Optional[DataReport], min_class_size: Optional[int] = None) -> str:
    """What a failed check says: the error, then the report's summary when the check got that far."""
    parts = ["<b>" + html.escape(_("The data cannot be used.")) + f"</b> {html.escape(message)}"]
    if report is not None:
        details = summary_for_people(report, drop=message, min_class_size=min_class_size)
        if details:
            parts.append(f"<pre style='white-space:pre-wrap'>{html.escape(details)}</pre>")
    return alert_box("".join(parts))
