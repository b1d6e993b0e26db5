"""Fashion-MNIST (Zalando SE, MIT): the full set and the small sample committed in ``data/``.

The full set is looked for, in order, in the Debian package ``dataset-fashion-mnist``, in the Keras
dataset cache, through ``keras.datasets`` (online users), and finally the committed sample stands in; the
report's notes say which source was used. Train and test files are pooled (70,000 images) because the
workbench makes its own seeded, stratified train/val/test split. Refs name the original file and row,
e.g. ``fashion_mnist:train[123]`` or ``fashion_mnist:t10k[5]``.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.data import prepare_data
    >>> prepared = prepare_data(DataConfig(dataset="fashion_mnist_sample", max_per_class=20), seed=0)
    >>> prepared.num_classes, len(prepared.table)
    (10, 200)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from lepton_widgets.core.data.arrays import hash_rows, loaded_from_arrays
from lepton_widgets.core.data.idx import read_idx
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.registry import DatasetSpec, LoadedData, register_dataset
from lepton_widgets.core.data.table import DataError
from lepton_widgets.i18n import N_, _

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_PATH = Path(__file__).resolve().parents[3] / "data" / "fashion_mnist_sample.npz"
#: The original file names, shared by the Debian package and the Keras cache.
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "t10k": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
LICENCE = N_("MIT (Copyright 2017 Zalando SE); see data/LICENSE-fashion-mnist.txt")
HOMEPAGE = "https://github.com/zalandoresearch/fashion-mnist"

# Reading and hashing 70,000 images takes about a second; keep the last result for repeated runs.
_cache: dict[str, tuple[np.ndarray, np.ndarray, list[str], list[str]]] = {}
_cache_lock = threading.Lock()


def keras_cache_dir() -> Path:
    """Where ``keras.datasets.fashion_mnist`` keeps its downloaded files."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets" / "fashion-mnist"


def read_idx_dir(directory: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Pool the train and t10k IDX files of ``directory`` into (images, labels, refs)."""
    images, labels, refs = [], [], []
    for part, (image_file, label_file) in FILES.items():
        part_images = read_idx(directory / image_file)
        part_labels = read_idx(directory / label_file)
        if len(part_images) != len(part_labels):
            raise DataError(f"{directory / image_file} has {len(part_images)} images but "
                            f"{label_file} has {len(part_labels)} labels")
        images.append(part_images)
        labels.append(part_labels)
        refs += [f"fashion_mnist:{part}[{i}]" for i in range(len(part_images))]
    return np.concatenate(images), np.concatenate(labels).astype(np.int64), refs


def _has_files(directory: Path) -> bool:
    return all((directory / name).is_file() for pair in FILES.values() for name in pair)


def _download_with_keras() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Online users: let Keras download (and cache) the files. Offline it fails in about half a second."""
    import keras  # deferred: importing Keras is slow and only this rare path needs it

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    refs = [f"fashion_mnist:train[{i}]" for i in range(len(x_train))]
    refs += [f"fashion_mnist:t10k[{i}]" for i in range(len(x_test))]
    return np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]).astype(np.int64), refs


def _find_full_set() -> tuple[str, str, Optional[tuple[np.ndarray, np.ndarray, list[str]]]]:
    """(cache key, note, data or None to read later); the data is None when it can be read from a folder."""
    if _has_files(DEBIAN_DIR):
        return str(DEBIAN_DIR), f"Fashion-MNIST read from the Debian package files in {DEBIAN_DIR}.", None
    keras_dir = keras_cache_dir()
    if _has_files(keras_dir):
        return str(keras_dir), f"Fashion-MNIST read from the Keras dataset cache in {keras_dir}.", None
    try:
        data = _download_with_keras()
    except Exception as exc:  # offline, proxy, disk full...: fall back to the committed sample
        return "", f"keras.datasets could not download Fashion-MNIST ({type(exc).__name__}: {exc}).", None
    return "keras", "Fashion-MNIST downloaded through keras.datasets.fashion_mnist.load_data().", data


def load_fashion_mnist(data_cfg, job: Job) -> LoadedData:
    """Loader of ``fashion_mnist``: the full 70,000 images from the first source found (see module doc)."""
    key, note, data = _find_full_set()
    if not key:
        loaded = load_fashion_mnist_sample(data_cfg, job)
        loaded.notes.insert(0, note)
        loaded.warnings.append(_("The full Fashion-MNIST was not found (install the Debian package "
                                 "dataset-fashion-mnist or go online); using the 1,500-image sample instead."))
        return loaded
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None:
        images, labels, refs = data if data is not None else read_idx_dir(Path(key))
        cached = (images, labels, refs, hash_rows(images, job))
        with _cache_lock:
            _cache.clear()  # one full copy in memory is enough
            _cache[key] = cached
    images, labels, refs, hashes = cached
    return loaded_from_arrays("fashion_mnist", images, labels, CLASS_NAMES, refs=refs, hashes=hashes,
                              notes=[note], job=job)


def load_fashion_mnist_sample(data_cfg, job: Job) -> LoadedData:
    """Loader of ``fashion_mnist_sample``: the committed 150-per-class sample (see data/README.md)."""
    if not SAMPLE_PATH.is_file():
        raise DataError(f"the Fashion-MNIST sample {SAMPLE_PATH} is missing; regenerate it with "
                        "`python -m lepton_widgets.core.data.make_sample`")
    with np.load(SAMPLE_PATH, allow_pickle=False) as npz:
        images, labels, refs = npz["images"], npz["labels"].astype(np.int64), npz["refs"].tolist()
    return loaded_from_arrays("fashion_mnist_sample", images, labels, CLASS_NAMES, refs=refs, job=job,
                              notes=[_("Fashion-MNIST sample (150 real images per class) read from {path}.").format(
                                  path=SAMPLE_PATH)])


register_dataset(DatasetSpec(
    name="fashion_mnist", modality="image", origin="real", loader=load_fashion_mnist,
    description=N_("Fashion-MNIST: 70,000 grey 28x28 photos of clothing in 10 classes (Zalando)."),
    licence=LICENCE, class_names=CLASS_NAMES, homepage=HOMEPAGE,
))
register_dataset(DatasetSpec(
    name="fashion_mnist_sample", modality="image", origin="real", loader=load_fashion_mnist_sample,
    description=N_("1,500 real Fashion-MNIST images (150 per class) shipped in data/; works anywhere."),
    licence=LICENCE, class_names=CLASS_NAMES, homepage=HOMEPAGE,
))
