"""Reports on a trace: locations of interest, risk, explanations, venues, clusters, export.

Hand-written cities with known answers, and brute-force checks (written from the
docstrings, not the code) on hypothesis cities for the locations of interest and the
clusters.
"""

from __future__ import annotations

import datetime as dt
import itertools
import pathlib
import re
import zoneinfo
from unittest import mock

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import exposure_intervals, trace_oracle
from strategies import case_windows, cases_table, cities, examples, index_of, stays_table

import tracegraph as tg
from tracegraph.errors import ArgumentError, PersonNotFound, SchemaError

UTC = pa.timestamp("s", tz="UTC")
H = 3600
M = 60
DAY = 86_400


def secs(column):
    return [None if t is None else int(t.timestamp()) for t in column.to_pylist()]


# --------------------------------------------------------------------------- LOI

LOI_ROWS = [
    ("ann", "cafe", 0, H),
    ("bob", "cafe", 30 * M, 2 * H),  # a case too: windows overlap, merged
    ("cat", "cafe", 10 * M, 20 * M),
    ("dan", "cafe", 90 * M, 100 * M),
    ("ann", "gym", 5 * H, 6 * H),
    ("eve", "gym", 6 * H, 7 * H),  # touching the window: not exposed (half-open)
    ("fay", "pool", 0, H),
]


def test_locations_of_interest_merge_overlapping_windows_per_venue():
    result = tg.trace(index_of(LOI_ROWS), ["ann", "bob"])
    loi = result.locations_of_interest().to_pydict()
    assert loi["venue"] == ["cafe", "gym"]
    assert secs(pa.array(loi["start"])) == [0, 5 * H]
    assert secs(pa.array(loi["end"])) == [2 * H, 6 * H]
    assert loi["cases"] == [2, 1]
    assert loi["exposed"] == [2, 0]  # cat and dan at the cafe; nobody at the gym


def test_locations_of_interest_in_a_zone_are_the_same_instants_in_local_time():
    result = tg.trace(index_of(LOI_ROWS), ["ann", "bob"])
    utc = result.locations_of_interest()
    local = result.locations_of_interest(tz="Asia/Ho_Chi_Minh")
    assert local.schema.field("start").type == pa.timestamp("us", tz="Asia/Ho_Chi_Minh")
    assert local["start"].cast(pa.int64()).equals(utc["start"].cast(pa.int64()))
    assert local["end"].cast(pa.int64()).equals(utc["end"].cast(pa.int64()))
    assert local.drop_columns(["start", "end"]).equals(utc.drop_columns(["start", "end"]))
    # local wall-clock times (in 1970 Saigon kept UTC+8)
    zone = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
    assert local["start"].to_pylist() == [t.astimezone(zone) for t in utc["start"].to_pylist()]
    assert local["start"][0].as_py().hour == 8
    with pytest.raises(tg.TimezoneError):
        result.locations_of_interest(tz="Asia/Hanoi_City")
    with pytest.raises(ArgumentError, match="`tz`: expected a zone name, got int"):
        result.locations_of_interest(tz=7)


def test_locations_of_interest_under_closed_policy_merge_touching_and_count_them():
    rows = [*LOI_ROWS, ("ann", "gym", 6 * H, 7 * H)]  # touches ann's first gym window
    loi = tg.trace(index_of(rows), ["ann"], policy="nhs-ios").locations_of_interest().to_pydict()
    gym = loi["venue"].index("gym")
    assert secs(pa.array(loi["start"]))[gym] == 5 * H
    assert secs(pa.array(loi["end"]))[gym] == 7 * H
    assert loi["exposed"][gym] == 1  # eve, whose stay touches / overlaps


def test_locations_of_interest_with_linger_and_all_sources():
    result = tg.trace(index_of(LOI_ROWS), ["ann"], tiers=2, linger="30min")
    loi = result.locations_of_interest().to_pydict()
    gym = loi["venue"].index("gym")
    assert secs(pa.array(loi["end"]))[gym] == 6 * H + 30 * M
    assert loi["exposed"][gym] == 1  # eve arrives while the venue is still infectious
    everyone = result.locations_of_interest(sources="all")
    assert everyone.num_rows >= len(loi["venue"])
    with pytest.raises(ValueError, match="expected 'cases' or 'all'"):
        result.locations_of_interest(sources="some")


def test_locations_of_interest_export_to_csv_and_parquet(tmp_path):
    loi = tg.trace(index_of(LOI_ROWS), ["ann"]).locations_of_interest()
    tg.write_table(loi, tmp_path / "loi.csv")
    tg.write_table(loi, tmp_path / "loi.parquet")
    assert pacsv.read_csv(tmp_path / "loi.csv").column("venue").to_pylist() == ["cafe", "gym"]
    assert pq.read_table(tmp_path / "loi.parquet").equals(loi)
    with pytest.raises(ValueError, match=r"expected a \.csv or \.parquet suffix"):
        tg.write_table(loi, tmp_path / "loi.txt")
    tg.write_table(loi, tmp_path / "loi.txt", format="csv")
    for bad in ("json", "CSV"):  # the format named, not the path
        with pytest.raises(tg.ArgumentError, match=r"`format`: expected 'csv' or 'parquet'"):
            tg.write_table(loi, tmp_path / "loi.csv", format=bad)


