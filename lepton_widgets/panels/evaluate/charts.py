"""What the Evaluate step draws from a run's evaluation: the confusion heatmap, the robustness curve and the
metrics table. Figures are built complete in their constructors: under Voila, changes to a FigureWidget made
before it is displayed never reach the browser.

Example:
    >>> "macro F1" in metrics_html({"n": 40, "accuracy": 0.9, "macro_f1": 0.88, "per_class": []})
    True
"""

from __future__ import annotations

import html
from typing import Optional

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lepton_widgets.core.evaluation import SMALL_TEST_SET, wilson_interval
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.figures import figure_widget
from lepton_widgets.panels.glossary import term

#: (trace name suffix, dash) of the computed and the stored robustness curve.
_ROBUSTNESS_STYLES = {"computed": "solid", "stored at training": "dash"}
#: The curves' labels in words.
_ROBUSTNESS_LABELS = {"computed": N_("computed"), "stored at training": N_("stored at training")}
#: Headers of the per-class table.
PER_CLASS_HEADERS = {"class": N_("class"), "precision": N_("precision"), "recall": N_("recall"), "f1": N_("F1"),
                     "support": N_("test items")}


def confusion_figure(confusion: np.ndarray, class_names: list[str]) -> go.FigureWidget:
    """Counts heatmap, true class on y (top to bottom) and predicted on x, counts written in the cells."""
    names = [str(name) for name in class_names]
    counts = np.asarray(confusion, dtype=int)
    fig = go.Figure(go.Heatmap(
        z=counts.tolist(), x=names, y=names, text=counts.tolist(), texttemplate="%{text}",
        colorscale="Blues", showscale=False,
        hovertemplate=_("true {true}, predicted {predicted}: {count}").format(
            true="%{y}", predicted="%{x}", count="%{z}") + "<extra>" + _("click to see them") + "</extra>"))
    side = max(260, min(620, 60 + 34 * len(names)))
    fig.update_layout(width=side + 80, height=side, margin={"l": 70, "r": 10, "t": 30, "b": 60},
                      xaxis={"title": _("predicted class"), "type": "category",
                             "tickangle": -45 if len(names) > 6 else 0},
                      yaxis={"title": _("true class"), "type": "category", "autorange": "reversed"},
                      title={"text": _("confusion matrix (test set)"), "font": {"size": 13}})
    return figure_widget(fig)


PIXEL_AXIS = N_("attack strength ε (pixels in [0, 1]; 8/255 ≈ 0.031)")


def robustness_figure(curves: list[tuple[str, dict]], axis: str = PIXEL_AXIS) -> go.FigureWidget:
    """Accuracy against the attack's strength (``axis`` names it: pixel epsilons by default), one trace per
    ``(label, curve dict)`` (``RobustnessCurve.to_dict()``), one point per strength; built complete in its
    constructor (see module doc)."""
    pixels = axis == PIXEL_AXIS
    hover = (("&epsilon; %{x:.4g} (%{customdata:.1f}/255)" if pixels else "%{x:.4g}") + "<br>" + _("accuracy")
             + " %{y:.3f}<extra>")
    traces = []
    for label, curve in curves:
        epsilons = [float(e) for e in curve["epsilons"]]
        name = f"{curve['method'].upper()} ({_(_ROBUSTNESS_LABELS.get(label, label))}, n={curve['n']})"
        traces.append(go.Scatter(
            x=epsilons, y=[float(a) for a in curve["accuracy"]], name=name, mode="lines+markers",
            line={"dash": _ROBUSTNESS_STYLES.get(label, "solid")}, customdata=[e * 255 for e in epsilons],
            hovertemplate=hover + name + "</extra>"))
    layout = go.Layout(height=300, width=520, margin={"l": 55, "r": 10, "t": 35, "b": 45},
                       title={"text": _("accuracy under attack (test set)"), "font": {"size": 13}},
                       xaxis={"title": _(axis), "rangemode": "tozero"},
                       yaxis={"title": _("accuracy"), "range": [0, 1.02]},
                       legend={"orientation": "h", "y": -0.3}, showlegend=len(traces) > 1)
    return figure_widget(go.Figure(data=traces, layout=layout))


