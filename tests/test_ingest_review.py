"""The scan-ingest path's answers to a review: each test is one finding.

Column types polars writes (views), folders reached through links, ScanSchema's
option checks, messages that list what each function accepts, column-level
problems raised as such (a time column of no time type, naive timestamps), the
order of the reject reasons, and ``not_before`` after ``now``.
"""

from __future__ import annotations

import warnings

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest

import tracegraph as tg
from tracegraph.ingest import _REASON_TEXT, REJECT_REASONS, ScanSchema, read_scans

T0 = 1_627_779_600  # 2021-08-01 01:00Z = 08:00 in Hanoi
NOW = T0 + 30 * 24 * 3600  # a fixed "now" so the tests never depend on the clock
ISO = "2021-08-01T08:00:00Z"


def write_ipc(path, table):
    with pa.ipc.new_file(path, table.schema) as writer:
        writer.write_table(table)
    return path


# --------------------------------------------------------------------------- views


def view_scans():
    """Scans with view columns, as polars writes text (and categoricals: dictionaries of views)."""
    sv = pa.string_view()
    direction = pa.array(["in", "out", "sideways", "in"], sv).dictionary_encode()
    return pa.table(
        {
            "person": pa.array(["ann", None, "bob", "cy"], sv),
            "venue": pa.array(["cafe", "cafe", "shop", "shop"], sv).dictionary_encode(),
            "time": pa.array([ISO, ISO, ISO, "2021-08-01T08:00"], sv),
            "direction": direction,
            "app": pa.array([b"x", None, b"y", b"z"], pa.binary_view()),
        }
    )


VIEW_SCHEMA = ScanSchema(
    person="person", venue="venue", time="time", direction="direction", method="app"
)
VIEW_REJECTED = [
    (1, "null_person", None, "cafe", ISO),
    (2, "bad_direction", "bob", "shop", ISO),
    (3, "naive_time", "cy", "shop", "2021-08-01T08:00"),
]


@pytest.mark.parametrize("as_file", [False, True], ids=["table", "ipc file"])
def test_rejected_rows_of_view_columns_are_set_aside(tmp_path, as_file):
    # Arrow has no `take` for string_view: setting a row aside (and decoding a polars
    # categorical) failed with Arrow's "array_take has no kernel" error
    raw = view_scans()
    source = write_ipc(tmp_path / "p.arrow", raw) if as_file else raw
    kw = {"schema": VIEW_SCHEMA, "errors": "quarantine", "now": NOW}
    scans = read_scans(source, **kw)
    got = scans.rejected.select(["row", "reason", "person", "venue", "time"]).to_pylist()
    assert [tuple(r.values()) for r in got] == VIEW_REJECTED
    assert scans.table["person"].to_pylist() == ["ann"]
    assert scans.table["method"].to_pylist() == ["x"]
    index, report = tg.VenueIndex.from_scans(source, **kw)
    assert index.persons.to_pylist() == ["ann"]
    assert report.rejected.equals(scans.rejected)
    with pytest.raises(tg.ScanRowError, match=r"row 1: rejected \(null_person\)"):
        read_scans(source, schema=VIEW_SCHEMA, now=NOW)


def test_the_reviewers_polars_file_is_read(tmp_path):
    pl = pytest.importorskip("polars")
    path = tmp_path / "p.arrow"
    pl.DataFrame({"person": ["a", None], "venue": ["v", "v"], "time": [ISO] * 2}).write_ipc(path)
    scans = read_scans(path, errors="quarantine", now=NOW)
    assert scans.rejected["reason"].to_pylist() == ["null_person"]
    _, report = tg.VenueIndex.from_scans(path, errors="quarantine", now=NOW)
    assert report.scans.rejected == 1


# --------------------------------------------------------------------------- folders


def scan_file(path, person):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"person": [person], "venue": ["v"], "time": [ISO]}), path)


def stay_file(path, person):
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = pa.timestamp("s", tz="UTC")
    table = pa.table(
        {
            "person": [person],
            "venue": ["v"],
            "start": pa.array([T0], ts),
            "end": pa.array([T0 + 600], ts),
        }
    )
    pq.write_table(table, path)