@settings(max_examples=examples(0.3))
@given(city=cities(modes=("grid", "fine")), data=st.data())
def test_locations_of_interest_match_brute_force(city, data):
    cases = {c: w for c, w in data.draw(case_windows(city)).items() if c in city.people}
    linger = data.draw(st.sampled_from([0, 600]))
    _, edges = trace_oracle(city.stays, cases, linger=linger)
    # the cases' windows, merged per venue where they overlap (> 0)
    windows = sorted(
        (venue, xs, xe, case)
        for case, w in cases.items()
        for venue, xs, xe in exposure_intervals(city.stays, case, w or (None, None), linger)
    )
    merged: list[list] = []
    for venue, xs, xe, case in windows:
        if merged and merged[-1][0] == venue and xs < merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], xe)
            merged[-1][3].add(case)
        else:
            merged.append([venue, xs, xe, {case}])
    expected = []
    for venue, xs, xe, owners in merged:
        exposed = {e[1] for e in edges if e[2] == venue and xs <= e[3] < xe}
        expected.append((venue, xs, xe, len(owners), len(exposed)))

    index = tg.VenueIndex.from_stays(stays_table(city.stays))
    arg = list(cases)
    result = tg.trace(index, cases_table(cases, city) if cases else arg, linger=linger)
    loi = result.locations_of_interest().to_pydict()
    got = sorted(
        zip(
            loi["venue"],
            secs(pa.array(loi["start"])),
            secs(pa.array(loi["end"])),
            loi["cases"],
            loi["exposed"],
            strict=True,
        )
    )
    assert got == sorted(expected)


# --------------------------------------------------------------------------- risk


def test_risk_minutes_and_crowd():
    rows = [
        ("case", "cafe", 0, H),
        ("x", "cafe", 0, 20 * M),  # 20 min
        ("x", "cafe", 40 * M, 45 * M + 29),  # 5.48 min: floor 5
        ("y", "cafe", 50 * M, 2 * H),  # 10 min
        ("z", "cafe", 2 * H, 3 * H),  # after: not exposed, not in the crowd
    ]
    table = tg.trace(index_of(rows), ["case"]).risk().to_pydict()
    by = {p: i for i, p in enumerate(table["person"])}
    x, y = by["x"], by["y"]
    assert table["overlap_minutes"][x] == 25 and table["longest_minutes"][x] == 20
    assert table["risk"][x] == 25.0 and table["risk_level"][x] == "high"
    assert table["risk"][y] == 10.0 and table["risk_level"][y] == "low"
    assert table["venue"][x] == "cafe" and table["source"][x] == "case"
    assert table["crowd"][x] == table["crowd"][y] == 2  # x and y were there with the case


def test_crowd_counts_whoever_was_there_whatever_venues_the_cases_skipped():
    # the case's windows do not include the venue of the highest code ("zoo"): the
    # crowd's (person, venue) keys once had another width there and were never found
    rows = [("ann", "cafe", 0, H), ("bob", "cafe", 10 * M, 70 * M), ("cat", "zoo", 0, 100)]
    assert tg.trace(index_of(rows), ["bob"]).risk()["crowd"].to_pylist() == [1]
    assert tg.trace(index_of(rows[:2]), ["bob"]).risk()["crowd"].to_pylist() == [1]


def test_every_contact_is_in_its_own_crowd():
    city = tg.synth.generate_city(600, days=2, seed=3)
    index = tg.VenueIndex.from_stays(city.stays)
    cases = city.stays["person"].unique()[:5].to_pylist()
    for tiers in (1, 2):
        crowd = tg.trace(index, cases, tiers=tiers).risk()["crowd"].to_numpy()
        assert crowd.size and crowd.min() >= 1


def test_cwa_risk_splits_at_utc_midnight_and_weights_by_level():
    # the case's stay 23:00-01:00 gives (CWA) a window reaching past midnight; the
    # contact's overlap is split at 00:00 UTC and each day scored on its own
    rows = [("case", "bar", DAY - H, DAY + H), ("x", "bar", DAY - 8 * M, DAY + 8 * M)]
    result = tg.trace(index_of(rows), ["case"], policy="cwa")
    table = result.risk().to_pydict()
    assert table["overlap_minutes"] == [16]
    assert table["risk"] == [8.0]  # 8 minutes on each UTC day, weight 1.0 (level 5)
    assert table["risk_level"] == ["low"]  # below 10: the split matters
    weighted = result.risk(levels={"case": 8}).to_pydict()
    assert weighted["risk"] == [pytest.approx(8 * 1.6)]
    assert weighted["risk_level"] == ["high"]
    # per case day: level 1 (weight 0) on the first day, 8 on the second
    levels = pa.table(
        {
            "person": ["case", "case"],
            "day": pa.array([0, 1], pa.int32()).cast(pa.date32()),
            "risk_level": pa.array([1, 8], pa.int64()),
        }
    )
    per_day = result.risk(levels=levels).to_pydict()
    assert per_day["risk"] == [pytest.approx(8 * 1.6)]
    # days given as instants count by their day in UTC (the trace's days), whatever
    # their zone: 23:30 UTC of the first day is 06:30 of the second in Hanoi
    for zone in ("UTC", "Asia/Ho_Chi_Minh", "America/New_York"):
        instants = pa.array([DAY - 30 * M, DAY + 30 * M], pa.timestamp("s", tz="UTC"))
        zoned = levels.set_column(1, "day", instants.cast(pa.timestamp("s", tz=zone)))
        assert result.risk(levels=zoned).to_pydict()["risk"] == [pytest.approx(8 * 1.6)], zone
    for level in (9, 2**70):  # (2**70 was a raw OverflowError)
        with pytest.raises(SchemaError, match=r"expected integers 1\.\.8"):
            result.risk(levels={"case": level})
    with pytest.raises(SchemaError, match="column `risk_level` not found"):
        result.risk(levels=pa.table({"person": ["case"]}))
    # checked when nobody was reached too
    for tiers in (0, 1):
        with pytest.raises(SchemaError, match=r"expected integers 1\.\.8"):
            tg.trace(index_of(rows[:1]), ["case"], tiers=tiers, policy="cwa").risk(
                levels={"case": 9}
            )
    # only CWA's risk model weighs them: under another policy they are refused (a
    # silent no-op would let a user believe them weighed); none given ({}) is fine
    other = tg.trace(index_of(rows), ["case"], policy="nhs")
    for some in ({"case": 8}, {"case": 9}, [1, 2], levels):
        with pytest.raises(ArgumentError, match=r"levels.*only under the 'cwa' risk model.*'nhs'"):
            other.risk(levels=some)
    assert other.risk(levels={}).equals(other.risk())
    assert other.risk(levels=levels.slice(0, 0)).equals(other.risk())  # an empty table too


