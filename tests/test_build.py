"""Building an index: from files and readers batch by batch, split over threads.

``VenueIndex.from_stays`` reads a *source* (Parquet / Arrow IPC files, folders,
readers, datasets) batch by batch into codes, and builds every index by a counting
scatter into (venue, duration class) groups that are then put in start order. The
index must not depend on how the stays arrive: these tests build the same stays as a
table and as sources cut into batches and files in every way, in any row order, and
compare every array of the two indexes. The table path itself is checked against the
oracle by the property tests of tracing.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import cities, examples, random_stays, stays_table

import tracegraph as tg
from tracegraph import _kernels, _parallel, _read_stays
from tracegraph.ingest import _IdCodes

ARRAYS = (
    "start",
    "end",
    "person",
    "venue_offsets",
    "class_offsets",
    "person_offsets",
    "person_stays",
)


def assert_same_index(got: tg.VenueIndex, want: tg.VenueIndex) -> None:
    assert got.persons.equals(want.persons)
    assert got.venues.equals(want.venues)
    assert (got.origin, got.n_classes, got.bucket_width) == (
        want.origin,
        want.n_classes,
        want.bucket_width,
    )
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
        assert getattr(got, name).dtype == getattr(want, name).dtype, name


def write_parts(table: pa.Table, folder: Path, cuts: list[int], fmt: str) -> list[Path]:
    """``table`` cut at ``cuts`` into files of ``fmt`` (several batches or row groups each)."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [0, *sorted({min(max(c, 0), table.num_rows) for c in cuts}), table.num_rows]
    paths = []
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        part = table.slice(a, b - a)
        if fmt == "parquet":
            path = folder / f"part-{k:03d}.parquet"
            pq.write_table(part, path, row_group_size=max(1, part.num_rows // 3 or 1))
        elif fmt == "ipc_file":
            path = folder / f"part-{k:03d}.arrow"
            with ipc.new_file(path, part.schema) as writer:
                for batch in part.to_batches(max_chunksize=max(1, part.num_rows // 2 or 1)):
                    writer.write_batch(batch)
        else:
            path = folder / f"part-{k:03d}.arrows"
            with ipc.new_stream(path, part.schema) as writer:
                writer.write_table(part, max_chunksize=7)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- sources


@settings(
    max_examples=examples(0.3),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    city=cities(),
    data=st.data(),
    fmt=st.sampled_from(["parquet", "ipc_file", "ipc_stream"]),
    ids=st.sampled_from(["int", "str", "big"]),
)
def test_sources_build_the_index_of_the_table(tmp_path_factory, city, data, fmt, ids):
    table = stays_table(city.stays, ids=ids)
    order = data.draw(st.permutations(range(table.num_rows)))
    table = table.take(pa.array(order, pa.int64()))  # any row order
    cuts = data.draw(st.lists(st.integers(0, table.num_rows), max_size=3))
    folder = tmp_path_factory.mktemp("stays")
    paths = write_parts(table, folder, cuts, fmt)
    want = tg.VenueIndex.from_stays(table)
    assert_same_index(tg.VenueIndex.from_stays(folder), want)
    assert_same_index(tg.VenueIndex.from_stays([str(p) for p in paths]), want)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=5))
    assert_same_index(tg.VenueIndex.from_stays(reader), want)


def test_text_ids_written_as_a_dictionary_are_read_as_one(tmp_path, monkeypatch):
    # venues (few, repeated) are written all as dictionary indices: read as such, each
    # distinct venue encoded once; persons (many) overflow Parquet's dictionary page
    # and are read as strings. Either way the index of the table
    rng = np.random.default_rng(3)
    n = 60_000
    start = np.sort(rng.integers(0, 14 * 86_400, n))
    table = pa.table(
        {
            "person": pa.array([f"person-{i:06d}" for i in rng.permutation(n)]),
            "venue": pa.array([f"v{i}" for i in rng.integers(0, 40, n)]),
            "start": pa.array(start, pa.timestamp("s", tz="UTC")),
            "end": pa.array(start + rng.integers(0, 7_200, n), pa.timestamp("s", tz="UTC")),
        }
    )
    pq.write_table(table, tmp_path / "stays.parquet", row_group_size=20_000)
    chosen = []
    real = _read_stays._dictionary_columns
    monkeypatch.setattr(
        _read_stays, "_dictionary_columns", lambda f: chosen.append(real(f)) or chosen[-1]
    )
    assert_same_index(tg.VenueIndex.from_stays(tmp_path), tg.VenueIndex.from_stays(table))
    assert chosen == [["venue"]]
    # the leaf columns are found by name behind a nested column; large_string ids are
    # not read as a dictionary (and, as all text ids, kept as string by the index)
    nested = table.add_column(0, "extra", pa.array([{"a": 1, "b": 2}] * n))
    pq.write_table(nested, tmp_path / "stays.parquet", row_group_size=20_000)
    chosen.clear()
    assert_same_index(tg.VenueIndex.from_stays(tmp_path), tg.VenueIndex.from_stays(table))
    assert chosen == [["venue"]]
    wide = table.cast(
        pa.schema([pa.field(f.name, pa.large_string()) if f.name == "venue" else f
                   for f in table.schema])
    )  # fmt: skip
    pq.write_table(wide, tmp_path / "stays.parquet", row_group_size=20_000)
    chosen.clear()
    got = tg.VenueIndex.from_stays(tmp_path)
    assert chosen == [[]] and got.venues.type == pa.string()
    assert_same_index(got, tg.VenueIndex.from_stays(wide))


# (repeated stays here on purpose or by chance: their DataWarning is not the point)
@pytest.mark.filterwarnings("ignore:.*stays repeat another stay:tracegraph.DataWarning")
def test_dictionary_ids_from_a_reader_skip_unused_values_and_check_the_used(tmp_path):
    # a dictionary's values that no row uses are nobody's ids; duplicates are one id;
    # a null row or an empty id is refused by row, as for plain ids
    ts = pa.timestamp("s", tz="UTC")

    def reader(person_indices, person_values, venue):
        person = pa.DictionaryArray.from_arrays(pa.array(person_indices, pa.int32()),
                                                pa.array(person_values))  # fmt: skip
        n = len(person_indices)
        batch = pa.record_batch(
            {"person": person, "venue": venue,
             "start": pa.array(range(0, 60 * n, 60), ts),
             "end": pa.array(range(600, 60 * n + 600, 60), ts)}
        )  # fmt: skip
        return pa.RecordBatchReader.from_batches(batch.schema, [batch, batch.slice(1)])

    venues = pa.DictionaryArray.from_arrays(pa.array([0, 2, 0]), pa.array(["x", "", "y", "x"]))
    got = tg.VenueIndex.from_stays(reader([3, 0, 2], ["ann", "unused", "bob", "ann"], venues))
    assert got.persons.to_pylist() == ["ann", "bob"]
    assert got.venues.to_pylist() == ["x", "y"]
    plain = pa.table(
        {
            "person": ["ann", "ann", "bob", "ann", "bob"],
            "venue": ["x", "y", "x", "y", "x"],
            "start": pa.array([0, 60, 120, 60, 120], ts),
            "end": pa.array([600, 660, 720, 660, 720], ts),
        }
    )
    assert_same_index(got, tg.VenueIndex.from_stays(plain))
    with pytest.raises(tg.SchemaError, match="null ids, found one at row 1"):
        tg.VenueIndex.from_stays(reader([0, None, 1], ["ann", "bob"], venues))
    used_empty = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0]), pa.array(["x", ""]))
    with pytest.raises(tg.SchemaError, match="expected non-empty ids, found 1 empty"):
        tg.VenueIndex.from_stays(reader([0, 1, 0], ["ann", "bob"], used_empty))
    views = pa.DictionaryArray.from_arrays(pa.array([1, 0]), pa.array(["b", "a"], pa.string_view()))
    got = tg.VenueIndex.from_stays(reader([0, 1], ["ann", "bob"], views))  # (Arrow cannot decode)
    assert got.venues.to_pylist() == ["a", "b"] and got.venues.type == pa.string()
    numbers = pa.DictionaryArray.from_arrays(pa.array([1, 0, 1]), pa.array([10, 20]))
    assert tg.VenueIndex.from_stays(reader([0, 1, 0], ["a", "b"], numbers)).venues.to_pylist() == [
        10,
        20,
    ]


