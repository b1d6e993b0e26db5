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

from lepton_widgets.core.tasks.image.gallery import DEFAULT_LIMIT, GalleryItem, cell_gallery
from lepton_widgets.core.runs.store import RunRecord
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.evaluate.cells import THUMB_PX, row_lister, rows_view, thumbnail
from lepton_widgets.panels.evaluate.charts import cell_from_points, confusion_figure, metrics_html, robustness_figure
from lepton_widgets.state.runner import BusyError


class EvaluatePanel(Panel):
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

    title = "Evaluate"

    def build(self) -> w.Widget:
        self.record: Optional[RunRecord] = None
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
        return w.VBox([self.note, top, self.gallery_title, self.gallery, robustness])

    def _build_robustness(self) -> w.Widget:
        """Controls and plot of the Robustness section (before :meth:`reload`, which fills them)."""
        style, layout = {"description_width": "90px"}, w.Layout(width="330px")
        self.robustness_result = None
        self.robustness_plot: Optional[go.FigureWidget] = None
        self.robustness_method = w.Dropdown(options=[("FGSM", "fgsm"), ("PGD (10 steps)", "pgd")], value="fgsm",
                                            description="Attack", style=style, layout=layout)
        self.robustness_epsilons = w.Text(value="0, 0.005, 0.01, 0.02, 0.03", description="Epsilons",
                                          tooltip="L-inf radii on pixels in [0, 1], comma-separated",
                                          style=style, layout=layout)
        self.robustness_samples = w.BoundedIntText(value=500, min=1, max=10_000_000, description="Max images",
                                                   style=style, layout=layout)
        self.robustness_button = w.Button(description="Compute robustness", button_style="info",
                                          tooltip="Attack the test split at each epsilon (in the background)")
        self.robustness_button.add_class("lepton-robustness-button")
        self.robustness_button.on_click(self.compute_robustness)
        self.robustness_status = w.HTML()
        self.robustness_box = w.Box()
        self.robustness_box.add_class("lepton-robustness")
        self.session.observe(self._sync_robustness_button, names="busy")
        controls = w.VBox([self.robustness_method, self.robustness_epsilons, self.robustness_samples,
                           self.robustness_button, self.robustness_status])
        self.robustness_panel = w.VBox([w.HTML("<h4>Robustness (adversarial attacks)</h4>"),
                                        w.HBox([controls, self.robustness_box])])
        return self.robustness_panel

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
            return self._empty("No run yet: train one, or reopen one in the Runs panel." if run_id is None
                               else f"Run {html.escape(run_id)} was not found in {self.runner.store.root}.")
        if not record.complete:
            return self._empty(f"Run <code>{html.escape(run_id)}</code> is in progress; its evaluation "
                               "appears here when it finishes.")
        evaluation = record.evaluation
        if not evaluation:
            return self._empty(f"Run <code>{html.escape(run_id)}</code> is {html.escape(record.status)}: "
                               "it has no evaluation.")
        self.record, self.evaluation = record, evaluation
        self._show_stored_robustness()
        rows = row_lister(record)
        # Attacks and Grad-CAM work on pixels: table and text runs have neither (their cells list rows instead).
        self.robustness_panel.layout.display = "none" if rows else ""
        self.note.value = (f"Run <code>{html.escape(run_id)}</code>: click a cell of the matrix to see its "
                           + ("test rows with their values." if rows
                              else "examples with Grad-CAM (where the network looked)."))
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

    # --- robustness ----------------------------------------------------------------------------

    def _stored_curve(self) -> Optional[dict]:
        if self.record is None:
            return None
        from lepton_widgets.core.tasks.image.adversarial import stored_robustness  # deferred: imports Keras

        try:
            curve = stored_robustness(self.record)
        except (ValueError, KeyError, TypeError) as error:  # a damaged file must not break the panel
            self.robustness_status.value = f"robustness.json unreadable: {html.escape(str(error))}"
            return None
        return curve.to_dict() if curve is not None else None

    def _show_stored_robustness(self) -> None:
        self.robustness_result = None
        self.robustness_status.value = ""
        stored = self._stored_curve()
        self._set_robustness_plot(robustness_figure([("stored at training", stored)]) if stored else None)
        self._sync_robustness_button()

    def _set_robustness_plot(self, fig: Optional[go.FigureWidget]) -> None:
        old = self.robustness_plot
        self.robustness_plot = fig
        self.robustness_box.children = [fig] if fig is not None else []
        if old is not None:
            old.close()

    def _sync_robustness_button(self, _change=None) -> None:
        self.robustness_button.disabled = self.record is None or self.session.busy

    def compute_robustness(self, _button=None) -> None:
        """What the button does: attack the current run's test split at each epsilon in the Runner's worker
        thread, then plot accuracy against epsilon. Bad epsilons or a busy runner are reported in
        ``robustness_status``; nothing starts."""
        record = self.record
        if record is None:
            self.robustness_status.value = "Train a run, or reopen a finished one, first."
            return
        from lepton_widgets.core.tasks.image.adversarial import parse_epsilons  # deferred: imports Keras

        try:
            epsilons = parse_epsilons(self.robustness_epsilons.value)
        except ValueError as error:
            self.robustness_status.value = f"<span style='color:#b00020'>{html.escape(str(error))}</span>"
            return
        method, max_samples = self.robustness_method.value, int(self.robustness_samples.value)

        def work(stop_event):
            from lepton_widgets.core.tasks.image.adversarial import robustness_curve, run_test_table
            from lepton_widgets.core.tasks.image.gallery import run_model

            try:
                return robustness_curve(run_model(record), run_test_table(record), epsilons, method,
                                        max_samples=max_samples, seed=record.config.seed,
                                        sink=self.runner.on_event, stop_event=stop_event, run_id=record.run_id)
            except Exception as error:
                self.robustness_status.value = (f"<span style='color:#b00020'>failed: {type(error).__name__}: "
                                                f"{html.escape(str(error))}</span>")
                raise

        def done(curve):
            summary = ", ".join(f"{e:g}: {a:.3f}" for e, a in zip(curve.epsilons, curve.accuracy))
            self.session.message = f"robustness ({method}) on {curve.n} test images: {summary}"
            if self.record is None or self.record.path != record.path:
                return  # another run is shown now; this curve belongs to the old one
            self.robustness_result = curve
            curves = [("computed", curve.to_dict())]
            stored = self._stored_curve()
            if stored is not None:
                curves.append(("stored at training", stored))
            self._set_robustness_plot(robustness_figure(curves))
            self.robustness_status.value = f"accuracy by epsilon: {html.escape(summary)}"

        try:
            self.runner.submit("robustness", work, done)
        except BusyError as error:
            self.robustness_status.value = html.escape(str(error))
            return
        self.robustness_status.value = f"attacking up to {max_samples} test images with {method.upper()}..."

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
            self._clear_gallery(f"No such cell {cell} for {len(names)} classes.")
            return
        count = int(np.asarray(self.evaluation["confusion"])[true_index, predicted_index])
        kind = "correct" if true_index == predicted_index else "misclassified"
        heading = (f"<b>true {html.escape(names[true_index])}, predicted {html.escape(names[predicted_index])}"
                   f"</b>: {count} {kind}")
        self.gallery_title.value = heading + (" &ndash; loading..." if count else "")
        rows = row_lister(self.record)
        if rows is not None:
            return self._show_rows(rows, heading, cell, count)
        try:
            # At most DEFAULT_LIMIT thumbnails: about a second, so it runs right here, not in the worker.
            items = cell_gallery(self.record, true_index, predicted_index, limit=DEFAULT_LIMIT,
                                 display_size=THUMB_PX) if count else []
        except Exception as error:  # a moved image file or a deleted cache must not break the panel
            self._clear_gallery(f"{heading}: could not load the images ({type(error).__name__}: "
                                f"{html.escape(str(error))})")
            return
        self.gallery_items = items
        more = f", showing the {len(items)} most confident" if count > len(items) else ""
        self.gallery_title.value = heading + more + (". Right image: Grad-CAM for the predicted class."
                                                     if items else ".")
        self.gallery.children = [thumbnail(item) for item in items]

    def _show_rows(self, lister, heading: str, cell: tuple[int, int], count: int) -> None:
        """A table or text run's cell: its test rows (most confident first) with the values or text the
        model read."""
        try:
            rows = lister(self.record, *cell, limit=DEFAULT_LIMIT) if count else None
        except Exception as error:  # a moved or edited CSV must not break the panel
            self._clear_gallery(f"{heading}: could not read the rows ({type(error).__name__}: "
                                f"{html.escape(str(error))})")
            return
        self.gallery_items = []
        self.gallery_title.value = heading + (f", showing the {len(rows)} most confident"
                                              if rows is not None and count > len(rows) else "")
        if rows is None:
            self.gallery.children = []
            return
        self.gallery.children = [rows_view(rows)]

    def _clear_gallery(self, title: str = "") -> None:
        self.gallery_items = []
        self.gallery.children = []
        self.gallery_title.value = title