def test_cwa_half_minute_rounding_in_risk():
    rows = [("case", "bar", 0, H), ("x", "bar", 10 * M, 10 * M + 90)]
    table = tg.trace(index_of(rows), ["case"], policy="cwa").risk().to_pydict()
    assert table["overlap_minutes"] == [2]  # 90 s rounds half up to 2 min


def test_risk_for_tier_two_uses_tier_one_sources():
    rows = [("a", "v", 0, H), ("b", "v", 0, H), ("b", "w", 2 * H, 3 * H), ("c", "w", 2 * H, 3 * H)]
    table = tg.trace(index_of(rows), ["a"], tiers=2).risk().to_pydict()
    assert table["person"] == ["b", "c"]
    assert table["source"] == ["a", "b"]
    assert table["tier"] == [1, 2]


# --------------------------------------------------------------------------- explain / venues


def test_explain_walks_first_exposures_back_to_a_case():
    rows = [
        ("a", "v", 0, H),
        ("b", "v", 30 * M, H),
        ("z", "v", 40 * M, H),  # another F1 who also meets c, but later
        ("b", "w", 2 * H, 3 * H),
        ("z", "w", 2 * H + 30 * M, 3 * H),
        ("c", "w", 2 * H, 3 * H),
    ]
    result = tg.trace(index_of(rows), ["a"], tiers=2)
    explanation = result.explain("c")
    table = explanation.table.to_pydict()
    assert table["source"] == ["a", "b"]
    assert table["target"] == ["b", "c"]
    assert table["hop"] == [1, 2]
    assert table["overlap_minutes"] == [30, 60]
    assert "c (F2) was reached in 2 hop(s)" in str(explanation)
    assert str(result.explain("a")) == "a is a case (F0)."
    assert result.explain("a").table.num_rows == 0
    with pytest.raises(PersonNotFound) as info:
        result.explain("nobody")
    assert "nobody" not in str(info.value)
    assert "<pre>" in explanation._repr_html_()


def test_explain_in_a_zone_shows_local_times_of_the_same_instants():
    # explain printed UTC only (a tracer in Hanoi reads local times); 2021-09-06 01:00Z
    t0 = 1_630_890_000
    rows = [("ann", "cafe", t0, t0 + H), ("bob", "cafe", t0 + 30 * M, t0 + 2 * H + 5)]
    result = tg.trace(index_of(rows), ["ann"])
    utc, local = result.explain("bob"), result.explain("bob", tz="Asia/Ho_Chi_Minh")
    assert str(local) == (
        "bob (F1) was reached in 1 hop(s):\n  1. ann (F0) -> bob (F1) at cafe, "
        "2021-09-06 08:30+07:00 to 2021-09-06 09:00+07:00 (30 min)"
    )
    assert "2021-09-06 01:30Z to 2021-09-06 02:00Z" in str(utc)
    assert local.table["start"].type == pa.timestamp("us", tz="Asia/Ho_Chi_Minh")
    assert local.table["start"].equals(utc.table["start"].cast(local.table["start"].type))
    assert local.table.drop_columns(["start", "end"]).equals(
        utc.table.drop_columns(["start", "end"])
    )
    with pytest.raises(tg.TimezoneError, match=r"`tz`: expected a valid IANA zone name"):
        result.explain("bob", tz="Hanoi")
    with pytest.raises(tg.ArgumentError, match=r"`tz`: expected a zone name, got int"):
        result.explain("bob", tz=7)


