"""Progress bars: shown when asked for, quiet by default when nobody watches."""

from __future__ import annotations

import sys

import pytest

import tracegraph as tg
from tracegraph.errors import TracegraphError


@pytest.fixture(autouse=True)
def _auto_setting():
    tg.set_progress(None)
    yield
    tg.set_progress(None)


@pytest.fixture
def city():
    return tg.synth.generate_city(200, days=1, seed=3)


def first_person(city):
    return city.stays["person"][0].as_py()


def test_explicit_progress_shows_bars_for_build_and_trace(city, capsys):
    pytest.importorskip("tqdm")
    index = tg.VenueIndex.from_stays(city.stays, progress=True)
    tg.trace(index, [first_person(city)], tiers=2, progress=True)
    err = capsys.readouterr().err
    assert "building index" in err
    assert "tracing" in err


def test_auto_is_quiet_when_not_attached_to_a_terminal(city, capsys):
    index = tg.VenueIndex.from_stays(city.stays)
    tg.trace(index, [first_person(city)], tiers=2)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_global_setting_applies_and_explicit_argument_wins(city, capsys):
    pytest.importorskip("tqdm")
    tg.set_progress(True)
    index = tg.VenueIndex.from_stays(city.stays)
    assert "building index" in capsys.readouterr().err
    tg.VenueIndex.from_stays(city.stays, progress=False)
    assert capsys.readouterr().err == ""
    tg.set_progress(False)
    tg.trace(index, [first_person(city)])
    assert capsys.readouterr().err == ""


def test_missing_tqdm_is_an_error_only_when_asked_for(city, monkeypatch, capsys):
    for name in ("tqdm", "tqdm.auto", "tqdm.std"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    with pytest.raises(TracegraphError, match=r"needs tqdm.*tracegraph\[progress\]"):
        tg.VenueIndex.from_stays(city.stays, progress=True)
    tg.VenueIndex.from_stays(city.stays)  # auto: silently off
    assert capsys.readouterr().err == ""


def test_set_progress_checks_its_argument():
    with pytest.raises(TypeError, match="expected True, False or None"):
        tg.set_progress("yes")


def test_progress_arguments_are_checked_too(city, capsys):
    # ("no" is truthy: it showed a bar; now every call says what it expected)
    index = tg.VenueIndex.from_stays(city.stays)
    calls = (
        lambda p: tg.VenueIndex.from_stays(city.stays, progress=p),
        lambda p: tg.trace(index, [first_person(city)], progress=p),
        lambda p: tg.read_scans(city.stays.slice(0, 0), progress=p),
    )
    for call in calls:
        for bad in ("no", 1):
            with pytest.raises(tg.ArgumentError, match=r"^`progress`: expected True, False or No"):
                call(bad)
    assert capsys.readouterr().err == ""


def test_numpy_bools_are_bools_to_progress(city, capsys):
    import numpy as np

    tg.VenueIndex.from_stays(city.stays, progress=np.False_)
    assert capsys.readouterr().err == ""


def test_a_bad_progress_is_refused_before_the_cases_are_read(city):
    # the cases were resolved first: a DataWarning about their windows came before the
    # ArgumentError, and the trace state taken from the index's pool was dropped
    import warnings

    import pyarrow as pa

    index = tg.VenueIndex.from_stays(city.stays)
    year_2000 = pa.array([946_684_800], pa.timestamp("s", tz="UTC"))
    cases = pa.table({"person": [first_person(city)], "start": year_2000, "end": year_2000})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (a DataWarning would fail the call first)
        with pytest.raises(tg.ArgumentError, match=r"^`progress`: expected True, False or No"):
            tg.trace(index, cases, progress="no")
    with pytest.warns(tg.DataWarning, match="none of the 1 cases has a stay inside"):
        tg.trace(index, cases, progress=False)
