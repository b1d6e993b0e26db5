"""The Evaluate step's Robustness section: accuracy on the test split under an attack, at several strengths.

The run's task computes the curve (:meth:`~lepton_widgets.core.tasks.base.Task.robustness_curve`: FGSM or PGD on
pixels for pictures and sounds, word substitution by GloVe neighbours for texts); :data:`ATTACKS`, keyed by the
task's family, holds what the controls offer for it. A task without the step (tables) hides the section.

Example:
    >>> ATTACKS["text"].levels
    'Rates'
    >>> ATTACKS["text"].level
    'rate'
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Callable, Optional

import ipywidgets as w
import plotly.graph_objects as go

from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.evaluate.charts import PIXEL_AXIS, robustness_figure
from lepton_widgets.panels.glossary import term
from lepton_widgets.state.runner import BusyError


def _epsilons(text):
    from lepton_widgets.core.tasks.image.adversarial import parse_epsilons  # deferred: imports Keras

    return parse_epsilons(text)


def _rates(text):
    from lepton_widgets.core.tasks.text.robustness import parse_rates

    return parse_rates(text)


@dataclass(frozen=True)
class Attacks:
    """What the controls offer for one task family: attacks, the strengths' name, default and meaning. The words
    are catalogue strings marked with ``N_``: the panel translates them where it shows them."""

    methods: list
    levels: str
    level: str
    default: str
    tooltip: str
    samples: str
    items: str
    axis: str
    parse: Callable


#: Task family -> its attacks (the panel side of the registry; the task computes the curve).
ATTACKS = {
    "image": Attacks([("FGSM", "fgsm"), (N_("PGD (10 steps)"), "pgd")], N_("Epsilons"), N_("epsilon"),
                     "0, 0.005, 0.01, 0.02, 0.03",
                     N_("How far each pixel may be pushed (pixels in [0, 1]), several values separated by commas"),
                     N_("Max images"), N_("images"), PIXEL_AXIS, _epsilons),
    "text": Attacks([(N_("Random neighbours"), "random"), (N_("Greedy (strongest)"), "greedy")], N_("Rates"),
                    N_("rate"), "0, 0.1, 0.2, 0.4",
                    N_("share of each text's words swapped for a similar word, comma-separated"),
                    N_("Max texts"), N_("texts"), N_("share of words replaced"), _rates),
}


def _methods(attacks: Attacks) -> list[tuple[str, str]]:
    """The attack dropdown's options: labels in the current language, values for the engine."""
    return [(_(label), value) for label, value in attacks.methods]