def test_links_to_folders_are_followed_and_each_folder_is_read_once(tmp_path):
    # rglob did not follow linked folders: their rows were left out without a word
    scans = tmp_path / "scans"
    scan_file(scans / "day=1" / "a.parquet", "ann")
    scan_file(tmp_path / "elsewhere" / "b.parquet", "bob")
    (scans / "day=2").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (scans / "loop").symlink_to(scans, target_is_directory=True)  # (a folder above: a loop)
    # a link to the folder holding `scans`: a loop too, whose other files (another
    # month's scans here) must not be read
    scan_file(tmp_path / "october" / "c.parquet", "cat")
    (scans / "up").symlink_to(tmp_path, target_is_directory=True)
    (scans / "same").symlink_to(scans / "day=1", target_is_directory=True)  # (read already)
    (scans / "day=3").mkdir()
    (scans / "day=3" / "b.parquet").symlink_to(tmp_path / "elsewhere" / "b.parquet")
    schema = ScanSchema(person="person", venue="venue", time="time", source="{day}")
    got = read_scans(scans, schema=schema, now=NOW)
    assert got.table["person"].to_pylist() == ["ann", "bob"]
    assert got.table["source"].to_pylist() == ["1", "2"]  # (the first path in name order)
    assert got.report.read == 2
    index, _ = tg.VenueIndex.from_scans(scans, now=NOW)
    assert index.persons.to_pylist() == ["ann", "bob"]


def test_from_stays_follows_linked_folders(tmp_path):
    stays = tmp_path / "stays"
    stay_file(stays / "a.parquet", "ann")
    stay_file(tmp_path / "elsewhere" / "b.parquet", "bob")
    (stays / "more").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (stays / "loop").symlink_to(stays, target_is_directory=True)
    assert tg.VenueIndex.from_stays(stays).persons.to_pylist() == ["ann", "bob"]


@pytest.mark.parametrize("loop", [False, True], ids=["missing target", "loop of links"])
def test_a_link_that_leads_nowhere_is_an_error_that_names_it(tmp_path, loop):
    scans = tmp_path / "scans"
    scan_file(scans / "a.parquet", "ann")
    if loop:
        (scans / "gone").symlink_to(scans / "gone2")
        (scans / "gone2").symlink_to(scans / "gone")
    else:
        (scans / "gone").symlink_to(tmp_path / "unmounted" / "day=2")
    with pytest.raises(tg.ScanFileError, match=r"1 that lead nowhere|2 that lead nowhere") as err:
        read_scans(scans, now=NOW)
    assert "gone -> " in str(err.value) and "leading '_'" in str(err.value)
    with pytest.raises(tg.ScanFileError, match="lead nowhere"):
        tg.VenueIndex.from_scans(scans, now=NOW)
    stay_file(tmp_path / "stays" / "a.parquet", "ann")
    (tmp_path / "stays" / "gone").symlink_to(tmp_path / "nothing.parquet")
    with pytest.raises(tg.ScanFileError, match=r"stays: expected links .* lead to stay files"):
        tg.VenueIndex.from_stays(tmp_path / "stays")
    (scans / "gone").rename(scans / "_gone")  # skipped as any '_' name is
    if loop:
        (scans / "gone2").unlink()
    assert read_scans(scans, now=NOW).report.read == 1


# --------------------------------------------------------------------------- ScanSchema


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"source": 123}, r"`source`: expected a tag \(str\), e\.g\. 'bluezone' .* got int"),
        ({"source": b"app"}, r"`source`: expected a tag \(str\).* got bytes"),
        (
            {"direction": "d", "directions": ["in"]},
            r"`directions`: expected a mapping of raw values to 'entry' or 'exit', e\.g\. "
            r"\{'in': 'entry', 'out': 'exit'\}, got list",
        ),
        ({"direction": "d", "directions": "in"}, r"`directions`: expected a mapping.* got str"),
        ({"directions": "in"}, r"`directions`: expected a mapping.* got str"),
        ({"direction": 5}, r"`direction`: expected a column name \(str\) or None, got int"),
        ({"method": ["app"]}, r"`method`: expected a column name \(str\) or None, got list"),
    ],
)
def test_scan_schema_options_of_the_wrong_type_are_schema_errors(options, message):
    # source=123 was a plain TypeError, directions=["in"] an AttributeError
    with pytest.raises(tg.SchemaError, match=rf"^ScanSchema: {message}"):
        ScanSchema(person="p", venue="v", time="t", **options)