def metrics_html(evaluation: dict) -> str:
    """Headline metrics and the per-class precision / recall / F1 table, as HTML (technical names carry their
    plain meaning on hover)."""
    top_k = evaluation.get("top_k", 3)
    esc = html.escape
    headline = [(esc(_("test samples")), evaluation.get("n")), (term("accuracy"), evaluation.get("accuracy")),
                (esc(_("top-{k} accuracy").format(k=top_k)), evaluation.get(f"top_{top_k}_accuracy")),
                (term("macro_f1"), evaluation.get("macro_f1")), (term("calibration"), evaluation.get("ece")),
                (esc(_("log loss")), evaluation.get("log_loss"))]
    if evaluation.get("roc_auc") is not None:  # tables store it (core/tasks/tabular/run.py)
        headline.append(("ROC AUC", evaluation["roc_auc"]))
    accuracy, n = evaluation.get("accuracy"), evaluation.get("n")
    if isinstance(accuracy, float) and isinstance(n, int) and n > 0:
        low, high = wilson_interval(round(accuracy * n), n)  # older runs stored no interval: compute it
        headline.insert(2, (esc(_("accuracy, 95% interval")), f"{low:.3f} – {high:.3f}"))
    if evaluation.get("cv_folds"):  # tiny data: held-out predictions of k-fold cross-validation
        headline.insert(0, (esc(_("{folds}-fold cross-validation accuracy").format(folds=evaluation["cv_folds"])),
                            f"{evaluation['cv_accuracy_mean']:.3f} ± {evaluation['cv_accuracy_std']:.3f}"))
    cells = "".join(f"<tr><th style='text-align:left'>{name}</th><td>{_fmt(value)}</td></tr>"
                    for name, value in headline)
    caution = small_test_caution(accuracy if isinstance(accuracy, float) else None, n)
    if caution:
        cells = (f"<tr><td colspan='2' class='lepton-small-test-caution' style='color:#b45309;font-weight:bold'>"
                 f"&#9888; {html.escape(caution)}</td></tr>") + cells
    per_class = pd.DataFrame(evaluation.get("per_class") or [])
    per_class = per_class.rename(columns={key: _(label) for key, label in PER_CLASS_HEADERS.items()})
    table = per_class.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0,
                              classes="lepton-per-class") if len(per_class) else ""
    per_class_title = esc(_("Per class"))
    return f"<table class='lepton-metrics'>{cells}</table><h4>{per_class_title}</h4>{table}"


def small_test_caution(accuracy: Optional[float], n: Optional[int]) -> str:
    """The caution under an accuracy measured on fewer than ``SMALL_TEST_SET`` items, in the current language
    ('' otherwise); the words of ``core.evaluation.small_test_caution``, through the catalogue."""
    if accuracy is None or n is None or n >= SMALL_TEST_SET:
        return ""
    if n <= 0:
        return _("No test items: there is no test accuracy to trust.")
    low, high = wilson_interval(round(accuracy * n), n)
    template = (_("Only 1 test item: accuracy {accuracy} could really be anywhere from {low} to {high} (95% Wilson "
                  "interval). Treat it as a rough guide, not a measurement.") if n == 1 else
                _("Only {n} test items: accuracy {accuracy} could really be anywhere from {low} to {high} (95% "
                  "Wilson interval). Treat it as a rough guide, not a measurement."))
    return template.format(n=n, accuracy=f"{accuracy:.3f}", low=f"{low:.3f}", high=f"{high:.3f}")


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))


def cell_from_points(points, class_names: list[str]) -> Optional[tuple[int, int]]:
    """(true, predicted) of a heatmap click: from the category labels, else from plotly's [row, col]."""
    names = [str(name) for name in class_names]
    if points.xs and points.ys and str(points.ys[0]) in names and str(points.xs[0]) in names:
        return names.index(str(points.ys[0])), names.index(str(points.xs[0]))
    if points.point_inds and isinstance(points.point_inds[0], (list, tuple)):
        row, col = points.point_inds[0]
        return int(row), int(col)
    return None
