"""Plain Python threads over GIL-free kernels: how many, and splitting work by row slices.

Numba's own ``parallel=True`` is not used (see :mod:`tracegraph._kernels`): the
kernels release the GIL, and work is split here over a thread pool, each thread on
its own slice of the input or its own range of keys.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from tracegraph import _kernels, _memory
from tracegraph.errors import ArgumentError

__all__ = [
    "PARALLEL_MIN_ROWS",
    "Tasks",
    "count_rows",
    "group_by_key",
    "key_runs",
    "limit_threads",
    "radix_sort",
    "resolve_threads",
    "run_all",
    "scatter_slices",
    "split_rows",
    "threads",
    "workers",
]

#: Work over fewer rows than this runs on one thread.
PARALLEL_MIN_ROWS = 1 << 20


#: A number of threads set for the calling thread's work (:func:`limit_threads`).
_LOCAL = threading.local()


@contextlib.contextmanager
def limit_threads(n_threads: int | None) -> Iterator[None]:
    """Within the block, :func:`threads` is ``n_threads`` on the calling thread.

    For ``trace(..., threads=)``: every helper here that asks :func:`threads` (the
    build of a tier's temporary index, say) then uses the trace's number. ``None``
    changes nothing. Other threads are not affected.
    """
    if n_threads is None:
        yield
        return
    saved = getattr(_LOCAL, "n_threads", None)
    _LOCAL.n_threads = max(1, n_threads)
    try:
        yield
    finally:
        _LOCAL.n_threads = saved


def threads() -> int:
    """Threads for large work: ``TRACEGRAPH_NUM_THREADS``, else the cores this process may use.

    Inside :func:`limit_threads` on this thread, its number instead.

    Raises
    ------
    ArgumentError
        ``TRACEGRAPH_NUM_THREADS`` is set to something other than a positive whole
        number (it was ignored, or clamped to 1, without a word).
    """
    chosen = getattr(_LOCAL, "n_threads", None)
    if chosen is not None:
        return int(chosen)
    raw = os.environ.get("TRACEGRAPH_NUM_THREADS", "")
    value = raw.strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise ArgumentError(
                f"environment variable TRACEGRAPH_NUM_THREADS: expected a positive whole "
                f"number of threads, got {raw!r}; unset it to use every core this process "
                f"may use"
            )
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


class Tasks:
    """The tasks one ``with workers(n)`` block submits to the shared pool."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool  # the shared executor
        self.futures: list[Future[Any]] = []  # what this block submitted

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on a worker thread (see ``Executor.submit``)."""
        future = self.pool.submit(fn, *args, **kwargs)
        self.futures.append(future)
        return future


@contextlib.contextmanager
def workers(n_threads: int) -> Iterator[Tasks]:
    """Submit tasks to a process-wide pool of ``n_threads`` worker threads.

    The pool is made on first use and kept: starting and joining a pool costs about
    0.4 ms, and a trace of a large tier splits several steps over threads, so they
    share one pool per thread count instead. As when leaving a ``ThreadPoolExecutor``
    block, leaving the ``with`` block waits for every task it submitted, also when
    one of them failed (then no task still writes into the caller's arrays when the
    error reaches it); the pool itself is not shut down. Tasks must not wait for
    other tasks of the pool (none of tracegraph's do); concurrent callers share the
    workers (their tasks queue). A child process made by ``fork`` starts with no
    pools (the parent's threads do not exist there).
    """
    with _POOLS_LOCK:
        pool = _POOLS.get(n_threads)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="tracegraph")
            _POOLS[n_threads] = pool
    tasks = Tasks(pool)
    try:
        yield tasks
    finally:
        wait(tasks.futures)


def _forget_pools() -> None:
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()  # a lock held by a parent thread at fork stays held


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def resolve_threads(n_threads: int | None) -> int:
    """``n_threads`` (at least 1), or :func:`threads` when None."""
    return threads() if n_threads is None else max(1, n_threads)


def split_rows(n_rows: int, work: Callable[[int, int], None]) -> None:
    """Run ``work(lo, hi)`` over equal slices of ``n_rows`` rows, one per thread.

    ``work`` must write only its own rows' outputs and release the GIL to run in
    parallel; fewer than :data:`PARALLEL_MIN_ROWS` rows run on the calling thread.
    """
    n_threads = threads()
    if n_threads == 1 or n_rows < PARALLEL_MIN_ROWS:
        work(0, n_rows)
        return
    bounds = [int(x) for x in np.linspace(0, n_rows, n_threads + 1)]
    with workers(n_threads) as pool:
        futures = [pool.submit(work, a, b) for a, b in itertools.pairwise(bounds)]
        for future in futures:
            future.result()


def count_rows(
    n_rows: int, offsets: np.ndarray, count: Callable[[int, int, np.ndarray], None]
) -> list[tuple[int, int, np.ndarray]]:
    """Counting-sort offsets from counts made over slices of the rows, on threads.

    ``count(lo, hi, counts)`` adds rows ``lo <= i < hi`` to ``counts`` (``counts[k + 1]``
    for key ``k``); ``offsets`` (all zero) receives the sums over all rows as running
    sums: ``offsets[k]`` is key ``k``'s first row. Each thread counts its own slice
    into its own array, so no count is shared; the sums are the serial counts
    exactly.

    Returns the slices ``(lo, hi, cursor)`` for the second pass, one per thread:
    ``cursor[k]`` is where the rows of key ``k`` in that slice start (after those of
    the slices before it), so threads scattering their slices from there write
    disjoint slots and keep the input order within each key.
    """
    # each thread's counts take 8 bytes a key: at most ~2 bytes a row in all
    n_threads = min(threads(), max(1, n_rows // (4 * offsets.shape[0])))
    if n_threads == 1 or n_rows < PARALLEL_MIN_ROWS:
        count(0, n_rows, offsets)
        np.cumsum(offsets, out=offsets)
        return [(0, n_rows, offsets[:-1].copy())]
    bounds = [int(x) for x in np.linspace(0, n_rows, n_threads + 1)]
    parts = [np.zeros_like(offsets) for _ in range(n_threads)]
    with workers(n_threads) as pool:
        futures = [
            pool.submit(count, a, b, part)
            for (a, b), part in zip(itertools.pairwise(bounds), parts, strict=True)
        ]
        for future in futures:
            future.result()
    for part in parts:
        np.add(offsets, part, out=offsets)
    np.cumsum(offsets, out=offsets)
    # each slice's cursors: the keys' first rows plus the counts of the slices before
    slices = []
    at = offsets[:-1].copy()
    for (a, b), part in zip(itertools.pairwise(bounds), parts, strict=True):
        after = at + part[1:]
        part[:-1] = at  # the slice's counts array becomes its cursors
        slices.append((a, b, part[:-1]))
        at = after
    return slices


def scatter_slices(slices: list[tuple[int, int, np.ndarray]], work: Callable[..., None]) -> None:
    """Run ``work(lo, hi, cursor)`` for each slice of :func:`count_rows`, on threads."""
    run_all([(work, piece) for piece in slices])


def radix_sort(
    values: np.ndarray,
    lo_bit: int,
    hi_bit: int,
    n_threads: int,
    payload: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Non-negative int64 ``values`` sorted by bits ``lo_bit..hi_bit`` (stable), on threads.

    The LSD radix sort of :func:`tracegraph._kernels._radix_sort_bits` with each pass
    split over ``n_threads`` contiguous slices: every thread counts its slice's
    digits, the counts give each (digit, thread) its place (thread order within a
    digit, so the sort stays stable), and every thread scatters its slice. The
    result is the serial one exactly. ``payload`` (one entry per value, any dtype)
    moves with the values. Returns ``(values, payload)`` sorted: the input arrays
    or buffers (after an even number of passes, the inputs), the inputs overwritten.
    """
    n = values.shape[0]
    bits = hi_bit - lo_bit
    if payload is not None and payload.shape[0] != n:
        raise ValueError(f"expected a payload of {n} entries, got {payload.shape[0]}")
    if n < 2 or bits <= 0:
        return values, payload
    if n_threads <= 1 and payload is None:
        return _kernels._radix_sort_bits(values, lo_bit, hi_bit), None
    n_threads = max(1, min(n_threads, n // 2))
    passes, digit = (int(x) for x in _kernels._radix_digits(bits))
    size = 1 << digit
    bounds = [int(x) for x in np.linspace(0, n, n_threads + 1)]
    slices = list(itertools.pairwise(bounds))
    buf = _memory.empty(n, values.dtype)
    no_payload = values[:0]
    carried = payload if payload is not None else no_payload
    carried_buf = _memory.empty(n, payload.dtype) if payload is not None else no_payload
    counts = np.zeros((n_threads, size), dtype=np.int64)
    with workers(n_threads) as pool:
        for k in range(passes):
            shift = lo_bit + k * digit
            mask = (1 << min(digit, bits - k * digit)) - 1  # the last digit may be narrower
            counts[:] = 0
            src = values
            for future in [
                pool.submit(_kernels.radix_counts, src[a:b], shift, mask, counts[t])
                for t, (a, b) in enumerate(slices)
            ]:
                future.result()
            # place of (digit d, thread t): everything of smaller digits, then of
            # digit d in earlier threads
            flat = counts.T.ravel()
            offsets = (np.cumsum(flat) - flat).reshape(size, n_threads).T.copy()
            dst = buf
            futures = []
            for t, (a, b) in enumerate(slices):
                part = carried[a:b] if carried.shape[0] else no_payload
                args = (src[a:b], shift, mask, offsets[t], dst, part, carried_buf)
                futures.append(pool.submit(_kernels.radix_scatter, *args))
            for future in futures:
                future.result()
            values, buf = dst, src
            carried, carried_buf = carried_buf, carried
    return values, (carried if payload is not None else None)


#: Rows per bucket that :func:`group_by_key` aims at: a bucket's rows, keys and
#: counts (12 bytes a row) stay in a core's cache while they are sorted.
BUCKET_ROWS = 1 << 16
#: At most this many buckets: the first pass writes to two cache lines per bucket.
MAX_BUCKETS = 1 << 8


def group_by_key(
    keys: np.ndarray, n_keys: int, out: np.ndarray, scratch: np.ndarray | None = None
) -> np.ndarray:
    """Row numbers grouped by key, ascending within a key, and the keys' offsets.

    ``keys`` (int32, each in ``[0, n_keys)``) is read only. ``out`` (int32, one slot
    a row) receives the rows: key ``k``'s are ``out[offsets[k]:offsets[k + 1]]``, in
    ascending order; the offsets (int64, ``n_keys + 1``) are returned. The result is
    that of a stable counting sort by key, made in two passes that each write to few
    places at a time: the rows are partitioned into buckets of consecutive keys
    (about :data:`BUCKET_ROWS` rows each, at most :data:`MAX_BUCKETS`), then each
    bucket is sorted by key within its slots
    (:func:`tracegraph._kernels.sort_bucket_rows`). A direct counting sort writes
    each row to its key's next slot: with a million keys, a cache miss for nearly
    every row. ``scratch``: int32 memory the passes may write over (at least
    ``len(keys)`` items, else it is allocated; what it has beyond that serves the
    second pass too). Threads take consecutive slices of the rows in the first
    pass, and runs of buckets of about equal rows in the second.
    """
    n = keys.shape[0]
    offsets = np.zeros(n_keys + 1, dtype=np.int64)
    if n == 0:
        return offsets
    goal = min(MAX_BUCKETS, max(1, n // BUCKET_ROWS))
    shift = 0
    while ((n_keys - 1) >> shift) + 1 > goal:
        shift += 1
    n_buckets = ((n_keys - 1) >> shift) + 1
    if scratch is None or scratch.shape[0] < n:
        scratch = _memory.small_pages(n, np.int32)
    part_keys, spare = scratch[:n], scratch[n:]
    n_threads = threads() if n >= PARALLEL_MIN_ROWS else 1
    bounds = [int(x) for x in np.linspace(0, n, n_threads + 1)]
    slices = list(itertools.pairwise(bounds))
    counts = np.zeros((n_threads, n_buckets), dtype=np.int64)
    run_all(
        [(_kernels.count_buckets, (keys[a:b], shift, counts[t])) for t, (a, b) in enumerate(slices)]
    )
    bucket_offsets = np.zeros(n_buckets + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0), out=bucket_offsets[1:])
    # each slice's first slot in each bucket: after the slices before it
    cursors = bucket_offsets[:-1] + np.cumsum(counts, axis=0) - counts
    run_all(
        [
            (_kernels.partition_rows, (keys[a:b], a, shift, cursors[t], part_keys, out))
            for t, (a, b) in enumerate(slices)
        ]
    )
    # runs of buckets of about equal rows, one per thread, each with room for its
    # largest bucket (from what the caller's scratch has left, else new)
    tasks = []
    for b_lo, b_hi in key_runs(bucket_offsets):
        largest = int(np.diff(bucket_offsets[b_lo : b_hi + 1]).max())
        if spare.shape[0] >= largest:
            room, spare = spare[:largest], spare[largest:]
        else:
            room = _memory.small_pages(largest, np.int32)
        args = (part_keys, out, bucket_offsets, shift, n_keys, b_lo, b_hi, offsets, room)
        tasks.append((_kernels.sort_bucket_rows, args))
    run_all(tasks)
    return offsets


def key_runs(offsets: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive keys of about equal rows, one per thread (none empty).

    ``offsets[k]`` is key ``k``'s first row (``offsets[-1]`` all rows): the runs
    ``(lo, hi)`` of keys ``lo <= k < hi`` for threads that each take one; a single
    run for fewer than :data:`PARALLEL_MIN_ROWS` rows.
    """
    n = int(offsets[-1])
    n_keys = offsets.shape[0] - 1
    n_threads = threads() if n >= PARALLEL_MIN_ROWS else 1
    cuts = np.searchsorted(offsets, np.linspace(0, n, n_threads + 1)[1:-1])
    edges = [0, *(int(c) for c in cuts), n_keys]
    return [(lo, hi) for lo, hi in itertools.pairwise(edges) if lo < hi]


def run_all(tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
    """Run ``fn(*args)`` for each task, on threads when there are several; errors raised."""
    if len(tasks) <= 1:
        for fn, args in tasks:
            fn(*args)
        return
    with workers(len(tasks)) as pool:
        for future in [pool.submit(fn, *args) for fn, args in tasks]:
            future.result()
