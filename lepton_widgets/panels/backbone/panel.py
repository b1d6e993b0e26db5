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

For a text dataset the image controls give way to the text encoder (MiniLM or GloVe, written to
``session.backbone``) and the sequence length (``session.sequence_length``); weights are
``offline``/``none``, or one of your text runs (its encoder, fine-tuned weights and all).

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

from lepton_widgets.config import BackboneConfig
from lepton_widgets.core.backbones import NORMALIZATION_DOCS, get_backbone, list_backbones, weights_source
from lepton_widgets.core.backbones.run_backbone import is_run_weights, run_weights
from lepton_widgets.core.tasks.image.blocks import backbone_param_count, cached_param_count
from lepton_widgets.core.data.registry import dataset_modality
from lepton_widgets.core.runs.store import run_label
from lepton_widgets.core.tasks.text.encoder import TEXT_BACKBONE, TEXT_ENCODERS, text_encoder_name
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE
from lepton_widgets.panels._background import Latest
from lepton_widgets.panels.backbone.ranking import RankingView
from lepton_widgets.panels.backbone.sources import (SOURCE_WORDS, SOURCES, backbone_card, params_line,
                                                    source_availability, source_choices)
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.style import alert_box, note_box

#: What of this step applies to data that are not pictures.
_MODALITY_NOTES = {
    "tabular": "<b>This dataset is a table.</b> Its runs train preprocessing layers and an MLP on its columns; the "
               "image backbone, image size and frozen depth below are ignored. To transfer from another table, "
               "choose Weights <code>run</code> and one of your tabular runs: columns the two tables share keep "
               "their statistics and first-layer weights.",
    "text": "<b>This dataset is text.</b> Choose its encoder: MiniLM (all-MiniLM-L6-v2, 6 transformer "
            "layers, 22.7M parameters; minutes to train here) or GloVe 6B 50-d word vectors (a light embedding "
            "and MLP; seconds). Weights <code>offline</code> is pretrained, <code>none</code> a random init, "
            "<code>run</code> one of your text runs (its encoder as it was fine-tuned). The "
            "sequence length counts word pieces (MiniLM) or words (GloVe); longer texts are cut. The Freeze "
            "step counts MiniLM's transformer layers, or GloVe's one embedding.",
}
#: The text encoders, as the encoder list shows them.
TEXT_ENCODER_CHOICES = (("MiniLM: all-MiniLM-L6-v2 (22.7M parameters)", TEXT_BACKBONE),
                        ("GloVe 6B 50-d word vectors (light)", GLOVE_BACKBONE))

_STYLE = {"description_width": "110px"}


def _source_kind(modality) -> str:
    """Which runs can seed which: tables seed tables, texts texts; image and sound runs (both pictures) seed
    each other."""
    return modality if modality in ("tabular", "text") else "pictures"


