"""The public surface of ``trace`` and ``Trace``: case inputs, outputs, conversions, threads."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from strategies import index_of, stays_table

import tracegraph as tg

TS = pa.timestamp("s", tz="UTC")
H = 3600


# ann meets bob twice at the cafe and once at the gym; bob later meets cat at the gym
ROWS = [
    ("ann", "cafe", 0, 2 * H),
    ("bob", "cafe", 1 * H, 3 * H),
    ("ann", "cafe", 5 * H, 6 * H),
    ("bob", "cafe", 5 * H, 5 * H + 1800),
    ("ann", "gym", 8 * H, 9 * H),
    ("bob", "gym", 8 * H + 1800, 10 * H),
    ("cat", "gym", 9 * H + 1800, 11 * H),
    ("dan", "park", 0, 1),
]


def test_cases_as_ids_or_as_table_with_open_windows_agree():
    index = index_of(ROWS)
    by_ids = tg.trace(index, ["ann"], tiers=2)
    table = pa.table(
        {"person": ["ann"], "start": pa.array([None], TS), "end": pa.array([None], TS)}
    )
    by_table = tg.trace(index, table, tiers=2)
    assert by_ids.contacts.equals(by_table.contacts)
    assert by_ids.edges.equals(by_table.edges)


def test_cases_as_a_mapping_are_refused_not_traced_over_all_time():
    # a dict of windows was read as its keys: the windows silently ignored
    index = index_of(ROWS)
    with pytest.raises(tg.SchemaError, match="got a mapping; for infectious windows pass a table"):
        tg.trace(index, {"ann": ("2021-01-01T00:00Z", "2021-01-02T00:00Z")})


@pytest.mark.parametrize(
    "make",
    [
        lambda ids: pa.array(ids),
        lambda ids: pa.chunked_array([ids[:1], ids[1:]]),
        lambda ids: np.array(ids),
        lambda ids: pa.array(ids, pa.large_string()),
        lambda ids: pa.array(ids).dictionary_encode(),  # read id by id
        lambda ids: np.array(ids, dtype=object),  # read id by id
    ],
)
def test_cases_as_an_arrow_or_numpy_vector_agree_with_a_list(make):
    index = index_of(ROWS)
    expected = tg.trace(index, ["ann", "cat"], tiers=2)
    got = tg.trace(index, make(["ann", "cat"]), tiers=2)
    assert got.contacts.equals(expected.contacts)
    assert got.edges.equals(expected.edges)


def test_cases_as_vectors_of_integer_ids_and_their_errors():
    rows = [(i, v, s, e) for (_, v, s, e), i in zip(ROWS, [1, 2, 1, 2, 1, 2, 3, 4], strict=True)]
    index = index_of(rows)
    expected = tg.trace(index, [1], tiers=2)
    for ids in (np.array([1], np.int64), np.array([1], np.uint8), pa.array([1], pa.int16())):
        assert tg.trace(index, ids, tiers=2).contacts.equals(expected.contacts)
    assert tg.trace(index, np.array([], np.int64)).contacts.num_rows == 0
    with pytest.raises(tg.errors.SchemaError, match="found None"):
        tg.trace(index, pa.array([1, None]))
    with pytest.raises(tg.errors.PersonNotFound, match="position 1"):
        tg.trace(index, np.array([1, 99]))
    kept = tg.trace(index, pa.array([1, 99]), unknown="keep")
    assert kept.contacts["person"].to_pylist()[:2] == [1, 99]


def test_cases_in_big_endian_numpy_arrays_and_string_views():
    rows = [(i, v, s, e) for (_, v, s, e), i in zip(ROWS, [1, 2, 1, 2, 1, 2, 3, 4], strict=True)]
    index = index_of(rows)
    expected = tg.trace(index, [1], tiers=2)
    for dtype in (">i8", ">u4", "<i2"):  # e.g. read from a big-endian binary file
        assert tg.trace(index, np.array([1], dtype), tiers=2).contacts.equals(expected.contacts)
    text = index_of(ROWS)
    want = tg.trace(text, ["ann", "zed"], unknown="keep").contacts
    assert want["person"].to_pylist()[:2] == ["ann", "zed"]
    for cases in (
        np.array(["ann", "zed"], ">U3"),
        pa.array(["ann", "zed"], pa.string_view()),
        pa.table(
            {
                "person": pa.array(["ann", "zed"], pa.string_view()),
                "start": pa.array([None, None], TS),
                "end": pa.array([None, None], TS),
            }
        ),
    ):
        assert tg.trace(text, cases, unknown="keep").contacts.equals(want)


def test_empty_case_ids_are_schema_errors_whatever_unknown_says():
    # (unknown="keep" kept "" as a case without stays; no index holds an empty id)
    text = index_of(ROWS)
    table = pa.table({"person": ["ann", ""], "start": pa.nulls(2, TS), "end": pa.nulls(2, TS)})
    categorical = table.set_column(0, "person", table["person"].dictionary_encode())
    for cases in (
        ["ann", ""],
        np.array(["ann", ""]),
        table,
        table.to_pandas(),
        categorical,
        categorical.to_pandas(),  # (a pandas categorical)
        pa.array(["ann", ""]).dictionary_encode(),
    ):
        for unknown in ("raise", "keep", "drop"):
            with pytest.raises(tg.SchemaError, match=r"^cases: expected non-empty person ids, fo"):
                tg.trace(text, cases, unknown=unknown)


def test_kept_unknown_ids_beyond_the_index_integer_type():
    # ids kept with unknown="keep" share one column with the index's ids: int64, uint64
    # for ids of 2**63 and more, or a clear error (no id shown) when no type holds both
    big = 2**63 + 5
    index = index_of([(1, "cafe", 0, H), (2, "cafe", 0, H)])
    for cases in (np.array([1, big], np.uint64), [1, big]):  # a list too
        got = tg.trace(index, cases, unknown="keep").contacts
        assert got["person"].type == pa.uint64()
        assert got["person"].to_pylist() == [1, big, 2]
        assert tg.trace(index, cases, unknown="drop").contacts["person"].to_pylist() == [1, 2]
        with pytest.raises(tg.PersonNotFound):
            tg.trace(index, cases)
    wide = tg.VenueIndex.from_stays(
        pa.table(
            {
                "person": pa.array([big, 1], pa.uint64()),
                "venue": ["cafe", "cafe"],
                "start": pa.array([0, 0], TS),
                "end": pa.array([H, H], TS),
            }
        )
    )
    with pytest.raises(tg.SchemaError, match="unknown='drop'") as err:
        tg.trace(wide, [1, -1], unknown="keep")
    assert str(big) not in str(err.value)
    assert tg.trace(wide, [1, -1], unknown="drop").contacts.num_rows == 2
    # a list that no integer type holds at all: says so, without an id
    with pytest.raises(tg.SchemaError, match="no one integer type holds") as err:
        tg.trace(index, [-1, big])
    assert str(big) not in str(err.value)


def test_every_table_of_a_trace_gives_person_ids_one_type():
    # a kept case id beyond the index's int32 ids widens the contacts' ids to int64:
    # edges, risk, explain and clusters follow (their ids stayed int32: joins failed)
    table = stays_table([(1, 7, 0, H), (2, 7, 0, H), (3, 8, H, 2 * H), (2, 8, H, 2 * H)])
    table = table.set_column(0, "person", table["person"].cast(pa.int32()))
    index = tg.VenueIndex.from_stays(table)
    assert index.persons.type == pa.int32()
    result = tg.trace(index, [1, 2**40], tiers=2, unknown="keep")
    assert result.contacts["person"].type == pa.int64()
    assert result.contacts["person"].to_pylist() == [1, 2**40, 2, 3]
    assert result.edges.schema.field("source").type == pa.int64()
    assert result.edges.schema.field("target").type == pa.int64()
    risk = result.risk()
    assert risk.schema.field("person").type == risk.schema.field("source").type == pa.int64()
    explained = result.explain(3).table
    assert explained.schema.field("source").type == pa.int64()
    assert explained["target"].to_pylist() == [2, 3]
    assert tg.clusters(index, [1, 2**40], unknown="keep").schema.field("person").type == pa.int64()
    # (no kept id, or one that fits: the index's type throughout)
    plain = tg.trace(index, [1, 99], tiers=2, unknown="keep")
    assert plain.contacts["person"].type == plain.edges["source"].type == pa.int32()


def test_case_window_limits_what_a_case_passes_on():
    index = index_of(ROWS)
    window = pa.table(
        {
            "person": ["ann"],
            "start": pa.array([4 * H], TS),
            "end": pa.array([12 * H], TS),
        }
    )
    result = tg.trace(index, window)
    edges = result.edges.to_pydict()
    # the first cafe meeting (hours 1-2) is outside the window
    assert [e.hour for e in edges["start"]] == [5, 8]


def windows(rows):
    return pa.table(
        {
            "person": [r[0] for r in rows],
            "start": pa.array([r[1] for r in rows], TS),
            "end": pa.array([r[2] for r in rows], TS),
        }
    )


def test_windows_that_hold_no_stay_of_any_case_warn():
    # a year off (or a zone off, or data that does not reach back): only the cases
    index = index_of(ROWS)
    year = 365 * 24 * H
    with pytest.warns(tg.DataWarning, match=r"none of the 2 cases has a stay inside its") as w:
        result = tg.trace(index, windows([("ann", year, year + 12 * H), ("bob", None, -H)]))
    assert w[0].filename == __file__
    assert "windows run from the beginning to 1971-01-01 12:00Z" in str(w[0].message)
    assert "ann" not in str(w[0].message) and "bob" not in str(w[0].message)
    assert result.tier_counts() == {0: 2, 1: 0}  # (nobody reached: F1 is 0)


@pytest.mark.parametrize(
    "rows",
    [
        [("ann", 4 * H, 12 * H)],  # holds stays
        [("ann", 20 * H, 30 * H), ("cat", 9 * H, 10 * H)],  # one of the cases' does
        [("ann", 2 * H, 5 * H)],  # touches a stay at each end (closed rules match those)
        [("ann", None, None)],  # open: the case's whole record
    ],
)
def test_windows_that_hold_a_stay_do_not_warn(rows):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.trace(index_of(ROWS), windows(rows))
        tg.trace(index_of(ROWS), ["ann", "zed"], unknown="keep")  # ids: no windows


def test_cases_from_pandas_frame():
    pd = pytest.importorskip("pandas")
    index = index_of(ROWS)
    frame = pd.DataFrame(
        {
            "person": ["ann"],
            "start": pd.to_datetime([0], unit="s", utc=True),
            "end": pd.to_datetime([12 * H], unit="s", utc=True),
        }
    )
    assert tg.trace(index, frame).tier_counts() == {0: 1, 1: 1}
    # NaT windows (a naive type in pandas): open sides, with no zone to ask for
    open_sides = frame.assign(start=pd.NaT, end=pd.NaT)
    assert open_sides["start"].dt.tz is None
    assert tg.trace(index, open_sides).contacts.equals(tg.trace(index, ["ann"]).contacts)
    # a missing id in a nullable pandas column is named as such (not "mixed types")
    ints = tg.VenueIndex.from_stays(stays_table([(1, 7, 0, H), (2, 7, 0, H)]))
    with pytest.raises(tg.SchemaError, match="expected person ids, found None"):
        tg.trace(ints, pd.Series([1, None], dtype="Int64"))


def test_an_iterable_may_repeat_a_case_but_a_table_may_not():
    index = index_of(ROWS)
    assert tg.trace(index, ["ann", "ann"]).tier_counts() == {0: 1, 1: 1}
    twice = pa.table(
        {
            "person": ["ann", "ann"],
            "start": pa.array([0, 4 * H], TS),
            "end": pa.array([H, 5 * H], TS),
        }
    )
    with pytest.raises(tg.SchemaError, match="one row per case person"):
        tg.trace(index, twice)


def test_windows_ending_before_they_start_within_a_second_are_refused():
    # 10.7 s to 10.0 s, in ms and s: both floor to 10 s, yet the window runs backwards
    index = index_of(ROWS)
    start = pa.array([10_700], pa.timestamp("ms", tz="UTC"))
    ends = {"backwards": 10, "same second, later": 11}
    for label, end_s in ends.items():
        end = pa.array([end_s], pa.timestamp("s", tz="Asia/Ho_Chi_Minh"))
        cases = pa.table({"person": ["ann"], "start": start, "end": end})
        windows = pa.table({"venue": ["cafe"], "start": start, "end": end})
        if label == "backwards":
            with pytest.raises(tg.SchemaError, match="windows ending before they start"):
                tg.trace(index, cases)
            with pytest.raises(tg.SchemaError, match="windows ending before they start"):
                tg.present_at(index, windows)
        else:
            assert tg.trace(index, cases).tier_counts()[0] == 1
            assert tg.present_at(index, windows).column("person").to_pylist() == ["ann"]
    # an open end (null) is after any start, whatever its fraction of a second
    open_end = pa.table({"person": ["ann"], "start": start, "end": pa.array([None], TS)})
    assert tg.trace(index, open_end).tier_counts()[0] == 1


def test_case_table_errors():
    index = index_of(ROWS)
    with pytest.raises(tg.SchemaError, match=r"column `end` not found"):
        tg.trace(index, pa.table({"person": ["ann"], "start": pa.array([0], TS)}))
    backwards = pa.table({"person": ["ann"], "start": pa.array([H], TS), "end": pa.array([0], TS)})
    with pytest.raises(tg.SchemaError, match="windows ending before they start"):
        tg.trace(index, backwards)
    naive = pa.table(
        {
            "person": ["ann"],
            "start": pa.array([0], pa.timestamp("s")),
            "end": pa.array([H], pa.timestamp("s")),
        }
    )
    with pytest.raises(tg.TimezoneError, match="naive"):
        tg.trace(index, naive)


def test_errors_in_the_times_of_a_cases_table_name_the_cases():
    # as present_at's name its windows ("windows: column `start`: ..."): a service
    # passing stays, cases and windows is told which table holds the bad column
    index = index_of(ROWS)
    some_null = pa.array([None, 0], pa.timestamp("s"))  # (nulls: open sides, then read)
    for start, error in (
        (pa.array([0], pa.timestamp("s")), tg.TimezoneError),  # naive, no tz=
        (pa.array([-(2**62)], TS), tg.SchemaError),  # before the year 1
    ):
        cases = pa.table({"person": ["ann"], "start": start, "end": pa.nulls(1, TS)})
        with pytest.raises(error, match=r"^cases: column `start`: expected"):
            tg.trace(index, cases)
    cases = pa.table({"person": ["ann", "bob"], "start": some_null, "end": pa.nulls(2, TS)})
    with pytest.raises(tg.TimezoneError, match=r"^cases: column `start`: expected zone-aware"):
        tg.trace(index, cases)


def test_single_string_case_is_rejected_with_a_hint():
    index = index_of(ROWS)
    with pytest.raises(tg.SchemaError, match=r"wrap it in a list: \[case_id\]") as info:
        tg.trace(index, "ann")
    assert "ann" not in str(info.value)  # ids are personal data


def test_case_ids_of_the_wrong_type():
    index = index_of(ROWS)
    with pytest.raises(tg.SchemaError, match=r"^`cases`: expected person ids of type string"):
        tg.trace(index, [1, 2])
    # (which argument: the cases, or the one person asked about)
    result = tg.trace(index, ["ann"])
    with pytest.raises(tg.SchemaError, match=r"^`person`: expected person ids of type string"):
        result.explain(1)
    with pytest.raises(tg.SchemaError, match=r"^`person`: expected person ids of type string"):
        index.stays_of(1)
    # the argument named once (ids_array names it too for ids of no one type)
    for call in (lambda: result.explain(2**70), lambda: index.stays_of(2**70)):
        with pytest.raises(tg.SchemaError, match=r"^`person`: expected ids of one type") as info:
            call()
        assert str(info.value).count("`person`") == 1
    # venue ids likewise: an index's stays at a venue, and published windows
    with pytest.raises(tg.SchemaError, match=r"^`venue`: expected venue ids of type string"):
        index.stays_at(5, 0, H)
    windows = pa.table({"venue": [5], "start": pa.array([0], TS), "end": pa.array([H], TS)})
    with pytest.raises(
        tg.SchemaError, match=r"^windows: column `venue`: expected venue ids of type string"
    ):
        tg.present_at(index, windows)


def test_unknown_cases_raise_keep_or_drop_and_never_show_the_id():
    index = index_of(ROWS)
    with pytest.raises(tg.PersonNotFound, match="first at position 1") as info:
        tg.trace(index, ["ann", "zoe-0912345678"])
    assert "zoe" not in str(info.value)
    assert isinstance(info.value, KeyError)
    kept = tg.trace(index, ["ann", "zoe"], unknown="keep")
    assert kept.contacts.filter(pa.compute.equal(kept.contacts["tier"], 0))[
        "person"
    ].to_pylist() == ["ann", "zoe"]
    dropped = tg.trace(index, ["ann", "zoe"], unknown="drop")
    assert dropped.contacts["person"].to_pylist() == ["ann", "bob"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tiers": -1}, "tiers"),
        ({"tiers": 1.5}, "tiers"),
        ({"unknown": "ignore"}, "unknown"),
        ({"min_overlap": "-5min"}, "non-negative"),
        ({"linger": "5 parsecs"}, "unknown unit"),
        ({"latency": dt.timedelta(seconds=-1)}, "non-negative"),
        ({"infectious_for": "0.5s"}, "whole seconds"),
    ],
)
def test_bad_arguments(kwargs, match):
    index = index_of(ROWS)
    with pytest.raises((ValueError, TypeError), match=match):
        tg.trace(index, ["ann"], **kwargs)


def test_durations_in_every_form_agree():
    index = index_of(ROWS)
    forms = ["45min", dt.timedelta(minutes=45), np.timedelta64(45, "m"), 2700, "0h45min"]
    results = [tg.trace(index, ["ann"], min_overlap=f, tiers=2).contacts for f in forms]
    assert all(r.equals(results[0]) for r in results)


def test_tiers_zero_returns_only_the_cases():
    result = tg.trace(index_of(ROWS), ["ann"], tiers=0)
    assert result.contacts["person"].to_pylist() == ["ann"]
    assert result.edges.num_rows == 0


def test_contacts_and_edges_schema():
    result = tg.trace(index_of(ROWS), ["ann"], tiers=2)
    assert result.contacts.schema == pa.schema(
        [("person", pa.string()), ("tier", pa.int8()), ("exposed_at", pa.timestamp("us", "UTC"))]
    )
    assert result.edges.schema == pa.schema(
        [
            ("source", pa.string()),
            ("target", pa.string()),
            ("venue", pa.string()),
            ("start", pa.timestamp("us", "UTC")),
            ("end", pa.timestamp("us", "UTC")),
            ("tier", pa.int8()),
        ]
    )
    assert result.contacts["exposed_at"].null_count == 1  # the case


def test_networkx_graph_aggregates_stay_pairs_per_person_pair():
    result = tg.trace(index_of(ROWS), ["ann"], tiers=2)
    graph = result.to_networkx()
    assert dict(graph.nodes(data="tier")) == {"ann": 0, "bob": 1, "cat": 2}
    ab = graph.edges["ann", "bob"]
    assert ab["n_pairs"] == 3
    assert ab["overlap_s"] == H + 1800 + 1800
    assert ab["start"] == dt.datetime(1970, 1, 1, 1, tzinfo=dt.UTC)
    assert ab["venue"] == "cafe"
    assert ab["venues"] == ["cafe", "gym"]
    # bob is exposed at 01:00, so the gym at 09:30 passes it on to cat
    assert graph.edges["bob", "cat"]["overlap_s"] == 1800
    assert list(nx.bfs_layers(graph, ["ann"])) == [["ann"], ["bob"], ["cat"]]


def test_pandas_and_polars_views():
    pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    result = tg.trace(index_of(ROWS), ["ann"])
    assert list(result.to_pandas()["person"]) == ["ann", "bob"]
    assert isinstance(result.to_polars(), pl.DataFrame)
    assert result.to_arrow() is result.contacts
    # a lazy frame of cases is refused with advice, without polars' warning that
    # asking for its columns resolves its schema (warnings are errors in the tests)
    with pytest.raises(tg.SchemaError, match="got LazyFrame; collect it first"):
        tg.trace(index_of(ROWS), pl.DataFrame({"person": ["ann"]}).lazy())


def test_trace_is_frozen_and_has_a_short_repr():
    result = tg.trace(index_of(ROWS), ["ann"], tiers=2)
    assert repr(result) == "Trace(3 persons: F0=1, F1=1, F2=1; policy tracegraph)"
    assert result.n_pairs == 4  # counted on demand
    with pytest.raises(AttributeError):
        result.contacts = None  # type: ignore[misc]
    # tier_counts has every tier asked for; the repr stops at the first tier nobody
    # reached (tiers=127 listed F3=0 ... F127=0)
    deep = tg.trace(index_of(ROWS), ["ann"], tiers=127)
    assert deep.tier_counts() == {0: 1, 1: 1, 2: 1, **dict.fromkeys(range(3, 128), 0)}
    assert repr(deep) == "Trace(3 persons: F0=1, F1=1, F2=1, F3=0; policy tracegraph)"
    assert "F4" not in deep._repr_html_() and "F3" in deep._repr_html_()


def test_changing_the_params_a_trace_gives_changes_nothing_of_the_trace():
    # the dict was the trace's own: a service adding its own keys or editing one to
    # log them changed what locations_of_interest (tiers) and risk (day_tz) read
    result = tg.trace(index_of(ROWS), ["ann"], tiers=2)
    loi = result.locations_of_interest()
    params = result.params
    params.update(tiers=0, day_tz="Asia/Ho_Chi_Minh", request="r-17")
    assert result.params["tiers"] == 2 and result.params["day_tz"] == "UTC"
    assert "request" not in result.params
    assert result.locations_of_interest().equals(loi)
    assert result.params is not result.params  # (each a copy, as a value's view is)


def test_trace_from_many_threads_matches_serial():
    rng = np.random.default_rng(5)
    n = 20_000
    start = rng.integers(0, 7 * 24 * H, n)
    table = pa.table(
        {
            "person": rng.integers(0, 2_000, n),
            "venue": rng.integers(0, 300, n),
            "start": pa.array(start).cast(TS),
            "end": pa.array(start + rng.integers(0, 4 * H, n)).cast(TS),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    case_sets = [rng.choice(2_000, size=5, replace=False).tolist() for _ in range(16)]
    serial = [tg.trace(index, cases, tiers=3, unknown="drop") for cases in case_sets]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(
            pool.map(lambda cases: tg.trace(index, cases, tiers=3, unknown="drop"), case_sets)
        )
    for a, b in zip(serial, threaded, strict=True):
        assert a.contacts.equals(b.contacts)
        assert a.edges.equals(b.edges)


@pytest.mark.parametrize("seed", range(6))
def test_forward_and_reverse_matching_give_the_same_trace(seed):
    """Each tier can probe the index with exposures, or index exposures and probe with
    the untraced people's stays; ``auto`` picks the smaller side. All must agree."""
    from tracegraph.exposure import _resolve_cases, _trace_codes

    rng = np.random.default_rng(seed)
    n = 3_000
    start = rng.integers(0, 3 * 24 * H, n)
    table = pa.table(
        {
            "person": rng.integers(0, 400, n),
            "venue": rng.integers(0, 60, n),
            "start": pa.array(start).cast(TS),
            "end": pa.array(start + rng.integers(0, 3 * H, n)).cast(TS),
        }
    )
    index = tg.VenueIndex.from_stays(table, bucket_width="20min")
    cases = _resolve_cases(index, rng.choice(400, 3, replace=False).tolist(), "drop")
    kw = {"tiers": 4, "min_overlap": 600, "linger": 300, "latency": 3600, "infectious_for": None}
    results = [
        _trace_codes(index, cases, direction=d, **kw) for d in ("forward", "reverse", "auto")
    ]
    edge_sets = [sorted(zip(*r.edges.to_pydict().values(), strict=True)) for r in results]
    assert results[0].contacts.num_rows > 50  # the city is connected enough to test tiers
    for r, e in zip(results[1:], edge_sets[1:], strict=True):
        assert r.contacts.equals(results[0].contacts)
        assert e == edge_sets[0]