def test_explain_a_cumulative_trace_says_why_a_hop_may_be_short():
    # bob met ann 5 + 10 minutes: 15 in the day, a 5-minute first hop under a 15min
    # minimum, which the text did not explain
    rows = [
        ("ann", "cafe", 0, 10 * M),
        ("bob", "cafe", 5 * M, 10 * M),
        ("ann", "gym", 20 * M, 30 * M),
        ("bob", "gym", 20 * M, 30 * M),
    ]
    index = index_of(rows)
    text = str(tg.trace(index, ["ann"], min_overlap="15min", cumulative=True).explain("bob"))
    assert text.endswith(
        "(5 min)\n  (cumulative: the 15min minimum is for a day's total time with them all, "
        "so a hop may be shorter)"
    )
    text = str(
        tg.trace(index, ["ann"], min_overlap="15min", cumulative="per_source").explain("bob")
    )
    assert text.endswith("with one infectious person, so a hop may be shorter)")
    # no note without a minimum, or without cumulative
    assert "cumulative" not in str(tg.trace(index, ["ann"], cumulative=True).explain("bob"))
    assert "cumulative" not in str(tg.trace(index, ["ann"], min_overlap="5min").explain("bob"))


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("+07:00", "1970-01-01 07:30+07:00"),  # fixed offsets, as Arrow takes them
        ("Africa/Monrovia", "1969-12-31 23:45:30-00:44:30"),  # an offset with seconds
    ],
)
def test_explain_in_zones_of_every_kind_arrow_takes(zone, start):
    # "+07:00" passed the zone check (Arrow's) and crashed in zoneinfo's lookup
    # (ZoneInfoNotFoundError); Monrovia's 23:45:30 was printed 23:45 (seconds of UTC)
    result = tg.trace(index_of([("ann", "cafe", 0, H), ("bob", "cafe", 30 * M, 2 * H)]), ["ann"])
    explanation = result.explain("bob", tz=zone)
    assert f"at cafe, {start} to " in str(explanation)
    assert explanation.table["start"].type == pa.timestamp("us", tz=zone)


def test_explain_in_a_zone_at_the_calendars_end_falls_back_to_utc_in_words():
    # a stay on 9999-12-31 20:00Z shown at +07:00 is in the year 10000: the text's
    # conversion of the whole table to Python raised OverflowError
    last = 253_402_300_799  # 9999-12-31 23:59:59Z
    rows = [("ann", "cafe", last - 4 * H, last), ("bob", "cafe", last - 3 * H, last)]
    result = tg.trace(index_of(rows), ["ann"])
    text = str(result.explain("bob", tz="+07:00"))
    assert "9999-12-31 20:59:59Z to 9999-12-31 23:59:59Z" in text


@pytest.mark.parametrize(
    ("zone", "meant"),
    [
        ("Asia/Hanoi", "Asia/Ho_Chi_Minh"),
        ("utc", "UTC"),
        ("asia/ho_chi_minh", "Asia/Ho_Chi_Minh"),
        ("+0700", "+07:00"),  # (Arrow's compute takes it, its conversion to Python not)
    ],
)
def test_a_zone_name_close_to_a_real_one_gets_a_suggestion(zone, meant):
    # "Asia/Hanoi" is no IANA zone (Vietnam's is Asia/Ho_Chi_Minh): the error said only that
    result = tg.trace(index_of([("ann", "cafe", 0, H), ("bob", "cafe", 0, H)]), ["ann"])
    message = (
        r"^`tz`: expected a valid IANA zone name or a fixed offset such as '\+07:00', "
        rf"got '{re.escape(zone)}'; "
        rf"did you mean '{re.escape(meant)}'\?$"
    )
    with pytest.raises(tg.TimezoneError, match=message):
        result.explain("bob", tz=zone)
    with pytest.raises(tg.TimezoneError, match=r"did you mean"):
        tg.trace(result.index, ["ann"], day_tz=zone)
    # (no guess; no guess that is no zone; "Factory" is in Python's zones, not Arrow's)
    for nowhere in ("Mars/Base", "+2500", "+0760", "Factory", "factory"):
        with pytest.raises(tg.TimezoneError, match=rf"got '{re.escape(nowhere)}'$"):
            result.explain("bob", tz=nowhere)


def test_a_zoneinfo_given_for_a_zone_name_is_told_to_pass_its_name():
    import zoneinfo

    result = tg.trace(index_of([("ann", "cafe", 0, H), ("bob", "cafe", 0, H)]), ["ann"])
    zone = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
    message = r"^`tz`: expected a zone name, got ZoneInfo; pass its name, 'Asia/Ho_Chi_Minh'$"
    with pytest.raises(tg.ArgumentError, match=message):
        result.explain("bob", tz=zone)
    with pytest.raises(tg.ArgumentError, match=message):
        result.locations_of_interest(tz=zone)
    with pytest.raises(tg.ArgumentError, match=r"^`day_tz`: expected a zone name, got ZoneInfo; "):
        tg.trace(result.index, ["ann"], day_tz=zone)


def test_explanation_html_never_raises():
    # a notebook repr must not fail (the Trace's and InactiveVenues' fall back to text)
    rows = [("ann", "cafe", 0, H), ("bob", "cafe", 30 * M, 2 * H)]
    explanation = tg.trace(index_of(rows), ["ann"]).explain("bob")
    with mock.patch("tracegraph._html.arrow_table", side_effect=RuntimeError("boom")):
        page = explanation._repr_html_()
    assert page == "<pre>bob (F1) was reached in 1 hop(s):\n" + (
        "  1. ann (F0) -&gt; bob (F1) at cafe, 1970-01-01 00:30Z to 1970-01-01 01:00Z "
        "(30 min)</pre>"
    )