def test_a_dataset_and_a_single_file(tmp_path):
    table = stays_table([(1, 10, 0, 3600), (2, 10, 1800, 5400), (3, 20, 0, 600)])
    pq.write_table(table, tmp_path / "stays.parquet")
    want = tg.VenueIndex.from_stays(table)
    assert_same_index(tg.VenueIndex.from_stays(tmp_path / "stays.parquet"), want)
    assert_same_index(tg.VenueIndex.from_stays(ds.dataset(tmp_path / "stays.parquet")), want)


def test_a_parquet_dataset_object_is_not_a_source(tmp_path):
    pq.write_table(stays_table([(1, 10, 0, 3600)]), tmp_path / "s.parquet")
    with pytest.raises(tg.SchemaError, match=r"expected a pyarrow\.Table"):
        tg.VenueIndex.from_stays(pq.ParquetDataset(tmp_path / "s.parquet"))


def test_other_columns_are_ignored_and_int32_ids_keep_their_type(tmp_path):
    table = stays_table([(1, 10, 0, 3600), (2, 10, 1800, 5400)])
    table = table.set_column(0, "person", table["person"].cast(pa.int32()))
    table = table.append_column("note", pa.array(["a", "b"]))
    pq.write_table(table, tmp_path / "s.parquet")
    index = tg.VenueIndex.from_stays(tmp_path / "s.parquet")
    assert index.persons.type == pa.int32()
    assert_same_index(index, tg.VenueIndex.from_stays(table))


def test_times_beyond_int32_of_the_first_batch_widen_the_index(tmp_path):
    # the first batch alone fits int32 offsets; the second is 100 years later
    early = stays_table([(1, 10, 0, 3600), (2, 10, 1800, 5400)])
    late = stays_table([(3, 10, 100 * 365 * 86_400, 100 * 365 * 86_400 + 60)])
    table = pa.concat_tables([early, late])
    write_parts(table, tmp_path, [2], "parquet")
    index = tg.VenueIndex.from_stays(tmp_path)
    assert index.start.dtype == np.int64
    assert_same_index(index, tg.VenueIndex.from_stays(table))


@settings(max_examples=examples(0.5))
@given(
    per_s=st.sampled_from([1, 1_000, 1_000_000, 1_000_000_000]),
    wide=st.booleans(),
    data=st.data(),
)
def test_stay_seconds_floors_offsets_and_checks_in_one_pass(per_s, wide, data):
    # offsets an int32 output cannot hold are written as 0 (the caller sees from the
    # returned range that it must widen, and writes again), compiled or as plain Python
    near = data.draw(st.booleans())  # int32 offsets that mostly fit, or far apart
    t, d = (2**29 * per_s, 2**29 * per_s) if near else (10**15, 10**12)
    raw = data.draw(st.lists(st.tuples(st.integers(-t, t), st.integers(0, d)), max_size=40))
    start = np.array([a for a, _ in raw], dtype=np.int64)
    # a few stays end before they start
    end = np.array([a + (d if d % 7 else -d - 1) for a, d in raw], dtype=np.int64)
    origin = int(start[0]) // per_s if raw else 0
    dtype = np.int64 if wide else np.int32
    out_s, out_e = np.empty(len(raw), dtype), np.empty(len(raw), dtype)
    found = _kernels.stay_seconds(start, end, per_s, origin, out_s, out_e)
    s, e = start // per_s, end // per_s  # numpy floors too
    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    want = (
        int(s.min()) if raw else big,
        int(s.max()) if raw else small,
        int(e.min()) if raw else big,
        int(e.max()) if raw else small,
        # compared before flooring: also within one second
        int(np.flatnonzero(end < start)[0]) if (end < start).any() else -1,
        max(0, int((e - s).max())) if raw else 0,  # the longest stay (floored times)
    )
    assert tuple(int(x) for x in found) == want
    info = np.iinfo(dtype)
    for got, offsets in ((out_s, s - origin), (out_e, e - origin)):
        fits = (offsets >= info.min) & (offsets <= info.max)
        np.testing.assert_array_equal(got, np.where(fits, offsets, 0).astype(dtype))


@pytest.mark.parametrize("per_s", [1, 1_000])
def test_stay_seconds_int32_boundaries(per_s):
    # offsets of exactly -2**31 and 2**31 - 1 fit an int32 output; one beyond does not
    # (written as 0: the caller widens from the returned range and writes again)
    origin = 10**9
    seconds = np.array([origin, origin - 2**31, origin + 2**31 - 1, origin - 2**31 - 1,
                        origin + 2**31], dtype=np.int64)  # fmt: skip
    raw = seconds * per_s
    out_s, out_e = np.empty(5, np.int32), np.empty(5, np.int32)
    found = _kernels.stay_seconds(raw, raw, per_s, origin, out_s, out_e)
    assert [int(x) for x in found] == [origin - 2**31 - 1, origin + 2**31] * 2 + [-1, 0]
    expected = [0, -(2**31), 2**31 - 1, 0, 0]
    assert out_s.tolist() == out_e.tolist() == expected


def test_start_and_end_in_different_units_and_the_first_stay_not_the_earliest(tmp_path):
    rows = [(1, 10, 7200, 9000), (2, 10, 0, 3600), (3, 11, 1800, 1800)]
    table = stays_table(rows)
    mixed = table.set_column(
        2, "start", table["start"].cast(pa.timestamp("ms", tz="UTC"))
    ).set_column(3, "end", table["end"].cast(pa.timestamp("ns", tz="UTC")))
    write_parts(mixed, tmp_path, [1], "parquet")
    assert_same_index(tg.VenueIndex.from_stays(tmp_path), tg.VenueIndex.from_stays(table))


def test_times_beyond_year_9999_are_named_by_row(tmp_path):
    year = 365 * 86_400
    rows = [(1, 10, 0, 3600), (2, 10, 0, 3600), (3, 10, 0, 8100 * year)]
    write_parts(stays_table(rows), tmp_path, [1], "parquet")
    with pytest.raises(tg.SchemaError, match=r"column `end`: expected times between.*row 2"):
        tg.VenueIndex.from_stays(tmp_path)


def test_naive_times_need_a_zone(tmp_path):
    t0 = 1_630_886_400  # 2021-09-06 00:00 (naive: local wall-clock time)
    table = stays_table([(1, 10, t0, t0 + 3600), (2, 10, t0 + 1800, t0 + 5400)], tz=None)
    pq.write_table(table, tmp_path / "s.parquet")
    with pytest.raises(tg.TimezoneError, match="tz='UTC'"):
        tg.VenueIndex.from_stays(tmp_path / "s.parquet")
    got = tg.VenueIndex.from_stays(tmp_path / "s.parquet", tz="Asia/Ho_Chi_Minh")
    assert_same_index(got, tg.VenueIndex.from_stays(table, tz="Asia/Ho_Chi_Minh"))
    assert got.origin == t0 - 7 * 3600  # local midnight is 17:00 the day before in UTC


@pytest.mark.parametrize("ids", ["int", "str"])
def test_an_empty_source_builds_an_empty_index_with_the_files_id_types(tmp_path, ids):
    table = stays_table([], ids=ids)
    pq.write_table(table, tmp_path / "s.parquet")
    index = tg.VenueIndex.from_stays(tmp_path / "s.parquet")
    assert (index.n_stays, index.n_persons, index.n_venues) == (0, 0, 0)
    assert_same_index(index, tg.VenueIndex.from_stays(table))
    case = "ann" if ids == "str" else 1
    with pytest.raises(tg.PersonNotFound):
        tg.trace(index, [case])


def test_files_with_different_integer_widths_give_int64_ids(tmp_path):
    a = stays_table([(1, 10, 0, 3600)])
    a = a.set_column(0, "person", a["person"].cast(pa.int32()))
    pq.write_table(a, tmp_path / "a.parquet")
    pq.write_table(stays_table([(2**40, 10, 1800, 5400)]), tmp_path / "b.parquet")
    index = tg.VenueIndex.from_stays(tmp_path)
    assert index.persons.type == pa.int64()
    assert index.persons.to_pylist() == [1, 2**40]


