"""Write the notebooks in this folder from the cell sources below (keeps them reviewable as Python).

Run: python notebooks/make_notebooks.py
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent

QUICKSTART = [
    new_markdown_cell(
        "# Lepton Workbench quickstart (Python API)\n\n"
        "Transfer learning in a few lines: real Fashion-MNIST images, MobileNetV2 with ImageNet weights that "
        "load offline, a new head trained on cached features, then fine-tuning of the last blocks.\n\n"
        "Set `LEPTON_SMOKE=1` to run a tiny version (the tests do)."),
    new_code_cell(
        "import os\n\n"
        "# Before TensorFlow is imported: keep its C++ messages out of the notebook.\n"
        "os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
        "import lepton_widgets as lw\n\n"
        "SMOKE = os.environ.get('LEPTON_SMOKE') == '1'\n"
        "cfg = lw.RunConfig.from_dict({\n"
        "    'name': 'quickstart',\n"
        "    'data': {'dataset': 'fashion_mnist', 'max_per_class': 30 if SMOKE else 100},\n"
        "    'backbone': {'name': 'mobilenet_v2', 'weights': 'offline', 'image_size': 32 if SMOKE else 96,\n"
        "                 'frozen_depth': 17},  # 19 blocks: the last two are fine-tuned\n"
        "    'train': {'epochs': 2 if SMOKE else 8, 'fine_tune_epochs': 1 if SMOKE else 3},\n"
        "})\n"
        "print(cfg.to_yaml())"),
    new_code_cell(
        "run = lw.train(cfg)\n"
        "print(run.status, run.run_id)\n"
        "run.metrics"),
    new_code_cell(
        "# Every run is a folder; compare them as a DataFrame.\n"
        "lw.list_runs()[['run_id', 'status', 'backbone', 'frozen_depth', 'accuracy', 'macro_f1']].tail()"),
    new_code_cell(
        "# Re-evaluate the stored model: per-class precision / recall / F1 and the worst mistakes.\n"
        "result = lw.evaluate(run)\n"
        "print(result.summary())\n"
        "result.per_class.round(3)"),
    new_code_cell(
        "import pandas as pd\n"
        "pd.DataFrame(result.worst)[['ref', 'true', 'predicted', 'confidence']].head(8)"),
]

# The Voila app (`lepton app`) and a JupyterLab notebook at once: no training in a cell, only the
# workbench's Train button starts work (in a thread), so the page stays responsive.
WORKBENCH = [
    new_code_cell(
        "# Lepton Workbench: `lepton app` serves this notebook with Voila; in JupyterLab, run all cells.\n"
        "# Quick small setting: set LEPTON_APP_DATASET=digits, LEPTON_APP_BACKBONE=small_cnn,\n"
        "# LEPTON_APP_WEIGHTS=none, LEPTON_APP_IMAGE_SIZE=32 before starting (see lepton_widgets.apps.workbench).\n"
        "import os\n\n"
        "# Before anything imports TensorFlow, or its C++ log lines end up in the page.\n"
        "os.environ['TF_CPP_MIN_LOG_LEVEL'] = os.environ.get('TF_CPP_MIN_LOG_LEVEL', '3')"),
    new_code_cell(
        "from lepton_widgets.apps.workbench import build_workbench\n\n"
        "app = build_workbench()  # app.session holds every setting; app.runner the running job\n"
        "app"),
]

# The Predict app for people who do not code: `lepton app --notebook notebooks/predict.ipynb`.
PREDICT = [
    new_code_cell(
        "# Lepton Predict: choose an exported model, upload images, see the answers.\n"
        "# Serve it with `lepton app --notebook notebooks/predict.ipynb`; in JupyterLab, run all cells.\n"
        "import os\n\n"
        "# Before anything imports TensorFlow, or its C++ log lines end up in the page.\n"
        "os.environ['TF_CPP_MIN_LOG_LEVEL'] = os.environ.get('TF_CPP_MIN_LOG_LEVEL', '3')"),
    new_code_cell(
        "from lepton_widgets.apps.predict import build_predict_app\n\n"
        "app = build_predict_app()  # models come from ./runs (or $LEPTON_RUNS)\n"
        "app"),
]


def write(cells, name: str) -> None:
    """Write the notebook unless its cells are already these (new cells get random ids: no churn in git)."""
    path = ROOT / name
    notebook = new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    if path.exists():
        old = nbformat.read(path, as_version=4)
        if [(c.cell_type, c.source) for c in old.cells] == [(c.cell_type, c.source) for c in cells]:
            return
    nbformat.write(notebook, path)


def main() -> None:
    ROOT.mkdir(exist_ok=True)
    write(QUICKSTART, "01_quickstart.ipynb")
    write(WORKBENCH, "workbench.ipynb")
    write(PREDICT, "predict.ipynb")


if __name__ == "__main__":
    main()
