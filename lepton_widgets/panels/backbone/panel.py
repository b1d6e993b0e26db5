"""Backbone panel: which pretrained network, which weights, which input size.

Everything comes from the backbone registry. Weights sources a backbone does not offer, or that cannot
load here (ImageNet weights offline, a missing offline pack), stay in the list with the reason beside
them: hiding them would leave people wondering where ImageNet went. Choosing one shows the reason in a
box that cannot be missed, and the panel keeps the choice (training then fails with the same words):
the panel never changes a setting behind the user's back, except to clamp the image size into the new
backbone's range, which it says it did.

The backbone's parameter count needs a model build (up to a few seconds for the big ones), so it is
counted once per backbone in a background thread; everything else here is plain registry data.

Your own finished runs are weights sources too (``your run``): picking one sets the backbone to the run's
family and the weights to ``run:<run folder>`` (see ``core/backbones/run_backbone.py``); the list follows
the run store (``session.runs_version``). "Rank backbones" scores candidate backbones on the session's data
in the Runner's worker thread (``core/tasks/image/ranking.py``: LogME and a linear probe) and shows the table; "Use
recommended" applies the best one to the session.

What the step shows for the chosen data is its task's view (``views.py``, the panel side of the task
registry): for texts the image controls give way to the text encoder (MiniLM or GloVe, written to
``session.backbone``) and the sequence length (``session.sequence_length``); weights are
``offline``/``none``, or one of your text runs (its encoder, fine-tuned weights and all). The weights
controls live in ``weights.py``.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> panel = BackbonePanel(session, Runner(session, runs_dir="/tmp/lepton-doc-runs"))
    >>> panel.backbone_select.value = "small_cnn"
    >>> session.backbone, panel.image_size.min
    ('small_cnn', 16)
    >>> panel.weights_select.value = "none"; session.weights
    'none'
"""

from __future__ import annotations

import html

import ipywidgets as w

from lepton_widgets.core.backbones import get_backbone, list_backbones
from lepton_widgets.core.tasks import task_for_backbone, task_for_dataset
from lepton_widgets.core.tasks.image.blocks import backbone_param_count, cached_param_count
from lepton_widgets.panels._background import Latest
from lepton_widgets.panels.backbone.ranking import RankingView
from lepton_widgets.panels.backbone.sources import params_line
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.backbone.views import EncoderControls, backbone_view, note_html
from lepton_widgets.panels.glossary import term, words_used_here
from lepton_widgets.panels.backbone.weights import WeightsView
from lepton_widgets.panels.base import Panel, syncing
from lepton_widgets.panels.dataset.choices import task_words
from lepton_widgets.panels.style import note_box

_STYLE = {"description_width": "110px"}
#: The technical words this step uses (the "words used here" line).
WORDS = ("backbone", "pretrained", "from_scratch", "transfer_learning", "logme")


