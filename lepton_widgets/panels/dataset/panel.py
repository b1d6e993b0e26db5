"""Dataset panel: choose the data, check it, and see what the check found.

Data comes from the registry (built-in sets, with description, licence and whether they are real or a
substitute), from a folder or CSV on this machine (a path), or from an uploaded zip of class folders.
An upload is written under ``cache_dir("uploads")`` (:func:`lepton_widgets.core.data.uploads.save_upload`) and
the Session points at it (``dataset="zip"``, ``data_path=<file>``). The largest upload is stated in the
panel: above the websocket limit a browser upload is dropped without any error (ipywidgets #2522,
voila #807), so silence would otherwise be all the user gets.

"Check data" loads and validates the data in the Runner's worker thread, with the progress bar following
``session.progress``; the report shows the summary, samples per class (bar chart), the files that were
skipped, converted or duplicated (table), and a few thumbnails per class. The report is drawn whenever
``session.data_report`` changes, whoever set it. The check goes through ``runner.submit`` rather than
``runner.prepare_data()`` only to keep a ``DataError``'s partial report, so that a failed check still
lists which files were unusable and why.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> runner = Runner(session, runs_dir="/tmp/lepton-doc-runs")
    >>> panel = DatasetPanel(session, runner)
    >>> panel.dataset_select.value = "digits"; session.dataset
    'digits'
    >>> panel.check_button.click(); runner.wait(120)     # doctest: +SKIP
    True
    >>> len(panel.sample_rows.children)                  # doctest: +SKIP
    10
"""

from __future__ import annotations

import html
from typing import Optional

import ipywidgets as w
import plotly.graph_objects as go

from lepton_widgets.panels.figures import figure_widget
from lepton_widgets.config import ConfigError
from lepton_widgets.core.data import DataError, DataReport, get_dataset, list_datasets, prepare_data
from lepton_widgets.core.data.registry import dataset_modality
from lepton_widgets.core.tasks.tabular import prepare_table
from lepton_widgets.core.tasks.text import prepare_texts
from lepton_widgets.core.data.uploads import max_upload_mb, save_upload
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.dataset.report import problems_html, summary_for_people
from lepton_widgets.panels.dataset.samples import picture_samples, table_samples, text_samples
from lepton_widgets.panels.style import alert_box, ok_box
from lepton_widgets.state.runner import BusyError

JOB = "prepare data"
USER_KINDS = {"folder": "folder: your images on this machine", "zip": "zip: your images, uploaded or a path",
              "csv": "csv: a list of path,label rows", "wav_folder": "wav_folder: your .wav sounds on this machine",
              "wav_zip": "wav_zip: a zip of your .wav sounds, uploaded or a path",
              "medmnist": "medmnist: a MedMNIST .npz file (medical images)",
              "gtsrb": "gtsrb: the GTSRB training folder (traffic signs)",
              "table_csv": "table_csv: your table (a CSV file with a class column)",
              "text_csv": "text_csv: your texts (a CSV file with text and label columns)",
              "text_folder": "text_folder: your .txt files, one subfolder per class"}
#: Modalities this panel lists; the first two are pictures (sounds as spectrograms) for the image engine.
SHOWN_MODALITIES = ("image", "audio", "tabular", "text")
PICTURE_MODALITIES = ("image", "audio")
#: Modalities checked by their own preparer: the panel shows their rows or texts instead of pictures.
ROW_PREPARERS = {"tabular": prepare_table, "text": prepare_texts}
_ORIGIN_WORDS = {
    "real": "real data",
    "synthetic/substitute": "<b>synthetic / substitute</b>: made up or standing in for the real data; results "
                            "on it say little about real images",
    "user": "your own data",
}
_PATH_HINTS = {"folder": "/path/to/folder (one subfolder of images per class)",
               "zip": "/path/to/images.zip (or upload it below)", "csv": "/path/to/labels.csv (columns path,label)",
               "wav_folder": "/path/to/folder (one subfolder of .wav files per class)",
               "wav_zip": "/path/to/sounds.zip (or upload it below)",
               "medmnist": "/path/to/pathmnist.npz (from medmnist.com / Zenodo)",
               "gtsrb": "/path/to/GTSRB (holding Final_Training/Images)",
               "table_csv": "/path/to/table.csv (numeric and categorical columns, one class column)",
               "text_csv": "/path/to/texts.csv (a text column and a class column)",
               "text_folder": "/path/to/folder (one subfolder of .txt files per class)"}
