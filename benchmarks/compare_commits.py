"""Benchmarks of two commits side by side: the old and the new code, alternating, on one machine in one run.

A refactor must not cost speed or memory. This checks out each commit into its own worktree, runs each
benchmark's own script there (``python -m benchmarks.NAME``: the scripts import the modules where each
commit keeps them), old, new, old, new ..., and compares the figure that matters for lepton's side of each
benchmark (not the plain-Keras baseline it also measures):

- ``head_cache``: seconds per head epoch on cached features (lower is better);
- ``extract``: images per second through the streaming feature extraction (higher is better);
- ``first_model``: seconds from a config to an evaluated model (lower is better);
- ``stream_memory``: peak resident memory training on all of Fashion-MNIST (lower is better).

Run: python -m benchmarks.compare_commits --old 1331efe --new HEAD [--repeats 2] [--only extract,head_cache]
The last line is ``BENCH {...}`` with the worst new/old ratio, oriented so that above 1 means the new commit
is slower or larger.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import context

#: benchmark -> (JSON key path of lepton's figure, "lower" or "higher" is better)
FIGURES = {
    "head_cache": (("cached_epoch_s", "median"), "lower"),
    "extract": (("pipeline_img_per_s",), "higher"),
    "first_model": (("lepton_train_s", "median"), "lower"),
    "stream_memory": (("peak_rss_bytes",), "lower"),
}
REPO = Path(__file__).resolve().parents[1]


def worktree(rev: str, into: Path) -> tuple[Path, str]:
    sha = subprocess.run(["git", "rev-parse", rev], cwd=REPO, check=True, capture_output=True,
                         text=True).stdout.strip()
    path = into / sha[:10]
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(path), sha], cwd=REPO, check=True,
                   capture_output=True)
    return path, sha


def figure(tree: Path, name: str) -> float:
    """Run ``benchmarks.NAME`` in ``tree`` and read lepton's figure from its JSON lines."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=tree, env=env, capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"benchmarks.{name} failed in {tree}:\n{out.stderr[-2000:]}")
    keys, _ = FIGURES[name]
    for line in out.stdout.splitlines():
        if line.startswith("{") and keys[0] in line:
            value = json.loads(line)
            for key in keys:
                value = value[key]
            return float(value)
    raise RuntimeError(f"benchmarks.{name} printed no {keys[0]}:\n{out.stdout[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", default="HEAD")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", default=",".join(FIGURES))
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="lepton-bench-trees-") as tmp:
        (old, old_sha), (new, new_sha) = worktree(args.old, Path(tmp)), worktree(args.new, Path(tmp))
        try:
            ratios = {}
            for name in names:
                values = {"old": [], "new": []}
                for _ in range(args.repeats):
                    values["old"].append(figure(old, name))
                    values["new"].append(figure(new, name))
                old_m, new_m = statistics.median(values["old"]), statistics.median(values["new"])
                better = FIGURES[name][1]
                ratio = new_m / old_m if better == "lower" else old_m / new_m
                ratios[name] = ratio
                print(json.dumps({"benchmark": name, "figure": ".".join(FIGURES[name][0]), "better": better,
                                  "old": values["old"], "new": values["new"], "new_cost_over_old": round(ratio, 4)}),
                      flush=True)
        finally:
            for tree in (old, new):
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
    print(json.dumps({"benchmark": "compare_commits", "old": old_sha, "new": new_sha,
                      "context": context(repeats=args.repeats)}))
    worst = max(ratios, key=ratios.get)
    print("BENCH " + json.dumps({"metric": "worst_new_cost_over_old", "value": round(ratios[worst], 4),
                                 "benchmark": worst, "target": "<= 1.1 (within noise)", "unit": "ratio"}))


if __name__ == "__main__":
    main()