@pytest.mark.parametrize(
    "ids",
    [
        [1, 2**63 + 5, 2**64 - 1, 2**63 - 1],  # both halves: hashed
        [2**63 + k for k in (3, 0, 2, 1)],  # dense, all from 2**63: a direct table
        [2**64 - 1, 0, 2**64 - 2, 1],  # dense as int64 codes (-1, 0, -2, 1)
        [1, 2**62, 3, 2],
    ],
    ids=["both halves", "dense from 2**63", "dense around 2**64", "below 2**63"],
)
def test_uint64_ids_from_files_are_read_whole_as_from_a_table(tmp_path, ids):
    # 64-bit hashes as ids: half of them are 2**63 or more (once refused from files)
    table = stays_table([(k, 10 + k % 2, 600 * k, 600 * k + 3600) for k in range(4)])
    table = table.set_column(0, "person", pa.array(ids, pa.uint64()))
    venues = [ids[k % 2] for k in range(4)]  # the venues' ids from the same range
    table = table.set_column(1, "venue", pa.array(venues, pa.uint64()))
    pq.write_table(table.slice(0, 2), tmp_path / "a.parquet")
    pq.write_table(table.slice(2), tmp_path / "b.parquet")
    from_files = tg.VenueIndex.from_stays(tmp_path)
    from_table = tg.VenueIndex.from_stays(table)
    assert from_files.persons.type == pa.uint64() == from_table.persons.type
    assert from_files.persons.to_pylist() == sorted(ids) == from_table.persons.to_pylist()
    assert from_files.venues.type == pa.uint64()
    assert from_files.venues.to_pylist() == sorted(set(venues)) == from_table.venues.to_pylist()
    for v in set(venues):
        assert from_files.stays_at(v, 0, 10**6).equals(from_table.stays_at(v, 0, 10**6))
    from_files = tg.VenueIndex.open(from_files.save(tmp_path / "saved.tgidx"))
    assert from_files.persons.to_pylist() == sorted(ids)
    for k in ids:
        assert from_files.stays_of(k).equals(from_table.stays_of(k))
        assert from_files.stays_of(k).num_rows == 1
    got = tg.trace(from_files, [ids[0]]).contacts
    assert got.equals(tg.trace(from_table, [ids[0]]).contacts)
    assert got["person"].to_pylist()[0] == ids[0]
    grown = tg.VenueIndex.from_stays(tmp_path / "a.parquet").append(tmp_path / "b.parquet")
    assert grown.persons.to_pylist() == sorted(ids)


def test_uint64_ids_beyond_int64_meet_other_integer_files_as_append_meets_them(tmp_path):
    # files of different integer types meet as uint64 when some ids are 2**63 or more,
    # unless negative ids are beside them (int64 codes would conflate 2**64 - 1 and -1)
    table = stays_table([(1, 10, 0, 3600), (2, 10, 0, 3600)])
    big = pa.array([1, 2**64 - 1], pa.uint64())
    pq.write_table(table.set_column(0, "person", big), tmp_path / "a.parquet")
    other = stays_table([(7, 10, 0, 3600)])
    pq.write_table(
        other.set_column(0, "person", other["person"].cast(pa.int32())), tmp_path / "b.parquet"
    )
    index = tg.VenueIndex.from_stays(tmp_path)
    assert index.persons.type == pa.uint64()
    assert index.persons.to_pylist() == [1, 7, 2**64 - 1]
    appended = tg.VenueIndex.from_stays(tmp_path / "a.parquet").append(tmp_path / "b.parquet")
    assert appended.persons.equals(index.persons)
    pq.write_table(stays_table([(-1, 10, 0, 3600)]), tmp_path / "b.parquet")
    with pytest.raises(tg.SchemaError, match=r"uint64 ids of 2\*\*63 and more beside neg") as err:
        tg.VenueIndex.from_stays(tmp_path)
    assert str(2**64 - 1) not in str(err.value)  # an id is personal data: never shown
    with pytest.raises(tg.SchemaError, match=r"uint64 ids of 2\*\*63 and more beside neg"):
        tg.VenueIndex.from_stays(tmp_path / "a.parquet").append(tmp_path / "b.parquet")
    small = pa.array([1, 2**62], pa.uint64())
    pq.write_table(table.set_column(0, "person", small), tmp_path / "a.parquet")
    index = tg.VenueIndex.from_stays(tmp_path)  # below 2**63: the common type int64
    assert index.persons.type == pa.int64()
    assert index.persons.to_pylist() == [-1, 1, 2**62]


def test_contacts_are_sorted_by_tier_time_and_code():
    table = random_stays(3, 30_000, persons=4_000, venues=150, days=5, max_stay=3 * 3600)
    index = tg.VenueIndex.from_stays(table)
    contacts = tg.trace(index, [0, 1, 2, 3], tiers=3).contacts
    tier = contacts["tier"].to_numpy()
    when = contacts["exposed_at"].cast(pa.int64()).fill_null(-(2**62)).to_numpy()
    code = index.person_codes(contacts["person"].combine_chunks())
    assert np.array_equal(np.lexsort((code, when, tier)), np.arange(len(tier)))
    assert set(np.unique(tier)) == {0, 1, 2, 3}


# ----------------------------------------------------------------------------- bad input


def test_bad_rows_are_named_by_their_row_in_the_whole_source(tmp_path):
    rows = [(1, 10, 0, 3600)] * 5 + [(2, 10, 5400, 1800)]  # the 6th row ends before it starts
    write_parts(stays_table(rows), tmp_path, [3], "parquet")
    with pytest.raises(tg.SchemaError, match=r"end >= start.*first at row 5"):
        tg.VenueIndex.from_stays(tmp_path)


@pytest.mark.parametrize("naive", [False, True])
@pytest.mark.parametrize("source", ["table", "parquet"])
def test_a_stay_ending_before_it_starts_within_one_second_is_refused(tmp_path, source, naive):
    # 1.7 s to 1.5 s floors to [1, 1): compared before flooring, it is refused
    ts = pa.timestamp("ms", tz=None if naive else "UTC")
    table = stays_table([(1, 10, 0, 3600)] * 3)
    table = table.set_column(2, "start", pa.array([0, 1700, 0], ts))
    table = table.set_column(3, "end", pa.array([3_600_000, 1500, 1999], ts))
    data = table
    if source == "parquet":
        pq.write_table(table, tmp_path / "s.parquet")
        data = tmp_path / "s.parquet"
    with pytest.raises(tg.SchemaError, match=r"end >= start, found 1 stays.*first at row 1"):
        tg.VenueIndex.from_stays(data, tz="UTC")
    ok = table.set_column(3, "end", pa.array([3_600_000, 1700, 1999], ts))  # zero length
    assert tg.VenueIndex.from_stays(ok, tz="UTC").n_stays == 3


@pytest.mark.parametrize(
    ("start_type", "end_type"),
    [
        (pa.timestamp("ms", tz="UTC"), pa.timestamp("s", tz="Asia/Ho_Chi_Minh")),
        (pa.timestamp("us", tz="Asia/Ho_Chi_Minh"), pa.timestamp("ms", tz="UTC")),
        (pa.timestamp("ms"), pa.timestamp("us")),  # naive, read in one zone
        (pa.timestamp("ns", tz="UTC"), pa.timestamp("s")),  # one zone-aware, one naive
    ],
)
@pytest.mark.parametrize("source", ["table", "parquet"])
# (rows alike but for the times being changed: their DataWarning is not the point)
@pytest.mark.filterwarnings("ignore:.*stays repeat another stay:tracegraph.DataWarning")
def test_columns_of_different_units_are_compared_below_a_second(
    tmp_path, source, start_type, end_type
):
    # 10.7 s to 10.0 s floors to [10, 10) in seconds: the end is before the start
    t = pa.timestamp("ns", tz="UTC")
    start = pa.array([0, 10_700_000_000, 0], t)
    table = stays_table([(1, 10, 0, 3600)] * 3)

    def with_times(end_ns: list[int]) -> pa.Table:
        end = pa.array(end_ns, t)
        out = table
        columns = [("start", start, start_type), ("end", end, end_type)]
        for i, (name, col, typ) in enumerate(columns):
            if typ.tz is None:  # naive: the UTC wall-clock times, read with tz="UTC"
                col = col.cast(pa.timestamp("ns"))
            out = out.set_column(2 + i, name, col.cast(typ, safe=False))
        return out

    def build(data: pa.Table):  # type: ignore[no-untyped-def]
        if source == "parquet":
            pq.write_table(data, tmp_path / "s.parquet", coerce_timestamps=None)
            return tg.VenueIndex.from_stays(tmp_path / "s.parquet", tz="UTC")
        return tg.VenueIndex.from_stays(data, tz="UTC")

    with pytest.raises(tg.SchemaError, match=r"end >= start, found 1 stays.*first at row 1"):
        build(with_times([3_600_000_000_000, 10_000_000_000, 3_600_000_000_000]))
    # ending in the same second, later (or at once, where the coarser unit allows it)
    same = 11_000_000_000 if end_type.unit == "s" else 10_700_000_000
    assert build(with_times([3_600_000_000_000, same, 3_600_000_000_000])).n_stays == 3


