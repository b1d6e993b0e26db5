"""Dataset panel: choose the data, check it, and see what the check found.

Data comes from the registry (built-in sets, with description, licence and whether they are real or a
substitute), from a folder or CSV on this machine (a path), or from an uploaded zip of class folders.
The upload (``upload.py``) is written under ``cache_dir("uploads")`` and the Session points at it.

"Check data" loads and validates the data in the Runner's worker thread, with the progress bar following
``session.progress``; the report shows the summary, samples per class (bar chart), the files that were
skipped, converted or duplicated (table), and a few thumbnails per class. The report is drawn whenever
``session.data_report`` changes, whoever set it. The check goes through ``runner.submit`` rather than
``runner.prepare_data()`` only to keep a ``DataError``'s partial report, so that a failed check still
lists which files were unusable and why.

The check is the data's task's (``task.prepare``); how its settings and samples show is the task's view
(``views.py``, the panel side of the task registry). The settings form is in ``settings.py`` (the
dataset list and cards in ``choices.py``), the check's progress in ``progress.py``.

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

from lepton_widgets.config import ConfigError
from lepton_widgets.core.data import DataError, DataReport
from lepton_widgets.core.tasks import task_for_dataset, task_named
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.dataset.progress import JobProgress
from lepton_widgets.panels.dataset.settings import DATA_TRAITS, DataSettings
from lepton_widgets.panels.dataset.report import (EXAMPLE_WORDS, counts_figure, failure_html, problems_html,
                                                  small_data_advice, summary_for_people)
from lepton_widgets.panels.dataset.upload import UploadView
from lepton_widgets.panels.dataset.views import data_view
from lepton_widgets.panels.glossary import term, words_used_here
from lepton_widgets.panels.style import alert_box, caution_box
from lepton_widgets.state.runner import BusyError

JOB = "prepare data"
_STYLE = {"description_width": "130px"}
#: The technical words this step uses (the "words used here" line).
WORDS = ("validation", "test_set", "class_weight")


class DatasetPanel(Panel):
    """Dataset choice, upload, "Check data" and the validation report, bound to the Session's data traits.

    Example:
        >>> from lepton_widgets.state import Session
        >>> panel = DatasetPanel(Session(dataset="digits"))
        >>> panel.dataset_select.value
        'digits'
        >>> panel                                    # in a notebook cell  # doctest: +SKIP
    """

    title = N_("Data")
    SAMPLES_PER_CLASS = 4
    MAX_PROBLEM_ROWS = 200
    THUMB = 64

    def build(self) -> w.Widget:
        self._error_report: Optional[DataReport] = None
        self._checked_key: Optional[tuple] = None
        # What the last check returned (task.prepare): PreparedData, or a table's or texts' own checked data.
        self.checked, self._checked_view = None, None
        self.settings = form = DataSettings(self.session, _STYLE)
        # the form's widgets, under the names the panel has always had
        self.dataset_select, self.dataset_info, self.path = form.dataset_select, form.dataset_info, form.path
        self.test_path, self.target, self.max_per_class = form.test_path, form.target, form.max_per_class
        self.val_fraction, self.test_fraction = form.val_fraction, form.test_fraction
        self.uploads = UploadView(self.session)
        self.upload, self.upload_limit, self.upload_message = self.uploads.upload, self.uploads.limit, \
            self.uploads.message
        self.check_button = w.Button(description=_("Check data"), button_style="primary",
                                     tooltip=_("load the data and check it (in the background)"))
        self.job_progress = JobProgress(self.session, JOB, _STYLE, on_failed=self._show_error)
        self.progress, self.progress_label = self.job_progress.bar, self.job_progress.label
        self.stale = w.HTML()
        self.error = w.HTML()
        self.summary = w.HTML()
        self.advice = w.HTML()   # too few examples, uneven classes: what is wrong and what to do
        self.counts_figure: Optional[go.FigureWidget] = None
        self.counts_box = w.Box()
        self.problems = w.HTML()
        self.sample_rows = w.VBox()
        for widget, css in ((self.check_button, "check-data"), (self.progress, "data-progress"),
                            (self.stale, "data-stale"), (self.error, "data-error"), (self.summary, "data-summary"),
                            (self.advice, "data-advice"),
                            (self.counts_box, "class-counts"), (self.problems, "data-problems"),
                            (self.sample_rows, "sample-grid")):
            widget.add_class(f"lepton-{css}")

        self.check_button.on_click(self.check)
        self.check_button.disabled = self.session.busy
        self.session.observe(self._show_stale, DATA_TRAITS)  # the form follows them itself
        self.session.observe(self._busy_changed, "busy")
        self.session.observe(self._show_report, "data_report")
        self._show_stale()
        self._show_report()
        intro = _("Choose the examples the model learns from, then press {check}: it reads every file, says which "
                  "cannot be used and why, and splits the examples into training, the {validation} and the "
                  "{test_set}.").format(check="<b>" + html.escape(_("Check data")) + "</b>",
                                         validation=term("validation"), test_set=term("test_set"))
        return w.VBox([
            w.HTML("<h3>" + html.escape(_("Data")) + f"</h3><div>{intro}</div>"), words_used_here(WORDS),
            self.settings.box,
            w.HBox([self.upload, self.upload_limit]), self.upload_message, self.settings.split,
            w.HBox([self.check_button, self.progress, self.progress_label]),
            self.stale, self.error, self.advice, self.summary, self.counts_box,
            w.HTML("<b>" + html.escape(_("Files not used as they are")) + "</b>"), self.problems,
            w.HTML("<b>" + html.escape(_("Samples per class")) + "</b>"), self.sample_rows,
        ])

    # --- settings <-> session ------------------------------------------------------------------

    def _show_stale(self, change=None) -> None:
        """Say so when the settings changed since the check shown."""
        if self._checked_key is not None and self._checked_key != self._data_key():
            self.stale.value = "<i>" + html.escape(_("The data settings changed since this check: press Check data "
                                                     "again.")) + "</i>"
        else:
            self.stale.value = ""

    def _data_key(self) -> tuple:
        return tuple(getattr(self.session, name) for name in DATA_TRAITS)

    # --- check ---------------------------------------------------------------------------------

    def check(self, button=None) -> None:
        """Validate the Session's data in the Runner's worker thread (what the Check data button does)."""
        try:
            cfg = self.session.to_config()
        except ConfigError as error:
            self.error.value = alert_box("<b>" + html.escape(_("Cannot check yet:")) + f"</b> {html.escape(str(error))}")
            return
        self._error_report = None
        key = self._data_key()

        task = task_for_dataset(cfg.data.dataset)
        view = data_view(task)

        def work(job):
            try:
                return task.prepare(cfg.data, cfg.seed, job)
            except DataError as error:
                self._error_report = error.report  # the Runner keeps only the message
                raise

        def done(result):
            self._checked_key = key
            # Rows of values or texts are not pictures: keep them here, not as the previews' data.
            self.checked, self._checked_view, prepared = result, view, view.prepared(result)
            self.session.prepared = prepared if view.previews else None
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

    def _busy_changed(self, change) -> None:
        self.check_button.disabled = bool(change["new"])

    # --- report --------------------------------------------------------------------------------

    def _show_error(self) -> None:
        report = self._error_report
        self.error.value = failure_html(self.session.last_error.removeprefix("DataError: "), report,
                                        self.session.min_class_size)
        self.advice.value = ""
        self.problems.value = problems_html(report, self.MAX_PROBLEM_ROWS) if report is not None else ""
        self.summary.value = ""
        self.counts_figure, self.counts_box.children = None, ()
        self.sample_rows.children = ()

    def _show_report(self, change=None) -> None:
        report = self.session.data_report
        if report is None:
            return
        self.error.value = ""
        summary = summary_for_people(report, min_class_size=self.session.min_class_size)
        self.summary.value = f"<pre style='white-space:pre-wrap'>{html.escape(summary)}</pre>"
        self.advice.value = self._advice_html(report)
        self.counts_figure = counts_figure(report)  # a new figure per report (see report.py)
        self.counts_box.children = (self.counts_figure,)
        self.problems.value = problems_html(report, self.MAX_PROBLEM_ROWS)
        self.sample_rows.children = self._sample_widgets()
        self._show_stale()

    def _advice_html(self, report: DataReport) -> str:
        """Classes with too few examples, or very uneven ones, in plain words (a caution box; "" when fine)."""
        try:
            kind = task_for_dataset(self.session.dataset).name
        except Exception:  # noqa: BLE001  (an unknown name: the card says so; call them examples)
            kind = ""
        advice = small_data_advice(report.class_counts, EXAMPLE_WORDS.get(kind, N_("examples")),
                                   cap=self.session.max_per_class)
        if not advice:
            return ""
        items = "".join(f"<li>{html.escape(line)}</li>" for line in advice)
        return caution_box("<b>" + html.escape(_("Before you train")) + f"</b><ul style='margin:4px 0'>{items}</ul>")

    def _sample_widgets(self) -> tuple[w.Widget, ...]:
        """The samples of the report shown: this panel's last check, else data checked elsewhere
        (``runner.prepare_data``: pictures or sounds, in ``session.prepared``)."""
        checked, view = self.checked, self._checked_view
        if checked is None or view.prepared(checked).report is not self.session.data_report:
            checked = self.session.prepared
            if checked is None:
                return ()
            view = data_view(task_named(checked.table.modality))
            if not view.previews:
                return ()
        return view.samples(checked, self.SAMPLES_PER_CLASS, self.session.seed, self.THUMB)
