"""Tracing split over threads (the parallel twin) gives exactly the serial answer.

Large tiers are matched on several threads, each on a slice of the queries with its
own copy of the earliest-exposure arrays, combined at the end. These tests force the
split on small cities (the threshold is lowered) and compare with one thread and with
the oracle, including the venue of each person's first exposure.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import re
import threading
import time
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import config as numba_config
from numba import njit
from oracle import trace_oracle
from strategies import (
    case_windows,
    cities,
    examples,
    random_stays,
    result_to_plain,
    stays_table,
)

import tracegraph as tg
from tracegraph import _kernels, _parallel, exposure
from tracegraph._parallel import radix_sort
from tracegraph.exposure import _contacts_order, _resolve_cases, _trace_codes


@pytest.fixture
def split_always(monkeypatch):
    monkeypatch.setattr(exposure, "_PARALLEL_MIN_QUERIES", 1)
    monkeypatch.setattr(exposure, "_PACKED_MIN_QUERIES", 1)
    monkeypatch.setattr(exposure, "_PARALLEL_MIN_CONTACTS", 1)


def run(index, cases, threads, direction="forward", **kwargs):
    resolved = _resolve_cases(index, cases, "raise")
    return _trace_codes(
        index,
        resolved,
        tiers=kwargs.get("tiers", 2),
        min_overlap=kwargs.get("min_overlap", 0),
        linger=0,
        latency=0,
        infectious_for=None,
        direction=direction,
        policy=tg.MatchPolicy.named(kwargs.get("policy", "tracegraph")),
        threads=threads,
    )


@settings(
    max_examples=examples(0.3),
    # the fixture only lowers a threshold, the same for every example
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(city=cities(modes=("grid", "fine")), data=st.data())
def test_threads_match_serial_and_oracle(split_always, city, data):
    cases = [c for c in data.draw(case_windows(city, windows=False)) if c in city.people]
    min_overlap = data.draw(st.sampled_from([0, 60, 900]))
    threads = data.draw(st.integers(2, 5))
    # forward: packed keys (32-bit times; first venues found again when asked) or the
    # general kernel, as drawn; reverse: the general kernel
    direction = data.draw(st.sampled_from(["forward", "reverse"]))
    packed = data.draw(st.booleans())
    index = tg.VenueIndex.from_stays(stays_table(city.stays))
    with mock.patch.object(exposure, "_PACKED_MIN_QUERIES", 1 if packed else 2**62):
        serial = run(index, cases, 1, direction, min_overlap=min_overlap)
        parallel = run(index, cases, threads, direction, min_overlap=min_overlap)
    assert parallel.contacts.equals(serial.contacts)
    np.testing.assert_array_equal(parallel._pairs.first_venue, serial._pairs.first_venue)
    expected = trace_oracle(city.stays, dict.fromkeys(cases), tiers=2, min_overlap=min_overlap)
    assert result_to_plain(parallel) == expected
    # the first-exposure venue: the smallest venue among the person's earliest edges
    contacts, edges = expected
    venues = index.venues.to_pylist()
    for person, (tier, when) in contacts.items():
        if tier == 0:
            continue
        first = min(v for _, t, v, s, _, _ in edges if t == person and s == when)
        code = int(index.person_codes(pa.array([person]))[0])
        assert venues[parallel._pairs.first_venue[code]] == first


def test_first_venues_of_packed_tiers_are_found_when_asked():
    # large tiers keep only times while tracing; the venue of each person's earliest
    # exposure is found again on demand and must be what the general kernel records
    table = random_stays(5, 40_000, persons=6_000, venues=300, days=14, max_stay=3 * 3600)
    index = tg.VenueIndex.from_stays(table)
    cases = np.unique(table["person"].to_numpy()[:5]).tolist()
    for policy in ("tracegraph", "crowdnotifier"):  # half-open and closed intervals
        results = {}
        for packed in (True, False):
            with mock.patch.object(exposure, "_PACKED_MIN_QUERIES", 1 if packed else 2**62):
                results[packed] = run(index, cases, 2, tiers=3, policy=policy)
        lazy, eager = results[True], results[False]
        assert lazy._pairs.unrecorded == (1, 2, 3)  # every tier matched with packed keys
        assert eager._pairs.unrecorded == ()
        assert lazy.contacts.equals(eager.contacts)
        assert lazy.tier_counts()[3] > 100
        assert (eager._pairs.code_first_venue[eager._pairs.code_tier > 0] >= 0).all()
        np.testing.assert_array_equal(lazy._pairs.code_first_venue, eager._pairs.code_first_venue)
        assert lazy.first_exposure_venues(10**6).equals(eager.first_exposure_venues(10**6))


@pytest.mark.parametrize("policy", ["tracegraph", "crowdnotifier"])
def test_packed_keys_reach_the_last_second_of_int32_time(split_always, policy):
    # index times are int32 seconds after the first start while the stays span less
    # than 2**31 s; keys store overlap start + 1 (uint32 while tracing; shifted left of
    # the venue in the int64 keys that find first venues again): the last second must
    # come back exactly, and its venue too
    last = 2**31 - 1
    t0 = 1_600_000_000
    rows = [
        (1, 9, t0, t0 + 1),
        (2, 5, t0 + last - 10, t0 + last),
        (3, 5, t0 + last - 4, t0 + last),
        (4, 5, t0 + last, t0 + last),
    ]
    index = tg.VenueIndex.from_stays(stays_table(rows))
    assert index.start.dtype == np.int32  # the packed path applies
    result = tg.trace(index, [2], policy=policy)
    assert result._pairs.unrecorded == (1,)
    got = dict(zip(*(result.contacts[c].to_pylist() for c in ("person", "tier")), strict=True))
    # closed intervals (crowdnotifier) also reach the zero-length stay at the last second
    assert got == ({2: 0, 3: 1, 4: 1} if policy == "crowdnotifier" else {2: 0, 3: 1})
    when = result.contacts.filter(pa.compute.equal(result.contacts["person"], 3))["exposed_at"]
    assert when[0].value // 1_000_000 == t0 + last - 4
    if policy == "crowdnotifier":
        when = result.contacts.filter(pa.compute.equal(result.contacts["person"], 4))["exposed_at"]
        assert when[0].value // 1_000_000 == t0 + last
    venues = result.first_exposure_venues(10)  # found again with int64 (time, venue) keys
    assert venues["venue"].to_pylist() == [5]
    assert venues["exposed"].to_pylist() == [len(got) - 1]


def test_first_venue_ties_go_to_the_smallest_venue_code(split_always):
    # a contact exposed at the same instant at two venues: the venue with the smaller
    # code is its first venue, whether tracing recorded it or found it again
    t0 = 1_600_000_000
    rows = [
        (1, 7, t0 + 100, t0 + 200),
        (1, 3, t0 + 100, t0 + 200),
        (2, 3, t0 + 80, t0 + 120),
        (2, 7, t0 + 50, t0 + 150),
    ]
    index = tg.VenueIndex.from_stays(stays_table(rows))
    smaller = min(index.venue_codes(pa.array([3, 7])))
    expected = index.venues[int(smaller)].as_py()
    for packed in (True, False):
        with mock.patch.object(exposure, "_PACKED_MIN_QUERIES", 1 if packed else 2**62):
            result = run(index, [1], 2, tiers=1)
        assert result._pairs.unrecorded == ((1,) if packed else ())
        assert result.contacts["exposed_at"][1].value // 1_000_000 == t0 + 100
        assert result.first_exposure_venues(5)["venue"].to_pylist() == [expected]


def test_large_tier_on_threads_equals_serial():
    table = random_stays(11, 100_000, persons=20_000, venues=300, days=14, max_stay=4 * 3600)
    index = tg.VenueIndex.from_stays(table)
    cases = np.unique(table["person"].to_numpy()[:3000]).tolist()
    serial = run(index, cases, 1, tiers=3, min_overlap=600)
    assert serial.contacts.num_rows > 5000
    for direction in ("forward", "reverse"):
        parallel = run(index, cases, 2, direction, tiers=3, min_overlap=600)
        assert parallel.contacts.equals(serial.contacts)
        np.testing.assert_array_equal(parallel._pairs.first_venue, serial._pairs.first_venue)
    # and the default (auto direction, threads from the machine) agrees too
    assert tg.trace(index, cases, tiers=3, min_overlap=600).contacts.equals(serial.contacts)


@settings(max_examples=examples(0.3), deadline=None)
@given(
    values=st.lists(st.integers(0, 2**40), max_size=300),
    lo_bit=st.integers(0, 12),
    width=st.integers(0, 30),
    n_threads=st.integers(1, 5),
)
def test_radix_sort_on_threads_is_the_serial_stable_sort(values, lo_bit, width, n_threads):
    keys = np.array(values, dtype=np.int64)
    hi_bit = lo_bit + width
    digit = (keys >> lo_bit) & ((1 << width) - 1)
    order = np.argsort(digit, kind="stable")  # stable: ties keep input order
    expected = keys[order]
    got, none = radix_sort(keys.copy(), lo_bit, hi_bit, n_threads)
    assert none is None
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(_kernels._radix_sort_bits(keys.copy(), lo_bit, hi_bit), expected)
    # a payload (here: each key's input position, as uint16) moves with its key
    position = np.arange(keys.shape[0], dtype=np.uint16)
    got, moved = radix_sort(keys.copy(), lo_bit, hi_bit, n_threads, position.copy())
    np.testing.assert_array_equal(got, expected)
    assert moved is not None and moved.dtype == np.uint16
    np.testing.assert_array_equal(moved, position[order])


def test_radix_sort_refuses_a_payload_of_another_length():
    with pytest.raises(ValueError, match="expected a payload of 3 entries, got 2"):
        radix_sort(np.arange(3), 0, 4, 2, np.arange(2))


@settings(max_examples=examples(0.3), deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(-1, 4), st.integers(-(10**6), 10**6)), min_size=1, max_size=200
    ),
    wide=st.booleans(),
    n_threads=st.integers(2, 4),
    consecutive=st.booleans(),
)
def test_contacts_order_on_threads_equals_serial(rows, wide, n_threads, consecutive):
    # every person with a tier (-1: not traced), exposure times near or (wide) centuries
    # apart: packed keys sorted on threads, or the serial fallback for wide keys
    tier = np.array([t for t, _ in rows], dtype=np.int8)
    # (2**20: thousands of years apart, still microseconds within int64)
    earliest = np.array([w * (2**20 if wide else 1) for _, w in rows], dtype=np.int64)
    codes = np.flatnonzero(tier >= 0).astype(np.int32)
    codes = codes[np.argsort(tier[codes], kind="stable")]  # ascending within each tier
    # ids moved with the keys through the sort, or (consecutive) written from the codes
    ids = np.arange(tier.shape[0], dtype=np.int64) * (1 if consecutive else 7) - 3
    # the span as tracing knows it (the cases first, then the exposed persons)
    exposed = tier[codes] > 0
    times = earliest[codes[exposed]]
    span = (
        int((~exposed).sum()),
        int(exposed.sum()),
        int(tier.max()) if exposed.any() else 1,
        int(times.min()) if exposed.any() else 0,
        int(times.max()) if exposed.any() else 0,
    )
    found = _kernels._contacts_span(codes, tier, earliest)  # what the serial kernel finds
    assert tuple(int(x) for x in found) == span or not exposed.any()
    serial = _contacts_order(codes, tier, earliest, span=span, ids=ids, threads=1)
    with mock.patch.object(exposure, "_PARALLEL_MIN_CONTACTS", 1):
        parallel = _contacts_order(codes, tier, earliest, span=span, ids=ids, threads=n_threads)
        without_ids = _contacts_order(codes, tier, earliest, span=span, threads=n_threads)
    assert without_ids[3] is None
    for got, exp in zip(parallel, serial, strict=True):
        np.testing.assert_array_equal(got, exp)
    for got, exp in zip(without_ids[:3], serial[:3], strict=True):
        np.testing.assert_array_equal(got, exp)
    code, t, micros, got_ids = serial
    exposed = t > 0
    order = np.lexsort((code[exposed], earliest[code[exposed]], t[exposed]))
    np.testing.assert_array_equal(order, np.arange(order.shape[0]))
    np.testing.assert_array_equal(micros[exposed], earliest[code[exposed]] * 1_000_000)
    np.testing.assert_array_equal(micros[~exposed], 0)
    np.testing.assert_array_equal(code[~exposed], np.flatnonzero(tier == 0))
    np.testing.assert_array_equal(got_ids, ids[code])


@pytest.mark.parametrize("unknown", ["drop", "keep"])
def test_text_ids_of_many_contacts_taken_on_threads_are_the_same(unknown, monkeypatch):
    # text ids of the contacts are gathered in two halves on two threads (two chunks
    # of one column): the same table as on one thread, also with unknown cases kept
    # between the known cases and the contacts
    city = tg.synth.generate_city(400, days=3, ids="str", seed=8)
    index = tg.VenueIndex.from_stays(city.stays)
    cases = [*index.persons.to_pylist()[:5], "nobody-1", "nobody-2"]
    monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", "1")
    one = tg.trace(index, cases, tiers=2, unknown=unknown)
    serial, serial_edges = one.contacts, one.edges
    monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", "2")
    with mock.patch.object(exposure, "_PARALLEL_MIN_CONTACTS", 1):
        two = tg.trace(index, cases, tiers=2, unknown=unknown)
        threaded, threaded_edges = two.contacts, two.edges
    assert serial.num_rows > 100
    assert threaded.equals(serial)
    # the edges' source and target ids likewise
    assert serial_edges.num_rows > 100
    assert threaded_edges["source"].num_chunks == threaded_edges["target"].num_chunks == 2
    assert threaded_edges.equals(serial_edges)
    # and the graph lists its edges in the same order (GraphML files alike)
    assert list(two.to_networkx().edges(data=True)) == list(one.to_networkx().edges(data=True))
    if unknown == "drop":
        assert threaded["person"].num_chunks == 2
    assert threaded["person"].type == pa.string()
    assert exposure._take_ids(index.persons, np.array([3, 1], np.int32), threads=2).to_pylist() == [
        index.persons[3].as_py(),
        index.persons[1].as_py(),
    ]


def test_worker_pools_are_kept_and_shared():
    with _parallel.workers(2) as first:
        squares = [f.result() for f in [first.submit(pow, k, 2) for k in range(5)]]
    assert squares == [0, 1, 4, 9, 16]
    with _parallel.workers(2) as again:
        assert again.pool is first.pool  # kept, not shut down
        assert again.submit(abs, -3).result() == 3
    with _parallel.workers(3) as other:
        assert other.pool is not first.pool


def test_leaving_workers_waits_for_every_task_even_after_a_failure():
    # as with a ThreadPoolExecutor block: no task may still write into the caller's
    # arrays once the error reaches the caller
    done = threading.Event()

    def slow() -> None:
        time.sleep(0.3)
        done.set()

    def fail() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), _parallel.workers(2) as tasks:
        futures = [tasks.submit(slow), tasks.submit(fail)]
        for f in futures[::-1]:
            f.result()  # the failure first
    assert done.is_set()


def _sum_on_workers(n: int) -> int:
    with _parallel.workers(2) as pool:
        return sum(f.result() for f in [pool.submit(abs, -k) for k in range(n)])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_its_own_worker_pool():
    # the parent's pool threads do not exist in a child made by fork: a child using
    # the parent's pool would wait for ever; it must start a pool of its own
    assert _sum_on_workers(10) == 45  # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as children:
        assert children.apply_async(_sum_on_workers, (10,)).get(timeout=30) == 45


def _packed_brute_force(index, q_venue, q_start, q_end, min_overlap, closed, bits, dtype):
    """Each person's minimum key over every (query, stay) pair at one venue: no index."""
    best = np.full(index.n_persons, np.iinfo(dtype).max, dtype=dtype)
    rows = np.arange(index.n_stays)
    venue, s, t = index.venue_of(rows), index.start[rows], index.end[rows]
    matched = np.zeros(index.n_stays, dtype=bool)
    for v, a, b in zip(q_venue.tolist(), q_start - index.origin, q_end - index.origin, strict=True):
        here = venue == v
        o_start, o_end = np.maximum(s, a), np.minimum(t, b)
        ok = here & ((o_end >= o_start) if closed else (o_end > o_start))
        ok &= o_end - o_start >= min_overlap
        key = ((o_start.astype(np.int64) + 1) << bits) | (v if bits else 0)
        np.minimum.at(best, index.person[ok], key[ok].astype(dtype))
        matched |= ok
    return best, int(matched.sum())


