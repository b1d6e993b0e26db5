"""The Freeze step's picture and count: one bar per block (and one for the new head), height = parameters,
frozen and trainable as two Plotly traces, and the trainable count in words.

Example:
    >>> from lepton_widgets.core.tasks.image.blocks import BlockSummary
    >>> summary = BlockSummary("tiny", "none", 32, 3, ("a", "b"), (10, 20), 5, (35, 25, 5))
    >>> "first 1 of 2 blocks frozen" in count_html(summary, 1)
    True
    >>> [trace.name for trace in figure_parts(summary, 1)[0]]
    ['frozen', 'trainable']
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from lepton_widgets.core.tasks.image.blocks import BlockSummary
from lepton_widgets.i18n import N_, _

FROZEN_COLOUR, TRAINABLE_COLOUR = "#90a4ae", "#ef6c00"
HEAD = N_("new head")


def count_html(summary: BlockSummary, depth: int) -> str:
    """The trainable count at ``depth`` and which blocks that freezes, in words."""
    n = summary.n_blocks
    trainable, everything = summary.trainable_at(depth), summary.trainable_at(0)
    names = summary.block_names
    if depth >= n:
        words = _("all {n} blocks frozen: only the new head learns").format(n=n)
    elif depth == 0:
        words = _("no block frozen: all {n} blocks fine-tune (learn from your data)").format(n=n)
    else:
        words = _("first {frozen} of {n} blocks frozen ({frozen_blocks}); the last {learning} ({learning_blocks}) "
                  "fine-tune").format(frozen=depth, n=n, frozen_blocks=_span(names[0], names[depth - 1]),
                                      learning=n - depth, learning_blocks=_span(names[depth], names[-1]))
    number = f"<span class='lepton-trainable-number'>{trainable:,}</span>"
    return ("<b>" + html.escape(_("Trainable parameters:")) + "</b> "
            + _("{number} of {total} - {words}.").format(number=number, total=f"{everything:,}", words=words)
            + " <span style='color:#666'>"
            + html.escape(_("(The new head is sized for {classes} classes.)").format(classes=summary.num_classes))
            + "</span>")


def _span(first: str, last: str) -> str:
    return html.escape(first) if first == last else f"{html.escape(first)} .. {html.escape(last)}"


def figure_parts(summary: BlockSummary, depth: int) -> tuple[list[go.Bar], go.Layout]:
    """One bar per block and one for the new head (height = parameters), frozen and trainable as two traces."""
    names = list(summary.block_names) + [_(HEAD)]
    params = list(summary.block_params) + [summary.head_params]
    frozen = [i < depth for i in range(summary.n_blocks)] + [False]

    def bar(name: str, colour: str, keep: bool) -> go.Bar:
        rows = [i for i, f in enumerate(frozen) if f == keep]
        return go.Bar(name=name, x=[names[i] for i in rows], y=[params[i] for i in rows],
                      customdata=[name] * len(rows), marker_color=colour,
                      hovertemplate="%{x}: %{y:,} " + _("parameters") + ", %{customdata}<extra></extra>")

    traces = [bar(_("frozen"), FROZEN_COLOUR, True), bar(_("trainable"), TRAINABLE_COLOUR, False)]
    title = _("{backbone}: {frozen} of {n} blocks frozen").format(backbone=summary.backbone, frozen=depth,
                                                                  n=summary.n_blocks)
    layout = go.Layout(
        title=go.layout.Title(text=title),
        barmode="overlay", height=300, margin=dict(l=60, r=20, t=50, b=90),
        xaxis=dict(categoryorder="array", categoryarray=names, tickangle=-45),
        yaxis=dict(title=_("parameters")), legend=dict(orientation="h", y=1.12, x=1, xanchor="right"),
    )
    return traces, layout
