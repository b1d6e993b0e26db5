"""The forgetting meter of an update: old-data accuracy before and after, new-data accuracy, per old class too.

Both accuracies of the old data are measured on the parent's own test split, so ``forgetting = before -
after`` compares like with like; the meter works on class probabilities and a table's labels, whatever the
samples are (pictures, sounds, texts, table rows).

Example:
    >>> import numpy as np, pandas as pd
    >>> from lepton_widgets.core.data.table import SampleTable
    >>> table = SampleTable(pd.DataFrame({"label": ["a", "b"]}), ["a", "b"])
    >>> accuracy(np.array([[0.9, 0.1], [0.8, 0.2]]), table, ["a", "b"])
    0.5
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from lepton_widgets.core.data.table import SampleTable


def accuracy(probs: np.ndarray, table: SampleTable, class_names: Sequence[str]) -> Optional[float]:
    """Share of ``table``'s rows whose most probable class (of ``class_names``) is the true label."""
    if len(table) == 0:
        return None
    predicted = np.asarray(class_names, dtype=object)[probs.argmax(axis=1)]
    return float(np.mean(predicted == table.frame["label"].to_numpy(dtype=object)))


def per_class(probs: np.ndarray, table: SampleTable, class_names: Sequence[str]) -> dict[str, float]:
    predicted = np.asarray(class_names, dtype=object)[probs.argmax(axis=1)]
    truth = table.frame["label"].to_numpy(dtype=object)
    return {name: float(np.mean(predicted[truth == name] == name)) for name in dict.fromkeys(truth)}


def forgetting_meter(old_names: Sequence[str], classes: Sequence[str], old_test: SampleTable, new_test: SampleTable,
                     old_before: np.ndarray, old_after: np.ndarray, new_before: Optional[np.ndarray],
                     new_after: np.ndarray) -> dict:
    """The meter of ``update.json``: the parent's probabilities (over ``old_names``) and the version's (over
    ``classes``) on the old and new test splits (``new_before``: ``None`` when the parent knows no new class)."""
    before = accuracy(old_before, old_test, old_names)
    after = accuracy(old_after, old_test, classes)
    per_before, per_after = per_class(old_before, old_test, old_names), per_class(old_after, old_test, classes)
    return {
        "old_before": before, "old_after": after, "forgetting": before - after,
        "new_before": accuracy(new_before, new_test, old_names) if new_before is not None else None,
        "new_after": accuracy(new_after, new_test, classes),
        "old_n": len(old_test), "new_n": len(new_test),
        "old_per_class": {name: {"before": per_before[name], "after": per_after[name]} for name in per_before},
    }


def meter_lines(info: dict) -> list[str]:
    """The forgetting meter of an ``update.json`` as lines for people (CLI, notebooks)."""
    meter = info.get("meter") or {}
    if not meter:
        return []
    replay = (info.get("replay") or {}).get("used", 0)
    lines = [f"replay {replay} old sample(s)" if replay else "no replay",
             f"  old data ({meter['old_n']} test samples): {meter['old_before']:.3f} -> {meter['old_after']:.3f} "
             f"(forgetting {meter['forgetting']:+.3f})"]
    before = f"{meter['new_before']:.3f} -> " if meter.get("new_before") is not None else ""
    lines.append(f"  new data ({meter['new_n']} test samples): {before}{meter['new_after']:.3f}")
    return lines
