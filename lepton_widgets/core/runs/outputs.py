"""The files every kind of run writes the same way: its data (classes, report, split) and its test evaluation.

Picture, sound, text and table runs, fused runs and updated runs all call these, so a run folder reads the
same whatever trained it (``RunRecord`` reads them back).
"""

from __future__ import annotations

from typing import Optional

from lepton_widgets.core.data import PreparedData, SampleTable, split_record
from lepton_widgets.core.evaluation import EvaluationResult
from lepton_widgets.core.runs.store import RunWriter


def write_data_files(writer: RunWriter, prepared: PreparedData) -> None:
    """A run's class names, data report and recorded split (shared with fused runs, core/fusion/fuse.py)."""
    writer.extra["class_names"] = prepared.class_names
    writer.write_frame("data_report.csv", prepared.report.frame)
    writer.write_json("data_report.json", prepared.report.to_dict())
    writer.write_json("split.json", split_record(prepared.table))


def write_evaluation_files(writer: RunWriter, evaluation: EvaluationResult, test: SampleTable,
                           extra_metrics: Optional[dict] = None) -> dict:
    """``evaluation.json``, ``predictions.csv`` and ``metrics.json`` of the test split ``test``; returns the
    metrics. ``extra_metrics`` (e.g. a table's ``roc_auc``) go into both JSON files."""
    extra = extra_metrics or {}
    metrics = {**evaluation.summary(), **extra}
    writer.write_json("evaluation.json", {**evaluation.to_dict(), **extra})
    writer.write_frame("predictions.csv", evaluation.predictions(test))
    writer.write_json("metrics.json", metrics)
    return metrics
