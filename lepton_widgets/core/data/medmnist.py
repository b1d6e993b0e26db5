"""MedMNIST ``.npz`` files (PathMNIST, DermaMNIST, BloodMNIST, ...), for users who downloaded one.

A MedMNIST file holds ``train_images``, ``train_labels``, ``val_images``, ``val_labels``, ``test_images``
and ``test_labels``: images ``uint8`` (N, H, W) grey or (N, H, W, 3) colour, labels integers of shape
(N, 1). The three parts are pooled, like Fashion-MNIST, because the workbench makes its own seeded,
stratified split; refs keep the original part and row (``pathmnist:val[12]``). Multi-label files
(ChestMNIST, labels (N, 14)) are refused: the workbench trains single-label classifiers.

Class names come from a sidecar beside the file when there is one, else ``class_0``, ``class_1``...:
``<name>.json`` (MedMNIST's own ``INFO`` entry ``{"label": {"0": "adipose", ...}}``, a plain
``{"0": "adipose"}`` map or a list) or ``<name>.txt`` (one name per line).

The file is opened with ``allow_pickle=False``: an ``.npz`` can carry pickled objects, and unpickling runs
code, so such a file is refused rather than read. The user's file is only read.

Example:
    >>> import os, tempfile, numpy as np
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.data import prepare_data
    >>> path = os.path.join(tempfile.mkdtemp(), "tinymnist.npz")
    >>> rng = np.random.default_rng(0)
    >>> parts = {f"{p}_images": rng.integers(0, 255, (12, 8, 8), dtype=np.uint8) for p in ("train", "val", "test")}
    >>> parts.update({f"{p}_labels": (np.arange(12) % 2).reshape(-1, 1) for p in ("train", "val", "test")})
    >>> np.savez(path, **parts)
    >>> prepared = prepare_data(DataConfig(dataset="medmnist", path=path, max_per_class=None), seed=0)
    >>> prepared.class_names, len(prepared.table)
    (['class_0', 'class_1'], 36)
"""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from lepton_widgets.core.data.arrays import hash_rows, loaded_from_arrays
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.registry import DatasetSpec, LoadedData, register_dataset
from lepton_widgets.core.data.table import DataError
from lepton_widgets.i18n import N_, _

PARTS = ("train", "val", "test")
REQUIRED_KEYS = tuple(f"{part}_{kind}" for part in PARTS for kind in ("images", "labels"))
HOMEPAGE = "https://medmnist.com"
CITATION = ("Yang et al., MedMNIST v2: A large-scale lightweight benchmark for 2D and 3D biomedical image "
            "classification, Scientific Data 2023")

# Hashing ~100,000 images takes a second or two: keep the last file's result for repeated runs (tuner).
_cache: dict[tuple, tuple[np.ndarray, np.ndarray, list[str], list[str]]] = {}
_cache_lock = threading.Lock()