_DATA_TRAITS = ["dataset", "data_path", "data_test_path", "data_target", "max_per_class", "val_fraction",
                "test_fraction", "min_class_size", "seed"]
_STYLE = {"description_width": "130px"}


class DatasetPanel(Panel):
    """Dataset choice, upload, "Check data" and the validation report, bound to the Session's data traits.

    Example:
        >>> from lepton_widgets.state import Session
        >>> panel = DatasetPanel(Session(dataset="digits"))
        >>> panel.dataset_select.value
        'digits'
        >>> panel                                    # in a notebook cell  # doctest: +SKIP
    """

    title = "Data"
    SAMPLES_PER_CLASS = 4
    MAX_PROBLEM_ROWS = 200
    THUMB = 64

    def build(self) -> w.Widget:
        self._syncing = False
        self._error_report: Optional[DataReport] = None
        self._checked_key: Optional[tuple] = None
        self.dataset_select = w.Dropdown(options=_dataset_options(), description="Dataset", style=_STYLE,
                                         layout=w.Layout(width="480px"))
        self.dataset_info = w.HTML()
        self.path = w.Text(description="Path", continuous_update=False, style=_STYLE,
                           layout=w.Layout(width="640px"))
        # Your own test set, same format as the path: then nothing of the path is held out for testing.
        self.test_path = w.Text(description="Test set (optional)", continuous_update=False, style=_STYLE,
                                placeholder="same format as Path; empty: hold some of Path's samples out",
                                layout=w.Layout(width="640px"))
        self.target = w.Text(description="Class column", continuous_update=False, style=_STYLE,
                             placeholder="the column that holds the class", layout=w.Layout(width="480px"))
        # The checked table or texts (core.tabular.TabularData / core.text.TextData): rows, not image previews.
        self.checked_rows = None
        limit = max_upload_mb()
        self.upload = w.FileUpload(accept=".zip", multiple=False, description="Upload zip")
        self._putting_back = False  # True while _uploaded puts the handled file's name back
        self.upload_limit = w.HTML(
            f"Largest upload: <b>{limit:g} MB</b>. A bigger file is dropped by the browser connection "
            "without an error: copy it to this machine and enter its path instead.")
        self.upload_message = w.HTML()
        self.max_per_class = w.BoundedIntText(min=0, max=10_000_000, description="Max per class (0 = all)",
                                              style=_STYLE)
        self.val_fraction = w.FloatSlider(min=0.0, max=0.5, step=0.01, description="Validation share",
                                          continuous_update=False, style=_STYLE)
        self.test_fraction = w.FloatSlider(min=0.0, max=0.5, step=0.01, description="Test share",
                                           continuous_update=False, style=_STYLE)
        self.check_button = w.Button(description="Check data", button_style="primary",
                                     tooltip="load and validate the data (in the background)")
        self.progress = w.IntProgress(min=0, max=1, value=0, description="Progress", style=_STYLE)
        self.progress_label = w.HTML()
        self.stale = w.HTML()
        self.error = w.HTML()
        self.summary = w.HTML()
        self.counts_figure: Optional[go.FigureWidget] = None
        self.counts_box = w.Box()
        self.problems = w.HTML()
        self.sample_rows = w.VBox()
        for widget, css in ((self.dataset_select, "dataset-select"), (self.dataset_info, "dataset-info"),
                            (self.path, "data-path"), (self.test_path, "data-test-path"),
                            (self.target, "data-target"), (self.upload, "upload"),
                            (self.upload_limit, "upload-limit"),
                            (self.upload_message, "upload-message"), (self.max_per_class, "max-per-class"),
                            (self.val_fraction, "val-fraction"), (self.test_fraction, "test-fraction"),
                            (self.check_button, "check-data"), (self.progress, "data-progress"),
                            (self.stale, "data-stale"), (self.error, "data-error"), (self.summary, "data-summary"),
                            (self.counts_box, "class-counts"), (self.problems, "data-problems"),
                            (self.sample_rows, "sample-grid")):
            widget.add_class(f"lepton-{css}")

        self.dataset_select.observe(self._dataset_chosen, "value")
        self.path.observe(self._path_typed, "value")
        self.test_path.observe(self._test_path_typed, "value")
        self.target.observe(self._target_typed, "value")
        self.upload.observe(self._uploaded, "value")
        self.max_per_class.observe(self._max_typed, "value")
        for name in ("val_fraction", "test_fraction"):
            w.link((self.session, name), (getattr(self, name), "value"))
        self.check_button.on_click(self.check)
        self.check_button.disabled = self.session.busy
        self.session.observe(self._settings_changed, _DATA_TRAITS)
        self.session.observe(self._progress_changed, "progress")
        self.session.observe(self._status_changed, "status")
        self.session.observe(self._busy_changed, "busy")
        self.session.observe(self._show_report, "data_report")
        self._show_settings()
        self._show_report()

        settings = w.Accordion([w.VBox([self.max_per_class, self.val_fraction, self.test_fraction])])
        settings.set_title(0, "Sampling and split")
        return w.VBox([
            w.HTML("<h3>Data</h3>"),
            self.dataset_select, self.dataset_info, self.path, self.test_path, self.target,
            w.HBox([self.upload, self.upload_limit]), self.upload_message, settings,
            w.HBox([self.check_button, self.progress, self.progress_label]),
            self.stale, self.error, self.summary, self.counts_box,
            w.HTML("<b>Files not used as they are</b>"), self.problems,
            w.HTML("<b>Samples per class</b>"), self.sample_rows,
        ])

    # --- settings <-> session ------------------------------------------------------------------

    def _dataset_chosen(self, change) -> None:
        if not self._syncing:
            self.session.dataset = change["new"]

    def _path_typed(self, change) -> None:
        if not self._syncing:
            self.session.data_path = change["new"].strip() or None

    def _test_path_typed(self, change) -> None:
        if not self._syncing:
            self.session.data_test_path = change["new"].strip() or None

    def _target_typed(self, change) -> None:
        if not self._syncing:
            self.session.data_target = change["new"].strip() or None

    def _max_typed(self, change) -> None:
        if not self._syncing:
            self.session.max_per_class = change["new"] or None   # 0 in the box means "all"

    def _settings_changed(self, change) -> None:
        self._show_settings()

    def _show_settings(self) -> None:
        s = self.session
        self._syncing = True
        try:
            if s.dataset in [value for _, value in self.dataset_select.options]:
                self.dataset_select.value = s.dataset  # else: a kind this panel does not list; the card says
            self.path.value = s.data_path or ""
            self.test_path.value = s.data_test_path or ""
            self.target.value = s.data_target or ""
            self.max_per_class.value = s.max_per_class or 0
        finally:
            self._syncing = False
        self.dataset_info.value = _dataset_card(s.dataset)
        self.path.layout.display = "" if s.dataset in USER_KINDS else "none"
        # Own data only (a built-in set holds out its own test samples); tables and texts keep their fixed split.
        own_pictures = s.dataset in USER_KINDS and dataset_modality(s.dataset) in PICTURE_MODALITIES
        self.test_path.layout.display = "" if own_pictures or s.data_test_path else "none"
        has_class_column = dataset_modality(s.dataset) == "tabular" or s.dataset == "text_csv"
        self.target.layout.display = "" if has_class_column else "none"
        self.target.placeholder = {"table_csv": "the column that holds the class",
                                   "text_csv": "the column that holds the class (empty: label)"}.get(
            s.dataset, "empty: this table's own class column")
        self.path.placeholder = _PATH_HINTS.get(s.dataset, "")
        if self._checked_key is not None and self._checked_key != self._data_key():
            self.stale.value = "<i>The data settings changed since this check: press Check data again.</i>"
        else:
            self.stale.value = ""

    def _data_key(self) -> tuple:
        return tuple(getattr(self.session, name) for name in _DATA_TRAITS)

    # --- upload --------------------------------------------------------------------------------

    def _uploaded(self, change) -> None:
        files = change["new"]
        if not files or self._putting_back:
            return  # the panel cleared it, or is putting the handled upload's name back (below)
        entry = files[0]
        name = str(entry.get("name") or "upload.zip")
        content = entry.get("content")
        data = bytes(content) if content is not None else b""
        size = entry.get("size")
        self.upload.value = ()  # frees the bytes, and lets the same file be uploaded again
        try:
            path = save_upload(name, data, declared_size=int(size) if size is not None else None)
        except DataError as error:
            self.upload_message.value = alert_box(f"<b>Upload not used.</b> {html.escape(str(error))}")
            return
        # The browser draws the button as "Upload zip (<files in value>)": an empty value read "(0)" right after
        # a good upload, as if nothing had arrived. Keep the file's name, without its bytes, so it reads "(1)".
        self._putting_back = True
        try:
            self.upload.value = ({**entry, "content": memoryview(b"")},)
        finally:
            self._putting_back = False
        # A zip of sounds when sounds were chosen, else a zip of images.
        kind = "wav_zip" if self.session.dataset in ("wav_folder", "wav_zip") else "zip"
        with self.session.hold_trait_notifications():
            self.session.dataset, self.session.data_path = kind, str(path)
        self.upload_message.value = ok_box(
            f"Uploaded <b>{html.escape(name)}</b> ({len(data) / 2**20:.1f} MB), saved as "
            f"<code>{html.escape(str(path))}</code>. Press <b>Check data</b> to validate it.")

    # --- check ---------------------------------------------------------------------------------

    def check(self, button=None) -> None:
        """Validate the Session's data in the Runner's worker thread (what the Check data button does)."""
        try:
            cfg = self.session.to_config()
        except ConfigError as error:
            self.error.value = alert_box(f"<b>Cannot check yet:</b> {html.escape(str(error))}")
            return
        self._error_report = None
        key = self._data_key()

        rows = ROW_PREPARERS.get(dataset_modality(cfg.data.dataset))  # tables and texts: rows, not pictures
        prepare = rows or prepare_data

        def work(stop_event):
            try:
                return prepare(cfg.data, cfg.seed, sink=self.runner.on_event, stop_event=stop_event)
            except DataError as error:
                self._error_report = error.report  # the Runner keeps only the message
                raise

        def done(result):
            self._checked_key = key
            # Rows of values or texts are not pictures: keep them here, not as the previews' data.
            self.checked_rows, prepared = (result, result.prepared) if rows else (None, result)
            self.session.prepared = None if rows else prepared
            self.session.data_report = prepared.report   # _show_report draws it
            self.session.message = prepared.report.summary().splitlines()[0]

        # Reset before the job starts, not after: under load the worker can finish (or fail) before submit()
        # returns, and a reset after it would wipe that check's error or result.
        previous = self._checked_key, self.stale.value
        self.error.value = ""
        self.progress.bar_style = ""
        # The last check no longer describes what is shown: say nothing about it until this one ends.
        self._checked_key = None
        self.stale.value = ""
        try:
            self.runner.submit(JOB, work, done)
        except BusyError as error:  # nothing started: the last check still stands
            self._checked_key, self.stale.value = previous
            self.error.value = alert_box(html.escape(str(error)))

    def _progress_changed(self, change) -> None:
        if self.session.job != JOB:
            return
        progress = change["new"] or {}
        total = max(int(progress.get("total") or 0), 1)
        done = min(int(progress.get("done") or 0), total)
        with self.progress.hold_sync():
            self.progress.max, self.progress.value = total, done
        task = progress.get("task") or "starting"
        self.progress_label.value = f"{html.escape(str(task))}: {done:,} / {total:,}" if progress else "starting"

    def _status_changed(self, change) -> None:
        if self.session.job != JOB:
            return
        status = change["new"]
        if status == "finished":
            self.progress.value = self.progress.max
            self.progress.bar_style = "success"
            self.progress_label.value = "done"
        elif status == "failed":
            self.progress.bar_style = "danger"
            self.progress_label.value = "failed"
            self._show_error()
        elif status == "cancelled":
            self.progress_label.value = "stopped"

    def _busy_changed(self, change) -> None:
        self.check_button.disabled = bool(change["new"])

    # --- report --------------------------------------------------------------------------------

    def _show_error(self) -> None:
        message = self.session.last_error.removeprefix("DataError: ")
        report = self._error_report
        parts = [f"<b>The data cannot be used.</b> {html.escape(message)}"]
        if report is not None:
            details = summary_for_people(report, drop=message)
            if details:
                parts.append(f"<pre style='white-space:pre-wrap'>{html.escape(details)}</pre>")
        self.error.value = alert_box("".join(parts))
        self.problems.value = problems_html(report, self.MAX_PROBLEM_ROWS) if report is not None else ""
        self.summary.value = ""
        self.counts_figure, self.counts_box.children = None, ()
        self.sample_rows.children = ()

    def _show_report(self, change=None) -> None:
        report = self.session.data_report
        if report is None:
            return
        self.error.value = ""
        self.summary.value = f"<pre style='white-space:pre-wrap'>{html.escape(summary_for_people(report))}</pre>"
        # A new figure per report, data in the constructor: a report can arrive before the panel is shown,
        # and under Voila changes to a FigureWidget made before it is displayed never reach the browser.
        names = list(report.class_counts)
        counts = [report.class_counts[n] for n in names]
        self.counts_figure = figure_widget(
            data=[go.Bar(x=names, y=counts, text=counts, textposition="auto", marker_color="#1565c0",
                         hovertemplate="%{x}: %{y} samples<extra></extra>")],
            layout=go.Layout(title=go.layout.Title(text="Samples per class (after max per class)"), height=280,
                             margin=dict(l=50, r=20, t=50, b=70), xaxis=dict(type="category"),
                             yaxis=dict(title="samples")))
        self.counts_box.children = (self.counts_figure,)
        self.problems.value = problems_html(report, self.MAX_PROBLEM_ROWS)
        self.sample_rows.children = self._sample_widgets()
        self._show_settings()  # refreshes the "settings changed since this check" note

    def _sample_widgets(self) -> tuple[w.Widget, ...]:
        checked = self.checked_rows
        if checked is not None and self.session.data_report is checked.prepared.report:
            view = text_samples if hasattr(checked, "texts") else table_samples
            return (view(checked, self.SAMPLES_PER_CLASS, self.session.seed),)
        prepared = self.session.prepared
        if prepared is None or prepared.table.modality not in PICTURE_MODALITIES:
            return ()
        return picture_samples(prepared.table, self.SAMPLES_PER_CLASS, self.session.seed, self.THUMB)



def _dataset_options() -> list[tuple[str, str]]:
    options = []
    names = [name for modality in SHOWN_MODALITIES for name in list_datasets(modality=modality, include_user=False)]
    for name in names:
        spec = get_dataset(name)
        tag = "real" if spec.origin == "real" else "synthetic stand-in"
        options.append((f"{name} ({spec.modality}, {tag})", name))
    return options + [(label, kind) for kind, label in USER_KINDS.items()]


def _dataset_card(name: str) -> str:
    try:
        spec = get_dataset(name)
    except DataError as error:
        return alert_box(html.escape(str(error)))
    rows = [("About", html.escape(spec.description)), ("Licence", html.escape(spec.licence)),
            ("Origin", _ORIGIN_WORDS.get(spec.origin, html.escape(spec.origin)))]
    if spec.homepage:
        rows.append(("Home page", html.escape(spec.homepage)))
    cells = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='lepton-table'>{cells}</table>"
