"""The shared feature cache under concurrent writers (issue 17): in a room, several kernels ask for the same
features at once. Whoever reads the cache file sees all of it or nothing, one of the writers makes it while the
others wait and read it, and a writer killed half-way leaves nothing half-written under the real name.

The processes here are real and run the real write and read functions (``core.base.cache_entry``, which
``feature_cache`` uses); they load them without the package's TensorFlow start-up so that each starts at once.
The last test runs the feature cache itself: two threads extract the same split of real images with a real
Keras backbone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from lepton_widgets.core.base.cache_entry import cached_file, load_npy

ROOT = Path(__file__).resolve().parents[1]
ROWS, DIM = 2000, 64

#: A writer or a reader of one cache entry. Writers write it like ``extract_features`` does (the header, then the
#: rows batch by batch) but slowly, so that they overlap; readers look at the entry again and again meanwhile.
WORKER = r"""
import json, os, pathlib, sys, time, types
root, path, role, start, delay = sys.argv[1:6]
package = types.ModuleType("lepton_widgets")
package.__path__ = [os.path.join(root, "lepton_widgets")]
sys.modules["lepton_widgets"] = package  # the modules alone, without the package's TensorFlow start-up
import numpy as np
from lepton_widgets.core.base.cache_entry import cached_file, load_npy
ROWS, DIM = 2000, 64
expected = np.arange(ROWS * DIM, dtype=np.float32).reshape(ROWS, DIM)
path = pathlib.Path(path)
print("ready", flush=True)  # started and imported: the test waits for every worker to say so
while not os.path.exists(start):
    time.sleep(0.002)

def write(out):
    print("writing", flush=True)
    np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": (ROWS, DIM)})
    for first in range(0, ROWS, 200):
        out.write(expected[first:first + 200].tobytes())
        out.flush()
        time.sleep(float(delay))

if role == "writer":
    array, made = cached_file(path, lambda p: load_npy(p, (ROWS, DIM)), write, suffix=".npy")
    print(json.dumps({"made": made, "same": bool(np.array_equal(array, expected))}), flush=True)
else:
    whole = open(path.with_suffix(".expected"), "rb").read()
    looks = absent = bad = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        looks += 1
        try:
            data = open(path, "rb").read()  # the raw bytes under the real name, no validity check
        except FileNotFoundError:
            absent += 1
            time.sleep(0.002)
            continue
        bad += data != whole
        if looks - absent >= 20:
            break
    print(json.dumps({"looks": looks, "absent": absent, "bad": bad}), flush=True)
