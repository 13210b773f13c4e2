"""The peers' queries of ``benchmarks.compare`` answer exactly what tracegraph answers.

Small cities, in process: the chained SQL and the Polars joins against ``tg.trace``
for F1 -> F3 (with and without ``min_overlap`` and ``linger``), and both forms of the
DuckDB pair count and ``tg.copresent_pairs`` against a brute-force count.
"""

from __future__ import annotations

import itertools
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import tracegraph as tg
from benchmarks import cities
from benchmarks._peers import PLANS, pairs_sql, polars_trace, trace_sql
from benchmarks.compare import compare_contacts

TS = pa.timestamp("s", tz="UTC")


def _con(stays: pa.Table, cases: pa.Table | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": 1})
    con.execute("SET TimeZone = 'UTC'")
    con.register("stays_view", stays)
    con.execute("CREATE TABLE stays AS SELECT * FROM stays_view")
    if cases is not None:
        con.register("cases_view", cases)
        con.execute("CREATE TABLE cases AS SELECT * FROM cases_view")
    return con


def _brute_pairs(stays: pa.Table, m: int) -> int:
    p = stays["person"].to_numpy()
    v = stays["venue"].to_numpy()
    s = stays["start"].cast(pa.int64()).to_numpy()
    e = stays["end"].cast(pa.int64()).to_numpy()
    m = max(m, 1)
    count = 0
    for i, j in itertools.combinations(range(len(p)), 2):
        if v[i] == v[j] and p[i] != p[j] and min(e[i], e[j]) - max(s[i], s[j]) >= m:
            count += 1
    return count


def _random_stays(seed: int, n: int = 120) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 20_000, n)
    length = rng.choice([0, 1, 59, 60, 61, 600, 3_600, 9_000], n)  # zero-length too
    start[:4] = [100, 100, 200, 5_000]  # touching and identical stays
    length[:4] = [100, 100, 0, 60]
    return pa.table(
        {
            "person": pa.array(rng.integers(0, 15, n), pa.int64()),
            "venue": pa.array(rng.integers(0, 4, n), pa.int64()),
            "start": pa.array(start, pa.int64()).cast(TS),
            "end": pa.array(start + length, pa.int64()).cast(TS),
        }
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("m", [0, 60])
def test_pair_counts_agree_with_brute_force(seed: int, m: int) -> None:
    stays = _random_stays(seed)
    expected = _brute_pairs(stays, m)
    assert expected > 0
    con = _con(stays)
    for form, plan in itertools.product(("rowid", "ordered"), PLANS):
        con.execute(PLANS[plan])
        try:
            count = con.execute(pairs_sql(m, form)).fetchall()[0][0]
        except duckdb.NotImplementedException:
            # DuckDB 2.0 picks a merge join it cannot run for tiny tables under
            # prefer_range_joins ("Unimplemented join type for merge join")
            assert plan == "prefer_range_joins"
            continue
        assert count == expected, (form, plan)
    assert tg.copresent_pairs(tg.VenueIndex.from_stays(stays), min_overlap=m) == expected


@pytest.fixture(scope="module")
def small_city() -> tuple[pa.Table, tg.VenueIndex]:
    stays = cities.generate(cities.CitySize("tiny", 400, days=3), seed=5).stays
    return stays, tg.VenueIndex.from_stays(stays)


@pytest.mark.parametrize(("m", "linger"), [(0, 0), (900, 0), (0, 600), (300, 1_200)])
def test_chained_sql_and_polars_equal_tracegraph(
    small_city: tuple[pa.Table, tg.VenueIndex], m: int, linger: int
) -> None:
    import polars as pl

    stays, index = small_city
    ids = stays["person"].combine_chunks().unique()[:3]
    result = tg.trace(index, ids.to_pylist(), tiers=3, min_overlap=m, linger=linger)
    expected = result.contacts.filter(pa.compute.greater(result.contacts["tier"], 0))
    counts = result.tier_counts()
    assert counts[1] > 0 and counts[2] > 0
    cases = pa.table({"person": ids})
    con = _con(stays, cases)
    for tiers in (1, 3):
        want = expected.filter(pa.compute.less_equal(expected["tier"], tiers))
        got: dict[str, Any] = {}
        for plan, sql in PLANS.items():
            con.execute(sql)
            got[plan] = con.sql(trace_sql(tiers, m, linger)).to_arrow_table()
        got["polars"] = polars_trace(
            pl.from_arrow(stays), pl.from_arrow(cases), tiers, m, linger
        ).to_arrow()
        for name, table in got.items():
            assert compare_contacts(want, table, f"{name} tiers={tiers}") == []


def test_skews_keep_each_persons_stays_disjoint() -> None:
    for skew in cities.SKEWS:
        stays = cities.stays_table(f"XS-{skew}")
        p = stays["person"].to_numpy()
        s = stays["start"].cast(pa.int64()).to_numpy()
        e = stays["end"].cast(pa.int64()).to_numpy()
        order = np.lexsort((s, p))
        same = p[order][1:] == p[order][:-1]
        assert not np.any(same & (s[order][1:] < e[order][:-1])), skew
        assert np.all(np.diff(s) >= 0), skew
    crowd = cities.stays_table("XS-crowd")
    venue = crowd["venue"].to_numpy()
    assert (venue == venue.max()).mean() >= 0.9 * cities.CROWD_SHARE


def test_district_city_is_written_file_by_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    monkeypatch.setenv("TRACEGRAPH_BENCH_CACHE", str(tmp_path))
    size = cities.CitySize("L-mini", 3_000, days=2, districts=3)
    folder = cities.city_parquet(size)
    assert folder.is_dir()
    assert sorted(p.name for p in folder.glob("*.parquet")) == [
        "part-000.parquet",
        "part-001.parquet",
        "part-002.parquet",
    ]
    stays = pq.read_table(folder)
    assert stays.num_rows == cities.city_info(size)["stays"]
    person = stays["person"].to_numpy()
    assert person.min() >= 0 and person.max() < 3_000
    # districts share no person and no venue
    parts = [pq.read_table(p) for p in sorted(folder.glob("*.parquet"))]
    for a, b in itertools.combinations(parts, 2):
        for column in ("person", "venue"):
            assert not set(a[column].to_pylist()) & set(b[column].to_pylist())
    con = duckdb.connect()
    glob = cities.parquet_glob(folder)
    assert con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0] == (
        stays.num_rows
    )