class BackbonePanel(Panel):
    """Backbone, weights source and image size, bound to ``session.backbone`` / ``weights`` / ``image_size``.

    Example:
        >>> from lepton_widgets.state import Session
        >>> panel = BackbonePanel(Session(backbone="small_cnn", weights="none", image_size=32))
        >>> panel.image_size.value
        32
        >>> panel                      # in a notebook cell: shows the panel  # doctest: +SKIP
    """

    title = "Backbone"

    def build(self) -> w.Widget:
        self._syncing = False
        self._counts = Latest()
        self.backbone_select = w.Dropdown(options=[(s.name, s.name) for s in list_backbones()],
                                          description="Backbone", style=_STYLE)
        self.weights_select = w.Dropdown(options=[(s, s) for s in SOURCES], description="Weights",
                                         style=_STYLE)
        self.run_select = w.Dropdown(options=[("(pick a finished run)", "")], value="", description="Source run",
                                     style=_STYLE, layout=w.Layout(width="520px"))
        self.ranker = RankingView(self.session, self.runner, _STYLE)
        # the ranking's controls, under the names the panel has always had
        self.rank_candidates, self.rank_button = self.ranker.rank_candidates, self.ranker.rank_button
        self.use_button, self.rank_table = self.ranker.use_button, self.ranker.rank_table
        self.weights_path = w.Text(description="Weights file", placeholder="/path/to/backbone.weights.h5",
                                   continuous_update=False, style=_STYLE, layout=w.Layout(width="520px"))
        self.image_size = w.IntSlider(description="Image size", step=8, continuous_update=False, style=_STYLE)
        self.info = w.HTML()
        self.param_count = w.HTML()
        self.sources = w.HTML()
        self.notice = w.HTML()   # prominent: why the chosen weights cannot load here
        self.note = w.HTML()     # quiet: what the panel adjusted (image size clamped)
        self.modality_note = w.HTML()  # tables and texts: what of this step applies to them
        self.modality_note.add_class("lepton-backbone-modality-note")
        self.text_encoder = w.Dropdown(options=TEXT_ENCODER_CHOICES, description="Text encoder", style=_STYLE,
                                       layout=w.Layout(width="520px"))
        self.sequence_length = w.IntSlider(min=8, max=BackboneConfig.MAX_SEQUENCE_LENGTH, step=8,
                                           description="Sequence length", continuous_update=False, style=_STYLE)
        w.link((self.session, "sequence_length"), (self.sequence_length, "value"))
        self.text_box = w.VBox([self.text_encoder, self.sequence_length])
        self.text_encoder.add_class("lepton-text-encoder")
        self.sequence_length.add_class("lepton-sequence-length")
        for widget, css in ((self.backbone_select, "backbone-select"), (self.weights_select, "weights-select"),
                            (self.weights_path, "weights-path"), (self.image_size, "image-size"),
                            (self.info, "backbone-info"), (self.param_count, "backbone-params"),
                            (self.sources, "weights-sources"), (self.notice, "weights-unavailable"),
                            (self.note, "backbone-note"), (self.run_select, "run-select")):
            widget.add_class(f"lepton-{css}")

        self.backbone_select.observe(self._backbone_chosen, "value")
        self.weights_select.observe(self._weights_chosen, "value")
        self.weights_path.observe(self._weights_chosen, "value")
        self.image_size.observe(self._size_chosen, "value")
        self.text_encoder.observe(self._encoder_chosen, "value")
        self.run_select.observe(self._run_chosen, "value")
        self.session.observe(self._session_changed, ["backbone", "weights", "image_size"])
        self.session.observe(lambda _c: self.refresh_runs(), "runs_version")
        self.session.observe(self._dataset_changed, "dataset")
        self.refresh_runs()
        self._show_backbone()
        self.rank_box = self.ranker.widget
        #: Shown for pictures and tables, hidden for texts (their encoder has its own controls).
        self._image_only = (self.backbone_select, self.image_size, self.info, self.param_count, self.sources,
                            self.rank_box)
        self._show_modality_note()
        return w.VBox([
            w.HTML("<h3>Backbone</h3>"), self.modality_note, self.text_box,
            w.HBox([self.backbone_select, self.weights_select]),
            self.weights_path, self.run_select, self.image_size, self.notice, self.note, self.info,
            self.param_count, self.sources, self.rank_box,
        ])

    # --- your runs as sources -------------------------------------------------------------------

    def _dataset_changed(self, change) -> None:
        self._show_modality_note()
        self.refresh_runs()  # tables reuse tabular runs, images and sounds the others

    def _show_modality_note(self) -> None:
        modality = dataset_modality(self.session.dataset)
        note = _MODALITY_NOTES.get(modality or "")
        self.modality_note.value = note_box(note) if note else ""
        text = modality == "text"
        self.text_box.layout.display = "" if text else "none"
        for widget in self._image_only:
            widget.layout.display = "none" if text else ""
        self._show_encoder()

    # --- text encoders ----------------------------------------------------------------------------

    def _encoder_chosen(self, change) -> None:
        if not self._syncing:
            self.session.backbone = change["new"]

    def _show_encoder(self) -> None:
        """The encoder a text run would use with ``session.backbone`` (MiniLM unless it names GloVe); for
        pictures, a text encoder left over from a text dataset is named as the problem it is."""
        self._set_controls(lambda: setattr(self.text_encoder, "value", text_encoder_name(self.session.backbone)))
        if self.session.backbone in TEXT_ENCODERS and dataset_modality(self.session.dataset) != "text":
            # blank, so that picking any backbone (the one shown before, too) is a change that reaches the session
            self._set_controls(lambda: setattr(self.backbone_select, "index", None))
            self.info.value = (f"<b>{html.escape(self.session.backbone)} is a text encoder, and this dataset is not "
                               f"text: choose a backbone above.</b>")

    def refresh_runs(self) -> None:
        """List the store's finished runs that have one backbone to reuse (not ensembles), of the data's kind:
        tabular runs for a table, the others for images and sounds."""
        options = [("(pick a finished run)", "")]
        wanted = _source_kind(dataset_modality(self.session.dataset))
        for record in self.runner.store.runs(include_incomplete=False):
            if record.status != "finished" or not record.model_path.is_file():
                continue
            if (record.info.get("fusion") or {}).get("method") == "ensemble" or \
                    _source_kind(record.info.get("modality")) != wanted:
                continue
            cfg = record.config
            accuracy = record.metrics.get("accuracy")
            scored = f", acc {accuracy:.3f}" if isinstance(accuracy, (int, float)) else ""
            options.append((run_label(record, f"{cfg.backbone.name}, {cfg.data.dataset}{scored}"),
                            run_weights(record)))
        current = self.session.weights if is_run_weights(self.session.weights) else ""
        if current and current not in [value for _, value in options]:
            options.append((f"{current} (not in this run store)", current))
        self._set_controls(lambda: (setattr(self.run_select, "options", options),
                                    setattr(self.run_select, "value", current)))

    def _run_chosen(self, change) -> None:
        if self._syncing or not change["new"]:
            return
        from lepton_widgets.core.backbones.run_backbone import resolve_run, source_backbone_name
        from lepton_widgets.core.tasks.text.transfer import source_encoder

        try:
            record = resolve_run(change["new"])
            # a text run's family is its encoder (text.json); other runs' is their config's backbone
            name = source_encoder(record) if record.info.get("modality") == "text" else source_backbone_name(record)
        except Exception as error:  # noqa: BLE001  (shown, never raised into the widget callback)
            self.notice.value = alert_box(f"<b>This run cannot be used</b><br>{html.escape(str(error))}")
            self.notice.layout.display = ""
            return
        with self.session.hold_trait_notifications():  # family and weights change together
            self.session.backbone, self.session.weights = name, change["new"]

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

    def _weights_chosen(self, change) -> None:
        if self._syncing:
            return
        source = self.weights_select.value
        if source == "run":
            if self.run_select.value:
                self._run_chosen({"new": self.run_select.value})
            else:
                self._show_weights(keep_file_choice=True)
        elif source != "file":
            self.session.weights = source
        elif self.weights_path.value.strip():
            self.session.weights = self.weights_path.value.strip()
        else:  # nothing to point at yet: keep the old setting and say what is missing
            self._show_weights(keep_file_choice=True)

    def _size_chosen(self, change) -> None:
        if not self._syncing:
            self.session.image_size = change["new"]

    # --- session -> controls --------------------------------------------------------------------

    def _session_changed(self, change) -> None:
        if change["name"] == "backbone":
            self._show_encoder()
            if change["new"] not in TEXT_ENCODERS:
                self._show_backbone()
        elif change["name"] == "image_size":
            if not self.image_size.min <= change["new"] <= self.image_size.max:
                self._show_backbone()  # clamps into the range and says so (a slider would clamp silently)
                return
            self._set_controls(lambda: setattr(self.image_size, "value", change["new"]))
            self._show_weights(keep_file_choice=True)  # ImageNet files can differ per size
        else:
            self._show_weights()

    def _set_controls(self, assign) -> None:
        self._syncing = True
        try:
            assign()
        finally:
            self._syncing = False

    def _show_backbone(self) -> None:
        try:
            spec = get_backbone(self.session.backbone)
        except ValueError as error:
            self.info.value = f"<b>{html.escape(str(error))}</b>"
            return
        size = self.session.image_size
        clamped = min(max(size, spec.min_size), spec.max_size)

        def assign():
            self.backbone_select.value = spec.name
            # Widen first: a new min above the old max (or max below the old min) is a TraitError.
            self.image_size.min, self.image_size.max = 1, 10_000
            self.image_size.value = clamped
            self.image_size.min, self.image_size.max = spec.min_size, spec.max_size

        self._set_controls(assign)
        self.note.value = ""
        if clamped != size:
            self.note.value = (f"<i>Image size {size} is outside {spec.name}'s range {spec.min_size}-"
                               f"{spec.max_size} px; set to {clamped}.</i>")
            self.session.image_size = clamped
        self._show_param_count(spec.name)
        self._show_weights(keep_file_choice=True)

    def _show_param_count(self, name: str) -> None:
        count = cached_param_count(name)
        if count is not None:
            self.param_count.value = params_line(name, count)
            return
        self.param_count.value = f"<b>Parameters:</b> counting ({html.escape(name)})..."

        def apply(n: int) -> None:
            if self.session.backbone == name:
                self.param_count.value = params_line(name, n)

        def failed(error: Exception) -> None:
            self.param_count.value = f"<b>Parameters:</b> could not count ({html.escape(str(error))})"

        self._counts.request(lambda: backbone_param_count(name), apply, failed)

    def _show_weights(self, keep_file_choice: bool = False) -> None:
        """Weights options with what each can do here, and the chosen one's reason when it cannot load.

        ``keep_file_choice``: "file" was picked but no path typed yet, so the session still holds the old
        weights; keep showing "file" unless the session's weights themselves changed.
        """
        try:
            spec = get_backbone(self.session.backbone)
        except ValueError:
            return  # _show_backbone already says the name is unknown
        weights, size = self.session.weights, self.session.image_size
        source = weights_source(weights)
        path = weights if source == "file" else self.weights_path.value.strip()
        if source == "run":
            path = weights
        options, table = source_choices(spec, path, size)

        picking = self.weights_select.value if self.weights_select.value in ("file", "run") else None
        chosen = picking if keep_file_choice and picking else source

        def assign():
            self.weights_select.options = options
            self.weights_select.value = chosen
            if source == "file":
                self.weights_path.value = weights
            if source == "run" and weights in [value for _, value in self.run_select.options]:
                self.run_select.value = weights

        self._set_controls(assign)
        self.weights_path.layout.display = "" if chosen == "file" else "none"
        self.run_select.layout.display = "" if chosen == "run" else "none"
        self.sources.value = table
        ok, reason = source_availability(spec, chosen, path, size)
        if chosen == "file" and not path:
            ok, reason = False, f"enter the path of a .weights.h5 file; until then weights stay {weights!r}"
        if chosen == "run" and source != "run":
            ok, reason = False, f"pick one of your finished runs; until then weights stay {weights!r}"
        self.notice.value = "" if ok else alert_box(
            f"<b>{html.escape(SOURCE_WORDS[chosen])} weights cannot be used here</b><br>{html.escape(reason)}")
        self.notice.layout.display = "none" if ok else ""
        try:
            norm = spec.normalization_for(weights)
        except Exception as error:  # noqa: BLE001  (a run that cannot serve: the notice says why)
            self.info.value = (backbone_card(spec)
                               + f"<div><b>Input normalisation</b>: unknown ({html.escape(str(error))})</div>")
            return
        self.info.value = backbone_card(spec) + (f"<div><b>Input normalisation</b> with these weights: "
                                                 f"{html.escape(norm)} - {html.escape(NORMALIZATION_DOCS[norm])}</div>")
