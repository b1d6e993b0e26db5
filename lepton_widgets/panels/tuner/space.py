"""The Search step's search-space form: one row per hyper-parameter, a "search it" checkbox beside the widget for
its choices or range, read into and written from ``TunerConfig`` fields.

Example:
    >>> rows = space_rows()
    >>> rows["dropout"].read() is None              # not searched until its box is ticked
    True
    >>> rows["dropout"].write([0.1, 0.3]); rows["dropout"].read()
    [0.1, 0.3]
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

import ipywidgets as w

from lepton_widgets.config import TunerConfig
from lepton_widgets.core.backbones import list_backbones
from lepton_widgets.i18n import N_, _
from lepton_widgets.i18n.glossary import entry

#: How "every block frozen" is written in the frozen-depth choices (English ``all`` is always understood).
ALL_FROZEN = N_("all")
#: The augment policies (``TunerConfig.AUGMENT_POLICIES``) in plain words; the values stay the engine's.
POLICY_WORDS = {
    "none": N_("no changes"),
    "base": N_("the Train step's own changes"),
    "flip": N_("mirror"),
    "geometric": N_("mirror, turn, zoom and shift"),
    "color": N_("contrast and brightness"),
    "all": N_("all picture changes"),
    "word_dropout": N_("drop words"),
    "word_swap": N_("swap neighbouring words"),
    "word_substitute": N_("replace words with similar ones"),
    "words": N_("all word changes"),
}
#: Each row's glossary term: its plain meaning is the checkbox's tooltip.
ROW_TERMS = {"backbone": "backbone", "frozen_depth": "frozen_depth", "augment": "augmentation",
             "augment_strength": "augmentation", "dropout": "dropout", "l2": "l2", "learning_rate": "learning_rate",
             "batch_size": "batch_size", "head_units": "head"}


def _parse_list(text: str, item: Callable[[str], Any]) -> list:
    return [item(token) for token in re.split(r"[,\uff0c\u3001\s]+", text.strip()) if token]


def _depth(token: str) -> Optional[int]:
    return None if token.lower() in ("all", "none", "null", _(ALL_FROZEN).lower()) else int(token)


def option_values(options) -> list:
    """Backbone or policy options as the values the search takes (a backbone spec becomes its name)."""
    return [getattr(option, "name", option) for option in options]


def show_policy_words(widget: w.SelectMultiple) -> None:
    """Show the augment policies in plain words; the options (the engine's values) stay as they are, so
    ``"flip" in widget.options`` still holds. The labels are set as ipywidgets sets them from the options (call
    this again after changing the options)."""
    widget.set_trait("_options_labels", tuple(_(POLICY_WORDS[value]) if value in POLICY_WORDS else str(value)
                                              for value in widget._options_values))


class _SpaceRow:
    """One searchable hyper-parameter: a "search it" checkbox and the widget for its choices or range."""

    def __init__(self, name: str, label: str, widget: w.Widget, read: Callable[[], Any],
                 write: Callable[[Any], None]) -> None:
        self.name, self.widget, self._read, self._write = name, widget, read, write
        self.search = w.Checkbox(description=label, indent=False, layout=w.Layout(width="150px"),
                                 tooltip=entry(ROW_TERMS[name])[1] if name in ROW_TERMS else "")
        self.box = w.HBox([self.search, widget])

    def read(self) -> Any:
        return self._read() if self.search.value else None

    def write(self, value: Any) -> None:
        self.search.value = value is not None
        if value is not None:
            self._write(value)


def _range_texts(low: float, high: float, lowest: float, highest: float) -> tuple[w.HBox, Callable, Callable]:
    lo = w.BoundedFloatText(value=low, min=lowest, max=highest, step=None, layout=w.Layout(width="110px"))
    hi = w.BoundedFloatText(value=high, min=lowest, max=highest, step=None, layout=w.Layout(width="110px"))

    def write(bounds) -> None:
        lo.value, hi.value = float(bounds[0]), float(bounds[1])

    return w.HBox([lo, w.Label(_("to")), hi]), lambda: [float(lo.value), float(hi.value)], write


def space_rows() -> dict[str, _SpaceRow]:
    """Every searchable hyper-parameter's row, by ``TunerConfig`` field name."""
    backbones = w.SelectMultiple(options=[s.name for s in list_backbones()], rows=3, layout=w.Layout(width="240px"))
    depths = w.Text(placeholder=_("{all}, 10, 15").format(all=_(ALL_FROZEN)), layout=w.Layout(width="240px"))
    policies = w.SelectMultiple(options=list(TunerConfig.AUGMENT_POLICIES), rows=3, layout=w.Layout(width="240px"))
    show_policy_words(policies)
    strength = w.FloatRangeSlider(value=(0.1, 0.4), min=0.0, max=1.0, step=0.05, layout=w.Layout(width="260px"))
    dropout = w.FloatRangeSlider(value=(0.0, 0.5), min=0.0, max=0.95, step=0.05, layout=w.Layout(width="260px"))
    batch = w.Text(value="16, 32, 64", layout=w.Layout(width="240px"))
    units = w.Text(value="0, 64, 256", placeholder=_("0 = no hidden layer"), layout=w.Layout(width="240px"))
    layers = w.Text(value="1, 2, 3", placeholder=_("hidden layers of a table's network"),
                    layout=w.Layout(width="240px"))
    l2_box, l2_read, l2_write = _range_texts(1e-6, 1e-3, 0.0, 1.0)
    lr_box, lr_read, lr_write = _range_texts(1e-4, 1e-2, 1e-7, 0.99)

    def set_value(widget):
        return lambda value: setattr(widget, "value", tuple(value))

    rows = [
        _SpaceRow("backbone", _("Backbone"), backbones, lambda: list(backbones.value), set_value(backbones)),
        _SpaceRow("frozen_depth", _("Frozen depth"), depths, lambda: _parse_list(depths.value, _depth),
                  lambda v: setattr(depths, "value", ", ".join(_(ALL_FROZEN) if d is None else str(d) for d in v))),
        _SpaceRow("augment", _("Augmentation"), policies, lambda: list(policies.value), set_value(policies)),
        _SpaceRow("augment_strength", _("Aug. strength"), strength, lambda: [round(v, 4) for v in strength.value],
                  set_value(strength)),
        _SpaceRow("dropout", _("Dropout"), dropout, lambda: [round(v, 4) for v in dropout.value],
                  set_value(dropout)),
        _SpaceRow("l2", _("L2 penalty"), l2_box, l2_read, l2_write),
        _SpaceRow("learning_rate", _("Learning rate"), lr_box, lr_read, lr_write),
        _SpaceRow("batch_size", _("Batch size"), batch, lambda: _parse_list(batch.value, int),
                  lambda v: setattr(batch, "value", ", ".join(str(b) for b in v))),
        _SpaceRow("head_units", _("Head width"), units, lambda: _parse_list(units.value, int),
                  lambda v: setattr(units, "value", ", ".join(str(u) for u in v))),
        _SpaceRow("hidden_layers", _("Network depth"), layers, lambda: _parse_list(layers.value, int),
                  lambda v: setattr(layers, "value", ", ".join(str(n) for n in v))),
    ]
    return {row.name: row for row in rows}


def offer(rows: dict[str, _SpaceRow], task) -> None:
    """Show only the rows ``task`` (``core.tasks``) can search, with its backbones and augment policies.

    >>> from lepton_widgets.core.tasks import task_named
    >>> rows = space_rows(); offer(rows, task_named("tabular"))
    >>> [name for name, row in rows.items() if row.box.layout.display != "none"]
    ['dropout', 'l2', 'learning_rate', 'batch_size', 'head_units', 'hidden_layers']
    """
    for name, row in rows.items():
        row.box.layout.display = None if name in task.search_fields else "none"
    for name, options in (("backbone", option_values(task.backbone_names())), ("augment", task.search_policies)):
        widget = rows[name].widget
        if list(widget.options) != list(options):
            kept = tuple(v for v in widget.value if v in options)
            widget.options = list(options)
            widget.value = kept
    show_policy_words(rows["augment"].widget)
