"""The Backbone step's weights: the source list (with why a source cannot load here), a file path, or one of
your finished runs, bound to ``session.weights``.

Runs offered as sources are those of the same model family as the chosen data (``task.family``): tables seed
tables, texts texts, and picture and sound runs (both picture models) seed each other. Picking one sets the
backbone to the run's (``task.source_backbone``) and the weights to ``run:<run folder>``.

Example:
    >>> from lepton_widgets.core.runs.store import RunStore
    >>> from lepton_widgets.state import Session
    >>> import ipywidgets as w
    >>> session = Session(backbone="small_cnn", weights="none", image_size=32)
    >>> view = WeightsView(session, RunStore("/tmp/lepton-doc-runs"), w.HTML(), {})
    >>> view.show()
    >>> view.weights_select.value, view.run_select.layout.display
    ('none', 'none')
"""

from __future__ import annotations

import html

import ipywidgets as w

from lepton_widgets.core.backbones import NORMALIZATION_DOCS, get_backbone, weights_source
from lepton_widgets.core.backbones.run_backbone import is_run_weights, run_weights
from lepton_widgets.core.runs.store import run_label
from lepton_widgets.core.tasks import task_for_dataset, task_for_run
from lepton_widgets.i18n import _
from lepton_widgets.panels.backbone.sources import (NOT_OFFERED, PLAIN_WHY, SOURCE_WORDS, SOURCES, backbone_card,
                                                    source_availability, source_choices)
from lepton_widgets.panels.style import alert_box
from lepton_widgets.panels.base import syncing


