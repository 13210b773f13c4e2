"""The read buffers' Populator must not keep buffers the read has replaced."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tracegraph import _read_stays


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Populator runs on Linux only")
@pytest.mark.xfail(
    strict=True,
    reason="review: Populator holds the int32 start/end buffers that _Times replaces when it "
    "widens to int64 (8 bytes per stay of capacity kept and faulted in until the read ends)",
)
def test_buffers_replaced_by_widening_are_freed_during_the_read(tmp_path, monkeypatch):
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