def test_venues_rank_superspreading_sites():
    rows = [
        ("case", "hall", 0, H),
        *[(f"p{i}", "hall", 0, H) for i in range(5)],
        ("case", "shop", 2 * H, 3 * H),
        ("q", "shop", 2 * H, 3 * H),
        ("case", "empty", 4 * H, 5 * H),
    ]
    table = tg.trace(index_of(rows), ["case"]).venues().to_pydict()
    assert table["venue"] == ["hall", "shop", "empty"]
    assert table["exposed"] == [5, 1, 0]
    assert table["cases"] == [1, 1, 1]
    assert table["exposure_hours"] == [5.0, 1.0, 0.0]
    assert table["pairs"] == [5, 1, 0]


# --------------------------------------------------------------------------- clusters


def test_clusters_link_cases_directly_and_through_contacts():
    rows = [
        ("a", "cafe", 0, H),
        ("b", "cafe", 30 * M, H),  # a and b meet: linked directly
        ("c", "gym", 0, H),
        ("x", "gym", 0, H),
        ("x", "pool", 2 * H, 3 * H),  # x met c at the gym, then d at the pool?
        ("d", "park", 0, H),
        ("x", "park", 0, H),  # x met d at the park too: c and d linked through x
        ("e", "home", 0, H),
    ]
    table = tg.clusters(index_of(rows), ["a", "b", "c", "d", "e"]).to_pydict()
    cluster = dict(zip(table["person"], table["cluster"], strict=True))
    assert cluster["a"] == cluster["b"]
    assert cluster["c"] == cluster["d"]
    assert len({cluster["a"], cluster["c"], cluster["e"]}) == 3
    venues = dict(zip(table["person"], table["venues"], strict=True))
    assert venues["a"] == ["cafe"]
    assert venues["c"] == ["gym", "park"]
    assert venues["e"] == []
    sizes = dict(zip(table["person"], table["cluster_size"], strict=True))
    assert sizes == {"a": 2, "b": 2, "c": 2, "d": 2, "e": 1}


def test_write_table_writes_lists_as_json_in_csv_and_never_leaves_half_a_file(tmp_path):
    rows = [("a", "cafe", 0, H), ("b", "cafe", 30 * M, H), ("b", "gym", 2 * H, 3 * H)]
    clusters = tg.clusters(index_of(rows), ["a", "b"])
    path = tmp_path / "clusters.csv"
    path.write_text("an earlier file\n")
    tg.write_table(clusters, path)
    back = pacsv.read_csv(path).to_pydict()
    assert back["venues"] == ['["cafe"]', '["cafe"]']
    assert back["person"] == clusters["person"].to_pylist()
    assert pq.read_table(tg.write_table(clusters, tmp_path / "c.parquet")).equals(clusters)
    # a write that fails keeps the file that was there, and leaves no temporary file
    path.write_text("an earlier file\n")

    def fail_halfway(table, where):  # type: ignore[no-untyped-def]
        pathlib.Path(where).write_text('"person"\n"a"\n')
        raise OSError("disk full")

    with mock.patch.object(pacsv, "write_csv", fail_halfway), pytest.raises(OSError):
        tg.write_table(clusters, path)
    assert path.read_text() == "an earlier file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet", "clusters.csv"]


def test_write_table_to_a_missing_folder_or_onto_a_folder_names_the_path(tmp_path):
    # (pyarrow's errors named the temporary file beside the path: ".loi.csv.tmp-1234")
    table = pa.table({"venue": ["cafe"]})
    missing = tmp_path / "out" / "loi.csv"
    with pytest.raises(FileNotFoundError, match="expected an existing folder") as info:
        tg.write_table(table, missing)
    assert str(tmp_path / "out") in str(info.value) and ".tmp-" not in str(info.value)
    folder = tmp_path / "loi.csv"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="expected a file, got a folder") as info:
        tg.write_table(table, folder)
    assert ".tmp-" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loi.csv"]  # nothing left
    assert list(folder.iterdir()) == []


def test_clusters_keep_unknown_cases_alone():
    table = tg.clusters(index_of(LOI_ROWS), ["ann", "ghost"], unknown="keep").to_pydict()
    assert sorted(table["person"]) == ["ann", "ghost"]
    assert len(set(table["cluster"])) == 2


@settings(max_examples=examples(0.3))
@given(city=cities(modes=("grid", "fine")), data=st.data())
def test_clusters_match_connected_components(city, data):
    cases = sorted(c for c in data.draw(case_windows(city, windows=False)) if c in city.people)
    tiers = data.draw(st.integers(1, 2))
    _, edges = trace_oracle(city.stays, dict.fromkeys(cases), tiers=tiers)
    graph = nx.Graph()
    graph.add_nodes_from(cases)
    graph.add_edges_from((e[0], e[1]) for e in edges)
    # cases that share a venue at the same time are linked directly
    for a, b in itertools.combinations(cases, 2):
        for p, v, s, e in city.stays:
            if p != a:
                continue
            if any(q == b and w == v and min(e, f) - max(s, t) > 0 for q, w, t, f in city.stays):
                graph.add_edge(a, b)
    expected = {frozenset(c for c in comp if c in cases) for comp in nx.connected_components(graph)}
    expected.discard(frozenset())
    index = tg.VenueIndex.from_stays(stays_table(city.stays))
    table = tg.clusters(index, cases, tiers=tiers).to_pydict()
    got: dict[int, set] = {}
    for p, c in zip(table["person"], table["cluster"], strict=True):
        got.setdefault(c, set()).add(p)
    assert {frozenset(v) for v in got.values()} == expected
    sizes = sorted((len(v) for v in got.values()), reverse=True)
    assert [len(got[c]) for c in sorted(got)] == sizes  # cluster 0 is the largest


