"""The tracing rules, one small hand-worked example each.

Every test is a tiny city on 2024-03-01 (UTC), written as clock times so it reads
as documentation. Each example states the expected contacts and edges by hand and
checks them against BOTH the brute-force oracle (``tests/oracle.py``) and
:func:`tracegraph.trace`. The error tests at the end pin the input contract.

Contacts are ``{person: (tier, exposed_at)}``; edges are
``(source, target, venue, start, end, tier)`` with the overlap as ``[start, end)``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pyarrow as pa
import pytest
from oracle import sort_edges, tiers_by_bfs, trace_oracle
from strategies import result_to_plain

import tracegraph as tg

DAY = 1_709_251_200  # 2024-03-01T00:00:00Z
MIN = 60
HOUR = 3600


def at(clock: str) -> int:
    """``"09:30"`` or ``"09:30:05"`` on the test day -> int epoch seconds."""
    parts = [int(x) for x in clock.split(":")] + [0]
    h, m, s = parts[:3]
    return DAY + h * HOUR + m * MIN + s


def stays_of(*rows) -> list[tuple]:
    """``("ann", "cafe", "09:00", "10:00")`` rows -> oracle stays with int seconds."""
    return [(p, v, at(s), at(e)) for p, v, s, e in rows]


def table_of(stays, *, tz="UTC", unit="s") -> pa.Table:
    return pa.table(
        {
            "person": pa.array([s[0] for s in stays]),
            "venue": pa.array([s[1] for s in stays]),
            "start": pa.array([s[2] for s in stays], pa.int64()).cast(pa.timestamp(unit, tz=tz)),
            "end": pa.array([s[3] for s in stays], pa.int64()).cast(pa.timestamp(unit, tz=tz)),
        }
    )


def cases_table_of(windows: dict) -> pa.Table:
    """``{person: (w0, w1)}`` (int seconds) -> a cases table."""
    return pa.table(
        {
            "person": pa.array(list(windows)),
            "start": pa.array([w[0] for w in windows.values()], pa.int64()).cast(
                pa.timestamp("s", tz="UTC")
            ),
            "end": pa.array([w[1] for w in windows.values()], pa.int64()).cast(
                pa.timestamp("s", tz="UTC")
            ),
        }
    )


def engine(stays, cases, *, unknown="raise", **params):
    """Run tracegraph; ``cases`` is a list of ids (all time) or ``{id: (w0, w1)}``."""
    index = tg.VenueIndex.from_stays(table_of(stays))
    arg = cases_table_of(cases) if isinstance(cases, dict) else cases
    return tg.trace(index, arg, unknown=unknown, **params)


def check(stays, cases, contacts, edges, *, unknown="raise", **params):
    """Assert the hand-worked answer against the oracle, then against tracegraph."""
    expected = (contacts, sort_edges(edges))
    oracle_cases = cases if isinstance(cases, dict) else dict.fromkeys(cases)
    if unknown == "drop":
        present = {s[0] for s in stays}
        oracle_cases = {p: w for p, w in oracle_cases.items() if p in present}
    assert trace_oracle(stays, oracle_cases, **params) == expected, "oracle disagrees with the rule"
    result = engine(stays, cases, unknown=unknown, **params)
    got = result_to_plain(result)
    assert got == expected, "tracegraph disagrees with the rule"
    assert tiers_by_bfs(oracle_cases, got[1]) == {p: t for p, (t, _) in got[0].items()}
    return result


# --------------------------------------------------------------------------- overlap


def test_touching_stays_do_not_count():
    """Stays are half-open [start, end): leaving at 10:00 and arriving at 10:00 is no overlap."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "10:00", "11:00"),  # arrives as ann leaves
        ("cat", "cafe", "08:00", "09:00"),  # leaves as ann arrives
    )
    check(stays, ["ann"], {"ann": (0, None)}, [])


def test_containment_counts():
    """A stay inside another overlaps for its whole length, whichever one is the case's."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "12:00"),
        ("bob", "cafe", "10:00", "10:30"),  # inside ann's stay
        ("cat", "cafe", "08:00", "13:00"),  # contains ann's stay
    )
    check(
        stays,
        ["ann"],
        {"ann": (0, None), "bob": (1, at("10:00")), "cat": (1, at("09:00"))},
        [
            ("ann", "bob", "cafe", at("10:00"), at("10:30"), 1),
            ("ann", "cat", "cafe", at("09:00"), at("12:00"), 1),
        ],
    )


def test_contacts_need_the_same_venue():
    """Overlapping in time at different venues is not a contact."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"), ("bob", "gym", "09:00", "10:00"))
    check(stays, ["ann"], {"ann": (0, None)}, [])


