"""QR compliance: how many registered venues actually use their QR code, per area and period.

In 2021 Hanoi's districts and wards kept accounts of the QR check-in roll-out: how many
venues had created (registered) a QR code, and how many of those venues actually had
scans, reported weekly; venues that kept ignoring reminders were suspended. This module
keeps those accounts from a venue registry and the scans:

- :func:`compliance`: per period (local day, ISO week or month) and area (district,
  ward, or any other registry columns): the venues registered by the period's end,
  the registered venues with at least one scan in the period, their share, and the
  scans per active venue. One row for every period and area, zeros included, so a
  plot has no gaps.
- :func:`inactive_venues`: the list a ward officer calls: registered venues without a
  scan in the last days, when each was last scanned, and the scanned venue ids that
  are missing from the registry.

The **registry** is a table with one row per venue: ``venue`` (integer or string id,
the same kind of id as in the scans), ``registered_at`` (zone-aware timestamp: when
the venue created its QR code), and the area columns, usually ``name``, ``district``,
``ward`` and an optional ``category``. :func:`tracegraph.synth.generate_city` makes one
(``City.registry``). The **scans** are a :class:`tracegraph.Scans` (from
:func:`tracegraph.read_scans`), a table with ``venue`` and zone-aware ``time``
columns (or a table of stays, whose ``start`` counts as the scan), or a
:class:`tracegraph.VenueIndex` (each stay's start is one scan).

Everything is vectorised with numpy and Arrow: one hash lookup of the distinct venue
ids in the registry, one binary search of each scan's time among the period
boundaries, and ``bincount`` over (period, area) cells; no Python loop per row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tracegraph._deps import require
from tracegraph._time import (
    FAR_PAST,
    MAX_TIME,
    MIN_TIME,
    day_start,
    day_starts,
    read_zone,
    refuse_nat,
    seconds_to_timestamp,
    to_seconds,
    zone_info,
)
from tracegraph._typing import I64, TableLike
from tracegraph.errors import SchemaError, TimezoneError
from tracegraph.index import VenueIndex, _common_int_type
from tracegraph.ingest import Scans, as_arrow_table, check_id_column, encode_ids

__all__ = [
    "COMPLIANCE_COLUMNS",
    "FREQS",
    "SCANS_KEY",
    "Freq",
    "InactiveVenues",
    "compliance",
    "inactive_venues",
    "scan_accounts",
]

#: A reporting period: ``"D"`` local days, ``"W"`` ISO weeks (Monday to Sunday, local
#: time), ``"MS"`` calendar months (from the first, local time).
Freq: TypeAlias = Literal["D", "W", "MS"]

#: The accepted ``freq`` values and what they mean.
FREQS: dict[str, str] = {
    "D": "local days",
    "W": "ISO weeks from Monday, local time",
    "MS": "calendar months from the 1st, local time",
}

#: The columns of :func:`compliance`'s table after ``period``, ``period_end`` and the
#: ``by`` columns.
COMPLIANCE_COLUMNS = ("registered", "active", "share", "scans", "scans_per_venue")

#: Refuse to build a compliance table larger than this (periods x areas); a registration
#: dated decades back with ``freq="D"`` would otherwise fill memory.
_MAX_ROWS = 50_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SECOND = dt.timedelta(seconds=1)
_DAY = 86_400


# =========================================================================== compliance


def compliance(
    registry: TableLike,
    scans: Scans | VenueIndex | TableLike,
    /,
    *,
    freq: Freq = "W",
    by: Sequence[str] | str = ("district", "ward"),
    tz: str = "UTC",
    start: Any = None,
    end: Any = None,
) -> pa.Table:
    """Registered venues, venues with scans, and scans, per period and area.

    Parameters
    ----------
    registry : pyarrow.Table, pandas.DataFrame or polars.DataFrame
        One row per venue: ``venue`` (integer or string ids, unique, no nulls),
        ``registered_at`` (zone-aware timestamps, no nulls) and the ``by`` columns.
    scans : Scans, VenueIndex, pyarrow.Table, pandas.DataFrame or polars.DataFrame
        The scans: a :class:`tracegraph.Scans`, a table with ``venue`` and
        zone-aware ``time`` columns (a table of stays without ``time`` is read by
        its ``start``), or a :class:`tracegraph.VenueIndex` (each stay's start is
        one scan). Venue ids must be of the registry's kind (both integers or both
        strings).
    freq : {"W", "D", "MS"}
        The period: ``"D"`` local days, ``"W"`` ISO weeks starting on Monday,
        ``"MS"`` calendar months. Periods start at local midnight in ``tz``.
    by : sequence of str or str
        Registry columns that define an area, outermost first; values are reported
        as strings (a null is an area of its own, sorted last). ``()`` gives one row
        per period for the whole registry.
    tz : str
        Zone of the periods: an IANA name (``"Asia/Ho_Chi_Minh"`` for Hanoi) or a
        fixed offset (``"+07:00"``), as :func:`tracegraph.trace` takes it.
    start, end : datetime, date, str, numpy.datetime64 or int, optional
        Report the periods that overlap ``[start, end)``. Dates and naive times
        are local times in ``tz``; ints are seconds since the epoch. Default: from
        the first to the last period holding a scan (the scans' coverage: outside
        it, no scan says nothing about compliance; a registry older than the scans
        kept would otherwise show weeks of 0 %), or, without scans, holding a
        registration (at least the period holding ``start``, when it is after them
        all).

    Returns
    -------
    pyarrow.Table
        One row per period and area, sorted by period then area (every area of the
        registry in every period). Columns, in order:

        - ``period``: ``timestamp[us, tz=<tz>]``, the period's start (local midnight);
        - ``period_end``: same type, the next period's start (exclusive);
        - one ``string`` column per ``by`` name;
        - ``registered`` (``int64``): the area's venues with
          ``registered_at < period_end``;
        - ``active`` (``int64``): those of them with at least one scan in
          ``[period, period_end)``;
        - ``share`` (``float64``): ``active / registered``, null when
          ``registered == 0``;
        - ``scans`` (``int64``): scans in the period at the venues counted in
          ``registered``;
        - ``scans_per_venue`` (``float64``): ``scans / active``, null when
          ``active == 0``.

        Every scan read is accounted for in the table's schema metadata: counted,
        or left out and why (:func:`scan_accounts` reads it).

    Raises
    ------
    SchemaError
        If a column is missing or has the wrong type, a venue id or time is null, a
        registry venue id is repeated, the registry's and the scans' venue ids are
        of different kinds, ``by`` names an unknown or clashing column, ``freq`` is
        not one of :data:`FREQS`, ``end`` is not after ``start`` (or, without
        ``start``, after the first scan), or the table would be huge.
    TimezoneError
        If ``tz`` is neither an IANA zone nor a fixed offset such as ``"+07:00"`` (a
        misspelt name is told the one likely meant), or ``registered_at`` or the
        scans' times are naive timestamps.

    See Also
    --------
    inactive_venues : the registered venues without recent scans, and unregistered ones.

    Notes
    -----
    A scan counts where it happened: at a venue of the registry, in the period
    holding its time, if the venue had registered by the period's end (a scan
    earlier than that is left out; so are scans at venues missing from the
    registry: :func:`inactive_venues` lists those; :func:`scan_accounts` counts
    both). Every accepted scan of a
    :class:`tracegraph.Scans` counts, exits included. Period boundaries are the
    local midnights of ``tz`` (the first instant of the day where a
    daylight-saving jump skips midnight), so days may last 23 or 25 hours.

    Cost: O(n log p) for n scans and p periods, plus a hash lookup of the distinct
    venue ids and O(p x areas) for the table.

    Examples
    --------
    >>> import pyarrow as pa, pyarrow.compute as pc
    >>> from tracegraph.compliance import compliance
    >>> def hanoi(texts):  # local times in Hanoi
    ...     return pc.assume_timezone(pa.array(texts).cast(pa.timestamp("s")), "Asia/Ho_Chi_Minh")
    >>> registry = pa.table({
    ...     "venue": ["pho", "cafe", "shop"],
    ...     "district": ["Ba Dinh", "Ba Dinh", "Hoan Kiem"],
    ...     "registered_at": hanoi(["2021-09-01 09:00", "2021-09-01 10:00", "2021-09-08 12:00"]),
    ... })
    >>> scans = pa.table({
    ...     "venue": ["pho", "pho", "shop", "market"],
    ...     "time": hanoi(["2021-09-06 07:00", "2021-09-13 07:30", "2021-09-14 18:00",
    ...                    "2021-09-14 19:00"]),
    ... })
    >>> weekly = compliance(registry, scans, by=("district",), tz="Asia/Ho_Chi_Minh")
    >>> weekly.column_names  # doctest: +NORMALIZE_WHITESPACE
    ['period', 'period_end', 'district', 'registered', 'active', 'share', 'scans',
     'scans_per_venue']
    >>> for row in weekly.to_pylist():
    ...     print(row["period"].date(), row["district"], row["registered"], row["active"],
    ...           row["share"], row["scans"])
    2021-09-06 Ba Dinh 2 1 0.5 1
    2021-09-06 Hoan Kiem 1 0 0.0 0
    2021-09-13 Ba Dinh 2 1 0.5 1
    2021-09-13 Hoan Kiem 1 1 1.0 1

    The weeks are those of the scans (the registrations of the week before add no
    row). The ``market`` is not in the registry: its scan is left out. A generated city, day
    by day (two venues registered on the second day, the registry-only ones):

    >>> daily = compliance(tiny_city.registry, tiny_city.stays, freq="D", by=(),
    ...                    tz=tiny_city.tz, start=tiny_city.start)
    >>> daily.select(["registered", "active"]).to_pylist()
    [{'registered': 12, 'active': 12}, {'registered': 14, 'active': 12}]
    """
    freq = _check_freq(freq)
    names = _check_by(by)
    zone = read_zone(tz)
    reg = _Registry.read(registry, names, every_column=False)
    seen = _read_scans(scans)
    position, _ = seen.positions(reg)

    # The periods: from start (or the first scan) to end (or the last); without
    # scans, the registrations'.
    first_s = None if start is None else _instant(start, "start", zone)
    end_s = None if end is None else _instant(end, "end", zone)
    if first_s is not None and end_s is not None and end_s <= first_s:
        raise SchemaError(f"`end`: expected a time after `start`, got start={start!r}, end={end!r}")
    times = seen.time if seen.time.size else reg.registered_at
    if first_s is None and times.size:
        first_s = int(times.min())
        if end_s is not None and end_s <= first_s:  # (an empty or a one-period table)
            what = "scan" if seen.time.size else "registration"
            raise SchemaError(
                f"`end`: expected a time after the first {what} (where the periods start "
                f"without start=), got end={end!r}; pass start= too, or a later end"
            )
    if end_s is None and times.size:
        end_s = int(times.max()) + 1
    if end_s is None or (end is None and first_s is not None and end_s <= first_s):
        # a start after every scan ("this week so far"): the period holding it, not none
        end_s = None if first_s is None else first_s + 1
    areas, area_of = _areas(reg.table, names)
    n_areas = areas.num_rows if names else 1
    if first_s is None or end_s is None:
        bounds = np.zeros(1, dtype=np.int64)
    else:
        try:
            bounds = _period_bounds(first_s, end_s - 1, freq, tz, n_areas)
        except OverflowError:  # a local date before the year 1 or after 9999
            raise SchemaError(
                f"compliance: expected times whose local dates in {tz} lie in the years "
                f"1-9999, got a scan or registration at the very edge of the calendar (a "
                f"placeholder date?); pass start= and end=, or fix those times"
            ) from None
    n_periods = bounds.shape[0] - 1

    # Registered: from the first period whose end is after the registration.
    joins = np.searchsorted(bounds[1:], reg.registered_at, side="right").astype(np.int64)
    ok = joins < n_periods
    cells = n_periods * n_areas
    new = np.bincount(joins[ok] * n_areas + area_of[ok], minlength=cells)
    registered = np.cumsum(new.reshape(n_periods, n_areas), axis=0).reshape(-1)

    # Scans: at registry venues, in a period, by a venue registered by its end.
    period = np.searchsorted(bounds, seen.time, side="right").astype(np.int64) - 1
    venue = position[seen.code]
    known = venue >= 0
    keep = known & (period >= 0) & (period < n_periods)
    n_outside = int(np.count_nonzero(known)) - int(np.count_nonzero(keep))
    period, venue = period[keep], venue[keep]
    keep = joins[venue] <= period
    n_early = int(keep.shape[0]) - int(np.count_nonzero(keep))
    period, venue = period[keep], venue[keep]
    accounts = {
        "read": int(seen.time.shape[0]) + seen.rejected + seen.duplicates,
        "counted": int(period.shape[0]),
        "unregistered_venue": int(seen.time.shape[0]) - int(np.count_nonzero(known)),
        "before_registration": n_early,
        "outside_periods": n_outside,
        "rejected": seen.rejected,
        "duplicates": seen.duplicates,
    }
    scan_counts = np.bincount(period * n_areas + area_of[venue], minlength=cells)
    pairs = _distinct(period * reg.size + venue, n_periods * reg.size)
    active_period, active_venue = np.divmod(pairs, max(reg.size, 1))
    active = np.bincount(active_period * n_areas + area_of[active_venue], minlength=cells)

    # The table.
    period_type = pa.timestamp("us", tz=tz)
    starts = np.repeat(bounds[:-1], n_areas) * 1_000_000
    ends = np.repeat(bounds[1:], n_areas) * 1_000_000
    columns: dict[str, pa.Array] = {
        "period": pa.array(starts, type=period_type),
        "period_end": pa.array(ends, type=period_type),
    }
    tile = pa.array(np.tile(np.arange(n_areas, dtype=np.int64), n_periods))
    for name in names:
        columns[name] = areas.column(name).take(tile).combine_chunks()
    columns["registered"] = pa.array(registered, type=pa.int64())
    columns["active"] = pa.array(active, type=pa.int64())
    columns["share"] = _ratio(active, registered)
    columns["scans"] = pa.array(scan_counts, type=pa.int64())
    columns["scans_per_venue"] = _ratio(scan_counts, active)
    return pa.table(columns).replace_schema_metadata({SCANS_KEY: json.dumps(accounts)})


#: The longest window of :func:`inactive_venues`, in days: the calendar's years 1-9999.
_MAX_DAYS = (MAX_TIME - MIN_TIME) // _DAY + 1

#: The key of :func:`compliance`'s schema metadata that accounts for every scan read.
SCANS_KEY = "tracegraph.scans"


def scan_accounts(report: pa.Table) -> dict[str, int]:
    """What became of the scans a :func:`compliance` report read.

    ``read == counted + unregistered_venue + before_registration + outside_periods
    + rejected + duplicates``: the scans counted in the report, and those left out
    because their venue is not in the registry (:func:`inactive_venues` lists those
    venues), because the venue registered only in a later period (a sign of a wrong
    registration date), because they fall outside the periods reported
    (``start``/``end``), or, for a :class:`tracegraph.Scans`, because
    :func:`tracegraph.read_scans` set them aside (``rejected`` with
    ``errors="quarantine"``, and ``duplicates``; both 0 for tables and indexes). For
    a :class:`tracegraph.VenueIndex`, ``read`` counts its stays (one scan each).

    The accounts are those of the report as :func:`compliance` made it, for all its
    areas and periods: a report filtered afterwards (one district, say) keeps them.

    Examples
    --------
    >>> from tracegraph.compliance import compliance, scan_accounts
    >>> report = compliance(tiny_city.registry, tiny_city.stays, by=(), tz=tiny_city.tz)
    >>> accounts = scan_accounts(report)
    >>> accounts["read"] == tiny_city.stays.num_rows == sum(
    ...     accounts[k] for k in ("counted", "unregistered_venue", "before_registration",
    ...                           "outside_periods", "rejected", "duplicates"))
    True
    """
    metadata = report.schema.metadata or {}
    raw = metadata.get(SCANS_KEY.encode())
    if raw is None:
        raise SchemaError(
            "expected a table made by tracegraph.compliance (its schema metadata holds "
            f"{SCANS_KEY!r}), got a table without it; metadata is lost by some operations "
            "(e.g. concatenating tables or converting to pandas): take the accounts first"
        )
    accounts: dict[str, int] = json.loads(raw)
    return accounts


def _ratio(num: I64, den: I64) -> pa.Array:
    """``num / den`` as float64, null where ``den == 0``."""
    zero = den == 0
    values = np.divide(num, np.where(zero, 1, den), dtype=np.float64)
    return pa.array(values, type=pa.float64(), mask=zero)


def _distinct(keys: I64, span: int) -> I64:
    """The distinct values of ``keys`` (all in ``[0, span)``), sorted."""
    if span <= max(4 * keys.shape[0], 1 << 22):
        seen = np.zeros(span, dtype=np.bool_)
        seen[keys] = True
        return np.flatnonzero(seen).astype(np.int64)
    return np.unique(keys)


# =========================================================================== inactive


@dataclasses.dataclass(frozen=True, repr=False)
class InactiveVenues:
    """The result of :func:`inactive_venues`: whom a ward officer calls.

    Attributes
    ----------
    inactive : pyarrow.Table
        Registered venues (``registered_at <= as_of``) without a scan in
        ``(as_of - days, as_of]``: every registry column, in the registry's order,
        then ``last_scan`` (``timestamp[us, tz=UTC]``, the latest scan up to
        ``as_of``, null if never scanned). Never-scanned venues first, then by
        ``last_scan``, oldest first; ties by venue id.
    unregistered : pyarrow.Table
        Venue ids scanned (up to ``as_of``) that are missing from the registry:
        ``venue`` (``int64``, ``uint64`` for ids of 2**63 and more, or ``string``: the
        type the ids were compared in),
        ``scans`` (``int64``), ``first_scan``
        and ``last_scan`` (``timestamp[us, tz=UTC]``). Most scans first; ties by id.
    as_of : datetime.datetime
        The end of the window (UTC).
    days : int
        The length of the window in days.
    n_registered : int
        The venues registered by ``as_of``.

    Examples
    --------
    >>> from tracegraph.compliance import inactive_venues
    >>> result = inactive_venues(tiny_city.registry, tiny_city.stays, days=1)
    >>> result  # doctest: +ELLIPSIS
    InactiveVenues(2 of 14 registered venues inactive for 1 day up to 2021-09-07 ...Z; 0 ...)
    >>> result.to_arrow().column_names[-2:]
    ['category', 'last_scan']
    """

    inactive: pa.Table
    unregistered: pa.Table
    as_of: dt.datetime
    days: int
    n_registered: int

    def __repr__(self) -> str:
        stamp = self.as_of.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"
        return (
            f"InactiveVenues({self.inactive.num_rows} of {self.n_registered} registered venues "
            f"inactive for {self.days} day{'s' if self.days != 1 else ''} up to {stamp}; "
            f"{self.unregistered.num_rows} unregistered venue ids)"
        )

    def _repr_html_(self) -> str:
        from tracegraph import _html

        try:
            summary = _html.definition_list(
                "Inactive venues",
                [
                    ("as of", self.as_of.isoformat()),
                    ("window", f"{self.days} day{'s' if self.days != 1 else ''}"),
                    ("registered", f"{self.n_registered:,}"),
                    ("inactive", f"{self.inactive.num_rows:,}"),
                    ("unregistered ids", f"{self.unregistered.num_rows:,}"),
                ],
            )
            inactive = _html.arrow_table(self.inactive, caption="inactive")
            missing = _html.arrow_table(self.unregistered, caption="not in the registry")
            return f"<div>{summary}{inactive}{missing}</div>"
        except Exception:  # a repr must never raise: the one-line summary instead
            return _html.fallback(self)

    def to_arrow(self) -> pa.Table:
        """The inactive venues (the ``inactive`` table).

        Examples
        --------
        >>> report = tg.inactive_venues(tiny_city.registry, tiny_city.stays, days=1)
        >>> report.to_arrow() is report.inactive
        True
        """
        return self.inactive

    def to_pandas(self) -> Any:
        """The inactive venues as a pandas DataFrame (``pip install tracegraph[pandas]``).

        Examples
        --------
        >>> report = tg.inactive_venues(tiny_city.registry, tiny_city.stays, days=1)
        >>> len(report.to_pandas()) == report.inactive.num_rows
        True
        """
        require("pandas", "pandas")
        return self.inactive.to_pandas()

    def to_polars(self) -> Any:
        """The inactive venues as a polars DataFrame (``pip install tracegraph[polars]``).

        Examples
        --------
        >>> report = tg.inactive_venues(tiny_city.registry, tiny_city.stays, days=1)
        >>> report.to_polars().height == report.inactive.num_rows
        True
        """
        pl = require("polars", "polars")
        return pl.from_arrow(self.inactive)


def inactive_venues(
    registry: TableLike,
    scans: Scans | VenueIndex | TableLike,
    /,
    *,
    days: int = 7,
    as_of: Any = None,
) -> InactiveVenues:
    """Registered venues without a scan in the last ``days`` days, and unregistered ids.

    Parameters
    ----------
    registry : pyarrow.Table, pandas.DataFrame or polars.DataFrame
        One row per venue: ``venue`` (integer or string ids, unique, no nulls),
        ``registered_at`` (zone-aware timestamps, no nulls), and any other columns
        (``name``, ``district``, ``ward``, a phone number, ...), which are passed on.
    scans : Scans, VenueIndex, pyarrow.Table, pandas.DataFrame or polars.DataFrame
        As for :func:`compliance`.
    days : int
        Length of the window, in days (of 86,400 s), at least 1.
    as_of : datetime, str, numpy.datetime64 or int, optional
        The window's end (included), zone-aware (ints are seconds since the epoch).
        Default: the latest scan. Scans after it are ignored.

    Returns
    -------
    InactiveVenues
        ``inactive``: the venues registered by ``as_of`` with no scan in
        ``(as_of - days, as_of]``, with ``last_scan``; ``unregistered``: scanned
        venue ids missing from the registry, with their scan counts. See
        :class:`InactiveVenues`.

    Raises
    ------
    SchemaError
        If a column is missing or has the wrong type, a venue id or time is null, a
        registry venue id is repeated, the registry's and the scans' venue ids are
        of different kinds, the registry has a ``last_scan`` column, ``days`` is not
        an integer >= 1, or there are no scans and no ``as_of``.
    TimezoneError
        If ``as_of``, ``registered_at`` or the scans' times are naive.

    See Also
    --------
    compliance : the weekly accounts per district and ward.

    Notes
    -----
    A venue registered within the window is listed too if it has no scan yet (its
    ``registered_at`` shows it): filter on ``registered_at`` for a grace period.
    Cost: O(n) for n scans plus a hash lookup of the distinct venue ids.

    Examples
    --------
    >>> import pyarrow as pa, pyarrow.compute as pc
    >>> from tracegraph.compliance import inactive_venues
    >>> def hanoi(texts):  # local times in Hanoi
    ...     return pc.assume_timezone(pa.array(texts).cast(pa.timestamp("s")), "Asia/Ho_Chi_Minh")
    >>> registry = pa.table({
    ...     "venue": ["pho", "cafe", "shop"],
    ...     "name": ["Pho Thin", "Cafe Giang", "Shop 12"],
    ...     "registered_at": hanoi(["2021-09-01 09:00"] * 3),
    ... })
    >>> scans = pa.table({
    ...     "venue": ["pho", "shop", "shop", "market"],
    ...     "time": hanoi(["2021-09-13 07:00", "2021-09-01 18:00", "2021-09-02 18:00",
    ...                    "2021-09-10 19:00"]),
    ... })
    >>> calls = inactive_venues(registry, scans, days=7)
    >>> calls
    InactiveVenues(2 of 3 registered venues inactive for 7 days up to 2021-09-13 00:00:00Z; ...)
    >>> calls.inactive.select(["venue", "name"]).to_pylist()
    [{'venue': 'cafe', 'name': 'Cafe Giang'}, {'venue': 'shop', 'name': 'Shop 12'}]
    >>> calls.inactive["last_scan"].cast(pa.string()).to_pylist()
    [None, '2021-09-02 11:00:00.000000Z']
    >>> calls.unregistered.select(["venue", "scans"]).to_pylist()
    [{'venue': 'market', 'scans': 1}]
    """
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        raise SchemaError(f"`days`: expected an integer >= 1, got {days!r}")
    if days > _MAX_DAYS:  # (a window beyond the calendar: every venue would be active)
        raise SchemaError(
            f"`days`: expected at most {_MAX_DAYS:,} (the years 1-9999), got {days!r}"
        )
    reg = _Registry.read(registry, (), every_column=True)
    if "last_scan" in reg.table.column_names:
        raise SchemaError(
            "registry: expected no column named `last_scan` (the result adds it), got one; "
            "rename or drop it"
        )
    seen = _read_scans(scans)
    position, scanned_ids = seen.positions(reg)
    if as_of is None:
        if not seen.time.size:
            raise SchemaError("`as_of`: expected a time, got None and no scans to take it from")
        until = int(seen.time.max())
    else:
        until = _instant(as_of, "as_of", None)
    since = until - int(days) * _DAY

    upto = seen.time <= until
    code, time = seen.code[upto], seen.time[upto]
    venue = position[code]

    # Registered venues: the latest scan up to as_of.
    known = venue >= 0
    last = np.full(reg.size, FAR_PAST, dtype=np.int64)
    np.maximum.at(last, venue[known], time[known])
    scanned = last != FAR_PAST
    pick = np.flatnonzero((reg.registered_at <= until) & (last <= since))
    rank = _rank(reg.ids)
    pick = pick[np.lexsort((rank[pick], last[pick]))]
    inactive = reg.table.take(pa.array(pick)).append_column(
        "last_scan", seconds_to_timestamp(last[pick], mask=~scanned[pick])
    )

    # Unregistered ids: scan counts, first and last scan, per distinct id.
    n_ids = len(seen.ids)
    missing = ~known
    counts = np.bincount(code[missing], minlength=n_ids)
    first = np.full(n_ids, np.iinfo(np.int64).max, dtype=np.int64)
    latest = np.full(n_ids, FAR_PAST, dtype=np.int64)
    np.minimum.at(first, code[missing], time[missing])
    np.maximum.at(latest, code[missing], time[missing])
    which = np.flatnonzero(counts)
    which = which[np.lexsort((which, -counts[which]))]  # ids are sorted: code order is id order
    unregistered = pa.table(
        {
            "venue": scanned_ids.take(pa.array(which)),
            "scans": pa.array(counts[which], type=pa.int64()),
            "first_scan": seconds_to_timestamp(first[which]),
            "last_scan": seconds_to_timestamp(latest[which]),
        }
    )
    as_of_dt = _EPOCH + dt.timedelta(seconds=until)
    n_registered = int(np.count_nonzero(reg.registered_at <= until))
    return InactiveVenues(inactive, unregistered, as_of_dt, int(days), n_registered)


# =========================================================================== inputs


@dataclasses.dataclass(frozen=True)
class _Registry:
    table: pa.Table  # the registry as given (dictionary columns as they are)
    ids: pa.Array  # venue ids, one per row, validated
    registered_at: I64  # epoch seconds

    @property
    def size(self) -> int:
        return int(self.table.num_rows)

    @classmethod
    def read(cls, registry: TableLike, by: tuple[str, ...], *, every_column: bool) -> _Registry:
        # (compliance reads only these columns; inactive_venues passes every one on)
        used = () if every_column else ("venue", "registered_at", *by)
        table = as_arrow_table(registry, "registry", used)
        for name in ("venue", "registered_at", *by):
            if name not in table.column_names:
                role = " (named in `by`)" if name in by else ""
                raise SchemaError(
                    f"registry: column `{name}`{role} not found; available: {table.column_names}"
                )
        if used:
            table = table.select(list(dict.fromkeys(used)))
        ids = check_id_column(table.column("venue"), "venue", "registry").combine_chunks()
        counts = pc.value_counts(ids)
        repeated = counts.filter(pc.greater(counts.field("counts"), 1))
        if len(repeated):
            raise SchemaError(
                f"registry: column `venue`: expected one row per venue, found {len(repeated)} "
                f"ids on several rows (e.g. {repeated.field('values')[0].as_py()!r}); "
                f"keep one row per venue"
            )
        registered_at = _seconds(table.column("registered_at"), "registered_at", "registry")
        return cls(table, ids, registered_at)


@dataclasses.dataclass(frozen=True)
class _Seen:
    """Scans as distinct venue ids (sorted), a code per scan and epoch seconds."""

    ids: pa.Array
    code: npt.NDArray[np.integer[Any]]  # int32 codes into ``ids``
    time: I64
    what: str
    # rows read_scans set aside (rejected: with errors="quarantine"; duplicates)
    rejected: int = 0
    duplicates: int = 0

    def positions(self, reg: _Registry) -> tuple[I64, pa.Array]:
        """Each distinct scanned id's row in the registry (``-1`` where absent).

        Also returns the ids in the type they were compared in (``int64`` or ``string``).
        """
        ids, registry_ids = _comparable(self.ids, reg.ids, self.what)
        found = pc.index_in(ids, value_set=registry_ids).fill_null(-1)
        rows = np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)
        return rows, ids


#: What compliance and inactive_venues take as scans (their error when given other).
_SCANS_EXPECTED = (
    "a tracegraph.Scans, a tracegraph.VenueIndex, or a table of scans or stays (pyarrow."
    "Table, pandas.DataFrame or polars.DataFrame)"
)


def _read_scans(scans: Scans | VenueIndex | TableLike) -> _Seen:
    if isinstance(scans, VenueIndex):
        return _Seen(scans.venues, scans.venue_of(), scans.start_seconds(), "index")
    if isinstance(scans, str | os.PathLike) or (
        isinstance(scans, list) and all(isinstance(x, str | os.PathLike) for x in scans)
    ):
        raise SchemaError(
            f"scans: expected {_SCANS_EXPECTED}, got a path; read the files first: "
            f"tg.read_scans(path) for scan files, tg.VenueIndex.open(path) for a saved index"
        )
    set_aside = (0, 0)
    if isinstance(scans, Scans):  # (accounted for: the rows read_scans set aside too)
        set_aside = (scans.report.rejected, scans.report.duplicates)
        scans = scans.table
    table = as_arrow_table(scans, "scans", ("venue", "time", "start"), expected=_SCANS_EXPECTED)
    if "time" in table.column_names:
        column = "time"
    elif "start" in table.column_names:
        column = "start"  # a table of stays: each stay began with a scan
    else:
        raise SchemaError(
            f"scans: column `time` not found; expected columns ['venue', 'time'] (or a table "
            f"of stays with 'venue' and 'start'), available: {table.column_names}"
        )
    if "venue" not in table.column_names:
        raise SchemaError(
            f"scans: column `venue` not found; expected columns ['venue', {column!r}], "
            f"available: {table.column_names}"
        )
    if not table.num_rows:  # (an empty pandas frame's object columns: Arrow's null type)
        table = table.select(["venue", column])
        table = table.cast(
            pa.schema(
                [
                    ("venue", _no_null(table["venue"].type, pa.string())),
                    (column, _no_null(table[column].type, pa.timestamp("s", tz="UTC"))),
                ]
            )
        )
    venues = check_id_column(table.column("venue"), "venue", "scans")
    time = _seconds(table.column(column), column, "scans")
    ids, code = encode_ids(venues)
    return _Seen(ids, code, time, "scans", *set_aside)


def _seconds(column: pa.ChunkedArray, name: str, what: str) -> I64:
    """A zone-aware timestamp column as epoch seconds, with messages naming the table."""
    typ = column.type
    if pa.types.is_date(typ):  # (a cast to UTC timestamps would move days west of UTC)
        raise SchemaError(
            f"{what}: column `{name}`: expected zone-aware timestamps, got {typ}; make "
            f"each date its local midnight, e.g. pyarrow.compute.assume_timezone("
            f"column.cast(pyarrow.timestamp('s')), 'Asia/Ho_Chi_Minh')"
        )
    if not pa.types.is_timestamp(typ):
        raise SchemaError(
            f"{what}: column `{name}`: expected zone-aware timestamps, got {typ}; convert "
            f"it, e.g. pyarrow.compute.cast(column, pyarrow.timestamp('s', tz='UTC'))"
        )
    if typ.tz is None:
        raise TimezoneError(
            f"{what}: column `{name}`: expected zone-aware timestamps, got naive {typ}; "
            f"attach the zone the times were recorded in, e.g. "
            f"pyarrow.compute.assume_timezone(column, 'Asia/Ho_Chi_Minh')"
        )
    if column.null_count:
        raise SchemaError(
            f"{what}: column `{name}`: expected no nulls, found {column.null_count}; "
            f"fill them in or drop those rows first"
        )
    seconds: I64 = to_seconds(column, name, None)
    return seconds


def _id_kind(typ: pa.DataType) -> str:
    return "integer" if pa.types.is_integer(typ) else "string"


def _comparable(scanned: pa.Array, registered: pa.Array, what: str) -> tuple[pa.Array, pa.Array]:
    """Both id arrays in one type (int64 or string), or a SchemaError saying how to fix it."""
    a, b = _id_kind(scanned.type), _id_kind(registered.type)
    if not len(scanned):  # (no scans: of any kind)
        return scanned.cast(registered.type), registered
    if a != b:
        raise SchemaError(
            f"venue ids: expected the same kind of ids in the registry and the {what}, got "
            f"{b} ids ({registered.type}) in the registry and {a} ids ({scanned.type}) in the "
            f"{what}; convert one side, e.g. pyarrow.compute.cast(registry['venue'], "
            f"pyarrow.{'string' if a == 'string' else 'int64'}())"
        )
    common = _common_int_type(scanned, registered) if a == "integer" else pa.string()
    return scanned.cast(common), registered.cast(common)


def _no_null(typ: pa.DataType, instead: pa.DataType) -> pa.DataType:
    """``typ``, or ``instead`` for Arrow's null type (an empty column of no type)."""
    return instead if pa.types.is_null(typ) else typ


