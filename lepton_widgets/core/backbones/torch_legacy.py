"""Read a legacy (zip-less) ``torch.save`` file into numpy arrays, without torch.

Old PyTorch releases (and ``torch.save(..., _use_new_zipfile_serialization=False)``) write five things one
after another into the file:

1. a pickle of the magic number ``0x1950a86a20f9469cfc6c``;
2. a pickle of the protocol version ``1001``;
3. a pickle of ``sys_info`` (byte order, type sizes);
4. the main pickle. Each storage is a *persistent id*
   ``('storage', storage_type, key, location, numel[, view_metadata])`` and each tensor is rebuilt by
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])``;
5. a pickle of the list of storage keys, then for each key an int64 element count followed by the raw
   little-endian bytes of that storage.

Pickles can run arbitrary code, so the unpickler below resolves only the handful of globals such a file
needs (``collections.OrderedDict``, the two rebuild functions and ``torch.*Storage`` types) to harmless
local stand-ins; anything else raises ``pickle.UnpicklingError``.

Example:
    >>> from lepton_widgets.core.backbones.torch_legacy import load_legacy_state_dict
    >>> state = load_legacy_state_dict("mobilenet_v2-b0353104.pth")     # doctest: +SKIP
    >>> state["features.0.0.weight"].shape                               # doctest: +SKIP
    (32, 3, 3, 3)
"""

from __future__ import annotations

import collections
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

#: torch storage class name -> numpy dtype (bfloat16 has no numpy dtype and is refused).
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass
class _StorageType:
    """Stand-in for ``torch.FloatStorage`` and friends: only the dtype matters."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(STORAGE_DTYPES[self.name])


@dataclass
class _Storage:
    """A storage named in the main pickle; its bytes come later in the file."""

    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None
    view_of: "_Storage | None" = None
    view_offset: int = 0

    def array(self) -> np.ndarray:
        if self.view_of is not None:
            return self.view_of.array()[self.view_offset : self.view_offset + self.numel]
        if self.data is None:
            raise ValueError(f"storage {self.key!r} was never read from the file")
        return self.data


@dataclass
class _LazyTensor:
    """What ``_rebuild_tensor_v2`` returns while the storage bytes are still unread."""

    storage: _Storage
    offset: int
    size: tuple
    stride: tuple

    def materialize(self) -> np.ndarray:
        flat = self.storage.array()
        if not self.size:  # 0-d tensor, e.g. BatchNorm's num_batches_tracked
            return np.array(flat[self.offset])
        itemsize = flat.dtype.itemsize
        # Bounds check before as_strided, which would otherwise read outside the buffer.
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride) if n > 0)
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, flat.dtype)
        if self.offset < 0 or last >= flat.size:
            raise ValueError(f"tensor view exceeds its storage ({self.storage.key!r})")
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :], shape=self.size, strides=[s * itemsize for s in self.stride], writeable=False
        )
        return np.array(view, order="C")  # C-contiguous copy that owns its memory


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    return data  # an nn.Parameter is just its tensor for our purposes


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that knows only the globals a legacy state dict needs."""

    _FUNCTIONS = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file, encoding="latin1")  # latin1: py2-era pickles carry byte strings
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._FUNCTIONS:
            return self._FUNCTIONS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a torch state dict")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and len(pid) in (5, 6)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r}")
        key = str(key)
        root = self.storages.setdefault(key, _Storage(key, storage_type.dtype, int(numel)))
        view_metadata = pid[5] if len(pid) == 6 else None
        if view_metadata is None:
            return root
        # Very old files share one storage between views: (view_key, offset, view_size).
        view_key, offset, view_size = view_metadata
        return self.storages.setdefault(
            f"{key}/{view_key}", _Storage(str(view_key), root.dtype, int(view_size), view_of=root, view_offset=int(offset))
        )


def _load_small(file) -> Any:
    """Load one of the header pickles, which must contain only plain Python values."""
    return _RestrictedUnpickler(file, {}).load()


def load_legacy_state_dict(path: str | Path) -> "collections.OrderedDict[str, np.ndarray]":
    """Read a legacy-format ``.pth`` state dict as ``OrderedDict[name, np.ndarray]`` (file order kept).

    Raises ``ValueError`` when the file is not in the legacy format (e.g. a modern zip checkpoint) and
    ``pickle.UnpicklingError`` when it asks for anything but tensors and dicts.

    Example (needs the real file; tests/test_torch_legacy.py runs it)::

        state = load_legacy_state_dict(pth_path)
        sum(a.size for a in state.values())   # 3538984
    """
    with open(path, "rb") as file:
        if file.read(2) == b"PK":
            raise ValueError(f"{path} is a zip-format torch checkpoint, not the legacy format")
        file.seek(0)
        if _load_small(file) != MAGIC_NUMBER:
            raise ValueError(f"{path} is not a legacy torch file (wrong magic number)")
        if _load_small(file) != PROTOCOL_VERSION:
            raise ValueError(f"{path}: unsupported torch protocol version")
        sys_info = _load_small(file)
        if not sys_info.get("little_endian", False):
            raise ValueError(f"{path} was written on a big-endian machine; not supported")

        storages: dict[str, _Storage] = {}
        obj = _RestrictedUnpickler(file, storages).load()
        keys = _load_small(file)
        for key in keys:
            storage = storages[str(key)]
            count = int(np.frombuffer(file.read(8), "<i8")[0])
            if count != storage.numel:
                raise ValueError(f"storage {key!r}: header says {storage.numel} elements, file has {count}")
            raw = file.read(count * storage.dtype.itemsize)
            if len(raw) != count * storage.dtype.itemsize:
                raise ValueError(f"{path} is truncated (storage {key!r})")
            storage.data = np.frombuffer(raw, storage.dtype.newbyteorder("<")).astype(storage.dtype)

    if not isinstance(obj, dict):
        raise ValueError(f"{path} does not hold a state dict (top level is {type(obj).__name__})")
    out: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
    for name, value in obj.items():
        if not isinstance(value, _LazyTensor):
            raise ValueError(f"{path}: entry {name!r} is not a tensor")
        out[name] = value.materialize()
    return out
