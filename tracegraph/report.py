"""Trace → reports: locations of interest, risk per contact, explanations, venues, clusters.

Everything here is computed from a :class:`~tracegraph.Trace` (or, for
:func:`clusters`, a trace it runs), on integer codes, with the same kernels and the
same policy as the trace itself; ids are decoded only in the tables returned.

* :meth:`Trace.locations_of_interest` — the exposure windows a health department
  publishes: per venue, merged where they overlap, with the cases behind them and
  the people found.
* :meth:`Trace.risk` — per contact: overlap minutes (total and longest), the policy's
  risk score and level, and the crowd present during the exposure window.
* :meth:`Trace.explain` — the chain from a case to a person, hop by hop.
* :meth:`Trace.venues` — venues ranked by people exposed (superspreading sites).
* :func:`clusters` — cases linked by shared exposure, directly or through contacts.
* :func:`write_table` — any of these tables to CSV or Parquet.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracegraph import _html, _kernels
from tracegraph._time import (
    check_zone_name,
    format_duration,
    format_instant,
    local_days,
    local_to_utc,
    next_midnight,
    seconds_to_timestamp,
)
from tracegraph._typing import TableLike
from tracegraph.errors import ArgumentError, PersonNotFound, SchemaError
from tracegraph.ingest import as_arrow_table, as_path, ids_array
from tracegraph.policy import CWA_WEIGHTS

if TYPE_CHECKING:
    from tracegraph.exposure import Trace, _Tier
    from tracegraph.index import VenueIndex

__all__ = ["Explanation", "clusters", "write_table"]

_DAY = 86_400
_DEFAULT_LEVEL = 5  # CWA's default transmission-risk level (weight 1.0)
#: The CWA weights in whole tenths (they are tenths: 0.6, 0.8, ...).
_CWA_TENTHS = np.rint(np.asarray(CWA_WEIGHTS) * 10).astype(np.int64)


# --------------------------------------------------------------------------- shared pieces


@dataclass(frozen=True)
class _Pairs:
    """Every qualifying stay pair of a trace, as codes (one row per pair)."""

    source: np.ndarray  # int32 person codes
    target: np.ndarray
    venue: np.ndarray  # int32 venue code of the target's stay
    start: np.ndarray  # int64 overlap start
    end: np.ndarray
    tier: np.ndarray  # int8 tier of the target
    stay: np.ndarray | None = None  # the target's stay (index row), when asked for


def _all_pairs(trace: Trace, tiers: Iterable[int] | None = None, *, stays: bool = False) -> _Pairs:
    """The trace's pairs of ``tiers`` (all: None); ``stays``: with the targets' stays."""
    from tracegraph.exposure import _tier_pairs

    sp = trace._pairs
    wanted = None if tiers is None else set(tiers)
    cols: list[list[np.ndarray]] = [[] for _ in range(7)]
    for t in sp.tiers:
        if wanted is not None and t.number not in wanted:
            continue
        excluded = (sp.tier >= 0) & (sp.tier < t.number)
        for part in _tier_pairs(sp.index, t, excluded, sp.rules, stays=stays):
            for k, values in enumerate(part[:5]):
                cols[k].append(values)
            cols[5].append(np.full(part[0].shape[0], t.number, dtype=np.int8))
            if stays:
                cols[6].append(np.asarray(part[5], dtype=np.int64))
    dtypes = (np.int32, np.int32, np.int32, np.int64, np.int64, np.int8, np.int64)
    arrays = [np.concatenate(c) if c else np.empty(0, d) for c, d in zip(cols, dtypes, strict=True)]
    source, target, venue, start, end, tier, stay = arrays
    return _Pairs(source, target, venue, start, end, tier, stay if stays else None)


@dataclass(frozen=True)
class _Windows:
    """Exposure windows merged per (owner, venue key): sorted, disjoint within a key."""

    key: np.ndarray  # int64 merge key
    venue: np.ndarray  # int32 venue code of the first window merged
    start: np.ndarray  # int64
    end: np.ndarray
    owners: np.ndarray  # number of distinct source persons merged into each window
    row_window: np.ndarray  # merged window of each raw window, in raw order
    raw_person: np.ndarray  # int32 source person of each raw window


def _venue_keys(trace: Trace, venue: np.ndarray) -> np.ndarray:
    """The venue codes as matching keys: case-folded groups under a casefold policy."""
    from tracegraph.exposure import _case_groups, _is_string

    index = trace.index
    if trace.policy.venue_match == "casefold" and _is_string(index.venues.type):
        keys: np.ndarray = _case_groups(index).group[venue].astype(np.int64)
        return keys
    return venue.astype(np.int64)


def _venue_groups(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """Each venue code's key as the policy matches venues, and each key's name.

    Under casefold, ids differing in case are one venue, named by its first id in
    code order; otherwise every code is its own key and name.
    """
    key_of = _venue_keys(trace, np.arange(trace.index.n_venues))
    n = int(key_of.max(initial=-1)) + 1
    name_of = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(name_of, key_of, np.arange(trace.index.n_venues))  # the first code of each key
    return key_of, name_of


def ranked_venues(trace: Trace, counts: np.ndarray, n: int, column: str) -> pa.Table:
    """The ``n`` venues of the largest ``counts``, busiest first (ties in code order).

    ``counts`` are per venue code, summed per venue as the policy matches venues (see
    :func:`_venue_groups`). Columns ``venue`` and ``column``.
    """
    key_of, name_of = _venue_groups(trace)
    summed = np.bincount(key_of, weights=counts, minlength=name_of.shape[0]).astype(np.int64)
    order = np.lexsort((name_of, -summed))[:n]
    order = order[summed[order] > 0]
    return pa.table(
        {
            "venue": trace.index.venues.take(pa.array(name_of[order])),
            column: pa.array(summed[order], type=pa.int64()),
        }
    )


def _raw_windows(trace: Trace, tiers: tuple[_Tier, ...]) -> tuple[np.ndarray, ...]:
    from tracegraph.exposure import _policy_windows

    sp = trace._pairs
    persons, venues, starts, ends = [], [], [], []
    for t in tiers:
        stay, start, end = _policy_windows(sp.index, t, sp.rules)
        persons.append(sp.index.person[stay])
        venues.append(sp.index.venue_of(stay))
        starts.append(start)
        ends.append(end)
    if not persons:
        empty32, empty64 = np.empty(0, np.int32), np.empty(0, np.int64)
        return empty32, empty32, empty64, empty64
    return tuple(np.concatenate(x) for x in (persons, venues, starts, ends))


def _key_width(trace: Trace) -> int:
    """One more than the largest venue key of the index.

    (person, venue) keys are ``person * width + venue key``: the same in every set of
    windows, whichever venues it has.
    """
    return int(_venue_keys(trace, np.arange(trace.index.n_venues)).max(initial=0)) + 1


def _merge(
    trace: Trace,
    tiers: tuple[_Tier, ...],
    *,
    per_person: bool,
) -> _Windows:
    """The tiers' exposure windows merged per venue (and per person if asked)."""
    person, venue, start, end = _raw_windows(trace, tiers)
    key = _venue_keys(trace, venue)
    if per_person:  # (person, venue) keys, as _crowds looks them up
        key = person.astype(np.int64) * _key_width(trace) + key
    order = np.lexsort((start, key))
    group = np.empty(order.shape[0], dtype=np.int64)
    n = int(
        _kernels.merge_windows(
            key[order], start[order], end[order], trace.policy.rule == "closed", group
        )
    )
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if n else np.empty(0, np.int64)
    merged_end = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(merged_end, group, end[order])
    row_window = np.empty(order.shape[0], dtype=np.int64)
    row_window[order] = group
    return _Windows(
        key=key[order][first],
        venue=venue[order][first],
        start=start[order][first],
        end=merged_end,
        owners=_distinct_counts(group, person[order], n),
        row_window=row_window,
        raw_person=person,
    )