# --------------------------------------------------------------------------- what is taken


def test_read_scans_names_what_it_reads_and_how_to_read_a_dataset(tmp_path):
    # it said it expected "... a pyarrow RecordBatchReader or dataset", then refused one
    pads = pytest.importorskip("pyarrow.dataset")
    scan_file(tmp_path / "x.parquet", "ann")
    dataset = pads.dataset(tmp_path / "x.parquet")
    with pytest.raises(tg.SchemaError, match=r"got a pyarrow dataset; pass the path") as err:
        read_scans(dataset, now=NOW)
    assert "dataset.scanner().to_reader()" in str(err.value)
    assert "or dataset" not in str(err.value)
    assert read_scans(dataset.scanner().to_reader(), now=NOW).report.accepted == 1
    with pytest.raises(tg.SchemaError, match="got a pyarrow dataset"):
        tg.VenueIndex.from_scans(dataset, now=NOW)
    with pytest.raises(tg.SchemaError) as err:
        read_scans(3.5)
    assert str(err.value) == (
        "scans: expected a path to a Parquet or Arrow IPC file or folder, a pyarrow.Table, "
        "pandas.DataFrame or polars.DataFrame, or a pyarrow.RecordBatchReader (or a list of "
        "these, or of (source, ScanSchema) pairs), got float"
    )


def test_scans_to_stays_names_what_it_takes_and_says_to_read_a_path_first(tmp_path):
    # it said it expected "a path to a Parquet/Arrow file" and refused a path
    scan_file(tmp_path / "x.parquet", "ann")
    for path in (str(tmp_path / "x.parquet"), tmp_path / "x.parquet"):
        with pytest.raises(tg.SchemaError) as err:
            tg.scans_to_stays(path)
        assert str(err.value) == (
            "scans: expected a tracegraph.Scans, or a table of scans (pyarrow.Table, "
            "pandas.DataFrame or polars.DataFrame), got a path; read the files first: "
            "tg.scans_to_stays(tg.read_scans(path)), or tg.VenueIndex.from_scans(path) for "
            "an index"
        )
    with pytest.raises(tg.SchemaError, match=r"polars\.DataFrame\), got list$"):
        tg.scans_to_stays([1, 2])
    scans = read_scans(tmp_path / "x.parquet", now=NOW)
    assert tg.scans_to_stays(scans).stays.num_rows == 1


# --------------------------------------------------------------------------- column types


def scans_with(**columns):
    base = {"person": ["a", "b"], "venue": ["v", "v"], "time": [ISO, ISO]}
    base.update(columns)
    return pa.table({name: base[name] for name in ("person", "venue", "time")})


@pytest.mark.parametrize(
    ("time", "found"),
    [
        (pa.array([True, False]), r": expected timestamps, epoch numbers .* got bool; cast"),
        (pa.array([0, 1], pa.date32()), r": .*, got date32\[day\]; .*a date is no instant"),
        (pa.array([b"x", b"y"]), r": .*, got binary; cast the column"),
        (pa.nulls(2), r" holds no times: its type is null"),
        (pa.array([0, 1], pa.date32()).dictionary_encode(), r": .*, got date32\[day\]"),
    ],
    ids=["bool", "date32", "binary", "null", "dictionary of dates"],
)
def test_a_time_column_of_a_type_that_holds_no_times_is_a_schema_error(time, found):
    # each row was set aside as "bad_type ... fix the row": a column's problem, not a row's
    raw = scans_with(time=time)
    match = rf"^<table 0>: column `time` \(the schema's time\){found}"
    for errors in ("raise", "quarantine"):
        with pytest.raises(tg.SchemaError, match=match) as err:
            read_scans(raw, errors=errors, now=NOW)
        assert not isinstance(err.value, tg.ScanRowError)
        with pytest.raises(tg.SchemaError, match=match):
            tg.VenueIndex.from_scans(raw, errors=errors, now=NOW)