def test_views_under_casefold_treat_venue_ids_differing_in_case_as_one_venue():
    rows = [("ann", "cafe", 0, H), ("bob", "CAFE", 10 * M, 70 * M), ("cat", "Cafe", 0, 5 * M)]
    result = tg.trace(index_of(rows), ["ann"], policy="nhs-ios")
    venues = result.venues().to_pydict()
    assert venues["venue"] == ["CAFE"]  # one row, named by its first id in code order
    assert (venues["exposed"], venues["cases"]) == ([2], [1])
    loi = result.locations_of_interest()
    assert loi.num_rows == 1
    # the ranked views count them as one venue too (they split "CAFE" and "Cafe")
    first = result.first_exposure_venues(10).to_pydict()
    assert first == {"venue": ["CAFE"], "exposed": [2]}
    assert result.top_venues(10).to_pydict() == {"venue": ["CAFE"], "pairs": [2]}
    exact = tg.trace(index_of(rows), ["ann"], policy=tg.MatchPolicy(venue_match="exact"))
    assert exact.top_venues(10).to_pydict() == {"venue": [], "pairs": []}
    busy = [*rows, ("dan", "bar", 0, H), ("ann", "bar", 0, H), ("eve", "bar", 0, H)]
    ranked = tg.trace(index_of(busy), ["ann"], policy="nhs-ios").top_venues(2).to_pydict()
    # a tie: in the ids' order ("CAFE", its first id, before "bar")
    assert ranked == {"venue": ["CAFE", "bar"], "pairs": [2, 2]}


def test_clusters_sort_integer_ids_by_value():
    rows = [(95, 1, 0, H), (132, 1, 10 * M, 70 * M), (7, 2, 0, H)]
    table = tg.clusters(index_of(rows), [95, 132, 7])
    by_cluster = {}
    for p, c in zip(table["person"].to_pylist(), table["cluster"].to_pylist(), strict=True):
        by_cluster.setdefault(c, []).append(p)
    assert all(ps == sorted(ps) for ps in by_cluster.values())  # 95 before 132, not as text
    assert sorted(map(sorted, by_cluster.values())) == [[7], [95, 132]]


def test_explain_a_case_kept_without_stays():
    result = tg.trace(index_of([("ann", "cafe", 0, H)]), ["ann", "zed"], unknown="keep")
    explained = result.explain("zed")
    assert "zed is a case (F0)" in explained.text and explained.table.num_rows == 0
    with pytest.raises(tg.PersonNotFound):
        result.explain("nobody")


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_top_venue_counts_must_be_whole_and_not_negative(bad):
    result = tg.trace(index_of([("ann", "cafe", 0, H), ("bob", "cafe", 0, H)]), ["ann"])
    for view in (result.first_exposure_venues, result.top_venues):
        with pytest.raises(ValueError, match="expected an int >= 0"):
            view(bad)
    assert result.top_venues(0).num_rows == 0


def test_repr_of_a_trace_without_cases():
    result = tg.trace(index_of([("ann", "cafe", 0, H)]), ["zed"], unknown="drop")
    assert repr(result) == "Trace(0 persons: no cases; policy tracegraph)"


def test_risk_and_first_exposure_venues_agree_on_a_tie_in_time():
    # x is exposed at the same instant at two venues by two cases: every view names
    # the venue of the smallest code ("bar"), as tracing records first venues
    rows = [
        ("a", "cafe", 0, H),
        ("b", "bar", 0, H),
        ("x", "cafe", 10 * M, H),
        ("x", "bar", 10 * M, H),
    ]
    result = tg.trace(index_of(rows), ["a", "b"])
    risk = result.risk().to_pydict()
    assert (risk["venue"], risk["source"]) == (["bar"], ["b"])
    assert result.first_exposure_venues().to_pydict() == {"venue": ["bar"], "exposed": [1]}
    assert result.explain("x").table["venue"].to_pylist() == ["bar"]


# ------------------------------------------------------------- review fixes (session 10)

_UTC = pa.timestamp("s", tz="UTC")


def _stays(rows):
    return pa.table(
        {
            "person": [r[0] for r in rows],
            "venue": [r[1] for r in rows],
            "start": pa.array([r[2] for r in rows], _UTC),
            "end": pa.array([r[3] for r in rows], _UTC),
        }
    )


def test_cwa_risk_of_exactly_the_threshold_is_high():
    # 0.8 x 2 min + 1.4 x 6 min on one check-in is exactly 10 (scored in whole tenths,
    # not floats, where it came out 9.999999999999998 and "low"): x's stay at the bar
    # from 11:28 to 12:06 meets case_a's window [10:00, 11:30) and case_b's [12:00, 13:30)
    h, m = 3600, 60
    stays = _stays(
        [
            ("case_a", "bar", 10 * h, 11 * h),
            ("case_b", "bar", 12 * h, 13 * h),
            ("x", "bar", 11 * h + 28 * m, 12 * h + 6 * m),
        ]
    )
    result = tg.trace(tg.VenueIndex.from_stays(stays), ["case_a", "case_b"], policy="cwa")
    policy = tg.MatchPolicy(**{**vars(result.policy), "high_risk": 10.0})
    result = tg.trace(tg.VenueIndex.from_stays(stays), ["case_a", "case_b"], policy=policy)
    got = result.risk(levels={"case_a": 4, "case_b": 7}).to_pydict()
    assert got["risk"] == [10.0]
    assert got["risk_level"] == ["high"]