def _distinct_counts(group: np.ndarray, value: np.ndarray, n_groups: int) -> np.ndarray:
    """Number of distinct ``value`` per ``group`` (int64, length ``n_groups``)."""
    if group.shape[0] == 0:
        return np.zeros(n_groups, dtype=np.int64)
    order = np.lexsort((value, group))
    g, v = group[order], value[order]
    new = np.r_[True, (g[1:] != g[:-1]) | (v[1:] != v[:-1])]
    return np.bincount(g[new], minlength=n_groups).astype(np.int64)


def _locate(windows: _Windows, key: np.ndarray, time: np.ndarray, closed: bool) -> np.ndarray:
    """The merged window (or -1) holding each (key, time)."""
    out = np.empty(key.shape[0], dtype=np.int64)
    _kernels.find_windows(windows.key, windows.start, windows.end, key, time, closed, out)
    return out


def _first_exposures(pairs: _Pairs) -> np.ndarray:
    """Row of each target's first exposure (earliest overlap start; ties: venue, source).

    Ties in time go to the smallest venue code, as tracing records first venues
    (:meth:`Trace.first_exposure_venues`), then to the smallest source code.
    """
    order = np.lexsort((pairs.source, pairs.venue, pairs.start, pairs.target))
    t = pairs.target[order]
    first = np.r_[True, t[1:] != t[:-1]] if t.shape[0] else np.zeros(0, np.bool_)
    rows: np.ndarray = order[first]
    return rows


# --------------------------------------------------------------------------- LOI


def _require_tier_one(trace: Trace, what: str) -> None:
    """An ArgumentError for a trace of ``tiers=0``, whose answer would read as "none"."""
    if trace.params.get("tiers") == 0:
        raise ArgumentError(
            f"{what}: expected a trace of tiers >= 1 (the cases' windows are matched in "
            f"tier 1, which a trace with tiers=0 skips); trace again with tiers=1"
        )