"""


def start_worker(path: Path, role: str, start: Path, delay: float = 0.05) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(ROOT), str(path), role, str(start), str(delay)],
                            stdout=subprocess.PIPE, text=True)


def when_ready(*procs: subprocess.Popen) -> None:
    """Wait until every worker has started and loaded its modules (they start in parallel)."""
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"


def last_json(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1])


def expected_file(path: Path) -> None:
    """The whole file a writer makes, for the readers to compare the raw bytes with."""
    np.save(path.with_suffix(".expected.npy"), np.arange(ROWS * DIM, dtype=np.float32).reshape(ROWS, DIM))
    path.with_suffix(".expected.npy").rename(path.with_suffix(".expected"))


def test_concurrent_writers_make_the_entry_once_and_readers_never_see_part_of_it(tmp_path):
    path, start = tmp_path / "features.npy", tmp_path / "start"
    expected_file(path)
    writers = [start_worker(path, "writer", start) for _ in range(4)]
    readers = [start_worker(path, "reader", start) for _ in range(2)]
    when_ready(*writers, *readers)
    start.touch()  # all at once
    wrote = [last_json(p) for p in writers]
    seen = [last_json(p) for p in readers]
    assert all(w["same"] for w in wrote)
    assert sum(w["made"] for w in wrote) == 1  # one extraction; the other three waited and read it
    assert all(s["bad"] == 0 for s in seen), seen
    assert all(s["looks"] - s["absent"] >= 20 for s in seen), seen  # they did read the finished file
    assert any(s["absent"] > 0 for s in seen), seen  # and they were looking while it was being written
    assert [p.name for p in tmp_path.glob(".features.npy.*tmp")] == []


def test_a_writer_killed_half_way_leaves_no_partial_file_and_the_next_one_makes_it(tmp_path):
    path, start = tmp_path / "features.npy", tmp_path / "start"
    start.touch()
    slow = start_worker(path, "writer", start, delay=5.0)  # it would take 50 s
    when_ready(slow)
    assert slow.stdout.readline().strip() == "writing"
    follower = start_worker(path, "writer", start)
    when_ready(follower)
    time.sleep(0.3)  # the follower waits on the entry's lock meanwhile
    assert follower.poll() is None and not path.exists()
    slow.send_signal(signal.SIGKILL)
    slow.wait(20)
    assert last_json(follower) == {"made": True, "same": True}
    assert load_npy(path, (ROWS, DIM)) is not None


def test_a_truncated_or_overlong_file_is_not_valid_and_is_made_again(tmp_path):
    path = tmp_path / "features.npy"
    good = np.ones((10, 4), np.float32)
    np.save(path, good)
    whole = path.read_bytes()
    path.write_bytes(whole[:-8])  # as a writer that was not atomic would leave it
    assert load_npy(path, (10, 4)) is None
    path.write_bytes(whole + b"\0" * 16)
    assert load_npy(path, (10, 4)) is None
    array, made = cached_file(path, lambda p: load_npy(p, (10, 4)), lambda out: np.save(out, good * 2),
                              suffix=".npy")
    assert made and float(array.sum()) == 80.0 and path.read_bytes() != whole


def test_two_kernels_asking_for_the_same_features_extract_them_once(tmp_path):
    from conftest import tiny_config
    from lepton_widgets.core.data import prepare_data
    from lepton_widgets.core.tasks.image.feature_cache import feature_cache_path, cached_split_features
    from lepton_widgets.core.tasks.image.model import build_transfer_model

    cfg = tiny_config(data={"dataset": "digits", "max_per_class": 8})
    prepared = prepare_data(cfg.data, cfg.seed)
    tm = build_transfer_model(cfg, prepared.num_classes)
    tables = {"train": prepared.split("train")}
    # The entry's key is the rows, backbone, weights, size and normalisation: a fresh one for this test.
    path = feature_cache_path(tm.spec, tables["train"], cfg.backbone.weights, 32)
    path.unlink(missing_ok=True)
    builds, barrier, results = [], threading.Barrier(2), {}

    class Kernel:
        """What the cache asks of a model; building the backbone is slow, as it is for a real one."""
        spec = tm.spec

        def feature_extractor(self):
            builds.append(threading.current_thread().name)
            time.sleep(0.5)
            return tm.feature_extractor()

    def ask(name):
        barrier.wait()
        results[name] = cached_split_features(Kernel(), tables, cfg.backbone.weights, 32, 16)

    threads = [threading.Thread(target=ask, args=(name,), name=name) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(builds) == 1  # the second one waited for the first one's file
    (features_a, hit_a), (features_b, hit_b) = results["a"], results["b"]
    assert sorted([hit_a, hit_b]) == [False, True]
    assert features_a["train"].shape == (len(tables["train"]), tm.spec.feature_dim)
    np.testing.assert_array_equal(features_a["train"], features_b["train"])

    # A damaged file under that name (cut short) is not trusted: it is extracted again and replaced. (Put there
    # as a new file: cutting the mapped file itself short would crash whoever reads the maps above, which is
    # why the cache only ever renames whole files into place.)
    whole = path.read_bytes()
    damaged = path.with_name("damaged.npy")
    damaged.write_bytes(whole[: len(whole) // 2])
    os.replace(damaged, path)
    features, hit = cached_split_features(Kernel(), tables, cfg.backbone.weights, 32, 16)
    assert not hit and len(builds) == 2 and path.read_bytes() == whole
    np.testing.assert_array_equal(features["train"], features_a["train"])
