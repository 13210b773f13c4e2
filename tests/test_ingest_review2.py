"""The scan-ingest path's answers to a second review: each test is one finding.

Instants beyond the calendar in the ``not_before``-after-``now`` error; ScanSchema's zone
checked when the schema is made.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import tracegraph as tg
from tracegraph.ingest import read_scans

ISO = "2021-08-01T08:00:00Z"


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
        ("", tg.TimezoneError, r"expected a valid IANA zone name, got ''$"),
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