def test_zero_length_stays_never_overlap():
    """A stay with start == end overlaps nothing, even with min_overlap=0."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "09:30", "09:30"),  # zero length, inside ann's stay
        ("cat", "cafe", "09:30", "09:30"),  # a zero-length case stay ...
        ("dan", "cafe", "09:00", "10:00"),  # ... exposes nobody, even with linger
    )
    check(
        stays,
        ["ann"],
        {"ann": (0, None), "dan": (1, at("09:00"))},
        [("ann", "dan", "cafe", at("09:00"), at("10:00"), 1)],
    )
    check(stays, ["cat"], {"cat": (0, None)}, [], linger=30 * MIN)


def test_min_overlap_boundary():
    """A pair qualifies when overlap >= min_overlap: exactly equal counts, 1 s less does not."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "09:45", "11:00"),  # 15 min exactly
        ("cat", "cafe", "09:45:01", "11:00"),  # 14 min 59 s
    )
    check(
        stays,
        ["ann"],
        {"ann": (0, None), "bob": (1, at("09:45"))},
        [("ann", "bob", "cafe", at("09:45"), at("10:00"), 1)],
        min_overlap=15 * MIN,
    )


def test_min_overlap_is_per_stay_pair_not_summed():
    """Several stays of one person are independent: short overlaps are not added up."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("ann", "cafe", "11:00", "12:00"),
        ("bob", "cafe", "09:50", "10:30"),  # 10 min with ann's first stay
        ("bob", "cafe", "11:50", "12:30"),  # 10 min with ann's second stay
        ("cat", "cafe", "09:50", "10:30"),  # 10 min ...
        ("cat", "cafe", "11:30", "12:30"),  # ... and 30 min
    )
    check(
        stays,
        ["ann"],
        {"ann": (0, None), "cat": (1, at("11:30"))},
        [("ann", "cat", "cafe", at("11:30"), at("12:00"), 1)],
        min_overlap=15 * MIN,
    )


def test_multiple_stays_of_one_person_are_independent():
    """Each (source stay, target stay) pair is its own edge; exposed_at is the earliest one."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("ann", "cafe", "11:00", "12:00"),
        ("bob", "cafe", "11:30", "12:30"),
        ("bob", "cafe", "09:30", "09:40"),
    )
    check(
        stays,
        ["ann"],
        {"ann": (0, None), "bob": (1, at("09:30"))},
        [
            ("ann", "bob", "cafe", at("09:30"), at("09:40"), 1),
            ("ann", "bob", "cafe", at("11:30"), at("12:00"), 1),
        ],
    )


def test_duplicate_stays_give_duplicate_edges():
    """Two identical stay rows are two stays: each pair is an edge row, so rows can repeat."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "09:30", "10:30"),
        ("bob", "cafe", "09:30", "10:30"),
    )
    edge = ("ann", "bob", "cafe", at("09:30"), at("10:00"), 1)
    with pytest.warns(tg.DataWarning, match="1 of 3 stays repeat another stay exactly"):
        check(stays, ["ann"], {"ann": (0, None), "bob": (1, at("09:30"))}, [edge, edge])


def test_own_overlapping_stays_are_not_contacts():
    """A person never exposes themself, however their own stays overlap."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("ann", "cafe", "09:30", "11:00"),  # ann overlaps ann
        ("bob", "gym", "12:00", "13:00"),
        ("bob", "gym", "12:00", "13:00"),
    )
    with pytest.warns(tg.DataWarning, match="1 of 4 stays repeat another stay exactly"):
        check(stays, ["ann"], {"ann": (0, None)}, [])
        check(stays, ["ann", "bob"], {"ann": (0, None), "bob": (0, None)}, [])


def test_exposed_at_is_the_earliest_overlap_start():
    """exposed_at = min over qualifying pairs of max(stay start, exposure start), any case."""
    stays = stays_of(
        ("ann", "cafe", "10:00", "11:00"),
        ("zoe", "bar", "09:00", "09:45"),
        ("bob", "cafe", "09:00", "12:00"),  # overlap with ann starts 10:00
        ("bob", "bar", "09:30", "09:40"),  # overlap with zoe starts 09:30
    )
    check(
        stays,
        ["ann", "zoe"],
        {"ann": (0, None), "zoe": (0, None), "bob": (1, at("09:30"))},
        [
            ("ann", "bob", "cafe", at("10:00"), at("11:00"), 1),
            ("zoe", "bob", "bar", at("09:30"), at("09:40"), 1),
        ],
    )


# --------------------------------------------------------------------------- case window and linger


def test_case_window_clips_a_stay():
    """Only the part of a case's stay inside its window [w0, w1) exposes anyone."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "12:00"),  # clipped to 10:00-11:00
        ("ann", "gym", "13:00", "14:00"),  # outside the window: ignored
        ("bob", "cafe", "09:00", "09:30"),  # before the window
        ("cat", "cafe", "10:30", "11:30"),  # overlaps the clipped part
        ("dan", "cafe", "11:00", "12:00"),  # touches the window's end
        ("eve", "gym", "13:00", "14:00"),
    )
    check(
        stays,
        {"ann": (at("10:00"), at("11:00"))},
        {"ann": (0, None), "cat": (1, at("10:30"))},
        [("ann", "cat", "cafe", at("10:30"), at("11:00"), 1)],
    )


def test_a_null_window_bound_is_open():
    """In a cases table, a null start (or end) leaves that side of the window open."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "12:00"),
        ("bob", "cafe", "09:00", "09:30"),
        ("cat", "cafe", "11:30", "12:00"),
    )
    index = tg.VenueIndex.from_stays(table_of(stays))
    ts = pa.timestamp("s", tz="UTC")
    open_start = pa.table(
        {"person": ["ann"], "start": pa.array([None], ts), "end": pa.array([at("10:00")], ts)}
    )
    open_end = pa.table(
        {"person": ["ann"], "start": pa.array([at("11:00")], ts), "end": pa.array([None], ts)}
    )
    assert (
        result_to_plain(tg.trace(index, open_start))
        == trace_oracle(stays, {"ann": (None, at("10:00"))})
        == (
            {"ann": (0, None), "bob": (1, at("09:00"))},
            [("ann", "bob", "cafe", at("09:00"), at("09:30"), 1)],
        )
    )
    assert (
        result_to_plain(tg.trace(index, open_end))
        == trace_oracle(stays, {"ann": (at("11:00"), None)})
        == (
            {"ann": (0, None), "cat": (1, at("11:30"))},
            [("ann", "cat", "cafe", at("11:30"), at("12:00"), 1)],
        )
    )