def test_cwa_risk_scores_each_check_in_apart_as_the_app_does():
    # the app (PresenceTracingRiskCalculator) rounds each case overlap to minutes on
    # its own and sums per check-in and day; a contact is at risk when one check-in is
    h, m = 3600, 60
    two_check_ins = _stays(
        [
            ("case", "cafe", 10 * h, 11 * h),  # window [10:00, 11:30)
            ("c", "cafe", 10 * h, 10 * h + 6 * m),
            ("c", "cafe", 10 * h + 30 * m, 10 * h + 36 * m),
        ]
    )
    got = tg.trace(tg.VenueIndex.from_stays(two_check_ins), ["case"], policy="cwa").risk()
    # 6 minutes on each of two check-ins: 6, low (summed per contact it was 12, high)
    assert got.select(["overlap_minutes", "risk", "risk_level"]).to_pylist() == [
        {"overlap_minutes": 12, "risk": 6.0, "risk_level": "low"}
    ]
    # one check-in against two windows of 4 min 40 s: 5 + 5 = 10, high (the overlaps
    # rounded once together, 9 min 20 s, were 9, low)
    one_check_in = _stays(
        [
            ("case", "cafe", 10 * h, 10 * h + 10 * m),  # window [10:00, 10:20)
            ("case", "cafe", 11 * h, 11 * h + 10 * m),  # window [11:00, 11:20)
            ("c", "cafe", 10 * h + 15 * m + 20, 11 * h + 4 * m + 40),
        ]
    )
    got = tg.trace(tg.VenueIndex.from_stays(one_check_in), ["case"], policy="cwa").risk()
    assert got.select(["overlap_minutes", "risk", "risk_level"]).to_pylist() == [
        {"overlap_minutes": 9, "risk": 10.0, "risk_level": "high"}
    ]


@pytest.mark.parametrize(
    "levels, message",
    [
        ({5: 3, "SECRET_ann": 8}, "expected ids of one type"),
        (pa.table({"person": pa.array([None, "SECRET_ann"]), "risk_level": [3, 8]}), "no nulls"),
        (pa.table({"person": ["SECRET_ann"], "risk_level": [8], "day": [1]}), "expected dates"),
        (
            pa.table(
                {"person": ["SECRET_ann"], "risk_level": [8], "day": pa.array([None], pa.date32())}
            ),
            "`day`: expected no nulls",
        ),
        (pa.table({"person": ["SECRET_ann"] * 2, "risk_level": [8, 1]}), "one row per person,"),
        # (ids of another type than the index's: which argument's, said once)
        (
            pa.table({"person": [5], "risk_level": [8]}),
            r"^levels: column `person`: expected person ids of type string",
        ),
        ({5: 3}, r"^levels: column `person`: expected person ids of type string"),
        (
            pa.table(
                {
                    "person": ["SECRET_ann"] * 2,
                    "risk_level": [8, 1],
                    "day": pa.array([dt.date(1970, 1, 2)] * 2),
                }
            ),
            "one row per person and day",
        ),
    ],
)
def test_bad_risk_levels_are_schema_errors_without_ids(levels, message):
    day, h = 86_400, 3600
    stays = _stays(
        [("SECRET_ann", "cafe", day, day + h), ("SECRET_bob", "cafe", day + 600, day + 2 * h)]
    )
    result = tg.trace(tg.VenueIndex.from_stays(stays), ["SECRET_ann"], policy="cwa")
    with pytest.raises(tg.SchemaError, match=message) as err:
        result.risk(levels=levels)
    assert "SECRET" not in str(err.value)
    # a level per person and day, each once, is taken
    ok = pa.table(
        {"person": ["SECRET_ann"], "risk_level": [8], "day": pa.array([dt.date(1970, 1, 2)])}
    )
    default = result.risk()["risk"].to_pylist()[0]  # level 5: weight 1.0
    assert result.risk(levels=ok)["risk"].to_pylist() == [pytest.approx(1.6 * default)]


@pytest.mark.parametrize("kind", ["string", "dictionary", "string_view", "pandas category"])
def test_present_at_folds_case_whatever_the_windows_venue_column_type(kind):
    stays = _stays([("ann", "Cafe", 0, 3600), ("bob", "cafe", 0, 3600)])
    index = tg.VenueIndex.from_stays(stays)
    times = {"start": pa.array([0], _UTC), "end": pa.array([3600], _UTC)}
    venue = {
        "string": pa.array(["CAFE"]),
        "dictionary": pa.array(["CAFE"]).dictionary_encode(),
        "string_view": pa.array(["CAFE"], pa.string_view()),
    }.get(kind)
    if venue is None:
        pd = pytest.importorskip("pandas")
        windows = pd.DataFrame(
            {
                "venue": pd.Categorical(["CAFE"]),
                "start": pd.to_datetime([0], unit="s", utc=True),
                "end": pd.to_datetime([3600], unit="s", utc=True),
            }
        )
    else:
        windows = pa.table({"venue": venue, **times})
    found = tg.present_at(index, windows, policy="nhs-ios")
    assert sorted(found["person"].to_pylist()) == ["ann", "bob"]