def _rank(ids: pa.Array) -> I64:
    """Rank of each id in sorted order (ids are distinct)."""
    order = pc.array_sort_indices(ids).to_numpy(zero_copy_only=False)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank


def _areas(table: pa.Table, names: tuple[str, ...]) -> tuple[pa.Table, I64]:
    """The distinct areas (sorted, nulls last) as strings, and each registry row's area."""
    n = table.num_rows
    if not names:
        return pa.table({}), np.zeros(n, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    text: dict[str, pa.Array] = {}
    for name in names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        try:
            strings = column.cast(pa.string()).combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(
                f"registry: column `{name}` (named in `by`): expected strings or values that "
                f"convert to strings, got {column.type}"
            ) from exc
        text[name] = strings
        encoded = pc.dictionary_encode(strings, null_encoding="encode")
        values = encoded.dictionary
        order = pc.array_sort_indices(values, null_placement="at_end").to_numpy()
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order), dtype=np.int64)
        codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
        # lexicographic (earlier names first), kept dense so the key never overflows
        key = np.unique(key * max(len(values), 1) + codes, return_inverse=True)[1]
        key = np.asarray(key, dtype=np.int64).reshape(-1)
    first = np.unique(key, return_index=True)[1]
    areas = pa.table({name: text[name].take(pa.array(first)) for name in names})
    return areas, key


