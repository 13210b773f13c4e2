"""``VenueIndex.from_scans``: the lean files → index path gives exactly the classic path's index.

The classic path is ``VenueIndex.from_stays(scans_to_stays(read_scans(...)).stays)``;
every test compares the two field by field (ids, codes, times, offsets, dtypes) and
compares their row accounting. The kernels of the lean path are also checked against
plain numpy.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import examples

import tracegraph as tg
from tracegraph import _kernels
from tracegraph.errors import DurationError, ScanRowError, SchemaError
from tracegraph.ingest import IngestReport, ScanSchema, read_scans, scans_to_stays

index_from_scans = tg.VenueIndex.from_scans

T0 = 1_627_779_600  # 2021-08-01 01:00Z = 08:00 in Hanoi
MIN = 60
H = 3600
NOW = T0 + 30 * 24 * H
SCHEMA = ScanSchema(person="uid", venue="qr", time="ts", direction="io")
INDEX_FIELDS = (
    "persons",
    "venues",
    "bucket_width",
    "origin",
    "n_classes",
    "start",
    "end",
    "person",
    "venue_offsets",
    "class_offsets",
    "person_offsets",
    "person_stays",
)
STAY_OPTIONS = ("default_dwell", "venue_dwell", "max_stay", "split_at_midnight", "dedupe_within")


def assert_same_index(a: tg.VenueIndex, b: tg.VenueIndex) -> None:
    for name in INDEX_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, name
            np.testing.assert_array_equal(x, y, err_msg=name)
        elif isinstance(x, pa.Array):
            assert x.type == y.type, name
            assert x.equals(y), name
        else:
            assert x == y, name


def classic(source, **kw):
    """The classic path with the same options: (index, scans, stays result)."""
    stay_kw = {k: kw.pop(k) for k in STAY_OPTIONS if k in kw}
    bucket_width = kw.pop("bucket_width", "1h")
    scans = read_scans(source, **kw)
    result = scans_to_stays(scans, **stay_kw)
    return tg.VenueIndex.from_stays(result.stays, bucket_width=bucket_width), scans, result


def check_same(source, **kw):
    """Both paths agree: the index, the reports and the rejected rows."""
    index, report = index_from_scans(source, **kw)
    ref, scans, result = classic(source, **kw)
    assert_same_index(index, ref)
    assert report.scans == scans.report
    assert report.stays == result.report
    assert report.rejected.equals(scans.rejected)
    r = report.scans
    assert r.read == r.accepted + r.rejected + r.duplicates
    return index, report


def table(rows, *, int_ids=False):
    """Rows ``(person, venue, seconds after T0 + 12h or None, direction)``."""
    id_type = pa.int64() if int_ids else pa.string()
    times = [None if r[2] is None else T0 + 12 * H + r[2] for r in rows]
    return pa.table(
        {
            "uid": pa.array([r[0] for r in rows], id_type),
            "qr": pa.array([r[1] for r in rows], id_type),
            "ts": pa.array(times, pa.int64()),
            "io": pa.array([r[3] for r in rows], pa.string()),
        }
    )


# --------------------------------------------------------------------------- fixed cases


def test_docstring_example_and_report():
    raw = table([("ann", "cafe", 0, "in"), ("ann", "cafe", H, "out"), ("bob", "cafe", 600, "in")])
    index, report = check_same(raw, schema=SCHEMA, now=NOW)
    assert isinstance(report, IngestReport)
    assert index.n_stays == 2 and report.stays.closed_by["exit"] == 1
    assert "2 stays" in repr(report)


def test_same_index_for_every_stay_option():
    rows = [
        ("ann", "cafe", 0, "in"),
        ("ann", "cafe", 30, "in"),  # a repeat
        ("ann", "cafe", 30, "in"),  # an exact duplicate
        ("ann", "cafe", 2 * H, "out"),
        ("ann", "shop", 2 * H, "in"),
        ("bob", "cafe", 600, "in"),
        ("bob", "shop", 5 * H, "in"),  # past midnight in Hanoi
        ("cat", "bar", 9 * H, "out"),  # an exit without entry
        ("cat", "bar", 3 * H, "in"),
    ]
    for opts in [
        {},
        {"default_dwell": 0, "dedupe_within": None},
        {"max_stay": "1h", "split_at_midnight": "Asia/Ho_Chi_Minh"},
        {"venue_dwell": {"cafe": "5min"}, "bucket_width": "7min"},
    ]:
        check_same(table(rows), schema=SCHEMA, now=NOW, **opts)


def test_integer_text_and_mixed_ids():
    rows = [(1, 10, 0, "in"), (2, 10, 60, "in"), (1, 11, H, "in"), (10**12, 10, 90, "out")]
    ints = table(rows, int_ids=True)
    texts = table([(str(p), str(v), t, d) for p, v, t, d in rows])
    check_same(ints, schema=SCHEMA, now=NOW)
    sparse = table([(p * 7_919_003 + 84_000_000_000, v, t, d) for p, v, t, d in rows], int_ids=True)
    check_same(sparse, schema=SCHEMA, now=NOW)
    # integer ids first, then text (and the other way): every id becomes text
    index, _ = check_same([ints, texts], schema=SCHEMA, now=NOW)
    assert index.persons.type == pa.string()
    check_same([texts, ints], schema=SCHEMA, now=NOW)


def test_many_ids_grow_the_hash_table():
    rng = np.random.default_rng(1)
    n = 30_000
    raw = pa.table(
        {
            "uid": rng.integers(0, 2**62, 5_000)[rng.integers(0, 5_000, n)],
            "qr": rng.integers(-(2**40), 2**40, 300)[rng.integers(0, 300, n)],
            "ts": T0 + rng.integers(0, 14 * 24 * H, n),
            "io": rng.choice(["in", "out"], n),
        }
    )
    check_same(raw, schema=SCHEMA, now=NOW, batch_size=1000)


@pytest.mark.filterwarnings("ignore::tracegraph.DataWarning")  # reads that reject all rows
def test_empty_inputs_and_inputs_without_stays():
    empty = table([])
    index, report = check_same(empty, schema=SCHEMA, now=NOW)
    assert index.n_stays == 0 and report.scans.read == 0
    only_exits = table([("ann", "cafe", 0, "out"), ("bob", "cafe", 60, "out")])
    index, report = check_same(only_exits, schema=SCHEMA, now=NOW)
    assert index.n_stays == 0 and report.stays.exits_without_entry == 2
    rejected = table([(None, "cafe", 0, "in")])
    index, report = check_same(rejected, schema=SCHEMA, now=NOW, errors="quarantine")
    assert index.n_stays == 0 and report.scans.rejected == 1


def test_times_spanning_more_than_68_years_use_int64():
    rows = [("ann", "cafe", 0, "in"), ("bob", "cafe", -100 * 365 * 24 * H, "in")]
    index, _ = check_same(table(rows), schema=SCHEMA, now=NOW)
    assert index.start.dtype == np.int64


def test_long_max_stay_makes_int64_ends():
    rows = [("ann", "cafe", 0, "in"), ("bob", "cafe", -60 * 365 * 24 * H, "in")]
    check_same(table(rows), schema=SCHEMA, now=NOW, default_dwell="3000d", max_stay="3000d")


def test_scans_out_of_time_order_across_files(tmp_path):
    rng = np.random.default_rng(5)
    n = 5_000
    people = np.array([f"p{i}" for i in range(200)])
    raw = table(
        [
            (str(p), f"v{v}", int(t), d)
            for p, v, t, d in zip(
                people[rng.integers(0, 200, n)],
                rng.integers(0, 30, n),
                rng.integers(0, 3 * 24 * H, n) // 60 * 60,  # many ties
                rng.choice(["in", "out", "in"], n),
                strict=True,
            )
        ]
    )
    for k, part in enumerate([raw.slice(0, 2_000), raw.slice(2_000)]):
        (tmp_path / f"day={k}").mkdir()
        pq.write_table(part, tmp_path / f"day={k}" / "part-0.parquet", row_group_size=700)
    schema = ScanSchema(person="uid", venue="qr", time="ts", direction="io", source="{day}")
    check_same(tmp_path, schema=schema, now=NOW, batch_size=512)


def test_duplicates_across_inputs_count_against_the_dropped_row():
    row = [("ann", "cafe", 0, "in")]
    b = ScanSchema(person="uid", venue="qr", time="ts", direction="io", source="b")
    a = ScanSchema(person="uid", venue="qr", time="ts", direction="io", source="a")
    _, report = check_same([(table(row * 2), b), (table(row), a)], now=NOW)
    # the scan of source "a" is kept: both rows of the first input are duplicates
    assert [f.duplicates for f in report.scans.files] == [2, 0]


def test_aliases_and_pseudonyms():
    rows = [("app-1", "cafe", 0, "in"), ("card-1", "cafe", 30, "in"), ("bob", "cafe", 60, "in")]
    aliases = pa.table({"alias": ["card-1"], "person": ["app-1"]})
    index, report = check_same(table(rows), schema=SCHEMA, now=NOW, aliases=aliases)
    assert report.stays.repeats == 1
    key = "a long secret key!!"
    index, _ = check_same(table(rows), schema=SCHEMA, now=NOW, aliases=aliases, pseudonym_key=key)
    assert "bob" not in index.persons.to_pylist()
    assert tg.pseudonymize(["bob"], key)[0].as_py() in index.persons.to_pylist()


def test_errors_are_raised_as_by_the_classic_path():
    bad = table([("ann", "cafe", 0, "in"), ("bob", "cafe", 60, "sideways")])
    with pytest.raises(ScanRowError, match=r"row 1: rejected \(bad_direction\)"):
        index_from_scans(bad, schema=SCHEMA, now=NOW)
    raw = table([("ann", "cafe", 0, "in")])
    with pytest.raises(DurationError, match="`bucket_width`: expected a positive duration"):
        index_from_scans(raw, schema=SCHEMA, now=NOW, bucket_width=0)
    with pytest.raises(DurationError, match="`max_stay`: expected a positive duration"):
        index_from_scans(raw, schema=SCHEMA, now=NOW, max_stay=0)
    with pytest.raises(SchemaError, match="`errors`: expected 'raise' or 'quarantine'"):
        index_from_scans(raw, schema=SCHEMA, now=NOW, errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="column `default_dwell`"):
        index_from_scans(
            raw, schema=SCHEMA, now=NOW, venue_dwell=pa.table({"venue": ["cafe"], "x": [1]})
        )
    with pytest.raises(SchemaError, match="pseudonym_key"):
        index_from_scans(raw, schema=SCHEMA, now=NOW, pseudonym_key="short")


# --------------------------------------------------------------------------- properties

PEOPLE = ["ann", "bob", "cat", None, ""]
VENUES = ["cafe", "shop", "bar", None]
ROW = st.tuples(
    st.sampled_from(PEOPLE),
    st.sampled_from(VENUES),
    st.one_of(
        st.integers(0, 8 * H),
        st.sampled_from([0, 1, 60, 120, 121, 1800, 4 * H, 40 * 24 * H, None]),  # future, null
    ),
    st.sampled_from(["in", "out", "I", None, "??"]),
)
OPTIONS = st.fixed_dictionaries(
    {
        "default_dwell": st.sampled_from([0, 10 * MIN, H, 3 * H]),
        "venue_dwell": st.sampled_from([None, {"cafe": "5min"}]),
        "max_stay": st.sampled_from([MIN, H, 2 * H, 12 * H]),
        "dedupe_within": st.sampled_from([None, 0, 2 * MIN, 30 * MIN]),
        "split_at_midnight": st.sampled_from([None, "Asia/Ho_Chi_Minh"]),
        "bucket_width": st.sampled_from(["1h", "7min"]),
        "batch_size": st.integers(1, 7),
    }
)


@settings(deadline=None, max_examples=examples(1.0))
@given(
    st.lists(ROW, max_size=40),
    OPTIONS,
    st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=3),
    st.sampled_from(["text", "int", "mixed"]),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_same_index_as_the_classic_path(rows, opts, tags, ids, aliased, rnd):
    rnd.shuffle(rows)
    numbers = {name: k for k, name in enumerate(PEOPLE + VENUES) if name}
    parts = []
    int_parts = [ids == "int" or (ids == "mixed" and k % 2 == 0) for k in range(len(tags))]
    for k, (tag, as_int) in enumerate(zip(tags, int_parts, strict=True)):
        part = rows[k :: len(tags)]
        if as_int:  # empty ids can't be numbers: they become nulls (null_person)
            part = [(numbers.get(p), numbers.get(v), t, d) for p, v, t, d in part]
        elif ids == "mixed":  # the same ids as text: "1" and 1 are one person
            part = [(_text(numbers, p), _text(numbers, v), t, d) for p, v, t, d in part]
        schema = ScanSchema(person="uid", venue="qr", time="ts", direction="io", source=tag)
        parts.append((table(part, int_ids=as_int), schema))
    if opts["venue_dwell"] is not None and ids != "text":  # cast to text where need be
        opts = {**opts, "venue_dwell": {numbers["cafe"]: "5min"}}
    aliases = None
    if aliased:
        if ids == "int":
            aliases = pa.table({"alias": [numbers["bob"]], "person": [numbers["ann"]]})
        else:
            aliases = pa.table({"alias": ["bob", "2"], "person": ["ann", "1"]})
    check_same(parts, errors="quarantine", now=NOW, aliases=aliases, **opts)


def _text(numbers, name):
    return name if not name else str(numbers[name])


# --------------------------------------------------------------------------- kernels


@settings(deadline=None, max_examples=examples(0.5))
@given(st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(-5, 5), max_size=200))
def test_encode_int64_gives_first_seen_codes(values):
    values = np.array(values, dtype=np.int64)
    slots = np.full(1024, -1, dtype=np.int32)
    distinct = np.empty(values.shape[0], dtype=np.int64)
    out = np.empty(values.shape[0], dtype=np.int32)
    n = _kernels.encode_int64(values, slots, distinct, 0, out, _kernels.ENCODE_ALL)
    first_seen = list(dict.fromkeys(values.tolist()))
    assert distinct[:n].tolist() == first_seen
    assert out.tolist() == [first_seen.index(v) for v in values.tolist()]


@settings(deadline=None, max_examples=examples(0.5))
@given(st.lists(st.integers(0, 9), max_size=100), st.integers(0, 3))
def test_counting_sort_into_is_a_stable_argsort(keys, extra):
    keys = np.array(keys, dtype=np.int32)
    n_keys = (int(keys.max()) + 1 if keys.size else 0) + extra
    order = np.empty(keys.shape[0], dtype=np.int32)
    offsets = np.zeros(n_keys + 1, dtype=np.int64)
    _kernels.counting_sort_into(keys, order, offsets)
    np.testing.assert_array_equal(order, np.argsort(keys, kind="stable"))
    want_offsets = np.r_[0, np.cumsum(np.bincount(keys, minlength=n_keys))]
    np.testing.assert_array_equal(offsets, want_offsets)


@settings(deadline=None, max_examples=examples(0.5))
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 1), st.integers(0, 2))),
)
def test_sort_groups_by_time_is_a_stable_lexsort(rows):
    group = np.array([r[0] for r in rows], dtype=np.int32)
    time = np.array([r[1] for r in rows], dtype=np.int32)
    direction = np.array([r[2] for r in rows], dtype=np.int8)
    venue = np.array([r[3] for r in rows], dtype=np.int32)
    order = np.empty(group.shape[0], dtype=np.int32)
    offsets = np.zeros(5, dtype=np.int64)
    _kernels.counting_sort_into(group, order, offsets)
    _kernels.sort_groups_by_time(order, offsets, time, direction, venue)
    want = np.lexsort((np.arange(group.shape[0]), venue, direction, time, group))
    np.testing.assert_array_equal(order, want)


@settings(deadline=None, max_examples=examples(0.5))
@given(
    st.lists(st.integers(-(2**31), 2**31 - 1) | st.integers(0, 5), max_size=200),
    st.sampled_from([np.int32, np.int64]),
)
def test_radix_order_is_a_stable_argsort(keys, dtype):
    keys = np.array(keys, dtype=dtype)
    order = np.empty(keys.shape[0], dtype=np.int32)
    lo = int(keys.min()) if keys.size else 0
    _kernels.radix_order(keys, lo, order, np.empty(keys.shape[0], dtype=np.int32))
    np.testing.assert_array_equal(order, np.argsort(keys, kind="stable"))


def test_radix_order_of_wide_int64_keys():
    keys = np.array([2**61, -(2**61), 0, 2**61, 5], dtype=np.int64)
    order = np.empty(5, dtype=np.int32)
    _kernels.radix_order(keys, -(2**61), order, np.empty(5, dtype=np.int32))
    np.testing.assert_array_equal(order, np.argsort(keys, kind="stable"))


# --------------------------------------------------------------------------- real data


REAL = {
    "gowalla_nyc": "gowalla_nyc/gowalla_nyc.scans.parquet",
    "sp_hospital_lh10": "sociopatterns/sp_hospital_lh10.scans.parquet",
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_check_ins_give_the_same_index(name):
    configured = os.environ.get("TRACEGRAPH_SHARED_DATA")
    here = os.path.dirname(os.path.abspath(__file__))
    folder = configured or os.path.join(here, "..", "..", "shared", "data", "real")
    path = os.path.join(folder, REAL[name])
    if not os.path.isfile(path):
        pytest.skip(f"real data file not found: {path}")
    schema = ScanSchema(person="person_id", venue="venue_id", time="ts", source="checkin")
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    index, report = check_same(path, schema=schema, now=now, default_dwell="1h", batch_size=10_000)
    assert index.n_stays == report.stays.stays > 0


def test_stays_that_all_last_zero_seconds_warn_as_from_stays_does():
    # entries without exits and default_dwell=0: every stay is an instant, which
    # overlaps nothing; the lean path says so as the classic path does
    scans = pa.table(
        {
            "uid": ["SECRET_ann", "SECRET_bob"],
            "qr": ["cafe", "cafe"],
            "ts": pa.array([T0, T0 + 100], pa.timestamp("s", tz="UTC")),
            "io": ["in", "in"],
        }
    )
    with pytest.warns(tg.DataWarning, match="all 2 stays last zero seconds") as caught:
        index, _ = index_from_scans(scans, schema=SCHEMA, now=NOW, default_dwell=0)
    assert caught[0].filename == __file__  # the caller's line
    assert "default_dwell (0 here)" in str(caught[0].message)
    assert "SECRET" not in str(caught[0].message)
    with pytest.warns(tg.DataWarning, match="all 2 stays last zero seconds"):
        stays = scans_to_stays(read_scans(scans, schema=SCHEMA, now=NOW), default_dwell=0)
        classic = tg.VenueIndex.from_stays(stays.stays)
    assert_same_index(index, classic)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stays with some time: no warning
        index_from_scans(scans, schema=SCHEMA, now=NOW, default_dwell="30min")