@given(
    st.integers(-(10**12), 10**12),
    st.integers(-(10**12), 10**12),
    st.sampled_from(["s", "ms", "us", "ns"]),
    st.sampled_from(["s", "ms", "us", "ns"]),
)
def test_ends_before_start_is_exact_for_any_units(a, b, unit_a, unit_b):
    from fractions import Fraction

    from tracegraph._time import _UNIT_PER_S, ends_before_start

    start = pa.array([a], pa.timestamp(unit_a, tz="UTC"))
    end = pa.array([b], pa.timestamp(unit_b, tz="UTC"))
    per_a, per_b = _UNIT_PER_S[unit_a], _UNIT_PER_S[unit_b]
    seconds = (np.array([a // per_a]), np.array([b // per_b]))
    got = ends_before_start(seconds[0], seconds[1], start, end)
    assert got.tolist() == [Fraction(b, per_b) < Fraction(a, per_a)]


def test_nulls_are_named_by_row(tmp_path):
    table = stays_table([(1, 10, 0, 3600)] * 4)
    start = pa.array([0, 0, None, 0], pa.int64()).cast(pa.timestamp("s", tz="UTC"))
    write_parts(table.set_column(2, "start", start), tmp_path, [1], "parquet")
    with pytest.raises(tg.SchemaError, match=r"start.*no nulls.*row 2"):
        tg.VenueIndex.from_stays(tmp_path)
    person = pa.array([1, None, 1, 1], pa.int64())
    write_parts(table.set_column(0, "person", person), tmp_path, [1], "parquet")
    with pytest.raises(tg.SchemaError, match=r"part-001.parquet: column `person`.*at row 1"):
        tg.VenueIndex.from_stays(tmp_path)


def test_a_file_without_a_column_is_named(tmp_path):
    table = stays_table([(1, 10, 0, 3600)])
    pq.write_table(table, tmp_path / "a.parquet")
    pq.write_table(table.drop_columns(["venue"]), tmp_path / "b.parquet")
    with pytest.raises(tg.SchemaError, match=r"b\.parquet: column `venue` not found"):
        tg.VenueIndex.from_stays(tmp_path)


def test_files_must_agree_on_the_id_type(tmp_path):
    pq.write_table(stays_table([(1, 10, 0, 3600)]), tmp_path / "a.parquet")
    pq.write_table(stays_table([(1, 10, 0, 3600)], ids="str"), tmp_path / "b.parquet")
    with pytest.raises(tg.SchemaError, match=r"b\.parquet: column `person`: expected integer"):
        tg.VenueIndex.from_stays(tmp_path)


def test_times_must_be_timestamps(tmp_path):
    table = stays_table([(1, 10, 0, 3600)])
    pq.write_table(table.set_column(2, "start", pa.array([0])), tmp_path / "a.parquet")
    with pytest.raises(tg.SchemaError, match=r"start.*expected a timestamp type, got int64"):
        tg.VenueIndex.from_stays(tmp_path / "a.parquet")


def test_missing_empty_and_corrupt_sources(tmp_path):
    with pytest.raises(tg.ScanFileError, match=r"nope\.parquet: no such file or folder"):
        tg.VenueIndex.from_stays(tmp_path / "nope.parquet")
    with pytest.raises(tg.ScanFileError, match="at least one file"):
        tg.VenueIndex.from_stays([])
    (tmp_path / "empty").mkdir()
    with pytest.raises(tg.ScanFileError, match="no stay files"):
        tg.VenueIndex.from_stays(tmp_path / "empty")
    good = tmp_path / "good.parquet"
    pq.write_table(stays_table([(1, 10, 0, 3600)] * 100), good)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(tg.ScanFileError, match=r"cut\.parquet"):
        tg.VenueIndex.from_stays(cut)


# ----------------------------------------------------------------------------- pieces


def _lookups_first(mp: pytest.MonkeyPatch) -> None:
    """Every text batch looked up on 2 threads before the new ids are encoded."""
    from tracegraph import ingest

    mp.setenv("TRACEGRAPH_NUM_THREADS", "2")
    mp.setattr(ingest, "_PARALLEL_LOOKUP_ROWS", 1)
    mp.setattr(ingest, "_LOOKUP_FIRST_BELOW", 2.0)


@settings(max_examples=examples(0.5), deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.integers(-50, 50), st.integers(-(2**62), 2**62)), max_size=40),
        max_size=6,
    ),
    st.booleans(),
)
def test_id_codes_are_first_seen_order_dense_or_hashed(batches, threaded):
    # hashed batches serially, or looked up on threads first and their new ids after
    codes = _IdCodes(0)
    with pytest.MonkeyPatch.context() as mp:
        if threaded:
            _lookups_first(mp)
        for values in batches:
            codes.append(pa.array(values, pa.int64()))
    seen = list(dict.fromkeys(v for values in batches for v in values))
    flat = [v for values in batches for v in values]
    assert codes.codes.take().tolist() == [seen.index(v) for v in flat]
    if seen:
        assert codes.distinct().to_pylist() == seen


# text ids: empty, multi-byte, prefixes of each other, differing in one byte
_TEXT = st.one_of(
    st.sampled_from(["", "a", "ab", "abc", "abd", "ba", "Đống Đa", "Đống Đá", "x" * 300]),
    st.text(max_size=12),
)


@settings(max_examples=examples(0.5), deadline=None)
@given(
    st.lists(st.lists(_TEXT, max_size=40), max_size=6),
    st.sampled_from([pa.string(), pa.large_string()]),
    st.integers(0, 3),
    st.booleans(),
)
def test_text_id_codes_are_first_seen_order(batches, typ, cut, threaded):
    # batches as arrays that start inside their buffers (slices), both offset widths;
    # serially, or each batch looked up on threads first and its new ids encoded after
    codes = _IdCodes(0)
    with pytest.MonkeyPatch.context() as mp:
        if threaded:
            _lookups_first(mp)
        for values in batches:
            padded = pa.array(["pad"] * cut + values + ["tail"], typ)
            codes.append(padded.slice(cut, len(values)))
    seen = list(dict.fromkeys(v for values in batches for v in values))
    flat = [v for values in batches for v in values]
    assert codes.codes.take().tolist() == [seen.index(v) for v in flat]
    if flat:
        distinct = codes.distinct()
        assert distinct.type == pa.string()
        assert distinct.to_pylist() == seen


@pytest.mark.parametrize("threaded", [False, True])
def test_many_text_ids_grow_the_table_and_keep_their_codes(threaded, monkeypatch):
    # 200,000 distinct ids in batches (the table grows and rehashes many times), each
    # batch half new ids and half seen ones in another order; serially, or each batch
    # looked up on threads first (the new ids, spread over the batch, encoded after)
    if threaded:
        _lookups_first(monkeypatch)
    rng = np.random.default_rng(3)
    names = np.array([f"resident-{i:06d}" for i in range(200_000)], dtype=object)
    order = rng.permutation(200_000)
    codes = _IdCodes(0)
    flat = []
    for k in range(0, 200_000, 25_000):
        batch = np.r_[order[k : k + 25_000], rng.choice(order[: k + 25_000], 25_000)]
        batch = rng.permutation(batch)
        flat.append(batch)
        codes.append(pa.array(names[batch].tolist(), pa.string()))
    flat = np.concatenate(flat)
    got = codes.codes.take()
    first = {}
    for v in flat.tolist():
        first.setdefault(v, len(first))
    np.testing.assert_array_equal(got, np.array([first[v] for v in flat.tolist()]))
    assert codes.distinct().to_pylist() == names[list(first)].tolist()