def test_an_empty_case_window_exposes_nobody():
    """A window with start == end contains no time: the case exposes nobody."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"), ("bob", "cafe", "09:00", "10:00"))
    check(stays, {"ann": (at("09:30"), at("09:30"))}, {"ann": (0, None)}, [])


def test_error_case_window_ending_before_it_starts():
    """A case window with end < start is a SchemaError."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"))
    with pytest.raises(tg.SchemaError, match="end >= start"):
        engine(stays, {"ann": (at("09:40"), at("09:30"))})


def test_case_whose_stays_all_fall_outside_its_window():
    """A case whose window misses all its stays stays in tier 0 and exposes nobody."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"), ("bob", "cafe", "09:00", "10:00"))
    check(stays, {"ann": (at("10:00"), at("18:00"))}, {"ann": (0, None)}, [])


def test_linger_lets_a_later_arrival_be_exposed():
    """The exposure interval runs linger past the (clipped) end: [start, end + linger)."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "10:10", "10:20"),  # arrives after ann left, within 30 min
        ("cat", "cafe", "10:30", "11:00"),  # arrives exactly when the linger ends
        ("dan", "cafe", "10:29", "11:00"),  # one minute inside the linger
    )
    check(
        stays,
        ["ann"],
        {"ann": (0, None), "bob": (1, at("10:10")), "dan": (1, at("10:29"))},
        [
            ("ann", "bob", "cafe", at("10:10"), at("10:20"), 1),
            ("ann", "dan", "cafe", at("10:29"), at("10:30"), 1),
        ],
        linger=30 * MIN,
    )


def test_linger_extends_the_clipped_end_of_a_case_window():
    """With a window, a stay is clipped, then extended: [max(s, w0), min(e, w1) + linger)."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "12:00"),
        ("bob", "cafe", "11:10", "11:20"),  # inside [11:00, 11:15): exposed
        ("cat", "cafe", "11:15", "11:20"),  # starts when the lingering exposure ends
    )
    check(
        stays,
        {"ann": (at("09:00"), at("11:00"))},
        {"ann": (0, None), "bob": (1, at("11:10"))},
        [("ann", "bob", "cafe", at("11:10"), at("11:15"), 1)],
        linger=15 * MIN,
    )


# --------------------------------------------------------------------------- tiers


def test_tiers_limit_the_depth():
    """tiers=k traces k steps from the cases (tiers=0: the cases alone); tracing also
    stops when a tier is empty."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "09:30", "11:00"),
        ("bob", "gym", "11:00", "12:00"),
        ("cat", "gym", "11:30", "13:00"),
        ("cat", "bar", "13:00", "14:00"),
        ("dan", "bar", "13:30", "15:00"),
    )
    contacts = {
        "ann": (0, None),
        "bob": (1, at("09:30")),
        "cat": (2, at("11:30")),
        "dan": (3, at("13:30")),
    }
    edges = [
        ("ann", "bob", "cafe", at("09:30"), at("10:00"), 1),
        ("bob", "cat", "gym", at("11:30"), at("12:00"), 2),
        ("cat", "dan", "bar", at("13:30"), at("14:00"), 3),
    ]
    for tiers in (0, 1, 2, 3, 10):
        keep = {p: c for p, c in contacts.items() if c[0] <= tiers}
        check(stays, ["ann"], keep, [e for e in edges if e[5] <= tiers], tiers=tiers)


