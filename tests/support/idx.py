"""MNIST's file format (IDX), written by the tests."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None) -> Path:
    """Write ``array`` (uint8, 1 or 3 dimensions) as a gzip-compressed IDX file."""
    dims = array.shape
    header = struct.pack(">I", magic if magic is not None else 0x800 + len(dims))
    header += b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as gz:
        gz.write(header + array.astype(np.uint8).tobytes())
    return path