def test_html_repr_escapes_ids_and_caps_rows():
    rows = [("<script>alert(1)</script>", "<b>cafe</b>", 0, 2 * H)]
    rows += [(f"p{i:03d}", "<b>cafe</b>", 60 * i, 60 * i + H) for i in range(1, 40)]
    result = tg.trace(index_of(rows), ["<script>alert(1)</script>"])
    page = result._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;cafe&lt;/b&gt;" in page
    # contacts: 40 rows, of which 10 are shown and the rest counted
    assert page.count("<tr>") <= 1 + 10 + 10 + 10 + 10
    assert "30 more rows" in page
    assert result.top_venues().to_pydict() == {"venue": ["<b>cafe</b>"], "pairs": [39]}
    assert result.first_exposure_venues().to_pydict() == {"venue": ["<b>cafe</b>"], "exposed": [39]}
    assert "stay pairs" in result._repr_html_()  # shown once counted, never counted for it


def test_html_repr_of_a_large_trace_is_fast_and_does_not_match_again():
    import time

    rng = np.random.default_rng(3)
    n = 200_000
    start = rng.integers(0, 7 * 86_400, n)
    table = pa.table(
        {
            "person": rng.integers(0, 50_000, n),
            "venue": rng.integers(0, 50, n),
            "start": pa.array(start).cast(pa.timestamp("s", tz="UTC")),
            "end": pa.array(start + 3600).cast(pa.timestamp("s", tz="UTC")),
        }
    )
    result = tg.trace(tg.VenueIndex.from_stays(table), list(range(200)), unknown="drop")
    assert result.contacts.num_rows > 10_000
    t0 = time.perf_counter()
    page = result._repr_html_()
    elapsed = time.perf_counter() - t0
    assert "counts" not in result._pairs.__dict__  # the pairs were not counted for a repr
    assert "more rows" in page
    # generous: a repr must not scale with the pairs (rendering is a few milliseconds)
    assert elapsed < 1.0, elapsed