def test_text_batches_of_known_ids_are_looked_up_on_threads(monkeypatch):
    # a first batch of new ids is encoded in row order; the next ones, mostly of ids
    # seen before (people come back), are looked up on two threads first: read-only
    # slices, then only the rows not found are encoded, in row order
    from tracegraph import ingest

    monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", "2")
    modes: list[int] = []
    encode = _kernels.encode_bytes

    def spy(*args):
        modes.append(args[-1])
        return encode(*args)

    monkeypatch.setattr(_kernels, "encode_bytes", spy)
    rng = np.random.default_rng(5)
    n = ingest._PARALLEL_LOOKUP_ROWS
    names = np.array([f"p{i}" for i in range(2 * n)], dtype=object)
    known = [rng.integers(0, n, n) for _ in range(2)]
    batches = [np.arange(n), *known, np.r_[rng.integers(0, n, n - 9), n + np.arange(9)]]
    codes = _IdCodes(0)
    for batch in batches:
        codes.append(pa.array(names[batch].tolist()))
    assert modes == [
        _kernels.ENCODE_ALL,  # all new: in row order
        _kernels.ENCODE_ALL,  # the batch before brought new ids only: in row order
        *[_kernels.LOOKUP_ONLY] * 2,  # all found: nothing more to do
        *[_kernels.LOOKUP_ONLY] * 2,
        _kernels.ENCODE_MISSING,  # 9 new ids
    ]
    flat = np.concatenate(batches)
    first = dict.fromkeys(flat.tolist())
    rank = {v: k for k, v in enumerate(first)}
    assert codes.codes.take().tolist() == [rank[v] for v in flat.tolist()]


def test_encode_int64_looks_up_without_inserting_then_encodes_the_rows_not_found():
    slots = np.full(16, -1, np.int32)
    distinct = np.empty(16, np.int64)
    out = np.empty(3, np.int32)
    n = _kernels.encode_int64(np.array([7, -3, 7]), slots, distinct, 0, out, _kernels.ENCODE_ALL)
    assert (n, out.tolist()) == (2, [0, 1, 0])
    before = slots.copy()
    values = np.array([-3, 2**62, 5, 2**62, 7])
    got = np.full(5, 99, np.int32)
    missing = _kernels.encode_int64(values, slots, distinct, 2, got, _kernels.LOOKUP_ONLY)
    assert (missing, got.tolist()) == (3, [1, -1, -1, -1, 0])
    np.testing.assert_array_equal(slots, before)  # the table only read
    n = _kernels.encode_int64(values, slots, distinct, 2, got, _kernels.ENCODE_MISSING)
    assert (n, got.tolist()) == (4, [1, 2, 3, 2, 0])  # found rows kept, new in row order
    assert distinct[:4].tolist() == [7, -3, 2**62, 5]


@settings(max_examples=examples(1.0, 100), deadline=None)
@given(
    st.lists(st.integers(-3, 40) | st.integers(-(2**63), 2**63 - 1), max_size=90),
    st.lists(st.integers(-3, 40) | st.integers(-(2**63), 2**63 - 1), max_size=90),
)
def test_hash_encoders_in_every_mode_give_first_seen_codes(first, then):
    # batches of more rows than a group (16) against a table small enough to collide:
    # encoding `first`, then looking `then` up and encoding the rows not found, gives
    # the codes of a dict filled in row order, in both kernels
    every = first + then
    want = {v: c for c, v in enumerate(dict.fromkeys(every))}
    a, b = np.array(first, dtype=np.int64), np.array(then, dtype=np.int64)
    slots = np.full(512, -1, np.int32)  # (at most 180 ids: under half full, as callers keep it)
    distinct = np.empty(len(every), np.int64)
    out_a, out_b = np.empty(len(a), np.int32), np.full(len(b), 99, np.int32)
    n = _kernels.encode_int64(a, slots, distinct, 0, out_a, _kernels.ENCODE_ALL)
    missing = _kernels.encode_int64(b, slots, distinct, n, out_b, _kernels.LOOKUP_ONLY)
    assert missing == sum(v not in set(first) for v in then)
    n = _kernels.encode_int64(b, slots, distinct, n, out_b, _kernels.ENCODE_MISSING)
    assert [*out_a.tolist(), *out_b.tolist()] == [want[v] for v in every]
    assert distinct[:n].tolist() == list(want)
    # the same as text, through the text table's kernel
    table = _IdCodes(0).text
    text_a, text_b = pa.array([str(v) for v in first]), pa.array([str(v) for v in then])
    out_a, out_b = np.empty(len(a), np.int32), np.full(len(b), 99, np.int32)
    table.encode(text_a, out_a)
    assert out_a.tolist() == [want[v] for v in first]
    if not then:
        return
    table._reserve(len(text_b), sum(len(str(v)) for v in then))
    _, offsets, data = text_b.buffers()
    offsets = np.frombuffer(offsets, np.int32, count=len(text_b) + 1)
    data = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    missing, _ = _kernels.encode_bytes(
        offsets, data, table.slots, table.records, table.used, table.n, out_b,
        _kernels.LOOKUP_ONLY,
    )  # fmt: skip
    assert missing == sum(v not in set(first) for v in then)
    n, _ = _kernels.encode_bytes(
        offsets, data, table.slots, table.records, table.used, table.n, out_b,
        _kernels.ENCODE_MISSING,
    )  # fmt: skip
    assert [*out_a.tolist(), *out_b.tolist()] == [want[v] for v in every]
    assert n == len(want)


def test_encode_bytes_looks_up_without_inserting_then_encodes_the_rows_not_found():
    table = _IdCodes(0).text
    first = pa.array(["a", "bb", "a", "ccc"])
    out = np.empty(4, np.int32)
    table.encode(first, out)
    assert out.tolist() == [0, 1, 0, 2]
    slots, records, used = table.slots.copy(), table.records[: table.used].copy(), table.used
    ids = pa.array(["bb", "new", "", "ccc", "new", "a"])
    _, offsets, data = ids.buffers()
    offsets = np.frombuffer(offsets, np.int32, count=len(ids) + 1)
    data = np.frombuffer(data, np.uint8)
    got = np.full(6, 99, np.int32)
    missing, _ = _kernels.encode_bytes(
        offsets, data, table.slots, table.records, table.used, table.n, got, _kernels.LOOKUP_ONLY
    )
    assert missing == 3
    assert got.tolist() == [1, -1, -1, 2, -1, 0]
    np.testing.assert_array_equal(table.slots, slots)  # the table only read
    np.testing.assert_array_equal(table.records[:used], records)
    n, used_after = _kernels.encode_bytes(
        offsets, data, table.slots, table.records, table.used, table.n, got,
        _kernels.ENCODE_MISSING,
    )  # fmt: skip
    assert (n, got.tolist()) == (5, [1, 3, 4, 2, 3, 0])  # found rows kept, new in row order
    assert used_after == used + (8 + 3) + 8


def test_text_ids_whose_hashes_collide_keep_their_own_codes():
    # two ids with the same 32-bit hash share a slot's tag and first slot: only the
    # comparison of their bytes tells them apart (birthday bound: ~2**16 ids)
    seen: dict[int, bytes] = {}
    rng = np.random.default_rng(0)
    for x in rng.integers(0, 2**62, 400_000).tolist():
        b = f"{x:x}".encode()
        h = int(_kernels._hash_bytes(np.frombuffer(b, np.uint8), 0, len(b)))
        if h in seen:
            pair = [seen[h].decode(), b.decode()]
            break
        seen[h] = b
    else:
        pytest.fail("no colliding pair found")
    codes = _IdCodes(0)
    codes.append(pa.array([pair[0], pair[1], pair[0], pair[1]], pa.string()))
    assert codes.codes.take().tolist() == [0, 1, 0, 1]
    assert codes.distinct().to_pylist() == pair


def test_text_id_buffers_longer_than_their_values_are_read():
    # Arrow asks only that buffers be long enough: offsets of 3 ids in 19 bytes
    offsets = pa.py_buffer(np.array([0, 1, 3, 3], np.int32).tobytes() + b"\0\0\0")
    ids = pa.Array.from_buffers(pa.string(), 3, [None, offsets, pa.py_buffer(b"abc")])
    ids.validate(full=True)
    codes = _IdCodes(0)
    codes.append(ids)
    codes.append(pa.array(["bc", "a"]))
    assert codes.codes.take().tolist() == [0, 1, 2, 1, 0]
    assert codes.distinct().to_pylist() == ["a", "bc", ""]


