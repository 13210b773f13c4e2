"""``copresent_pairs``: the whole-city pair count against brute force."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import overlap
from strategies import cities, examples, stays_table

import tracegraph as tg


def brute_force(stays, min_overlap=0):
    per_venue: dict = {}
    for x, y in itertools.combinations(stays, 2):
        if x[1] == y[1] and x[0] != y[0]:
            ov = overlap(x[2], x[3], y[2], y[3])
            if ov > 0 and ov >= min_overlap:
                per_venue[x[1]] = per_venue.get(x[1], 0) + 1
    return per_venue


@settings(max_examples=examples(0.4))
@given(city=cities(), min_overlap=st.sampled_from([0, 1, 60, 900, 3600]))
def test_copresent_pairs_match_brute_force(city, min_overlap):
    index = tg.VenueIndex.from_stays(stays_table(city.stays))
    expected = brute_force(city.stays, min_overlap)
    assert tg.copresent_pairs(index, min_overlap=min_overlap) == sum(expected.values())
    table = tg.copresent_pairs(index, min_overlap=min_overlap, by_venue=True).to_pydict()
    got = {v: n for v, n in zip(table["venue"], table["pairs"], strict=True) if n}
    assert got == expected


def test_copresent_pairs_edges():
    H = 3600
    rows = [
        ("a", "v", 0, H),
        ("b", "v", H, 2 * H),  # touching a: no pair
        ("c", "v", 30 * 60, 30 * 60),  # zero length: never a pair
        ("a", "v", 10, 20),  # a's own stays: not a pair of people
        ("d", "w", 0, 10 * H),  # a long stay at another venue
        ("e", "w", 9 * H, 9 * H + 1),  # overlaps d by one second
    ]
    ts = pa.timestamp("s", tz="UTC")
    index = tg.VenueIndex.from_stays(
        pa.table(
            {
                "person": [r[0] for r in rows],
                "venue": [r[1] for r in rows],
                "start": pa.array([r[2] for r in rows], pa.int64()).cast(ts),
                "end": pa.array([r[3] for r in rows], pa.int64()).cast(ts),
            }
        )
    )
    assert tg.copresent_pairs(index) == 1
    assert tg.copresent_pairs(index, min_overlap="2s") == 0
    assert tg.copresent_pairs(index, by_venue=True).to_pydict() == {
        "venue": ["v", "w"],
        "pairs": [0, 1],
    }
    with pytest.raises(TypeError, match=r"expected a tracegraph\.VenueIndex"):
        tg.copresent_pairs(rows)


@pytest.mark.parametrize("min_overlap", [0, 60, 900])
# (hundreds of random stays of one person repeat some: their DataWarning is not the point)
@pytest.mark.filterwarnings("ignore:.*stays repeat another stay:tracegraph.DataWarning")
def test_one_person_with_many_stays_at_one_venue(min_overlap):
    # a placeholder id with hundreds of (overlapping, touching, zero-length) stays at one
    # venue: its own pairs are taken off by a sort, not pairwise, and exactly
    import random

    rng = random.Random(min_overlap)
    rows = [(0, 1, 60 * rng.randrange(0, 200), 0) for _ in range(300)]
    rows = [(p, v, s, s + 60 * rng.randrange(0, 30)) for p, v, s, _ in rows]
    rows += [(k, 1, 60 * rng.randrange(0, 200), 60 * rng.randrange(200, 260)) for k in (1, 2, 3)]
    rows += [(0, 2, 0, 600), (4, 2, 300, 900)]
    index = tg.VenueIndex.from_stays(stays_table(rows))
    expected = brute_force(rows, min_overlap)
    table = tg.copresent_pairs(index, min_overlap=min_overlap, by_venue=True).to_pydict()
    assert {v: n for v, n in zip(table["venue"], table["pairs"], strict=True) if n} == expected
    assert expected[1] > 0


def test_by_venue_must_be_a_bool():
    index = tg.VenueIndex.from_stays(stays_table([(1, 1, 0, 60), (2, 1, 0, 60)]))
    with pytest.raises(tg.ArgumentError, match="`by_venue`: expected True or False"):
        tg.copresent_pairs(index, by_venue="no")  # truthy: it gave the per-venue table
    assert tg.copresent_pairs(index, by_venue=False) == 1