def locations_of_interest(
    trace: Trace, *, sources: Literal["cases", "all"] = "cases", tz: str | None = None
) -> pa.Table:
    """See :meth:`tracegraph.Trace.locations_of_interest`."""
    if sources not in ("cases", "all"):
        raise ArgumentError(f"`sources`: expected 'cases' or 'all', got {sources!r}")
    if tz is not None:
        check_zone_name(tz, "tz")
    _require_tier_one(trace, "locations_of_interest")
    sp = trace._pairs
    tiers = sp.tiers[:1] if sources == "cases" else sp.tiers
    windows = _merge(trace, tiers, per_person=False)
    pairs = _all_pairs(trace, [t.number for t in tiers])
    closed = trace.policy.rule == "closed"
    where = _locate(windows, _venue_keys(trace, pairs.venue), pairs.start, closed)
    found = where >= 0
    exposed = _distinct_counts(where[found], pairs.target[found], windows.key.shape[0])
    order = np.lexsort((windows.venue, windows.start))
    index = trace.index
    return pa.table(
        {
            "venue": index.venues.take(pa.array(windows.venue[order])),
            "start": _in_zone(seconds_to_timestamp(windows.start[order]), tz),
            "end": _in_zone(seconds_to_timestamp(windows.end[order]), tz),
            "cases": pa.array(windows.owners[order], pa.int64()),
            "exposed": pa.array(exposed[order], pa.int64()),
        }
    )


def _in_zone(times: pa.Array, tz: str | None) -> pa.Array:
    """UTC timestamps shown in ``tz`` (the same instants; None: left in UTC)."""
    return times if tz is None else times.cast(pa.timestamp(times.type.unit, tz=tz))


# --------------------------------------------------------------------------- risk


def risk(trace: Trace, *, levels: Any = None, day_tz: str | None = None) -> pa.Table:
    """See :meth:`tracegraph.Trace.risk`."""
    index = trace.index
    policy = trace.policy
    from tracegraph.exposure import _pair_pieces

    if day_tz is None:  # the trace's days (UTC unless it was given a zone)
        day_tz = str(trace.params.get("day_tz", "UTC"))
    check_zone_name(day_tz, "day_tz")

    cwa = policy.risk == "cwa"  # (scored per check-in: the targets' stays are needed)
    empty = isinstance(levels, dict | pa.Table) and not len(levels)  # (none given, as None)
    if not cwa and levels is not None and not empty:
        raise ArgumentError(
            f"`levels`: transmission-risk levels weigh risk only under the 'cwa' risk "
            f"model, and this trace's policy {policy.name!r} scores minutes; trace with "
            f"policy='cwa' (or a MatchPolicy with risk='cwa') to weigh them, or leave "
            f"levels out"
        )
    pairs = _all_pairs(trace, stays=cwa)
    contacts = trace.contacts
    n_persons = index.n_persons

    # the time each target spent with each source: a pair of persons' overlaps merged
    # where they overlap (duplicated or overlapping stays count once); the pieces come
    # in (target, source, start) order
    _, source, target, start, end = _pair_pieces(pairs.source, pairs.target, pairs.start, pairs.end)
    seconds = end - start
    # minutes with each source: their seconds summed, then rounded once (ten visits of
    # 90 s are 15 minutes, not ten times one)
    pair_first = _run_starts(target, source)
    pair_minutes = policy.minutes(np.add.reduceat(seconds, pair_first)) if seconds.size else seconds
    total = np.zeros(n_persons, dtype=np.int64)
    np.add.at(total, target[pair_first], pair_minutes)
    longest = np.zeros(n_persons, dtype=np.int64)
    np.maximum.at(longest, target, policy.minutes(seconds))

    # split every overlap at the midnights of `day_tz`; score each (target, day): per
    # source, the day's seconds rounded once to minutes and weighted by the source's
    # level that day (CWA: each check-in and day apart, see _cwa_scores)
    row, day, piece = _day_pieces(start, end, day_tz)
    worst = np.zeros(n_persons, dtype=np.int64)
    if levels is not None and not row.shape[0]:  # checked without pairs all the same
        _levels(index, levels, np.empty(0, np.int64), np.empty(0, np.int64), day_tz)
    if cwa:
        _cwa_scores(trace, pairs, levels, day_tz, worst)
    elif row.shape[0]:
        order = np.lexsort((source[row], day, target[row]))
        t, d, src = target[row][order], day[order], source[row][order]
        by_source = _run_starts(t, d, src)  # (target, day, source) runs
        day_seconds = np.add.reduceat(piece[order], by_source)
        # scores in whole tenths (the CWA weights are tenths): exact sums, so a score of
        # exactly the threshold is not 9.999999999999998 and "low"
        weight = np.full(by_source.shape[0], 10, dtype=np.int64)
        score = weight * policy.minutes(day_seconds)
        by_day = _run_starts(t[by_source], d[by_source])
        per_day = np.add.reduceat(score, by_day)
        np.maximum.at(worst, t[by_source][by_day], per_day)

    first = _first_exposures(pairs)
    crowd = np.zeros(n_persons, dtype=np.int64)
    first_venue = np.full(n_persons, -1, dtype=np.int64)
    first_source = np.full(n_persons, -1, dtype=np.int64)
    if first.shape[0]:
        targets = pairs.target[first]
        first_venue[targets] = pairs.venue[first]
        first_source[targets] = pairs.source[first]
        crowd[targets] = _crowds(trace, pairs, first)

    traced = contacts.filter(pc.greater(contacts["tier"], 0))
    codes = index.person_codes(traced["person"].combine_chunks())
    has_venue = first_venue[codes] >= 0
    return pa.table(
        {
            "person": traced["person"],
            "tier": traced["tier"],
            "exposed_at": traced["exposed_at"],
            "venue": index.venues.take(pa.array(first_venue[codes], mask=~has_venue)),
            "source": trace._pairs.person_ids(first_source[codes], mask=~has_venue),
            "overlap_minutes": pa.array(total[codes], pa.int64()),
            "longest_minutes": pa.array(longest[codes], pa.int64()),
            "risk": pa.array(worst[codes] / 10, pa.float64()),
            "risk_level": pa.array(
                np.where(worst[codes] >= policy.high_risk * 10, "high", "low").tolist(),
                pa.string(),
            ),
            "crowd": pa.array(crowd[codes], pa.int64()),
        }
    )