def test_no_edges_inside_a_tier_or_back_to_a_lower_tier():
    """Once a person has a tier they are never re-exposed: no edges within a tier or backwards."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "09:00", "10:00"),
        ("cat", "cafe", "09:30", "12:00"),  # meets bob (also tier 1) and ...
        ("cat", "gym", "13:00", "14:00"),
        ("ann", "gym", "13:00", "14:00"),  # ... meets the case again later
    )
    check(
        stays,
        ["ann"],
        {"ann": (0, None), "bob": (1, at("09:00")), "cat": (1, at("09:30"))},
        [
            ("ann", "bob", "cafe", at("09:00"), at("10:00"), 1),
            ("ann", "cat", "cafe", at("09:30"), at("10:00"), 1),
            ("ann", "cat", "gym", at("13:00"), at("14:00"), 1),
        ],
        tiers=3,
    )


def test_time_only_runs_forward():
    """A tier-1 person exposes others only from their own exposed_at on, never before."""
    stays = stays_of(
        ("ann", "cafe", "12:00", "13:00"),
        ("bob", "cafe", "12:30", "14:00"),  # exposed at 12:30
        ("bob", "gym", "09:00", "10:00"),
        ("cat", "gym", "09:00", "10:00"),  # met bob before his exposure: not traced
        ("eve", "cafe", "11:00", "12:30"),  # tier 1 via ann; only touches bob's arrival
        ("fay", "cafe", "13:30", "14:30"),  # after ann left, while bob is still there
    )
    check(
        stays,
        ["ann"],
        {
            "ann": (0, None),
            "bob": (1, at("12:30")),
            "eve": (1, at("12:00")),
            "fay": (2, at("13:30")),
        },
        [
            ("ann", "bob", "cafe", at("12:30"), at("13:00"), 1),
            ("ann", "eve", "cafe", at("12:00"), at("12:30"), 1),
            ("bob", "fay", "cafe", at("13:30"), at("14:00"), 2),
        ],
        tiers=2,
    )


def test_a_stay_straddling_exposure_is_clipped_to_exposed_at():
    """A tier-1 person's stay that began before their exposure counts only from exposed_at."""
    stays = stays_of(
        ("ann", "cafe", "10:00", "11:00"),
        ("bob", "cafe", "10:30", "11:00"),  # exposed at 10:30
        ("bob", "gym", "10:00", "12:00"),  # own stay already under way: counts from 10:30
        ("cat", "gym", "10:00", "10:40"),
    )
    check(
        stays,
        ["ann"],
        {"ann": (0, None), "bob": (1, at("10:30")), "cat": (2, at("10:30"))},
        [
            ("ann", "bob", "cafe", at("10:30"), at("11:00"), 1),
            ("bob", "cat", "gym", at("10:30"), at("10:40"), 2),
        ],
        tiers=2,
    )


def test_latency_and_infectious_for_bound_tier_2():
    """A tier-1 person is infectious during [exposed_at + latency, ... + infectious_for)."""
    stays = stays_of(
        ("ann", "cafe", "08:00", "09:00"),
        ("bob", "cafe", "08:30", "09:00"),  # exposed 08:30 -> infectious 09:30-11:30
        ("bob", "gym", "09:00", "09:30"),
        ("cat", "gym", "09:00", "09:30"),  # during the latency: not traced
        ("bob", "gym", "10:00", "10:30"),
        ("dan", "gym", "10:00", "10:30"),  # inside the infectious window
        ("bob", "bar", "11:00", "12:00"),  # clipped to 11:00-11:30
        ("eve", "bar", "11:40", "12:00"),  # after the clip
        ("fay", "bar", "11:20", "12:00"),  # overlaps the clipped part
    )
    check(
        stays,
        ["ann"],
        {
            "ann": (0, None),
            "bob": (1, at("08:30")),
            "dan": (2, at("10:00")),
            "fay": (2, at("11:20")),
        },
        [
            ("ann", "bob", "cafe", at("08:30"), at("09:00"), 1),
            ("bob", "dan", "gym", at("10:00"), at("10:30"), 2),
            ("bob", "fay", "bar", at("11:20"), at("11:30"), 2),
        ],
        tiers=2,
        latency=1 * HOUR,
        infectious_for=2 * HOUR,
    )
    # infectious_for bounds tier 2 but never tier 1: the case's window is its own.
    # linger applies after the clip at 11:30, so eve (from 11:40) is exposed with linger=15min.
    result = check(
        stays,
        ["ann"],
        {
            "ann": (0, None),
            "bob": (1, at("08:30")),
            "dan": (2, at("10:00")),
            "fay": (2, at("11:20")),
            "eve": (2, at("11:40")),
        },
        [
            ("ann", "bob", "cafe", at("08:30"), at("09:00"), 1),
            ("bob", "dan", "gym", at("10:00"), at("10:30"), 2),
            ("bob", "fay", "bar", at("11:20"), at("11:45"), 2),
            ("bob", "eve", "bar", at("11:40"), at("11:45"), 2),
        ],
        tiers=2,
        latency=1 * HOUR,
        infectious_for=2 * HOUR,
        linger=15 * MIN,
    )
    assert result is not None


