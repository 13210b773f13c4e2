"""Stays given more than once: counted exactly, and a build that holds any warns.

An exact repeat (same person, venue, start and end) is a data error, most often the
same day's stays appended twice: it leaves who is a contact alone but counts again
in every count or sum over stays (edges, pairs, exposure hours, a case's CWA risk). The
kernel that counts repeats is checked against counting the rows in Python.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import examples, index_of, stays_table

import tracegraph as tg
from tracegraph import _kernels
from tracegraph import index as index_module

HOUR = 3600


def repeats_oracle(rows) -> int:
    """Rows minus distinct rows: every copy after the first is a repeat."""
    return sum(k - 1 for k in Counter(rows).values())


@st.composite
def stays_with_repeats(draw):
    """Stays on few venues and starts, so that runs of equal starts are long, some repeated.

    Durations are of a few sizes, from zero to years (ends 2**32 s or more apart differ
    in their high halves only, which the hash mixes in); runs of up to 8 rows are
    compared pair by pair, longer ones (up to 150) go through the kernel's hash table.
    """
    n_people = draw(st.integers(1, 40))
    starts = draw(st.lists(st.integers(0, 5 * HOUR), min_size=1, max_size=3))
    durations = st.sampled_from([0, 1, 600, HOUR, 2 * HOUR, 2**33])
    row = st.tuples(
        st.integers(0, n_people - 1), st.integers(0, 2), st.sampled_from(starts), durations
    )
    rows = draw(st.lists(row, min_size=1, max_size=120))
    extra = draw(st.lists(st.sampled_from(rows), max_size=30))
    order = draw(st.permutations(range(len(rows) + len(extra))))
    every = rows + extra
    return [(p, v, s, s + d) for p, v, s, d in (every[k] for k in order)]


@settings(max_examples=examples(1.0, 200))
@given(stays_with_repeats())
def test_repeated_stays_are_counted_exactly(rows):
    index = index_of(rows)
    assert index_module._repeated_stays(index) == repeats_oracle(rows)


@settings(max_examples=examples(1.0, 100))
@given(st.data())
def test_the_repeats_kernel_on_extreme_codes_and_durations(data):
    # one group, one start (int64 times): a single run of equal starts, longer than 64
    # rows, through the hash table: ends that differ only above 32 bits, the largest codes
    some = st.lists(st.sampled_from([0, 5, 2**32 - 1, 2**32, 2**33, 2**40]), min_size=1)
    durations = data.draw(some.map(sorted))
    row = st.tuples(st.sampled_from([0, 2**30, 2**31 - 1]), st.sampled_from(durations))
    pairs = data.draw(st.lists(row, min_size=65, max_size=120))
    every = pairs + data.draw(st.lists(st.sampled_from(pairs), max_size=20))
    start = np.full(len(every), 7, dtype=np.int64)
    end = np.array([7 + d for _, d in every], dtype=np.int64)
    person = np.array([p for p, _ in every], dtype=np.int32)
    offsets = np.array([0, len(every)], dtype=np.int64)
    got = _kernels.count_repeats(start, end, person, offsets)
    assert got == repeats_oracle(every)


def test_a_long_run_of_equal_starts_is_counted_through_the_hash_table():
    # 100 people arrive at once, five of them twice: one run of 105 rows (> 8)
    rows = [(p, 1, HOUR, HOUR + 60 * (p % 3)) for p in range(100)]
    rows += rows[:5]
    with pytest.warns(tg.DataWarning, match="5 of 105 stays repeat another"):
        index = index_of(rows)
    assert index_module._repeated_stays(index) == 5


@pytest.mark.parametrize("people", [8, 9, 1 << 11, (1 << 11) + 1, 5000])
def test_runs_at_each_of_the_kernels_limits(people):
    # a stadium's gates open: everyone at one second, some twice; runs of 8 rows
    # (pair by pair), 9 (the shared table), 2,048 (the table's last size) and beyond
    # (a table of the run's own), with every person's copy far from the original
    assert _kernels._REPEAT_PAIRWISE == 8 and _kernels._REPEAT_TABLE == 1 << 12
    rng = np.random.default_rng(people)
    firsts = [(p, 1, HOUR, HOUR + 60 * int(rng.integers(0, 4))) for p in range(people)]
    copies = [firsts[int(k)] for k in rng.integers(0, people, size=people // 3)]
    every = firsts + copies
    order = rng.permutation(len(every))
    start = np.full(len(every), HOUR, dtype=np.int64)
    end = np.array([every[k][3] for k in order], dtype=np.int64)
    person = np.array([every[k][0] for k in order], dtype=np.int32)
    for n in (people, len(every)):  # the first n rows: one run of n equal starts
        offsets = np.array([0, n], dtype=np.int64)
        got = _kernels.count_repeats(start[:n], end[:n], person[:n], offsets)
        assert got == repeats_oracle([every[k] for k in order[:n]])


@pytest.mark.parametrize("source", ["table", "parquet"])
def test_a_build_with_repeated_stays_warns(tmp_path, source):
    rows = [(1, 7, 0, HOUR), (2, 7, 0, HOUR), (2, 7, 0, HOUR), (3, 8, 0, HOUR)]
    data: object = stays_table(rows)
    if source == "parquet":
        pq.write_table(stays_table(rows), tmp_path / "s.parquet")
        data = tmp_path / "s.parquet"
    with pytest.warns(tg.DataWarning, match=r"1 of 4 stays repeat another stay exactly") as w:
        index = tg.VenueIndex.from_stays(data)
    assert w[0].filename == __file__  # the caller's line
    assert "drop_duplicates()" in str(w[0].message)
    # kept, as the warning says: the pair is counted once per copy, the contact once
    trace = tg.trace(index, [1])
    assert trace.contacts["person"].to_pylist() == [1, 2]
    assert trace.edges.num_rows == 2


def test_appending_the_same_stays_again_warns():
    rows = [(1, 7, 0, HOUR), (2, 7, 0, HOUR)]
    index = index_of(rows)
    with pytest.warns(tg.DataWarning, match=r"2 of 2 appended stays .*appended twice") as w:
        twice = index.append(stays_table(rows))
    assert w[0].filename == __file__
    assert twice.n_stays == 4
    # repeats already in the index were warned about when it was built: a later append
    # of new stays does not warn about them again (a daily append would, every day)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        later = twice.append(stays_table([(1, 7, 2 * HOUR, 3 * HOUR)]))
    with pytest.warns(tg.DataWarning, match=r"1 of 2 appended stays repeat"):
        later.append(stays_table([(1, 7, 2 * HOUR, 3 * HOUR), (3, 7, 0, HOUR)]))


def test_stays_without_repeats_build_without_warnings():
    # same person, venue and start but another end, or another person: not repeats
    rows = [(1, 7, 0, HOUR), (1, 7, 0, 2 * HOUR), (2, 7, 0, HOUR), (1, 8, 0, HOUR)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index = index_of(rows)
        index.append(stays_table([(3, 7, 0, HOUR)]))
    assert index_module._repeated_stays(index) == 0


def test_an_empty_index_has_no_repeats():
    empty = stays_table([]).cast(
        pa.schema(
            [
                ("person", pa.int64()),
                ("venue", pa.int64()),
                ("start", pa.timestamp("s", tz="UTC")),
                ("end", pa.timestamp("s", tz="UTC")),
            ]
        )
    )
    assert index_module._repeated_stays(tg.VenueIndex.from_stays(empty)) == 0
