"""Tracing split over threads (the parallel twin) gives exactly the serial answer.

Large tiers are matched on several threads, each on a slice of the queries with its
own copy of the earliest-exposure arrays, combined at the end. These tests force the
split on small cities (the threshold is lowered) and compare with one thread and with
the oracle, including the venue of each person's first exposure.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import trace_oracle
from strategies import case_windows, cities, examples, result_to_plain, stays_table

import tracegraph as tg
from tracegraph import exposure
from tracegraph.exposure import _resolve_cases, _trace_codes


@pytest.fixture
def split_always(monkeypatch):
    monkeypatch.setattr(exposure, "_PARALLEL_MIN_QUERIES", 1)
    monkeypatch.setattr(exposure, "_PACKED_MIN_QUERIES", 1)


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
    # forward: packed keys (one int64 per person) or the general kernel, as drawn;
    # reverse: the general kernel
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


def test_large_tier_on_threads_equals_serial():
    rng = np.random.default_rng(11)
    n = 100_000
    start = rng.integers(0, 14 * 86_400, n)
    table = pa.table(
        {
            "person": rng.integers(0, 20_000, n),
            "venue": rng.integers(0, 300, n),
            "start": pa.array(start).cast(pa.timestamp("s", tz="UTC")),
            "end": pa.array(start + rng.integers(0, 4 * 3600, n)).cast(pa.timestamp("s", tz="UTC")),
        }
    )
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