# =========================================================================== arguments


def _check_freq(freq: object) -> Freq:
    if not isinstance(freq, str) or freq not in FREQS:  # (a list would be unhashable)
        valid = ", ".join(f"{k!r} ({v})" for k, v in FREQS.items())
        raise SchemaError(f"`freq`: expected one of {valid}, got {freq!r}")
    return freq  # type: ignore[return-value]


_OUTPUT = ("period", "period_end", *COMPLIANCE_COLUMNS)


def _check_by(by: object) -> tuple[str, ...]:
    if isinstance(by, str):
        by = (by,)
    if not isinstance(by, Sequence) or not all(isinstance(name, str) for name in by):
        raise SchemaError(
            f"`by`: expected a sequence of registry column names such as "
            f"('district', 'ward'), got {by!r}"
        )
    names = tuple(by)
    if len(set(names)) != len(names):
        raise SchemaError(f"`by`: expected distinct column names, got {names!r}")
    clash = [name for name in names if name in _OUTPUT]
    if clash:
        raise SchemaError(
            f"`by`: expected area columns whose names differ from the output's {list(_OUTPUT)}, "
            f"got {clash[0]!r}; rename that registry column"
        )
    return names


def _instant(value: Any, name: str, zone: dt.tzinfo | None) -> int:
    """An instant as epoch seconds (floored); dates and naive times are local in ``zone``.

    Without a ``zone``, naive datetimes are refused, but a numpy.datetime64 (which has
    no zone, and which pandas makes of UTC times) is read as UTC. The instant must lie
    in the years 1-9999.
    """
    refuse_nat(value, name)
    seconds = _instant_unchecked(value, name, zone)
    if not MIN_TIME <= seconds <= MAX_TIME:
        raise SchemaError(
            f"`{name}`: expected a time in the years 1-9999 (ints are seconds since the "
            f"epoch), got {value!r}; milliseconds or nanoseconds? divide them to seconds"
        )
    return seconds


