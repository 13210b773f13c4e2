"""Matching policies: each preset's boundaries by hand, and every policy against the oracle.

The hand-written tests pin what each system's text says at its edges (touching,
containment, zero length, bucket edges, the CWA grid, half-minute rounding); the
property tests check :func:`tracegraph.trace` and :func:`tracegraph.present_at` under
every preset (and with ``cumulative=True``) against ``oracle.py``, exactly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import zoneinfo
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import cwa_window, present_at_oracle, risk_oracle, trace_oracle
from strategies import (
    GRID,
    case_windows,
    cases_table,
    cities,
    examples,
    index_of,
    result_to_plain,
)

import tracegraph as tg
from tracegraph import exposure
from tracegraph.errors import PolicyError, SchemaError
from tracegraph.exposure import _trace_codes
from tracegraph.policy import PRESETS, cwa_windows

UTC = pa.timestamp("s", tz="UTC")
H = 3600
M = 60


def window(venue, start, end):
    return pa.table(
        {
            "venue": [venue],
            "start": pa.array([start], pa.int64()).cast(UTC),
            "end": pa.array([end], pa.int64()).cast(UTC),
        }
    )


def present(rows, venue, start, end, policy, **kwargs):
    found = tg.present_at(index_of(rows), window(venue, start, end), policy=policy, **kwargs)
    return sorted(found["person"].to_pylist())


def f1(rows, case, policy, **kwargs):
    result = tg.trace(index_of(rows), [case], policy=policy, **kwargs)
    contacts = result.contacts.to_pydict()
    return sorted(p for p, t in zip(contacts["person"], contacts["tier"], strict=True) if t == 1)


# --------------------------------------------------------------------------- presets by hand

# a window [10:00, 11:00) at "cafe" and stays around its edges
T10, T11 = 10 * H, 11 * H
EDGES = [
    ("inside", "cafe", T10 + 600, T10 + 1200),
    ("contains", "cafe", T10 - 60, T11 + 60),
    ("touch_start", "cafe", T10 - 600, T10),
    ("touch_end", "cafe", T11, T11 + 600),
    ("zero_inside", "cafe", T10 + 900, T10 + 900),
    ("zero_at_start", "cafe", T10, T10),
    ("zero_at_end", "cafe", T11, T11),
    ("before", "cafe", T10 - 1200, T10 - 1),
    ("after", "cafe", T11 + 1, T11 + 600),
    ("other_case", "CAFE", T10 + 600, T10 + 1200),
]


def test_tracegraph_and_nhs_half_open_touching_and_zero_length_do_not_count():
    for policy in ("tracegraph", "nhs"):
        assert present(EDGES, "cafe", T10, T11, policy) == ["contains", "inside"]


def test_nhs_ios_closed_touching_and_zero_length_count_and_venues_fold_case():
    closed = ["inside", "contains", "touch_start", "touch_end", "zero_inside"]
    expected = sorted([*closed, "zero_at_start", "zero_at_end", "other_case"])
    assert present(EDGES, "cafe", T10, T11, "nhs-ios") == expected
    assert present(EDGES, "Cafe", T10, T11, "nhs-ios") == expected
    # NHS Android compares venue ids exactly
    assert present(EDGES, "CAFE", T10, T11, "nhs") == ["other_case"]


def test_venue_ids_fold_case_as_python_casefold_does():
    # full Unicode case folding: "STRASSE" is "straße", and "İzmir" folds to
    # "i̇zmir" (i and a combining dot), not to "izmir" as a one-to-one lower-casing
    rows = [
        ("ann", "Café Straße", T10, T11),
        ("bob", "CAFÉ STRASSE", T10 + 60, T11),
        ("cat", "İzmir Cafe", T10, T11),
        ("dan", "izmir cafe", T10 + 60, T11),
        ("eve", "i̇zmir CAFE", T10 + 60, T11),
    ]
    assert f1(rows, "ann", "nhs-ios") == ["bob"]
    assert f1(rows, "cat", "nhs-ios") == ["eve"]
    assert f1(rows, "dan", "nhs-ios") == []
    for venue in ("café strasse", "CAFÉ STRAßE"):
        assert present(rows, venue, T10, T11, "nhs-ios") == ["ann", "bob"]
    assert present(rows, "İZMIR CAFE", T10, T11, "nhs-ios") == ["cat", "eve"]
    stays = [(p, v, a, b) for p, v, a, b in rows]
    policy = tg.MatchPolicy.named("nhs-ios")
    for case in ("ann", "cat", "dan"):
        expected = sorted(trace_oracle(stays, {case: None}, policy=policy)[0])
        assert sorted([case, *f1(rows, case, "nhs-ios")]) == expected


def test_nhs_ios_overlap_of_a_touching_stay_is_the_instant():
    found = tg.present_at(index_of(EDGES), window("cafe", T10, T11), policy="nhs-ios")
    row = found["person"].to_pylist().index("touch_end")
    assert found["start"][row] == found["end"][row]
    assert found["overlap_minutes"][row].as_py() == 0


def test_closed_policies_close_the_case_window_too():
    # under closed intervals the case's window [10:00, 11:00] is closed like every
    # interval: its stay starting at 11:00 gives the instant 11:00 (plus linger);
    # the default policy's half-open window [10:00, 11:00) leaves that stay out
    rows = [("case", "bar", T11, T11 + H), ("bob", "bar", T11 + 5 * M, T11 + H)]
    cases = pa.table(
        {"person": ["case"], "start": pa.array([T10], UTC), "end": pa.array([T11], UTC)}
    )
    for policy in ("nhs-ios", "crowdnotifier"):
        got = tg.trace(index_of(rows), cases, policy=policy, linger="10min").contacts
        assert got["person"].to_pylist() == ["case", "bob"], policy
    for policy in ("tracegraph", "nhs"):
        got = tg.trace(index_of(rows), cases, policy=policy, linger="10min").contacts
        assert got["person"].to_pylist() == ["case"], policy


def test_crowdnotifier_closed_intersection_at_hour_bucket_edges():
    rows = [
        ("ends_on_the_hour", "bar", 9 * H, T10),  # bucket 10 via its end instant
        ("ends_a_second_early", "bar", 9 * H, T10 - 1),
        ("starts_at_window_end", "bar", T10 + 1800, T11),
        ("same_bucket_no_intersection", "bar", T10 + 1900, T10 + 2000),
    ]
    assert present(rows, "bar", T10, T10 + 1800, "crowdnotifier") == [
        "ends_on_the_hour",
        "starts_at_window_end",
    ]
    # same hour bucket but disjoint: the intersection step still rejects it
    assert present(rows, "bar", T10 + 300, T10 + 400, "crowdnotifier") == []


def test_nz_arrival_instant_strictly_inside_the_window():
    rows = [
        ("arrives_inside", "shop", T10 + 60, T10 + 120),
        ("arrives_at_start", "shop", T10, T10 + 600),
        ("arrives_at_end", "shop", T11, T11 + 600),
        ("arrived_before_still_there", "shop", T10 - 60, T11),
        ("zero_length_inside", "shop", T10 + 1, T10 + 1),
    ]
    found = tg.present_at(index_of(rows), window("shop", T10, T11), policy="nz")
    assert sorted(found["person"].to_pylist()) == ["arrives_inside", "zero_length_inside"]
    assert found["start"].to_pylist() == found["end"].to_pylist()  # the arrival instant


def test_nz_has_no_min_overlap():
    with pytest.raises(PolicyError, match="arrival instant, which has no duration"):
        tg.present_at(index_of(EDGES), window("cafe", T10, T11), policy="nz", min_overlap="5min")


def test_cwa_window_of_the_issue_example_in_hanoi_time():
    # a stay 10:24-10:36 local (UTC+7) becomes the window 10:30-10:50
    zone = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
    s = int(dt.datetime(2021, 9, 6, 10, 24, tzinfo=zone).timestamp())
    e = int(dt.datetime(2021, 9, 6, 10, 36, tzinfo=zone).timestamp())
    keep, ws, we = cwa_windows(np.array([s]), np.array([e]))
    assert keep.tolist() == [True]
    assert dt.datetime.fromtimestamp(int(ws[0]), zone).time() == dt.time(10, 30)
    assert dt.datetime.fromtimestamp(int(we[0]), zone).time() == dt.time(10, 50)
    assert cwa_window(s, e) == (int(ws[0]), int(we[0]))


def test_cwa_window_derivation_cases():
    # (start, end) -> window, worked by hand from the rule
    cases = {
        (0, 9 * M + 59): None,  # dm = 9 < 10: dropped
        (0, 10 * M): (0, 20 * M),  # decay 10 min, target 20 min, not late
        (5 * M, 45 * M): (10 * M, 70 * M),  # d 40 min: decay 30, target 70 -> 60?, see below
        (0, 2 * H): (0, 150 * M),  # d 120: decay 30, target round(150/10)=15 -> 150 min
    }
    # (5 min, 45 min): d = 40 min, decay = 30 min, relevantEnd = 75 min, target =
    # round_half_up(70 / 10) * 10 = 70 min; S = 0, E = 70 min; relevantEnd - E = 5 min
    # vs S + 10 - start = 5 min: not strictly later, so [S, S + target) = [0, 70 min)
    cases[(5 * M, 45 * M)] = (0, 70 * M)
    for (s, e), expected in cases.items():
        keep, ws, we = cwa_windows(np.array([s]), np.array([e]))
        got = (int(ws[0]), int(we[0])) if keep[0] else None
        assert got == expected, (s, e)
        assert cwa_window(s, e) == expected


def test_cwa_target_rounds_half_up():
    # d = 15 min, decay = 15 min: (d + decay) / 10 min = 3.0; d = 12.5 min: 2.5 -> 3
    s, e = 0, 12 * M + 30
    keep, ws, we = cwa_windows(np.array([s]), np.array([e]))
    assert keep[0] and int(we[0] - ws[0]) == 30 * M


def test_cwa_trace_drops_short_case_stays_and_sets_its_own_end():
    rows = [("case", "cafe", 0, 9 * M), ("x", "cafe", 0, 9 * M)]
    assert f1(rows, "case", "cwa") == []
    assert f1(rows, "case", "tracegraph") == ["x"]
    # a 12-minute case stay at 10:24 gives the window 10:30-10:50: someone arriving at
    # 10:45 after the case left is exposed; someone leaving at 10:30 is not (touching)
    rows = [
        ("case", "cafe", T10 + 24 * M, T10 + 36 * M),
        ("late", "cafe", T10 + 45 * M, T11),
        ("early", "cafe", T10, T10 + 30 * M),
    ]
    assert f1(rows, "case", "cwa") == ["late"]
    with pytest.raises(PolicyError, match="expected linger=0"):
        tg.trace(index_of(rows), ["case"], policy="cwa", linger="5min")


def test_cwa_with_a_30_second_minimum_is_the_ios_app_filter():
    # cwa-app-ios TraceWarningMatcher keeps a check-in when round(overlap / 60) > 0
    # (Swift rounds half away from zero): 30 s of overlap with the window count, 29 s
    # do not; the Android app keeps any overlap > 0. The 12-minute case stay at 10:24
    # gives the window 10:30-10:50.
    rows = [
        ("case", "cafe", T10 + 24 * M, T10 + 36 * M),
        ("s29", "cafe", T10 + 50 * M - 29, T11),
        ("s30", "cafe", T10 + 50 * M - 30, T11),
        ("s1", "cafe", T10 + 50 * M - 1, T11),
    ]
    assert f1(rows, "case", "cwa") == ["s1", "s29", "s30"]
    assert f1(rows, "case", "cwa", min_overlap="30s") == ["s30"]


def test_minutes_rounding_at_the_half_minute():
    seconds = np.array([0, 29, 30, 59, 60, 89, 90, 91])
    assert PRESETS["cwa"].minutes(seconds).tolist() == [0, 0, 1, 1, 1, 1, 2, 2]
    assert PRESETS["tracegraph"].minutes(seconds).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    ceil = tg.MatchPolicy(rounding="ceil")
    assert ceil.minutes(seconds).tolist() == [0, 1, 1, 1, 1, 2, 2, 2]
    rows = [("x", "cafe", T10, T10 + 90)]
    found = tg.present_at(index_of(rows), window("cafe", T10, T11), policy="cwa")
    assert found["overlap_minutes"].to_pylist() == [2]


def test_unknown_policy_lists_the_valid_ones():
    with pytest.raises(PolicyError, match=r"unknown policy 'who'; expected one of \['crowd"):
        tg.trace(index_of(EDGES), ["inside"], policy="who")
    with pytest.raises(TypeError, match=r"expected a preset name or a tracegraph\.MatchPolicy"):
        tg.trace(index_of(EDGES), ["inside"], policy=3)
    with pytest.raises(PolicyError, match="`rounding`: expected one of"):
        tg.MatchPolicy(rounding="nearest")
    with pytest.raises(PolicyError, match="`bucket`: expected a positive int"):
        tg.MatchPolicy(bucket=0)
    assert isinstance(PolicyError("x"), ValueError)


def test_custom_policy_combines_fields():
    closed_exact = tg.MatchPolicy(name="closed-exact", intervals="closed")
    closed = ["inside", "contains", "touch_start", "touch_end", "zero_inside"]
    assert present(EDGES, "cafe", T10, T11, closed_exact) == sorted(
        [*closed, "zero_at_start", "zero_at_end"]
    )
    result = tg.trace(index_of(EDGES), ["inside"], policy=closed_exact)
    assert result.params["policy"] == "closed-exact"
    assert result.policy is closed_exact


def test_present_at_reports_the_window_it_matched():
    rows = [("a", "cafe", T10, T11), ("b", "gym", T10, T11)]
    windows = pa.table(
        {
            "venue": ["gym", "cafe", "nowhere"],
            "start": pa.array([T10 + 60, T10 + 120, T10], pa.int64()).cast(UTC),
            "end": pa.array([T10 + 180, T10 + 240, T11], pa.int64()).cast(UTC),
        }
    )
    found = tg.present_at(index_of(rows), windows).to_pydict()
    assert found["person"] == ["b", "a"]
    assert found["window"] == [0, 1]
    assert found["overlap_minutes"] == [2, 2]
    assert [w.timestamp() for w in found["window_start"]] == [T10 + 60, T10 + 120]


def test_present_at_rejects_bad_windows():
    index = index_of(EDGES)
    with pytest.raises(SchemaError, match=r"column `end` not found"):
        tg.present_at(index, pa.table({"venue": ["cafe"], "start": pa.array([0], UTC)}))
    naive = pa.table(
        {
            "venue": ["cafe"],
            "start": pa.array([0], pa.timestamp("s")),
            "end": pa.array([1], pa.timestamp("s")),
        }
    )
    with pytest.raises(SchemaError):
        tg.present_at(index, naive)
    with pytest.raises(SchemaError, match="ending before they start"):
        tg.present_at(index, window("cafe", T11, T10))
    with pytest.raises(SchemaError, match="expected no nulls"):
        tg.present_at(
            index,
            window(None, T10, T11).cast(
                pa.schema([("venue", pa.string()), ("start", UTC), ("end", UTC)])
            ),
        )


def test_cumulative_sums_overlaps_per_utc_day():
    # two 10-minute overlaps with the case on one day reach 15 minutes only summed;
    # the same on two different UTC days do not
    day = 86_400
    rows = [
        ("case", "cafe", T10, T10 + 10 * M),
        ("case", "bar", T11, T11 + 10 * M),
        ("same_day", "cafe", T10, T10 + 10 * M),
        ("same_day", "bar", T11, T11 + 10 * M),
        ("case", "gym", day - 10 * M, day),
        ("case", "gym", day, day + 10 * M),
        ("two_days", "gym", day - 10 * M, day + 10 * M),
    ]
    assert f1(rows, "case", "tracegraph", min_overlap="15min") == []
    result = tg.trace(index_of(rows), ["case"], min_overlap="15min", cumulative=True)
    contacts = result.contacts.to_pydict()
    assert contacts["person"] == ["case", "same_day"]
    assert contacts["exposed_at"][1].timestamp() == T10  # the day's first overlap
    assert result.edges.num_rows == 2
    assert result.params["cumulative"] is True


def test_cumulative_per_source_sums_the_time_with_each_infectious_person_apart():
    # the CDC's close contact: 15 minutes in total with one infected person in a day.
    # "crowd" spends 10 minutes with each of two cases: 20 minutes summed over them,
    # 10 with each; "friend" spends 10 + 10 minutes with case a on one day
    rows = [
        ("a", "cafe", T10, T10 + 10 * M),
        ("b", "cafe", T10 + 10 * M, T10 + 20 * M),
        ("a", "bar", T11, T11 + 10 * M),
        ("crowd", "cafe", T10, T10 + 20 * M),
        ("friend", "cafe", T10, T10 + 10 * M),
        ("friend", "bar", T11, T11 + 10 * M),
    ]
    index = index_of(rows)
    summed = tg.trace(index, ["a", "b"], min_overlap="15min", cumulative=True)
    assert summed.contacts["person"].to_pylist() == ["a", "b", "crowd", "friend"]
    apart = tg.trace(index, ["a", "b"], min_overlap="15min", cumulative="per_source")
    assert apart.contacts["person"].to_pylist() == ["a", "b", "friend"]
    assert apart.contacts["exposed_at"][2].as_py().timestamp() == T10
    assert set(apart.edges["source"].to_pylist()) == {"a"}
    assert apart.params["cumulative"] == "per_source"
    assert "per day and source (UTC)" in apart._repr_html_()
    for bad in ("per-source", "yes", 1, None):
        with pytest.raises(tg.ArgumentError, match=r"`cumulative`: expected False, True or 'per_s"):
            tg.trace(index, ["a"], cumulative=bad)


def _hanoi_morning() -> tg.VenueIndex:
    """A case and b together 10 minutes at 06:30 and 10 at 07:30 in Hanoi on 2021-09-06:
    one local day, two UTC days (UTC's midnight is 07:00 in Hanoi)."""
    day = 86_400 * 18_876  # 2021-09-06 00:00 UTC
    hanoi_0630 = day - 30 * M  # 23:30 UTC the day before
    rows = [
        ("case", "market", hanoi_0630, hanoi_0630 + 10 * M),
        ("case", "office", day + 30 * M, day + 40 * M),
        ("b", "market", hanoi_0630, hanoi_0630 + 10 * M),
        ("b", "office", day + 30 * M, day + 40 * M),
    ]
    return index_of(rows)


def test_cumulative_days_may_be_local_days():
    index = _hanoi_morning()
    utc = tg.trace(index, ["case"], min_overlap="15min", cumulative=True)
    assert utc.contacts["person"].to_pylist() == ["case"]
    local = tg.trace(
        index, ["case"], min_overlap="15min", cumulative=True, day_tz="Asia/Ho_Chi_Minh"
    )
    assert local.contacts["person"].to_pylist() == ["case", "b"]
    assert local.params["day_tz"] == "Asia/Ho_Chi_Minh"
    with pytest.raises(tg.TimezoneError, match="`day_tz`"):
        tg.trace(index, ["case"], cumulative=True, day_tz="Asia/Hanoi_typo")
    with pytest.raises(tg.ArgumentError, match="`day_tz`: expected a zone name, got int"):
        tg.trace(index, ["case"], day_tz=7)


def test_risk_days_may_be_local_days():
    # one local day with 20 minutes, or two UTC days with 10 each
    index = _hanoi_morning()
    utc = tg.trace(index, ["case"])
    local = tg.trace(index, ["case"], day_tz="Asia/Ho_Chi_Minh")  # no cumulative needed
    assert local.contacts.equals(utc.contacts)  # the days change no match
    assert local.params["day_tz"] == "Asia/Ho_Chi_Minh"
    assert utc.risk()["risk"].to_pylist() == [10.0]
    assert local.risk()["risk"].to_pylist() == [20.0]  # the trace's days by default
    assert utc.risk(day_tz="Asia/Ho_Chi_Minh").equals(local.risk())
    assert local.risk(day_tz="UTC").equals(utc.risk())
    assert local.risk()["overlap_minutes"].to_pylist() == [20]  # whatever the days
    # a level given for a Hanoi date applies to that local day
    levels = pa.table(
        {
            "person": ["case"],
            "day": pa.array([dt.date(2021, 9, 6)]),
            "risk_level": pa.array([8], pa.int64()),
        }
    )
    # CWA scores each check-in: b's one stay at the office from 06:40 to 07:20 in
    # Hanoi, inside the case's window there [06:00, 07:30) (a stay of an hour from
    # 06:00): 40 minutes on one Hanoi day, or 20 on each of two UTC days
    day = 86_400 * 18_876  # 2021-09-06 00:00 UTC, 07:00 in Hanoi
    office = index_of(
        [("case", "office", day - H, day), ("b", "office", day - 20 * M, day + 20 * M)]
    )
    cwa = tg.trace(office, ["case"], policy="cwa", day_tz="Asia/Ho_Chi_Minh")
    assert cwa.risk(levels=levels)["risk"].to_pylist() == [pytest.approx(40 * 1.6)]
    # in UTC the level of 2021-09-06 weighs its 20 minutes; the day before has level 5
    assert cwa.risk(levels=levels, day_tz="UTC")["risk"].to_pylist() == [pytest.approx(32.0)]
    with pytest.raises(tg.TimezoneError, match="`day_tz`"):
        utc.risk(day_tz="Asia/Hanoi_typo")
    with pytest.raises(tg.ArgumentError, match="`day_tz`: expected a zone name"):
        utc.risk(day_tz=7)


@settings(max_examples=examples(0.3))
@given(
    st.lists(
        st.tuples(
            st.integers(1, 2),  # person
            st.sampled_from(["market", "market", "office"]),
            st.integers(-8, 8).map(lambda k: k * GRID),  # within 40 min of midnight
            st.integers(0, 6).map(lambda k: k * GRID),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([600, 900]),
)
def test_cumulative_days_match_the_oracle_around_midnights(rows, min_overlap):
    # short stays around 2021-09-05 17:00 UTC, midnight in Hanoi: under day_tz Hanoi
    # a contact's minutes before and after it fall on two days (on one day in UTC,
    # in Berlin or in St John's, whose midnights are hours away)
    base = 1_630_861_200
    case_stay = (0, "market", base - 3600, base + 3600)  # the case is there at midnight
    stays = [case_stay] + [(p, v, base + a, base + a + d) for p, v, a, d in rows]
    index = index_of(stays)
    for day_tz in ("UTC", "Asia/Ho_Chi_Minh", "Europe/Berlin", "America/St_Johns"):
        expected = trace_oracle(
            stays, {0: None}, min_overlap=min_overlap, cumulative=True, day_tz=day_tz
        )
        got = tg.trace(index, [0], min_overlap=min_overlap, cumulative=True, day_tz=day_tz)
        assert result_to_plain(got) == expected, day_tz


def test_risk_rounds_the_time_with_each_person_once():
    # bob visits ten times for 90 s while ann is there: 15 minutes with her, which the
    # cumulative trace counts, and risk() says so (not ten times one minute)
    visits = [("bob", "cafe", T10 + k * 10 * M, T10 + k * 10 * M + 90) for k in range(10)]
    rows = [("ann", "cafe", T10, T10 + 2 * H), *visits]
    result = tg.trace(index_of(rows), ["ann"], min_overlap="15min", cumulative=True)
    assert result.contacts["person"].to_pylist() == ["ann", "bob"]
    risk = result.risk().to_pydict()
    assert risk["overlap_minutes"] == [15] and risk["longest_minutes"] == [1]
    assert risk["risk"] == [15.0] and risk["risk_level"] == ["high"]
    assert result.risk(levels={}).equals(result.risk())  # no levels given


# (a stay in the data twice, on purpose: its DataWarning is not the point)
@pytest.mark.filterwarnings("ignore:.*stays repeat another stay:tracegraph.DataWarning")
def test_cumulative_counts_time_together_once_whatever_the_stays():
    # b was at the cafe for 10 minutes, but its stay is in the data twice, and c's two
    # stays overlap each other: neither spent 15 minutes with the case
    rows = [
        ("case", "cafe", T10, T10 + 20 * M),
        ("b", "cafe", T10, T10 + 10 * M),
        ("b", "cafe", T10, T10 + 10 * M),
        ("c", "cafe", T10, T10 + 10 * M),
        ("c", "cafe", T10 + 2 * M, T10 + 12 * M),
        ("d", "cafe", T10, T10 + 8 * M),  # d: 8 + 8 minutes, at two separate times
        ("d", "cafe", T10 + 10 * M, T10 + 18 * M),
    ]
    result = tg.trace(index_of(rows), ["case"], min_overlap="15min", cumulative=True)
    assert result.contacts["person"].to_pylist() == ["case", "d"]
    # the case's own stay twice: still 20 minutes, not 40
    twice = [*rows, rows[0]]
    result = tg.trace(index_of(twice), ["case"], min_overlap="15min", cumulative=True)
    assert result.contacts["person"].to_pylist() == ["case", "d"]
    risk = result.risk().to_pydict()
    assert risk["overlap_minutes"] == [16]
    assert risk["longest_minutes"] == [8]


@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 30), st.integers(0, 10)),
        max_size=25,
    )
)
def test_pair_pieces_are_the_union_of_each_pairs_overlaps(rows):
    _check_pair_pieces(rows)