def test_present_at_windows_of_text_times_say_how_to_convert():
    index = tg.VenueIndex.from_stays(_stays([("ann", "cafe", 0, 3600)]))
    windows = pa.table(
        {"venue": ["cafe"], "start": ["1970-01-01T00:00:00Z"], "end": ["1970-01-01T01:00:00Z"]}
    )
    with pytest.raises(tg.SchemaError, match=r"got string; convert it, e\.g\. pyarrow"):
        tg.present_at(index, windows)


def test_reports_that_need_tier_1_refuse_a_trace_of_tiers_0():
    # the cases' windows are matched in tier 1: with tiers=0 there is nothing to link or
    # publish, and an empty answer would look like "no locations"
    index = tg.VenueIndex.from_stays(_stays([("ann", "cafe", 0, 3600), ("bob", "cafe", 600, 7200)]))
    with pytest.raises(tg.ArgumentError, match="expected >= 1 for clusters"):
        tg.clusters(index, ["ann", "bob"], tiers=0)
    assert tg.clusters(index, ["ann", "bob"]).to_pydict()["cluster"] == [0, 0]
    with pytest.raises(tg.ArgumentError, match="tiers >= 1"):
        tg.trace(index, ["ann", "bob"], tiers=0).locations_of_interest()
    loi = tg.trace(index, ["ann", "bob"]).locations_of_interest()
    assert loi.to_pydict()["cases"] == [2]  # their windows at the cafe, merged
    with pytest.raises(tg.ArgumentError, match="venues: expected a trace of tiers >= 1"):
        tg.trace(index, ["ann"], tiers=0).venues()
    assert tg.trace(index, ["ann"]).venues().to_pydict()["cases"] == [1]


@pytest.mark.parametrize("policy", ["tracegraph", "nhs", "crowdnotifier", "cwa", "nz"])
def test_published_locations_find_every_contact_the_cases_exposed(policy):
    city = tg.synth.generate_city(400, days=2, seed=11, ids="str")
    index = tg.VenueIndex.from_stays(city.stays)
    cases = sorted(set(city.stays["person"].to_pylist()))[:3]
    result = tg.trace(index, cases, policy=policy)
    contacts = result.contacts.filter(pc.equal(result.contacts["tier"], 1))["person"]
    loi = result.locations_of_interest()
    assert contacts.to_pylist() and loi.num_rows
    present = set(tg.present_at(index, loi, policy=policy)["person"].to_pylist())
    assert set(contacts.to_pylist()) <= present
    assert sum(loi["exposed"].to_pylist()) >= len(contacts)


#: Zones and days around which to cut intervals at midnights: ordinary days, days
#: whose midnight clocks skip (Havana, Santiago) or pass twice (Havana), 23- and 25-hour
#: days (Berlin, Lord Howe's 30 minutes), a calendar day a zone skipped (Apia), and a
#: day that began at a jump over midnight from 23:30 to 00:30 (Toronto, 1919).
_MIDNIGHT_DAYS = [
    ("Asia/Ho_Chi_Minh", dt.date(2021, 9, 6)),
    ("Europe/Berlin", dt.date(2023, 3, 26)),
    ("Europe/Berlin", dt.date(2023, 10, 29)),
    ("America/Havana", dt.date(2023, 3, 12)),
    ("America/Havana", dt.date(2023, 11, 5)),
    ("America/Santiago", dt.date(2023, 9, 3)),
    ("Australia/Lord_Howe", dt.date(2023, 4, 2)),
    ("Pacific/Apia", dt.date(2011, 12, 29)),
    ("America/Toronto", dt.date(1919, 3, 30)),
]


@settings(max_examples=examples(0.5))
@given(
    where=st.sampled_from(_MIDNIGHT_DAYS),
    spans=st.lists(
        st.tuples(
            st.one_of(st.integers(-2 * DAY, 2 * DAY), st.sampled_from([-DAY, 0, DAY, 2 * DAY])),
            st.one_of(
                st.sampled_from([0, 1, H, DAY, 2 * DAY]),
                st.integers(0, 3 * DAY),
                st.integers(0, 60 * DAY),
            ),
        ),
        max_size=12,
    ),
)
def test_intervals_are_cut_at_a_zones_midnights_as_its_clocks_say(where, spans):
    from oracle import day_pieces

    from tracegraph.report import _day_pieces

    tz, day = where
    zone = zoneinfo.ZoneInfo(tz)
    base = int(dt.datetime.combine(day, dt.time(), zone).timestamp())
    start = np.array([base + a for a, _ in spans], dtype=np.int64)
    end = start + np.array([d for _, d in spans], dtype=np.int64)
    row, days, seconds = _day_pieces(start, end, tz)
    epoch = dt.date(1970, 1, 1)
    for i, (a, b) in enumerate(zip(start.tolist(), end.tolist(), strict=True)):
        mine = row == i
        pieces = zip(days[mine].tolist(), seconds[mine].tolist(), strict=True)
        got = [(epoch + dt.timedelta(d), s) for d, s in pieces]
        assert got == day_pieces(a, b, tz), (tz, a, b)
