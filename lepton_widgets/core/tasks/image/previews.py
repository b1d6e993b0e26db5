"""Small images for the set-up panels: a few samples per class, preview batches and PNG thumbnails.

Pixels are read straight from the table (array rows from ``table.arrays``, file rows with Pillow) rather
than through the tf.data pipeline: a dozen thumbnails need no resizing graph, and the panels redraw them
on every change. File rows already point at validated (or converted 8-bit RGB) files.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.data import prepare_data
    >>> table = prepare_data(DataConfig(dataset="digits", max_per_class=10), seed=0).table
    >>> samples = class_samples(table, per_class=2)
    >>> len(samples), samples["3"][0].shape
    (10, (8, 8, 3))
    >>> sample_batch(table, n=3, size=64).shape
    (3, 64, 64, 3)
    >>> to_png(samples["3"][0])[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import io
import threading
from typing import Optional

import numpy as np
from PIL import Image

from lepton_widgets.core.data.table import SampleTable

#: Thumbnails smaller than this (8x8 digits) are enlarged with nearest-neighbour so pixels stay crisp.
MIN_THUMB = 64
#: Built-in datasets too big to load just for a preview, and the small set that shows the same images.
STAND_INS = {"fashion_mnist": "fashion_mnist_sample"}
FALLBACK_DATASET = "fashion_mnist_sample"

_QUICK: dict[str, SampleTable] = {}
_QUICK_LOCK = threading.Lock()


def read_rgb(table: SampleTable, row: int) -> np.ndarray:
    """The image of one table row as uint8 RGB (H, W, 3), at its stored size."""
    record = table.frame.iloc[row]
    index = int(record["array_index"])
    if index >= 0 and table.arrays is not None:
        pixels = np.asarray(table.arrays[index])
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels[..., :3]
    with Image.open(record["path"]) as image:
        image.seek(0)
        return np.asarray(image.convert("RGB"))


def class_sample_rows(table: SampleTable, per_class: int = 4, seed: int = 0) -> dict[str, list[int]]:
    """Up to ``per_class`` row positions of every class (in ``table.class_names`` order), picked with ``seed``."""
    rng = np.random.default_rng(seed)
    labels = table.frame["label"].to_numpy()
    found: dict[str, list[int]] = {}
    for name in table.class_names:
        rows = np.flatnonzero(labels == name)
        chosen = np.sort(rng.choice(rows, size=min(per_class, len(rows)), replace=False)) if len(rows) else []
        found[name] = [int(r) for r in chosen]
    return found


def class_samples(table: SampleTable, per_class: int = 4, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Up to ``per_class`` images of every class (in ``table.class_names`` order), picked with ``seed``."""
    return {name: [read_rgb(table, r) for r in rows]
            for name, rows in class_sample_rows(table, per_class, seed).items()}


def sample_batch(table: SampleTable, n: int = 3, size: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` images from different classes where possible, resized to ``size``: float32 (n, size, size, 3)
    in [0, 255], the input range of the augmentation layers."""
    per_class = -(-n // max(1, len(table.class_names)))
    groups = list(class_samples(table, per_class, seed).values())
    picked = [group[i] for i in range(per_class) for group in groups if i < len(group)]  # classes take turns
    if not picked:
        raise ValueError("sample_batch needs a table with at least one row")
    resized = [np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR)) for img in picked[:n]]
    return np.stack(resized).astype("float32")


def quick_table(dataset: str, seed: int = 0) -> tuple[SampleTable, str]:
    """A small table of a built-in dataset for previews before the data was checked, and its name.

    The full Fashion-MNIST is replaced by its committed sample (same kind of images, loads at once);
    bring-your-own kinds, which need a check first, get the Fashion-MNIST sample.
    """
    from lepton_widgets.config import DataConfig
    from lepton_widgets.core.data import get_dataset, prepare_data
    from lepton_widgets.core.data.table import DataError

    name = STAND_INS.get(dataset, dataset)
    try:
        if get_dataset(name).needs_path:
            name = FALLBACK_DATASET
    except DataError:
        name = FALLBACK_DATASET
    with _QUICK_LOCK:
        if name not in _QUICK:
            _QUICK[name] = prepare_data(DataConfig(dataset=name, max_per_class=10), seed).table
        return _QUICK[name], name


def to_png(image: np.ndarray, min_side: Optional[int] = MIN_THUMB, max_side: Optional[int] = None) -> bytes:
    """PNG bytes of a uint8 (H, W[, 3]) image, enlarged by a whole factor to at least ``min_side`` (crisp
    pixels) and shrunk to at most ``max_side`` (a photo thumbnail need not carry megapixels)."""
    pixels = np.asarray(image, dtype=np.uint8)
    pil = Image.fromarray(pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels)
    if min_side and min(pil.size) < min_side:
        factor = -(-min_side // min(pil.size))
        pil = pil.resize((pil.width * factor, pil.height * factor), Image.NEAREST)
    if max_side and max(pil.size) > max_side:
        pil.thumbnail((max_side, max_side), Image.BILINEAR)
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()
