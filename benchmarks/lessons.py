"""The ``lessons`` benchmark: the wall time of every lesson at its full size, run as a learner runs it.

Each English solutions notebook (``notebooks/lessons/en/solutions/``) is executed top to bottom in a fresh
kernel with nbclient, with the full-size settings (``LEPTON_LESSON_SIZE`` unset) and a private runs folder, and
timed from the kernel's start to its last cell. Its self-checks and claims are read back from the lesson log,
so the figures come with proof that the lesson still teaches what it says. The issue's target: 15 minutes or
less for each lesson on 2 cores. The BENCH value is the slowest lesson, in minutes.

Run: python -m benchmarks.lessons [SLUG_PREFIX ...]   (e.g. ``01 03`` for two lessons)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from benchmarks.common import context, report
from lepton_widgets.teaching import read_log

LESSONS = Path(__file__).resolve().parents[1] / "notebooks" / "lessons" / "en" / "solutions"
TARGET_MINUTES = 15.0


def run_one(path: Path) -> dict:
    """Execute one solutions notebook at full size; its minutes, checks and claims."""
    with tempfile.TemporaryDirectory(prefix="lesson-bench-") as folder:
        log = Path(folder) / "lesson.jsonl"
        saved = {key: os.environ.get(key) for key in ("LEPTON_LESSON_SIZE", "LEPTON_LESSON_LOG", "LEPTON_RUNS")}
        os.environ.pop("LEPTON_LESSON_SIZE", None)
        os.environ["LEPTON_LESSON_LOG"] = str(log)
        os.environ["LEPTON_RUNS"] = str(Path(folder) / "runs")
        try:
            notebook = nbformat.read(path, as_version=4)
            started = time.perf_counter()
            NotebookClient(notebook, timeout=TARGET_MINUTES * 60 * 2, kernel_name="python3",
                           resources={"metadata": {"path": folder}}).execute()
            minutes = (time.perf_counter() - started) / 60
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        records = read_log(log)
    checks = [r for r in records if r["kind"] == "check"]
    return {"lesson": path.stem, "minutes": round(minutes, 2),
            "checks_right": sum(r["right"] for r in checks), "checks": len(checks),
            "claims": {r["name"]: {k: v for k, v in r.items() if k not in ("kind", "name", "time")}
                       for r in records if r["kind"] == "claim"}}


def main(prefixes: list[str]) -> None:
    paths = sorted(p for p in LESSONS.glob("*.ipynb") if not prefixes or p.stem.startswith(tuple(prefixes)))
    if not paths:
        raise SystemExit(f"no lessons in {LESSONS}")
    results = []
    for path in paths:
        result = run_one(path)
        print(result, flush=True)
        results.append(result)
    slowest = max(r["minutes"] for r in results)
    report("lessons", context(lessons=len(results)), {"lessons": results}, "slowest_lesson_minutes", slowest,
           f"<= {TARGET_MINUTES:.0f} minutes for each lesson", "minutes")


if __name__ == "__main__":
    main(sys.argv[1:])
