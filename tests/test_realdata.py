"""Real check-ins (Gowalla NYC, Foursquare US, Gowalla worldwide) → scans → stays → trace.

The files are in the shared folder ``../shared/data/real`` next to the repository (or
wherever ``TRACEGRAPH_SHARED_DATA`` points); they are never copied into the repository,
and these tests never print a person id. A check-in is a single moment, so every scan
is an entry and gets a default dwell of one hour.

The brute-force oracle (``tests/oracle.py``) is O(stays x exposure intervals) per tier,
too slow for the ~140k-190k stays of a whole dataset. So the engine/oracle comparison
uses one deterministic subset for BOTH: the stays that start in June (2010 for the
Gowalla files, 2012 for Foursquare; 13-17k stays), traced from the first 10 persons
(by id) who have a co-located check-in there. The whole dataset goes through ``read_scans``,
``scans_to_stays``, the index and a trace, with its accounting checked.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from oracle import sort_edges, trace_oracle

import tracegraph as tg
from tracegraph.ingest import ScanSchema, read_scans, scans_to_stays

pytestmark = pytest.mark.realdata

_REPO = pathlib.Path(__file__).resolve().parents[1]
_ENV = "TRACEGRAPH_SHARED_DATA"

SCHEMA = ScanSchema(person="person_id", venue="venue_id", time="ts", source="checkin")
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# dataset → (file, first day of the 30-day subset compared with the oracle)
DATASETS = {
    "gowalla_nyc": ("gowalla_nyc/gowalla_nyc.scans.parquet", dt.date(2010, 6, 1)),
    "foursquare_us_5k": (
        "lbsn_liu2017/foursquare_us_5k/foursquare_us_5k.scans.parquet",
        dt.date(2012, 6, 1),
    ),
    "gowalla_1k": ("lbsn_liu2017/gowalla_1k/gowalla_1k.scans.parquet", dt.date(2010, 6, 1)),
}
N_CASES = 10


def real_data_folder() -> pathlib.Path:
    configured = os.environ.get(_ENV)
    folder = pathlib.Path(configured) if configured else _REPO.parent / "shared" / "data" / "real"
    if not folder.is_dir():
        pytest.skip(f"real data folder ../shared/data/real not found: {folder} (set {_ENV})")
    return folder


def dataset_path(name: str) -> pathlib.Path:
    path = real_data_folder() / DATASETS[name][0]
    if not path.is_file():
        pytest.skip(f"real data file not found: {path}")
    return path


_STAYS: dict[str, tuple] = {}


def real_stays(name: str):
    """Scans and stays of one dataset (read once per test session)."""
    if name not in _STAYS:
        scans = read_scans(dataset_path(name), schema=SCHEMA, now=NOW)
        result = scans_to_stays(scans, default_dwell="1h", max_stay="12h", dedupe_within="2min")
        _STAYS[name] = (scans, result)
    return _STAYS[name]


def seconds(column: pa.ChunkedArray) -> list:
    return column.cast(pa.timestamp("s", tz="UTC")).cast(pa.int64()).to_pylist()


@pytest.mark.parametrize("name", list(DATASETS))
def test_whole_dataset_reads_and_accounts_for_every_row(name):
    scans, result = real_stays(name)
    r = scans.report
    assert r.rejected == 0
    assert r.read == r.accepted + r.duplicates
    assert r.read == pa.parquet.ParquetFile(dataset_path(name)).metadata.num_rows
    if name == "gowalla_nyc":
        assert r.duplicates == 6  # the README's 6 exact duplicate rows
    s = result.report
    assert s.scans == r.accepted == s.repeats + s.entries
    assert s.exits == 0 and s.closed_by["exit"] == 0  # check-ins only
    assert s.entries == s.stays + s.merged
    assert s.stays == result.stays.num_rows > 0.5 * r.read
    duration = pc.subtract(result.stays["end"], result.stays["start"]).cast(pa.int64())
    assert pc.min(duration).as_py() >= 0
    assert pc.max(duration).as_py() <= 12 * 3600
    # the whole city indexes and traces
    index = tg.VenueIndex.from_stays(result.stays)
    assert index.n_stays == s.stays
    first = result.stays["person"][0].as_py()
    assert tg.trace(index, [first], tiers=2).contacts.num_rows >= 1


def subset(stays: pa.Table, first_day: dt.date, days: int = 30) -> pa.Table:
    """The stays that start in the ``days`` days from ``first_day`` (UTC)."""
    lo = dt.datetime.combine(first_day, dt.time(), tzinfo=dt.UTC)
    hi = lo + dt.timedelta(days=days)
    keep = pc.and_(
        pc.greater_equal(stays["start"], pa.scalar(lo, stays["start"].type)),
        pc.less(stays["start"], pa.scalar(hi, stays["start"].type)),
    )
    return stays.filter(keep).select(["person", "venue", "start", "end"])


def pick_cases(index, persons: list, n: int) -> list:
    """The first ``n`` persons (in id order) who have at least one tier-1 contact."""
    cases = []
    for person in persons:
        if tg.trace(index, [person], tiers=1).contacts.num_rows > 1:
            cases.append(person)
            if len(cases) == n:
                break
    return cases


@pytest.mark.parametrize("name", list(DATASETS))
def test_june_subset_matches_the_oracle_to_tier_2(name):
    _, result = real_stays(name)
    stays = subset(result.stays, DATASETS[name][1])
    assert 3_000 < stays.num_rows < 20_000  # small enough for the O(n^2) oracle
    index = tg.VenueIndex.from_stays(stays)
    persons = sorted(set(stays["person"].to_pylist()))
    cases = pick_cases(index, persons, N_CASES)
    assert cases, "no person with a co-located check-in: the comparison would be vacuous"

    got = tg.trace(index, cases, tiers=2)
    tiers = got.contacts["tier"].to_pylist()
    assert tiers.count(1) >= 1
    got_contacts = {
        p: (t, x)
        for p, t, x in zip(
            got.contacts["person"].to_pylist(),
            tiers,
            seconds(got.contacts["exposed_at"]),
            strict=True,
        )
    }
    e = got.edges
    got_edges = sort_edges(
        zip(
            e["source"].to_pylist(),
            e["target"].to_pylist(),
            e["venue"].to_pylist(),
            seconds(e["start"]),
            seconds(e["end"]),
            e["tier"].to_pylist(),
            strict=True,
        )
    )

    plain = zip(
        stays["person"].to_pylist(),
        stays["venue"].to_pylist(),
        seconds(stays["start"]),
        seconds(stays["end"]),
        strict=True,
    )
    want_contacts, want_edges = trace_oracle(list(plain), dict.fromkeys(cases), tiers=2)
    assert got_contacts == want_contacts
    assert got_edges == want_edges
