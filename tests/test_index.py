"""Stays in: accepted table types, time units and zones, ids, and the index's lookups."""

from __future__ import annotations

import datetime as dt
import warnings
import zoneinfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from strategies import assert_same_traces

import tracegraph as tg
from tracegraph import _kernels

TS = pa.timestamp("s", tz="UTC")


def stays_table(rows, ts=TS):
    person, venue, start, end = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.table(
        {
            "person": pa.array(person, pa.int64()),
            "venue": pa.array(venue, pa.int64()),
            "start": pa.array(start, pa.int64()).cast(ts),
            "end": pa.array(end, pa.int64()).cast(ts),
        }
    )


ROWS = [(1, 10, 0, 3600), (2, 10, 1800, 5400), (3, 20, 0, 600), (1, 20, 7200, 9000)]


def f1(index, cases):
    return dict(
        zip(
            *tg.trace(index, cases).contacts.select(["person", "tier"]).to_pydict().values(),
            strict=True,
        )
    )


# ----------------------------------------------------------------------------- input types


def test_pandas_and_polars_frames_give_the_same_index_as_arrow():
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    table = stays_table(ROWS)
    expected = f1(tg.VenueIndex.from_stays(table), [1])
    assert expected == {1: 0, 2: 1}
    assert f1(tg.VenueIndex.from_stays(table.to_pandas()), [1]) == expected
    assert f1(tg.VenueIndex.from_stays(pl.from_arrow(table)), [1]) == expected
    frame = pd.DataFrame(
        {
            "person": ["a", "b"],
            "venue": ["v", "v"],
            "start": pd.to_datetime(["2021-09-01 08:00", "2021-09-01 08:30"], utc=True),
            "end": pd.to_datetime(["2021-09-01 09:00", "2021-09-01 10:00"], utc=True),
        }
    )
    assert f1(tg.VenueIndex.from_stays(frame), ["a"]) == {"a": 0, "b": 1}


def test_text_ids_come_out_as_string_whatever_library_gave_them(tmp_path):
    # pandas and polars hand Arrow large_string (polars also string_view); the same
    # data must give the same tables out, not tables that differ in type only
    pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    table = stays_table(ROWS)
    for name in ("person", "venue"):
        names = pa.array([f"{name[0]}{i}" for i in table[name].to_pylist()])
        table = table.set_column(table.schema.get_field_index(name), name, names)
    polars_frame = pl.from_arrow(table)
    polars_frame.write_ipc(tmp_path / "view.arrow")  # (string_view columns)
    inputs = {
        "arrow": table,
        "large_string": table.cast(
            pa.schema(
                [
                    (f.name, pa.large_string() if f.name in ("person", "venue") else f.type)
                    for f in table.schema
                ]
            )
        ),
        "pandas": table.to_pandas(),
        "polars": polars_frame,
        "polars ipc file": tmp_path / "view.arrow",
    }
    expected = tg.trace(tg.VenueIndex.from_stays(table), ["p1"])
    assert expected.contacts["person"].type == pa.string()
    for name, data in inputs.items():
        index = tg.VenueIndex.from_stays(data)
        assert (index.persons.type, index.venues.type) == (pa.string(), pa.string()), name
        got = tg.trace(index, ["p1"])
        assert got.contacts.equals(expected.contacts), name
        assert got.edges.equals(expected.edges), name
        later = table.set_column(
            2, "start", pc.add(table["start"], pa.scalar(86_400, pa.duration("s")))
        )
        later = later.set_column(
            3, "end", pc.add(table["end"], pa.scalar(86_400, pa.duration("s")))
        )
        appended = index.append(later.to_pandas())
        assert appended.persons.type == pa.string(), name


def test_record_batch_is_accepted():
    batch = stays_table(ROWS).to_batches()[0]
    assert tg.VenueIndex.from_stays(batch).n_stays == len(ROWS)


