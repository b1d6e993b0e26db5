"""Freeze panel: how many backbone blocks stay frozen during fine-tuning, and what that leaves trainable.

The block list and parameter counts come from the real transfer model for the chosen backbone, weights,
image size and class count (:func:`lepton_widgets.core.tasks.image.blocks.block_summary`). Building it takes up to
a few seconds, so it runs in a background thread, once per setting (memoised); the slider is disabled
until it is known. When the weights cannot load here the panel says why instead of guessing.

**All frozen is ``frozen_depth = None``.** Moving the slider to its right end (every block frozen) writes
``None``, RunConfig's own "every block frozen, only the head trains"; every other position writes the
block count. ``None`` and ``n_blocks`` both show as the right end. Text encoders have blocks too (MiniLM's 6
transformer layers, GloVe's embedding: ``core/tasks/text/blocks.py``), so the same slider sets their depth. A depth larger than the new backbone's
block count (after switching to a smaller backbone) is set to ``None`` with a note, because the run would
otherwise fail.

The slider's number is the count of frozen blocks, counted from the input (0: everything fine-tunes; N:
all frozen), as the line under it says. A new block count (another backbone) gets a new slider made with
its range and value: a slider shown in the browser and then re-ranged kept its old range for its keys and
could be drawn at the old end (it showed 1 with all 19 blocks frozen, and End went to 1).

The picture is one bar per block (and one for the new head), height = parameters, frozen and trainable
as two Plotly traces. Slider moves update it in place inside ``batch_update()``. Changes from code
(``session.frozen_depth = 3``, a new backbone) build a fresh ``FigureWidget`` with the data in its
constructor instead: they can happen before the panel is first displayed, and under Voilà in-place changes
made before that never reach the browser.

Example:
    >>> from lepton_widgets.state import Session
    >>> session = Session(dataset="digits", backbone="small_cnn", weights="none", image_size=32)
    >>> panel = FreezePanel(session); panel.wait(60)
    True
    >>> panel.slider.max                            # small_cnn: 4 blocks; the right end (4) = all frozen
    4
    >>> panel.slider.value = 4; session.frozen_depth is None
    True
    >>> panel.slider.value = 2; session.frozen_depth
    2
    >>> panel.trainable == panel.summary.trainable_at(2)
    True
"""

from __future__ import annotations

import html
from typing import Optional

import ipywidgets as w
import plotly.graph_objects as go

from lepton_widgets.panels.figures import figure_widget
from lepton_widgets.core.tasks.image.blocks import BlockSummary, block_summary, cached_block_summary
from lepton_widgets.core.data import DataError, get_dataset
from lepton_widgets.core.tasks import task_for_backbone
from lepton_widgets.panels._background import Latest
from lepton_widgets.panels.base import Panel, syncing
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.freeze_chart import count_html, figure_parts
from lepton_widgets.panels.glossary import term, words_used_here
from lepton_widgets.panels.style import alert_box

#: The technical words this step uses (the "words used here" line).
WORDS = ("frozen_depth", "fine_tuning", "pretrained", "trainable_parameters", "head")