def test_an_all_none_pandas_column_holds_no_ids_or_times():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"person": ["a", "b"], "venue": ["v", "v"], "time": [None, None]})
    with pytest.raises(tg.SchemaError, match=r"column `time` .* holds no times.* of None"):
        read_scans(frame, errors="quarantine", now=NOW)
    frame = pd.DataFrame({"person": [None, None], "venue": ["v", "v"], "time": [ISO, ISO]})
    with pytest.raises(
        tg.SchemaError,
        match=r"column `person` \(the schema's person\) holds no ids: its type is null.*expected "
        r"integer or text ids; fill them in, or map the schema's person to another column",
    ):
        read_scans(frame, errors="quarantine", now=NOW)
    raw = scans_with(venue=pa.array([[1], [2]]))
    with pytest.raises(tg.SchemaError, match=r"`venue`.* got list<item: int64>; cast the column"):
        tg.VenueIndex.from_scans(raw, errors="quarantine", now=NOW)


def test_bad_type_is_no_longer_a_reason_for_a_row():
    assert "bad_type" not in REJECT_REASONS


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_naive_timestamps_without_a_zone_are_a_timezone_error(unit):
    # every row was set aside as naive_time, one by one, while the README promises a
    # TimezoneError, as from_stays and trace raise for naive timestamp columns
    stamps = pa.array([T0, T0 + 60], pa.timestamp("s")).cast(pa.timestamp(unit))
    raw = scans_with(time=stamps)
    match = (
        rf"^<table 0>: column `time` \(the schema's time\): expected zone-aware timestamps, got "
        rf"naive timestamp\[{unit}\], of no known zone; name the zone they were recorded in, "
        rf"e\.g\. 'Asia/Ho_Chi_Minh' or 'UTC' \(pass tz= or ScanSchema\(tz=\)\)$"
    )
    for errors in ("raise", "quarantine"):
        with pytest.raises(tg.TimezoneError, match=match):
            read_scans(raw, errors=errors, now=NOW)
        with pytest.raises(tg.TimezoneError, match=match):
            tg.VenueIndex.from_scans(raw, errors=errors, now=NOW)
    hanoi = ScanSchema(person="person", venue="venue", time="time", tz="Asia/Ho_Chi_Minh")
    assert read_scans(raw, schema=hanoi, now=NOW).report.accepted == 2
    assert read_scans(raw, tz="UTC", now=NOW).report.accepted == 2
    # naive text stays a row's problem: it may be mixed with text that has its offset
    mixed = scans_with(time=[ISO, "2021-08-01T08:00"])
    scans = read_scans(mixed, errors="quarantine", now=NOW)
    assert scans.rejected["reason"].to_pylist() == ["naive_time"]
    assert "text without a UTC offset" in _REASON_TEXT["naive_time"]


# --------------------------------------------------------------------------- reasons