def test_differences_name_persons_only_when_allowed() -> None:
    # real data (--stays): a difference is reported by counts and rows, never by id
    when = pa.array([0, 60, 120], TS)
    ids = ["ann-91", "bob-92", "cy-93"]
    ours = pa.table({"person": ids, "tier": [1, 1, 1], "exposed_at": when})
    theirs = ours.set_column(2, "exposed_at", pa.array([0, 61, 120], TS))
    fewer = ours.slice(0, 2)
    for other, what in ((theirs, "exposed_at differs for 1 of 3"), (fewer, "contact sets differ")):
        named = compare_contacts(ours, other, "F1")
        assert len(named) == 1 and what in named[0]
        assert any(x in named[0] for x in ("bob-92", "cy-93"))
        private = compare_contacts(ours, other, "F1", show_ids=False)
        assert len(private) == 1 and what in private[0]
        assert not any(x in private[0] for x in ("ann-91", "bob-92", "cy-93"))
    retiered = ours.set_column(1, "tier", pa.array([1, 2, 1]))
    assert "bob-92" in compare_contacts(ours, retiered, "F1")[0]
    assert "bob-92" not in compare_contacts(ours, retiered, "F1", show_ids=False)[0]


def _stays_file(path, persons, start="2021-03-13T00:00", end="2021-03-13T01:00", tz="UTC"):
    import pyarrow.parquet as pq

    n = len(persons)
    when = pa.array([np.datetime64(start, "s")] * n, pa.timestamp("s"))
    until = pa.array([np.datetime64(end, "s")] * n, pa.timestamp("s"))
    pq.write_table(
        pa.table(
            {
                "person": persons,
                "venue": pa.array([1] * n, pa.int64()),
                "start": pa.compute.assume_timezone(when, tz),
                "end": pa.compute.assume_timezone(until, tz),
            }
        ),
        path,
    )


def test_stays_files_are_what_every_engine_reads(tmp_path) -> None:
    from benchmarks.compare import _stays_label, stays_files

    _stays_file(tmp_path / "a.parquet", pa.array([1, 2], pa.int64()))
    _stays_file(tmp_path / "b.parquet", pa.array([3], pa.int64()))
    assert stays_files(tmp_path / "a.parquet") == [tmp_path / "a.parquet"]
    assert stays_files(tmp_path) == [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    # the peers read folder/*.parquet only: files tracegraph would read besides are refused
    (tmp_path / "sub").mkdir()
    _stays_file(tmp_path / "sub" / "c.parquet", pa.array([4], pa.int64()))
    with pytest.raises(SystemExit, match="no subfolders of data"):
        stays_files(tmp_path)
    with pytest.raises(SystemExit, match=r"folder of \*\.parquet files"):
        stays_files(tmp_path / "nothing-here")
    assert _stays_label(tmp_path / "sub" / "..") == f"stays:{tmp_path.parent.name}/{tmp_path.name}"


def test_stays_info_never_quotes_an_id_and_counts_real_time(tmp_path) -> None:
    from benchmarks.compare import stays_info

    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    _stays_file(a, pa.array([1, 2], pa.int32()))
    _stays_file(b, pa.array([9_000_000_001], pa.int64()))
    assert stays_info([a, b])["people"] == 3  # integer widths widened, as the build does
    _stays_file(b, pa.array(["alice-secret"]))
    with pytest.raises(SystemExit) as err:
        stays_info([a, b])
    assert "not of one kind" in str(err.value) and "alice" not in str(err.value)
    # 28 hours on the clock across New York's spring change are 27 real hours
    _stays_file(a, pa.array([1]), "2021-03-13T00:00", "2021-03-14T04:00", "America/New_York")
    assert stays_info([a])["days"] == round(27 / 24, 1) != round(28 / 24, 1)


@pytest.mark.parametrize("private", [False, True])
def test_a_peers_error_text_is_withheld_on_private_data(tmp_path, private) -> None:
    # a peer's error may quote the data (a value, a file name): with --stays data only
    # its kind is reported
    from benchmarks.compare import Peer, PeerFailed

    missing = str(tmp_path / "resident-42.parquet")
    peer = Peer("duckdb", missing, threads=1, memory_gib=4, workdir=tmp_path, private=private)
    try:
        with pytest.raises(PeerFailed) as err:
            peer.request({"op": "build"}, timeout=60)
    finally:
        peer.close()
    assert err.value.kind == "error"
    assert ("resident-42" in err.value.detail) is not private
    if private:
        assert err.value.detail.endswith("(message withheld: it may quote the data)")
