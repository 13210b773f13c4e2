"""Every public call given arguments of the wrong kind raises a tracegraph error.

Values of every kind (None, text, negative, fractional, bool, containers, bytes, NaN,
an integer beyond 64 bits, an arbitrary object) go to each argument of the public
API in turn: each call succeeds or raises a :class:`tracegraph.TracegraphError` (which
derives from the builtin a caller would catch, with a message saying what was
expected), never a raw ``TypeError``/``ValueError``/``OverflowError`` from numpy,
Arrow, numba or matplotlib, as some did before they were checked.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

import tracegraph as tg

WRONG = [None, "x", -1, 1.5, True, [1], ["W"], {"a": 1}, object(), b"x", float("nan"), 2**70]


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    city = tg.synth.generate_city(200, days=1, seed=1)
    index = tg.VenueIndex.from_stays(city.stays)
    case = city.stays["person"][0].as_py()
    result = tg.trace(index, [case], tiers=2)
    scans = pa.table({"person": ["a"], "venue": ["v"], "time": ["2021-09-06T08:00:00+07:00"]})
    return {"city": city, "index": index, "case": case, "result": result, "scans": scans}


def _calls(w: dict[str, Any], tmp: Any) -> dict[str, Callable[[Any], Any]]:
    city, index, case, result, scans = (w[k] for k in ("city", "index", "case", "result", "scans"))
    venue = city.stays["venue"][0].as_py()
    return {
        "trace(tiers=)": lambda b: tg.trace(index, [case], tiers=b),
        "trace(min_overlap=)": lambda b: tg.trace(index, [case], min_overlap=b),
        "trace(linger=)": lambda b: tg.trace(index, [case], linger=b),
        "trace(infectious_for=)": lambda b: tg.trace(index, [case], infectious_for=b),
        "trace(policy=)": lambda b: tg.trace(index, [case], policy=b),
        "trace(cumulative=)": lambda b: tg.trace(index, [case], cumulative=b),
        "trace(unknown=)": lambda b: tg.trace(index, [case], unknown=b),
        "trace(day_tz=)": lambda b: tg.trace(index, [case], day_tz=b),
        "trace(cases)": lambda b: tg.trace(index, b),
        "trace(progress=)": lambda b: tg.trace(index, [case], progress=b),
        "risk(day_tz=)": lambda b: result.risk(day_tz=b),
        "risk(levels=)": lambda b: result.risk(levels=b),
        "explain": lambda b: result.explain(b),
        "first_exposure_venues": lambda b: result.first_exposure_venues(b),
        "locations_of_interest(sources=)": lambda b: result.locations_of_interest(sources=b),
        "write_table(format=)": lambda b: tg.write_table(result.contacts, tmp / "t.csv", format=b),
        "write_graph(format=)": lambda b: result.write_graph(tmp / "g.graphml", format=b),
        "stays_of": lambda b: index.stays_of(b),
        "stays_at(start)": lambda b: index.stays_at(venue, b, 10),
        "purge(before=)": lambda b: index.purge(before=b),
        "append": lambda b: index.append(b),
        "from_stays(bucket_width=)": lambda b: tg.VenueIndex.from_stays(city.stays, bucket_width=b),
        "present_at(min_overlap=)": lambda b: tg.present_at(
            index, result.locations_of_interest(), min_overlap=b
        ),
        "copresent_pairs(min_overlap=)": lambda b: tg.copresent_pairs(index, min_overlap=b),
        "compliance(freq=)": lambda b: tg.compliance(city.registry, city.stays, freq=b),
        "compliance(by=)": lambda b: tg.compliance(city.registry, city.stays, by=b),
        "compliance(start=)": lambda b: tg.compliance(city.registry, city.stays, start=b),
        "inactive_venues(days=)": lambda b: tg.inactive_venues(city.registry, city.stays, days=b),
        "clusters(cases)": lambda b: tg.clusters(index, b),
        "read_scans(source)": lambda b: tg.read_scans(b),
        "read_scans(errors=)": lambda b: tg.read_scans(scans, errors=b),
        "read_scans(batch_size=)": lambda b: tg.read_scans(scans, batch_size=b),
        "read_scans(now=)": lambda b: tg.read_scans(scans, now=b),
        "ScanSchema(time_unit=)": lambda b: tg.ScanSchema("person", "venue", "time", time_unit=b),
        "from_scans(default_dwell=)": lambda b: tg.VenueIndex.from_scans(scans, default_dwell=b),
        "from_scans(venue_dwell=)": lambda b: tg.VenueIndex.from_scans(scans, venue_dwell=b),
        "pseudonymize(key)": lambda b: tg.pseudonymize(["a"], b),
        "MatchPolicy(high_risk=)": lambda b: tg.MatchPolicy(high_risk=b),
        "MatchPolicy(bucket=)": lambda b: tg.MatchPolicy(bucket=b),
        "generate_city(people)": lambda b: tg.synth.generate_city(b, days=1),
        "generate_city(tz=)": lambda b: tg.synth.generate_city(10, days=1, tz=b),
        "set_progress": lambda b: tg.set_progress(b),
    }


def test_wrong_kinds_of_arguments_raise_tracegraph_errors(world, tmp_path) -> None:
    raw = []
    try:
        for name, call in _calls(world, tmp_path).items():
            for value in WRONG:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # (DataWarnings of odd data)
                        call(value)
                except tg.TracegraphError:
                    pass
                except Exception as exc:  # (what this test looks for)
                    raw.append(f"{name} with {value!r:.20}: {type(exc).__name__}: {exc}"[:200])
    finally:
        tg.set_progress(None)
    assert not raw, "\n".join(raw)