def reasons_of(raw, **kw):
    """The reasons of the rows of ``raw`` (columns p, v, t, d) set aside, in row order."""
    schema = ScanSchema(person="p", venue="v", time="t", direction="d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tg.DataWarning)  # (reads that reject every row)
        scans = read_scans(raw, schema=schema, errors="quarantine", now=NOW, **kw)
    return scans.rejected["reason"].to_pylist()


def test_reject_reasons_are_listed_in_the_order_they_are_checked():
    # a row gets the first reason of REJECT_REASONS it has; time_out_of_range was
    # listed last while it is found with the other time rules
    assert REJECT_REASONS == (
        "null_person",
        "null_venue",
        "null_time",
        "bad_time",
        "naive_time",
        "time_out_of_range",
        "bad_direction",
        "future_time",
        "too_early",
    )
    # each row breaks two rules, the ones listed next to each other
    rows = [
        (None, "", ISO, "in"),  # null_person, null_venue
        ("a", "", None, "in"),  # null_venue, null_time
        ("a", "v", "2021-02-30T08:00", "in"),  # bad_time (before naive_time)
        ("a", "v", "0000-06-01T00:00", "in"),  # naive_time, time_out_of_range
        ("a", "v", "0000-06-01T00:00Z", "sideways"),  # time_out_of_range, bad_direction
        ("a", "v", "2031-08-01T08:00Z", "sideways"),  # bad_direction, future_time
        ("a", "v", "2019-08-01T08:00Z", "in"),  # too_early
        ("a", "v", ISO, "in"),  # fine
    ]
    raw = pa.table({k: [r[j] for r in rows] for j, k in enumerate("pvtd")})
    assert reasons_of(raw, not_before="2020-01-01T00:00Z") == [
        "null_person",
        "null_venue",
        "bad_time",
        "naive_time",
        "time_out_of_range",
        "bad_direction",
        "too_early",
    ]
    # the reviewer's row, and the report's reasons in the listed order
    raw = pa.table({"p": ["a", "b"], "v": ["v", "v"], "t": [10**13, 10], "d": ["sideways", "x"]})
    assert reasons_of(raw) == ["time_out_of_range", "bad_direction"]
    raw = pa.table(
        {"p": ["a", "b", "c"], "v": ["v"] * 3, "t": [10, 10**13, T0], "d": ["x", None, None]}
    )
    schema = ScanSchema(person="p", venue="v", time="t", direction="d")
    report = read_scans(raw, schema=schema, errors="quarantine", now=NOW).report
    assert list(report.rejected_by_reason) == ["time_out_of_range", "bad_direction"]


@pytest.mark.parametrize("unit", ["s", "ns"])
def test_float_times_too_large_are_out_of_range_as_integers_are(unit):
    # ±1e19 or more were bad_time, while ScanSchema says numbers too large are
    # time_out_of_range (with the hint to give their unit)
    times = [1e19, -1e19, 1e300, -1e300, 1e13 * 10**9, float("nan"), float("inf"), T0 * 1e9]
    if unit == "s":
        times[-1] = float(T0)
    raw = pa.table(
        {"p": ["a"] * len(times), "v": ["v"] * len(times), "t": times, "d": ["in"] * len(times)}
    )
    schema = ScanSchema(person="p", venue="v", time="t", time_unit=unit)
    scans = read_scans(raw, schema=schema, errors="quarantine", now="9999-01-01T00:00Z")
    far = "time_out_of_range"
    expected = [far, far, far, far, far, "bad_time", "bad_time"]
    if unit == "ns":  # (1e19 ns is in 2286, -1e19 ns in 1653: times like any other)
        expected = [far, far, far, "bad_time", "bad_time"]
    assert scans.rejected["reason"].to_pylist() == expected
    assert scans.report.accepted == len(times) - len(expected)
    integers = pa.table({"p": ["a"], "v": ["v"], "t": [10**13], "d": ["in"]})
    assert reasons_of(integers) == [far]


# --------------------------------------------------------------------------- options


def test_not_before_later_than_now_is_an_argument_error():
    # it was accepted, and every row then rejected with only an "all rejected" warning
    raw = scans_with()
    kw = {"not_before": "2022-01-01T00:00Z", "now": "2021-01-01T00:00:30Z"}
    match = (
        r"^`not_before` \(2022-01-01 00:00Z\) is later than `now` \(2021-01-01 00:00:30Z\): no "
        r"scan could be accepted; expected not_before <= now; pass an earlier not_before, or a "
        r"later now$"
    )
    for errors in ("raise", "quarantine"):
        with pytest.raises(tg.ArgumentError, match=match):
            read_scans(raw, errors=errors, **kw)
        with pytest.raises(tg.ArgumentError, match=match):
            tg.VenueIndex.from_scans(raw, errors=errors, **kw)
    with pytest.raises(tg.ArgumentError, match=r"later than `now` \(the current time, 2"):
        read_scans(raw, not_before="9000-01-01T00:00Z")
    # one instant for both: scans of that second only
    assert read_scans(raw, not_before=ISO, now=ISO).report.accepted == 2


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("name", ["stays.csv", "STAYS.CSV", "stays.csv.gz", "stays.tsv"])
def test_a_csv_file_gets_how_to_read_it(tmp_path, name):
    # "not a Parquet or Arrow IPC file" and nothing more
    path = tmp_path / name
    path.write_text("person,venue,start,end\n")
    table = "pyarrow.csv.read_csv(path)"
    if name.endswith(".tsv"):
        table = (
            "pyarrow.csv.read_csv(path, parse_options=pyarrow.csv.ParseOptions(delimiter='\\t'))"
        )
    kind = "TSV" if name.endswith(".tsv") else "CSV"
    hint = f"; a {kind} file by its name: read it with {table} (or pandas) and pass the table"
    cli = f", or build the index on the command line: tracegraph build {path} --out FOLDER"
    with pytest.raises(tg.ScanFileError) as err:
        tg.VenueIndex.from_stays(path)
    assert str(err.value).startswith(f"{path}: not a Parquet or Arrow IPC file")
    assert str(err.value).endswith(hint + (cli if name.lower().endswith(".csv") else ""))
    for read in (read_scans, tg.VenueIndex.from_scans):  # (the command line reads no CSV scans)
        with pytest.raises(tg.ScanFileError) as err:
            read(path)
        assert str(err.value).endswith(hint)
    other = tmp_path / "stays.txt"
    other.write_text("person,venue,start,end\n")
    with pytest.raises(tg.ScanFileError, match=r"another format\)$"):
        tg.VenueIndex.from_stays(other)


# --------------------------------------------------------------------------- directions


@pytest.mark.parametrize(
    "raw",
    [
        pa.array([["in"], ["out"]], pa.list_(pa.string())),
        pa.array([{"d": "in"}, {"d": "out"}]),
    ],
    ids=["list", "struct"],
)
@pytest.mark.parametrize("errors", ["raise", "quarantine"])
def test_a_direction_column_no_text_comes_from_is_a_schema_error_not_rejected_rows(raw, errors):
    # every row was rejected one by one as bad_direction (quarantine) or the first row
    # stopped the read as a ScanRowError (raise): a column's problem, told as such
    table = pa.table({"p": ["ann", "bob"], "v": ["cafe", "cafe"], "t": [ISO, ISO], "d": raw})
    schema = ScanSchema(person="p", venue="v", time="t", direction="d")
    with pytest.raises(
        tg.SchemaError,
        match=r"^<table 0>: column `d` \(the schema's direction\): expected text or integers, "
        r"got (list|struct)<.*>, which no direction comes from; cast it to strings",
    ):
        read_scans(table, schema=schema, now=NOW, errors=errors)


def test_directions_whose_raw_values_collide_once_lower_cased_are_refused():
    # {"in": "entry", "IN": "exit"} kept the last: every "in" read as an exit
    with pytest.raises(
        tg.SchemaError,
        match=r"^ScanSchema: `directions`: expected raw values that differ once trimmed and "
        r"lower-cased .* got 'in' → 'entry' and ' IN' → 'exit'; keep one of them",
    ):
        ScanSchema(
            person="p",
            venue="v",
            time="t",
            direction="d",
            directions={"in": "entry", " IN": "exit"},
        )
    # the same meaning twice is no conflict
    schema = ScanSchema(
        person="p",
        venue="v",
        time="t",
        direction="d",
        directions={"in": "entry", "IN": "entry", "out": "exit"},
    )
    assert schema.direction_map() == {"in": "entry", "out": "exit"}


# --------------------------------------------------------------------------- home folder


def test_paths_starting_with_a_tilde_are_in_the_home_folder(tmp_path, monkeypatch):
    # "~/stays.parquet" was looked for in a folder named "~" under the working folder
    # (pandas and polars read it as the home folder)
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    stay_file(home / "stays.parquet", "ann")
    scan_file(home / "scans" / "day1.parquet", "bob")
    index = tg.VenueIndex.from_stays("~/stays.parquet")
    assert index.persons.to_pylist() == ["ann"]
    assert tg.VenueIndex.from_stays(["~/stays.parquet"]).n_stays == 1
    assert read_scans("~/scans", now=NOW).table["person"].to_pylist() == ["bob"]
    assert index.save("~/city.tgidx") == home / "city.tgidx"
    assert tg.VenueIndex.open("~/city.tgidx").n_stays == 1
    result = tg.trace(index, ["ann"])
    assert tg.write_table(result.contacts, "~/contacts.csv") == home / "contacts.csv"
    assert result.write_graph("~/contacts.graphml") == home / "contacts.graphml"
    city = tg.synth.generate_city(20, days=1, seed=1)
    city.write_parquet("~/city")
    assert (home / "city" / "stays.parquet").is_file()
    assert tg.synth.City.read_parquet("~/city").stays.equals(city.stays)
    assert not (tmp_path / "~").exists()
    # a file name starting with ~ (no user of that name) is that file, as pandas reads it
    # (pathlib's expanduser raised "Could not determine home directory")
    stay_file(tmp_path / "~backup.parquet", "cy")
    assert tg.VenueIndex.from_stays("~backup.parquet").persons.to_pylist() == ["cy"]
    tg.write_table(result.contacts, "~out.csv")
    assert (tmp_path / "~out.csv").is_file()