def test_a_text_id_too_long_for_the_table_is_refused(monkeypatch):
    # the table keeps 4-byte lengths: a large_string id of 2**32 bytes or more is
    # refused (shown with the limit lowered to 3 bytes instead of 4 GiB of memory)
    from tracegraph import ingest

    assert ingest._MAX_ID_BYTES == 2**32 - 1
    monkeypatch.setattr(ingest, "_MAX_ID_BYTES", 3)
    codes = _IdCodes(0)
    codes.append(pa.array(["abc", "de"], pa.large_string()))
    with pytest.raises(tg.SchemaError, match="text ids of at most 3 bytes, found a longer"):
        codes.append(pa.array(["de", "abcd"], pa.large_string()))


def test_integer_ids_become_text_with_their_codes():
    codes = _IdCodes(0)
    codes.append(pa.array([7, 3, 7], pa.int64()))
    codes.append(pa.array(["3", "x", "7", ""], pa.string()))
    assert codes.codes.take().tolist() == [0, 1, 0, 1, 2, 0, 3]
    assert codes.distinct().to_pylist() == ["7", "3", "x", ""]


def test_dense_ids_turn_to_hashing_when_they_spread():
    codes = _IdCodes(0)
    codes.append(pa.array(np.arange(1000), pa.int64()))
    assert codes.dense
    codes.append(pa.array([10**12, 5, -(10**12)], pa.int64()))
    assert not codes.dense
    codes.append(pa.array([7, 10**12], pa.int64()))
    got = codes.codes.take().tolist()
    assert got[:1000] == list(range(1000))
    assert got[1000:] == [1000, 5, 1001, 7, 1000]


def test_dense_ids_widen_or_turn_to_hashing_in_the_middle_of_a_batch():
    # the direct table encodes a batch until an id outside it, then the rest's range
    # widens it or, too sparse, sends the rest through the hash table
    codes = _IdCodes(0)
    codes.append(pa.array(np.arange(1000), pa.int64()))
    codes.append(pa.array([5, 6, 1500, 2, -3, 1500], pa.int64()))
    assert codes.dense
    codes.append(pa.array([8, 9, 2**63 - 1, 7, -(2**63), 2**63 - 1, 9], pa.int64()))
    assert not codes.dense
    got = codes.codes.take().tolist()
    assert got[:1000] == list(range(1000))
    assert got[1000:] == [5, 6, 1000, 2, 1001, 1000, 8, 9, 1002, 7, 1003, 1002, 9]
    assert codes.distinct().to_pylist()[1000:] == [1500, -3, 2**63 - 1, -(2**63)]


