"""The Data step's samples per class, one view per kind of data: thumbnails for images, spectrograms with a
player for sounds, a few rows for tables, the start of a few texts for texts.

Example:
    >>> _clip("word " * 100, limit=12)
    'word word wo ...'
"""

from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd

from lepton_widgets.core.data.audio import source_wav
from lepton_widgets.core.tasks.image.previews import class_sample_rows, read_rgb, to_png
from lepton_widgets.i18n import _


def picture_samples(table, per_class: int, seed: int, thumb: int, sample=None) -> tuple[w.Widget, ...]:
    """One row per class of an image or sound table: the class name, then ``per_class`` samples drawn by
    ``sample(table, row, thumb)`` (default: :func:`picture_thumb`)."""
    sample = sample or picture_thumb
    rows = []
    for name, picked in class_sample_rows(table, per_class, seed=seed).items():
        samples = [sample(table, row, thumb) for row in picked]
        label = w.HTML(f"<b>{html.escape(name)}</b>", layout=w.Layout(width="140px"))
        rows.append(w.HBox([label, *samples]))
    return tuple(rows)


def table_samples(data, per_class: int, seed: int) -> w.HTML:
    """A few rows of every class of a checked table (``data``), with the kind of each column (numeric /
    categorical) in the header."""
    picked = class_sample_rows(data.prepared.table, per_class, seed=seed)
    rows = [r for name in data.class_names for r in picked[name]]
    frame = data.prepared.table.frame.iloc[rows]
    kinds = data.schema.columns  # column -> numeric / categorical, as the model encodes it
    values = data.features.iloc[frame["array_index"].to_numpy()][[c for c in kinds if c in data.features]]
    head = "".join(f"<th>{html.escape(str(c))}<br><small>{html.escape(_(kinds[c]))}</small></th>"
                   for c in values.columns)
    body = "".join(
        f"<tr><td><b>{html.escape(str(label))}</b></td>"
        + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row) + "</tr>"
        for label, row in zip(frame["label"], values.itertuples(index=False)))
    dropped = "".join(f"<li><b>{html.escape(c)}</b>: {html.escape(why)}</li>"
                      for c, why in data.schema.dropped.items())
    return w.HTML("<div style='max-width:100%;overflow:auto'><table class='lepton-table lepton-table-rows'>"
                  "<tr><th>" + html.escape(_("class")) + f"</th>{head}</tr>{body}</table></div>"
                  + ("<div>" + html.escape(_("Columns not used:")) + f"<ul>{dropped}</ul></div>" if dropped else ""))


def text_samples(data, per_class: int, seed: int) -> w.HTML:
    """A few texts of every class of checked texts (``data``); the start of each: long texts are cut for the
    page, not for the model."""
    picked = class_sample_rows(data.prepared.table, per_class, seed=seed)
    frame = data.prepared.table.frame
    body = "".join(
        f"<tr><td><b>{html.escape(name)}</b></td><td>{html.escape(str(frame['ref'].iloc[r]))}</td>"
        f"<td style='text-align:left'>{html.escape(_clip(data.texts[int(frame['array_index'].iloc[r])]))}</td></tr>"
        for name in data.class_names for r in picked[name])
    return w.HTML("<div style='max-width:100%;overflow:auto'><table class='lepton-table lepton-table-rows'>"
                  "<tr><th>" + html.escape(_("class")) + "</th><th>" + html.escape(_("row or file")) + "</th>"
                  "<th>" + html.escape(_("text")) + f"</th></tr>{body}</table></div>")


def picture_thumb(table, row: int, thumb: int) -> w.Widget:
    """A thumbnail of one picture."""
    return w.Image(value=to_png(read_rgb(table, row), min_side=thumb, max_side=2 * thumb), format="png",
                   layout=w.Layout(width=f"{thumb}px", height=f"{thumb}px"))


def sound_thumb(table, row: int, thumb: int) -> w.Widget:
    """One sound: its log-mel spectrogram (what the model sees) over a player of the sound."""
    # Spectrograms are wide (time runs left to right): show them at their own aspect ratio.
    spectrogram = w.Image(value=to_png(read_rgb(table, row), min_side=thumb, max_side=3 * thumb), format="png",
                          layout=w.Layout(width=f"{2 * thumb}px", height=f"{thumb}px"))
    wav = source_wav(table, str(table.frame["ref"].iloc[row]))
    player = (w.Audio.from_file(str(wav), autoplay=False, loop=False, layout=w.Layout(width=f"{2 * thumb}px"))
              if wav is not None else w.HTML("<i>" + html.escape(_("sound file gone")) + "</i>"))
    return w.VBox([spectrogram, player], layout=w.Layout(margin="0 6px 6px 0"))


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + " ..."