@settings(max_examples=examples(0.3), deadline=None)
@given(
    seed=st.integers(0, 2**16),
    min_overlap=st.sampled_from([0, 1, 600, 3000]),
    closed=st.booleans(),
    wide=st.booleans(),
    piece=st.sampled_from([2, 6, 40]),
)
def test_packed_kernel_equals_brute_force_over_every_pair(seed, min_overlap, closed, wide, piece):
    # the packed kernel sweeps each venue's stays once per duration class across the
    # venue's queries (ascending starts and ends, as merged pieces come; here they may
    # also overlap, as pieces grown back by a minimum overlap do). Times on a 10-minute
    # grid: touching intervals and zero-length stays are common; stays of 0-10 hours
    # fill several duration classes; the default rule runs the copy compiled with
    # constants, the others the general body
    rng = np.random.default_rng(seed)
    start = 600 * rng.integers(0, 3 * 144, 3_000)
    end = start + 600 * rng.integers(0, 60, 3_000)
    rows = zip(rng.integers(0, 200, 3_000), rng.integers(0, 15, 3_000), start, end, strict=True)
    index = tg.VenueIndex.from_stays(stays_table(list(rows)))
    assert index.n_classes >= 4
    q_venue = np.sort(rng.integers(0, index.n_venues, 300)).astype(np.int32)
    q_start = index.origin + 600 * rng.integers(-6, 3 * 144, 300)
    q_end = q_start + 600 * rng.integers(0, piece, 300)
    order = np.lexsort((q_start, q_venue))
    q_start, q_end = q_start[order], q_end[order]
    for v in np.unique(q_venue):  # ends ascending within each venue
        at = q_venue == v
        q_end[at] = np.maximum.accumulate(q_end[at])
    bits, dtype = (_kernels.PACK_SHIFT, np.int64) if wide else (0, np.uint32)
    args = (
        q_venue, q_start, q_end, min_overlap, closed, index.start, index.end, index.person,
        index.class_offsets, index.n_classes, index.origin, index.bucket_width, bits,
    )  # fmt: skip
    got = np.full(index.n_persons, np.iinfo(dtype).max, dtype=dtype)
    n_got = _kernels.earliest_packed(*args, got)
    want, n_want = _packed_brute_force(
        index, q_venue, q_start, q_end, min_overlap, closed, bits, dtype
    )
    assert n_got == n_want
    assert n_want > 0 or min_overlap > 600 * (piece - 1)  # the queries are long enough
    np.testing.assert_array_equal(got, want)
    plain = np.full(index.n_persons, np.iinfo(dtype).max, dtype=dtype)
    assert _kernels._earliest_packed.py_func(*args, plain) == n_want  # the body as Python
    np.testing.assert_array_equal(plain, want)