class WeightsView:
    """Weights source, file path and source run, with the chosen source's reason when it cannot load.

    ``info`` is the panel's backbone card, which this view completes with the input normalisation."""

    def __init__(self, session, store, info: w.HTML, style: dict):
        self.session, self.store, self.info = session, store, info
        self._syncing = False
        self.weights_select = w.Dropdown(options=[(_(SOURCE_WORDS[s]), s) for s in SOURCES],
                                         description=_("Weights"), style=style)
        self.run_select = w.Dropdown(options=[(_("(pick a finished run)"), "")], value="",
                                     description=_("Source run"), style=style, layout=w.Layout(width="520px"))
        self.weights_path = w.Text(description=_("Weights file"), placeholder="/path/to/backbone.weights.h5",
                                   continuous_update=False, style=style, layout=w.Layout(width="520px"))
        self.sources = w.HTML()
        self.notice = w.HTML()   # prominent: why the chosen weights cannot load here
        for widget, css in ((self.weights_select, "weights-select"), (self.weights_path, "weights-path"),
                            (self.sources, "weights-sources"), (self.notice, "weights-unavailable"),
                            (self.run_select, "run-select")):
            widget.add_class(f"lepton-{css}")
        self.weights_select.observe(self._chosen, "value")
        self.weights_path.observe(self._chosen, "value")
        self.run_select.observe(self._run_chosen, "value")

    # --- your runs as sources -------------------------------------------------------------------

    def refresh_runs(self) -> None:
        """List the store's finished runs that have one backbone to reuse (not ensembles), of the data's
        model family."""
        options = [(_("(pick a finished run)"), "")]
        family = task_for_dataset(self.session.dataset).family
        for record in self.store.runs(include_incomplete=False):
            if record.status != "finished" or not record.model_path.is_file():
                continue
            if (record.info.get("fusion") or {}).get("method") == "ensemble" or task_for_run(record).family != family:
                continue
            cfg = record.config
            accuracy = record.metrics.get("accuracy")
            scored = (", " + _("accuracy {accuracy}").format(accuracy=f"{accuracy:.3f}")
                      if isinstance(accuracy, (int, float)) else "")
            options.append((run_label(record, f"{cfg.backbone.name}, {cfg.data.dataset}{scored}"),
                            run_weights(record)))
        current = self.session.weights if is_run_weights(self.session.weights) else ""
        if current and current not in [value for _, value in options]:
            options.append((_("{run} (not in this run store)").format(run=current), current))
        with syncing(self):
            self.run_select.options = options
            self.run_select.value = current

    def _run_chosen(self, change) -> None:
        if self._syncing or not change["new"]:
            return
        from lepton_widgets.core.backbones.run_backbone import resolve_run

        try:
            record = resolve_run(change["new"])
            name = task_for_run(record).source_backbone(record)  # a text run's family is its encoder
        except Exception as error:  # noqa: BLE001  (shown, never raised into the widget callback)
            self.notice.value = alert_box("<b>" + html.escape(_("This run cannot be used")) + "</b><br>"
                                          f"{html.escape(str(error))}")
            self.notice.layout.display = ""
            return
        with self.session.hold_trait_notifications():  # family and weights change together
            self.session.backbone, self.session.weights = name, change["new"]

    # --- controls -> session --------------------------------------------------------------------

    def _chosen(self, change) -> None:
        if self._syncing:
            return
        source = self.weights_select.value
        if source == "run":
            if self.run_select.value:
                self._run_chosen({"new": self.run_select.value})
            else:
                self.show(keep_file_choice=True)
        elif source != "file":
            self.session.weights = source
        elif self.weights_path.value.strip():
            self.session.weights = self.weights_path.value.strip()
        else:  # nothing to point at yet: keep the old setting and say what is missing
            self.show(keep_file_choice=True)

    # --- session -> controls --------------------------------------------------------------------

    def show(self, keep_file_choice: bool = False) -> None:
        """Weights options with what each can do here, and the chosen one's reason when it cannot load.

        ``keep_file_choice``: "file" was picked but no path typed yet, so the session still holds the old
        weights; keep showing "file" unless the session's weights themselves changed.
        """
        try:
            spec = get_backbone(self.session.backbone)
        except ValueError:
            return  # the panel already says the name is unknown
        weights, size = self.session.weights, self.session.image_size
        source = weights_source(weights)
        path = weights if source == "file" else self.weights_path.value.strip()
        if source == "run":
            path = weights
        options, table = source_choices(spec, path, size)

        picking = self.weights_select.value if self.weights_select.value in ("file", "run") else None
        chosen = picking if keep_file_choice and picking else source

        with syncing(self):
            self.weights_select.options = options
            self.weights_select.value = chosen
            if source == "file":
                self.weights_path.value = weights
            if source == "run" and weights in [value for _, value in self.run_select.options]:
                self.run_select.value = weights
        self.weights_path.layout.display = "" if chosen == "file" else "none"
        self.run_select.layout.display = "" if chosen == "run" else "none"
        self.sources.value = table
        ok, reason = source_availability(spec, chosen, path, size)
        plain = _(PLAIN_WHY[chosen])
        if chosen == "file" and not path:
            ok, reason = False, _("enter the path of a .weights.h5 file; until then the weights stay "
                                  "{weights}").format(weights=repr(weights))
            plain = _("Type the path of a weights file first.")
        if chosen == "run" and source != "run":
            ok, reason = False, _("pick one of your finished runs; until then the weights stay "
                                  "{weights}").format(weights=repr(weights))
            plain = _("Pick one of your finished runs first.")
        if chosen not in ("file", "run") and not spec.supports(chosen):
            plain = _(NOT_OFFERED).format(backbone=spec.name)
        heading = _("{source} weights cannot be used here").format(source=_(SOURCE_WORDS[chosen]))
        details = _("Details:")
        self.notice.value = "" if ok else alert_box(
            f"<b>{html.escape(heading)}</b><br>{html.escape(plain)}<br><span style='font-size:12px;color:#555'>"
            f"{html.escape(details)} {html.escape(reason)}</span>")
        self.notice.layout.display = "none" if ok else ""
        try:
            norm = spec.normalization_for(weights)
        except Exception as error:  # noqa: BLE001  (a run that cannot serve: the notice says why)
            self.info.value = (backbone_card(spec) + "<div><b>" + html.escape(_("Input normalisation")) + "</b>: "
                               "" + html.escape(_("unknown")) + f" ({html.escape(str(error))})</div>")
            return
        self.info.value = backbone_card(spec) + (
            "<div><b>" + html.escape(_("Input normalisation")) + "</b> "
            "" + html.escape(_("(how pixel values are scaled) with these weights:")) + " "
            # The config's own name for it (torch, tf, unit...) is for code: on hover, not in the sentence.
            f"<span title='normalization: {html.escape(norm)}'>{html.escape(_(NORMALIZATION_DOCS[norm]))}</span>"
            "</div>")
