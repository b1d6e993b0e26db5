"""What verified export feeds a run's model: the held-out check batch, the input signature, calibration
rows, files to ship beside the artefact, and which formats cannot hold the model at all.

:mod:`lepton_widgets.core.export.verify` writes, reloads and compares the same way for every run; only the
*inputs* differ, and the run's task (:func:`~lepton_widgets.core.tasks.registry.task_for_run`) builds them
(:meth:`~lepton_widgets.core.tasks.base.Task.export_inputs`), from seeded rows of the run's test split:

=========  ============================================  ===================================================
task       the model takes                               built in
=========  ============================================  ===================================================
image      float32 RGB pixels (N, S, S, 3) in [0, 255]   :mod:`lepton_widgets.core.tasks.image.export`
           (sound runs: their log-mel spectrograms)      (the sound task is the picture task)
text       GloVe: raw strings (N,); MiniLM: int32        :mod:`lepton_widgets.core.tasks.text.export` (the
           ``token_ids``, ``segment_ids``,               tokeniser folder and the length are shipped with
           ``padding_mask`` (N, sequence_length)         every MiniLM export)
tabular    one (N, 1) input per feature column, named    :mod:`lepton_widgets.core.tasks.tabular.export`
           by the schema in ``tabular.json``             (plus test rows with one number blanked)
=========  ============================================  ===================================================

**Formats that cannot hold a model** (:func:`format_support`, measured with TF 2.21, tf2onnx 1.17) come from
the task too (:meth:`~lepton_widgets.core.tasks.base.Task.export_unavailable`, reasons in the task modules
above): a GloVe text model goes to no TFLite nor ONNX file, a table with categorical columns to no ONNX file,
and one with numeric columns to no int8 file. A MiniLM model converts to every format; its int8 file is
verified like any other and may well fail the agreement check (full-integer attention is lossy).

Those formats are reported ``unavailable`` with the reason (never tried, never a folder); every other
format is converted and verified for real, so a new converter that breaks shows up as ``failed``/``error``.
The checks are JSON-only, so the Export panel can draw the choice without TensorFlow.

Example:
    >>> format_support_for("text", {"encoder": "glove_6b_50d", "sequence_length": 64})["onnx"][:40]
    'a GloVe text model reads raw strings thr'
    >>> sorted(format_support_for("tabular", {"schema": {"columns": {"age": "numeric"}}}))
    ['tflite-int8']
    >>> sorted(format_support_for("image", {}))
    []
"""

from __future__ import annotations

import numpy as np

# The check batch, seeded rows and run facts are shared by the tasks that build them (a lower layer).
from lepton_widgets.core.tasks.exporting import (REPRESENTATIVE_ROWS, ReferenceInputs, data_info,  # noqa: F401
                                                 rows, run_json, sample)


def format_support(record) -> dict[str, str]:
    """``{format: why it cannot hold this run's model}`` for the formats that do not apply (JSON only)."""
    from lepton_widgets.core.tasks import task_for_run

    task = task_for_run(record)
    return task.export_unavailable(task.export_facts(record))


def format_support_for(task: str, facts: dict) -> dict[str, str]:
    """:func:`format_support` from a task's name and its run facts (``text.json``/``tabular.json`` contents)."""
    from lepton_widgets.core.tasks import task_named

    return task_named(task).export_unavailable(facts)


def reference_inputs(record, n: int, seed: int = 0) -> ReferenceInputs:
    """The check batch of a run: ``n`` seeded rows of its test split, in the form its model takes."""
    from lepton_widgets.core.tasks import task_for_run

    task = task_for_run(record)
    refs = task.export_inputs(record, n, np.random.default_rng(seed))
    refs.unavailable = task.export_unavailable(task.export_facts(record))
    if task.reloads_in_safe_mode:
        from lepton_widgets.core.export.formats import load_keras_safe_mode

        refs.loaders = {"keras": load_keras_safe_mode}
    return refs