def _prefetch_each(values, where):  # type: ignore[no-untyped-def]
    for i in range(where.shape[0]):
        _kernels._prefetch(values, where[i])
    return values.sum()


def _prefetch_read_each(values, where):  # type: ignore[no-untyped-def]
    for i in range(where.shape[0]):
        _kernels._prefetch_read(values, where[i])
    return values.sum()


@pytest.mark.skipif(numba_config.DISABLE_JIT, reason="the compiled hint; as Python a no-op")
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64, np.uint32])
@pytest.mark.parametrize(
    ("body", "instruction"),
    # (for a write: prefetchw, or prefetcht0 where the CPU has no prefetchw)
    [(_prefetch_each, r"prefetch(w|t0)"), (_prefetch_read_each, r"prefetcht0")],
)
def test_prefetch_is_a_hint_that_changes_nothing(index_dtype, body, instruction):
    # earliest_packed's prefetch of the key it will update, encode_bytes' of the slots
    # and records it will read: on contiguous and strided arrays, with the index
    # dtypes kernels pass, nothing is written or read wrongly
    fn = njit(body)
    base = np.arange(64, dtype=np.uint32)
    for values in (base, base[::3]):
        before = values.copy()
        where = np.arange(values.shape[0], dtype=index_dtype)[::-1]
        assert fn(values, where) == before.sum()
        np.testing.assert_array_equal(values, before)
    assert body(base, np.arange(3)) == base.sum()  # as plain Python: nothing
    if platform.machine().lower() in {"x86_64", "amd64"}:
        # compiled to a real prefetch instruction, not dropped
        asm = "\n".join(fn.inspect_asm().values()).lower()
        assert re.search(rf"^\s*{instruction}\s", asm, re.MULTILINE)


