"""Per-call arrays from Arrow's memory pool (tracegraph._memory)."""

from __future__ import annotations

import gc
import os
import sys
import weakref

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracegraph import _memory, _read_stays


@pytest.mark.parametrize("dtype", [np.int8, np.uint32, np.int64, np.float64])
@pytest.mark.parametrize("shape", [0, 1, 1000, np.int64(7), (3, 5), (2, 0), (np.int32(2), 3)])
def test_empty_is_a_writable_contiguous_array_of_the_shape(shape, dtype):
    a = _memory.empty(shape, dtype)
    assert a.shape == ((int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape))
    assert a.dtype == np.dtype(dtype)
    assert a.flags.c_contiguous and a.flags.writeable
    a[...] = 7
    assert (a == 7).all()
    assert a.ctypes.data % 64 == 0  # Arrow's alignment


def test_empty_memory_is_counted_by_arrow_and_wrapped_without_a_copy():
    before = pa.total_allocated_bytes()
    a = _memory.empty(1 << 20, np.int64)
    assert pa.total_allocated_bytes() - before >= 8 << 20
    a[:] = np.arange(a.shape[0])
    column = pa.array(a)
    assert column.buffers()[1].address == a.ctypes.data
    del a, column
    assert pa.total_allocated_bytes() - before < 8 << 20  # handed back to the pool


def test_empty_rejects_negative_dimensions():
    with pytest.raises(ValueError, match="non-negative"):
        _memory.empty((2, -1), np.int32)


@given(st.lists(st.lists(st.integers(-(2**31), 2**31 - 1), max_size=20), max_size=6))
def test_concatenate_equals_numpy(parts):
    arrays = [np.array(p, dtype=np.int64) for p in parts]
    got = _memory.concatenate(arrays, np.int32)
    expected = np.concatenate(arrays).astype(np.int32) if arrays else np.empty(0, np.int32)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)


def _vm_flags(address: int) -> list[str] | None:
    """The VmFlags of the mapping holding ``address`` in /proc/self/smaps (Linux), or None."""
    try:
        with open("/proc/self/smaps") as smaps:
            lines = smaps.read().splitlines()
    except OSError:
        return None
    inside = False
    for line in lines:
        head = line.split()[0] if line else ""
        if "-" in head and all(c in "0123456789abcdef-" for c in head):
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= address < hi
        elif inside and line.startswith("VmFlags:"):
            return line.split()[1:]
    return None


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("n", [0, 1, 1000, (8 << 20) + 3])
def test_small_pages_is_a_writable_array_of_n_items(n, dtype):
    a = _memory.small_pages(n, dtype)
    assert a.shape == (n,) and a.dtype == np.dtype(dtype)
    assert a.flags.c_contiguous and a.flags.writeable
    a[:] = 5
    assert (a == 5).all()
    view = a[1:3]
    del a
    assert (view == 5).all()  # views keep the memory alive


def test_large_small_pages_arrays_are_advised_out_of_huge_pages():
    a = _memory.small_pages(8 << 20, np.int32)  # 32 MiB
    flags = _vm_flags(a.ctypes.data)
    if flags is None:
        pytest.skip("no /proc/self/smaps here (not Linux)")
    assert "nh" in flags  # MADV_NOHUGEPAGE
    small = _memory.small_pages(1000, np.int32)  # below the threshold: numpy's own
    assert small.base is None or not isinstance(small.base, memoryview)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_small_pages_are_copied_on_write_in_a_forked_process():
    # an index's columns are values: a forked child writing its copy leaves the parent's
    a = _memory.small_pages(8 << 20, np.int32)
    a[:] = 1
    pid = os.fork()
    if pid == 0:  # the child
        a[:] = -7
        os._exit(0 if a[0] == -7 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (a == 1).all()


def test_small_pages_beyond_memory_is_a_memory_error():
    with pytest.raises(MemoryError, match="Unable to allocate"):
        _memory.small_pages(2**44, np.int32)  # 64 TiB


def _minor_faults() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="MADV_POPULATE_WRITE is Linux's (5.14+)"
)
def test_populator_faults_pages_in_without_changing_what_is_written():
    a = _memory.small_pages(16 << 20, np.int32)  # 64 MiB: 16,384 pages of 4 KiB
    b = _memory.small_pages(2 << 20, np.int32)
    a[:1000] = np.arange(1000)  # written before and while it runs: kept
    with _memory.Populator(lambda: [a, b]) as populator:
        a[1000:2000] = 5
    assert populator._thread is None  # closed
    assert (a[:1000] == np.arange(1000)).all() and (a[1000:2000] == 5).all()
    # Populator stops at its next chunk when closed: populate all, then write all
    populator = _memory.Populator(lambda: [a])
    populator._thread.join()  # (runs to the end)
    populator.close()
    before = _minor_faults()
    a[:] = 1
    faults = _minor_faults() - before
    kernel = tuple(int(x) for x in os.uname().release.split(".")[:2] if x.isdigit())
    if kernel >= (5, 14):
        assert faults < 1000  # present already (16,384 without it)


def test_populator_ignores_small_or_unaligned_arrays_and_closes_twice():
    with _memory.Populator(lambda: [np.zeros(10), np.empty(0)]) as populator:
        assert populator._thread is None  # nothing to do
    populator.close()
    big = np.zeros(2 << 20, np.int32)  # numpy's memory: populated as well, or refused
    with _memory.Populator(lambda: [big]):
        big[:] = 3
    assert (big == 3).all()
    # an array not starting at a page is left alone, the others are still populated
    block = _memory.small_pages(4 << 20, np.int32)
    skewed = block.view(np.uint8)[8 : (8 << 20) + 8].view(np.int32)
    kept = _memory._populated([skewed, block])
    assert len(kept) == 1 and kept[0] is block


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Populator runs on Linux only")
def test_populator_lets_go_of_read_buffers_replaced_by_widening(tmp_path, monkeypatch):
    n = 1_200_000  # int32 buffers of >= 4 MiB: populated
    ts = pa.timestamp("s", tz="UTC")
    start = np.full(n, 1_600_000_000, dtype=np.int64)
    start[-10:] += 80 * 365 * 86400  # beyond int32 offsets: the times widen near the end
    table = pa.table(
        {
            "person": np.arange(n) % 1000,
            "venue": np.arange(n) % 50,
            "start": pa.array(start).cast(ts),
            "end": pa.array(start + 60).cast(ts),
        }
    )
    pq.write_table(table, tmp_path / "s.parquet", row_group_size=200_000)
    alive: list[bool] = []
    append = _read_stays._Times.append

    def spy(self, batch, tz, row0):  # type: ignore[no-untyped-def]
        old = self.start.data
        append(self, batch, tz, row0)
        if self.start.data is not old and old.base is not None:
            ref = weakref.ref(old.base)
            del old
            gc.collect()
            alive.append(ref() is not None)

    monkeypatch.setattr(_read_stays._Times, "append", spy)
    codes = _read_stays.read_stay_codes(tmp_path / "s.parquet", tz=None)
    assert codes.start.dtype == np.int64 and alive == [False]
