"""Built-in datasets and the registry: Fashion-MNIST (Debian files, Keras cache, sample fallback), the
committed sample, digits, the IDX reader and progress events."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from data_fixtures import ROOT

from lepton_widgets.config import DataConfig
from lepton_widgets.core.data import (DataError, DatasetSpec, get_dataset, list_datasets, prepare_data,
                                      register_dataset)
from lepton_widgets.core.data import fashion_mnist as fm
from lepton_widgets.core.data.idx import read_idx, write_idx
from lepton_widgets.core.data.progress import ProgressReporter
from lepton_widgets.core.base.events import Cancelled, ListSink
from lepton_widgets.core.base.job import Job

HAS_DEBIAN = all((fm.DEBIAN_DIR / f).is_file() for pair in fm.FILES.values() for f in pair)
REF = re.compile(r"^fashion_mnist:(train|t10k)\[(\d+)\]$")


def test_fashion_mnist_loads_from_the_debian_files():
    assert HAS_DEBIAN, "needs Debian's real Fashion-MNIST files: apt-get install dataset-fashion-mnist"
    sink = ListSink()
    prepared = prepare_data(DataConfig(dataset="fashion_mnist", max_per_class=30), seed=0, job=Job(sink=sink))
    assert prepared.class_names == list(fm.CLASS_NAMES) and prepared.num_classes == 10
    assert prepared.class_names[0] == "T-shirt/top" and prepared.class_names[9] == "Ankle boot"
    assert prepared.report.class_counts == {name: 30 for name in fm.CLASS_NAMES}
    assert len(prepared.table) == 300 and len(prepared.report.frame) == 70_000
    assert any("Debian package" in note for note in prepared.report.notes)
    assert any("using 300 of 70,000" in note for note in prepared.report.notes)
    assert all(REF.match(ref) for ref in prepared.table.frame["ref"])
    progress = sink.of_kind("progress")
    assert progress and progress[-1].done == progress[-1].total == 70_000
    # The array row behind a ref is the original file's row.
    row = prepared.table.frame.iloc[0]
    part, index = REF.match(row["ref"]).groups()
    original = read_idx(fm.DEBIAN_DIR / fm.FILES[part][0])[int(index)]
    np.testing.assert_array_equal(prepared.table.arrays[row["array_index"]], original)


def test_sample_loads_from_data_folder_and_is_real_fashion_mnist():
    prepared = prepare_data(DataConfig(dataset="fashion_mnist_sample", max_per_class=None), seed=0)
    assert fm.SAMPLE_PATH == ROOT / "data" / "fashion_mnist_sample.npz"
    assert prepared.report.class_counts == {name: 150 for name in fm.CLASS_NAMES}
    assert prepared.table.arrays.shape == (1500, 28, 28) and prepared.table.arrays.dtype == np.uint8
    assert all(REF.match(ref) for ref in prepared.table.frame["ref"])
    assert (ROOT / "data" / "LICENSE-fashion-mnist.txt").read_text().count("Zalando SE") == 1
    if HAS_DEBIAN:
        originals = {part: read_idx(fm.DEBIAN_DIR / fm.FILES[part][0]) for part in fm.FILES}
        for _, row in prepared.table.frame.head(20).iterrows():
            part, index = REF.match(row["ref"]).groups()
            np.testing.assert_array_equal(prepared.table.arrays[row["array_index"]], originals[part][int(index)])


def _fake_keras_cache(home):
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for part, n in (("train", 40), ("t10k", 10)):
        write_idx(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), folder / fm.FILES[part][0])
        write_idx((np.arange(n) % 10).astype(np.uint8), folder / fm.FILES[part][1])


def test_fashion_mnist_source_order_keras_cache_then_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(fm, "_cache", {})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    _fake_keras_cache(tmp_path / "keras")
    prepared = prepare_data(DataConfig(dataset="fashion_mnist", max_per_class=None), seed=0)
    assert len(prepared.table) == 50 and "Keras dataset cache" in prepared.report.notes[0]
    assert "fashion_mnist:t10k[9]" in set(prepared.table.frame["ref"])

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))

    def offline():
        raise OSError("URL fetch failure: Name or service not known")

    monkeypatch.setattr(fm, "_download_with_keras", offline)
    prepared = prepare_data(DataConfig(dataset="fashion_mnist", max_per_class=10), seed=0)
    assert "could not download" in prepared.report.notes[0] and "Name or service" in prepared.report.notes[0]
    assert any("fashion_mnist_sample.npz" in note for note in prepared.report.notes)
    assert any("using the 1,500-image sample" in w for w in prepared.report.warnings)
    assert len(prepared.table) == 100


def test_digits_are_scaled_to_0_255():
    prepared = prepare_data(DataConfig(dataset="digits", max_per_class=None), seed=0)
    assert len(prepared.table) == 1797 and prepared.class_names == [str(d) for d in range(10)]
    arrays = prepared.table.arrays
    assert arrays.dtype == np.uint8 and arrays.shape == (1797, 8, 8) and arrays.max() == 255


def test_registry_is_plain_data():
    assert {"fashion_mnist", "fashion_mnist_sample", "digits", "folder", "zip", "csv"} <= set(list_datasets())
    assert "folder" not in list_datasets(include_user=False)
    assert {"wav_folder", "spoken_keywords"} <= set(list_datasets(modality="audio"))
    assert "german_credit" in list_datasets(modality="tabular") and "digits" not in list_datasets(modality="audio")
    spec = get_dataset("fashion_mnist")
    assert spec.origin == "real" and spec.modality == "image" and "MIT" in spec.licence
    assert get_dataset("folder").needs_path and not spec.needs_path
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        get_dataset("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(spec)
    with pytest.raises(ValueError, match="origin must be one of"):
        DatasetSpec(name="x", modality="image", description="", licence="", origin="fake", loader=print)


def test_idx_reader_round_trip_and_errors(tmp_path):
    data = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    write_idx(data, tmp_path / "a.idx.gz")
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), data)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes((tmp_path / "a.idx.gz").read_bytes()[:10])
    with pytest.raises(Exception):
        read_idx(tmp_path / "short")
    write_idx(np.zeros(5, np.uint8), tmp_path / "b.idx")
    (tmp_path / "b.idx").write_bytes((tmp_path / "b.idx").read_bytes()[:-1])
    with pytest.raises(ValueError, match="has 4 data bytes; its header"):
        read_idx(tmp_path / "b.idx")


def test_progress_is_rate_limited_and_stops():
    sink = ListSink()
    progress = ProgressReporter(Job(sink=sink), total=10_000, task="validate")
    for _ in range(10_000):
        progress.step()
    progress.finish()
    assert 100 <= len(sink.events) <= 150 and sink.events[-1].done == 10_000
    stop = threading.Event()
    progress = ProgressReporter(Job(stop_event=stop), total=5)
    progress.step()
    stop.set()
    with pytest.raises(Cancelled):
        progress.step()
