"""make_dataset: shapes, dtypes, value range, order, shuffling, and bounded memory on 60k images."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import psutil
import pytest
from data_fixtures import save
from PIL import Image

from lepton_widgets.core.data import SampleTable, make_dataset
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data import fashion_mnist as fm


def _constant_arrays(n: int, channels: int = 0) -> SampleTable:
    """Image i is filled with the value i, so order survives resizing and can be read back."""
    shape = (n, 6, 5) + ((channels,) if channels else ())
    arrays = np.broadcast_to(np.arange(n, dtype=np.uint8).reshape((n,) + (1,) * (len(shape) - 1)), shape).copy()
    frame = pd.DataFrame({"ref": [f"c[{i}]" for i in range(n)], "label": [("a", "b", "c")[i % 3] for i in range(n)],
                          "sha256": [f"{i:064x}" for i in range(n)], "path": None, "array_index": np.arange(n)})
    return SampleTable(frame, ["a", "b", "c"], arrays)


def _values(dataset) -> list[float]:
    return [float(v) for x, _ in dataset for v in x.numpy().mean(axis=(1, 2, 3))]


def test_array_batches_have_the_contract_shape_dtype_and_range():
    table = _constant_arrays(10)
    batches = list(make_dataset(table, image_size=20, batch_size=4))
    assert [x.shape[0] for x, _ in batches] == [4, 4, 2]
    images, labels = batches[0]
    assert images.shape == (4, 20, 20, 3) and images.dtype.name == "float32"
    assert labels.dtype.name == "int32" and labels.numpy().tolist() == [0, 1, 2, 0]
    assert images.numpy().min() >= 0 and images.numpy().max() <= 255
    rgb = _constant_arrays(5, channels=3)
    assert next(iter(make_dataset(rgb, 8, 5)))[0].shape == (5, 8, 8, 3)
    only_images = next(iter(make_dataset(table, 8, 3, with_labels=False)))
    assert only_images.shape == (3, 8, 8, 3)


def test_order_is_kept_without_shuffle_and_seeded_with_it():
    table = _constant_arrays(50)
    assert _values(make_dataset(table, 8, 7)) == pytest.approx(list(range(50)))
    shuffled = make_dataset(table, 8, 7, shuffle=True, seed=3)
    epoch1, epoch2 = _values(shuffled), _values(shuffled)
    assert sorted(epoch1) == pytest.approx(list(range(50))) and epoch1 != pytest.approx(list(range(50)))
    assert epoch1 != epoch2  # reshuffled every epoch
    assert _values(make_dataset(table, 8, 7, shuffle=True, seed=3)) == epoch1  # same seed, same order
    assert _values(make_dataset(table, 8, 7, shuffle=True, seed=4)) != epoch1


def test_file_rows_keep_order_and_decode_grey_as_rgb(tmp_path):
    paths = []
    for i in range(7):
        mode = "L" if i % 2 else "RGB"
        image = Image.new(mode, (9 + i, 5), i * 30 if mode == "L" else (i * 30,) * 3)
        paths.append(str(save(tmp_path / f"ü_{i}.{'jpg' if i == 3 else 'png'}", image, quality=100)))
    frame = pd.DataFrame({"ref": paths, "label": ["a", "b"] * 3 + ["a"], "sha256": [str(i) for i in range(7)],
                          "path": paths, "array_index": -1})
    table = SampleTable(frame, ["a", "b"])
    values = _values(make_dataset(table, 16, 3))
    assert values == pytest.approx([i * 30 for i in range(7)], abs=1.0)
    images, labels = next(iter(make_dataset(table, 16, 7)))
    assert images.shape == (7, 16, 16, 3) and labels.numpy().tolist() == [0, 1, 0, 1, 0, 1, 0]
    np.testing.assert_allclose(images[1, ..., 0], images[1, ..., 2])


def test_mixed_or_empty_tables_are_refused():
    table = _constant_arrays(4)
    table.frame.loc[0, "array_index"] = -1
    with pytest.raises(ValueError, match="either file rows or array rows"):
        make_dataset(table, 8, 2)
    with pytest.raises(ValueError, match="at least one row"):
        make_dataset(SampleTable(table.frame.iloc[:0], ["a"]), 8, 2)


def test_60k_fashion_mnist_at_96px_streams_without_materialising():
    loaded = fm.load_fashion_mnist(None, Job())
    train = loaded.records[loaded.records["ref"].str.startswith("fashion_mnist:train")]
    assert len(train) == 60_000, "needs the real Fashion-MNIST: apt-get install dataset-fashion-mnist"
    table = SampleTable(train[["ref", "label", "sha256", "path", "array_index"]].reset_index(drop=True),
                        loaded.class_names, loaded.arrays)
    list(make_dataset(_constant_arrays(8), 96, 4))  # start tf.data's thread pools before measuring
    gc.collect()
    process = psutil.Process()
    before = process.memory_info().rss
    dataset = make_dataset(table, image_size=96, batch_size=128, shuffle=True, seed=0)
    peak = before
    for images, labels in dataset.take(3):
        assert images.shape == (128, 96, 96, 3) and labels.shape == (128,)
        peak = max(peak, process.memory_info().rss)
    materialised = 60_000 * 96 * 96 * 3 * 4  # 6.6 GB as float32
    assert peak - before < materialised / 10, f"RSS grew by {(peak - before) / 1e6:.0f} MB"