def test_extra_columns_are_ignored():
    table = stays_table(ROWS).append_column("source", pa.array(["app"] * len(ROWS)))
    assert tg.VenueIndex.from_stays(table).n_stays == len(ROWS)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_any_time_unit_is_floored_to_whole_seconds(unit):
    per_s = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    ts = pa.timestamp(unit, tz="UTC")
    # stay 1 ends at 100.9 s, stay 2 starts at 100.2 s: both floor to 100 -> touching
    table = pa.table(
        {
            "person": [1, 2],
            "venue": [5, 5],
            "start": pa.array([0, int(100.2 * per_s) if per_s > 1 else 100], pa.int64()).cast(ts),
            "end": pa.array([int(100.9 * per_s) if per_s > 1 else 100, 200 * per_s]).cast(ts),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    assert index.start.tolist() == [0, 100]
    assert index.end.tolist() == [100, 200]
    assert f1(index, [1]) == {1: 0}  # touching after flooring: no contact


def test_negative_times_floor_towards_the_past():
    ts = pa.timestamp("ms", tz="UTC")
    table = pa.table(
        {
            "person": [1],
            "venue": [1],
            "start": pa.array([-1500], pa.int64()).cast(ts),
            "end": pa.array([-500], pa.int64()).cast(ts),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    assert index.start_seconds().tolist() == [-2]
    assert index.end_seconds().tolist() == [-1]


def test_zone_aware_times_are_instants_whatever_the_zone():
    hanoi = pa.timestamp("s", tz="Asia/Ho_Chi_Minh")
    utc = stays_table(ROWS)
    local = utc.set_column(2, "start", utc["start"].cast(hanoi)).set_column(
        3, "end", utc["end"].cast(hanoi)
    )
    a = tg.VenueIndex.from_stays(utc)
    b = tg.VenueIndex.from_stays(local)
    assert a.start.tolist() == b.start.tolist()


def test_naive_times_need_a_zone():
    sept_2021 = 1_630_454_400  # 2021-09-01T00:00:00Z (Hanoi was UTC+8 in 1970, UTC+7 now)
    rows = [(p, v, s + sept_2021, e + sept_2021) for p, v, s, e in ROWS]
    naive = stays_table(rows, ts=pa.timestamp("s"))
    with pytest.raises(tg.TimezoneError, match=r"naive .* pass tz='UTC'"):
        tg.VenueIndex.from_stays(naive)
    utc = tg.VenueIndex.from_stays(naive, tz="UTC")
    hanoi = tg.VenueIndex.from_stays(naive, tz="Asia/Ho_Chi_Minh")
    # the same wall-clock time in Hanoi (UTC+7) is 7 hours earlier as an instant
    assert (utc.start_seconds() - hanoi.start_seconds()).tolist() == [7 * 3600] * len(ROWS)


def test_unknown_zone_is_a_clear_error():
    naive = stays_table(ROWS, ts=pa.timestamp("s"))
    with pytest.raises(tg.TimezoneError, match="valid IANA zone"):
        tg.VenueIndex.from_stays(naive, tz="Mars/Olympus_Mons")


def test_string_dictionary_and_view_ids_are_decoded_back():
    table = pa.table(
        {
            "person": pa.array(["b", "a", "c"]).dictionary_encode(),
            "venue": pa.array(["x", "x", "y"], pa.string_view()),
            "start": pa.array([0, 10, 0], pa.int64()).cast(TS),
            "end": pa.array([100, 100, 100], pa.int64()).cast(TS),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    assert index.persons.to_pylist() == ["a", "b", "c"]
    result = tg.trace(index, ["b"])
    assert result.contacts["person"].to_pylist() == ["b", "a"]
    assert result.edges["venue"].to_pylist() == ["x"]


def test_codes_do_not_depend_on_row_order():
    table = stays_table(ROWS)
    shuffled = table.take(pa.array([3, 1, 0, 2]))
    a = tg.VenueIndex.from_stays(table)
    b = tg.VenueIndex.from_stays(shuffled)
    assert a.persons.equals(b.persons)
    assert a.venues.equals(b.venues)
    assert a.start.tolist() == b.start.tolist()
    assert a.person.tolist() == b.person.tolist()


def test_empty_table_builds_an_empty_index():
    index = tg.VenueIndex.from_stays(stays_table([]))
    assert (index.n_stays, index.n_persons, index.n_venues) == (0, 0, 0)
    assert "empty" in repr(index)
    with pytest.raises(tg.PersonNotFound):
        tg.trace(index, [1])
    kept = tg.trace(index, [1], unknown="keep")
    assert kept.contacts["person"].to_pylist() == [1]


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (lambda t: t.drop_columns(["venue"]), tg.SchemaError, r"column `venue` not found"),
        (
            lambda t: t.set_column(0, "person", pa.array([1.5, 2.0, 3.0, 1.0])),
            tg.SchemaError,
            r"`person`: expected integer or string ids, got double",
        ),
        (
            lambda t: t.set_column(0, "person", pa.array([1, None, 3, 1], pa.int64())),
            tg.SchemaError,
            r"`person`: expected no nulls, found 1",
        ),
        (
            lambda t: t.set_column(2, "start", pa.array([0, None, 0, 7200], pa.int64()).cast(TS)),
            tg.SchemaError,
            r"stays: column `start`: expected no nulls, found 1 \(first at row 1\); drop or",
        ),
        (
            lambda t: t.set_column(3, "end", pa.array(["a", "b", "c", "d"])),
            tg.SchemaError,
            r"`end`: expected a timestamp type, got string",
        ),
        (
            lambda t: t.set_column(3, "end", pa.array([3600, 5400, 600, 10], pa.int64()).cast(TS)),
            tg.SchemaError,
            r"expected end >= start, found 1 stays .*first at row 3",
        ),
    ],
)
def test_bad_stays_raise_typed_errors(mutate, error, match):
    with pytest.raises(error, match=match):
        tg.VenueIndex.from_stays(mutate(stays_table(ROWS)))


@pytest.mark.parametrize("source", ["table", "parquet"])
def test_stays_that_all_last_zero_seconds_warn(tmp_path, source):
    rows = [(1, 7, 3600, 3600), (2, 7, 3600, 3600)]  # check-in times in both columns
    data: object = stays_table(rows)
    if source == "parquet":
        pq.write_table(stays_table(rows), tmp_path / "s.parquet")
        data = tmp_path / "s.parquet"
    for pseudonymized in (False, True):
        with pytest.warns(tg.DataWarning, match="all 2 stays last zero seconds") as caught:
            index = tg.VenueIndex.from_stays(data, pseudonymized=pseudonymized)
        assert caught[0].filename == __file__  # the caller's line
    assert index.n_stays == 2 and tg.trace(index, [1]).tier_counts() == {0: 1, 1: 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one stay with some time: no warning
        tg.VenueIndex.from_stays(stays_table([*rows, (3, 7, 0, 1)]))


def test_schema_error_is_a_value_error():
    with pytest.raises(ValueError, match="not found"):
        tg.VenueIndex.from_stays(stays_table(ROWS).drop_columns(["person"]))


def test_not_a_table_is_rejected():
    with pytest.raises(tg.SchemaError, match=r"expected a pyarrow\.Table"):
        tg.VenueIndex.from_stays([(1, 2, 3, 4)])


@pytest.mark.parametrize("width", ["0s", "-1h", "1.5s", "soon"])
def test_bad_bucket_width(width):
    with pytest.raises(ValueError, match="bucket_width"):
        tg.VenueIndex.from_stays(stays_table(ROWS), bucket_width=width)


# ----------------------------------------------------------------------------- lookups


def test_stays_at_finds_long_and_short_stays_only_where_they_overlap():
    rows = [
        (1, 7, 0, 18 * 3600),  # an 18-hour shift
        (2, 7, 10 * 3600, 10 * 3600 + 120),  # a 2-minute visit
        (3, 7, 18 * 3600, 19 * 3600),  # arrives as the shift ends: touching
        (4, 8, 10 * 3600, 11 * 3600),  # elsewhere
    ]
    index = tg.VenueIndex.from_stays(stays_table(rows), bucket_width="15min")
    start = dt.datetime(1970, 1, 1, 10, 1, tzinfo=dt.UTC)
    end = dt.datetime(1970, 1, 1, 10, 3, tzinfo=dt.UTC)
    assert sorted(index.stays_at(7, start, end)["person"].to_pylist()) == [1, 2]
    late = index.stays_at(7, "1970-01-01T17:59:59Z", "1970-01-01T18:30:00Z")
    assert sorted(late["person"].to_pylist()) == [1, 3]
    assert index.stays_at(7, "1970-01-01T18:00:00Z", "1970-01-01T18:00:00Z").num_rows == 0
    assert index.stays_at(99, 0, 10**9).num_rows == 0
    # int seconds beyond any time (2**63: once a raw OverflowError) reach every stay
    assert sorted(index.stays_at(7, -(2**70), 2**63)["person"].to_pylist()) == [1, 2, 3]
    assert index.purge(before=2**64).n_stays == 0
    # naive times need their zone; the same instants read in it find the same stays
    naive = (dt.datetime(1970, 1, 1, 17, 1), dt.datetime(1970, 1, 1, 17, 3))  # 10:01 UTC
    with pytest.raises(tg.TimezoneError, match="`start`: expected a zone-aware time"):
        index.stays_at(7, *naive)
    utc64 = np.datetime64("1970-01-01T10:01"), np.datetime64("1970-01-01T10:03")
    assert sorted(index.stays_at(7, *utc64)["person"].to_pylist()) == [1, 2]  # numpy: UTC
    hanoi = index.stays_at(7, *naive, tz="Asia/Bangkok")  # UTC+7 (Hanoi was +8 in 1970)
    assert sorted(hanoi["person"].to_pylist()) == [1, 2]
    with pytest.raises(tg.ArgumentError, match="`end`: expected a time at or after `start`"):
        index.stays_at(7, end, start)


def test_stays_of_lists_a_persons_stays_in_time_order():
    index = tg.VenueIndex.from_stays(stays_table(ROWS))
    mine = index.stays_of(1)
    assert mine["venue"].to_pylist() == [10, 20]
    unknown = r"stays_of: the person id is not in the index.*int64"
    with pytest.raises(tg.PersonNotFound, match=unknown) as err:
        index.stays_of(12345)
    assert "12345" not in str(err.value)  # (ids are personal data)


def test_stays_are_grouped_by_venue_and_duration_class_in_start_order():
    rows = [
        (1, 0, 0, 10),  # 10 s: class 0 (at most 10 s)
        (2, 0, 5, 35),  # 30 s: class 2 (at most 40 s)
        (3, 0, 12, 12),  # zero length: class 0
        (4, 0, 21, 22),  # class 0
        (6, 0, 3, 20),  # 17 s: class 1 (at most 20 s)
        (5, 1, 100, 101),
    ]
    index = tg.VenueIndex.from_stays(stays_table(rows), bucket_width=10)
    assert index.n_classes == 3
    persons = index.persons.to_pylist()
    layout = {}
    for v in range(index.n_venues):
        for c in range(index.n_classes):
            lo, hi = index.class_offsets[v * index.n_classes + c : v * index.n_classes + c + 2]
            if hi > lo:
                layout[(v, c)] = [persons[index.person[j]] for j in range(lo, hi)]
    assert layout == {(0, 0): [1, 3, 4], (0, 1): [6], (0, 2): [2], (1, 0): [5]}
    # each class is sorted by start; times count from the origin (the earliest start)
    assert index.origin == 0
    assert index.start.tolist() == [0, 12, 21, 3, 5, 100]
    assert index.start.dtype == np.int32
    assert index.venue_offsets.tolist() == [0, 5, 6]
    assert index.venue_of().tolist() == [0, 0, 0, 0, 0, 1]
    assert index.venue_of(np.array([5, 0])).tolist() == [1, 0]


def test_times_beyond_68_years_are_kept_as_int64():
    rows = [(1, 0, 0, 10), (2, 0, 5, 2**31 + 5)]
    index = tg.VenueIndex.from_stays(stays_table(rows))
    assert index.start.dtype == np.int64
    assert index.end_seconds().max() == 2**31 + 5
    assert tg.trace(index, [1]).contacts["person"].to_pylist() == [1, 2]


def test_counting_sort_is_stable():
    keys = np.array([2, 0, 2, 1, 0], dtype=np.int32)
    order = np.empty(5, dtype=np.int32)
    offsets = np.zeros(4, dtype=np.int64)
    _kernels.counting_sort_into(keys, order, offsets)
    assert order.tolist() == [1, 4, 3, 0, 2]
    assert offsets.tolist() == [0, 2, 3, 5]


def test_unsorted_input_gives_the_same_index_as_sorted_input():
    rng = np.random.default_rng(0)
    n = 500
    start = rng.integers(0, 10_000, n)
    table = pa.table(
        {
            "person": rng.integers(0, 50, n),
            "venue": rng.integers(0, 5, n),
            "start": pa.array(start).cast(TS),
            "end": pa.array(start + rng.integers(0, 3000, n)).cast(TS),
        }
    )
    by_time = table.take(pa.array(np.argsort(start, kind="stable")))
    a = tg.VenueIndex.from_stays(table)
    b = tg.VenueIndex.from_stays(by_time)
    # stays with equal (venue, class, start) may come in either order; else all is equal
    for name in ("start", "venue_offsets", "class_offsets"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist(), name
    assert a.origin == b.origin and a.n_classes == b.n_classes
    assert sorted(zip(a.venue_of(), a.start, a.end, a.person, strict=True)) == sorted(
        zip(b.venue_of(), b.start, b.end, b.person, strict=True)
    )


def test_repr_and_sizes():
    index = tg.VenueIndex.from_stays(stays_table(ROWS))
    assert repr(index) == (
        "VenueIndex(4 stays, 3 persons, 2 venues, 1970-01-01 00:00Z..1970-01-01 02:30Z, "
        f"bucket=1h, {index.nbytes} B)"
    )
    assert index.nbytes > 0
    page = index._repr_html_()
    assert "<table" in page
    assert "1970-01-01 00:00Z..1970-01-01 02:30Z" in page


def test_html_repr_that_fails_shows_the_one_line_repr(monkeypatch):
    # the fallback was "<tracegraph.index.VenueIndex object at 0x...>"; so was Trace's
    from tracegraph import _html

    index = tg.VenueIndex.from_stays(stays_table(ROWS))
    result = tg.trace(index, [index.persons[0].as_py()])

    def broken(*args, **kwargs):
        raise RuntimeError("no HTML today")

    monkeypatch.setattr(_html, "definition_list", broken)
    assert index._repr_html_() == f"<pre>{_html.escape(repr(index))}</pre>"
    assert result._repr_html_() == f"<pre>{_html.escape(repr(result))}</pre>"
    assert "object at 0x" not in index._repr_html_() + result._repr_html_()


@pytest.mark.parametrize("capacity", [1, 2, 3, 7])
def test_query_kernel_resumes_where_its_buffers_filled_up(capacity):
    """Small buffers: the kernel stops between queries and the caller resumes there."""
    rng = np.random.default_rng(capacity)
    n = 300
    start = rng.integers(0, 20_000, n)
    table = pa.table(
        {
            "person": rng.integers(0, 40, n),
            "venue": rng.integers(0, 4, n),
            "start": pa.array(start).cast(TS),
            "end": pa.array(start + rng.integers(0, 5_000, n)).cast(TS),
        }
    )
    index = tg.VenueIndex.from_stays(table, bucket_width="10min")
    q = rng.integers(0, n, 50)
    args = (
        index.venue_of(q),
        index.start_seconds(q),
        index.end_seconds(q),
        index.person[q],
        0,
        np.zeros(index.n_persons, dtype=np.bool_),
        index.start,
        index.end,
        index.person,
        index.class_offsets,
        index.n_classes,
        index.origin,
        index.bucket_width,
    )
    collected = []
    next_query = 0
    size = capacity
    while next_query < q.shape[0]:
        out = (np.empty(size, np.int32), np.empty(size, np.int32))
        out += (np.empty(size, np.int64), np.empty(size, np.int64))
        no, no32 = np.empty(0, np.int64), np.empty(0, np.int32)
        written, resume = _kernels.overlapping_stays(
            *args, next_query, _kernels.EMIT_PAIRS, _kernels.RULE_HALF_OPEN, no, no32, no, *out
        )
        collected.extend(zip(*(a[:written].tolist() for a in out), strict=True))
        size = size * 2 if resume == next_query else size  # one query did not fit at all
        next_query = resume
    expected = list(
        zip(
            *(a.tolist() for a in index.query(*args[:4], min_overlap=0, excluded=args[5])),
            strict=True,
        )
    )
    assert collected == expected
    assert len(expected) > 20


def test_query_arguments_of_the_wrong_kind_are_argument_errors():
    # (lists: AttributeError; 2-d arrays or a str min_overlap: a numba TypingError; floats
    # and a negative min_overlap were taken, each new dtype compiling the kernel again)
    index = tg.VenueIndex.from_stays(stays_table([(1, 7, 0, 3600), (2, 7, 1800, 5400)]))
    one = np.array([0], np.int64)
    free = np.zeros(index.n_persons, dtype=bool)
    good = (np.array([0], np.int32), one, one + 3600, np.array([-1], np.int32))
    bad_args = {
        "venue": [[0], one, one + 10, good[3]],
        "start": [good[0], np.array([0.0]), one + 10, good[3]],
        "end": [good[0], one, (one + 10).reshape(1, 1), good[3]],
        "on_behalf_of": [good[0], one, one + 10, np.array([-1.0])],
    }
    for name, args in bad_args.items():
        with pytest.raises(tg.ArgumentError, match=rf"^`{name}`: expected an integer 1-d numpy"):
            index.query(*args, min_overlap=0, excluded=free)
    with pytest.raises(tg.ArgumentError, match=r"^`excluded`: expected a bool 1-d numpy array"):
        index.query(*good, min_overlap=0, excluded=[False, False])
    for overlap, message in (
        ("15min", "an int of seconds"),
        (-1, "seconds >= 0"),
        (True, "an int"),
    ):
        with pytest.raises(tg.ArgumentError, match=rf"^`min_overlap`: expected {message}"):
            index.query(*good, min_overlap=overlap, excluded=free)
    earliest = np.full(index.n_persons, 2**62)
    pairs = np.zeros(index.n_venues, dtype=np.int64)
    with pytest.raises(tg.ArgumentError, match=r"^`earliest`: expected a numpy array of int64"):
        index.earliest_overlaps(
            *good, min_overlap=0, excluded=free, earliest=earliest.astype(float), venue_pairs=pairs
        )
    frozen = earliest.copy()
    frozen.flags.writeable = False  # (numba's "Cannot modify readonly array" before)
    with pytest.raises(tg.ArgumentError, match=r"^`earliest`: expected a writeable array"):
        index.earliest_overlaps(
            *good, min_overlap=0, excluded=free, earliest=frozen, venue_pairs=pairs
        )
    with pytest.raises(tg.ArgumentError, match=r"^`min_overlap`: expected seconds >= 0 \(and"):
        index.query(*good, min_overlap=2**63, excluded=free)  # (an OverflowError before)
    # integer codes and times of other widths are taken as the kernel's types
    _, stay, _, _ = index.query(*(a.astype(np.int64) for a in good), min_overlap=0, excluded=free)
    assert sorted(stay.tolist()) == [0, 1]
    assert (
        index.earliest_overlaps(
            *good, min_overlap=np.int64(60), excluded=free, earliest=earliest, venue_pairs=pairs
        )
        == 2
    )


@pytest.mark.parametrize(
    "ids",
    [
        [5, 3, 5, 9, 3, 4],  # dense: bitmap path
        [84_912_345_678, -7, 84_912_345_678, 12, 0],  # sparse (phone-number-like): hashing
        [-3, -1, -3, -2],  # dense and negative
    ],
)
def test_integer_ids_encode_to_sorted_dictionary_codes(ids):
    from tracegraph.ingest import encode_ids

    column = pa.chunked_array([ids[:2], ids[2:]], type=pa.int64())
    dictionary, codes = encode_ids(column)
    assert dictionary.to_pylist() == sorted(set(ids))
    assert dictionary.type == pa.int64()
    assert codes.dtype == np.int32
    assert [dictionary[c].as_py() for c in codes] == ids


def test_person_codes_find_unicode_and_missing_ids():
    names = ["Đình", "an", "Ánh", "zoë", "Zed", "an"]
    table = pa.table(
        {
            "person": names,
            "venue": ["v"] * len(names),
            "start": pa.array(range(len(names)), pa.int64()).cast(TS),
            "end": pa.array([10] * len(names), pa.int64()).cast(TS),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    codes = index.person_codes(pa.array(["zoë", "nobody", "Đình", "an", "Zed", "Ánh", "ZZZ"]))
    found = [None if c < 0 else index.persons[int(c)].as_py() for c in codes]
    assert found == ["zoë", None, "Đình", "an", "Zed", "Ánh", None]


@pytest.mark.parametrize("ids", ["int", "str"])
def test_append_a_day_equals_building_from_everything(ids):
    city = tg.synth.generate_city(400, days=3, seed=11, ids=ids)
    stays = city.stays
    day_one = stays.slice(0, stays.num_rows // 3)
    rest = stays.slice(stays.num_rows // 3)
    appended = tg.VenueIndex.from_stays(day_one, bucket_width="30min").append(rest)
    built = tg.VenueIndex.from_stays(stays, bucket_width="30min")
    assert appended.persons.equals(built.persons)
    assert appended.venues.equals(built.venues)
    assert appended.bucket_width == built.bucket_width
    a = sorted(
        zip(
            appended.venue_of(),
            appended.start_seconds(),
            appended.end_seconds(),
            appended.person,
            strict=True,
        )
    )
    b = sorted(
        zip(built.venue_of(), built.start_seconds(), built.end_seconds(), built.person, strict=True)
    )
    assert a == b
    assert_same_traces(appended, built, stays["person"][:5].to_pylist())


def test_append_takes_files_and_stays_after_a_purge_of_everything(tmp_path):
    city = tg.synth.generate_city(300, days=2, seed=13)
    stays = city.stays
    half = stays.num_rows // 2
    pq.write_table(stays.slice(half), tmp_path / "day2.parquet")
    built = tg.VenueIndex.from_stays(stays)
    first = tg.VenueIndex.from_stays(stays.slice(0, half))
    for source in (tmp_path / "day2.parquet", str(tmp_path), [tmp_path / "day2.parquet"]):
        appended = first.append(source)  # a file, a folder, a list: as from_stays takes
        assert appended.persons.equals(built.persons)
        assert_same_traces(appended, built, stays["person"][:5].to_pylist())
    # an index purged of every stay takes new stays of another id width, or of text
    # (once a raw ArrowTypeError: empty id arrays of another type)
    empty = first.purge(before=int(built.end_seconds().max()) + 1)
    assert empty.n_stays == 0
    for cast in (pa.int32(), pa.string()):
        new = stays.slice(half).set_column(0, "person", stays["person"].slice(half).cast(cast))
        again = empty.append(new)
        assert again.n_stays == stays.num_rows - half and again.persons.type == cast
    int32 = stays.set_column(0, "person", stays["person"].cast(pa.int32()))
    assert tg.VenueIndex.from_stays(int32).purge(before=2**40).append(stays).n_stays == len(stays)
    assert first.append(stays.slice(0, 0)).n_stays == half  # nothing new
    # a file of instants among stays with time: the index's stays do not all last 0 s
    instant = stays.slice(0, 1).set_column(3, "end", stays["start"].slice(0, 1))
    pq.write_table(instant, tmp_path / "instant.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert first.append(tmp_path / "instant.parquet").n_stays == half + 1
    with pytest.raises(tg.TimezoneError):  # a typo is an error, as for from_stays
        first.append(stays.slice(half), tz="Asia/Hanoi_typo")


def test_append_refuses_ids_of_another_kind():
    index = tg.VenueIndex.from_stays(stays_table(ROWS))
    other = pa.table(
        {
            "person": ["ann"],
            "venue": [10],
            "start": pa.array([0], pa.int64()).cast(TS),
            "end": pa.array([60], pa.int64()).cast(TS),
        }
    )
    with pytest.raises(tg.SchemaError, match="`person`: expected ids of type int64"):
        index.append(other)


def test_purge_equals_building_from_the_kept_stays():
    city = tg.synth.generate_city(400, days=4, seed=12)
    stays = city.stays
    index = tg.VenueIndex.from_stays(stays)
    cutoff = int(np.median(index.end_seconds()))
    purged = index.purge(before=cutoff)
    kept = stays.filter(pa.compute.greater(stays["end"], pa.scalar(cutoff, TS)))
    built = tg.VenueIndex.from_stays(kept)
    assert purged.n_stays == kept.num_rows < index.n_stays
    assert purged.persons.equals(built.persons)  # people with no stay left are gone
    assert purged.venues.equals(built.venues)
    assert_same_traces(purged, built, kept["person"][:5].to_pylist())
    assert index.n_stays == stays.num_rows  # the original index is unchanged
    # a naive cut-off needs its zone (read as UTC, it would delete 7 hours of Hanoi's data)
    local = dt.datetime.fromtimestamp(cutoff, zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh"))
    with pytest.raises(tg.TimezoneError, match="`before`: expected a zone-aware time"):
        index.purge(before=local.replace(tzinfo=None))
    again = index.purge(before=local.replace(tzinfo=None), tz="Asia/Ho_Chi_Minh")
    assert again.n_stays == purged.n_stays
