"""The scan-ingest path's answers to a second review: each test is one finding.

Instants beyond the calendar in the ``not_before``-after-``now`` error.
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
