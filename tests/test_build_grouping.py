"""The per-person view's bucketed grouping (the build's last step)."""

from __future__ import annotations

import os
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import examples

import tracegraph as tg
from tracegraph import _parallel

ARRAYS = ("start", "end", "person", "venue_offsets", "class_offsets", "person_offsets",
          "person_stays")  # fmt: skip


@settings(max_examples=examples(0.5), deadline=None)
@given(
    data=st.data(),
    n_keys=st.integers(1, 5000),
    n=st.integers(0, 600),
    n_threads=st.integers(1, 5),
    max_buckets=st.sampled_from([1, 2, 7, 256]),
    bucket_rows=st.sampled_from([1, 3, 64]),
    skew=st.floats(0, 1),
    scratch_kind=st.sampled_from(["none", "int32", "int64_view", "short"]),
)
def test_group_by_key_sparse_keys_skew_and_scratch_kinds(
    data, n_keys, n, n_threads, max_buckets, bucket_rows, skew, scratch_kind
):
    """Many keys without rows (n_keys >> n), a key holding most rows, a build's scratch."""
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, n_keys, n).astype(np.int32)
    if n:
        keys[rng.random(n) < skew] = rng.integers(0, n_keys)
    expected = np.argsort(keys, kind="stable").astype(np.int32)
    expected_offsets = np.zeros(n_keys + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n_keys), out=expected_offsets[1:])
    out = np.full(n, -7, dtype=np.int32)
    scratch = {
        "none": None,
        "int32": np.full(n, 3, dtype=np.int32),
        # a consumed int64 `end` column viewed as int32 (twice as long)
        "int64_view": np.full(n, -1, dtype=np.int64).view(np.int32),
        "short": np.zeros(max(n - 1, 0), dtype=np.int32),  # too short: allocated instead
    }[scratch_kind]
    before = keys.copy()
    with (
        mock.patch.dict(os.environ, {"TRACEGRAPH_NUM_THREADS": str(n_threads)}),
        mock.patch.object(_parallel, "PARALLEL_MIN_ROWS", 1),
        mock.patch.object(_parallel, "MAX_BUCKETS", max_buckets),
        mock.patch.object(_parallel, "BUCKET_ROWS", bucket_rows),
    ):
        offsets = _parallel.group_by_key(keys, n_keys, out, scratch)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(offsets, expected_offsets)
    np.testing.assert_array_equal(keys, before)


@settings(max_examples=examples(0.3), deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 400),
    n_persons=st.integers(1, 60),
    n_venues=st.integers(1, 30),
    wide=st.booleans(),
    n_threads=st.integers(1, 3),
)
def test_a_build_consuming_its_columns_equals_one_that_does_not(
    seed, n, n_persons, n_venues, wide, n_threads
):
    """The consumed end column is the per-person sort's scratch: no kept array shares it."""
    rng = np.random.default_rng(seed)
    person = rng.integers(0, n_persons, n).astype(np.int32)
    venue = rng.integers(0, n_venues, n).astype(np.int32)
    start = rng.integers(0, 10 * 86400, n).astype(np.int64)
    end = start + rng.integers(0, 30 * 3600, n)
    if wide and n:
        end[0] = start[0] + 80 * 365 * 86400  # int64 index times
    persons = pa.array(np.arange(n_persons, dtype=np.int64))
    venues = pa.array(np.arange(n_venues, dtype=np.int64))
    with (
        mock.patch.dict(os.environ, {"TRACEGRAPH_NUM_THREADS": str(n_threads)}),
        mock.patch.object(_parallel, "PARALLEL_MIN_ROWS", 1),
        mock.patch.object(_parallel, "BUCKET_ROWS", 4),
    ):
        columns = [person, venue, start, end]
        want = tg.VenueIndex._from_codes(persons, venues, columns, 3600)
        end_in = end.copy()
        columns = [person.copy(), venue.copy(), start.copy(), end_in]
        got = tg.VenueIndex._from_codes(persons, venues, columns, 3600, consume=True)
    assert columns == []
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
        assert not np.shares_memory(getattr(got, name), end_in), name
    stays = got.person_stays
    for p in range(n_persons):  # rows ascending within a person, and theirs
        mine = stays[got.person_offsets[p] : got.person_offsets[p + 1]]
        assert (np.diff(mine) > 0).all()
        assert (got.person[mine] == p).all()
    assert got.person_offsets[-1] == n


@pytest.mark.parametrize("n_keys", [1, 2])
def test_group_by_key_one_or_two_keys_on_threads(n_keys):
    rng = np.random.default_rng(1)
    keys = rng.integers(0, n_keys, 70_000).astype(np.int32)
    out = np.empty(keys.shape[0], dtype=np.int32)
    with mock.patch.dict(os.environ, {"TRACEGRAPH_NUM_THREADS": "3"}):
        offsets = _parallel.group_by_key(keys, n_keys, out, None)
    np.testing.assert_array_equal(out, np.argsort(keys, kind="stable"))
    assert offsets[-1] == keys.shape[0]


def test_groups_out_of_start_order_are_sorted_alike_on_threads():
    """Stays in no time order: each (venue, class) group sorted by start, by runs of groups."""
    rng = np.random.default_rng(11)
    n = 60_000
    start = rng.integers(0, 14 * 86_400, n)
    ts = pa.timestamp("s", tz="UTC")
    table = pa.table(
        {
            "person": rng.integers(0, 500, n),
            "venue": rng.integers(0, 40, n),
            "start": pa.array(start).cast(ts),
            "end": pa.array(start + rng.integers(0, 20 * 3600, n)).cast(ts),
        }
    )
    with mock.patch.dict(os.environ, {"TRACEGRAPH_NUM_THREADS": "1"}):
        serial = tg.VenueIndex.from_stays(table)
    for threads in ("2", "3"):
        with (
            mock.patch.dict(os.environ, {"TRACEGRAPH_NUM_THREADS": threads}),
            mock.patch.object(_parallel, "PARALLEL_MIN_ROWS", 1),
        ):
            index = tg.VenueIndex.from_stays(table)
        for name in ARRAYS:
            np.testing.assert_array_equal(getattr(index, name), getattr(serial, name), name)
    offsets = serial.class_offsets
    for g in range(offsets.shape[0] - 1):  # every group in start order
        assert (np.diff(serial.start[offsets[g] : offsets[g + 1]]) >= 0).all()
