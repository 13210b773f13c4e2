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

Only arrays made per call belong in :func:`empty`; long-lived arrays (the trace state
pool of :mod:`tracegraph.exposure`) stay ordinary numpy arrays, but for a build's
large columns, which come from :func:`small_pages` (memory in 4 KiB pages, cheaper
to touch for the first time where huge pages are dear).
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import operator
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["Populator", "concatenate", "empty", "small_pages"]

#: Arrays smaller than this come from numpy (which asks for no huge pages below 4 MiB).
SMALL_PAGES_FROM = 4 << 20


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


def small_pages(n: int, dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised 1-d array of ``n`` items, in memory mapped for it in 4 KiB pages.

    For the large arrays a build fills once (the read buffers, which then become the
    index's columns). numpy asks Linux for transparent huge pages for every array of
    4 MiB or more; memory a process has not used before then comes in fresh 2 MiB
    pages, which are dear where the kernel has to assemble them or a hypervisor to
    back them: on the benchmark machine (a Firecracker VM) the first write to such
    memory cost 2.5-2.9 s per GiB in huge pages against 0.4-0.7 s in 4 KiB pages
    (``python -m benchmarks.first_touch``), the larger part of a build in a fresh
    process. An anonymous map advised ``MADV_NOHUGEPAGE`` keeps the small pages; the
    memory is given back when the array and its views are gone. Where there is no
    such advice (not Linux), or for small arrays, a plain ``numpy.empty``.
    """
    dt = np.dtype(dtype)
    nbytes = operator.index(n) * dt.itemsize
    advice = getattr(mmap, "MADV_NOHUGEPAGE", None)
    private = getattr(mmap, "MAP_PRIVATE", None)
    if nbytes < SMALL_PAGES_FROM or advice is None or private is None:
        return np.empty(n, dtype=dt)
    try:
        # private: a forked process gets its own copy on write, as of numpy's memory
        # (a shared map would let a child's writes change the parent's index)
        block = mmap.mmap(
            -1, nbytes, flags=private | mmap.MAP_ANONYMOUS, prot=mmap.PROT_READ | mmap.PROT_WRITE
        )
    except OSError as exc:
        if exc.errno == errno.ENOMEM:  # as numpy says it
            raise MemoryError(
                f"Unable to allocate {nbytes / 2**20:.0f} MiB for an array of {n} {dt}"
            ) from None
        raise
    with contextlib.suppress(OSError):  # (no transparent huge pages: small pages anyway)
        block.madvise(advice)
    return np.frombuffer(block, dtype=dt, count=n)


#: ``madvise`` advice that faults pages in for writing without changing them (Linux 5.14+).
_MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)
#: Bytes of each array populated per call (the thread checks whether to stop in between).
_POPULATE_CHUNK = 8 << 20


class Populator:
    """Fault in the pages of arrays on a background thread, ahead of their writer.

    Memory this machine's process has not used before costs a page fault per 4 KiB
    on first write (see :func:`small_pages`); a build writing its read buffers pays
    them on the thread that encodes the batches, whose work is then the read's
    critical path. This thread asks Linux to provide the pages
    (``MADV_POPULATE_WRITE``: their contents are not changed, so it may run while the
    arrays are being written), the arrays in step, from their first rows on, so that
    the writer finds them present. ``arrays`` is called before each chunk and gives
    the arrays as they are then (a buffer the writer has replaced is let go and its
    successor populated from there on); only arrays of :func:`small_pages`' own maps
    (page-aligned, private, anonymous) of at least ``SMALL_PAGES_FROM`` bytes are
    populated. It does nothing where that advice does not exist (not Linux, or a
    kernel before 5.14) and stops at the first refusal; ``close`` stops it (at its
    next chunk) and waits for it.
    """

    def __init__(self, arrays: Callable[[], Sequence[np.ndarray]]) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not sys.platform.startswith("linux") or not _populated(arrays()):
            return
        self._thread = threading.Thread(
            target=self._run, args=(arrays,), name="tracegraph-populate", daemon=True
        )
        self._thread.start()

    def _run(self, arrays: Callable[[], Sequence[np.ndarray]]) -> None:
        import ctypes  # (only here: ~5 ms of a cold start otherwise)

        try:
            madvise = ctypes.CDLL(None, use_errno=True).madvise
        except (OSError, AttributeError):
            return
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise.restype = ctypes.c_int
        at = 0
        while not self._stop.is_set():
            blocks = _populated(arrays())  # (each held here while it is advised)
            if not any(at < a.nbytes for a in blocks):
                return
            for a in blocks:
                if self._stop.is_set():
                    return
                size = a.nbytes
                if at < size and madvise(
                    a.ctypes.data + at, min(_POPULATE_CHUNK, size - at), _MADV_POPULATE_WRITE
                ):
                    return  # not supported here (or no memory: the writer will say so)
            at += _POPULATE_CHUNK

    def close(self) -> None:
        """Stop populating (at the next chunk) and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Populator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _populated(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The arrays :class:`Populator` advises: large, starting at a page."""
    return [
        a for a in arrays if a.nbytes >= SMALL_PAGES_FROM and a.ctypes.data % mmap.PAGESIZE == 0
    ]