def test_html_repr_of_an_index():
    page = index_of(ROWS)._repr_html_()
    assert "stays" in page
    assert "bytes per stay" in page


def test_ids_never_appear_in_errors_or_their_causes():
    index = index_of(ROWS)
    with pytest.raises(tg.SchemaError) as info:
        tg.trace(index, [84912345678, "zoe-0912"])
    text = str(info.value) + repr(info.value.__cause__)
    assert "84912345678" not in text
    assert "zoe" not in text


def test_integer_case_ids_out_of_the_index_range_are_unknown():
    table = pa.table(
        {
            "person": pa.array([1, 2], pa.int32()),
            "venue": pa.array([1, 1], pa.int8()),
            "start": pa.array([0, 10], pa.int64()).cast(TS),
            "end": pa.array([100, 100], pa.int64()).cast(TS),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    with pytest.raises(tg.PersonNotFound, match="first at position 1"):
        tg.trace(index, [1, 84912345678])
    assert tg.trace(index, [1, 84912345678], unknown="drop").tier_counts() == {0: 1, 1: 1}
    kept = tg.trace(index, [1, 84912345678], unknown="keep").contacts
    assert kept["person"].to_pylist() == [1, 84912345678, 2]
    with pytest.raises(tg.PersonNotFound):  # a case kept without stays has none indexed
        index.stays_of(84912345678)
    grown = index.append(
        pa.table(
            {
                "person": pa.array([300], pa.int64()),
                "venue": pa.array([1], pa.int64()),
                "start": pa.array([5], pa.int64()).cast(TS),
                "end": pa.array([50], pa.int64()).cast(TS),
            }
        )
    )
    assert grown.persons.to_pylist() == [1, 2, 300]


def test_an_open_ended_stay_costs_nothing_and_is_found():
    # a placeholder end (about 9999-12-31) sits in its own duration class: no memory
    # per hour it covers, and the short stays at the venue are not scanned for it
    rows = [("ann", "cafe", 0, 2 * H), ("bob", "cafe", 0, 253_402_300_000), ("cat", "cafe", H, H)]
    index = index_of(rows)
    assert index.nbytes < 2_000
    assert index.n_classes > 20
    result = tg.trace(index, ["ann"])
    assert result.contacts["person"].to_pylist() == ["ann", "bob"]
    late = index.stays_at("cafe", "2500-01-01T00:00:00Z", "2500-01-02T00:00:00Z")
    assert late["person"].to_pylist() == ["bob"]


def test_times_and_durations_out_of_range():
    with pytest.raises(tg.SchemaError, match="between the years 1 and 9999"):
        index_of([("ann", "cafe", 0, 2**44)])
    index = index_of(ROWS)
    with pytest.raises(tg.DurationError, match="pass None for no end"):
        tg.trace(index, ["ann"], infectious_for=2**63 - 1)
    with pytest.raises(tg.DurationError, match="at most"):
        tg.trace(index, ["ann"], linger=10**19)


def test_public_query_checks_its_codes():
    index = index_of(ROWS)
    one = np.ones(1, np.int64)
    with pytest.raises(ValueError, match="venue codes"):
        index.query(
            np.array([50], np.int32), one * 0, one * 10, np.array([-1], np.int32),
            min_overlap=0, excluded=np.zeros(index.n_persons, np.bool_),
        )  # fmt: skip
    with pytest.raises(ValueError, match="excluded"):
        index.query(
            np.array([0], np.int32), one * 0, one * 10, np.array([-1], np.int32),
            min_overlap=0, excluded=np.zeros(1, np.bool_),
        )  # fmt: skip


def test_uint64_ids_beyond_int64():
    big = [2**64 - 1, 2**64 - 3]
    table = pa.table(
        {
            "person": pa.array(big, pa.uint64()),
            "venue": [1, 1],
            "start": pa.array([0, 10], pa.int64()).cast(TS),
            "end": pa.array([100, 100], pa.int64()).cast(TS),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    assert index.persons.to_pylist() == sorted(big)
    assert tg.trace(index, [2**64 - 1]).contacts["person"].to_pylist() == big


def test_pandas_cases_with_all_open_windows():
    pd = pytest.importorskip("pandas")
    index = index_of(ROWS)
    frame = pd.DataFrame({"person": ["ann"], "start": [None], "end": [None]})
    assert tg.trace(index, frame).contacts.equals(tg.trace(index, ["ann"]).contacts)


# --------------------------------------------------------------------------- graph files


@pytest.mark.parametrize("suffix", [".graphml", ".gexf"])
def test_write_graph_round_trips_nodes_edges_and_attributes(tmp_path, suffix):
    rows = [
        ("ann", "cafe", 0, H),
        ("bob", "cafe", 1800, 2 * H),
        ("bob", "gym", 3 * H, 4 * H),
        ("cat", "gym", 3 * H, 5 * H),
    ]
    result = tg.trace(index_of(rows), ["ann"], tiers=2)
    path = result.write_graph(tmp_path / f"contacts{suffix}")
    graph = nx.read_graphml(path) if suffix == ".graphml" else nx.read_gexf(path)
    assert sorted(graph.nodes) == ["ann", "bob", "cat"]
    assert sorted(graph.edges) == [("ann", "bob"), ("bob", "cat")]
    assert int(graph.nodes["cat"]["tier"]) == 2
    assert graph.nodes["ann"]["exposed_at"] == ""
    assert graph.nodes["bob"]["exposed_at"] == "1970-01-01T00:30:00+00:00"
    edge = graph.edges["bob", "cat"]
    assert int(edge["overlap_s"]) == H and edge["venue"] == "gym" and edge["venues"] == "gym"
    assert edge["start"] == "1970-01-01T03:00:00+00:00"


@pytest.mark.parametrize("suffix", [".graphml", ".gexf"])
def test_write_graph_keeps_integer_venue_ids_integers(tmp_path, suffix):
    # the edge's venue was written as text ("7") while integer person ids stayed integers
    rows = [(1, 7, 0, H), (2, 7, 1800, 2 * H), (2, 9, 3 * H, 4 * H), (3, 9, 3 * H, 5 * H)]
    result = tg.trace(index_of(rows), [1], tiers=2)
    path = result.write_graph(tmp_path / f"contacts{suffix}")
    graph = (
        nx.read_graphml(path, node_type=int)
        if suffix == ".graphml"
        else nx.read_gexf(path, node_type=int)
    )
    assert sorted(graph.edges) == [(1, 2), (2, 3)]
    assert graph.edges[2, 3]["venue"] == 9 and graph.edges[1, 2]["venue"] == 7
    assert graph.edges[2, 3]["venues"] == "9"


def test_write_graph_needs_a_known_format(tmp_path):
    result = tg.trace(index_of([("ann", "cafe", 0, H)]), ["ann"])
    with pytest.raises(ValueError, match=r"expected a \.graphml or \.gexf suffix"):
        result.write_graph(tmp_path / "g.txt")
    assert result.write_graph(tmp_path / "g.txt", format="gexf").exists()
    # a bad format is named as the format, whatever the suffix; a path must be a path
    with pytest.raises(tg.ArgumentError, match=r"^`format`: expected 'graphml' or 'gexf', got 'G"):
        result.write_graph(tmp_path / "g.graphml", format="GraphML")
    for bad in (123, None):
        with pytest.raises(tg.ArgumentError, match=r"^`path`: expected a path \(str or os\.Pa"):
            result.write_graph(bad)
        with pytest.raises(tg.ArgumentError, match=r"^`path`: expected a path"):
            tg.write_table(result.contacts, bad)
        with pytest.raises(tg.ArgumentError, match=r"^`path`: expected a path"):
            index_of([("ann", "cafe", 0, H)]).save(bad)
        with pytest.raises(tg.ArgumentError, match=r"^`path`: expected a path"):
            tg.VenueIndex.open(bad)


@pytest.mark.parametrize("suffix", [".graphml", ".gexf"])
def test_write_graph_refuses_ids_xml_cannot_hold(tmp_path, suffix):
    # a control character in an id: the file was written, and no reader could open it
    for person, venue in (("SECRET\x01bob", "cafe"), ("bob", "caf\x1fe")):
        rows = [("ann", venue, 0, H), (person, venue, 0, H)]
        result = tg.trace(index_of(rows), ["ann"])
        with pytest.raises(tg.SchemaError, match="XML, which cannot hold some of the ids") as err:
            result.write_graph(tmp_path / f"g{suffix}")
        assert "SECRET" not in str(err.value) and not (tmp_path / f"g{suffix}").exists()
    # (also a venue of the pair's other meetings: the edge's `venues`, not its first)
    rows = [("ann", "cafe", 0, H), ("bob", "cafe", 0, H), ("ann", "y\x01", 2 * H, 3 * H)]
    rows.append(("bob", "y\x01", 2 * H, 3 * H))
    with pytest.raises(tg.SchemaError, match="XML, which cannot hold some of the ids"):
        tg.trace(index_of(rows), ["ann"]).write_graph(tmp_path / f"g{suffix}")
    fine = tg.trace(index_of([("ann", "café", 0, H), ("bob\t<&>", "café", 0, H)]), ["ann"])
    assert fine.write_graph(tmp_path / f"g{suffix}").exists()


def test_uint64_ids_beyond_int64_are_found_by_ids_of_other_integer_types():
    # an index of uint64 ids of 2**63 and more, asked with int64 ids (of persons it
    # has, and -1, which no uint64 id is), one id at a time, and extended by int64 ids
    big = [2**64 - 1, 2**64 - 3, 5]
    table = pa.table(
        {
            "person": pa.array(big, pa.uint64()),
            "venue": [1, 1, 1],
            "start": pa.array([0, 10, 20], pa.int64()).cast(TS),
            "end": pa.array([100, 100, 100], pa.int64()).cast(TS),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    assert index.person_codes(pa.array([5, -1], pa.int64())).tolist() == [0, -1]
    assert tg.trace(index, [5]).contacts["person"].to_pylist() == [5, 2**64 - 3, 2**64 - 1]
    assert index.stays_of(2**64 - 1).num_rows == 1
    with pytest.raises(tg.PersonNotFound):
        index.stays_of(-1)
    more = table.slice(0, 1).set_column(0, "person", pa.array([6], pa.int64()))
    grown = index.append(more)
    assert grown.persons.type == pa.uint64()
    assert grown.persons.to_pylist() == [5, 6, 2**64 - 3, 2**64 - 1]
    negative = more.set_column(0, "person", pa.array([-6], pa.int64()))
    with pytest.raises(tg.SchemaError, match="no integer type holds both") as err:
        index.append(negative)
    assert str(2**64 - 1) not in str(err.value)


def test_bad_arguments_are_tracegraph_errors_and_the_builtins_too():
    # every deliberate error derives from TracegraphError (README, errors.py), also a
    # wrong argument value or type: ArgumentError is a ValueError and a TypeError
    index = index_of(ROWS)
    result = tg.trace(index, ["ann"], tiers=2)
    calls = [
        lambda: tg.trace(index, ["ann"], tiers=500),
        lambda: tg.trace(index, ["ann"], tiers="2"),
        lambda: tg.trace(index, ["ann"], unknown="ignore"),
        lambda: result.locations_of_interest(sources="everyone"),
        lambda: result.top_venues(-1),
        lambda: tg.trace("not an index", ["ann"]),
    ]
    for call in calls:
        with pytest.raises(tg.ArgumentError) as err:
            call()
        assert isinstance(err.value, ValueError) and isinstance(err.value, TypeError)
        assert isinstance(err.value, tg.TracegraphError)


def test_warmup_leaves_nothing_to_compile_for_a_build_from_files_and_a_trace(tmp_path):
    # a service calls warmup() once: building from a file (text ids, read batch by
    # batch) and tracing cases with windows then compile no kernel (fresh process)
    city = tg.synth.generate_city(3_000, days=2, ids="str", seed=1)
    path = tmp_path / "stays.parquet"
    pq.write_table(city.stays, path)
    code = f"""
import numpy as np, pyarrow as pa, tracegraph as tg
from numba.core.dispatcher import Dispatcher
from tracegraph import _kernels as K
def signatures():
    return {{n: len(o.signatures) for n, o in vars(K).items() if isinstance(o, Dispatcher)}}
tg.warmup()
before = signatures()
index = tg.VenueIndex.from_stays({str(path)!r})
day = index.origin // 86_400 * 86_400
cases = pa.table({{
    "person": index.persons.take(pa.array([0, 7, 11])),
    "start": pa.array([day * 10**6] * 3, pa.timestamp("us", tz="UTC")),
    "end": pa.array([(day + 86_400) * 10**6] * 3, pa.timestamp("us", tz="UTC")),
}})
tg.trace(index, cases, tiers=2, min_overlap="15min", latency="1d")
after = signatures()
print({{k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}})
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "{}"


def test_warmup_leaves_nothing_to_compile_for_a_service_on_a_saved_index(tmp_path):
    # a service opens a saved index (read-only arrays) and, after warmup(), traces deep
    # tiers (late tiers are matched the other way round), publishes locations of
    # interest, looks them up under a case-insensitive policy, counts co-presence,
    # traces per source and clusters: warmup promises every kernel, so none compiles
    city = tg.synth.generate_city(3_000, days=2, ids="str", seed=1)
    tg.VenueIndex.from_stays(city.stays).save(tmp_path / "city.tgidx")
    code = f"""
import pyarrow as pa, tracegraph as tg
from numba.core.dispatcher import Dispatcher
from tracegraph import _kernels as K
def signatures():
    return {{n: len(o.signatures) for n, o in vars(K).items() if isinstance(o, Dispatcher)}}
tg.warmup()
opened = tg.VenueIndex.open({str(tmp_path / "city.tgidx")!r})
built = tg.VenueIndex.from_stays(tg.synth.generate_city(3_000, days=2, seed=1).stays)
before = signatures()
for index in (opened, built):
    cases = index.persons.take(pa.array([0, 7, 11])).to_pylist()
    deep = tg.trace(index, cases, tiers=4, min_overlap="15min")
    deep.edges, deep.n_pairs
    loi = tg.trace(index, cases).locations_of_interest()
    tg.present_at(index, loi, policy="nhs-ios")
    tg.trace(index, cases, policy="nhs-ios", tiers=2).edges
    tg.copresent_pairs(index, min_overlap="15min")
    tg.trace(index, cases, tiers=2, cumulative="per_source", min_overlap="15min").edges
    tg.clusters(index, cases, tiers=2)
after = signatures()
print({{k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}})
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "{}"


def test_tables_with_a_column_read_twice_are_schema_errors():
    # Arrow tables may repeat a column name; which copy would be meant? (a raw KeyError
    # before, where a pandas frame got this SchemaError); copies not read do no harm
    index = index_of([("a", "x", 0, H), ("b", "x", H // 2, 2 * H)])

    def twice(names, *columns):
        return pa.Table.from_arrays(list(columns), names=names)

    no_time = pa.nulls(1, TS)
    cases = twice(
        ["person", "person", "start", "end"], pa.array(["a"]), pa.array(["b"]), no_time, no_time
    )
    windows = twice(
        ["venue", "venue", "start", "end"],
        pa.array(["x"]),
        pa.array(["y"]),
        pa.array([0], TS),
        pa.array([9], TS),
    )
    levels = twice(
        ["person", "risk_level", "risk_level"], pa.array(["a"]), pa.array([3]), pa.array([4])
    )
    stays = stays_table([(1, 1, 0, H)])
    stays = stays.append_column("venue", stays["venue"])
    calls = {
        "cases": lambda: tg.trace(index, cases),
        "windows": lambda: tg.present_at(index, windows),
        "levels": lambda: tg.trace(index, ["a"], policy="cwa").risk(levels=levels),
        "stays": lambda: tg.VenueIndex.from_stays(stays),
        "stays batch": lambda: tg.VenueIndex.from_stays(stays.to_batches()[0]),
    }
    for what, call in calls.items():
        with pytest.raises(tg.SchemaError, match=rf"^{what.split()[0]}: column `\w+` appears 2 t"):
            call()
    # a repeated column that is not read is left alone
    extra = (
        cases.select([0, 2, 3])
        .append_column("note", pa.array([1]))
        .append_column("note", pa.array([2]))
    )
    assert tg.trace(index, extra).contacts.equals(tg.trace(index, ["a"]).contacts)


def test_cumulative_takes_numpy_bools_as_by_venue_does():
    # cumulative=np.True_ (a flag read from an array of settings) was an ArgumentError
    city = tg.synth.generate_city(200, days=2, seed=4)
    index = tg.VenueIndex.from_stays(city.stays)
    cases = index.persons.to_pylist()[:3]
    for flag in (np.True_, np.False_):
        result = tg.trace(index, cases, tiers=2, min_overlap="10min", cumulative=flag)
        expected = tg.trace(index, cases, tiers=2, min_overlap="10min", cumulative=bool(flag))
        assert result.contacts.equals(expected.contacts)
        assert result.params["cumulative"] is bool(flag)


def test_times_as_a_dictionary_column_are_read_as_their_times(tmp_path):
    # a pandas categorical of datetimes arrives as dictionary<timestamp>: stays, scans,
    # cases and windows read it as the times it holds (it was "expected a timestamp
    # type", with advice to parse text)
    city = tg.synth.generate_city(200, days=2, seed=3)
    stays = city.stays

    def as_dictionary(table, names):
        for name in names:
            column = table.column(name).combine_chunks().dictionary_encode()
            table = table.set_column(table.column_names.index(name), name, column)
        return table

    plain = tg.VenueIndex.from_stays(stays)
    coded = tg.VenueIndex.from_stays(as_dictionary(stays, ["start", "end"]))
    pq.write_table(as_dictionary(stays, ["start"]), tmp_path / "stays.parquet")
    from_file = tg.VenueIndex.from_stays(tmp_path / "stays.parquet")
    case = stays["person"][0].as_py()
    expected = tg.trace(plain, [case], tiers=2).contacts
    for index in (coded, from_file):
        assert index.n_stays == plain.n_stays
        assert tg.trace(index, [case], tiers=2).contacts.equals(expected)
    first = stays["start"][0]
    cases = pa.table({"person": [case], "start": pa.array([first]), "end": pa.nulls(1)})
    types = [(name, stays[name].type) for name in ("person", "start", "end")]
    cases = cases.cast(pa.schema(types))
    windowed = tg.trace(plain, cases).contacts
    assert tg.trace(plain, as_dictionary(cases, ["start"])).contacts.equals(windowed)
    windows = stays.select(["venue", "start", "end"]).slice(0, 50)
    assert tg.present_at(plain, as_dictionary(windows, ["start", "end"])).equals(
        tg.present_at(plain, windows)
    )
    scans = stays.select(["person", "venue", "start"]).rename_columns(["person", "venue", "time"])
    made = tg.scans_to_stays(scans).stays
    assert tg.scans_to_stays(as_dictionary(scans, ["time"])).stays.equals(made)
