"""The scan-ingest path's answers to a second review: each test is one finding.

Instants beyond the calendar in the ``not_before``-after-``now`` error; ScanSchema's zone
checked when the schema is made; what a bad direction should have been (read_scans), and
integer directions of any type (scans_to_stays); epoch numbers held as text; directions
written with combining accents.
"""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pytest

import tracegraph as tg
from tracegraph.ingest import ScanSchema, read_scans

ISO = "2021-08-01T08:00:00Z"
NOW = 1_630_000_000  # (2021-08-26: a fixed "now", so the tests never depend on the clock)


def scans_with():
    return pa.table({"person": ["ann", "bob"], "venue": ["cafe", "cafe"], "time": [ISO, ISO]})


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("kw", "said"),
    [
        ({"not_before": 2**70}, r"`not_before` \(a time after the year 9999\) is later than `now`"),
        ({"not_before": 2**62, "now": ISO}, r"\(a time after the year 9999\) is later than"),
        (
            {"not_before": "0001-01-01T00:00Z", "now": -(10**12)},
            r"\(0001-01-01 00:00Z\) is later than `now` \(a time before the year 1\)",
        ),
    ],
)
def test_not_before_after_now_beyond_the_calendar_is_an_argument_error(kw, said):
    # int seconds past the years 1 to 9999 made the message itself fail (OverflowError)
    for read in (read_scans, tg.VenueIndex.from_scans):
        with pytest.raises(tg.ArgumentError, match=said):
            read(scans_with(), **kw)


# --------------------------------------------------------------------------- ScanSchema


@pytest.mark.parametrize(
    ("tz", "error", "said"),
    [
        ("Asia/Hanoi", tg.TimezoneError, r"got 'Asia/Hanoi'; did you mean 'Asia/Ho_Chi_Minh'\?$"),
        (
            "",
            tg.TimezoneError,
            r"expected a valid IANA zone name or a fixed offset such as '\+07:00', got ''$",
        ),
        (
            7,
            tg.SchemaError,
            r"expected a zone name \(str\), e\.g\. 'Asia/Ho_Chi_Minh', or None, got int$",
        ),
    ],
)
def test_scan_schema_checks_its_zone_when_made(tz, error, said):
    # a bad zone was only found at the read, named as read_scans' own `tz`; and "" was
    # no zone at all: naive times were set aside as naive_time, or read in read_scans' tz
    with pytest.raises(error, match=r"^ScanSchema: `tz`: (.*)" + said):
        tg.ScanSchema(person="p", venue="v", time="t", tz=tz)
    assert tg.ScanSchema(person="p", venue="v", time="t", tz="+07:00").tz == "+07:00"


# --------------------------------------------------------------------------- directions


def test_a_bad_direction_says_which_values_the_schema_takes_and_how_to_map_others():
    # it said only "not one of the schema's direction values": which, and how to add one?
    raw = scans_with().append_column("io", pa.array(["Vào", "Ra"]))
    schema = ScanSchema(person="person", venue="venue", time="time", direction="io")
    said = (
        r"^<table 0>: row 0: rejected \(bad_direction\): the direction is not one of the "
        r"schema's direction values: expected one of 'entry', 'exit', 'in', 'out', 'i', 'o', "
        r"'enter' \(trimmed, in any case; null is an entry\); map other values with "
        r"ScanSchema\(directions=\{\.\.\.\}\); fix the row, or pass errors='quarantine' to set "
        r"such rows aside$"
    )
    for read in (read_scans, tg.VenueIndex.from_scans):
        with pytest.raises(tg.ScanRowError, match=said):
            read(raw, schema=schema, now=NOW)
    own = ScanSchema(
        person="person", venue="venue", time="time", direction="io", directions={"in": "entry"}
    )
    with pytest.raises(tg.ScanRowError, match=r"expected one of 'in' \(trimmed"):
        read_scans(raw, schema=own, now=NOW)
    with pytest.warns(tg.DataWarning, match=r"values \(map other values with ScanSchema\(dir"):
        read_scans(raw, schema=schema, now=NOW, errors="quarantine")


@pytest.mark.parametrize(
    ("values", "typ", "found"),
    [([0, 2**63], pa.uint64(), 2**63), ([1, None, -1], pa.int8(), -1), ([0, 7], pa.uint8(), 7)],
)
def test_integer_directions_of_any_type_other_than_0_or_1_are_named(values, typ, found):
    # a uint64 value of 2**63 or more was a raw ArrowInvalid (it was cast to int64 first)
    scans = pa.table(
        {
            "person": ["ann"] * len(values),
            "venue": ["cafe"] * len(values),
            "time": pa.array(range(len(values)), pa.timestamp("s", tz="UTC")),
            "direction": pa.array(values, typ),
        }
    )
    said = rf"^scans: column `direction`: expected 0 \(entry\) or 1 \(exit\), found {found} at row"
    with pytest.raises(tg.SchemaError, match=said):
        tg.scans_to_stays(scans)
    ok = [0, None, 1][: len(values)]  # (null: an entry)
    fine = scans.set_column(3, "direction", pa.array(ok, typ))
    assert tg.scans_to_stays(fine).report.exits == ok.count(1)


# --------------------------------------------------------------------------- times


def test_epoch_numbers_held_as_text_are_told_to_be_cast():
    # bad_time said "expected ... a finite number" of a time that reads as one
    raw = scans_with().set_column(2, "time", pa.array(["1627779600", "1627779660"]))
    said = r"expected an ISO-8601 string, a timestamp or a finite number; epoch numbers held "
    with pytest.raises(tg.ScanRowError, match=r"row 0: rejected \(bad_time\): .*" + said):
        read_scans(raw, now=NOW)
    with pytest.warns(tg.DataWarning, match=r"as text are none of these: cast the column to int"):
        read_scans(raw, now=NOW, errors="quarantine")
    assert len(read_scans(raw.set_column(2, "time", raw["time"].cast(pa.int64())), now=NOW)) == 2


def test_directions_match_whichever_way_their_accents_are_written():
    # "Vào" with a combining grave accent (NFD, as some systems export text) was
    # bad_direction beside the same word composed (NFC), as a schema written in
    # Python source usually has it
    nfc, nfd = unicodedata.normalize("NFC", "Vào"), unicodedata.normalize("NFD", "Vào")
    assert nfc != nfd
    raw = pa.table(
        {
            "person": ["ann", "bob", "cy", "dan"],
            "venue": ["cafe"] * 4,
            "time": [ISO] * 4,
            "io": [nfc, nfd, " RA ", unicodedata.normalize("NFD", "VÀO")],
        }
    )
    for key in (nfc, nfd):
        schema = ScanSchema(
            person="person",
            venue="venue",
            time="time",
            direction="io",
            directions={key: "entry", "ra": "exit"},
        )
        assert schema.direction_map() == {nfc.lower(): "entry", "ra": "exit"}
        scans = read_scans(raw, schema=schema, now=NOW)
        assert scans.table["direction"].to_pylist() == ["entry", "entry", "exit", "entry"]
        _, report = tg.VenueIndex.from_scans(raw, schema=schema, now=NOW)
        assert report.stays.exits == 1 and report.scans.rejected == 0
    # the two ways of writing one value are one raw value: two meanings are refused
    with pytest.raises(tg.SchemaError, match="differ once trimmed and lower-cased"):
        ScanSchema(
            person="p", venue="v", time="t", direction="d", directions={nfc: "entry", nfd: "exit"}
        )
