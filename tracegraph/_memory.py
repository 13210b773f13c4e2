"""Large per-call arrays from Arrow's memory pool, reused without page faults.

A trace of a large tier allocates tens of megabytes of scratch and result arrays
(per-thread keys, the contacts and their sort buffers, the ids) and frees them when
it returns. numpy takes such blocks from the C library's ``malloc``, which hands
blocks this large back to the operating system on ``free``; the next trace then
touches fresh pages and pays a page fault for each (measured on the benchmark machine:
a trace of 1,000 cases on city M, 988k contacts, ran ~8 % faster with no faults).
Arrow's memory pool (mimalloc or jemalloc) keeps freed blocks for reuse, so the same
arrays taken from it come back already mapped. The results are Arrow buffers anyway:
a table column wraps the array without a copy.

Only arrays made per call belong here; long-lived arrays (an index, the trace state
pool of :mod:`tracegraph.exposure`) stay ordinary numpy arrays.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

__all__ = ["concatenate", "empty"]


def empty(shape: int | tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised, writable, C-contiguous array from Arrow's default memory pool."""
    if isinstance(shape, tuple):
        dims = tuple(operator.index(d) for d in shape)
    else:  # an int, or a numpy integer
        dims = (operator.index(shape),)
    if any(d < 0 for d in dims):
        raise ValueError(f"expected non-negative dimensions, got {dims}")
    dt = np.dtype(dtype)
    n = int(np.prod(dims, dtype=np.int64))
    buffer = pa.allocate_buffer(max(n * dt.itemsize, 1))  # 64-byte aligned
    return np.frombuffer(buffer, dtype=dt, count=n).reshape(dims)


def concatenate(arrays: Sequence[np.ndarray], dtype: np.dtype | type) -> np.ndarray:
    """``np.concatenate(arrays)`` as ``dtype``, into an array of :func:`empty`."""
    out = empty(sum(a.shape[0] for a in arrays), dtype)
    at = 0
    for a in arrays:
        out[at : at + a.shape[0]] = a
        at += a.shape[0]
    return out