def _day_pieces(
    start: np.ndarray, end: np.ndarray, tz: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intervals ``[start, end)`` cut at the midnights of zone ``tz``.

    Returns ``(row, day, seconds)`` of each piece: the interval it comes from, its
    day (counted from 1970-01-01 in ``tz``) and its length. A zero-length interval
    is one piece on its day; an interval ending at a midnight does not reach the
    next day.
    """
    if tz == "UTC" or start.shape[0] == 0:  # midnights every 86,400 s: all at once
        seconds = end - start
        lo_day = start // _DAY
        hi_day = np.where(seconds > 0, (end - 1) // _DAY, lo_day)
        n_pieces = (hi_day - lo_day + 1).astype(np.int64)
        row = np.repeat(np.arange(start.shape[0]), n_pieces)
        day = lo_day[row] + (
            np.arange(row.shape[0]) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
        )
        piece = np.minimum(end[row], (day + 1) * _DAY) - np.maximum(start[row], day * _DAY)
        return row, day, piece
    # elsewhere days are not all 24 h long: every midnight inside an interval found at
    # once, as the first instant after the noon before it (next_midnight knows the
    # midnights clocks skip or pass twice), then each interval cut at its midnights
    n = start.shape[0]
    first = local_days(start, tz)
    n_cuts = np.maximum(local_days(np.maximum(end - 1, start), tz) - first, 0)
    owner = np.repeat(np.arange(n), n_cuts)
    k = np.arange(owner.shape[0]) - np.repeat(np.cumsum(n_cuts) - n_cuts, n_cuts)
    cut = next_midnight(local_to_utc((first[owner] + k) * _DAY + _DAY // 2, tz), tz)
    inside = (cut > start[owner]) & (cut < end[owner])
    row = np.concatenate([np.arange(n), owner[inside]])
    at = np.concatenate([start, cut[inside]])
    order = np.lexsort((at, row))
    row, at = row[order], at[order]
    new = np.ones(row.shape[0], dtype=np.bool_)  # (a midnight found twice counts once)
    new[1:] = (row[1:] != row[:-1]) | (at[1:] != at[:-1])
    row, at = row[new], at[new]
    last = np.ones(row.shape[0], dtype=np.bool_)  # each interval's last piece
    last[:-1] = row[1:] != row[:-1]
    stop = np.where(last, end[row], np.roll(at, -1))
    return row, local_days(at, tz), stop - at


def _cwa_scores(trace: Trace, pairs: _Pairs, levels: Any, day_tz: str, worst: np.ndarray) -> None:
    """Corona-Warn-App's risk of each target, in whole tenths, into ``worst``.

    As the app scores check-ins (``PresenceTracingRiskCalculator``): each check-in (a
    target's stay) split at the midnights of ``day_tz``; each overlap of a case's
    window with a piece rounded to minutes on its own and weighted by the case's
    transmission-risk level that day; summed per check-in and day. A target's risk is
    its worst check-in's day (the app's risk is increased when any check-in's is).
    Overlaps are not merged: two windows of one case over one check-in count twice,
    as two warnings do in the app.
    """
    assert pairs.stay is not None
    row, day, piece = _day_pieces(pairs.start, pairs.end, day_tz)
    if not row.shape[0]:
        return
    level = _levels(trace.index, levels, pairs.source[row], day, day_tz)
    score = _CWA_TENTHS[level - 1] * trace.policy.minutes(piece)
    stay = pairs.stay[row]
    order = np.lexsort((day, stay))
    runs = _run_starts(stay[order], day[order])  # (check-in, day) runs
    per_check_in = np.add.reduceat(score[order], runs)
    np.maximum.at(worst, pairs.target[row][order][runs], per_check_in)


def _run_starts(*keys: np.ndarray) -> np.ndarray:
    """The first row of each run of equal ``keys`` (rows sorted by them), as int64 indices."""
    n = keys[0].shape[0]
    new = np.zeros(n, dtype=np.bool_)
    if n:
        new[0] = True
    for key in keys:
        new[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(new)


def _levels(
    index: VenueIndex, levels: Any, source: np.ndarray, day: np.ndarray, day_tz: str
) -> np.ndarray:
    """Transmission-risk level (1..8) of each (source person code, day of ``day_tz``)."""
    out = np.full(source.shape[0], _DEFAULT_LEVEL, dtype=np.int64)
    if levels is None or (isinstance(levels, dict) and not levels):  # {}: none given
        return out
    if isinstance(levels, dict):
        people = ids_array(list(levels), index.persons.type, "levels")
        try:
            values = pa.array(list(levels.values()))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # (2**70, say)
            values = pa.array([None] * len(levels), pa.null())  # refused below
        levels = pa.table({"person": people, "risk_level": values})
    table = as_arrow_table(
        levels,
        "levels",
        ("person", "risk_level", "day"),
        expected="a dict {person: level} or a table (pyarrow, pandas or polars) with "
        "columns 'person', 'risk_level' and optionally 'day'",
    )
    for name in ("person", "risk_level"):
        if name not in table.column_names:
            raise SchemaError(
                f"levels: column `{name}` not found; expected columns ['person', "
                f"'risk_level'] and optionally 'day', available: {table.column_names}"
            )
    if table["person"].null_count:
        raise SchemaError(
            f"levels: column `person`: expected no nulls, found {table['person'].null_count}"
        )
    value = table["risk_level"]
    if not pa.types.is_integer(value.type):
        raise SchemaError(f"levels: column `risk_level`: expected integers 1..8, got {value.type}")
    if value.null_count:
        raise SchemaError(
            f"levels: column `risk_level`: expected integers 1..8, found {value.null_count} "
            f"null(s); give each listed person a level, or leave them out for level "
            f"{_DEFAULT_LEVEL}"
        )
    lv = value.to_numpy().astype(np.int64)
    if lv.size and (lv.min() < 1 or lv.max() > 8):
        raise SchemaError(
            f"levels: column `risk_level`: expected integers 1..8, found values from "
            f"{int(lv.min())} to {int(lv.max())}"
        )
    person = table["person"].combine_chunks()
    code = index.person_codes(person, name="levels: column `person`").astype(np.int64)
    if "day" in table.column_names:
        column = table["day"]
        if not (pa.types.is_date(column.type) or pa.types.is_timestamp(column.type)):
            raise SchemaError(
                f"levels: column `day`: expected dates (the day a level applies to), got "
                f"{column.type}; e.g. pyarrow.array([datetime.date(2021, 9, 6)])"
            )
        if column.null_count:
            raise SchemaError(
                f"levels: column `day`: expected no nulls, found {column.null_count}; leave "
                f"out the column for one level per person"
            )
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            # the instant's day in `day_tz` (a cast to date32 takes the column zone's day)
            column = column.cast(pa.timestamp(column.type.unit, tz=day_tz))
        days = column.cast(pa.date32()).cast(pa.int32()).to_numpy().astype(np.int64)
        _check_once(np.stack([code, days]), "person and day")
        given = {(int(c), int(d)): int(v) for c, d, v in zip(code, days, lv, strict=True) if c >= 0}
        keys = list(zip(source.tolist(), day.tolist(), strict=True))
        found = np.array([given.get(k, -1) for k in keys], dtype=np.int64)
        return np.where(found > 0, found, out)
    _check_once(code[None, :], "person")
    per_person = np.full(index.n_persons, _DEFAULT_LEVEL, dtype=np.int64)
    known = code >= 0
    per_person[code[known]] = lv[known]
    result: np.ndarray = per_person[source]
    return result


def _check_once(keys: np.ndarray, what: str) -> None:
    """A SchemaError if a column of ``keys`` (rows: person codes, then days) repeats.

    Persons not in the index (code -1) are ignored, as their levels are.
    """
    known = keys[:, keys[0] >= 0]
    if known.shape[1] and np.unique(known, axis=1).shape[1] < known.shape[1]:
        raise SchemaError(
            f"levels: expected one row per {what}, found a {what} on several rows; "
            f"keep the level that applies"
        )


def _crowds(trace: Trace, pairs: _Pairs, first: np.ndarray) -> np.ndarray:
    """Distinct people present (other than the source) during each first exposure's window."""
    from tracegraph.exposure import _venue_variants

    sp = trace._pairs
    windows = _merge(trace, sp.tiers, per_person=True)
    venue_key = _venue_keys(trace, pairs.venue[first])
    width = _key_width(trace)
    key = pairs.source[first].astype(np.int64) * width + venue_key
    where = _locate(windows, key, pairs.start[first], trace.policy.rule != "half-open")
    needed, inverse = np.unique(where, return_inverse=True)
    valid = needed >= 0
    w = needed[valid]
    owner = (windows.key[w] // width).astype(np.int32)
    venue, copies = (
        _venue_variants(trace.index, windows.venue[w])
        if trace.policy.venue_match == "casefold"
        else (windows.venue[w], np.arange(w.shape[0]))
    )
    query, stay, _, _ = trace.index.query(
        venue.astype(np.int32),
        windows.start[w][copies],
        windows.end[w][copies],
        owner[copies],
        min_overlap=0,
        excluded=np.zeros(trace.index.n_persons, dtype=np.bool_),
        rule=trace.policy.rule,
    )
    counts = _distinct_counts(copies[query], trace.index.person[stay], w.shape[0])
    per_needed = np.zeros(needed.shape[0], dtype=np.int64)
    per_needed[valid] = counts
    result: np.ndarray = per_needed[inverse.reshape(-1)]
    return result


# --------------------------------------------------------------------------- explain


@dataclass(frozen=True)
class Explanation:
    """How a person was reached: the chain of exposures from a case, hop by hop.

    Attributes
    ----------
    table : pyarrow.Table
        One row per hop, from the case: ``hop``, ``source``, ``target``, ``venue``,
        ``start``, ``end`` (the overlap), ``overlap_minutes``, ``tier`` (of the
        target). Empty for a case.
    text : str
        The same chain in words.
    """

    table: pa.Table
    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        text = f"<pre>{_html.escape(self.text)}</pre>"
        try:
            return text + _html.arrow_table(self.table)
        except Exception:  # a repr must never raise: the chain in words is enough
            return text


def explain(trace: Trace, person: Any, *, tz: str | None = None) -> Explanation:
    """See :meth:`tracegraph.Trace.explain`."""
    if tz is not None:
        check_zone_name(tz, "tz")
    index = trace.index
    sp = trace._pairs
    ids = ids_array([person], index.persons.type, "`person`")
    code = int(index.person_codes(ids, name="`person`")[0])
    kept = code < 0 and _is_kept_case(trace, person)  # unknown="keep": a case with no stays
    if not kept and (code < 0 or sp.tier[code] < 0):
        raise PersonNotFound(
            "the person is not in this trace (neither a case nor a traced contact); "
            "check the id, or trace more tiers"
        )
    tier = 0 if kept else int(sp.tier[code])
    rows: list[int] = []
    pairs = _all_pairs(trace, range(1, tier + 1))
    if tier > 0:
        first = _first_exposures(pairs)
        by_target = dict(zip(pairs.target[first].tolist(), first.tolist(), strict=True))
        current = code
        while sp.tier[current] > 0:
            r = by_target[current]
            rows.append(r)
            current = int(pairs.source[r])
        rows.reverse()
    take = np.array(rows, dtype=np.int64)
    seconds = pairs.end[take] - pairs.start[take]
    table = pa.table(
        {
            "hop": pa.array(np.arange(1, take.shape[0] + 1), pa.int64()),
            "source": sp.person_ids(pairs.source[take]),
            "target": sp.person_ids(pairs.target[take]),
            "venue": index.venues.take(pa.array(pairs.venue[take])),
            "start": _in_zone(seconds_to_timestamp(pairs.start[take]), tz),
            "end": _in_zone(seconds_to_timestamp(pairs.end[take]), tz),
            "overlap_minutes": pa.array(trace.policy.minutes(seconds), pa.int64()),
            "tier": pa.array(pairs.tier[take], pa.int8()),
        }
    )
    if kept:
        return Explanation(table, f"{person} is a case (F0), with no stays in the index.")
    name = index.persons[code].as_py()
    if tier == 0:
        return Explanation(table, f"{name} is a case (F0).")
    lines = [f"{name} (F{tier}) was reached in {len(rows)} hop(s):"]
    # (the text's columns only: times at the calendar's ends shown in a zone are no
    # Python datetimes; format_instant says them in UTC then)
    d = table.select(["source", "target", "venue", "overlap_minutes", "tier"]).to_pydict()
    for i, r in enumerate(rows):
        lines.append(
            f"  {i + 1}. {d['source'][i]} (F{int(d['tier'][i]) - 1}) -> {d['target'][i]} "
            f"(F{d['tier'][i]}) at {d['venue'][i]}, {format_instant(int(pairs.start[r]), tz)} "
            f"to {format_instant(int(pairs.end[r]), tz)} ({d['overlap_minutes'][i]} min)"
        )
    params = trace.params
    if params.get("cumulative") and params.get("min_overlap"):
        whom = "one infectious person" if params["cumulative"] == "per_source" else "them all"
        lines.append(
            f"  (cumulative: the {format_duration(int(params['min_overlap']))} minimum is "
            f"for a day's total time with {whom}, so a hop may be shorter)"
        )
    return Explanation(table, "\n".join(lines))


def _is_kept_case(trace: Trace, person: Any) -> bool:
    """Whether ``person`` is a case the trace kept without stays (``unknown="keep"``)."""
    contacts = trace.contacts
    cases = contacts.filter(pc.equal(contacts["tier"], 0))["person"]
    try:
        wanted = ids_array([person], cases.type, "`person`")
    except SchemaError:
        return False
    return bool(pc.any(pc.is_in(cases, value_set=wanted)).as_py())


# --------------------------------------------------------------------------- venues


def venues(trace: Trace) -> pa.Table:
    """See :meth:`tracegraph.Trace.venues`."""
    _require_tier_one(trace, "venues")
    index = trace.index
    pairs = _all_pairs(trace)
    # one row per venue as the policy matches venues: under casefold, ids differing
    # in case are one venue (named by its first id in code order)
    key_of, name_of = _venue_groups(trace)
    n = name_of.shape[0]
    venue_key = key_of[pairs.venue]
    exposed = _distinct_counts(venue_key, pairs.target, n)
    n_pairs = np.bincount(venue_key, minlength=n).astype(np.int64)
    hours = np.bincount(venue_key, weights=(pairs.end - pairs.start), minlength=n) / 3600.0
    person, venue, _, _ = _raw_windows(trace, trace._pairs.tiers[:1])
    cases = _distinct_counts(key_of[venue], person, n)
    keep = np.flatnonzero((exposed > 0) | (cases > 0))
    order = keep[np.lexsort((name_of[keep], -hours[keep], -exposed[keep]))]
    return pa.table(
        {
            "venue": index.venues.take(pa.array(name_of[order])),
            "exposed": pa.array(exposed[order], pa.int64()),
            "cases": pa.array(cases[order], pa.int64()),
            "exposure_hours": pa.array(hours[order], pa.float64()),
            "pairs": pa.array(n_pairs[order], pa.int64()),
        }
    )


# --------------------------------------------------------------------------- clusters


def clusters(index: VenueIndex, cases: Iterable[Any] | TableLike, /, **options: Any) -> pa.Table:
    """Group cases linked by shared exposure, directly or through traced contacts.

    Two cases are linked when one's stay matches the other's exposure window at a
    venue (they were there together, under the policy), or when both reach the same
    traced person, or through longer chains of traced contacts (``tiers`` > 1).

    Parameters
    ----------
    index : VenueIndex
        The stays.
    cases : iterable of ids, or table
        As in :func:`tracegraph.trace`.
    **options
        Passed to :func:`tracegraph.trace` (``tiers`` (default 1), ``min_overlap``,
        ``linger``, ``policy``, ...).

    Returns
    -------
    pyarrow.Table
        One row per case: ``person``, ``cluster`` (0 is the largest), ``cluster_size``
        (number of cases in it), ``venues`` (sorted list of the venues of the
        exposures inside the cluster: case to case, and cases and traced contacts
        to their contacts; for a lone case, where it exposed its own contacts, empty
        if it exposed nobody). Sorted by cluster, then person.

    Examples
    --------
    >>> import pyarrow as pa
    >>> ts = pa.timestamp("s", tz="UTC")
    >>> stays = pa.table({
    ...     "person": ["ann", "bob", "cat", "dan", "eve"],
    ...     "venue": ["cafe", "cafe", "gym", "gym", "pool"],
    ...     "start": pa.array([0, 600, 0, 600, 0], ts),
    ...     "end": pa.array([3600, 1200, 3600, 1200, 60], ts),
    ... })
    >>> index = tg.VenueIndex.from_stays(stays)
    >>> table = tg.clusters(index, ["ann", "cat", "dan", "eve"])
    >>> for row in table.select(["person", "cluster", "venues"]).to_pylist():
    ...     print(row)
    {'person': 'cat', 'cluster': 0, 'venues': ['gym']}
    {'person': 'dan', 'cluster': 0, 'venues': ['gym']}
    {'person': 'ann', 'cluster': 1, 'venues': ['cafe']}
    {'person': 'eve', 'cluster': 2, 'venues': []}

    cat and dan were at the gym together; ann exposed bob at the cafe; eve met nobody.
    """
    from tracegraph.exposure import _tier_pairs, trace

    tiers = options.get("tiers", 1)
    if isinstance(tiers, int | np.integer) and not isinstance(tiers, bool) and tiers < 1:
        raise ArgumentError(
            f"`tiers`: expected >= 1 for clusters (cases are linked by matching their "
            f"exposure windows, tier 1), got {tiers}"
        )
    result = trace(index, cases, **{"tiers": 1, **options})
    sp = result._pairs
    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    via: list[np.ndarray] = []
    pairs = _all_pairs(result)
    a.append(pairs.source)
    b.append(pairs.target)
    via.append(pairs.venue)
    if sp.tiers:
        # case-case links: the cases' windows against the other cases' stays
        is_case = sp.tier == 0
        tier0 = sp.tiers[0]
        for source, target, venue, _, _ in _tier_pairs(index, tier0, ~is_case, sp.rules):
            a.append(source)
            b.append(target)
            via.append(venue)
    src = np.concatenate(a) if a else np.empty(0, np.int32)
    dst = np.concatenate(b) if b else np.empty(0, np.int32)
    venue = np.concatenate(via) if via else np.empty(0, np.int32)
    root = _kernels.connected_labels(index.n_persons, src.astype(np.int64), dst.astype(np.int64))

    case_codes = np.flatnonzero(sp.tier == 0)
    case_root = root[case_codes]
    roots, label, size = np.unique(case_root, return_inverse=True, return_counts=True)
    label = label.reshape(-1)
    # cluster 0 is the largest; ties by the smallest case code
    first_code = np.full(roots.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_code, label, case_codes)
    rank = np.empty(roots.shape[0], dtype=np.int64)
    rank[np.lexsort((first_code, -size))] = np.arange(roots.shape[0])
    cluster = rank[label]

    # venues tying each cluster: the venues of its links
    link_cluster = np.full(src.shape[0], -1, dtype=np.int64)
    if src.shape[0]:
        pos = np.searchsorted(roots, root[src])
        ok = (pos < roots.shape[0]) & (roots[np.minimum(pos, roots.shape[0] - 1)] == root[src])
        link_cluster[ok] = rank[pos[ok]]
    venue_lists: list[list[Any]] = [[] for _ in range(roots.shape[0])]
    if src.shape[0]:
        ok = link_cluster >= 0
        pairs_cv = np.unique(np.stack([link_cluster[ok], venue[ok].astype(np.int64)]), axis=1)
        ids = index.venues.take(pa.array(pairs_cv[1])).to_pylist()
        for c, v in zip(pairs_cv[0].tolist(), ids, strict=True):
            venue_lists[c].append(v)
    person = index.persons.take(pa.array(case_codes))
    n_kept = len(result.contacts) - int(result._pairs.codes.shape[0])
    persons: list[Any] = person.to_pylist()
    clusters_of = cluster.tolist()
    sizes = size[label].tolist()
    if n_kept:  # cases kept without stays (unknown="keep"): each alone
        kept = result.contacts.filter(pc.equal(result.contacts["tier"], 0))["person"].to_pylist()
        known = set(persons)
        for k, p in enumerate(x for x in kept if x not in known):
            persons.append(p)
            clusters_of.append(roots.shape[0] + k)
            sizes.append(1)
            venue_lists.append([])
    # by cluster, then person id (ids of one type compare; text ids by their text)
    order = sorted(range(len(persons)), key=lambda i: (clusters_of[i], _sort_key(persons[i])))
    return pa.table(
        {
            "person": pa.array([persons[i] for i in order], type=result.contacts["person"].type),
            "cluster": pa.array([clusters_of[i] for i in order], pa.int64()),
            "cluster_size": pa.array([sizes[i] for i in order], pa.int64()),
            "venues": pa.array(
                [sorted(venue_lists[clusters_of[i]]) for i in order],
                pa.list_(index.venues.type),
            ),
        }
    )


def _sort_key(person: Any) -> tuple[int, Any]:
    """Integer ids by value, others by their text (an index's ids all have one type)."""
    if isinstance(person, int):
        return (0, person)
    return (1, str(person))


# --------------------------------------------------------------------------- export


#: The file formats :func:`write_table` chooses by a path's suffix (any case).
_SUFFIX_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def write_table(
    table: TableLike, path: str | pathlib.Path, *, format: Literal["csv", "parquet"] | None = None
) -> pathlib.Path:
    r"""Write a table to CSV or Parquet (chosen from the suffix unless ``format`` says).

    Parameters
    ----------
    table : table
        A pyarrow, pandas or polars table (e.g. a locations-of-interest list).
    path : str or pathlib.Path
        Where to write; ``.csv`` or ``.parquet``/``.pq`` unless ``format`` is given.
        A file already there is replaced only once the new one is whole. In CSV,
        list columns (a cluster's venues) are written as JSON text: ``[3, 17]``.
    format : {"csv", "parquet"}, optional
        Overrides the suffix.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ArgumentError
        If ``format`` is another value, or the suffix names no format.
    FileNotFoundError
        If the folder to write in does not exist.
    IsADirectoryError
        If ``path`` is a folder.

    Examples
    --------
    >>> import pyarrow as pa, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> tg.write_table(pa.table({"venue": ["cafe"]}), folder / "loi.csv").read_text()
    '"venue"\n"cafe"\n'
    """
    path = as_path(path)
    if format is not None and format not in ("csv", "parquet"):
        raise ArgumentError(f"`format`: expected 'csv' or 'parquet', got {format!r}")
    chosen = format or _SUFFIX_FORMATS.get(path.suffix.lower())
    if chosen is None:
        raise ArgumentError(
            f"`path`: expected a .csv or .parquet suffix (or format='csv'/'parquet'), "
            f"got {path.name!r}"
        )
    if path.is_dir():
        raise IsADirectoryError(
            f"`path`: expected a file, got a folder {str(path)!r}; name a file in it, "
            f"e.g. {str(path / f'table.{chosen}')!r}"
        )
    folder = path.absolute().parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"`path`: expected an existing folder to write in, found no folder "
            f"{str(folder)!r}; create it first: pathlib.Path({str(folder)!r}).mkdir(parents=True)"
        )
    # (an Arrow table is written as it is: repeated column names too)
    data = table if isinstance(table, pa.Table) else as_arrow_table(table, "table")
    if chosen == "csv":
        data = _nested_as_json(data)
    # written beside the path, then moved onto it: a failed write leaves no half file
    # and an earlier file at the path is kept until the new one is whole
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if chosen == "csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(data, tmp)
        else:
            import pyarrow.parquet as pq

            pq.write_table(data, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _nested_as_json(table: pa.Table) -> pa.Table:
    """``table`` with its list, struct and map columns as JSON text (CSV has no lists)."""
    import json

    for i, field in enumerate(table.schema):
        typ = field.type
        if pa.types.is_nested(typ):
            values = table.column(i).to_pylist()
            text = pa.array(
                [None if v is None else json.dumps(v, default=str) for v in values], pa.string()
            )
            table = table.set_column(i, field.name, text)
    return table