# (random stays repeat some by chance: their DataWarning is not the point)
@pytest.mark.filterwarnings("ignore:.*stays repeat another stay:tracegraph.DataWarning")
def test_the_packed_kernel_prefetches_within_its_group_up_to_the_last_stay():
    # earliest_packed reads person[j + PREFETCH_AHEAD] (a real load, unlike the
    # prefetch) only inside the group [lo, hi): compiled with bounds checks (and not
    # cached), a sweep over every stay of every group, the last ending at the index's
    # last row, raises nothing and matches what every pair does; compiled, the kernel
    # emits the prefetch (checked in its LLVM IR, so on any machine)
    rng = np.random.default_rng(3)
    n = 2_000
    start = 600 * rng.integers(0, 144, n)
    end = start + 600 * rng.integers(1, 4, n)
    persons, venues = rng.integers(0, 50, n), rng.integers(0, 3, n)
    index = tg.VenueIndex.from_stays(
        stays_table(list(zip(persons, venues, start, end, strict=True)))
    )
    offsets = index.class_offsets
    assert offsets[-1] == index.person.shape[0]
    assert offsets[-1] - offsets[-2] > _kernels.PREFETCH_AHEAD  # the last group is long
    q_venue = np.arange(index.n_venues, dtype=np.int32)  # one query a venue, over all
    q_start = np.full(index.n_venues, index.origin - 3600, dtype=np.int64)
    q_end = q_start + 2 * 86_400
    args = (
        q_venue, q_start, q_end, 1, False, index.start, index.end, index.person,
        offsets, index.n_classes, index.origin, index.bucket_width, 0,
    )  # fmt: skip
    body = getattr(_kernels._earliest_packed, "py_func", _kernels._earliest_packed)
    checked = njit(boundscheck=True)(body)  # with NUMBA_DISABLE_JIT=1: Python's checks
    got = np.full(index.n_persons, np.iinfo(np.uint32).max, dtype=np.uint32)
    assert checked(*args, got) == index.n_stays  # every stay read and matched
    want, _ = _packed_brute_force(index, q_venue, q_start, q_end, 1, False, 0, np.uint32)
    np.testing.assert_array_equal(got, want)
    if not numba_config.DISABLE_JIT:
        assert "@llvm.prefetch" in "\n".join(checked.inspect_llvm().values())