def test_a_reading_error_stops_the_reader_and_is_raised():
    def broken():
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in _read_stays._ahead(broken(), 1):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_stops_the_reader():
    made = []

    def endless():
        k = 0
        while True:
            made.append(k)
            yield k
            k += 1

    items = _read_stays._ahead(endless(), 2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # the reader thread is told to stop and joined
    assert len(made) <= 3 + 2 + 1


def test_builds_split_over_threads_equal_one_thread(monkeypatch, tmp_path):
    # few persons and venues for the rows: every count and scatter splits over threads
    table = random_stays(5, 20_000, persons=300, venues=100, days=14, max_stay=30 * 3600)
    pq.write_table(table, tmp_path / "stays.parquet", row_group_size=3_000)
    monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", "1")
    serial = tg.VenueIndex.from_stays(table)
    assert_same_index(tg.VenueIndex.from_stays(tmp_path / "stays.parquet"), serial)
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_ROWS", 1)
    for threads in ("2", "3", "7"):  # counts, rank lookups and scatters on threads
        monkeypatch.setenv("TRACEGRAPH_NUM_THREADS", threads)
        assert_same_index(tg.VenueIndex.from_stays(table), serial)
        assert_same_index(tg.VenueIndex.from_stays(tmp_path / "stays.parquet"), serial)
    assert serial.n_classes > 3  # stays up to 30 h: several duration classes


def test_groups_are_in_start_order_whatever_the_row_order():
    table = random_stays(9, 5_000, persons=300, venues=20, days=3, max_stay=5 * 3600)
    index = tg.VenueIndex.from_stays(table)
    offsets = index.class_offsets
    for g in range(offsets.shape[0] - 1):
        group = index.start[offsets[g] : offsets[g + 1]]
        assert np.all(group[1:] >= group[:-1])
    # each stay's class bounds its length
    n_classes = index.n_classes
    for g in range(offsets.shape[0] - 1):
        c = g % n_classes
        rows = slice(offsets[g], offsets[g + 1])
        length = index.end[rows].astype(np.int64) - index.start[rows]
        assert np.all(length <= 3600 * 2**c)
        if c:
            assert np.all(length > 3600 * 2 ** (c - 1))


def test_rising_ids_grow_the_direct_table_geometrically():
    codes = _IdCodes(0)
    sizes = set()
    for k in range(200):
        codes.append(pa.array(np.arange(k * 1000, (k + 1) * 1000), pa.int64()))
        sizes.add(codes.lookup.shape[0])
    assert codes.dense
    assert codes.codes.take().tolist() == list(range(200_000))
    assert len(sizes) < 30  # reallocated a few times, not once a batch


@settings(max_examples=examples(0.5), deadline=None)
@given(
    st.lists(st.integers(0, 5_000), min_size=1, max_size=40),
    st.lists(st.integers(0, 10**9), max_size=200),
)
def test_venue_of_rows_is_a_search_of_the_offsets(sizes, picks):
    # venues of any size (empty ones too), rows anywhere, blocks of 4096 rows
    offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    n_rows = int(offsets[-1])
    if n_rows == 0:
        return
    rows = np.array([p % n_rows for p in picks] + [0, n_rows - 1], dtype=np.int64)
    blocks = _kernels.venue_blocks(offsets, n_rows)
    out = np.empty(rows.shape[0], dtype=np.int32)
    _kernels.venues_of_rows(offsets, blocks, rows, out)
    np.testing.assert_array_equal(out, np.searchsorted(offsets, rows, side="right") - 1)


@pytest.mark.parametrize("max_size", [1, 3, 40])
def test_venue_of_rows_with_many_small_venues_per_block(max_size):
    # real check-in data: tens of thousands of venues of a few stays, hundreds of
    # them (some empty) in one block of rows; every row of several blocks
    rng = np.random.default_rng(max_size)
    sizes = rng.integers(0, max_size + 1, size=60_000)
    offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    n_rows = int(offsets[-1])
    assert n_rows > 3 * (1 << _kernels.BLOCK_SHIFT)
    rows = np.arange(n_rows, dtype=np.int64)
    blocks = _kernels.venue_blocks(offsets, n_rows)
    out = np.empty(n_rows, dtype=np.int32)
    _kernels.venues_of_rows(offsets, blocks, rows, out)
    np.testing.assert_array_equal(out, np.searchsorted(offsets, rows, side="right") - 1)


@pytest.mark.parametrize("size", [1, 2, 15, 16, 17, 500])
@pytest.mark.parametrize("far", [False, True])
def test_groups_sort_by_start_stably(size, far):
    rng = np.random.default_rng(size)
    dtype = np.int64 if far else np.int32
    start = rng.integers(0, 5, 3 * size).astype(dtype)  # many ties
    if far:
        start[::7] += 2**40  # too far apart to pack: the argsort path
    end = start + 1
    person = np.arange(3 * size, dtype=np.int32)  # the input position, to see stability
    offsets = np.array([0, size, 2 * size, 3 * size], dtype=np.int64)
    want = [np.lexsort((person[a:b], start[a:b])) + a for a, b in itertools.pairwise(offsets)]
    order = np.concatenate(want)
    expected = (start[order], end[order], person[order])
    _kernels.sort_groups_by_start(start, end, person, offsets)
    for got, exp in zip((start, end, person), expected, strict=True):
        np.testing.assert_array_equal(got, exp)


@pytest.mark.parametrize("closed", [False, True])
def test_open_stays_lists_the_stays_of_the_persons_left(closed):
    rng = np.random.default_rng(4)
    n = 3_000
    start = rng.integers(0, 86_400, n)
    length = rng.choice([0, 60, 3600], n)
    table = pa.table(
        {
            "person": rng.integers(0, 200, n),
            "venue": rng.integers(0, 30, n),
            "start": pa.array(start).cast(pa.timestamp("s", tz="UTC")),
            "end": pa.array(start + length).cast(pa.timestamp("s", tz="UTC")),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    excluded = rng.random(index.n_persons) < 0.3
    out = [np.empty(index.n_stays, dtype=d) for d in (np.int32, np.int32, np.int64, np.int64)]
    k = _kernels.open_stays(
        excluded, index.person, index.start, index.end, index.origin,
        index.venue_offsets, closed, *out,
    )  # fmt: skip
    rows = np.arange(index.n_stays)
    s, e = index.start_seconds(rows), index.end_seconds(rows)
    keep = ~excluded[index.person] & ((e > s) | (closed & (e == s)))
    np.testing.assert_array_equal(out[0][:k], rows[keep])
    np.testing.assert_array_equal(out[1][:k], index.venue_of(rows[keep]))
    np.testing.assert_array_equal(out[2][:k], s[keep])
    np.testing.assert_array_equal(out[3][:k], e[keep])


# (repeated stays here on purpose or by chance: their DataWarning is not the point)
@pytest.mark.filterwarnings("ignore:.*stays repeat another stay:tracegraph.DataWarning")
def test_edges_do_not_depend_on_direction_or_threads(monkeypatch):
    rng = np.random.default_rng(8)
    n = 4_000
    start = rng.integers(0, 86_400, n) // 600 * 600  # on a grid: many equal overlap starts
    table = pa.table(
        {
            "person": rng.integers(0, 300, n),
            "venue": rng.integers(0, 20, n),
            "start": pa.array(start).cast(pa.timestamp("s", tz="UTC")),
            "end": pa.array(start + 1800).cast(pa.timestamp("s", tz="UTC")),
        }
    )
    index = tg.VenueIndex.from_stays(table)
    from tracegraph.exposure import _resolve_cases, _trace_codes

    def edges(direction, threads):
        cases = _resolve_cases(index, [0, 1], "raise")
        return _trace_codes(
            index, cases, tiers=2, min_overlap=0, linger=0, latency=0, infectious_for=None,
            direction=direction, threads=threads,
        )._pairs.table()  # fmt: skip

    want = edges("forward", 1)
    assert want.num_rows > 100
    for direction, threads in (("reverse", 1), ("forward", 2), ("reverse", 3)):
        assert edges(direction, threads).equals(want)


@pytest.mark.parametrize("n_runs", [2, 3, 7, 31, 32, 40])
def test_groups_of_interleaved_sorted_runs_sort_stably(n_runs):
    # a group made of a few sorted runs (merged) or of many (sorted outright)
    rng = np.random.default_rng(n_runs)
    runs = [np.sort(rng.integers(0, 50, rng.integers(1, 30))) for _ in range(n_runs)]
    start = np.concatenate(runs).astype(np.int32)
    end = start + 5
    person = np.arange(start.shape[0], dtype=np.int32)
    offsets = np.array([0, start.shape[0]], dtype=np.int64)
    order = np.lexsort((person, start))
    expected = (start[order], end[order], person[order])
    _kernels.sort_groups_by_start(start, end, person, offsets)
    for got, exp in zip((start, end, person), expected, strict=True):
        np.testing.assert_array_equal(got, exp)


def test_contacts_over_centuries_are_sorted_too():
    # exposure times too far apart to pack with the person code: the two-array radix path
    year = 365 * 86_400
    rows = [(1, 10, 0, 3600), (2, 10, 0, 3600), (2, 11, 300 * year, 300 * year + 3600)]
    rows += [(3, 11, 300 * year + 60, 300 * year + 600), (4, 10, 1800, 2000)]
    index = tg.VenueIndex.from_stays(stays_table(rows))
    contacts = tg.trace(index, [1], tiers=2).contacts
    assert contacts["person"].to_pylist() == [1, 2, 4, 3]
    assert contacts["tier"].to_pylist() == [0, 1, 1, 2]


# ----------------------------------------------------------------------------- contacts table


def test_unknown_cases_follow_the_known_ones_in_the_order_given():
    # known cases 1 and 2 (ids order), unknown 99 and 98 (order given), then tier 1 by time
    rows = [(1, 10, 0, 3600), (2, 11, 0, 3600), (3, 10, 1800, 2000), (4, 11, 600, 900)]
    index = tg.VenueIndex.from_stays(stays_table(rows))
    contacts = tg.trace(index, [99, 2, 1, 98, 99], unknown="keep").contacts
    assert contacts["person"].to_pylist() == [1, 2, 99, 98, 4, 3]
    assert contacts["tier"].to_pylist() == [0, 0, 0, 0, 1, 1]
    assert contacts["exposed_at"].null_count == 4
    assert contacts["exposed_at"].cast(pa.int64()).to_pylist()[4:] == [600 * 10**6, 1800 * 10**6]


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 16, 17, 40])
def test_timestamps_with_leading_nulls_match_a_masked_array(n):
    from tracegraph._time import seconds_to_timestamp
    from tracegraph.exposure import _timestamps_after_nulls

    seconds = np.arange(n, dtype=np.int64) * 3600 - 5
    for n_null in sorted({0, n // 2, (n // 8) * 8, n}):
        expected = seconds_to_timestamp(seconds, mask=np.arange(n) < n_null)
        got = _timestamps_after_nulls(seconds * 1_000_000, n_null)
        got.validate(full=True)
        assert got.equals(expected)
        assert got.null_count == n_null


@pytest.mark.parametrize(
    "ids",
    [
        pa.array(np.arange(50, dtype=np.int8)),
        pa.array(np.arange(50, dtype=np.uint64) * 2**40),
        pa.array(np.arange(60, dtype=np.int32)).slice(10),
        pa.array([f"p{i}" for i in range(50)]),
        pa.array(np.arange(-20, 30, dtype=np.int64)),
        pa.array(np.arange(2**63 - 50, 2**63, dtype=np.uint64)),
        pa.array(np.arange(2**63 - 49, 2**63 + 1, dtype=np.uint64)),
        pa.array(np.arange(2**63, 2**63 + 50, dtype=np.uint64)),
        pa.array(np.r_[np.arange(49), 50].astype(np.int64)),
    ],
    ids=[
        "int8",
        "uint64",
        "sliced int32",
        "string",
        "consecutive from -20",
        "consecutive uint64 below 2**63",
        "consecutive uint64 to 2**63",
        "consecutive uint64 from 2**63",
        "one gap",
    ],
)
def test_ids_written_with_the_contacts_equal_take(monkeypatch, ids):
    # integer ids are written as the sorted contacts are decoded (on threads, or on
    # one thread); other ids are taken afterwards. Consecutive integer ids (below
    # 2**63) are each code plus the first id: those are not moved by the sort
    from tracegraph import exposure

    monkeypatch.setattr(exposure, "_PARALLEL_MIN_CONTACTS", 1)
    rng = np.random.default_rng(0)
    tier = rng.integers(-1, 3, 50).astype(np.int8)
    earliest = rng.integers(0, 10**6, 50)
    codes = np.flatnonzero(tier >= 0).astype(np.int32)
    codes = codes[np.argsort(tier[codes], kind="stable")]
    values = exposure._integer_ids(ids)
    assert (values is None) == pa.types.is_string(ids.type)
    exposed = tier[codes] > 0
    span = (
        int((~exposed).sum()),
        int(exposed.sum()),
        int(tier.max()),
        int(earliest[codes[exposed]].min()),
        int(earliest[codes[exposed]].max()),
    )
    for threads in (1, 2, 3):
        code, _, _, got = exposure._contacts_order(
            codes, tier, earliest, span=span, ids=values, threads=threads
        )
        if values is None:
            assert got is None
        else:
            assert pa.array(got, type=ids.type).equals(ids.take(pa.array(code)))


def test_packed_matching_lists_exactly_the_newly_reached(monkeypatch):
    from tracegraph import exposure

    monkeypatch.setattr(exposure, "_PACKED_MIN_QUERIES", 1)
    monkeypatch.setattr(exposure, "_PARALLEL_MIN_QUERIES", 1)
    table = random_stays(5, 20_000, persons=3_000, venues=80, days=3, max_stay=7200)
    index = tg.VenueIndex.from_stays(table)
    cases = exposure._resolve_cases(index, [0, 1, 2, 5], "raise")
    frontier = exposure._Tier(1, cases.codes, cases.window_start, cases.window_end)
    rules = exposure._Rules(
        min_overlap=0,
        linger=0,
        direction="forward",
        policy=exposure.resolve_policy("tracegraph"),
        cumulative=False,
    )
    for threads in (1, 2, 3):
        excluded = np.zeros(index.n_persons, dtype=np.bool_)
        excluded[cases.codes] = True
        earliest = np.full(index.n_persons, exposure.FAR_FUTURE, dtype=np.int64)
        first_venue = np.full(index.n_persons, -1, dtype=np.int32)
        reached = exposure._match_tier(
            index, frontier, excluded, rules, earliest, first_venue, threads=threads
        ).persons
        expected = exposure._newly_reached(earliest, excluded)
        assert reached.dtype == np.int32
        assert reached.size > 100
        np.testing.assert_array_equal(reached, expected)


@pytest.mark.parametrize("size", [15, 16, 17, 40])
def test_group_then_value_order_is_a_stable_lexsort(size):
    rng = np.random.default_rng(size)
    group = np.repeat(np.arange(5), size)
    rng.shuffle(group)
    value = rng.integers(0, 4, group.shape[0])  # many ties
    order, offsets = _kernels.sort_by_group_then_value(group, value, 5)
    np.testing.assert_array_equal(order, np.lexsort((value, group)))
    np.testing.assert_array_equal(offsets, np.arange(6) * size)


# ------------------------------------------------------- bad ids: typed, never quoted

SECRET = "SECRET-PERSON-123"


def _stays(person, venue=("cafe", "cafe", "gym")) -> pa.Table:
    ts = pa.timestamp("s", tz="UTC")
    return pa.table(
        {
            "person": person,
            "venue": list(venue),
            "start": pa.array([0, 1800, 0], ts),
            "end": pa.array([3600, 5400, 600], ts),
        }
    )


@pytest.mark.parametrize("column", ["person", "venue"])
@pytest.mark.parametrize("source", ["table", "parquet", "pandas"])
def test_empty_text_ids_are_refused_not_merged_into_one_person(tmp_path, column, source):
    # an empty id would make every row without an id one person: contacts of each
    # other's contacts. Refused wherever the stays come from, with the first row
    ids = {"person": ["ann", "", "cat"], "venue": ["cafe", "cafe", ""]}
    table = _stays(ids["person"] if column == "person" else ["ann", "bob", "cat"])
    if column == "venue":
        table = table.set_column(1, "venue", pa.array(ids["venue"]))
    data = {"table": table, "pandas": table.to_pandas()}.get(source)
    if source == "parquet":
        pq.write_table(table, tmp_path / "s.parquet")
        data = tmp_path / "s.parquet"
    row = 1 if column == "person" else 2
    with pytest.raises(
        tg.SchemaError,
        match=rf"`{column}`: expected non-empty ids, found 1 empty \(the first at row {row}\)",
    ):
        tg.VenueIndex.from_stays(data)


def test_a_pandas_column_arrow_cannot_convert_is_named_never_quoted():
    pd = pytest.importorskip("pandas")
    frame = _stays(pa.array([5, 6, 7])).to_pandas()
    frame["person"] = pd.Series([5, SECRET, 7], dtype=object)
    with pytest.raises(tg.SchemaError, match=r"column `person` \(pandas dtype object\)") as err:
        tg.VenueIndex.from_stays(frame)
    assert SECRET not in str(err.value)
    assert err.value.__cause__ is None  # nor in a chained Arrow error
    # a column tracegraph does not read is left out instead
    frame["person"] = [5, 6, 7]
    frame["note"] = pd.Series([{"a": 1}, SECRET, 3], dtype=object)
    assert tg.VenueIndex.from_stays(frame).n_stays == 3


def test_a_dataset_whose_files_disagree_is_a_typed_error_without_values(tmp_path):
    import pyarrow.dataset as pads

    pq.write_table(_stays(pa.array([1, 2, 3])), tmp_path / "a.parquet")
    pq.write_table(_stays(pa.array([SECRET] * 3)), tmp_path / "b.parquet")
    with pytest.raises(tg.ScanFileError, match="pass the folder's path instead") as err:
        tg.VenueIndex.from_stays(pads.dataset(tmp_path))
    assert SECRET not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_an_empty_batch_does_not_fix_the_ids_type(tmp_path):
    # an empty Arrow file of integer ids beside a Parquet file of text ids: no rows,
    # no ids, so nothing to clash with
    empty = _stays(pa.array([1, 2, 3])).slice(0, 0)
    with pa.ipc.new_file(tmp_path / "a.arrow", empty.schema) as writer:
        writer.write_table(empty)
    pq.write_table(_stays(pa.array(["ann", "bob", "cat"])), tmp_path / "b.parquet")
    index = tg.VenueIndex.from_stays(tmp_path)
    assert index.persons.to_pylist() == ["ann", "bob", "cat"]


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        ("polars-lazy", r"got LazyFrame; collect it first"),
        ("polars-series", r"got Series; pass a table of columns"),
        ("pandas-series", r"got Series; pass a table of columns"),
        ("arrow-array", r"got Int64Array; pass a table of columns"),
        ("tuple", r"or a path to a Parquet/Arrow file or folder.*got tuple$"),
    ],
)
def test_what_is_not_a_table_of_stays_is_named_with_a_hint(data, hint):
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    value = {
        "polars-lazy": lambda: pl.DataFrame({"person": [1]}).lazy(),
        "polars-series": lambda: pl.Series([1]),
        "pandas-series": lambda: pd.Series([1]),
        "arrow-array": lambda: pa.array([1]),
        "tuple": lambda: ("a.parquet", "b.parquet"),
    }[data]()
    with pytest.raises(tg.SchemaError, match=hint):
        tg.VenueIndex.from_stays(value)


def test_a_zone_name_is_checked_even_when_the_times_have_zones():
    table = _stays(pa.array([1, 2, 3]))
    with pytest.raises(tg.TimezoneError, match="expected a valid IANA zone name"):
        tg.VenueIndex.from_stays(table, tz="Asia/Hanoi_typo")
    assert tg.VenueIndex.from_stays(table, tz="Asia/Ho_Chi_Minh").n_stays == 3


def _reference_encoding(column: pa.ChunkedArray) -> tuple[list, list]:
    """encode_ids by definition: the sorted distinct ids, each row's position there."""
    values = column.to_pylist()
    ids = sorted(set(values))
    where = {v: k for k, v in enumerate(ids)}
    return ids, [where[v] for v in values]


def _check_encode_ids(column: pa.ChunkedArray, threaded: bool) -> None:
    """encode_ids (serially, or looked up on threads first) against its definition."""
    from tracegraph.ingest import encode_ids

    with pytest.MonkeyPatch.context() as mp:
        if threaded:
            _lookups_first(mp)
        ids, codes = encode_ids(column)
    want_ids, want_codes = _reference_encoding(column)
    assert ids.type == column.type
    assert ids.to_pylist() == want_ids
    assert codes.tolist() == want_codes


@settings(max_examples=examples(0.5), deadline=None)
@given(
    st.lists(st.lists(st.integers(-(2**62), 2**62), max_size=30), max_size=4),
    st.sampled_from([pa.int64(), pa.uint64(), pa.int32()]),
    st.booleans(),
)
def test_encode_ids_of_sparse_integers_sorts_them(chunks, typ, threaded):
    bits = {pa.int32(): 31, pa.int64(): 62, pa.uint64(): 63}[typ]
    lo = 0 if typ == pa.uint64() else -(2**bits)
    chunks = [[lo + (v % 2**bits) for v in c] for c in chunks]
    _check_encode_ids(pa.chunked_array([pa.array(c, typ) for c in chunks], type=typ), threaded)


@settings(max_examples=examples(0.5), deadline=None)
@given(
    st.lists(st.lists(_TEXT, max_size=30), max_size=4),
    st.sampled_from([pa.string(), pa.large_string()]),
    st.booleans(),
)
def test_encode_ids_of_text_sorts_them(chunks, typ, threaded):
    # (code point order: Arrow's and Python's agree)
    _check_encode_ids(pa.chunked_array([pa.array(c, typ) for c in chunks], type=typ), threaded)
