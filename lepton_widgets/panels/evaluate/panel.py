"""Evaluate panel: metrics of the current run, its confusion matrix, and a gallery of one clicked cell.

The panel follows ``session.current_run`` and ``session.evaluation`` and always reads the run's own
``evaluation.json`` and ``predictions.csv`` from the run store, so a reopened run shows its own numbers.
Clicking a confusion-matrix cell sets ``session.selected_cell = (true, predicted)``; the gallery follows
that trait and shows up to 12 examples of the cell (mistakes off the diagonal, correct ones on it), each
with its Grad-CAM overlay, file reference and confidence. :meth:`EvaluatePanel.select_cell` is the same
code path without a browser.

The Robustness section measures the run's test accuracy under an adversarial attack (FGSM or PGD) at
several epsilons (``core/tasks/image/adversarial.py``) in the Runner's worker thread, and plots accuracy against
epsilon; an adversarially trained run also shows the FGSM curve stored when it was trained.

The heatmap is a new ``FigureWidget`` per run, built complete in its constructor and swapped into the
panel: under Voilà, changes made to a FigureWidget before it is first displayed never reach the browser,
and a panel may well be given a run before it is shown.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> panel = EvaluatePanel(session, Runner(session, runs_dir="runs"))
    >>> session.current_run = "20250101-120000-tiny-abc123"        # doctest: +SKIP
    >>> panel.select_cell(3, 5); len(panel.gallery_items)           # doctest: +SKIP
    4
"""

from __future__ import annotations

import html
from typing import Optional

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go

from lepton_widgets.core.runs.store import RunRecord
from lepton_widgets.core.tasks import task_for_run, task_named
from lepton_widgets.core.tasks.image.gallery import DEFAULT_LIMIT, GalleryItem
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.glossary import words_used_here
from lepton_widgets.panels.evaluate.cells import THUMB_PX, cell_view_for
from lepton_widgets.panels.evaluate.charts import cell_from_points, confusion_figure, metrics_html
from lepton_widgets.panels.evaluate.robustness import RobustnessSection
from lepton_widgets.panels.train import status_word


