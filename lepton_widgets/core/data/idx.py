"""Reader for the IDX format of (Fashion-)MNIST, plain or gzip-compressed.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in C order.

Example:
    >>> import gzip, io, struct, numpy as np
    >>> raw = struct.pack(">BBBB", 0, 0, 0x08, 2) + struct.pack(">II", 2, 3) + bytes(range(6))
    >>> read_idx(io.BytesIO(gzip.compress(raw))).tolist()
    [[0, 1, 2], [3, 4, 5]]
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

# Type codes from the format description; multi-byte values are big-endian.
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(source: Union[str, Path, BinaryIO]) -> np.ndarray:
    """Read an IDX file (path or binary file object; gzip is detected by its magic bytes)."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            data = handle.read()
    else:
        data = source.read()
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    return parse_idx(data, name=str(source) if isinstance(source, (str, Path)) else "IDX data")


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{name} is not an IDX file (bad magic number {data[:4].hex()})")
    dtype = np.dtype(_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{name} has {len(data) - header} data bytes; its header {shape} needs {expected}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # Native byte order and a writeable copy, so callers can treat it like any other array.
    return array.astype(dtype.newbyteorder("="))


def write_idx(array: np.ndarray, path: Union[str, Path]) -> None:
    """Write ``array`` as IDX (gzip when the name ends in ``.gz``); used by tests and tools."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}
    array = np.asarray(array)
    code = codes[array.dtype.newbyteorder("=")]
    body = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    body += array.astype(_DTYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(body) if path.suffix == ".gz" else body)