@settings(max_examples=examples(0.5))
@given(seed=st.integers(0, 2**16), m=st.sampled_from([0, 1, 60, 600]), cut=st.floats(0, 1))
def test_intervals_merged_per_venue_in_row_order_are_their_union(seed, m, cut):
    # reverse matching indexes a dense tier's exposure intervals merged per venue; they
    # arrive in index row order, some cut by a window (a later start, an earlier end)
    rng = np.random.default_rng(seed)
    start = 600 * rng.integers(0, 3 * 144, 2_000)
    end = start + 600 * rng.integers(0, 30, 2_000)
    rows = zip(rng.integers(0, 50, 2_000), rng.integers(0, 12, 2_000), start, end, strict=True)
    index = tg.VenueIndex.from_stays(stays_table(list(rows)))
    stay = np.flatnonzero(rng.random(index.n_stays) < 0.6).astype(np.int32)
    s = index.start_seconds(stay).astype(np.int64)
    e = index.end_seconds(stay).astype(np.int64) + 300 * rng.integers(0, 3, stay.shape[0])
    cut_rows = rng.random(stay.shape[0]) < cut
    s[cut_rows] += rng.integers(0, 3_000, cut_rows.sum())  # may empty the interval
    e[rng.random(stay.shape[0]) < cut] -= 300
    venue = index.venue_of(stay).astype(np.int32)
    want: list[tuple[int, int, int]] = []
    for v in np.unique(venue):
        closed = sorted((a, b - m) for a, b, w in zip(s, e, venue, strict=True) if w == v)
        for a, b in (x for x in closed if x[1] >= x[0]):
            if want and want[-1][0] == v and a <= want[-1][2] + 1:
                want[-1] = (v, want[-1][1], max(want[-1][2], b))
            else:
                want.append((v, a, b))
    k = _kernels.merge_venue_blocks(venue, s, e, stay, index.start, index.origin, m)
    got = list(zip(venue[:k].tolist(), s[:k].tolist(), (e[:k] - m).tolist(), strict=True))
    assert got == [(int(v), int(a), int(b)) for v, a, b in want]


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "two"])
def test_a_thread_count_in_the_environment_that_is_no_positive_number_is_an_error(
    value, monkeypatch
):
    # "abc" and "1.5" were ignored (every core), "0" and "-1" clamped to one thread
    monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", value)
    with pytest.raises(
        tg.ArgumentError,
        match=rf"^environment variable TRACEGRAPH_NUM_THREADS: expected a positive whole number "
        rf"of threads, got '{value}'; unset it",
    ):
        _parallel.threads()