def test_infectious_for_zero_stops_the_spread():
    """infectious_for=0 gives an empty infectious window: tier 1 exposes nobody."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "09:00", "10:00"),
        ("cat", "cafe", "09:00", "10:00"),
        ("bob", "gym", "10:00", "11:00"),
        ("dan", "gym", "10:00", "11:00"),
    )
    check(
        stays,
        ["ann"],
        {"ann": (0, None), "bob": (1, at("09:00")), "cat": (1, at("09:00"))},
        [
            ("ann", "bob", "cafe", at("09:00"), at("10:00"), 1),
            ("ann", "cat", "cafe", at("09:00"), at("10:00"), 1),
        ],
        tiers=3,
        infectious_for=0,
    )


def test_a_wider_window_can_reroute_contacts_beyond_tier_1():
    """Widening a case window never removes a tier-1 contact, but it can remove a deeper one:

    with the narrow window bob is tier 2 (via cat, exposed 10:00) and exposes dan at 10:30;
    with the wide window bob is tier 1, exposed only at 15:00, and dan is no longer reached.
    """
    stays = stays_of(
        ("ann", "cafe", "09:00", "09:30"),
        ("ann", "bar", "15:00", "16:00"),
        ("cat", "cafe", "09:00", "09:30"),
        ("cat", "gym", "10:00", "11:00"),
        ("bob", "gym", "10:00", "11:00"),
        ("bob", "park", "10:30", "10:45"),
        ("dan", "park", "10:30", "10:45"),
        ("bob", "bar", "15:00", "16:00"),
    )
    check(
        stays,
        {"ann": (at("08:00"), at("12:00"))},
        {
            "ann": (0, None),
            "cat": (1, at("09:00")),
            "bob": (2, at("10:00")),
            "dan": (3, at("10:30")),
        },
        [
            ("ann", "cat", "cafe", at("09:00"), at("09:30"), 1),
            ("cat", "bob", "gym", at("10:00"), at("11:00"), 2),
            ("bob", "dan", "park", at("10:30"), at("10:45"), 3),
        ],
        tiers=3,
    )
    check(
        stays,
        {"ann": (at("08:00"), at("18:00"))},
        {"ann": (0, None), "cat": (1, at("09:00")), "bob": (1, at("15:00"))},
        [
            ("ann", "cat", "cafe", at("09:00"), at("09:30"), 1),
            ("ann", "bob", "bar", at("15:00"), at("16:00"), 1),
        ],
        tiers=3,
    )


# --------------------------------------------------------------------------- cases


def test_unknown_case_raises_by_default():
    """A case id absent from the index raises PersonNotFound (a KeyError) naming its
    position, never the id itself: person ids are personal data and error messages end
    up in logs."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"))
    with pytest.raises(tg.PersonNotFound, match="first at position 1 of the cases") as info:
        engine(stays, ["ann", "zed"])
    assert "zed" not in str(info.value)
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, tg.TracegraphError)


def test_unknown_case_keep_and_drop():
    """unknown="keep" keeps an absent case in tier 0 with no stays; "drop" leaves it out."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"), ("bob", "cafe", "09:00", "10:00"))
    both = {"ann": (0, None), "bob": (1, at("09:00"))}
    edge = [("ann", "bob", "cafe", at("09:00"), at("10:00"), 1)]
    check(stays, ["ann", "zed"], {**both, "zed": (0, None)}, edge, unknown="keep")
    check(stays, ["ann", "zed"], both, edge, unknown="drop")
    check(stays, ["zed"], {}, [], unknown="drop")
    check(stays, ["zed"], {"zed": (0, None)}, [], unknown="keep")


def test_no_cases_traces_nothing():
    """An empty case list gives empty contacts and edges (with the documented columns)."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"))
    check(stays, [], {}, [])


def test_case_iterable_and_table_agree():
    """Cases as ids mean all time; a table whose windows cover every stay traces the same."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "09:30", "11:00"),
        ("bob", "gym", "10:30", "12:00"),
        ("cat", "gym", "11:00", "13:00"),
    )
    a = result_to_plain(engine(stays, ["ann"], tiers=2))
    b = result_to_plain(engine(stays, {"ann": (at("00:00"), at("23:59"))}, tiers=2))
    c = result_to_plain(engine(stays, iter(["ann"]), tiers=2))  # any iterable
    d = result_to_plain(engine(stays, np.array(["ann"]), tiers=2))
    assert a == b == c == d
    assert set(a[0]) == {"ann", "bob", "cat"}


def test_a_case_listed_twice():
    """Duplicate case rows in a table are a SchemaError; a repeated id in a list counts once."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"), ("bob", "cafe", "09:00", "10:00"))
    index = tg.VenueIndex.from_stays(table_of(stays))
    twice = cases_table_of({"ann": (at("09:00"), at("10:00"))})
    twice = pa.concat_tables([twice, twice])
    with pytest.raises(tg.SchemaError, match="one row per case person"):
        tg.trace(index, twice)
    once = result_to_plain(tg.trace(index, ["ann"]))
    assert result_to_plain(tg.trace(index, ["ann", "ann"])) == once


# --------------------------------------------------------------------------- inputs