class RobustnessSection:
    """Controls, plot and job of the Robustness section; mixed into the Evaluate panel (``self.record``,
    ``self.task``, ``self.session``, ``self.runner``)."""

    def _build_robustness(self) -> w.Widget:
        style, layout = {"description_width": "90px"}, w.Layout(width="330px")
        self.robustness_result = None
        self.robustness_plot: Optional[go.FigureWidget] = None
        self.attacks = ATTACKS["image"]
        self.robustness_method = w.Dropdown(options=_methods(self.attacks), value="fgsm", description=_("Attack"),
                                            style=style, layout=layout)
        self.robustness_epsilons = w.Text(value=self.attacks.default, description=_(self.attacks.levels),
                                          tooltip=_(self.attacks.tooltip), style=style, layout=layout)
        self.robustness_samples = w.BoundedIntText(value=500, min=1, max=10_000_000,
                                                   description=_(self.attacks.samples), style=style, layout=layout)
        self.robustness_button = w.Button(description=_("Compute robustness"), button_style="info",
                                          tooltip=_("Attack the test set at each strength (in the background)"))
        self.robustness_button.add_class("lepton-robustness-button")
        self.robustness_button.on_click(self.compute_robustness)
        self.robustness_status = w.HTML()
        self.robustness_box = w.Box()
        self.robustness_box.add_class("lepton-robustness")
        self.session.observe(self._sync_robustness_button, names="busy")
        controls = w.VBox([self.robustness_method, self.robustness_epsilons, self.robustness_samples,
                           self.robustness_button, self.robustness_status])
        heading = _("{robustness} (adversarial attacks)").format(robustness=term("robustness", _("Robustness")))
        explain = _("How much accuracy drops when each test input is changed on purpose, a little at first, then more.")
        self.robustness_panel = w.VBox([w.HTML(f"<h4>{heading}</h4><div style='font-size:12px;color:#555'>"
                                               f"{html.escape(explain)}</div>"),
                                        w.HBox([controls, self.robustness_box])])
        return self.robustness_panel

    def _offer_robustness(self, task) -> None:
        """Show the section with ``task``'s attacks, or hide it where the task has none."""
        attacks = ATTACKS.get(task.family) if task.supports("robustness") else None
        self.robustness_panel.layout.display = "" if attacks else "none"
        if attacks is None or attacks is self.attacks:
            return
        self.attacks = attacks
        self.robustness_method.options, self.robustness_method.value = _methods(attacks), attacks.methods[0][1]
        self.robustness_epsilons.description, self.robustness_epsilons.value = _(attacks.levels), attacks.default
        self.robustness_epsilons.tooltip, self.robustness_samples.description = _(attacks.tooltip), _(attacks.samples)

    def _stored_curve(self) -> Optional[dict]:
        if self.record is None:
            return None
        from lepton_widgets.core.tasks.image.adversarial import stored_robustness  # deferred: imports Keras

        try:
            curve = stored_robustness(self.record)
        except (ValueError, KeyError, TypeError) as error:  # a damaged file must not break the panel
            self.robustness_status.value = html.escape(_("robustness.json unreadable: {error}").format(error=error))
            return None
        return curve.to_dict() if curve is not None else None

    def _show_stored_robustness(self) -> None:
        self.robustness_result = None
        self.robustness_status.value = ""
        stored = self._stored_curve()
        self._set_robustness_plot(robustness_figure([("stored at training", stored)], self.attacks.axis)
                                  if stored else None)
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
        """What the button does: attack the current run's test split at each strength in the Runner's worker
        thread, then plot accuracy against strength. Bad strengths or a busy runner are reported in
        ``robustness_status``; nothing starts."""
        record, task, attacks = self.record, self.task, self.attacks
        if record is None:
            self.robustness_status.value = html.escape(_("Train a run, or reopen a finished one, first."))
            return
        try:
            levels = attacks.parse(self.robustness_epsilons.value)
        except ValueError as error:
            self.robustness_status.value = f"<span style='color:#b00020'>{html.escape(str(error))}</span>"
            return
        method, max_samples = self.robustness_method.value, int(self.robustness_samples.value)

        def work(job):
            try:
                return task.robustness_curve(record, method=method, levels=levels, max_samples=max_samples,
                                             job=job.child(run_id=record.run_id))
            except Exception as error:
                self.robustness_status.value = ("<span style='color:#b00020'>" + html.escape(
                    _("failed: {error}").format(error=f"{type(error).__name__}: {error}")) + "</span>")
                raise

        def done(curve):
            summary = ", ".join(f"{e:g}: {a:.3f}" for e, a in zip(curve.epsilons, curve.accuracy))
            self.session.message = _("robustness ({method}) on {count} test {items}: {summary}").format(
                method=method, count=curve.n, items=_(attacks.items), summary=summary)
            if self.record is None or self.record.path != record.path:
                return  # another run is shown now; this curve belongs to the old one
            self.robustness_result = curve
            curves = [("computed", curve.to_dict())]
            stored = self._stored_curve()
            if stored is not None:
                curves.append(("stored at training", stored))
            self._set_robustness_plot(robustness_figure(curves, attacks.axis))
            self.robustness_status.value = html.escape(_("accuracy by {level}: {summary}").format(
                level=_(attacks.level), summary=summary))

        try:
            self.runner.submit("robustness", work, done)
        except BusyError as error:
            self.robustness_status.value = html.escape(str(error))
            return
        self.robustness_status.value = html.escape(_("attacking up to {count} test {items} with {method}...").format(
            count=max_samples, items=_(attacks.items), method=method.upper()))