def test_a_bad_thread_count_in_the_environment_stops_a_trace_before_any_work(monkeypatch):
    # it was raised when the trace handed its state back, after the whole trace (and
    # after a DataWarning about the cases); with threads= the environment is not read
    import warnings

    city = tg.synth.generate_city(50, days=1, seed=2)
    index = tg.VenueIndex.from_stays(city.stays)
    year_2000 = pa.array([946_684_800], pa.timestamp("s", tz="UTC"))
    cases = pa.table({"person": index.persons[:1], "start": year_2000, "end": year_2000})
    monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", "abc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(tg.ArgumentError, match="TRACEGRAPH_NUM_THREADS"):
            tg.trace(index, cases)
    with pytest.warns(tg.DataWarning, match="none of the 1 cases"):
        tg.trace(index, cases, threads=1)


def test_a_thread_count_in_the_environment_may_have_blanks(monkeypatch):
    monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", " 3 ")
    assert _parallel.threads() == 3
    monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", "")
    assert _parallel.threads() >= 1


def test_trace_threads_gives_the_same_answer_and_one_keeps_the_work_on_the_caller(monkeypatch):
    # trace(threads=) for a service: the same contacts and edges whatever the number;
    # threads=1 never hands work to the pool (whatever TRACEGRAPH_NUM_THREADS says)
    city = tg.synth.generate_city(400, days=3, seed=8)
    index = tg.VenueIndex.from_stays(city.stays)
    cases = index.persons.to_pylist()[:5]
    monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", "2")
    with (
        mock.patch.object(exposure, "_PARALLEL_MIN_CONTACTS", 1),
        mock.patch.object(exposure, "_PARALLEL_MIN_QUERIES", 1),
    ):
        two = tg.trace(index, cases, tiers=3, threads=2)
        two_edges = two.edges
        with mock.patch.object(exposure, "workers", side_effect=AssertionError("pool used")):
            one = tg.trace(index, cases, tiers=3, threads=1)
            one_edges = one.edges
        with (
            mock.patch.object(exposure, "workers", side_effect=AssertionError("pool used")),
            pytest.raises(AssertionError, match="pool used"),
        ):
            tg.trace(index, cases, tiers=3)  # (the environment's 2: the pool is used)
    # every tier matched the other way round, whose index of intervals is built with
    # the helpers of _parallel (which read the environment's number before)
    no_pool = AssertionError("pool used")
    with (
        mock.patch.object(exposure, "_PARALLEL_MIN_CONTACTS", 1),
        mock.patch.object(exposure, "_PARALLEL_MIN_QUERIES", 1),
        mock.patch.object(_parallel, "PARALLEL_MIN_ROWS", 1),
        mock.patch.object(exposure, "_reverse", return_value=True),
    ):
        reverse_two = tg.trace(index, cases, tiers=3, threads=2)
        with (
            mock.patch.object(exposure, "workers", side_effect=no_pool),
            mock.patch.object(_parallel, "workers", side_effect=no_pool),
        ):
            reverse_one = tg.trace(index, cases, tiers=3, threads=1)
            reverse_one_edges = reverse_one.edges
        with (
            mock.patch.object(_parallel, "workers", side_effect=no_pool),
            pytest.raises(AssertionError, match="pool used"),
        ):
            tg.trace(index, cases, tiers=3)
    assert one.contacts.num_rows > 100
    assert one.contacts.equals(two.contacts)
    assert one_edges.equals(two_edges)
    assert reverse_one.contacts.equals(two.contacts)
    assert reverse_two.contacts.equals(two.contacts)
    assert reverse_one_edges.equals(two_edges)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_trace_threads_must_be_a_positive_int(bad):
    index = tg.VenueIndex.from_stays(tg.synth.generate_city(50, days=1, seed=2).stays)
    with pytest.raises(
        tg.ArgumentError, match=r"^`threads`: expected a positive int or None .* got "
    ):
        tg.trace(index, index.persons.to_pylist()[:1], threads=bad)