def read_medmnist(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images, labels, refs) of the three parts pooled; :class:`DataError` saying what is wrong otherwise."""
    name = path.name
    try:
        npz = np.load(path, allow_pickle=False)
    except ValueError as exc:  # a plain pickle file, refused by allow_pickle=False
        raise DataError(f"{name} is not a MedMNIST .npz file ({exc}); pickled data is never loaded") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{name} cannot be read as a .npz file: {exc}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError(f"{name} holds a single array, not a MedMNIST .npz with {', '.join(REQUIRED_KEYS)}")
    with npz:
        missing = [key for key in REQUIRED_KEYS if key not in npz.files]
        if missing:
            raise DataError(f"{name} is missing {', '.join(missing)}; a MedMNIST file has {', '.join(REQUIRED_KEYS)}"
                            f" (found: {', '.join(npz.files) or 'no arrays'})")
        arrays = {key: _read_array(npz, key, name) for key in REQUIRED_KEYS}
    images, labels, refs = [], [], []
    shape = None
    for part in PARTS:
        part_images, part_labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        _check_images(part_images, f"{part}_images", name)
        if shape is not None and part_images.shape[1:] != shape:
            raise DataError(f"{name}: {part}_images are {part_images.shape[1:]} but train_images are {shape}; "
                            "every part must have the same image size")
        shape = part_images.shape[1:]
        part_labels = _check_labels(part_labels, len(part_images), part, name)
        images.append(part_images)
        labels.append(part_labels)
        refs += [f"{path.stem}:{part}[{i}]" for i in range(len(part_images))]
    return np.concatenate(images), np.concatenate(labels), refs


def _read_array(npz, key: str, name: str) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as exc:  # "Object arrays cannot be loaded when allow_pickle=False"
        raise DataError(f"{name}: {key} holds pickled Python objects ({exc}); such files are refused because "
                        "unpickling can run code. Save plain numeric arrays instead") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{name}: {key} is corrupt: {exc}") from None


def _check_images(images: np.ndarray, key: str, name: str) -> None:
    if images.dtype != np.uint8:
        raise DataError(f"{name}: {key} must be uint8 (0..255), got {images.dtype}")
    colour_ok = images.ndim == 4 and images.shape[3] in (1, 3)
    if not (images.ndim == 3 or colour_ok) or 0 in images.shape[1:]:
        raise DataError(f"{name}: {key} must be (N, H, W) grey or (N, H, W, 3) colour, got shape {images.shape}")


def _check_labels(labels: np.ndarray, n_images: int, part: str, name: str) -> np.ndarray:
    key = f"{part}_labels"
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{name}: {key} must be integers, got {labels.dtype}")
    if labels.ndim == 2 and labels.shape[1] != 1:
        raise DataError(f"{name}: {key} has shape {labels.shape}: a multi-label file (like ChestMNIST); only "
                        "single-label files, labels of shape (N, 1), are supported")
    if labels.ndim not in (1, 2):
        raise DataError(f"{name}: {key} must have shape (N, 1), got {labels.shape}")
    labels = labels.reshape(-1).astype(np.int64)
    if len(labels) != n_images:
        raise DataError(f"{name}: {part}_images has {n_images} images but {key} has {len(labels)} labels")
    if len(labels) and labels.min() < 0:
        raise DataError(f"{name}: {key} contains the negative label {int(labels.min())}; labels are 0, 1, 2...")
    return labels


def read_class_names(path: Path) -> Optional[list[str]]:
    """Names from ``<stem>.json`` or ``<stem>.txt`` beside ``path`` (see the module docstring), or None."""
    json_path, txt_path = path.with_suffix(".json"), path.with_suffix(".txt")
    if json_path.is_file():
        try:
            info = json.loads(json_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{json_path.name} (class names) is not valid JSON: {exc}") from None
        if isinstance(info, dict) and isinstance(info.get("label"), dict):
            info = info["label"]  # MedMNIST's INFO entry
        if isinstance(info, dict):
            try:
                indexed = {int(k): str(v) for k, v in info.items()}
            except ValueError:
                raise DataError(f"{json_path.name}: class names must be keyed 0, 1, 2..., got keys "
                                f"{list(info)[:5]}") from None
            if sorted(indexed) != list(range(len(indexed))):
                raise DataError(f"{json_path.name}: class keys must be 0..{len(indexed) - 1} without gaps, "
                                f"got {sorted(indexed)}")
            return [indexed[i] for i in range(len(indexed))]
        if isinstance(info, list):
            return [str(v) for v in info]
        raise DataError(f"{json_path.name}: expected a list of class names or a {{\"0\": name}} map")
    if txt_path.is_file():
        return [line.strip() for line in txt_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return None


def resolve_class_names(labels: np.ndarray, names: Optional[list[str]], source: str) -> list[str]:
    """``names`` checked against the labels' range, or generic ``class_k`` names when there are none."""
    top = int(labels.max()) if len(labels) else -1
    if names is None:
        return [f"class_{k}" for k in range(top + 1)]
    if len(set(names)) != len(names):
        raise DataError(f"{source}: class names must be unique, got {names}")
    if top >= len(names):
        raise DataError(f"{source}: label {top} is out of range: the class names list only {len(names)} classes "
                        f"(labels 0..{len(names) - 1})")
    return list(names)


def load_medmnist(data_cfg, job: Job) -> LoadedData:
    """Loader of ``medmnist``: ``data_cfg.path`` names the ``.npz`` file."""
    if not data_cfg.path:
        raise DataError("data.path is required for dataset 'medmnist': the MedMNIST .npz file "
                        "(e.g. pathmnist.npz from https://zenodo.org/records/10519652)")
    path = Path(data_cfg.path).expanduser()
    if not path.is_file():
        raise DataError(f"MedMNIST file not found: {path}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None:
        images, labels, refs = read_medmnist(path)
        cached = (images, labels, refs, hash_rows(images, job))
        with _cache_lock:
            _cache.clear()  # one file in memory is enough
            _cache[key] = cached
    images, labels, refs, hashes = cached
    sidecar = read_class_names(path)
    class_names = resolve_class_names(labels, sidecar, path.name)
    names_from = _("the sidecar file") if sidecar is not None else \
        _("generic names (add a .json or .txt sidecar to name them)")
    note = _("MedMNIST file {path}: train, val and test pooled ({count} images, {height}x{width}); the workbench "
             "makes its own split. Class names: {names}.").format(path=path, count=f"{len(images):,}",
                                                                  height=images.shape[1], width=images.shape[2],
                                                                  names=names_from)
    return loaded_from_arrays(path.stem, images, labels, class_names, refs=refs, hashes=hashes, job=job,
                              notes=[note])


register_dataset(DatasetSpec(
    name="medmnist", modality="image", origin="user", loader=load_medmnist,
    description=N_("A MedMNIST .npz file you downloaded (PathMNIST, DermaMNIST, BloodMNIST...): data.path names "
                "it; class names from a .json/.txt sidecar. Real medical images; needs the file."),
    licence=N_("per MedMNIST subset (CC BY 4.0 for most; see medmnist.com)"), homepage=HOMEPAGE, citation=CITATION,
))
