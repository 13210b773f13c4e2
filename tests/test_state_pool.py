"""Trace state reused between traces on one index (``exposure._StatePool``).

A trace writes its per-person arrays only for the persons it traces and hands them
back cleaned, so the next trace on the same index starts from a clean state without
a pass over every person. These tests check that reuse never changes an answer:
sequences of different traces on one index equal the same traces each on a state of
its own, and a state handed back is exactly clean.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import case_windows, cases_table, cities, examples, stays_table

import tracegraph as tg
from tracegraph import exposure


def fresh_pool(index):
    return exposure._StatePool(index.n_persons)  # a new pool: a clean state every time


def random_rows(seed, n, *, persons, venues, days):
    """``n`` random stays ``(person, venue, start, end)`` of up to two hours."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, days * 86_400, n)
    end = start + rng.integers(0, 7200, n)
    who, where = rng.integers(0, persons, n), rng.integers(0, venues, n)
    return list(zip(who.tolist(), where.tolist(), start.tolist(), end.tolist(), strict=True))


def assert_clean(state):
    assert (state.tier == -1).all()
    assert (state.earliest == exposure.FAR_FUTURE).all()
    assert (state.first_venue == -1).all()
    assert not state.excluded.any()


@settings(max_examples=examples(0.3), deadline=None)
@given(city=cities(), data=st.data())
def test_traces_reusing_states_equal_traces_on_fresh_states(city, data):
    index = tg.VenueIndex.from_stays(stays_table(city.stays))
    runs = []
    for _ in range(data.draw(st.integers(2, 4), label="traces")):
        cases = data.draw(case_windows(city), label="cases")
        kwargs = {
            "tiers": data.draw(st.integers(0, 3), label="tiers"),
            "min_overlap": data.draw(st.sampled_from([0, 60, 900]), label="min_overlap"),
            "linger": data.draw(st.sampled_from([0, 300]), label="linger"),
            "cumulative": data.draw(st.sampled_from([False, True, "per_source"]), label="cumul"),
            "unknown": "keep",
        }
        if kwargs["cumulative"]:
            kwargs["min_overlap"] = max(kwargs["min_overlap"], 60)
        runs.append((cases_table(cases, city), kwargs))
    reused = [tg.trace(index, c, **kw) for c, kw in runs]
    with mock.patch.object(exposure, "_state_pool", fresh_pool):
        fresh = [tg.trace(index, c, **kw) for c, kw in runs]
    for a, b in zip(reused, fresh, strict=True):
        assert a.contacts.equals(b.contacts)
        assert a.edges.equals(b.edges)
        np.testing.assert_array_equal(a._pairs.first_venue, b._pairs.first_venue)
        np.testing.assert_array_equal(a._pairs.tier, b._pairs.tier)
        assert a.first_exposure_venues(10).equals(b.first_exposure_venues(10))
    pool = exposure._state_pool(index)
    assert 1 <= len(pool.free) <= exposure._POOL_SIZE
    for state in pool.free:
        assert_clean(state)


def test_large_traces_hand_back_clean_states(monkeypatch):
    # the packed, threaded path of large tiers writes its results the same way
    monkeypatch.setattr(exposure, "_PACKED_MIN_QUERIES", 1)
    monkeypatch.setattr(exposure, "_PARALLEL_MIN_QUERIES", 1)
    monkeypatch.setattr(exposure, "_PARALLEL_MIN_CONTACTS", 1)
    rows = random_rows(2, 30_000, persons=4_000, venues=60, days=3)
    index = tg.VenueIndex.from_stays(stays_table(rows))
    first = tg.trace(index, [0, 1, 2], tiers=3)
    second = tg.trace(index, [7], tiers=2)
    with mock.patch.object(exposure, "_state_pool", fresh_pool):
        assert tg.trace(index, [7], tiers=2).contacts.equals(second.contacts)
    assert first.contacts.num_rows > 1000
    (state,) = exposure._state_pool(index).free
    assert_clean(state)


def test_a_failed_trace_keeps_its_state_out_of_the_pool():
    rows = [(1, 10, 0, 3600), (2, 10, 1800, 5400), (3, 11, 0, 60)]
    index = tg.VenueIndex.from_stays(stays_table(rows))
    tg.trace(index, [1])
    pool = exposure._state_pool(index)
    assert len(pool.free) == 1
    with (
        mock.patch.object(exposure, "_match_tier", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        tg.trace(index, [1])
    assert pool.free == []  # the state it took, half written, was dropped
    assert tg.trace(index, [1]).contacts["person"].to_pylist() == [1, 2]
    assert len(pool.free) == 1


def test_each_index_has_its_own_pool_and_keeps_only_a_few_states():
    rows = [(1, 10, 0, 3600), (2, 10, 1800, 5400)]
    a = tg.VenueIndex.from_stays(stays_table(rows))
    b = tg.VenueIndex.from_stays(stays_table(rows))
    assert exposure._state_pool(a) is exposure._state_pool(a)
    assert exposure._state_pool(a) is not exposure._state_pool(b)
    pool = exposure._state_pool(a)
    states = [pool.take() for _ in range(exposure._POOL_SIZE + 2)]
    for state in states:
        pool.give(state, np.empty(0, dtype=np.int32))
    assert len(pool.free) == exposure._POOL_SIZE


@pytest.mark.parametrize("direction", ["forward", "reverse"])
@pytest.mark.parametrize("policy", ["tracegraph", "nz"])
def test_small_tiers_list_exactly_the_newly_reached(direction, policy, monkeypatch):
    # few matches: the reached persons come from listing the matches again, not from a
    # pass over every person; they must be the same persons
    monkeypatch.setattr(exposure, "_LIST_REACHED_BELOW", 1)  # always list
    rows = random_rows(9, 5_000, persons=2_000, venues=40, days=2)
    index = tg.VenueIndex.from_stays(stays_table(rows))
    cases = exposure._resolve_cases(index, [rows[0][0], rows[1][0]], "raise")
    frontier = exposure._Tier(1, cases.codes, cases.window_start, cases.window_end)
    rules = exposure._Rules(
        min_overlap=0,
        linger=0,
        direction=direction,
        policy=exposure.resolve_policy(policy),
        cumulative=False,
    )
    state = exposure._TraceState.clean(index.n_persons)
    state.excluded[cases.codes] = True
    found = exposure._match_tier(
        index, frontier, state.excluded, rules, state.earliest, state.first_venue, threads=1
    )
    assert found.first_venues  # the general kernel records first venues
    assert not found.marked  # nobody asked it to mark them
    reached = found.persons
    assert reached.dtype == np.int32
    assert reached.size > 3
    np.testing.assert_array_equal(reached, exposure._newly_reached(state.earliest, state.excluded))