class EvaluatePanel(RobustnessSection, Panel):
    """Metrics, confusion matrix and cell gallery of ``session.current_run``.

    Key widgets: ``metrics`` (HTML), ``confusion`` (the current heatmap FigureWidget, lepton-confusion,
    None until a finished run is shown), ``gallery`` (lepton-gallery: one box per example, each holding the
    image, its Grad-CAM overlay and a caption). ``gallery_items`` holds the :class:`GalleryItem` data shown.
    Robustness: ``robustness_method``, ``robustness_epsilons`` (comma-separated, pixels in [0, 1]),
    ``robustness_samples``, ``robustness_button`` (lepton-robustness-button), ``robustness_status`` and
    ``robustness_plot`` (the accuracy-vs-epsilon FigureWidget inside lepton-robustness, or None);
    ``robustness_result`` is the last computed :class:`~lepton_widgets.core.tasks.image.adversarial.RobustnessCurve`.

    Example:
        >>> from lepton_widgets.state import Runner, Session
        >>> session = Session()
        >>> panel = EvaluatePanel(session, Runner(session))
        >>> panel.note.value
        'No run yet: train one, or reopen one in the Runs panel.'
    """

    title = N_("Evaluate")

    def build(self) -> w.Widget:
        self.record: Optional[RunRecord] = None
        self.task = task_named(None)  # the shown run's task: it gives a cell's examples and the attacks
        self.evaluation: dict = {}
        self.confusion: Optional[go.FigureWidget] = None
        self.gallery_items: list[GalleryItem] = []
        self._shown: Optional[tuple] = None

        self.note = w.HTML()
        self.metrics = w.HTML()
        self.confusion_box = w.Box()
        self.confusion_box.add_class("lepton-confusion")
        self.gallery_title = w.HTML()
        self.gallery = w.Box(layout=w.Layout(display="flex", flex_flow="row wrap"))
        self.gallery.add_class("lepton-gallery")
        robustness = self._build_robustness()

        # status too: a failed run bumps neither evaluation nor runs_version, and must stop showing "in progress".
        self.session.observe(self._on_run, names=["current_run", "evaluation", "runs_version", "status"])
        self.session.observe(self._on_selected_cell, names="selected_cell")
        self.reload()
        top = w.HBox([self.confusion_box, w.Box([self.metrics], layout=w.Layout(padding="0 0 0 16px"))])
        words = words_used_here(["test_set", "accuracy", "confusion_matrix", "macro_f1", "calibration", "confidence",
                                 "grad_cam", "robustness", "adversarial"])
        return w.VBox([words, self.note, top, self.gallery_title, self.gallery, robustness])

    # --- the run --------------------------------------------------------------------------------

    def _on_run(self, _change=None) -> None:
        self.reload()

    def reload(self, force: bool = False) -> None:
        """Show the current run; does nothing when that run (in that state) is already shown."""
        run_id = self.session.current_run
        record = self._open(run_id)
        key = (run_id, record is not None and record.complete)
        if key == self._shown and not force:
            return
        self._shown = key
        self.record, self.evaluation = None, {}
        self._clear_gallery()
        if record is None:
            return self._empty(html.escape(_("No run yet: train one, or reopen one in the Runs panel."))
                               if run_id is None else html.escape(_("Run {run} was not found in {folder}.").format(
                                   run=run_id, folder=self.runner.store.root)))
        code = f"<code>{html.escape(run_id)}</code>"
        if not record.complete:
            return self._empty(_("Run {run} is in progress; its evaluation appears here when it finishes.").format(
                run=code))
        evaluation = record.evaluation
        if not evaluation:
            return self._empty(_("Run {run} is {status}: it has no evaluation.").format(
                run=code, status=html.escape(status_word(record.status))))
        self.record, self.evaluation, self.task = record, evaluation, task_for_run(record)
        self._offer_robustness(self.task)
        self._show_stored_robustness()
        self.note.value = _("Run {run}: click a cell of the matrix to see its {what}").format(
            run=code, what=html.escape(_(cell_view_for(self.task).note)))
        self.metrics.value = metrics_html(evaluation)
        self._set_confusion(confusion_figure(np.asarray(evaluation["confusion"]), evaluation["class_names"]))
        if self.session.selected_cell is not None:
            self._load_gallery(tuple(self.session.selected_cell))

    def _open(self, run_id: Optional[str]) -> Optional[RunRecord]:
        if run_id is None:
            return None
        try:
            return self.runner.store.open(run_id)
        except FileNotFoundError:
            return None

    def _empty(self, note: str) -> None:
        self.note.value = note
        self.metrics.value = ""
        self._set_confusion(None)
        self.robustness_result = None
        self._set_robustness_plot(None)
        self.robustness_status.value = ""
        self._sync_robustness_button()

    def _set_confusion(self, fig: Optional[go.FigureWidget]) -> None:
        old = self.confusion
        if fig is not None:
            fig.data[0].on_click(self._on_heatmap_click)
        self.confusion = fig
        self.confusion_box.children = [fig] if fig is not None else []
        if old is not None:
            old.close()  # its comm is no longer needed once it left the page

    # --- cells and gallery ----------------------------------------------------------------------

    def _on_heatmap_click(self, _trace, points, _state=None) -> None:
        """Plotly click on the heatmap -> the same path as :meth:`select_cell`."""
        cell = cell_from_points(points, self.evaluation.get("class_names", []))
        if cell is not None:
            self.select_cell(*cell)

    def select_cell(self, true_index: int, predicted_index: int) -> None:
        """Select a confusion-matrix cell (what a click does): sets ``session.selected_cell`` and fills
        the gallery with that cell's examples."""
        cell = (int(true_index), int(predicted_index))
        if self.session.selected_cell == cell:
            self._load_gallery(cell)  # same value: no trait change, but the gallery may need (re)loading
        else:
            self.session.selected_cell = cell

    def _on_selected_cell(self, change) -> None:
        if change["new"] is None:
            self._clear_gallery()
        else:
            self._load_gallery(tuple(change["new"]))

    def _load_gallery(self, cell: tuple[int, int]) -> None:
        if self.record is None:
            return
        names = [str(n) for n in self.evaluation["class_names"]]
        true_index, predicted_index = cell
        if not (0 <= true_index < len(names) and 0 <= predicted_index < len(names)):
            self._clear_gallery(html.escape(_("No such cell {cell} for {count} classes.").format(
                cell=cell, count=len(names))))
            return
        count = int(np.asarray(self.evaluation["confusion"])[true_index, predicted_index])
        kind = _("{count} correct") if true_index == predicted_index else _("{count} misclassified")
        heading = ("<b>" + html.escape(_("true {true}, predicted {predicted}").format(
            true=names[true_index], predicted=names[predicted_index])) + "</b>: "
            + html.escape(kind.format(count=count)))
        self.gallery_title.value = heading + (" &ndash; " + html.escape(_("loading...")) if count else "")
        view = cell_view_for(self.task)
        try:
            # At most DEFAULT_LIMIT examples: about a second, so it runs right here, not in the worker.
            examples = self.task.cell_examples(self.record, true_index, predicted_index, limit=DEFAULT_LIMIT,
                                               display_size=THUMB_PX) if count else None
        except Exception as error:  # a moved image file, an edited CSV or a deleted cache must not break the panel
            self._clear_gallery(f"{heading}: {html.escape(_(view.unreadable))} "
                                f"({type(error).__name__}: {html.escape(str(error))})")
            return
        view.show(self, examples, heading, count)  # None: an empty cell

    def _clear_gallery(self, title: str = "") -> None:
        self.gallery_items = []
        self.gallery.children = []
        self.gallery_title.value = title