def test_durations_in_every_spelling_agree():
    """Durations may be int seconds, timedelta, numpy.timedelta64 or strings like "15min"."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "09:40", "10:40"),
        ("cat", "cafe", "10:05", "11:00"),
    )
    index = tg.VenueIndex.from_stays(table_of(stays))
    spellings = [900, dt.timedelta(minutes=15), np.timedelta64(15, "m"), "15min", "900s", "0.25h"]
    results = [
        result_to_plain(tg.trace(index, ["ann"], min_overlap=d, linger=d, latency=d))
        for d in spellings
    ]
    assert all(r == results[0] for r in results)
    expected = trace_oracle(stays, {"ann": None}, min_overlap=900, linger=900, latency=900)
    assert results[0] == expected
    assert set(expected[0]) == {"ann", "bob"}  # cat: 10 min inside the linger, < 15 min


def test_decimal_duration_strings_are_exact_seconds():
    """ "1.1h" is 3960 s exactly (binary floating point would make it 3960.0000000000005)."""
    from tracegraph._time import duration_seconds

    for text, seconds in [("1.1h", 3960), ("2.2h", 7920), ("0.07d", 6048), ("8.3h", 29880)]:
        assert duration_seconds(text, "linger") == seconds
        assert duration_seconds(f"{text}1.5min", "linger") == seconds + 90
    with pytest.raises(ValueError, match="whole seconds"):
        duration_seconds("1.0001min", "linger")


def test_numpy_timedelta64_durations_are_exact_and_of_a_fixed_unit():
    from tracegraph._time import duration_seconds

    assert duration_seconds(np.timedelta64(2, "W"), "linger") == 14 * 86_400
    assert duration_seconds(np.timedelta64(3, "10s"), "linger") == 30
    assert duration_seconds(np.timedelta64(10**12, "ns"), "linger") == 1000
    with pytest.raises(tg.DurationError, match="whole seconds"):  # (a float made it 1e9)
        duration_seconds(np.timedelta64(10**18 + 1, "ns"), "linger")
    # years and months have no fixed length, a generic timedelta64 no unit (numpy's
    # TypeError, or 5 read as seconds, before)
    # timedeltas exactly too (a float accepted 365,000 days and 1 us as whole seconds)
    with pytest.raises(tg.DurationError, match="whole seconds"):
        duration_seconds(dt.timedelta(days=365_000, microseconds=1), "linger")
    pd = pytest.importorskip("pandas")
    assert duration_seconds(pd.Timedelta("15min"), "linger") == 900
    with pytest.raises(tg.DurationError, match=r"whole seconds.*got Timedelta\("):  # (its ns)
        duration_seconds(pd.Timedelta("15min 1ns"), "linger")

    class Span(pd.Timedelta):  # (a subclass of pandas' keeps its nanoseconds too)
        pass

    with pytest.raises(tg.DurationError, match="whole seconds"):
        duration_seconds(Span("15min 1ns"), "linger")
    # 300 years in seconds: more than int64 nanoseconds hold, less than the 1,000 allowed
    years = pd.Timedelta(np.timedelta64(300 * 365, "D")).as_unit("s")
    assert duration_seconds(years, "infectious_for") == 300 * 365 * 86_400
    for value in (np.timedelta64(1, "Y"), np.timedelta64(1, "M"), np.timedelta64(5)):
        with pytest.raises(tg.DurationError, match=r"^`linger`: expected a numpy.timedelta64 in a"):
            duration_seconds(value, "linger")


def test_any_timestamp_unit_and_zone_floored_to_seconds():
    """Times may be s/ms/us/ns in any zone; sub-second parts are floored away."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"), ("bob", "cafe", "09:59", "11:00"))
    expected = trace_oracle(stays, {"ann": None})
    for unit, per_s in (("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)):
        for tz in ("UTC", "Asia/Ho_Chi_Minh", "America/New_York"):
            table = pa.table(
                {
                    "person": ["ann", "bob"],
                    "venue": ["cafe", "cafe"],
                    # +0.999 s on every time: floored back to the whole second
                    "start": pa.array(
                        [at("09:00") * per_s + per_s - 1, at("09:59") * per_s + per_s - 1],
                        pa.int64(),
                    ).cast(pa.timestamp(unit, tz=tz)),
                    "end": pa.array(
                        [at("10:00") * per_s + per_s - 1, at("11:00") * per_s], pa.int64()
                    ).cast(pa.timestamp(unit, tz=tz)),
                }
            )
            got = result_to_plain(tg.trace(tg.VenueIndex.from_stays(table), ["ann"]))
            assert got == expected, (unit, tz)


def test_pandas_and_polars_inputs_agree_with_arrow():
    """pandas and polars DataFrames are accepted for stays and for cases."""
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("bob", "cafe", "09:30", "11:00"),
        ("bob", "gym", "10:30", "12:00"),
        ("cat", "gym", "11:00", "13:00"),
    )
    table = table_of(stays)
    cases = cases_table_of({"ann": (at("09:15"), at("12:00"))})
    expected = result_to_plain(tg.trace(tg.VenueIndex.from_stays(table), cases, tiers=2))
    for frame in (table.to_pandas(), pl.from_arrow(table)):
        index = tg.VenueIndex.from_stays(frame)
        assert result_to_plain(tg.trace(index, cases, tiers=2)) == expected
        assert result_to_plain(tg.trace(index, cases.to_pandas(), tiers=2)) == expected
    assert isinstance(table.to_pandas(), pd.DataFrame)


def test_naive_timestamps_are_accepted_with_tz():
    """Naive timestamps are read as wall-clock time in the zone given by tz=."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"), ("bob", "cafe", "09:30", "11:00"))
    expected = result_to_plain(tg.trace(tg.VenueIndex.from_stays(table_of(stays)), ["ann"]))
    naive = table_of(stays, tz=None)
    got = result_to_plain(tg.trace(tg.VenueIndex.from_stays(naive, tz="UTC"), ["ann"]))
    assert got == expected
    # the same wall-clock times in Hanoi (UTC+7, no DST) are 7 hours earlier in UTC
    hanoi = result_to_plain(
        tg.trace(tg.VenueIndex.from_stays(naive, tz="Asia/Ho_Chi_Minh"), ["ann"])
    )
    assert hanoi[0]["bob"] == (1, at("09:30") - 7 * HOUR)


def test_naive_case_windows_and_published_windows_are_read_in_tz():
    """trace() and present_at() read naive window times in tz=, as from_stays does."""
    stays = stays_of(("ann", "cafe", "09:00", "10:00"), ("bob", "cafe", "09:30", "11:00"))
    index = tg.VenueIndex.from_stays(table_of(stays))
    ts = pa.timestamp("s")
    # ann infectious from 16:45 Hanoi time (09:45 UTC): bob exposed at 09:45 UTC
    cases = pa.table({"person": ["ann"], "start": pa.array([at("16:45")], ts), "end": [None]})
    with pytest.raises(tg.TimezoneError, match="pass tz="):
        tg.trace(index, cases)
    got = result_to_plain(tg.trace(index, cases, tz="Asia/Ho_Chi_Minh"))
    assert got[0]["bob"] == (1, at("09:45"))
    windows = pa.table(
        {
            "venue": ["cafe"],
            "start": pa.array([at("17:30")], ts),
            "end": pa.array([at("18:00")], ts),
        }
    )
    with pytest.raises(tg.TimezoneError, match="pass tz="):
        tg.present_at(index, windows)
    found = tg.present_at(index, windows, tz="Asia/Ho_Chi_Minh")
    assert found["person"].to_pylist() == ["bob"]  # 10:30-11:00 UTC
    with pytest.raises(tg.TimezoneError, match="valid IANA zone"):
        tg.trace(index, ["ann"], tz="Mars/Olympus")


def _naive(rows: list[tuple[str, str, str, str]], unit: str = "s") -> pa.Table:
    """Stays (person, venue, start, end) with naive ISO wall-clock times."""
    cols = list(zip(*rows, strict=True))
    times = [pa.array([np.datetime64(t, unit) for t in c], pa.timestamp(unit)) for c in cols[2:]]
    return pa.table({"person": cols[0], "venue": cols[1], "start": times[0], "end": times[1]})


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_naive_times_in_a_clock_change_keep_their_durations(unit):
    """Wall-clock times the clocks skip are read with the offset before the change, as
    Python's datetime does; times the clocks pass twice are the earlier instant."""
    rows = [  # Berlin, 2021-03-28: clocks go from 02:00 to 03:00 (UTC+1 to UTC+2)
        ("ann", "cafe", "2021-03-28T02:10", "2021-03-28T02:40"),
        ("bob", "cafe", "2021-03-28T02:20", "2021-03-28T02:50"),
        ("cat", "gym", "2021-03-28T01:30", "2021-03-28T03:30"),  # across the gap
        # 2021-10-31: clocks go back from 03:00 to 02:00: 02:30 happens twice
        ("dan", "bar", "2021-10-31T02:30", "2021-10-31T02:45"),
    ]
    index = tg.VenueIndex.from_stays(_naive(rows, unit), tz="Europe/Berlin")
    contacts = tg.trace(index, ["ann"]).contacts.to_pydict()
    assert contacts["person"] == ["ann", "bob"]
    assert contacts["exposed_at"][1] == _utc("2021-03-28T01:20")
    got = {
        p: (tbl["start"][0].as_py(), tbl["end"][0].as_py())
        for p in ("ann", "cat", "dan")
        for tbl in [index.stays_of(p)]
    }
    assert got["ann"] == (_utc("2021-03-28T01:10"), _utc("2021-03-28T01:40"))
    assert got["cat"] == (_utc("2021-03-28T00:30"), _utc("2021-03-28T01:30"))  # 1 h long
    assert got["dan"] == (_utc("2021-10-31T00:30"), _utc("2021-10-31T00:45"))  # summer time
    for p, (start, end) in got.items():  # as Python reads the wall-clock times (fold=0)
        row = next(r for r in rows if r[0] == p)
        zone = zoneinfo.ZoneInfo("Europe/Berlin")  # (== across zones is False in a gap)
        assert (
            start.timestamp() == dt.datetime.fromisoformat(row[2]).replace(tzinfo=zone).timestamp()
        )
        assert end.timestamp() == dt.datetime.fromisoformat(row[3]).replace(tzinfo=zone).timestamp()


def test_naive_nanosecond_times_near_their_limit_do_not_wrap():
    """2262-04-11 20:00 in Bogotá (UTC-5) is past the last nanosecond timestamp in UTC:
    read in seconds, it stays in 2262 (it wrapped to 1677 before)."""
    rows = [("ann", "cafe", "2262-04-11T18:00", "2262-04-11T19:00")]
    index = tg.VenueIndex.from_stays(_naive(rows, "ns"), tz="America/Bogota")
    start, end = index.stays_of("ann")["start"][0].as_py(), index.stays_of("ann")["end"][0].as_py()
    assert (start, end) == (_utc("2262-04-11T23:00"), _utc("2262-04-12T00:00"))
    rows = [("ann", "cafe", "2262-04-11T19:00", "2262-04-11T20:00")]
    index = tg.VenueIndex.from_stays(_naive(rows, "ns"), tz="America/Bogota")
    assert index.stays_of("ann")["end"][0].as_py() == _utc("2262-04-12T01:00")


def test_to_networkx_aggregates_edge_rows():
    """to_networkx(): one arc per (source, target), start = first overlap, overlap_s = total s,
    n_pairs = number of edge rows, venues = the venues involved; node attribute tier."""
    stays = stays_of(
        ("ann", "cafe", "09:00", "10:00"),
        ("ann", "gym", "11:00", "12:00"),
        ("bob", "cafe", "09:30", "10:30"),
        ("bob", "gym", "11:45", "12:30"),
        ("bob", "bar", "13:00", "14:00"),
        ("cat", "bar", "13:10", "13:20"),
    )
    result = check(
        stays,
        ["ann"],
        {"ann": (0, None), "bob": (1, at("09:30")), "cat": (2, at("13:10"))},
        [
            ("ann", "bob", "cafe", at("09:30"), at("10:00"), 1),
            ("ann", "bob", "gym", at("11:45"), at("12:00"), 1),
            ("bob", "cat", "bar", at("13:10"), at("13:20"), 2),
        ],
        tiers=2,
    )
    graph = result.to_networkx()
    assert dict(graph.nodes(data="tier")) == {"ann": 0, "bob": 1, "cat": 2}
    assert set(graph.edges) == {("ann", "bob"), ("bob", "cat")}
    arc = graph.edges["ann", "bob"]
    assert arc["n_pairs"] == 2
    assert arc["overlap_s"] == 45 * MIN
    start = arc["start"]
    if isinstance(start, dt.datetime):
        start = int(start.timestamp())
    assert start == at("09:30")
    assert sorted(arc["venues"]) == ["cafe", "gym"]


# --------------------------------------------------------------------------- errors


def test_error_missing_column():
    """A stays table without a required column is a SchemaError naming the column."""
    table = table_of(stays_of(("ann", "cafe", "09:00", "10:00"))).drop_columns(["venue"])
    with pytest.raises(tg.SchemaError, match="venue"):
        tg.VenueIndex.from_stays(table)


def test_error_mistyped_time_column():
    """Times must be timestamps, not ints or strings."""
    table = table_of(stays_of(("ann", "cafe", "09:00", "10:00")))
    table = table.set_column(2, "start", pa.array([at("09:00")], pa.int64()))
    with pytest.raises(tg.SchemaError, match="start"):
        tg.VenueIndex.from_stays(table)


def test_error_null_id():
    """A null person (or venue) id is a SchemaError."""
    table = table_of(stays_of(("ann", "cafe", "09:00", "10:00"), ("bob", "cafe", "09:00", "10:00")))
    nulled = table.set_column(0, "person", pa.array(["ann", None]))
    with pytest.raises(tg.SchemaError, match=r"(?i)null"):
        tg.VenueIndex.from_stays(nulled)
    nulled = table.set_column(1, "venue", pa.array([None, "cafe"]))
    with pytest.raises(tg.SchemaError, match=r"(?i)null"):
        tg.VenueIndex.from_stays(nulled)


def test_error_null_time():
    """A null start or end is a SchemaError."""
    table = table_of(stays_of(("ann", "cafe", "09:00", "10:00")))
    nulled = table.set_column(3, "end", pa.array([None], pa.timestamp("s", tz="UTC")))
    with pytest.raises(tg.SchemaError, match=r"(?i)null"):
        tg.VenueIndex.from_stays(nulled)


def test_error_end_before_start():
    """A stay ending before it starts is a SchemaError (end == start is a valid empty stay)."""
    with pytest.raises(tg.SchemaError, match="end"):
        tg.VenueIndex.from_stays(table_of(stays_of(("ann", "cafe", "10:00", "09:59"))))
    with pytest.warns(tg.DataWarning, match="zero seconds"):  # valid, but all of them?
        index = tg.VenueIndex.from_stays(table_of(stays_of(("ann", "cafe", "10:00", "10:00"))))
    assert index.n_stays == 1


def test_error_naive_timestamps_without_tz():
    """Naive timestamps without tz= are refused (a SchemaError telling to pass tz)."""
    naive = table_of(stays_of(("ann", "cafe", "09:00", "10:00")), tz=None)
    with pytest.raises(tg.SchemaError, match="tz"):
        tg.VenueIndex.from_stays(naive)


def test_error_negative_duration():
    """A negative duration is a ValueError naming the argument."""
    index = tg.VenueIndex.from_stays(table_of(stays_of(("ann", "cafe", "09:00", "10:00"))))
    for name in ("min_overlap", "linger", "latency", "infectious_for"):
        for value in (-1, dt.timedelta(seconds=-1), "-5min"):
            with pytest.raises(ValueError, match=name):
                tg.trace(index, ["ann"], **{name: value})


def test_error_bad_duration_string():
    """An unparseable duration string is a ValueError that shows an accepted example."""
    index = tg.VenueIndex.from_stays(table_of(stays_of(("ann", "cafe", "09:00", "10:00"))))
    for bad in ("15 parsecs", "soon", "", "1.5s"):
        with pytest.raises(ValueError, match="linger"):
            tg.trace(index, ["ann"], linger=bad)


def test_error_bad_unknown_and_tiers():
    """unknown must be "raise", "keep" or "drop"; tiers must be a positive int."""
    index = tg.VenueIndex.from_stays(table_of(stays_of(("ann", "cafe", "09:00", "10:00"))))
    with pytest.raises(ValueError, match="unknown"):
        tg.trace(index, ["ann"], unknown="ignore")
    with pytest.raises(ValueError, match="tiers"):
        tg.trace(index, ["ann"], tiers=-1)
