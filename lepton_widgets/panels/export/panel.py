"""Export panel: pick a finished run, tick formats, Export; then one row per format with its file, size,
max |diff|, top-1 agreement and pass/fail against the format's tolerance, or the plain reason it could
not be made here; and the model card.

Image, sound, text and table runs are all offered. The formats that cannot hold the chosen run's model
(a GloVe text model in TFLite or ONNX, a table with categorical columns in ONNX: see
:func:`lepton_widgets.core.export.inputs.format_support`) are unticked and greyed out, and
``formats_note`` says why, before anything is converted; choosing an image run again offers them again.

The export runs in the Runner's worker thread (converting and reloading takes seconds per format, about
a minute for every format of a MobileNetV2), so the page stays responsive and Stop works between formats.
While it runs, a bar and one line per format follow the engine's ``ExportStep`` events (writing,
reloading with its runtime, comparing, then verified or why not). When it ends, each verified file has a
"Download" button that makes a link carrying the file itself (a data: URL; a SavedModel folder as one
.zip): Voilà 0.5 has no route that serves these files (its ``files/`` route only serves pictures from the
notebook's folder), and a link built on request keeps the page from holding every file at once. The engine is
:func:`lepton_widgets.core.export.verify.export_run`; this panel only collects the choices and shows the result.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> panel = ExportPanel(session, Runner(session, runs_dir="/tmp/lepton-doc-empty-runs"))
    >>> panel.run.options, panel.export_button.disabled
    ((), True)
    >>> sorted(name for name, box in panel.formats.items() if box.value)[:2]
    ['keras', 'onnx']
    >>> panel.not_offered
    {}
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

import ipywidgets as w

from lepton_widgets.core.runs.store import run_label
from lepton_widgets.core.tasks import task_for_run
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.export.files import (FORMAT_LABELS, download_html, reason_text, results_html, size_text,
                                                step_text)
from lepton_widgets.panels.glossary import term, words_used_here
from lepton_widgets.panels.style import alert_box, ok_box
from lepton_widgets.state.runner import BusyError

#: Progress bar steps per format (write, reload, check; done completes the third).
_STEP_VALUE = {"write": 0, "reload": 1, "check": 2, "done": 3}
#: The engine's name for a kind of run (``Task.run_words``), in the reader's language.
RUN_WORDS = {"run": N_("run"), "picture run": N_("picture run"), "sound run": N_("sound run"),
             "text run": N_("text run"), "table run": N_("table run")}

class ExportPanel(Panel):
    """Export a finished run in several formats, each verified against the trained model.

    Key widgets: ``run`` (Dropdown of finished runs, newest first), ``formats`` (name -> Checkbox),
    ``out`` (Text, empty = ``<run>/exports``), ``export_button``, ``message`` (HTML), ``table`` (HTML,
    lepton-export-table), ``progress`` (IntProgress, 3 steps per format) and ``steps`` (HTML, a line per
    format), ``download_buttons`` (format -> Button) and ``download_link`` (HTML, the link a button made),
    ``card`` (HTML: the model card's link, path and text), ``formats_note`` (HTML: the
    formats the chosen run's model cannot be exported to, and why). ``results`` holds the last
    :class:`~lepton_widgets.core.export.verify.ExportResult` list; ``not_offered`` maps format -> reason for the
    chosen run.
    """

    title = "Export"

    def build(self) -> w.Widget:
        self.results: list = []
        self.report = None
        self.not_offered: dict[str, str] = {}
        self.formats_note = w.HTML()
        self.run = w.Dropdown(description=_("Run"), options=(), layout=w.Layout(width="520px"))
        self.refresh_button = w.Button(description=_("Refresh"), tooltip=_("list runs made elsewhere (CLI)"))
        self.formats = {name: w.Checkbox(value=True, description=label, indent=False,
                                         layout=w.Layout(width="150px"))
                        for name, label in FORMAT_LABELS.items()}
        self.out = w.Text(placeholder=_("default: the run's folder, in exports"), description=_("Save in"),
                          layout=w.Layout(width="520px"))
        self.export_button = w.Button(description=_("Export"), button_style="primary", icon="download",
                                      tooltip=_("Write the ticked formats and check each against the trained "
                                                "model"))
        self.message = w.HTML()
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="520px", display="none"))
        self.steps = w.HTML()
        self._lines: dict[str, str] = {}  # format -> its line in ``steps``, in the order they started
        self.table = w.HTML()
        self.download_buttons: dict[str, w.Button] = {}
        self.downloads = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.download_link = w.HTML()
        self.card = w.HTML()
        for widget, name in ((self.run, "run"), (self.export_button, "export-button"), (self.table, "table"),
                             (self.progress, "progress"), (self.steps, "steps"), (self.downloads, "downloads"),
                             (self.download_link, "download"),
                             (self.message, "message"), (self.card, "card"), (self.formats_note, "formats-note")):
            widget.add_class(f"lepton-export-{name}")

        self.refresh_button.on_click(lambda _: self.refresh())
        self.export_button.on_click(lambda _: self.export())
        for box in self.formats.values():
            box.observe(self._update_button, "value")
        self.run.observe(self._on_run, "value")
        self.session.observe(self._on_runs, names=["runs_version", "current_run"])
        self.session.observe(self._update_button, names="busy")
        self.refresh()
        intro = w.HTML("<div>" + _(
            "{export} saves the model in files other programs and phones can use. Every file is loaded again "
            "with the program that will use it (Keras, tf.saved_model, the TFLite interpreter, onnxruntime) and "
            "its answers are compared with the trained model's on examples it never trained on; a file whose "
            "answers differ by more than the format allows is not kept. TFLite int8 is {quantisation}: a "
            "smaller file, nearly as accurate.").format(export=term("export", _("Export")),
                                                         quantisation=term("quantisation")) + "</div>")
        return w.VBox([intro, w.HBox([self.run, self.refresh_button]), w.HBox(list(self.formats.values()),
                       layout=w.Layout(flex_flow="row wrap")), self.formats_note, self.out, self.export_button,
                       self.message, self.progress, self.steps, self.table, self.downloads, self.download_link,
                       self.card, words_used_here(["export", "quantisation", "test_set", "run"])])

    # --- runs -----------------------------------------------------------------------------------

    def _on_runs(self, _change=None) -> None:
        self.refresh()

    def refresh(self) -> None:
        """List finished runs that have a model, newest first; keep the choice, else the current run, else
        the newest."""
        runs = [r for r in self.runner.store.runs(include_incomplete=False)
                if r.status == "finished" and r.model_path.exists()][::-1]
        options = []
        for record in runs:
            accuracy = record.metrics.get("accuracy")
            shown = (_("test accuracy {accuracy}").format(accuracy=f"{accuracy:.3f}")
                     if isinstance(accuracy, float) else "")
            options.append((run_label(record, shown), record.run_id))
        keep = self.run.value
        ids = [value for _, value in options]
        self.run.options = options
        if keep in ids:
            self.run.value = keep
        elif self.session.current_run in ids:
            self.run.value = self.session.current_run
        elif ids:
            self.run.value = ids[0]  # the newest
        self._offer_formats()
        self._update_button()

    def _on_run(self, _change=None) -> None:
        self._offer_formats()
        self._update_button()

    def _offer_formats(self) -> None:
        """Grey out the formats the chosen run's model cannot be exported to, and say why."""
        from lepton_widgets.core.export.inputs import format_support  # JSON only: no TensorFlow

        support, words = {}, "run"
        if self.run.value:
            try:
                record = self.runner.store.open(self.run.value)
                support, words = format_support(record), task_for_run(record).run_words
            except (ValueError, OSError):  # the run vanished or its files are unreadable: offer everything
                support = {}
        for name, box in self.formats.items():
            reason = support.get(name)
            if reason:
                box.value, box.disabled, box.tooltip = False, True, reason_text(reason)
            elif box.disabled:  # offered again (another run): ticked, as formats start
                box.value, box.disabled, box.tooltip = True, False, None
        self.not_offered = dict(support)
        if not support:
            self.formats_note.value = ""
            return
        items = "".join(f"<li><b>{html.escape(FORMAT_LABELS[name])}</b>: {html.escape(reason_text(reason))}</li>"
                        for name, reason in support.items())
        words = _(RUN_WORDS[words]) if words in RUN_WORDS else words
        self.formats_note.value = ("<div style='color:#555;font-size:12px'>"
                                   + html.escape(_("Not offered for this {what}:").format(what=words))
                                   + f"<ul style='margin:2px 0'>{items}</ul></div>")

    def chosen_formats(self) -> list[str]:
        return [name for name, box in self.formats.items() if box.value and not box.disabled]

    def _update_button(self, _change=None) -> None:
        self.export_button.disabled = self.session.busy or not self.run.value or not self.chosen_formats()

    # --- export ---------------------------------------------------------------------------------

    def export(self) -> Optional[object]:
        """What the Export button does: start the export in the worker thread (returns the thread)."""
        run_id, formats = self.run.value, self.chosen_formats()
        if not run_id or not formats:
            self.message.value = alert_box(html.escape(_("Choose a finished run and at least one format.")))
            return None
        out = self.out.value.strip() or None
        store = self.runner.store

        runner_sink = self.runner.on_event

        def sink(event) -> None:  # the worker thread: this panel's progress lines, then the Session's status
            self._on_export_event(event)
            runner_sink(event)

        def work(job):
            from lepton_widgets.core.export.verify import export_run  # TensorFlow: imported in the worker

            return export_run(store.open(run_id), formats, out, job=job)

        def done(report):
            self.show(report)

        self.results, self.report = [], None
        self.table.value, self.card.value, self.download_link.value = "", "", ""
        self.downloads.children, self.download_buttons = (), {}
        self._lines = {}
        self.steps.value = ""
        self.progress.value, self.progress.max, self.progress.bar_style = 0, 3 * len(formats), ""
        self.progress.layout.display = None
        self.message.value = _("Exporting {run} as {formats}...").format(
            run=f"<code>{html.escape(run_id)}</code>", formats=html.escape(", ".join(formats)))
        self.session.observe(self._on_status, names="status")  # before the thread starts: it may end at once
        try:
            return self.runner.submit("export", work, done, sink=sink)
        except BusyError as error:
            self.session.unobserve(self._on_status, names="status")
            self.message.value = alert_box(html.escape(str(error)))
            return None

    def _on_status(self, change) -> None:
        if change["new"] in ("failed", "cancelled"):
            self.session.unobserve(self._on_status, names="status")
            why = self.session.last_error or _("stopped before it finished")
            title = _("Export failed:") if change["new"] == "failed" else _("Export stopped:")
            self.message.value = alert_box(f"<b>{html.escape(title)}</b> {html.escape(why)}")
        elif change["new"] == "finished":
            self.session.unobserve(self._on_status, names="status")

    def _on_export_event(self, event) -> None:
        """A line per format as it is written, reloaded and checked, and the bar (3 steps per format)."""
        if event.kind == "progress" and event.task.startswith("export: loading"):
            self.steps.value = ("<i>" + html.escape(_("Loading the model and the examples kept out of training..."))
                                + "</i>")
            return
        if event.kind != "export_step":
            return
        self._lines[event.format] = f"<b>{html.escape(event.format)}</b>: {step_text(event)}"
        self.steps.value = "<br>".join(self._lines.values())
        self.progress.max = max(1, 3 * event.total)
        self.progress.value = max(self.progress.value, 3 * event.index + _STEP_VALUE.get(event.step, 0))

    def _download(self, result) -> None:
        """Make the link that saves this format's file (built on request: a link carries the whole file)."""
        self.download_link.value = download_html(result.path)  # a SavedModel folder comes as one .zip

    def show(self, report) -> None:
        """Show an :class:`~lepton_widgets.core.export.verify.ExportReport` (also used after a CLI export)."""
        self.report, self.results = report, list(report.results)
        passed = sum(r.passed for r in self.results)
        summary = (html.escape(_("{passed} of {total} formats exported and verified.").format(
                       passed=passed, total=len(self.results)))
                   + (" " + html.escape(_("Download them with the buttons below.")) if passed else "")
                   + " " + _("The files are kept in {folder}.").format(
                       folder=f"<code>{html.escape(str(report.out_dir))}</code>"))
        self.message.value = (ok_box if passed == len(self.results) else alert_box)(summary)
        self.session.message = _("exported {passed}/{total} formats").format(passed=passed, total=len(self.results))
        self.table.value = results_html(self.results)
        self.progress.value = self.progress.max
        self.progress.bar_style = "success" if passed == len(self.results) else "warning"
        self.download_buttons = {}
        for result in self.results:
            if result.passed and result.path:
                button = w.Button(description=_("Download {format} ({size})").format(
                                      format=result.format, size=size_text(result.size_bytes)),
                                  tooltip=_("make a link that saves this file in your browser"))
                button.on_click(lambda _b, r=result: self._download(r))
                self.download_buttons[result.format] = button
        self.downloads.children = tuple(self.download_buttons.values())
        card = Path(report.card_md) if report.card_md else None
        if card is not None and card.exists():
            summary = _("Model card: {path} (and {json})").format(
                path=f"<code>{html.escape(str(card))}</code>", json=html.escape(card.with_suffix(".json").name))
            text = html.escape(card.read_text(encoding="utf-8"))
            self.card.value = (f"<div>{download_html(card)}</div><details><summary>{summary}</summary>"
                               f"<pre style='white-space:pre-wrap;font-size:12px'>{text}</pre></details>")