def _instant_unchecked(value: Any, name: str, zone: dt.tzinfo | None) -> int:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.datetime64) and zone is None:
        return int(value.astype("datetime64[s]").astype(np.int64))  # (numpy's: as UTC)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise SchemaError(
                f"`{name}`: expected an ISO-8601 date or time such as '2021-09-06' or "
                f"'2021-09-06T00:00:00+07:00', got {value!r}"
            ) from None
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()  # naive
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if not isinstance(value, dt.datetime):
        raise SchemaError(
            f"`{name}`: expected a datetime, date, ISO-8601 str, numpy.datetime64 or int "
            f"seconds, got {type(value).__name__}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        if zone is None:
            raise TimezoneError(
                f"`{name}`: expected a zone-aware time, got naive {value.isoformat()!r}; "
                f"attach its zone, e.g. datetime(..., tzinfo=zoneinfo.ZoneInfo('Asia/Ho_Chi_Minh'))"
            )
        try:
            value = value.replace(tzinfo=zone)
            return int((value - _EPOCH) // _SECOND)
        except OverflowError:  # (a local time at the very start or end of the calendar)
            raise SchemaError(
                f"`{name}`: expected a time in the years 1-9999, got {value!r}"
            ) from None
    return int((value - _EPOCH) // _SECOND)


def _floor(day: dt.date, freq: Freq) -> dt.date:
    if freq == "W":
        return day - dt.timedelta(days=day.weekday())
    if freq == "MS":
        return day.replace(day=1)
    return day


def _next(day: dt.date, freq: Freq) -> dt.date:
    if freq == "W":
        return day + dt.timedelta(days=7)
    if freq == "MS":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=1)


def _count(first: dt.date, last: dt.date, freq: Freq) -> int:
    if freq == "MS":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return (last - first).days // (7 if freq == "W" else 1) + 1


def _local_date(seconds: int, zone: dt.tzinfo) -> dt.date:
    return (_EPOCH + dt.timedelta(seconds=seconds)).astimezone(zone).date()


def _period_of(seconds: int, freq: Freq, tz: str) -> dt.date:
    """The first local day of the period holding an instant.

    The period of the instant's local date, unless clocks went back across midnight
    (an instant then shows the previous date after the next day's first midnight).
    """
    day = _floor(_local_date(seconds, zone_info(tz)), freq)
    try:
        after = _next(day, freq)
        return after if day_start(after, tz) <= seconds else day
    except OverflowError:  # the last period of year 9999: no next one
        return day


def _period_bounds(first: int, last: int, freq: Freq, tz: str, n_areas: int) -> I64:
    """Starts of the periods holding ``first`` .. ``last`` (in ``tz``), then the last one's end."""
    lo = _period_of(first, freq, tz)
    hi = _period_of(last, freq, tz)
    if hi < lo:
        return np.zeros(1, dtype=np.int64)
    n = _count(lo, hi, freq)
    if n * max(n_areas, 1) > _MAX_ROWS:
        raise SchemaError(
            f"compliance: expected at most {_MAX_ROWS:,} rows, got {n:,} periods from "
            f"{lo.isoformat()} to {hi.isoformat()} x {n_areas:,} areas; pass start= and end=, "
            f"or a longer freq"
        )
    days = [lo]
    try:
        for _ in range(n):
            days.append(_next(days[-1], freq))
    except OverflowError:
        raise SchemaError(
            f"compliance: expected times before the year 9999, got a period from {hi}"
        ) from None
    # a calendar day a zone skipped whole (Apia's 30 December 2011) starts where the
    # next one does: no period of zero length, no period shown twice
    walls = np.array([(day - _EPOCH.date()).days * 86_400 for day in days], dtype=np.int64)
    return np.unique(day_starts(walls, tz))  # (all days in one call: fast)