@settings(max_examples=examples(0.3))
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 400), st.integers(0, 30)),
        min_size=40,
        max_size=150,
    ),
    st.sampled_from([0, 30, 60, 200]),
)
def test_many_overlaps_of_one_pair_and_their_daily_totals(rows, min_overlap):
    # groups of more than 32 overlaps take the sorting branches of the kernels; days
    # are 100 s long here (the kernel is given them)
    _check_pair_pieces(rows)
    source = np.array([r[0] for r in rows], dtype=np.int32)
    target = np.array([r[1] for r in rows], dtype=np.int32)
    start = np.array([r[2] for r in rows], dtype=np.int64)
    end = start + np.array([r[3] for r in rows], dtype=np.int64)
    _, _, p_target, p_start, p_end = exposure._pair_pieces(source, target, start, end)
    ok = np.empty(p_target.shape[0], dtype=np.bool_)
    tg._kernels.day_totals_reach(p_target, p_start, p_end, p_start // 100, min_overlap, ok)
    for k in range(p_target.shape[0]):
        same = (p_target == p_target[k]) & (p_start // 100 == p_start[k] // 100)
        assert ok[k] == (int((p_end - p_start)[same].sum()) >= min_overlap)


def _check_pair_pieces(rows):
    source = np.array([r[0] for r in rows], dtype=np.int32)
    target = np.array([r[1] for r in rows], dtype=np.int32)
    start = np.array([r[2] for r in rows], dtype=np.int64)
    end = start + np.array([r[3] for r in rows], dtype=np.int64)
    piece, p_source, p_target, p_start, p_end = exposure._pair_pieces(source, target, start, end)
    for (s, t), group in itertools.groupby(sorted(rows), key=lambda r: r[:2]):
        seconds = set().union(*(range(a, a + d) for _, _, a, d in group))
        mine = (p_source == s) & (p_target == t)
        assert int((p_end - p_start)[mine].sum()) == len(seconds)  # the union, once
        covered = [set(range(a, b)) for a, b in zip(p_start[mine], p_end[mine], strict=True)]
        assert all(not (x & y) for x, y in itertools.combinations(covered, 2))  # disjoint
    for i in range(len(rows)):  # each overlap lies in its piece, of its pair
        k = piece[i]
        assert (p_source[k], p_target[k]) == (source[i], target[i])
        assert p_start[k] <= start[i] and end[i] <= p_end[k]


# --------------------------------------------------------------------------- against the oracle

POLICIES = sorted(PRESETS)
_STRING_FORMS = (str.lower, str.upper, str.title)


def _string_city(city, data):
    """The city with string venue ids whose case varies from stay to stay."""
    forms = data.draw(
        st.lists(st.sampled_from(range(3)), min_size=len(city.stays), max_size=len(city.stays)),
        label="venue id case",
    )
    return [
        (p, _STRING_FORMS[f](f"v{v}"), s, e)
        for (p, v, s, e), f in zip(city.stays, forms, strict=True)
    ]


def _stays_table(stays):
    return pa.table(
        {
            "person": pa.array([p for p, _, _, _ in stays], pa.int64()),
            "venue": pa.array([v for _, v, _, _ in stays], pa.string()),
            "start": pa.array([s for _, _, s, _ in stays], pa.int64()).cast(UTC),
            "end": pa.array([e for _, _, _, e in stays], pa.int64()).cast(UTC),
        }
    )


@settings(max_examples=examples(0.5))
@given(city=cities(modes=("grid", "fine")), data=st.data())
def test_trace_matches_oracle_under_every_policy(city, data):
    policy = PRESETS[data.draw(st.sampled_from(POLICIES), label="policy")]
    stays = _string_city(city, data)
    if stays and data.draw(st.booleans(), label="some stays twice"):
        stays += data.draw(st.lists(st.sampled_from(stays), max_size=3), label="repeated")
    cases = data.draw(case_windows(city), label="cases")
    cases = {c: w for c, w in cases.items() if c in city.people}
    tiers = data.draw(st.integers(1, 3), label="tiers")
    min_overlap = (
        0
        if policy.rule == "arrival"
        else data.draw(st.sampled_from([0, 0, 60, GRID]), label="min_overlap")
    )
    linger = 0 if policy.window == "cwa" else data.draw(st.sampled_from([0, GRID]), label="linger")
    cumulative = data.draw(st.sampled_from([False, True, "per_source"]), label="cumulative")
    # days of another zone: Berlin's midnight falls within an hour of two of the
    # strategies' epoch bases (22:13 UTC), Hanoi's far from it
    zones = ["UTC", "Europe/Berlin", "Asia/Ho_Chi_Minh"]
    day_tz = data.draw(st.sampled_from(zones), label="day_tz") if cumulative else "UTC"
    latency = data.draw(st.sampled_from([0, 60]), label="latency")
    expected = trace_oracle(
        stays,
        cases,
        tiers=tiers,
        min_overlap=min_overlap,
        linger=linger,
        latency=latency,
        policy=policy,
        cumulative=cumulative,
        day_tz=day_tz,
    )
    index = tg.VenueIndex.from_stays(
        _stays_table(stays), bucket_width=data.draw(st.sampled_from(["7min", "1h"]))
    )
    arg = cases_table(cases, city)
    # the packed-key kernel (large tiers) or the general one (small tiers); exposure
    # intervals by a pass over the index (many persons) or through the person view
    packed = data.draw(st.booleans(), label="packed")
    dense = data.draw(st.booleans(), label="dense windows")
    with (
        mock.patch.object(exposure, "_PACKED_MIN_QUERIES", 0 if packed else 2048),
        mock.patch.object(exposure, "_DENSE_WINDOWS", 2**40 if dense else 1),
    ):
        got = tg.trace(
            index,
            arg,
            tiers=tiers,
            min_overlap=min_overlap,
            linger=linger,
            latency=latency,
            policy=policy,
            cumulative=cumulative,
            day_tz=day_tz,
        )
    assert result_to_plain(got) == expected


@st.composite
def _crowds(draw):
    """A venue or two where a few cases drop in briefly and others stay long: the
    time with all cases often reaches ``min_overlap`` where the time with each does
    not (the two cumulative rules part), on one day or across a midnight."""
    n_cases = draw(st.integers(1, 4))
    stays = []
    for person in range(n_cases + draw(st.integers(1, 4))):
        for _ in range(draw(st.integers(1, 3))):
            brief = person < n_cases
            start = draw(st.integers(-8, 8)) * 5 * M  # around the epoch's midnight
            length = draw(st.integers(0, 3 if brief else 12)) * 5 * M
            stays.append((person, draw(st.sampled_from(["v0", "v1"])), start, start + length))
    return stays, {c: None for c in range(n_cases)}


@settings(max_examples=examples(0.5))
@given(crowd=_crowds(), data=st.data())
def test_cumulative_rules_match_the_oracle_where_sums_over_sources_matter(crowd, data):
    stays, cases = crowd
    kwargs = {
        "tiers": data.draw(st.integers(1, 2), label="tiers"),
        "min_overlap": data.draw(st.sampled_from([10 * M, 15 * M, 25 * M]), label="min_over"),
        "cumulative": data.draw(st.sampled_from([True, "per_source"]), label="cumulative"),
        "day_tz": data.draw(st.sampled_from(["UTC", "Asia/Ho_Chi_Minh"]), label="day_tz"),
    }
    expected = trace_oracle(stays, cases, **kwargs)
    got = tg.trace(tg.VenueIndex.from_stays(_stays_table(stays)), list(cases), **kwargs)
    assert result_to_plain(got) == expected


@settings(max_examples=examples(0.5))
@given(crowd=_crowds(), data=st.data())
def test_cwa_risk_per_check_in_matches_the_oracle_either_way_round(crowd, data):
    # long stays meeting several cases' windows: CWA sums per check-in, so the stays
    # the pairs belong to must be right whichever side probes the other
    stays, cases = crowd
    policy = PRESETS["cwa"]
    day_tz = data.draw(st.sampled_from(["UTC", "Asia/Ho_Chi_Minh"]), label="day_tz")
    levels = {c: data.draw(st.integers(1, 8), label="level") for c in cases}
    contacts, edges = trace_oracle(stays, cases, tiers=2, policy=policy, with_stays=True)
    expected = risk_oracle(edges, policy, levels=levels, day_tz=day_tz)
    index = tg.VenueIndex.from_stays(_stays_table(stays))
    way = data.draw(st.sampled_from(["forward", "reverse"]), label="direction")
    with mock.patch.object(exposure, "_reverse", lambda *_: way == "reverse"):
        got = tg.trace(index, list(cases), tiers=2, policy=policy, day_tz=day_tz)
        table = got.risk(levels=levels).to_pydict()
    assert sorted(table["person"]) == sorted(p for p, (t, _) in contacts.items() if t > 0)
    for person, risk in zip(table["person"], table["risk"], strict=True):
        assert risk == pytest.approx(expected[person][2]), person


@settings(max_examples=examples(0.5))
@given(city=cities(modes=("grid", "fine")), data=st.data())
def test_risk_matches_the_oracle_in_any_zone(city, data):
    # minutes, longest time together and the worst day's score of every contact, from
    # the oracle's own pairs, with the days of a zone whose midnight the city is moved
    # to straddle (its times are within ~4 h of its base): any midnight, or one that
    # clocks skip or pass twice (Havana's spring and autumn changes at 00:00)
    # (CWA's risk model, the one that weighs levels, half the time)
    choices = POLICIES + ["cwa"] * len(POLICIES)
    policy = PRESETS[data.draw(st.sampled_from(choices), label="policy")]
    day_tz, day = data.draw(st.sampled_from(_RISK_DAYS), label="zone and day")
    cases = data.draw(case_windows(city), label="cases")
    cases = {c: w for c, w in cases.items() if c in city.people}
    if day is None:
        day = dt.datetime.fromtimestamp(city.base, zoneinfo.ZoneInfo(day_tz)).date()
        day += dt.timedelta(days=1)
    midnight = _first_second_of(day, day_tz)
    at = data.draw(st.integers(-2, 48).map(lambda k: k * GRID // 2), label="midnight at")
    shift = midnight - city.base - at  # the zone's midnight `at` seconds after the base
    city = dataclasses.replace(
        city,
        stays=[(p, v, s + shift, e + shift) for p, v, s, e in city.stays],
        base=city.base + shift,
    )
    cases = {
        c: None if w is None else tuple(None if t is None else t + shift for t in w)
        for c, w in cases.items()
    }
    stays = _string_city(city, data)
    if stays and data.draw(st.booleans(), label="some stays twice"):
        stays += data.draw(st.lists(st.sampled_from(stays), max_size=3), label="repeated")
    tiers = data.draw(st.integers(1, 2), label="tiers")
    people = sorted(city.people)
    # levels per person, or per person and day (of the zone: the day before, of, after)
    by_day = data.draw(st.booleans(), label="levels by day")
    keys: list[object] = list(people)
    if by_day:  # every person on each of the days: levels that vary by day
        keys = [(p, day + dt.timedelta(k)) for p in people for k in (-1, 0, 1)]
    chosen = data.draw(st.lists(st.integers(1, 8), min_size=len(keys), max_size=len(keys)))
    levels = dict(zip(keys, chosen, strict=True))
    given_levels: object = levels
    if by_day:
        given_levels = pa.table(
            {
                "person": pa.array([k[0] for k in levels], pa.int64()),
                "day": pa.array([k[1] for k in levels], pa.date32()),
                "risk_level": pa.array(list(levels.values()), pa.int64()),
            }
        )
    contacts, edges = trace_oracle(stays, cases, tiers=tiers, policy=policy, with_stays=True)
    expected = risk_oracle(edges, policy, levels=levels, day_tz=day_tz)
    index = tg.VenueIndex.from_stays(_stays_table(stays))
    # the pairs (and the stays CWA scores) found forward, or the other way round
    way = data.draw(st.sampled_from(["auto", "forward", "reverse"]), label="direction")
    real = exposure._reverse

    def reverse(index, excluded, n, rules):
        if way == "auto" or not rules.policy.symmetric or rules.policy.venue_match == "casefold":
            return real(index, excluded, n, rules)
        return way == "reverse"

    if policy.risk != "cwa":  # (levels weigh the CWA model only; refused under others)
        expected = risk_oracle(edges, policy, levels=None, day_tz=day_tz)
        given_levels = None
    with mock.patch.object(exposure, "_reverse", reverse):
        got = tg.trace(index, cases_table(cases, city), tiers=tiers, policy=policy, day_tz=day_tz)
        table = got.risk(levels=given_levels).to_pydict()
    assert sorted(table["person"]) == sorted(p for p, (t, _) in contacts.items() if t > 0)
    for i, person in enumerate(table["person"]):
        minutes, longest, risk = expected[person]
        assert (table["overlap_minutes"][i], table["longest_minutes"][i]) == (minutes, longest)
        assert table["risk"][i] == pytest.approx(risk), (person, day_tz)
        assert table["risk_level"][i] == ("high" if risk >= policy.high_risk - 1e-9 else "low")


#: Zones for the risk test, with a day whose midnight to straddle (None: any).
_RISK_DAYS = [
    ("UTC", None),
    ("Europe/Berlin", None),
    ("Asia/Ho_Chi_Minh", None),
    ("America/Havana", dt.date(2023, 3, 12)),  # clocks skip 00:00-01:00
    ("America/Havana", dt.date(2023, 11, 5)),  # clocks pass 00:00-01:00 twice (at 01:00)
]


def _first_second_of(day: dt.date, tz: str) -> int:
    """The first epoch second whose date on the clocks of ``tz`` is ``day``."""
    zone = zoneinfo.ZoneInfo(tz)
    lo = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()) - 86_400
    hi = lo + 3 * 86_400
    while hi - lo > 1:  # the date only grows with the time around these days
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if dt.datetime.fromtimestamp(mid, zone).date() >= day else (mid, hi)
    return hi


@settings(max_examples=examples(0.3))
@given(city=cities(modes=("grid", "fine")), data=st.data())
def test_both_directions_agree_under_symmetric_policies(city, data):
    policy = PRESETS[data.draw(st.sampled_from(["tracegraph", "crowdnotifier", "cwa"]))]
    stays = [(p, f"v{v}", s, e) for p, v, s, e in city.stays]
    cases = {c: None for c in data.draw(case_windows(city, windows=False)) if c in city.people}
    index = tg.VenueIndex.from_stays(_stays_table(stays))
    resolved = tg.exposure._resolve_cases(index, list(cases), "raise")
    answers = [
        result_to_plain(
            _trace_codes(
                index,
                resolved,
                tiers=2,
                min_overlap=0,
                linger=0,
                latency=0,
                infectious_for=None,
                direction=direction,
                policy=policy,
            )
        )
        for direction in ("forward", "reverse")
    ]
    assert answers[0] == answers[1] == trace_oracle(stays, cases, tiers=2, policy=policy)


@settings(max_examples=examples(0.5))
@given(city=cities(modes=("grid", "fine", "huge")), data=st.data())
def test_present_at_matches_oracle_under_every_policy(city, data):
    policy = PRESETS[data.draw(st.sampled_from(POLICIES), label="policy")]
    stays = _string_city(city, data)
    lo, hi = city.span()
    n = data.draw(st.integers(1, 4), label="windows")
    windows = []
    for _ in range(n):
        v = _STRING_FORMS[data.draw(st.integers(0, 2))](f"v{data.draw(st.integers(0, 5))}")
        a = data.draw(st.integers(lo - GRID, hi))
        if data.draw(st.booleans()) and stays:  # start on a stay's edge now and then
            a = data.draw(st.sampled_from([x for _, _, s, e in stays for x in (s, e)]))
        b = a + data.draw(st.sampled_from([0, 1, 60, GRID, 5 * GRID]))
        windows.append((v, a, b))
    min_overlap = 0 if policy.rule == "arrival" else data.draw(st.sampled_from([0, 0, 60]))
    table = pa.table(
        {
            "venue": pa.array([w[0] for w in windows], pa.string()),
            "start": pa.array([w[1] for w in windows], pa.int64()).cast(UTC),
            "end": pa.array([w[2] for w in windows], pa.int64()).cast(UTC),
        }
    )
    index = tg.VenueIndex.from_stays(_stays_table(stays), bucket_width="7min")
    found = tg.present_at(index, table, policy=policy, min_overlap=min_overlap).to_pydict()
    got = sorted(
        zip(
            found["window"],
            found["person"],
            found["venue"],
            [int(t.timestamp()) for t in found["start"]],
            [int(t.timestamp()) for t in found["end"]],
            strict=True,
        ),
        key=repr,
    )
    assert got == present_at_oracle(stays, windows, policy, min_overlap)
    minutes = policy.minutes(np.array([e - s for _, _, _, s, e in got], dtype=np.int64))
    assert sorted(found["overlap_minutes"]) == sorted(minutes.tolist())


def test_case_groups_are_computed_once_per_index():
    index = index_of([("ann", "Café", T10, T11), ("bob", "CAFÉ", T10, T11), ("cat", "bar", 0, 1)])
    groups = exposure._case_groups(index)
    assert exposure._case_groups(index) is groups  # kept: risk() and venues() ask often
    assert (
        groups.group.tolist()[index.venue_codes(pa.array(["CAFÉ"]))[0]]
        == groups.group[index.venue_codes(pa.array(["Café"]))[0]]
    )
    ids = pa.array(["Straße", "STRASSE", "bar", None, "İ"])
    assert exposure._casefold(ids).to_pylist() == ["strasse", "strasse", "bar", None, "i̇"]
