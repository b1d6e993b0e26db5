"""Shared benchmark helpers: context record, A/B alternation, and the ``BENCH`` last line.

Example:
    >>> stats = summarize([3.0, 1.0, 2.0])
    >>> stats["median"], stats["min"], stats["max"]
    (2.0, 1.0, 3.0)
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def context(**extra) -> dict:
    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"python": sys.version.split()[0], "tensorflow": version("tensorflow"), "keras": version("keras"),
            "cores": os.cpu_count(), "machine": platform.machine(), "cpu": cpu_name(), **extra}


def cpu_name() -> str:
    """The CPU's model name, and whether it has AVX-512 (figures differ between CPU classes: BENCH.md)."""
    try:
        text = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return platform.processor() or "unknown"
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")),
                platform.processor() or "unknown")
    return f"{name} ({'AVX-512' if 'avx512f' in text else 'no AVX-512'})"


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def alternate(a: Callable[[], float], b: Callable[[], float], repeats: int = 3) -> tuple[list[float], list[float]]:
    """Run A B A B ... ``repeats`` times each; each callable returns the seconds it measured."""
    times_a, times_b = [], []
    for _ in range(repeats):
        times_a.append(a())
        times_b.append(b())
    return times_a, times_b


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report(name: str, ctx: dict, details: dict, metric: str, value: float, target: str, unit: str) -> None:
    """Print the context and details as JSON lines, then the BENCH line last."""
    print(json.dumps({"benchmark": name, "context": ctx}))
    print(json.dumps({"benchmark": name, **details}, default=float))
    print("BENCH " + json.dumps({"metric": metric, "value": round(value, 4), "target": target, "unit": unit}))
