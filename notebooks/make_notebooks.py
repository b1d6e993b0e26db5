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
        "import os\n"
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


def main() -> None:
    ROOT.mkdir(exist_ok=True)
    notebook = new_notebook(cells=QUICKSTART, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, ROOT / "01_quickstart.ipynb")


if __name__ == "__main__":
    main()