class FreezePanel(Panel):
    """Frozen-depth slider with a frozen/trainable picture, bound to ``session.frozen_depth``.

    Example:
        >>> from lepton_widgets.state import Session
        >>> panel = FreezePanel(Session(backbone="mobilenet_v2", weights="offline"))
        >>> panel                                     # in a notebook cell  # doctest: +SKIP
    """

    title = N_("Freeze")

    def build(self) -> w.Widget:
        self._syncing = False       # True while the panel itself moves the slider
        self._moving = False        # True while a slider move is written to the session
        self._key: Optional[tuple] = None
        self.summary: Optional[BlockSummary] = None
        self._builds = Latest()
        self.slider = self._new_slider(n_blocks=1, depth=1, disabled=True)  # replaced once the blocks are known
        self.slider_box = w.Box([self.slider])
        self.count = w.HTML()
        self.status = w.HTML()
        self.note = w.HTML()
        self.figure: Optional[go.FigureWidget] = None
        self.figure_box = w.Box()
        for widget, css in ((self.count, "trainable-count"),
                            (self.status, "freeze-status"), (self.note, "freeze-note"),
                            (self.figure_box, "freeze-picture")):
            widget.add_class(f"lepton-{css}")
        self.session.observe(self._model_changed, ["backbone", "weights", "image_size", "dataset", "prepared"])
        self.session.observe(self._depth_changed, "frozen_depth")
        self._model_changed()
        intro = _("Frozen blocks keep what the {pretrained} network already learned; the blocks above them "
                  "learn from your data ({fine_tuning}). Counting starts at the input. Fine-tuning runs only "
                  "when at least one block is not frozen.").format(
            pretrained=term("pretrained", _("pretrained")), fine_tuning=term("fine_tuning", _("fine-tuning")))
        return w.VBox([
            w.HTML("<h3>" + html.escape(_("Freeze")) + f"</h3><div>{intro}</div>"), words_used_here(WORDS),
            self.status, self.slider_box, self.count, self.note, self.figure_box,
        ])

    @property
    def trainable(self) -> Optional[int]:
        """Trainable parameters at the slider's depth (``None`` until the model is known)."""
        return None if self.summary is None else self.summary.trainable_at(self.slider.value)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the model summary for the current settings is built (tests, scripts)."""
        return self._builds.wait(timeout)

    # --- which model -------------------------------------------------------------------------------

    def _num_classes(self) -> int:
        """The head's size: the checked data's classes, else the registry's, else 10 (said in the count)."""
        if self.session.prepared is not None:
            return self.session.prepared.num_classes
        try:
            return len(get_dataset(self.session.dataset).class_names) or 10
        except DataError:
            return 10

    def _model_changed(self, change=None) -> None:
        s = self.session
        key = (s.backbone, s.weights, s.image_size, self._num_classes())
        if key == self._key:
            return
        self._key = key
        problem = _cannot_build(*key[:3])
        if problem:
            self._unavailable(problem)
            return
        cached = cached_block_summary(*key)
        if cached is not None:
            self._show_summary(cached)
            return
        self.slider.disabled = True
        self.status.value = "<i>" + html.escape(_("Building {backbone} to count its blocks...").format(
            backbone=s.backbone)) + "</i>"
        self._builds.request(lambda: block_summary(*key), lambda summary: self._show_summary(summary, key),
                             lambda error: self._unavailable(f"{type(error).__name__}: {error}"))

    def _unavailable(self, reason: str) -> None:
        self.summary = None
        self.slider.disabled = True
        self.count.value = "<b>" + html.escape(_("Trainable parameters:")) + "</b> " + html.escape(_("unknown"))
        plain = _("Choose other weights or another backbone on the Backbone step.")
        self.status.value = alert_box(
            "<b>" + html.escape(_("No model to freeze with these settings.")) + "</b> " + html.escape(plain)
            + "<br><span style='font-size:12px;color:#555'>" + html.escape(_("Details:")) + " "
            + html.escape(reason) + "</span>")
        self.figure, self.figure_box.children = None, ()

    def _show_summary(self, summary: BlockSummary, key: Optional[tuple] = None) -> None:
        if key is not None and key != self._key:
            return  # settings moved on while it was building
        self.summary = summary
        self.status.value = ""
        self.note.value = ""
        self.slider.disabled = False
        frozen_depth = self.session.frozen_depth
        if frozen_depth is not None and frozen_depth > summary.n_blocks:
            self.note.value = "<i>" + html.escape(_(
                "{frozen} frozen blocks is more than the {n} blocks of {backbone}; set to all frozen.").format(
                frozen=frozen_depth, n=summary.n_blocks, backbone=summary.backbone)) + "</i>"
            self.session.frozen_depth = None  # _depth_changed moves the slider and redraws
            return
        self._move_slider(summary.depth_of(frozen_depth))
        self._redraw(rebuild=True)

    # --- depth -------------------------------------------------------------------------------------

    def _new_slider(self, n_blocks: int, depth: int, disabled: bool = False) -> w.IntSlider:
        """A slider made with its range and value, never re-ranged afterwards.

        In the browser, a shown slider whose range and value change together can end up drawn at the old
        range's end (it showed 1 while all 19 blocks were frozen), and its keyboard keeps the range it was
        created with (End jumped to 1). So a new block count gets a new slider, like the figure."""
        slider = w.IntSlider(min=0, max=n_blocks, value=depth, description=_("Frozen blocks"), disabled=disabled,
                             tooltip=_("blocks kept frozen, counted from the input; the right end: all frozen"),
                             style={"description_width": "110px"}, layout=w.Layout(width="520px"))
        slider.add_class("lepton-frozen-depth")
        slider.observe(self._slider_moved, "value")
        return slider

    def _move_slider(self, depth: int) -> None:
        if self.slider.max != self.summary.n_blocks or self.slider.min != 0:
            old, self.slider = self.slider, self._new_slider(self.summary.n_blocks, depth)
            self.slider_box.children = (self.slider,)
            old.unobserve(self._slider_moved, "value")
            old.close()
            return
        with syncing(self):
            self.slider.value = depth  # same range: only the value moves

    def _slider_moved(self, change) -> None:
        if self._syncing or self.summary is None:
            return
        self._moving = True
        try:
            self.session.frozen_depth = self.summary.frozen_depth_setting(change["new"])
        finally:
            self._moving = False
        self._redraw(rebuild=False)  # a person moved it, so the figure is on screen: update in place

    def _depth_changed(self, change) -> None:
        if self._moving or self.summary is None:
            return
        new = change["new"]
        if new is not None and new > self.summary.n_blocks:
            self._show_summary(self.summary)  # clamps to None with a note
            return
        self._move_slider(self.summary.depth_of(new))
        self._redraw(rebuild=True)

    # --- drawing -----------------------------------------------------------------------------------

    def _redraw(self, rebuild: bool) -> None:
        summary, depth = self.summary, self.slider.value
        self.count.value = count_html(summary, depth)
        traces, layout = figure_parts(summary, depth)
        if rebuild or self.figure is None:
            self.figure = figure_widget(data=traces, layout=layout)
            self.figure_box.children = (self.figure,)
            return
        with self.figure.batch_update():
            for existing, new in zip(self.figure.data, traces):
                existing.x, existing.y, existing.customdata = new.x, new.y, new.customdata
            self.figure.layout.title.text = layout.title.text


def _cannot_build(backbone: str, weights: str, image_size: int) -> str:
    """Why this model cannot be built here (without trying), or '': its task's answer (a text encoder's blocks
    do not depend on the weights; a missing package says so when building)."""
    return task_for_backbone(backbone).build_problem(backbone, weights, image_size)