class BackbonePanel(Panel):
    """Backbone, weights source and image size, bound to ``session.backbone`` / ``weights`` / ``image_size``.

    Example:
        >>> from lepton_widgets.state import Session
        >>> panel = BackbonePanel(Session(backbone="small_cnn", weights="none", image_size=32))
        >>> panel.image_size.value
        32
        >>> panel                      # in a notebook cell: shows the panel  # doctest: +SKIP
    """

    title = N_("Backbone")

    def build(self) -> w.Widget:
        self._syncing = False
        self._counts = Latest()
        self.backbone_select = w.Dropdown(options=[(s.name, s.name) for s in list_backbones()],
                                          description=_("Backbone"), style=_STYLE)
        self.ranker = RankingView(self.session, self.runner, _STYLE)
        # the ranking's controls, under the names the panel has always had
        self.rank_candidates, self.rank_button = self.ranker.rank_candidates, self.ranker.rank_button
        self.use_button, self.rank_table = self.ranker.use_button, self.ranker.rank_table
        self.image_size = w.IntSlider(description=_("Image size"), step=8, continuous_update=False, style=_STYLE)
        self.info = w.HTML()
        self.param_count = w.HTML()
        self.note = w.HTML()     # quiet: what the panel adjusted (image size clamped)
        self.weights = WeightsView(self.session, self.runner.store, self.info, _STYLE)
        # the weights controls, under the names the panel has always had
        self.weights_select, self.weights_path = self.weights.weights_select, self.weights.weights_path
        self.run_select, self.sources, self.notice = self.weights.run_select, self.weights.sources, self.weights.notice
        self.modality_note = w.HTML()  # tables and texts: what of this step applies to them
        self.modality_note.add_class("lepton-backbone-modality-note")
        self.encoders = EncoderControls(self.session, _STYLE)
        self.text_encoder, self.sequence_length = self.encoders.encoder, self.encoders.sequence_length
        self.text_box = self.encoders.box
        for widget, css in ((self.backbone_select, "backbone-select"), (self.image_size, "image-size"),
                            (self.info, "backbone-info"), (self.param_count, "backbone-params"),
                            (self.note, "backbone-note")):
            widget.add_class(f"lepton-{css}")

        self.backbone_select.observe(self._backbone_chosen, "value")
        self.image_size.observe(self._size_chosen, "value")
        self.session.observe(self._session_changed, ["backbone", "weights", "image_size"])
        self.session.observe(lambda _c: self.refresh_runs(), "runs_version")
        self.session.observe(self._dataset_changed, "dataset")
        self.refresh_runs()
        self._show_backbone()
        self.rank_box = self.ranker.widget
        #: The ``backbones`` control group: shown for pictures, sounds and tables, hidden for texts.
        self._image_only = (self.backbone_select, self.image_size, self.info, self.param_count, self.sources,
                            self.rank_box)
        self._show_view()
        intro = _("The {backbone} is the network your model starts from. A {pretrained} one already learned "
                  "shapes and textures from millions of pictures; with the weights \"none\" it starts "
                  "{from_scratch}.").format(backbone=term("backbone"), pretrained=term("pretrained"),
                                            from_scratch=term("from_scratch"))
        return w.VBox([
            w.HTML("<h3>" + html.escape(_("Backbone")) + f"</h3><div>{intro}</div>"), words_used_here(WORDS),
            self.modality_note, self.text_box,
            w.HBox([self.backbone_select, self.weights_select]),
            self.weights_path, self.run_select, self.image_size, self.notice, self.note, self.info,
            self.param_count, self.sources, self.rank_box,
        ])

    def _dataset_changed(self, change) -> None:
        self._show_view()
        self.refresh_runs()  # tables reuse tabular runs, images and sounds the others

    def _show_view(self) -> None:
        """Show the chosen data's view: its note and its control group."""
        view = backbone_view(task_for_dataset(self.session.dataset))
        self.modality_note.value = note_box(note_html(view.note)) if view.note else ""
        encoders = view.controls == "encoders"
        self.text_box.layout.display = "" if encoders else "none"
        for widget in self._image_only:
            widget.layout.display = "none" if encoders else ""
        self._show_encoder()

    def _foreign_model(self):
        """The task whose model ``session.backbone`` is, when that is not an image backbone (a text encoder,
        the table MLP); else None."""
        name = self.session.backbone
        if name in [option for _, option in self.backbone_select.options]:
            return None
        owner = task_for_backbone(name)
        return owner if name in owner.backbone_names() else None

    def _show_encoder(self) -> None:
        """The encoder a text run would use with ``session.backbone``; for other data, a model of another
        family left over from other data (a text encoder for pictures) is named as the problem it is."""
        self.encoders.show()
        owner, task = self._foreign_model(), task_for_dataset(self.session.dataset)
        if owner is not None and owner.family != task.family:
            # blank, so that picking any backbone (the one shown before, too) is a change that reaches the session
            with syncing(self):
                self.backbone_select.index = None
            self.info.value = "<b>" + html.escape(_(
                "{model} is a {item} encoder, and this dataset holds {data}: choose a backbone above.").format(
                model=self.session.backbone, item=task_words(owner, one=True), data=task_words(task))) + "</b>"

    def refresh_runs(self) -> None:
        """List the store's finished runs that can seed a run on the chosen data (see ``weights.py``)."""
        self.weights.refresh_runs()

    # --- ranking (the view does the work) ----------------------------------------------------------

    @property
    def ranking(self):
        """The last ranking (a DataFrame, best first), or None."""
        return self.ranker.ranking

    def rank(self):
        """Rank the candidates on the session's data in the worker thread; returns the thread."""
        return self.ranker.rank()

    def use_recommended(self) -> None:
        """Apply the ranking's recommended backbone and weights to the session."""
        self.ranker.use_recommended()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the parameter count shown is known (tests, scripts)."""
        return self._counts.wait(timeout)

    # --- controls -> session --------------------------------------------------------------------

    def _backbone_chosen(self, change) -> None:
        if not self._syncing:
            self.session.backbone = change["new"]

    def _size_chosen(self, change) -> None:
        if not self._syncing:
            self.session.image_size = change["new"]

    # --- session -> controls --------------------------------------------------------------------

    def _session_changed(self, change) -> None:
        if change["name"] == "backbone":
            self._show_encoder()
            if self._foreign_model() is None:
                self._show_backbone()
        elif change["name"] == "image_size":
            if not self.image_size.min <= change["new"] <= self.image_size.max:
                self._show_backbone()  # clamps into the range and says so (a slider would clamp silently)
                return
            with syncing(self):
                self.image_size.value = change["new"]
            self.weights.show(keep_file_choice=True)  # ImageNet files can differ per size
        else:
            self.weights.show()

    def _show_backbone(self) -> None:
        try:
            spec = get_backbone(self.session.backbone)
        except ValueError as error:
            self.info.value = f"<b>{html.escape(str(error))}</b>"
            return
        size = self.session.image_size
        clamped = min(max(size, spec.min_size), spec.max_size)

        with syncing(self):
            self.backbone_select.value = spec.name
            # Widen first: a new min above the old max (or max below the old min) is a TraitError.
            self.image_size.min, self.image_size.max = 1, 10_000
            self.image_size.value = clamped
            self.image_size.min, self.image_size.max = spec.min_size, spec.max_size
        self.note.value = ""
        if clamped != size:
            self.note.value = "<i>" + html.escape(_(
                "Image size {size} is outside {backbone}'s range {low}-{high} px; set to {clamped}.").format(
                size=size, backbone=spec.name, low=spec.min_size, high=spec.max_size, clamped=clamped)) + "</i>"
            self.session.image_size = clamped
        self._show_param_count(spec.name)
        self.weights.show(keep_file_choice=True)

    def _show_param_count(self, name: str) -> None:
        count = cached_param_count(name)
        if count is not None:
            self.param_count.value = params_line(name, count)
            return
        self.param_count.value = ("<b>" + html.escape(_("Parameters:")) + "</b> "
                                  + html.escape(_("counting ({backbone})...").format(backbone=name)))

        def apply(n: int) -> None:
            if self.session.backbone == name:
                self.param_count.value = params_line(name, n)

        def failed(error: Exception) -> None:
            self.param_count.value = ("<b>" + html.escape(_("Parameters:")) + "</b> "
                                      + html.escape(_("could not count ({error})").format(error=error)))

        self._counts.request(lambda: backbone_param_count(name), apply, failed)
