"""Index + cases → :class:`Trace`: time-respecting contact tiers F0 → F1 → F2.

The rules, in plain words (the oracle in ``tests/oracle.py`` implements the same):

* A stay is the half-open interval [start, end). Two intervals overlap by
  ``min(end1, end2) - max(start1, start2)``; a pair of stays at the same venue
  *qualifies* when that overlap is > 0 and >= ``min_overlap``.
* Tier 0 are the cases. A case's stays that overlap its window [w0, w1) are clipped
  to it and extended by ``linger``: exposure interval = [max(start, w0),
  min(end, w1) + linger).
* Tier k+1 are the persons not in tiers 0..k with a stay qualifying against a
  tier-k exposure interval; ``exposed_at`` is their earliest overlap start. A tier-k
  person (k >= 1) is infectious during [exposed_at + latency, exposed_at + latency
  + infectious_for), and their exposure intervals are built as for the cases. Time
  only runs forward.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import pathlib
import re
import threading
import warnings
import weakref
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracegraph import _kernels, _memory
from tracegraph._deps import require
from tracegraph._parallel import limit_threads, radix_sort, resolve_threads, workers
from tracegraph._progress import _bool_or_none, progress_bar
from tracegraph._time import (
    FAR_FUTURE,
    FAR_PAST,
    check_zone,
    check_zone_name,
    duration_seconds,
    ends_before_start,
    format_instant,
    local_days,
    require_timestamp,
    seconds_to_timestamp,
    to_seconds,
    undictionary,
)
from tracegraph._typing import Cumulative, DurationLike, TableLike, UnknownCases
from tracegraph.errors import ArgumentError, DataWarning, PersonNotFound, PolicyError, SchemaError
from tracegraph.index import VenueIndex, _common_int_type
from tracegraph.ingest import as_arrow_table, as_path, ids_array, is_table, numpy_ids
from tracegraph.policy import MatchPolicy, cwa_windows, resolve_policy

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Trace", "copresent_pairs", "present_at", "trace", "warmup"]

_UNKNOWN_CHOICES = ("raise", "keep", "drop")
Direction = Literal["auto", "forward", "reverse"]
# (source, target, venue) int32 codes and the overlap (start, end) in int64 seconds
_Pairs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
_MAX_TIERS = 127  # tiers are stored as int8
_DURATION_PARAMS = ("min_overlap", "linger", "latency", "infectious_for")


@dataclass(frozen=True)
class _Cases:
    """Cases resolved against an index: codes, windows, and ids not in the index."""

    codes: np.ndarray  # int32 codes of the cases found in the index
    window_start: np.ndarray  # int64
    window_end: np.ndarray  # int64
    unknown_ids: pa.Array  # ids kept as tier 0 without stays (unknown="keep")


def trace(
    index: VenueIndex,
    cases: Iterable[Any] | TableLike,
    /,
    *,
    tiers: int = 1,
    min_overlap: DurationLike = 0,
    linger: DurationLike = 0,
    latency: DurationLike = 0,
    infectious_for: DurationLike | None = None,
    policy: str | MatchPolicy = "tracegraph",
    cumulative: Cumulative = False,
    day_tz: str = "UTC",
    unknown: UnknownCases = "raise",
    tz: str | None = None,
    progress: bool | None = None,
    threads: int | None = None,
) -> Trace:
    """Trace the contacts of ``cases`` through ``index``, tier by tier.

    Parameters
    ----------
    index : VenueIndex
        The stays to trace through.
    cases : iterable of ids, or table
        Either person ids (each case is infectious for all time), or a table
        (pyarrow, pandas or polars) with columns ``person``, ``start``, ``end``:
        each case's infectious window [start, end), one row per case (closed,
        [start, end], under the closed-interval policies ``"nhs-ios"`` and
        ``"crowdnotifier"``, like every interval they compare). A null
        ``start``/``end`` leaves that side of the window open.
    tiers : int, default 1
        How many tiers to trace beyond the cases (1 → F1, 2 → F1 and F2, …).
    min_overlap : duration, default 0
        Minimum overlap for a pair of stays to qualify (it must also be > 0).
        Durations here and below are a string with units (``"15min"``, ``"1h30min"``,
        ``"2d"``), a ``datetime.timedelta`` or ``numpy.timedelta64``, or an int of
        *seconds*: ``min_overlap=15`` is 15 seconds, not minutes.
    linger : duration, default 0
        How long a venue stays infectious after an infectious person leaves.
    latency : duration, default 0
        Time from exposure until a traced contact becomes infectious (tiers ≥ 2).
    infectious_for : duration, optional
        How long a traced contact stays infectious after ``latency``; ``None``
        means with no end.
    policy : str or MatchPolicy, default "tracegraph"
        The matching rule: a preset name (``"tracegraph"``, ``"cwa"``, ``"nhs"``,
        ``"nhs-ios"``, ``"crowdnotifier"``, ``"nz"``) or a
        :class:`~tracegraph.MatchPolicy`. See :mod:`tracegraph.policy`.
    cumulative : bool or "per_source", default False
        Sum a person's time with the tier's infectious people per day (of
        ``day_tz``; an overlap counts on the day it starts; the time with each
        infectious person is counted once where their stay pairs overlap, e.g. a
        stay in the data twice, and summed over them) before applying
        ``min_overlap``: the "15 minutes cumulative in 24 hours" definition.
        ``"per_source"`` sums the time with each infectious person apart, per day,
        and a person qualifies when the time with one of them reaches
        ``min_overlap`` (the CDC's close contact: 15 minutes in total with one
        infected person within 24 hours; ten people for 2 minutes each do not make
        it). ``exposed_at`` is then the earliest overlap start on a qualifying day
        (of a qualifying source). This lists the tier's stay pairs, so memory grows
        with them.
    day_tz : str, default "UTC"
        The zone whose midnights separate the days of ``cumulative`` and of
        :meth:`Trace.risk`'s score (``"Asia/Ho_Chi_Minh"``: Hanoi's days, which
        UTC's split at 07:00).
    unknown : {"raise", "keep", "drop"}, default "raise"
        What to do with a case id that is not in the index: raise
        :class:`~tracegraph.errors.PersonNotFound`, keep it as a tier-0 case with no
        stays, or drop it.
    tz : str, optional
        The zone to read naive (zone-less) ``start``/``end`` of a cases table in,
        e.g. ``"Asia/Ho_Chi_Minh"``; naive times are an error without it.
    progress : bool, optional
        Show a progress bar, one step per tier (``None``: the global setting, see
        :func:`tracegraph.set_progress`).
    threads : int, optional
        Threads for this trace's large steps (matching a large tier, ordering many
        contacts) and for what the result computes later (``edges``). Default: the
        environment variable ``TRACEGRAPH_NUM_THREADS``, else the cores this process
        may use; ``1`` does all the work on the calling thread (a service answering
        requests on several threads of its own, say). The answer is the same for any
        number. Each thread matching a large tier keeps 4-8 bytes per person of the
        index (85 MB for 10.6M persons), so threads beyond the cores only add memory.

    Durations are ``datetime.timedelta``, ``numpy.timedelta64``, strings such as
    ``"15min"``, ``"2h"`` or ``"1h30min"``, or int seconds.

    Returns
    -------
    Trace
        The contacts by tier, every qualifying pair of stays, and the graph.

    Raises
    ------
    PersonNotFound
        If a case id is not in the index and ``unknown="raise"``.
    SchemaError
        If the cases table lacks a column, holds nulls in ``person``, a window ending
        before it starts, or a person twice.
    DurationError
        If a duration is negative, not whole seconds or cannot be parsed.
    PolicyError
        If ``policy`` is an unknown name (the message lists the valid ones), or
        conflicts with another argument (``min_overlap`` under ``"nz"``, whose stays
        are instants; ``linger`` under ``"cwa"``, which sets its own window end).
    TimezoneError
        If the cases table's times are naive and ``tz`` is not given, or ``tz`` or
        ``day_tz`` is not an IANA zone.
    ArgumentError
        If ``index`` is no :class:`VenueIndex`, or ``tiers``, ``unknown``,
        ``cumulative``, ``progress`` or ``threads`` is of the wrong type or value, or
        (without ``threads``) the environment variable ``TRACEGRAPH_NUM_THREADS`` is
        no positive whole number.

    Warns
    -----
    DataWarning
        If the cases were given windows and none of them holds (or touches) a stay
        of its case: the trace then finds only the cases (windows a year or a zone
        off, or data that does not reach back to them).

    See Also
    --------
    VenueIndex.from_stays : build the index.
    Trace.to_networkx : the contact graph.

    Notes
    -----
    Each tier is one batch: the tier's exposure intervals are built from the
    per-person view in one kernel call, then matched against the venue buckets in
    another, so the cost is proportional to the stays read and the pairs found, not
    to the size of the city. A person is traced once, at the first tier that reaches
    them; ``edges`` keeps every qualifying pair of stays into that tier.

    Examples
    --------
    >>> import pyarrow as pa
    >>> ts = pa.timestamp("s", tz="UTC")
    >>> stays = pa.table({
    ...     "person": ["ann", "bob", "bob", "cat"],
    ...     "venue": ["cafe", "cafe", "gym", "gym"],
    ...     "start": pa.array([0, 1800, 7200, 9000], ts),
    ...     "end": pa.array([3600, 5400, 10800, 12600], ts),
    ... })
    >>> index = tg.VenueIndex.from_stays(stays)
    >>> result = tg.trace(index, ["ann"], tiers=2)
    >>> result.contacts.to_pydict()["person"], result.contacts.to_pydict()["tier"]
    (['ann', 'bob', 'cat'], [0, 1, 2])
    >>> tg.trace(index, ["ann"], tiers=2, latency="3h").contacts["tier"].to_pylist()
    [0, 1]
    """
    if not isinstance(index, VenueIndex):
        raise ArgumentError(
            f"`index`: expected a tracegraph.VenueIndex, got {type(index).__name__}"
        )
    if isinstance(tiers, bool) or not isinstance(tiers, int | np.integer):
        raise ArgumentError(f"`tiers`: expected an int, got {type(tiers).__name__}")
    if not 0 <= tiers <= _MAX_TIERS:
        raise ArgumentError(f"`tiers`: expected 0 <= tiers <= {_MAX_TIERS}, got {tiers}")
    if unknown not in _UNKNOWN_CHOICES:
        raise ArgumentError(f"`unknown`: expected one of {_UNKNOWN_CHOICES}, got {unknown!r}")
    # every argument is checked before any work is done
    overlap_s = duration_seconds(min_overlap, "min_overlap")
    linger_s = duration_seconds(linger, "linger")
    latency_s = duration_seconds(latency, "latency")
    period = None if infectious_for is None else duration_seconds(infectious_for, "infectious_for")
    match = resolve_policy(policy)
    _check_policy_args(match, min_overlap=overlap_s, linger=linger_s)
    if isinstance(cumulative, np.bool_):  # (as by_venue= and progress= take them)
        cumulative = bool(cumulative)
    if not (
        isinstance(cumulative, bool) or (isinstance(cumulative, str) and cumulative == "per_source")
    ):
        raise ArgumentError(
            f"`cumulative`: expected False, True or 'per_source', got {cumulative!r}"
        )
    check_zone_name(day_tz, "day_tz")
    if tz is not None:
        check_zone(tz)
    progress = _bool_or_none(progress, "progress")  # (before a warning about the cases)
    if threads is not None and (
        isinstance(threads, bool | np.bool_)
        or not isinstance(threads, int | np.integer)
        or threads < 1
    ):
        raise ArgumentError(
            f"`threads`: expected a positive int or None (the default number), got {threads!r}"
        )
    resolve_threads(threads)  # (TRACEGRAPH_NUM_THREADS checked before any work)
    resolved = _resolve_cases(index, cases, unknown, tz)
    _warn_windows_miss(index, resolved)
    return _trace_codes(
        index,
        resolved,
        tiers=int(tiers),
        min_overlap=overlap_s,
        linger=linger_s,
        latency=latency_s,
        infectious_for=period,
        policy=match,
        cumulative=cumulative,
        day_tz=day_tz,
        progress=progress,
        threads=None if threads is None else int(threads),
    )


def _warn_windows_miss(index: VenueIndex, cases: _Cases) -> None:
    """A :class:`DataWarning` when cases were given windows and none holds a stay of its case.

    The trace then finds nobody but the cases: most likely windows in the wrong year
    or zone, or data that does not reach back to them. (Touching counts as holding,
    so no policy's rule makes this warn about a trace that could reach someone.)
    """
    w0, w1 = cases.window_start, cases.window_end
    if not cases.codes.size or not ((w0 > FAR_PAST) | (w1 < FAR_FUTURE)).any():
        return
    first = index.person_offsets[cases.codes]
    sizes = index.person_offsets[cases.codes + 1] - first
    if not sizes.sum():
        return  # (no case has a stay at all: nothing a window could hold)
    case = np.repeat(np.arange(cases.codes.size), sizes)
    # each case's rows of the per-person view, all cases at once
    place = np.repeat(first - np.cumsum(sizes) + sizes, sizes) + np.arange(case.size)
    rows = index.person_stays[place]
    start = index.start[rows].astype(np.int64) + index.origin
    end = index.end[rows].astype(np.int64) + index.origin
    if ((start <= w1[case]) & (end >= w0[case])).any():
        return
    since = "the beginning" if (w0 <= FAR_PAST).any() else format_instant(int(w0.min()))
    until = "the end" if (w1 >= FAR_FUTURE).any() else format_instant(int(w1.max()))
    warnings.warn(
        f"none of the {cases.codes.size} cases has a stay inside its infectious window "
        f"(the windows run from {since} to {until}; the cases' stays from "
        f"{format_instant(int(start.min()))} to {format_instant(int(end.max()))}): the "
        f"trace finds only the cases; check the windows' dates and zone",
        DataWarning,
        stacklevel=3,
    )


def _check_policy_args(policy: MatchPolicy, *, min_overlap: int, linger: int) -> None:
    if policy.rule == "arrival" and min_overlap:
        raise PolicyError(
            f"policy {policy.name!r} matches a stay's arrival instant, which has no "
            f"duration; expected min_overlap=0, got {min_overlap} s"
        )
    if policy.window == "cwa" and linger:
        raise PolicyError(
            f"policy {policy.name!r} derives each exposure window's end itself (CWA decay); "
            f"expected linger=0, got {linger} s"
        )


def present_at(
    index: VenueIndex,
    windows: TableLike,
    /,
    *,
    policy: str | MatchPolicy = "tracegraph",
    min_overlap: DurationLike = 0,
    tz: str | None = None,
) -> pa.Table:
    """Everyone present at the given venues during the given windows.

    The other way into the same kernel as :func:`trace`: given a published list of
    exposure windows (locations of interest), find every stay that matches one.

    Parameters
    ----------
    index : VenueIndex
        The stays to search.
    windows : table
        pyarrow, pandas or polars table with columns ``venue``, ``start``, ``end``
        (timestamps, zone-aware or read in ``tz``; ``end >= start``). Other columns
        are ignored.
    policy : str or MatchPolicy, default "tracegraph"
        How a stay matches a window (half-open or closed intervals, arrival instant,
        case-insensitive venue ids) and how minutes are rounded. The windows are
        taken as given: a policy's rule for turning a case's stay into a window
        (e.g. CWA's) applies in :func:`trace`, not here.
    min_overlap : duration, default 0
        Minimum overlap of a stay with a window.
    tz : str, optional
        The zone to read naive (zone-less) window times in, e.g.
        ``"Asia/Ho_Chi_Minh"``; naive times are an error without it.

    Returns
    -------
    pyarrow.Table
        One row per matching (stay, window) pair: ``person``, ``venue`` (the stay's
        venue), ``start`` and ``end`` (the overlap; the arrival instant under an
        arrival policy), ``overlap_minutes`` (int64, rounded as the policy says),
        ``window`` (int64 row of ``windows``), ``window_start``, ``window_end``.
        Sorted by window, then overlap start. Windows at venues not in the index
        match nothing.

    Raises
    ------
    SchemaError
        If a column is missing, a venue is null, a time is naive or a window ends
        before it starts.
    PolicyError
        If ``policy`` is unknown or ``min_overlap`` is set under an arrival policy.
    TimezoneError
        If the window times are naive and ``tz`` is not given (a subclass of
        :class:`SchemaError`), or ``tz`` is not an IANA zone.
    DurationError
        If ``min_overlap`` is negative, not whole seconds or cannot be parsed.
    ArgumentError
        If ``index`` is no :class:`VenueIndex`.

    See Also
    --------
    trace : contacts of cases, tier by tier.
    Trace.locations_of_interest : the windows a trace would publish.

    Examples
    --------
    >>> import pyarrow as pa
    >>> ts = pa.timestamp("s", tz="UTC")
    >>> stays = pa.table({
    ...     "person": ["ann", "bob", "cat"],
    ...     "venue": ["cafe", "cafe", "Cafe"],
    ...     "start": pa.array([0, 3600, 1800], ts),
    ...     "end": pa.array([3600, 7200, 1800], ts),
    ... })
    >>> index = tg.VenueIndex.from_stays(stays)
    >>> loi = pa.table({"venue": ["CAFE"], "start": pa.array([1800], ts),
    ...                 "end": pa.array([3600], ts)})
    >>> tg.present_at(index, loi)["person"].to_pylist()
    []
    >>> tg.present_at(index, loi, policy="nhs-ios")["person"].to_pylist()
    ['cat', 'ann', 'bob']
    """
    if not isinstance(index, VenueIndex):
        raise ArgumentError(
            f"`index`: expected a tracegraph.VenueIndex, got {type(index).__name__}"
        )
    match = resolve_policy(policy)
    overlap_s = duration_seconds(min_overlap, "min_overlap")
    _check_policy_args(match, min_overlap=overlap_s, linger=0)
    table = as_arrow_table(windows, "windows", ("venue", "start", "end"))
    missing = [c for c in ("venue", "start", "end") if c not in table.column_names]
    if missing:
        raise SchemaError(
            f"windows: column `{missing[0]}` not found; expected columns "
            f"['venue', 'start', 'end'], available: {table.column_names}"
        )
    ids = table.column("venue").combine_chunks()
    if ids.null_count:
        raise SchemaError(f"windows: column `venue`: expected no nulls, found {ids.null_count}")
    for name in ("start", "end"):
        column = undictionary(table.column(name))  # (a pandas categorical of times)
        table = table.set_column(table.column_names.index(name), name, column)
        require_timestamp(column.type, f"windows: column `{name}`")  # (says how to convert)
        if column.null_count:
            raise SchemaError(
                f"windows: column `{name}`: expected timestamps without nulls, found "
                f"{column.null_count} nulls"
            )
    if tz is not None:
        check_zone(tz)
    w0 = to_seconds(table.column("start"), "start", tz, "windows")
    w1 = to_seconds(table.column("end"), "end", tz, "windows")
    bad = np.flatnonzero(ends_before_start(w0, w1, table.column("start"), table.column("end")))
    if bad.size:
        raise SchemaError(
            f"windows: expected end >= start, found {bad.size} windows ending before they "
            f"start (first at row {int(bad[0])})"
        )
    codes, window = _venue_matches(index, ids, match.venue_match == "casefold")
    parts = index.query_parts(
        codes.astype(np.int32),
        w0[window],
        w1[window],
        np.full(window.shape[0], -1, dtype=np.int32),
        min_overlap=overlap_s,
        excluded=np.zeros(index.n_persons, dtype=np.bool_),
        rule=match.rule,
    )
    query, stay, o_start, o_end = (np.concatenate(c) for c in zip(*parts, strict=True))
    row = window[query]
    order = np.lexsort((stay, o_start, row))
    stay, o_start, o_end, row = stay[order], o_start[order], o_end[order], row[order]
    return pa.table(
        {
            "person": index.persons.take(pa.array(index.person[stay])),
            "venue": index.venues.take(pa.array(index.venue_of(stay))),
            "start": seconds_to_timestamp(o_start),
            "end": seconds_to_timestamp(o_end),
            "overlap_minutes": pa.array(match.minutes(o_end - o_start), pa.int64()),
            "window": pa.array(row, pa.int64()),
            "window_start": seconds_to_timestamp(w0[row]),
            "window_end": seconds_to_timestamp(w1[row]),
        }
    )


def copresent_pairs(
    index: VenueIndex, /, *, min_overlap: DurationLike = 0, by_venue: bool = False
) -> Any:
    """Count every pair of stays by different people at one venue that overlap.

    The whole-city self-join, without listing a pair: a pair of stays [s1, e1),
    [s2, e2) at the same venue counts when ``min(e1, e2) - max(s1, s2)`` is > 0 and
    >= ``min_overlap`` (the rules of :func:`trace`) and the two people differ.

    Parameters
    ----------
    index : VenueIndex
        The stays.
    min_overlap : duration, default 0
        Minimum overlap of a pair.
    by_venue : bool, default False
        Return the count per venue instead of the total.

    Returns
    -------
    int or pyarrow.Table
        The number of pairs, or (``by_venue``) a table ``venue``, ``pairs`` with
        every venue, in the index's venue order.

    Notes
    -----
    With m = max(min_overlap, 1) seconds, two stays overlap by >= m exactly when the
    closed integer intervals [s, e - m] meet, and k closed intervals have k(k-1)/2
    pairs minus those where one ends before the other starts. Per venue, the starts
    (already sorted within each duration class) are merged, and one binary search per
    stay counts the stays starting after it ends; each person's own pairs at a venue
    are counted from the per-person view and taken off. O(n log n), whatever the
    number of pairs, and no sort of the stays.

    Examples
    --------
    >>> import pyarrow as pa
    >>> ts = pa.timestamp("s", tz="UTC")
    >>> stays = pa.table({
    ...     "person": ["ann", "bob", "cat", "ann"],
    ...     "venue": ["cafe", "cafe", "cafe", "cafe"],
    ...     "start": pa.array([0, 1800, 3600, 1000], ts),
    ...     "end": pa.array([3600, 5400, 7200, 2000], ts),
    ... })
    >>> index = tg.VenueIndex.from_stays(stays)
    >>> tg.copresent_pairs(index)  # ann-bob (twice: ann has two stays), bob-cat
    3
    >>> tg.copresent_pairs(index, min_overlap="20min")
    2
    """
    if not isinstance(index, VenueIndex):
        raise ArgumentError(
            f"`index`: expected a tracegraph.VenueIndex, got {type(index).__name__}"
        )
    if not isinstance(by_venue, bool | np.bool_):
        raise ArgumentError(f"`by_venue`: expected True or False, got {by_venue!r}")
    m = max(duration_seconds(min_overlap, "min_overlap"), 1)
    per_venue = np.zeros(index.n_venues, dtype=np.int64)
    if index.person_offsets.shape[0] != index.n_persons + 1:
        raise ArgumentError("expected an index with a per-person view")
    _kernels.copresent_counts(
        index.start, index.end, index.venue_offsets, index.class_offsets, index.n_classes,
        index.person_offsets, index.person_stays, m, per_venue,
    )  # fmt: skip
    if by_venue:
        return pa.table({"venue": index.venues, "pairs": pa.array(per_venue, pa.int64())})
    return int(per_venue.sum())


def warmup() -> None:
    """Compile (or load from the on-disk cache) every kernel, on a tiny city.

    Services call this once at start so that the first real query is fast;
    notebooks need not bother, since the first call compiles what it uses. Besides
    building and tracing (by ids and with windows, on an index as built and as opened
    from disk), it runs what a service asks next: deep tiers (matched the other way
    round), :meth:`Trace.edges`, :meth:`Trace.locations_of_interest`,
    :func:`present_at` under every kind of policy, :func:`copresent_pairs`,
    cumulative traces and :func:`tracegraph.clusters`.

    Examples
    --------
    >>> tg.warmup()
    """
    ts = pa.timestamp("s", tz="UTC")
    stays = pa.table(
        {
            "person": pa.array([0, 1, 2], pa.int64()),
            "venue": pa.array([0, 0, 0], pa.int64()),
            "start": pa.array([0, 10, 20], pa.int64()).cast(ts),
            "end": pa.array([30, 40, 50], pa.int64()).cast(ts),
        }
    )
    index = VenueIndex.from_stays(stays)
    # a table of several chunks (Parquet's row groups): its times are copied into
    # writable arrays, which numba compiles apart from a table's read-only ones
    VenueIndex.from_stays(pa.concat_tables([stays.slice(0, 2), stays.slice(2)]))
    trace(index, [0], tiers=2)
    # cases with windows (their times come as Arrow's read-only arrays)
    trace(index, stays.select(["person", "start", "end"]).slice(0, 1), tiers=2)
    index.stays_at(0, 0, 60)
    # files are read batch by batch (a reader takes the same path): integer ids, text
    # ids (enough of them that the hash table grows), and text ids kept as a
    # dictionary (as Parquet's dictionary pages are read)
    n = 600
    names = pa.array([f"p{i}" for i in range(n)])
    text = pa.table(
        {
            "person": names,
            "venue": names,
            "start": pa.array(np.zeros(n, dtype=np.int64)).cast(ts),
            "end": pa.array(np.full(n, 60, dtype=np.int64)).cast(ts),
        }
    )
    as_dictionary = text.set_column(1, "venue", names.dictionary_encode())
    for table in (stays, text, as_dictionary):
        VenueIndex.from_stays(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()))
    # a case with few of the city's stays: its intervals come from the per-person view
    many = VenueIndex.from_stays(text)
    trace(many, ["p0"], tiers=2)
    trace(many, text.select(["person", "start", "end"]).slice(0, 1), tiers=2)
    scans = pa.table(
        {
            "person": pa.array([0, 1], pa.int64()),
            "venue": pa.array([0, 0], pa.int64()),
            "time": pa.array([0, 10], pa.int64()).cast(ts),
        }
    )
    VenueIndex.from_scans(scans, now=60)  # the lean scans → index path's kernels
    for name in ("nhs-ios", "nz", "cwa"):
        trace(index, [0], tiers=1, policy=name)
    trace(index, [0], tiers=1, min_overlap=5, cumulative=True)
    # an index opened from disk holds read-only arrays: numba compiles those apart
    frozen = _read_only_index(index)
    trace(frozen, [0], tiers=2)
    for each in (index, frozen):
        _warm_large_tiers(each)
    for each in (index, frozen, many, _read_only_index(many)):
        _warm_queries(each)


def _read_only_index(index: VenueIndex) -> VenueIndex:
    """``index`` with read-only arrays, as :meth:`VenueIndex.open` gives them."""
    arrays: dict[str, Any] = {
        f.name: _read_only(getattr(index, f.name))
        for f in dataclasses.fields(index)
        if isinstance(getattr(index, f.name), np.ndarray)
    }
    return dataclasses.replace(index, **arrays)


def _warm_queries(index: VenueIndex) -> None:
    """Call what a service asks of an index besides a first trace (see :func:`warmup`).

    Late tiers of a real trace are matched the other way round (few people left), which
    a tiny city's traces never need: the reverse direction is asked for here. On an
    index of one stay per person, a case's intervals come from the per-person view.
    """
    from tracegraph import report

    first, second = index.persons.slice(0, 2).to_pylist()
    cases = _resolve_cases(index, [first], "raise")
    for direction in ("forward", "reverse"):
        traced = _trace_codes(
            index, cases, tiers=2, min_overlap=0, linger=0, latency=0, infectious_for=None,
            direction=direction,
        )  # fmt: skip
        _ = traced.edges, traced.n_pairs
    loi = trace(index, [first]).locations_of_interest()
    for name in ("tracegraph", "nhs-ios", "nz"):
        present_at(index, loi, policy=name)
    _ = trace(index, [first], tiers=2, policy="nhs-ios").edges
    for cumulative in (True, "per_source"):
        _ = trace(index, [first], tiers=2, min_overlap=5, cumulative=cumulative).edges
    copresent_pairs(index, min_overlap=5)
    report.clusters(index, [first, second], tiers=2)


def _warm_large_tiers(index: VenueIndex) -> None:
    """Call the kernels of large tiers, which :func:`trace` on a tiny city never takes.

    Packed keys in both widths (tracing, and finding first venues again), and the
    threaded steps of ordering many contacts, with the argument types they get in a
    trace (``index`` as built or as opened from disk).
    """
    n = index.n_persons
    rows = np.arange(index.n_stays)
    venue, start, end = index.venue_of(rows), index.start_seconds(rows), index.end_seconds(rows)
    state = _TraceState.clean(n)
    state.excluded[0] = True
    # (every stay as a query, in row order: not merged pieces, so the answer means
    # nothing; only the compiled kernels are wanted)
    for first_venue in (None, state.first_venue):
        _earliest_packed(
            index, venue, start, end, min_overlap=1, closed=False, excluded=state.excluded,
            earliest=state.earliest, first_venue=first_venue,
            mark=(1, state.tier, state.excluded) if first_venue is None else None, threads=1,
        )  # fmt: skip
    codes = np.arange(n, dtype=np.int32)
    tier = np.ones(n, dtype=np.int8)
    earliest = np.arange(n, dtype=np.int64)
    packed = _memory.empty(n, np.int64)
    out_code = _memory.empty(n, np.int32)
    ids = _integer_ids(index.persons)
    no_ids = out_code[:0]
    out_id = None if ids is None else _memory.empty(n, ids.dtype)
    _kernels.contacts_pack(
        codes, tier, earliest, 0, 8, out_code[:0], packed, no_ids if ids is None else ids,
        no_ids if out_id is None else out_id,
    )  # fmt: skip
    packed, _ = radix_sort(packed, _kernels.PACK_SHIFT, _kernels.PACK_SHIFT + 8, 2, out_id)
    out_tier, out_when = _memory.empty(n, np.int8), _memory.empty(n, np.int64)
    # without ids, and writing consecutive integer ids
    for written_ids in (no_ids,) if out_id is None else (no_ids, out_id):
        _kernels.unpack_contacts(
            packed, 0, 8, 1_000_000, out_code, out_tier, out_when, 0, written_ids
        )


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class _Tier:
    """What is needed to redo the matching of one tier: who was infectious, and when."""

    number: int  # the tier of the targets (k + 1)
    persons: np.ndarray  # int32 codes of the tier-k persons
    window_start: np.ndarray  # int64
    window_end: np.ndarray  # int64


@dataclass(frozen=True)
class _Rules:
    """The matching rules of a trace, durations in seconds."""

    min_overlap: int
    linger: int
    direction: Direction
    policy: MatchPolicy = dataclasses.field(default_factory=lambda: resolve_policy("tracegraph"))
    cumulative: Cumulative = False
    day_tz: str = "UTC"  # the zone of cumulative's days
    threads: int | None = None  # trace(threads=): for every step, also when matching again

    @property
    def kernel_min_overlap(self) -> int:
        """What the kernel filters on: cumulative rules sum the pairs first."""
        return 0 if self.cumulative else self.min_overlap


@dataclass(frozen=True)
class _TraceState:
    """Arrays over every person that tracing writes: clean, all untraced, between traces."""

    tier: np.ndarray  # int8, -1: not traced
    earliest: np.ndarray  # int64 epoch seconds, FAR_FUTURE: not reached
    first_venue: np.ndarray  # int32 venue code, -1: none
    excluded: np.ndarray  # bool, True: traced in an earlier tier

    @classmethod
    def clean(cls, n_persons: int) -> _TraceState:
        return cls(
            tier=np.full(n_persons, -1, dtype=np.int8),
            earliest=np.full(n_persons, FAR_FUTURE, dtype=np.int64),
            first_venue=np.full(n_persons, -1, dtype=np.int32),
            excluded=np.zeros(n_persons, dtype=np.bool_),
        )


class _StatePool:
    """Clean :class:`_TraceState` s of one index, reused by later traces.

    Setting up the arrays costs a pass over every person (about 14 bytes each), which
    would dominate small traces on a large index; a trace writes only the entries of
    the persons it traces, so it hands its state back cleaned in O(traced). A state
    is used by one trace at a time: concurrent traces take different states (a new
    one when none is free); at most :data:`_POOL_SIZE` are kept. A trace that fails
    does not hand its state back.
    """

    def __init__(self, n_persons: int) -> None:
        self.n_persons = n_persons
        self.lock = threading.Lock()
        self.free: list[_TraceState] = []

    def take(self) -> _TraceState:
        with self.lock:
            if self.free:
                return self.free.pop()
        return _TraceState.clean(self.n_persons)

    def give(self, state: _TraceState, touched: np.ndarray, threads: int | None = None) -> None:
        def clean(a: int, b: int) -> None:
            _kernels.clean_traced(
                touched[a:b], FAR_FUTURE, state.tier, state.earliest, state.first_venue,
                state.excluded,
            )  # fmt: skip

        n = touched.shape[0]
        threads = resolve_threads(threads)
        if threads == 1 or n < _PARALLEL_MIN_CONTACTS:
            clean(0, n)
        else:  # the persons are distinct: threads write different entries
            bounds = [int(x) for x in np.linspace(0, n, threads + 1)]
            with workers(threads) as pool:
                for f in [pool.submit(clean, a, b) for a, b in itertools.pairwise(bounds)]:
                    f.result()
        with self.lock:
            if len(self.free) < _POOL_SIZE:
                self.free.append(state)


#: Clean trace states kept per index (each about 14 bytes per person).
_POOL_SIZE = 2
_POOLS: weakref.WeakKeyDictionary[VenueIndex, _StatePool] = weakref.WeakKeyDictionary()
_POOLS_LOCK = threading.Lock()


def _state_pool(index: VenueIndex) -> _StatePool:
    """The pool of trace states of ``index`` (dropped with the index)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(index)
        if pool is None or pool.n_persons != index.n_persons:
            pool = _POOLS[index] = _StatePool(index.n_persons)
        return pool


def _trace_codes(
    index: VenueIndex,
    cases: _Cases,
    *,
    tiers: int,
    min_overlap: int,
    linger: int,
    latency: int,
    infectious_for: int | None,
    direction: Direction = "auto",
    policy: MatchPolicy | None = None,
    cumulative: Cumulative = False,
    day_tz: str = "UTC",
    progress: bool | None = False,
    threads: int | None = None,
) -> Trace:
    """Trace on codes. ``direction`` picks how each tier is matched (see Notes of trace).

    ``"forward"`` probes the index with the tier's exposure intervals; ``"reverse"``
    indexes the exposure intervals and probes them with the stays of everyone not yet
    traced; ``"auto"`` probes with whichever side is smaller. All three give the same
    pairs; tests check that they do. ``threads`` (default:
    :func:`tracegraph._parallel.threads`) splits large tiers over that many threads;
    1 is the serial twin.
    """
    rules = _Rules(
        min_overlap=min_overlap,
        linger=linger,
        direction=direction,
        policy=policy or resolve_policy("tracegraph"),
        cumulative=cumulative,
        day_tz=day_tz,
        threads=threads,
    )
    n_persons = index.n_persons
    pool = _state_pool(index)
    state = pool.take()  # arrays over every person, in their clean state
    tier, earliest, first_venue = state.tier, state.earliest, state.first_venue
    # everyone traced so far (tiers 0..k-1 while tier k is matched), kept up to date
    # as tiers are added, so that small traces do no per-person passes
    excluded = state.excluded
    done: list[_Tier] = []
    traced = [np.unique(cases.codes).astype(np.int32)]
    unrecorded: list[int] = []  # tiers whose first venues are found when asked for
    _kernels.mark_traced(traced[0], 0, earliest, tier, excluded)
    n_traced = traced[0].shape[0]
    # (n_exposed, top tier, earliest, latest) of the persons reached, for the contacts
    n_exposed, top, t_min, t_max = 0, 1, 0, 0

    frontier = _Tier(1, cases.codes, cases.window_start, cases.window_end)
    bar = progress_bar(progress, total=tiers, desc="tracing", unit="tier")
    for k in range(tiers):
        if frontier.persons.size == 0:
            break
        bar.describe(f"F{frontier.number}: {frontier.persons.size:,} infectious")
        bar.update()
        if n_traced == n_persons:  # nobody is left to reach
            found = _Reached(np.empty(0, dtype=np.int32))
        else:
            found = _match_tier(
                index, frontier, excluded, rules, earliest, first_venue,
                mark=(frontier.number, tier, excluded), threads=threads,
            )  # fmt: skip
        if not found.first_venues:
            unrecorded.append(frontier.number)
        assert found.persons is not None
        reached = found.persons
        if found.marked:
            assert found.span is not None
            lo, hi = found.span
        else:
            lo, hi = _kernels.mark_traced(reached, frontier.number, earliest, tier, excluded)
        if reached.shape[0]:
            t_min, t_max = (lo, hi) if not n_exposed else (min(t_min, lo), max(t_max, hi))
            n_exposed += reached.shape[0]
            top = frontier.number
        traced.append(reached)
        n_traced += reached.shape[0]
        done.append(frontier)
        if k == tiers - 1:
            break  # the last tier: nobody to expose next
        window_start = earliest[reached] + latency
        if infectious_for is None:
            window_end = np.full(reached.shape[0], FAR_FUTURE, dtype=np.int64)
        else:
            window_end = window_start + infectious_for
        # a compact copy: ``reached`` may be a view of a buffer over every person, and
        # the tiers are kept with the result (to list or count their pairs)
        frontier = _Tier(frontier.number + 1, reached.copy(), window_start, window_end)
    bar.close()
    codes = _memory.concatenate(traced, np.int32)
    result = Trace._build(
        index,
        cases,
        codes,
        state,
        tiers=tuple(done),
        rules=rules,
        unrecorded=tuple(unrecorded),
        span=(traced[0].shape[0], n_exposed, top, int(t_min), int(t_max)),
        params={
            "tiers": tiers,
            "min_overlap": min_overlap,
            "linger": linger,
            "latency": latency,
            "infectious_for": infectious_for,
            "policy": rules.policy.name,
            "cumulative": cumulative,
            "day_tz": day_tz,
        },
        threads=threads,
    )
    # only the traced persons' entries were written: cleaning them is O(answer)
    pool.give(state, codes, threads)
    return result


def _reverse(index: VenueIndex, excluded: np.ndarray, n_intervals: int, rules: _Rules) -> bool:
    """Whether to match a tier the other way round (fewer candidate stays than intervals)."""
    if not rules.policy.symmetric or rules.policy.venue_match == "casefold":
        return False  # matched forward only: the rule is not symmetric / venues expand
    if rules.direction != "auto":
        return rules.direction == "reverse"
    return _n_stays_left(index, excluded) < n_intervals


def _n_stays_left(index: VenueIndex, excluded: np.ndarray) -> int:
    """Number of stays of the persons not ``excluded``."""
    gone = np.flatnonzero(excluded)
    return index.n_stays - int((index.person_offsets[gone + 1] - index.person_offsets[gone]).sum())


@dataclass(frozen=True)
class _Probe:
    """One tier's matching, set up in the chosen direction.

    The stays or intervals ``venue``/``start``/``end``/``person`` probe ``target``:
    forward, the tier's exposure intervals probe the city's index; reverse, the stays
    of everyone not yet traced probe an index of the exposure intervals.
    """

    target: VenueIndex
    venue: np.ndarray
    start: np.ndarray
    end: np.ndarray
    person: np.ndarray
    excluded: np.ndarray
    reverse: bool
    #: reverse only: the minimum overlap to match with when the target holds the
    #: intervals merged per venue (see :func:`_merged_by_venue`); None: the rule's own
    merged_min_overlap: int | None = None
    #: reverse only: the index row of each probing stay
    stay: np.ndarray | None = None


def _probe(
    index: VenueIndex,
    tier: _Tier,
    excluded: np.ndarray,
    rules: _Rules,
    *,
    earliest_only: bool = False,
) -> _Probe:
    """Set up a tier's matching; ``earliest_only``: for earliest overlaps, not pairs.

    Reverse and ``earliest_only``, the exposure intervals are indexed merged per venue
    when they come in index row order (fewer, and the same earliest overlaps).
    """
    src_stay, x_start, x_end = _policy_windows(index, tier, rules)
    src_person = index.person[src_stay]
    x_venue = index.venue_of(src_stay)
    if not _reverse(index, excluded, src_stay.shape[0], rules):
        if rules.policy.venue_match == "casefold":
            x_venue, copies = _venue_variants(index, x_venue)
            x_start, x_end, src_person = (a[copies] for a in (x_start, x_end, src_person))
        return _Probe(index, x_venue, x_start, x_end, src_person, excluded, reverse=False)
    m = None
    if earliest_only and rules.policy.rule != "arrival":
        merged = _merged_by_venue(index, src_stay, x_venue, x_start, x_end, rules)
        if merged is not None:
            x_venue, x_start, x_end, m = merged
            # pieces stand for no one person; a tier-k person is never a candidate,
            # so never the one a candidate's stay is matched on behalf of
            src_person = np.full(x_venue.shape[0], src_person[0], dtype=np.int32)
    with limit_threads(rules.threads):  # (its index of intervals is built on threads)
        intervals, cand, c_venue, c_start, c_end = _candidates(
            index, excluded, src_person, x_venue, x_start, x_end,
            closed=rules.policy.rule == "closed",
        )  # fmt: skip
    # the interval side holds only tier-k persons: nobody there is to be skipped
    nobody = np.zeros(index.n_persons, dtype=np.bool_)
    return _Probe(
        intervals, c_venue, c_start, c_end, index.person[cand], nobody, reverse=True,
        merged_min_overlap=m, stay=cand,
    )  # fmt: skip


def _merged_by_venue(
    index: VenueIndex,
    stay: np.ndarray,
    venue: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    rules: _Rules,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """:func:`_merged_queries` for intervals cut from ``stay`` rows in index order, in place.

    None (nothing merged) unless the rows ascend (a dense tier's intervals come so, see
    :func:`_exposure_intervals`) and the arrays may be overwritten.
    """
    n = venue.shape[0]
    if not n or not (venue.flags.writeable and start.flags.writeable and end.flags.writeable):
        return None
    if n > 1 and not bool((stay[1:] > stay[:-1]).all()):
        return None
    m = rules.min_overlap if rules.policy.rule == "closed" else max(rules.min_overlap, 1)
    k = int(_kernels.merge_venue_blocks(venue, start, end, stay, index.start, index.origin, m))
    return venue[:k], start[:k], end[:k], m


def _match_tier(
    index: VenueIndex,
    tier: _Tier,
    excluded: np.ndarray,
    rules: _Rules,
    earliest: np.ndarray,
    first_venue: np.ndarray,
    *,
    mark: tuple[int, np.ndarray, np.ndarray] | None = None,
    threads: int | None = None,
) -> _Reached:
    """Lower ``earliest`` (and set ``first_venue``) for everyone a tier exposes.

    Returns the persons the tier reached (``persons``, int32 codes, ascending): those
    not ``excluded`` whose ``earliest`` is now set (untraced persons' ``earliest`` is
    ``FAR_FUTURE`` until a tier reaches them, and then they are excluded); whether
    their ``first_venue`` was set (large tiers leave it to be found again when asked
    for, see :attr:`_StayPairs.code_first_venue`); and whether they were marked
    traced already (``mark``, see :func:`_earliest_overlaps`).

    Forward matching first merges the tier's exposure intervals per venue, each
    shrunk by the minimum overlap ``m``: a stay [s, e) overlaps an interval
    [xs, xe) by >= m exactly when the closed integer intervals [s, e - m] and
    [xs, xe - m] meet, so it qualifies against *some* interval exactly when [s, e - m]
    meets their union, and its earliest overlap start is then ``max(s, start of the
    first union piece it meets)``. Each stay is then visited once per union piece
    instead of once per interval: the same answer with fewer visits when intervals
    pile up at busy venues (``m`` is at least 1 under half-open rules, where an
    overlap must be > 0). Pairs are not counted here; :class:`_StayPairs` counts
    them when asked.
    """
    if rules.cumulative:
        for _, target, venue, o_start, _ in _tier_pairs(index, tier, excluded, rules):
            _lower(earliest, first_venue, target, o_start, venue)
        return _Reached(_newly_reached(earliest, excluded))
    p = _probe(index, tier, excluded, rules, earliest_only=True)
    venue, start, end, person = p.venue, p.start, p.end, p.person
    m = rules.min_overlap if p.merged_min_overlap is None else p.merged_min_overlap
    if not p.reverse and rules.policy.rule != "arrival":
        venue, start, end, m = _merged_queries(p, rules)
        person = np.full(venue.shape[0], -1, dtype=np.int32)
    reached = _earliest_overlaps(
        p.target,
        venue,
        start,
        end,
        person,
        min_overlap=m,
        excluded=p.excluded,
        earliest=earliest,
        first_venue=first_venue,
        by_query=p.reverse,
        rule=rules.policy.rule,
        mark=mark,
        threads=threads,
    )
    if reached.persons is None:
        return reached._replace(persons=_newly_reached(earliest, excluded))
    return reached


def _newly_reached(earliest: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """The persons not ``excluded`` with an ``earliest`` time, ascending (int32 codes)."""
    out = _memory.empty(earliest.shape[0], np.int32)
    k = int(_kernels.newly_reached(earliest, excluded, FAR_FUTURE, out))
    return _memory.concatenate([out[:k]], np.int32)


def _merged_queries(p: _Probe, rules: _Rules) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The probe's intervals shrunk by ``m``, merged per venue, and grown back.

    Returns ``(venue, start, end, m)``: queries to match with minimum overlap ``m``
    (see :func:`_match_tier`).
    """
    closed = rules.policy.rule == "closed"
    m = rules.min_overlap if closed else max(rules.min_overlap, 1)
    # the closed shrunk interval [xs, xe - m] as the half-open [xs, xe - m + 1)
    h_end = p.end - (m - 1)
    keep = h_end > p.start
    venue, start, h_end = p.venue[keep], p.start[keep], h_end[keep]
    if venue.shape[0] * 8 < p.target.n_venues:  # few intervals: no pass over every venue
        order = np.lexsort((start, venue))
    else:
        order, _ = _kernels.sort_by_group_then_value(venue, start, p.target.n_venues)
    venue, start, h_end = venue[order], start[order], h_end[order]
    group = np.empty(order.shape[0], dtype=np.int64)
    n = int(_kernels.merge_windows(venue.astype(np.int64), start, h_end, True, group))
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if n else group[:0]
    piece_end = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(piece_end, group, h_end)
    # a piece [ps, pe] (pe = piece_end - 1) is matched as [ps, pe + m) (closed: [ps, pe + m])
    return (
        np.ascontiguousarray(venue[first]),
        np.ascontiguousarray(start[first]),
        piece_end - 1 + m,
        m,
    )


#: Tiers with fewer queries than this are matched on one thread.
_PARALLEL_MIN_QUERIES = 2048
#: A serial tier lists whom it reached from its matches when they number less than
#: the persons divided by this (else by a pass over every person).
_LIST_REACHED_BELOW = 16
#: Tiers with fewer queries than this keep each person's earliest exposure in place
#: (the general kernel) rather than as packed keys over every person.
_PACKED_MIN_QUERIES = 2048


class _Reached(NamedTuple):
    """Whom a tier reached, as :func:`_earliest_overlaps` found out."""

    persons: np.ndarray | None  # ascending int32 codes; None: not listed (find by a pass)
    first_venues: bool = True  # whether their first venues were recorded
    marked: bool = False  # whether they were marked traced (see _earliest_overlaps)
    span: tuple[int, int] | None = None  # when marked: their earliest and latest times


def _earliest_overlaps(
    target: VenueIndex,
    venue: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    person: np.ndarray,
    *,
    min_overlap: int,
    excluded: np.ndarray,
    earliest: np.ndarray,
    first_venue: np.ndarray,
    by_query: bool,
    rule: Any,
    mark: tuple[int, np.ndarray, np.ndarray] | None = None,
    threads: int | None = None,
) -> _Reached:
    """:meth:`VenueIndex.earliest_overlaps`, split over threads for large inputs.

    Returns a :class:`_Reached`: the persons newly reached (ascending int32 codes)
    when they are known without a pass over every person (the packed path lists them
    on the way; a serial tier with few matches lists its matches again), else None;
    and whether ``first_venue`` was set for them (not on the packed path). ``mark``, ``(number,
    tier, excluded)``: the packed path also marks the persons it reaches traced (as
    :func:`tracegraph._kernels.mark_traced` would) on the way, and says so.

    The kernel releases the GIL, so plain threads run it in parallel on contiguous
    slices of the queries; each thread lowers its own copy of ``earliest`` /
    ``first_venue`` and the copies are combined at the end (the minimum, the smallest
    venue on a tie), which gives exactly the serial answer whatever the split.
    """
    n = venue.shape[0]
    threads = resolve_threads(threads)
    if (
        not by_query
        and n >= _PACKED_MIN_QUERIES  # else per-person passes would outweigh the matching
        and rule in ("half-open", "closed")
        and target.start.dtype == np.int32
        and bool((person < 0).all())
    ):
        reached, span = _earliest_packed(
            target, venue, start, end, min_overlap=min_overlap, closed=rule == "closed",
            excluded=excluded, earliest=earliest, mark=mark, threads=threads,
        )  # fmt: skip
        return _Reached(reached, first_venues=False, marked=mark is not None, span=span)
    if threads == 1 or n < _PARALLEL_MIN_QUERIES:
        n_matches = target.earliest_overlaps(
            venue, start, end, person, min_overlap=min_overlap, excluded=excluded,
            earliest=earliest, first_venue=first_venue,
            venue_pairs=np.zeros(target.n_venues, dtype=np.int64), by_query=by_query, rule=rule,
        )  # fmt: skip
        if n_matches * _LIST_REACHED_BELOW > earliest.shape[0]:
            return _Reached(None)  # many matches: one pass over every person is faster
        # few matches: list them again and take their persons, O(matches), instead of
        # a pass over every person of a large city
        parts = target.query_parts(
            venue, start, end, person, min_overlap=min_overlap, excluded=excluded, rule=rule
        )
        who = [person[q] if by_query else target.person[j] for q, j, _, _ in parts]
        return _Reached(np.unique(np.concatenate(who)).astype(np.int32))
    bounds = np.linspace(0, n, 4 * threads + 1).astype(np.int64)
    states: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    local = threading.local()
    lock = threading.Lock()

    def run(a: int, b: int) -> None:
        state = getattr(local, "state", None)
        if state is None:
            state = (
                earliest.copy(),
                first_venue.copy(),
                np.zeros(target.n_venues, dtype=np.int64),
            )
            local.state = state
            with lock:
                states.append(state)
        target.earliest_overlaps(
            venue[a:b], start[a:b], end[a:b], person[a:b], min_overlap=min_overlap,
            excluded=excluded, earliest=state[0], first_venue=state[1], venue_pairs=state[2],
            by_query=by_query, rule=rule,
        )  # fmt: skip

    with workers(threads) as pool:
        for future in [pool.submit(run, int(a), int(b)) for a, b in itertools.pairwise(bounds)]:
            future.result()
    for e, f, _ in states:
        better = (e < earliest) | ((e == earliest) & (f < first_venue))
        earliest[better] = e[better]
        first_venue[better] = f[better]
    return _Reached(None)


def _earliest_packed(
    target: VenueIndex,
    venue: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    *,
    min_overlap: int,
    closed: bool,
    excluded: np.ndarray,
    earliest: np.ndarray,
    first_venue: np.ndarray | None = None,
    mark: tuple[int, np.ndarray, np.ndarray] | None = None,
    threads: int,
) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`_earliest_overlaps` for queries on behalf of nobody, with packed keys.

    Each person's earliest overlap is kept as one key (see
    :func:`tracegraph._kernels.earliest_packed`): a uint32 time, or with
    ``first_venue`` an int64 (time, venue) that also sets ``first_venue``; excluded
    persons as the key below all others. Threads take chunks of the queries in turn,
    each thread with its own row of keys (set up by the thread itself), and the rows
    combine by an element-wise minimum, which is exactly the serial answer whichever
    thread matched which chunk. The
    keys then lower ``earliest``, split over threads by person. Without
    ``first_venue`` (tracing), first venues are not recorded: the caller marks the tier
    so that they are found again when asked for. Returns the persons reached
    (ascending) and the earliest and latest of their times.
    """
    n = venue.shape[0]
    n_persons = target.n_persons
    threads = 1 if n < _PARALLEL_MIN_QUERIES else max(1, threads)
    venue_bits = 0 if first_venue is None else _kernels.PACK_SHIFT
    keys = _memory.empty((threads, n_persons), np.uint32 if first_venue is None else np.int64)
    if first_venue is None:
        first_venue = earliest[:0].astype(np.int32)  # not used with times-only keys
    reached = _memory.empty(n_persons, np.int32)

    # the queries in chunks, taken in turn by whichever thread is free: queries at
    # busy venues cost more, and a core shared with other work runs slower
    n_chunks = 1 if threads == 1 else threads * _CHUNKS_PER_THREAD
    chunk_bounds = [int(x) for x in np.linspace(0, n, n_chunks + 1)]
    next_chunk = itertools.count()  # next() is atomic (one C call under the GIL)

    def match(row: int) -> None:
        _kernels.init_packed(excluded, keys[row])
        while (k := next(next_chunk)) < n_chunks:
            a, b = chunk_bounds[k], chunk_bounds[k + 1]
            _kernels.earliest_packed(
                venue[a:b], start[a:b], end[a:b], min_overlap, closed,
                target.start, target.end, target.person, target.class_offsets,
                target.n_classes, target.origin, target.bucket_width, venue_bits, keys[row],
            )  # fmt: skip

    number, tier, marked = (-1, excluded[:0].view(np.int8), excluded[:0]) if mark is None else mark

    def unpack(a: int, b: int) -> tuple[int, int, int]:
        k, t_min, t_max = _kernels.unpack_earliest(
            keys, a, b, target.origin, venue_bits, earliest, first_venue, reached[a:b],
            number, tier, marked,
        )  # fmt: skip
        return int(k), int(t_min), int(t_max)

    person_bounds = [int(x) for x in np.linspace(0, n_persons, threads + 1)]
    if threads == 1:
        match(0)
        found = [unpack(0, n_persons)]
    else:
        with workers(threads) as pool:
            for future in [pool.submit(match, row) for row in range(threads)]:
                future.result()
            found = [
                f.result()
                for f in [pool.submit(unpack, a, b) for a, b in itertools.pairwise(person_bounds)]
            ]
    # move each range's persons down after the previous ones' (ascending: in place)
    n_found = 0
    for a, (k, _, _) in zip(person_bounds, found, strict=False):
        if a != n_found:
            reached[n_found : n_found + k] = reached[a : a + k]
        n_found += k
    span = (min(x[1] for x in found), max(x[2] for x in found))
    return reached[:n_found], span


#: Chunks of queries per thread in packed matching (taken in turn by free threads).
_CHUNKS_PER_THREAD = 8
#: Fewer contacts than this are ordered on one thread.
_PARALLEL_MIN_CONTACTS = 1 << 17


def _contacts_order(
    codes: np.ndarray,
    tier: np.ndarray,
    earliest: np.ndarray,
    *,
    span: tuple[int, int, int, int, int],
    ids: np.ndarray | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The traced persons ``codes`` sorted by (tier, earliest, code).

    Returns ``(code, tier, micros, id)``: ``micros`` the earliest exposure in epoch
    microseconds (0 for the cases, which come first), ``id`` each person's entry of
    ``ids`` (the index's integer ids as numpy; None when ``ids`` is None). ``codes``
    are the ``n_cases`` cases (ascending) followed by the exposed persons (ascending
    within each tier), and ``span`` is ``(n_cases, n_exposed, top tier, t_min,
    t_max)`` of the exposed persons' tiers and times, as tracing knows them (see
    :func:`tracegraph._kernels._contacts_span`).

    :func:`tracegraph._kernels.contacts_order`, split over threads for many contacts:
    each thread packs the keys of a slice of the exposed persons and writes their ids
    beside them (read in code order, not at random after the sort), the radix sort
    splits its passes and moves the ids with the keys, each thread decodes a slice
    into codes, tiers and microseconds. The same order exactly (the keys are unique).
    When the ids are consecutive integers (sorted and distinct, so when the last is
    the first plus their number less one), an id is its code plus the first id: the
    sort then moves the keys alone, and the ids are written as the keys are decoded.
    """
    n = codes.shape[0]
    out_code, out_tier, out_when = (_memory.empty(n, d) for d in (np.int32, np.int8, np.int64))
    out_id = None if ids is None else _memory.empty(n, ids.dtype)
    threads = resolve_threads(threads)

    def serial() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        k = int(_kernels.contacts_order(codes, tier, earliest, out_code, out_tier, out_when))
        np.multiply(out_when[:k], 1_000_000, out=out_when[:k])
        if out_id is not None and ids is not None:
            np.take(ids, out_code[:k], out=out_id[:k])
        return out_code[:k], out_tier[:k], out_when[:k], None if out_id is None else out_id[:k]

    if threads == 1 or n < _PARALLEL_MIN_CONTACTS:
        return serial()
    n_cases, n_exposed, top, t_min, t_max = span
    shift, key_bits = _kernels.contacts_bits(top, t_min, t_max)
    if not key_bits:  # keys too wide to pack: the serial two-array sort
        return serial()
    # each thread takes the same slice of the exposed persons in every step
    slices = list(itertools.pairwise(int(x) for x in np.linspace(0, n_exposed, threads + 1)))
    with workers(threads) as pool:

        def each(fn: Callable[..., Any], *args: Any) -> list[Any]:
            futures = [pool.submit(fn, i, a, b, *args) for i, (a, b) in enumerate(slices)]
            return [f.result() for f in futures]

        out_code[:n_cases] = codes[:n_cases]
        packed = _memory.empty(n_exposed, np.int64)
        exposed = codes[n_cases : n_cases + n_exposed]
        no_ids = out_code[:0]
        id_base = _consecutive_from(ids)
        # the exposed persons' ids, read in code order, travel with their keys (unless
        # they are their codes plus id_base)
        exposed_ids = None if out_id is None else out_id[n_cases : n_cases + n_exposed]
        moved_ids = None if id_base is not None else exposed_ids
        each(
            lambda i, a, b: _kernels.contacts_pack(
                exposed[a:b], tier, earliest, t_min, shift, out_code[:0], packed[a:b],
                no_ids if moved_ids is None or ids is None else ids,
                no_ids if moved_ids is None else moved_ids[a:b],
            )
        )  # fmt: skip
        out_tier[:n_cases] = 0
        out_when[:n_cases] = 0
        if out_id is not None and ids is not None:
            np.take(ids, out_code[:n_cases], out=out_id[:n_cases])
        shift_bits = _kernels.PACK_SHIFT
        packed, sorted_ids = radix_sort(
            packed, shift_bits, shift_bits + key_bits, threads, moved_ids
        )
        if moved_ids is not None and sorted_ids is not moved_ids:
            moved_ids[:] = sorted_ids  # an odd number of passes ends in the buffer
        written_ids = no_ids if id_base is None or exposed_ids is None else exposed_ids
        each(
            lambda i, a, b: _kernels.unpack_contacts(
                packed[a:b], t_min, shift, 1_000_000, out_code[n_cases + a :],
                out_tier[n_cases + a :], out_when[n_cases + a :], id_base or 0,
                written_ids[a:b],
            )
        )  # fmt: skip
    k = n_cases + n_exposed
    return out_code[:k], out_tier[:k], out_when[:k], None if out_id is None else out_id[:k]


def _consecutive_from(ids: np.ndarray | None) -> int | None:
    """The first of sorted distinct integer ``ids`` when they are consecutive, else None.

    Only for ids below ``2**63`` (an id is then a code plus the first as int64).
    """
    if ids is None or not ids.shape[0] or ids.dtype.kind not in "iu":
        return None
    first, last = int(ids[0]), int(ids[-1])
    return first if last - first == ids.shape[0] - 1 and last < 2**63 else None


def _take_ids(
    ids: pa.Array, codes: np.ndarray, *, threads: int | None = None
) -> pa.Array | pa.ChunkedArray:
    """``ids.take(codes)``; for many codes, halves taken on two threads as two chunks.

    Text ids are gathered by Arrow one at a time from all over the dictionary (~40 ns
    each: 988k contacts of a city of a million people ~40 ms); Arrow's ``take``
    releases the GIL, so the halves go on two threads. A column of two chunks is the
    same column to every reader of the table.
    """
    n = codes.shape[0]
    if resolve_threads(threads) == 1 or n < _PARALLEL_MIN_CONTACTS:
        return ids.take(pa.array(codes))
    half = n // 2
    with workers(2) as pool:
        parts = [pool.submit(ids.take, pa.array(codes[a:b])) for a, b in ((0, half), (half, n))]
        return pa.chunked_array([part.result() for part in parts], type=ids.type)


def _integer_ids(ids: pa.Array) -> np.ndarray | None:
    """``ids`` as a numpy array without a copy when they are integers without nulls."""
    if not pa.types.is_integer(ids.type) or ids.null_count:
        return None
    return ids.to_numpy(zero_copy_only=True)  # type: ignore[no-any-return]


def _timestamps_after_nulls(micros: np.ndarray, n_null: int) -> pa.Array:
    """``timestamp[us, UTC]`` of epoch ``micros``, the first ``n_null`` of them null.

    ``micros`` becomes the array's data (no copy); the validity bitmap is written
    directly.
    """
    n = micros.shape[0]
    valid = _memory.empty((n + 7) // 8, np.uint8)
    valid[:] = 0xFF
    valid[: n_null // 8] = 0
    if n_null % 8:
        valid[n_null // 8] = (0xFF << (n_null % 8)) & 0xFF
    return pa.Array.from_buffers(
        pa.timestamp("us", tz="UTC"),
        n,
        [pa.py_buffer(valid), pa.py_buffer(micros)],
        null_count=n_null,
    )


def _lower(
    earliest: np.ndarray,
    first_venue: np.ndarray,
    person: np.ndarray,
    when: np.ndarray,
    venue: np.ndarray,
) -> None:
    """Lower ``earliest[person]`` to ``when`` (``first_venue``: its venue, smallest on ties)."""
    if person.shape[0] == 0:
        return
    order = np.lexsort((venue, when, person))
    p = person[order]
    first = order[np.r_[True, p[1:] != p[:-1]]]
    p, w, v = person[first], when[first], venue[first].astype(np.int32)
    better = (w < earliest[p]) | ((w == earliest[p]) & (v < first_venue[p]))
    earliest[p[better]] = w[better]
    first_venue[p[better]] = v[better]


def _tier_pairs(
    index: VenueIndex, tier: _Tier, excluded: np.ndarray, rules: _Rules, *, stays: bool = False
) -> list[tuple[np.ndarray, ...]]:
    """Every qualifying stay pair of one tier, recomputed (for :attr:`Trace.edges`).

    Each part is ``(source, target, venue, overlap start, overlap end)``, and with
    ``stays`` the target's stay (its index row) sixth.
    """
    if excluded.all():
        return []  # nobody left to reach
    p = _probe(index, tier, excluded, rules)
    parts = p.target.query_parts(
        p.venue,
        p.start,
        p.end,
        p.person,
        min_overlap=rules.kernel_min_overlap,
        excluded=p.excluded,
        rule=rules.policy.rule,
    )
    pairs: list[tuple[np.ndarray, ...]] = []
    for query, row, o_start, o_end in parts:
        prober, found = p.person[query], p.target.person[row]
        source, target = (found, prober) if p.reverse else (prober, found)
        pair: tuple[np.ndarray, ...] = (source, target, p.target.venue_of(row), o_start, o_end)
        if stays:  # (reverse, the stays probe; forward, they are the index's rows)
            pair += (row if p.stay is None else p.stay[query],)
        pairs.append(pair)
    if rules.cumulative and pairs:
        columns = [np.concatenate(c) for c in zip(*pairs, strict=True)]
        source, target, _, o_start, o_end = columns[:5]
        keep = _cumulative_mask(
            source,
            target,
            o_start,
            o_end,
            rules.min_overlap,
            rules.day_tz,
            per_source=rules.cumulative == "per_source",
        )
        pairs = [tuple(column[keep] for column in columns)]
    return pairs


def _cumulative_mask(
    source: np.ndarray,
    target: np.ndarray,
    o_start: np.ndarray,
    o_end: np.ndarray,
    min_overlap: int,
    day_tz: str = "UTC",
    *,
    per_source: bool = False,
) -> np.ndarray:
    """The pairs whose target's exposure on one day sums to >= ``min_overlap``.

    A target's exposure on a day is the time spent with each infectious person, summed
    over them (``per_source``: with each apart): each (source, target)'s overlaps
    merged where they overlap (:func:`_pair_pieces`, so duplicated or overlapping stays
    do not count twice), each merged piece on the day (of ``day_tz``) it starts; a
    pair counts on its piece's day.
    """
    if target.shape[0] == 0:
        return np.zeros(0, dtype=np.bool_)
    piece, p_source, p_target, p_start, p_end = _pair_pieces(source, target, o_start, o_end)
    piece_ok = np.empty(p_target.shape[0], dtype=np.bool_)
    # (the pieces come grouped by target, and within a target by source)
    owner = p_target
    if per_source:
        owner = p_target.astype(np.int64) * (np.int64(source.max()) + 1) + p_source
    day = local_days(p_start, day_tz)
    _kernels.day_totals_reach(owner, p_start, p_end, day, min_overlap, piece_ok)
    keep: np.ndarray = piece_ok[piece]
    return keep


def _pair_pieces(
    source: np.ndarray, target: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each (source, target)'s overlaps ``[start, end)`` merged where they overlap.

    Two people cannot be together twice at once: overlaps of one pair of persons that
    overlap each other come from duplicated or overlapping stays, and their union is
    the time they spent together. Overlaps that only touch stay apart (a stay split at
    midnight keeps its two days). Returns ``(piece of each overlap, source, target,
    start, end of each piece)``, the pieces in (target, source, start) order. One
    radix sort of the (target, source) keys, O(pairs).
    """
    n = source.shape[0]
    piece = np.empty(n, dtype=np.int64)
    if n == 0:
        return piece, source[:0], target[:0], start[:0], end[:0]
    width = np.int64(source.max()) + 1  # person codes: (target, source) fit in int64
    key = target.astype(np.int64) * width + source
    order = np.empty(n, dtype=np.int32)
    _kernels.radix_order(key, 0, order, np.empty(n, dtype=np.int32))
    first = np.empty(n, dtype=np.int64)
    p_end = np.empty(n, dtype=end.dtype)
    k = int(_kernels.merge_pair_overlaps(key, start, end, order, piece, first, p_end))
    rows = first[:k]
    return piece, source[rows], target[rows], start[rows], p_end[:k]


def _candidates(
    index: VenueIndex,
    excluded: np.ndarray,
    src_person: np.ndarray,
    x_venue: np.ndarray,
    x_start: np.ndarray,
    x_end: np.ndarray,
    *,
    closed: bool = False,
) -> tuple[VenueIndex, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index the exposure intervals; list the stays (row, venue, start, end) of the rest.

    This is for matching the other way round: the stays (rows, start, end) of the
    people not yet traced probe an index of the tier's exposure intervals.

    Used when few people are left to trace (late tiers), so that the work is
    proportional to their stays, not to the crowd already traced.
    """
    # any width gives the same answer; one about as long as the intervals keeps the
    # number of bucket entries near one per interval (lingering intervals can be long)
    width = index.bucket_width
    if x_start.shape[0]:
        width = max(width, int(np.mean(x_end - x_start)) + 1)
    intervals = VenueIndex._from_codes(
        index.persons,
        index.venues,
        [src_person, x_venue, x_start, x_end],
        width,
        person_view=False,
    )
    capacity = _n_stays_left(index, excluded)
    cand = np.empty(capacity, dtype=np.int32)
    c_venue = np.empty(capacity, dtype=np.int32)
    c_start = np.empty(capacity, dtype=np.int64)
    c_end = np.empty(capacity, dtype=np.int64)
    n = int(
        _kernels.open_stays(
            excluded, index.person, index.start, index.end, index.origin,
            index.venue_offsets, closed, cand, c_venue, c_start, c_end,
        )
    )  # fmt: skip
    return intervals, cand[:n], c_venue[:n], c_start[:n], c_end[:n]


def _policy_windows(
    index: VenueIndex, tier: _Tier, rules: _Rules
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tier's exposure windows under the policy: (stay, start, end)."""
    policy = rules.policy
    stay, start, end = _exposure_intervals(
        index,
        tier.persons,
        tier.window_start,
        tier.window_end,
        rules.linger,
        closed=policy.rule == "closed",
    )
    if policy.window == "cwa":
        keep, start, end = cwa_windows(start, end)  # linger is 0 under cwa (checked)
        stay, start, end = stay[keep], start[keep], end[keep]
    return stay, start, end


def _is_string(typ: pa.DataType) -> bool:
    return bool(pa.types.is_string(typ) or pa.types.is_large_string(typ))


@dataclass(frozen=True)
class _CaseGroups:
    """The index's venues grouped by their case-folded id."""

    folded: pa.Array  # distinct case-folded ids; group g is folded[g]
    order: np.ndarray  # venue codes grouped by group
    offsets: np.ndarray  # group g's codes are order[offsets[g]:offsets[g + 1]]
    group: np.ndarray  # group of each venue code


def _casefold(ids: pa.Array) -> pa.Array:
    """String ids case-folded as Python's ``str.casefold`` does (full Unicode folding).

    ASCII ids are lower-cased by Arrow (for them that is the same); only the others go
    through Python. Arrow's ``utf8_lower`` alone maps
    characters one to one ("İ" to "i", "ß" stays "ß"), which is not case folding.
    """
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    ascii_ = np.asarray(
        pc.fill_null(pc.string_is_ascii(ids), True).to_numpy(zero_copy_only=False), dtype=bool
    )
    folded = pc.ascii_lower(ids)
    if ascii_.all():
        return folded
    others = ids.filter(pa.array(~ascii_)).to_pylist()  # (an index's venues are distinct)
    replaced = pa.array([text.casefold() for text in others], type=ids.type)
    return pc.replace_with_mask(folded, pa.array(~ascii_), replaced)


def _case_groups(index: VenueIndex) -> _CaseGroups:
    """The index's venues grouped by case-folded id (computed once per index, kept)."""
    cached: _CaseGroups | None = index.__dict__.get("_tracegraph_case_groups")
    if cached is not None:
        return cached
    groups = _fold_groups(index)
    index.__dict__["_tracegraph_case_groups"] = groups  # the index never changes
    return groups


def _fold_groups(index: VenueIndex) -> _CaseGroups:
    lowered = _casefold(index.venues)
    folded = pc.unique(lowered)
    group = np.asarray(pc.index_in(lowered, folded).to_numpy(zero_copy_only=False), np.int32)
    order = np.empty(group.shape[0], dtype=np.int32)
    offsets = np.zeros(len(folded) + 1, dtype=np.int64)
    _kernels.counting_sort_into(group, order, offsets)
    return _CaseGroups(folded, order, offsets, group)


def _expand_groups(groups: _CaseGroups, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every venue code of group ``g[i]`` for each ``i``: ``(codes, source position)``."""
    counts = groups.offsets[g + 1] - groups.offsets[g]
    source = np.repeat(np.arange(g.shape[0]), counts)
    within = np.arange(source.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    return groups.order[groups.offsets[g][source] + within], source


def _venue_variants(index: VenueIndex, venue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every venue code whose id equals ``venue``'s case-insensitively.

    Returns ``(codes, source)``: the variants (itself included) of each input
    position, and ``source`` the input position of each output. Integer ids have no
    case: each venue is its own only variant.
    """
    if not _is_string(index.venues.type):
        return venue, np.arange(venue.shape[0])
    groups = _case_groups(index)
    return _expand_groups(groups, groups.group[venue])


def _venue_matches(
    index: VenueIndex, ids: pa.Array, casefold: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the venues each id names (``(codes, source position)``; unknown: none)."""
    if pa.types.is_dictionary(ids.type):  # (pandas category, polars Categorical)
        ids = ids.cast(ids.type.value_type)
    if pa.types.is_string_view(ids.type):
        ids = ids.cast(pa.string())
    if casefold and _is_string(index.venues.type) and _is_string(ids.type):
        groups = _case_groups(index)
        g = pc.index_in(_casefold(ids), groups.folded)
        found = np.flatnonzero(g.is_valid().to_numpy(zero_copy_only=False))
        values = np.asarray(g.drop_null().to_numpy(zero_copy_only=False), dtype=np.int64)
        codes, source = _expand_groups(groups, values)
        return codes, found[source]
    codes = index.venue_codes(ids, name="windows: column `venue`")
    found = np.flatnonzero(codes >= 0)
    return codes[found], found


def _one_window_each(persons: np.ndarray, n_persons: int) -> bool:
    """Whether no person appears twice (then one window per person can be looked up)."""
    seen = np.zeros(n_persons, dtype=np.bool_)
    seen[persons] = True
    return bool(int(np.count_nonzero(seen)) == persons.shape[0])


#: Persons holding more than 1/this of the index's stays get their exposure intervals
#: by one pass over the index (in row order) rather than through the per-person view.
_DENSE_WINDOWS = 8


def _exposure_intervals(
    index: VenueIndex,
    persons: np.ndarray,
    window_start: np.ndarray,
    window_end: np.ndarray,
    linger: int,
    *,
    closed: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exposure intervals of ``persons`` (codes) within their windows: (stay, start, end).

    ``closed``: a stay touching its window, or a zero-length stay inside it, counts.
    """
    capacity = int((index.person_offsets[persons + 1] - index.person_offsets[persons]).sum())
    out_stay = np.empty(capacity, dtype=np.int32)
    out_start = np.empty(capacity, dtype=np.int64)
    out_end = np.empty(capacity, dtype=np.int64)
    if capacity > index.n_stays // _DENSE_WINDOWS and _one_window_each(persons, index.n_persons):
        windows = np.empty((index.n_persons, 2), dtype=np.int64)
        windows[:, 0] = FAR_FUTURE  # empty windows for everyone else
        windows[:, 1] = FAR_PAST
        windows[persons, 0] = window_start
        windows[persons, 1] = window_end
        # a window that is itself empty (start after end) gives nothing either way
        n = int(
            _kernels.window_stays(
                windows, linger, closed, index.person, index.start, index.end,
                index.origin, out_stay, out_start, out_end,
            )
        )  # fmt: skip
        return out_stay[:n], out_start[:n], out_end[:n]
    n = int(
        _kernels.exposure_intervals(
            persons.astype(np.int32, copy=False),
            window_start.astype(np.int64, copy=False),
            window_end.astype(np.int64, copy=False),
            linger,
            closed,
            index.person_offsets,
            index.person_stays,
            index.start,
            index.end,
            index.origin,
            out_stay,
            out_start,
            out_end,
        )
    )
    return out_stay[:n], out_start[:n], out_end[:n]


# --------------------------------------------------------------------------- cases


#: What a case id not found in an index of pseudonyms may mean (the CLI says it its way).
PSEUDONYM_HINT = (
    "; this index holds pseudonyms: name the cases by tg.pseudonymize(ids, key), with the "
    "key the scans were read with"
)


def _resolve_cases(
    index: VenueIndex, cases: Any, unknown: UnknownCases, tz: str | None = None
) -> _Cases:
    if isinstance(cases, str | bytes):
        raise SchemaError(
            "`cases`: expected an iterable of person ids or a table, got a single "
            f"{type(cases).__name__}; wrap it in a list: [case_id]"
        )
    if isinstance(cases, Mapping):  # (its values, windows say, would be ignored)
        raise SchemaError(
            "`cases`: expected an iterable of person ids or a table, got a mapping; for "
            "infectious windows pass a table with columns person, start, end, e.g. "
            "pyarrow.table({'person': [...], 'start': [...], 'end': [...]}); for ids "
            "alone, list(cases)"
        )
    if is_table(cases):
        table = as_arrow_table(cases, "cases", ("person", "start", "end"))
        missing = [c for c in ("person", "start", "end") if c not in table.column_names]
        if missing:
            raise SchemaError(
                f"cases: column `{missing[0]}` not found; expected columns "
                f"['person', 'start', 'end'], available: {table.column_names}"
            )
        for name in ("start", "end"):  # (a pandas categorical of times: its times)
            table = table.set_column(
                table.column_names.index(name), name, undictionary(table.column(name))
            )
        ids = table.column("person").combine_chunks()
        if ids.null_count:
            raise SchemaError(f"cases: column `person`: expected no nulls, found {ids.null_count}")
        w0 = _window_bound(table.column("start"), "start", FAR_PAST, tz)
        w1 = _window_bound(table.column("end"), "end", FAR_FUTURE, tz)
        bad = np.flatnonzero(ends_before_start(w0, w1, table.column("start"), table.column("end")))
        if bad.size:
            raise SchemaError(
                f"cases: expected end >= start, found {bad.size} windows ending before "
                f"they start (first at row {int(bad[0])})"
            )
        if len(pc.unique(ids)) != len(ids):
            raise SchemaError(
                "cases: expected one row per case person, found a person on several rows; "
                "give each case one infectious window [start, end)"
            )
    else:
        ids = _id_vector(cases)
        if ids is None:
            try:
                values = list(cases)
            except TypeError as exc:
                raise SchemaError(
                    f"`cases`: expected an iterable of person ids or a table, got "
                    f"{type(cases).__name__}"
                ) from exc
            if any(v is None or type(v).__name__ in ("NAType", "NaTType") for v in values):
                ids = pa.nulls(1)  # (pandas' missing values: refused as None is, below)
            else:
                ids = ids_array(values, index.persons.type)
        if ids.null_count:
            raise SchemaError("`cases`: expected person ids, found None (a missing value)")
        w0 = np.full(len(ids), FAR_PAST, dtype=np.int64)
        w1 = np.full(len(ids), FAR_FUTURE, dtype=np.int64)
    if pa.types.is_dictionary(ids.type):  # (a pandas categorical, say)
        ids = ids.dictionary_decode()
    if pa.types.is_string_view(ids.type):
        ids = ids.cast(pa.string())  # (as the index reads such ids)
    if _is_string(ids.type) and len(ids):
        empty = np.flatnonzero(pc.equal(pc.binary_length(ids), 0).to_numpy(zero_copy_only=False))
        if empty.size:  # (no index holds one: it would be kept as a case without stays)
            raise SchemaError(
                f"cases: expected non-empty person ids, found {empty.size} empty (first at "
                f"position {int(empty[0])} of the cases); drop those rows"
            )
    codes = index.person_codes(ids, name="`cases`")
    found = codes >= 0
    unknown_ids = pa.array([], type=index.persons.type)
    if not found.all():
        n_missing = int((~found).sum())
        if unknown == "raise":
            position = int(np.flatnonzero(~found)[0])
            # ids are personal data: say where, never which
            hint = PSEUDONYM_HINT if index.pseudonymized else ""
            raise PersonNotFound(
                f"{n_missing} case id(s) not found in the index (first at position {position} "
                f"of the cases){hint}; pass unknown='keep' to keep them as cases without "
                f"stays, or unknown='drop' to leave them out"
            )
        if unknown == "keep":
            unknown_ids = pc.unique(ids.filter(pa.array(~found)))
            _check_kept_ids(index.persons, unknown_ids)
    # an iterable may name a case twice; a table may not (checked above)
    codes, first = np.unique(codes[found], return_index=True)
    return _Cases(
        codes=codes.astype(np.int32),
        window_start=w0[found][first],
        window_end=w1[found][first],
        unknown_ids=unknown_ids,
    )


def _check_kept_ids(persons: pa.Array, kept: pa.Array) -> None:
    """Refuse (before any tracing) kept ``kept`` ids that fit no one column with ``persons``."""
    if kept.type == persons.type or not pa.types.is_integer(persons.type):
        return
    if not pa.types.is_integer(kept.type):
        return  # (an id of another kind is never found, so never kept: person_codes refuses it)
    try:
        _common_int_type(persons, kept)
    except SchemaError:
        raise SchemaError(
            "`cases`: the case ids kept with unknown='keep' and the index's ids fit no one "
            "integer column (uint64 ids of 2**63 and more beside negative ids); pass "
            "unknown='drop', or use text ids"
        ) from None


def _id_vector(cases: Any) -> pa.Array | None:
    """``cases`` as an Arrow array without a Python object per id, if it is a vector of ids.

    Non-empty Arrow arrays and one-dimensional numpy arrays of integers or text are
    taken as they are (what :func:`~tracegraph.ingest.ids_array` makes of their
    elements, ~1 ms sooner for 1,000 ids); None for anything else, which is read id by
    id (an empty vector too: it then takes the index's id type).
    """
    if isinstance(cases, pa.ChunkedArray):
        cases = cases.combine_chunks()
    if isinstance(cases, pa.Array) and len(cases):
        typ = cases.type
        ok = pa.types.is_integer(typ) or pa.types.is_string(typ) or pa.types.is_large_string(typ)
        return cases if ok else None
    if isinstance(cases, np.ndarray) and cases.ndim == 1 and cases.size:
        return numpy_ids(cases) if cases.dtype.kind in "iuU" else None
    return None


def _check_count(n: Any, name: str) -> None:
    """A ``ValueError`` unless ``n`` is an int >= 0 (a negative slice would drop rows)."""
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
        raise ArgumentError(f"`{name}`: expected an int >= 0, got {n!r}")


def _window_bound(
    column: pa.ChunkedArray, name: str, open_value: int, tz: str | None = None
) -> np.ndarray:
    """Window bound in epoch seconds; nulls mean an open side (naive times read in ``tz``)."""
    if pa.types.is_null(column.type):  # e.g. pandas' [None]: the side is open for all
        return np.full(len(column), open_value, dtype=np.int64)
    require_timestamp(column.type, f"cases: column `{name}`")  # (says how to convert)
    if column.null_count == len(column):  # (pandas' NaT: no time to read, naive or not)
        return np.full(len(column), open_value, dtype=np.int64)
    mask = column.is_null().to_numpy(zero_copy_only=False)
    if mask.any():
        filled = pc.fill_null(column, pa.scalar(0, type=column.type))
        values = to_seconds(filled, name, tz, "cases")
        return np.where(mask, open_value, values)
    return to_seconds(column, name, tz, "cases")


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class _StayPairs:
    """The qualifying stay pairs of a trace: listed and counted on demand.

    Tracing keeps only each person's earliest exposure (and, for small tiers, its
    venue), so its memory does not grow with the number of pairs (a tier-2 trace
    through a city can have hundreds of millions). :meth:`table` matches the tiers
    again, emitting every pair; :meth:`counts` matches them again, counting;
    :attr:`code_first_venue` matches the large tiers again for their first venues.
    """

    index: VenueIndex
    codes: np.ndarray  # the traced persons (int32 codes, the cases first)
    code_tier: np.ndarray  # their tiers (int8)
    # venue code of their earliest exposure as tracing recorded it (-1: none or not
    # recorded; None: no tier recorded any)
    recorded_first_venue: np.ndarray | None
    unrecorded: tuple[int, ...]  # the tiers whose first venues were not recorded
    tiers: tuple[_Tier, ...]
    rules: _Rules
    threads: int | None = None  # threads for matching again (None: the default)
    # the type of the trace's person ids, wider than the index's when cases kept with
    # unknown="keep" need it (None: the index's)
    person_type: pa.DataType | None = None

    def person_ids(self, codes: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
        """The ids of person ``codes`` (null where ``mask``), in the trace's id type."""
        ids = self.index.persons.take(pa.array(codes, mask=mask))
        return ids if self.person_type is None else ids.cast(self.person_type)

    @functools.cached_property
    def code_first_venue(self) -> np.ndarray:
        """Venue code of each traced person's earliest exposure (-1: none, the cases).

        Large tiers keep only each person's earliest time while tracing (half the
        memory traffic); their first venues are found here by matching those tiers
        again with (time, venue) keys, which give the venue of the earliest overlap
        (the smallest venue code on a tie, as the general kernel records it).
        """
        venue = self.recorded_first_venue
        if venue is None:
            venue = np.full(self.codes.shape[0], -1, dtype=np.int32)
        if not self.unrecorded:
            return venue
        venue = venue.copy()
        n = self.index.n_persons
        earliest = np.full(n, FAR_FUTURE, dtype=np.int64)
        found = np.full(n, -1, dtype=np.int32)
        for t in self.tiers:
            if t.number not in self.unrecorded:
                continue
            excluded = (self.tier >= 0) & (self.tier < t.number)
            p = _probe(self.index, t, excluded, self.rules)
            assert not p.reverse  # as when it was traced: the same excluded persons
            q_venue, q_start, q_end, m = _merged_queries(p, self.rules)
            _earliest_packed(
                p.target, q_venue, q_start, q_end, min_overlap=m,
                closed=self.rules.policy.rule == "closed", excluded=p.excluded,
                earliest=earliest, first_venue=found,
                threads=resolve_threads(self.threads),
            )  # fmt: skip
            # the tier's matches reach exactly its persons (everyone else was excluded
            # or would have been reached by it)
            mine = self.code_tier == t.number
            venue[mine] = found[self.codes[mine]]
        return venue

    @functools.cached_property
    def tier(self) -> np.ndarray:
        """Final tier per person code (-1: not traced), over every person of the index."""
        tier = np.full(self.index.n_persons, -1, dtype=np.int8)
        tier[self.codes] = self.code_tier
        return tier

    @functools.cached_property
    def first_venue(self) -> np.ndarray:
        """Venue code of each person's earliest exposure (-1: none), over every person."""
        venue = np.full(self.index.n_persons, -1, dtype=np.int32)
        venue[self.codes] = self.code_first_venue
        return venue

    @property
    def persons(self) -> pa.Array:
        return self.index.persons

    @property
    def venues(self) -> pa.Array:
        return self.index.venues

    @functools.cached_property
    def counts(self) -> tuple[int, np.ndarray]:
        """``(number of pairs, pairs per venue code)``, by matching every tier again."""
        venue_pairs = np.zeros(self.index.n_venues, dtype=np.int64)
        n_pairs = 0
        for t in self.tiers:
            excluded = (self.tier >= 0) & (self.tier < t.number)
            if excluded.all():
                continue
            if self.rules.cumulative:
                for part in _tier_pairs(self.index, t, excluded, self.rules):
                    venue_pairs += np.bincount(part[2], minlength=venue_pairs.shape[0])
                    n_pairs += part[2].shape[0]
                continue
            p = _probe(self.index, t, excluded, self.rules)
            n_pairs += p.target.earliest_overlaps(
                p.venue, p.start, p.end, p.person, min_overlap=self.rules.min_overlap,
                excluded=p.excluded,
                earliest=np.full(self.index.n_persons, FAR_FUTURE, dtype=np.int64),
                venue_pairs=venue_pairs, by_query=p.reverse, rule=self.rules.policy.rule,
            )  # fmt: skip
        return n_pairs, venue_pairs

    def venue_counts(self) -> np.ndarray:
        """Number of pairs per venue code."""
        return self.counts[1]

    def table(self) -> pa.Table:
        """The pairs as an Arrow table, sorted by tier, overlap start, source, target, venue.

        A total order on the pairs' contents (codes for persons and venues), so the
        table does not depend on how the pairs were found (direction, threads).
        """
        columns: list[list[np.ndarray]] = [[] for _ in range(6)]
        for t in self.tiers:
            excluded = (self.tier >= 0) & (self.tier < t.number)
            parts = _tier_pairs(self.index, t, excluded, self.rules)
            if not parts:
                continue
            merged = [np.concatenate(c) for c in zip(*parts, strict=True)]
            source, target, venue, start, end = merged[:5]
            order = np.lexsort((end, venue, target, source, start))
            for column, values in zip(columns, merged, strict=False):
                column.append(values[order])
            columns[5].append(np.full(order.shape[0], t.number, dtype=np.int8))
        dtypes = (np.int32, np.int32, np.int32, np.int64, np.int64, np.int8)
        source, target, venue, start, end, tier = (
            np.concatenate(column) if column else np.empty(0, dtype)
            for column, dtype in zip(columns, dtypes, strict=True)
        )
        source_ids = _take_ids(self.persons, source, threads=self.threads)
        target_ids = _take_ids(self.persons, target, threads=self.threads)
        if self.person_type is not None:  # (the ids of the contacts' type)
            source_ids = source_ids.cast(self.person_type)
            target_ids = target_ids.cast(self.person_type)
        return pa.table(
            {
                "source": source_ids,
                "target": target_ids,
                "venue": self.venues.take(pa.array(venue)),
                "start": seconds_to_timestamp(start),
                "end": seconds_to_timestamp(end),
                "tier": pa.array(tier, type=pa.int8()),
            }
        )


@dataclass(frozen=True, repr=False, eq=False)
class Trace:
    """The result of :func:`trace`: contacts by tier, the stay pairs, the graph.

    Attributes
    ----------
    contacts : pyarrow.Table
        One row per traced person: ``person``, ``tier`` (0 for the cases),
        ``exposed_at`` (``timestamp[us, UTC]``; null for tier 0). Sorted by tier,
        then ``exposed_at``.
    edges : pyarrow.Table
        One row per qualifying pair of stays: ``source`` (the infector), ``target``,
        ``venue``, ``start`` and ``end`` (the overlap of the target's stay with the
        source's exposure interval), ``tier`` (of the target). Sorted by tier, then
        ``start``. Built on first access: tracing itself keeps the pairs as compact
        integer arrays, so asking only for ``contacts`` costs no table of pairs.
    params : dict
        The parameters of the trace, durations in seconds (a new dict on each
        access: changing it changes nothing of the trace).

    Examples
    --------
    >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
    >>> first = tiny_city.stays["person"][0].as_py()
    >>> result = tg.trace(index, [first], tiers=2)
    >>> result.contacts.column_names
    ['person', 'tier', 'exposed_at']
    >>> result.edges.column_names
    ['source', 'target', 'venue', 'start', 'end', 'tier']
    """

    contacts: pa.Table
    _params: dict[str, Any]
    _pairs: _StayPairs

    @property
    def params(self) -> dict[str, Any]:
        """The parameters of the trace, durations in seconds (a copy: the trace keeps its own).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], min_overlap="15min")
        >>> result.params["min_overlap"], result.params["policy"]
        (900, 'tracegraph')
        """
        return dict(self._params)

    @functools.cached_property
    def edges(self) -> pa.Table:
        """Every qualifying pair of stays (built on first access, then kept).

        Sorted by tier, then overlap start, then source, target and venue (by their
        codes, i.e. id order), so the order never depends on how the pairs were found.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], tiers=2)
        >>> result.edges.num_rows == result.n_pairs
        True
        """
        return self._pairs.table()

    @property
    def index(self) -> VenueIndex:
        """The index this trace was run on.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], tiers=2)
        >>> result.index is index
        True
        """
        return self._pairs.index

    @property
    def policy(self) -> MatchPolicy:
        """The matching policy of this trace.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], tiers=2)
        >>> result.policy.name
        'tracegraph'
        """
        return self._pairs.rules.policy

    @property
    def n_pairs(self) -> int:
        """Number of qualifying stay pairs (rows of :attr:`edges`), without building it.

        Counted on first access by matching the tiers again (tracing itself keeps only
        each person's first exposure), then kept.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], tiers=2)
        >>> result.n_pairs >= result.tier_counts().get(1, 0)
        True
        """
        return self._pairs.counts[0]

    @classmethod
    def _build(
        cls,
        index: VenueIndex,
        cases: _Cases,
        codes: np.ndarray,
        state: _TraceState,
        *,
        tiers: tuple[_Tier, ...],
        rules: _Rules,
        params: dict[str, Any],
        span: tuple[int, int, int, int, int],
        unrecorded: tuple[int, ...] = (),
        threads: int | None = None,
    ) -> Trace:
        id_values = _integer_ids(index.persons)
        traced, t, when, ids = _contacts_order(
            codes, state.tier, state.earliest, span=span, ids=id_values, threads=threads
        )
        # cases not in the index (unknown="keep") may not fit its integer type: then all
        # ids of the trace are int64 (uint64 for ids of 2**63 and more; an error if
        # negative ids are beside them)
        common = index.persons.type
        kept = cases.unknown_ids
        if len(kept) and kept.type != common and pa.types.is_integer(common):
            try:
                kept.cast(common)  # (they fit: the index's type)
            except (pa.ArrowInvalid, OverflowError):
                common = _common_int_type(index.persons, kept)
        pairs = _StayPairs(
            index=index,
            codes=traced,
            code_tier=t,
            recorded_first_venue=(
                state.first_venue[traced] if len(unrecorded) < len(tiers) else None
            ),
            unrecorded=unrecorded,
            tiers=tiers,
            rules=rules,
            threads=threads,
            person_type=None if common == index.persons.type else common,
        )
        # sorted by tier: the cases come first (an int8 needle: no cast of ``t``)
        n_cases = int(np.searchsorted(t, np.int8(1)))
        if ids is None:
            person = _take_ids(index.persons, traced, threads=threads)
        else:
            person = pa.array(ids, type=index.persons.type)
        n_keep = len(cases.unknown_ids)
        if n_keep:  # cases not in the index: after the other cases, in the order given
            if isinstance(person, pa.ChunkedArray):
                person = person.combine_chunks()
            person = pa.concat_arrays(
                [
                    person.slice(0, n_cases).cast(common),
                    cases.unknown_ids.cast(common),
                    person.slice(n_cases).cast(common),
                ]
            )
            zeros = np.zeros(n_keep, dtype=np.int64)
            t = np.concatenate([t[:n_cases], zeros.astype(np.int8), t[n_cases:]])
            when = np.concatenate([when[:n_cases], zeros, when[n_cases:]])
            n_cases += n_keep
        contacts = pa.table(
            {
                "person": person,
                "tier": pa.array(t, type=pa.int8()),
                "exposed_at": _timestamps_after_nulls(when, n_cases),
            }
        )
        return cls(contacts=contacts, _params=params, _pairs=pairs)

    # ------------------------------------------------------------------ views

    def __repr__(self) -> str:
        counts = self._shown_tier_counts() if self.contacts.num_rows else {}
        tiers = ", ".join(f"F{k}={n}" for k, n in counts.items()) or "no cases"
        return f"Trace({self.contacts.num_rows} persons: {tiers}; policy {self.policy.name})"

    def first_exposure_venues(self, n: int = 5) -> pa.Table:
        """The venues where most traced contacts had their first exposure.

        Tracing records them for small tiers; tiers large enough to be matched with
        32-bit time keys (thousands of exposure intervals) are matched once more on
        the first call to find them (about as long as tracing that tier took).

        Parameters
        ----------
        n : int, default 5
            How many venues to return.

        Returns
        -------
        pyarrow.Table
            Columns ``venue`` and ``exposed`` (contacts whose earliest exposure was
            there; on a tie in time, the venue with the smallest code counts).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = tiny_city.stays["person"][0].as_py()
        >>> result = tg.trace(index, [first])
        >>> int(pc.sum(result.first_exposure_venues(10**6)["exposed"]).as_py()) == (
        ...     result.tier_counts().get(1, 0))
        True
        """
        from tracegraph import report

        _check_count(n, "n")
        venue = self._pairs.code_first_venue
        venue = venue[(venue >= 0) & (self._pairs.code_tier > 0)]
        counts = np.bincount(venue, minlength=self.index.n_venues)
        return report.ranked_venues(self, counts, n, "exposed")

    def top_venues(self, n: int = 5) -> pa.Table:
        """The venues with the most qualifying stay pairs, busiest first.

        Parameters
        ----------
        n : int, default 5
            How many venues to return.

        Returns
        -------
        pyarrow.Table
            Columns ``venue`` and ``pairs`` (number of qualifying stay pairs there).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = tiny_city.stays["person"][0].as_py()
        >>> tg.trace(index, [first]).top_venues(3).column_names
        ['venue', 'pairs']
        """
        from tracegraph import report

        _check_count(n, "n")
        return report.ranked_venues(self, self._pairs.venue_counts(), n, "pairs")

    def _repr_html_(self) -> str:
        from tracegraph import _html
        from tracegraph._time import format_duration

        try:
            params = [
                (name, "none" if value is None else format_duration(value))
                for name, value in self._params.items()
                if name in _DURATION_PARAMS
            ]
            params.append(("policy", self.policy.describe()))
            day_tz = self._params.get("day_tz", "UTC")
            if self._params.get("cumulative") == "per_source":
                params.append(("cumulative", f"per day and source ({day_tz})"))
            elif self._params.get("cumulative"):
                params.append(("cumulative", f"per day ({day_tz})"))
            elif day_tz != "UTC":
                params.append(("days", str(day_tz)))
            counted = "counts" in self._pairs.__dict__  # never match again just for a repr
            pairs = [("stay pairs", f"{self.n_pairs:,}")] if counted else []
            summary = _html.definition_list(
                f"Trace to tier {self._params.get('tiers')}",
                [(f"F{k}", f"{v:,}") for k, v in self._shown_tier_counts().items()]
                + pairs
                + params,
            )
            # first venues of large tiers are found by matching again: not for a repr
            known = not self._pairs.unrecorded or "code_first_venue" in self._pairs.__dict__
            venues = (
                _html.arrow_table(
                    self.first_exposure_venues(5),
                    caption="where most contacts were first exposed",
                )
                if known
                else ""
            )
            contacts = _html.arrow_table(self.contacts, caption="contacts")
            return f"<div>{summary}{venues}{contacts}</div>"
        except Exception:  # a repr must never raise: the one-line summary instead
            return _html.fallback(self)

    def tier_counts(self) -> dict[int, int]:
        """Number of persons per tier, ``{0: n_cases, 1: n_f1, ...}``.

        Every tier up to the one traced to (``trace``'s ``tiers``) is a key, with 0
        where nobody was reached: ``counts[1] == 0`` says no contact was found.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = tiny_city.stays["person"][0].as_py()
        >>> tg.trace(index, [first]).tier_counts()[0]
        1
        >>> tg.trace(index, [first], tiers=0).tier_counts()
        {0: 1}
        """
        tiers = self.contacts.column("tier").to_numpy()
        top = max(int(self._params.get("tiers", 0)), int(tiers.max()) if tiers.size else 0)
        counts = np.bincount(tiers.astype(np.int64), minlength=top + 1)
        return {k: int(c) for k, c in enumerate(counts)}

    def _shown_tier_counts(self) -> dict[int, int]:
        """:meth:`tier_counts` up to the first tier nobody reached (the later ones are 0 too).

        What reprs, plots and the command line show: ``tiers=127`` lists no 125 zeros.
        """
        shown: dict[int, int] = {}
        for tier, count in self.tier_counts().items():
            shown[tier] = count
            if count == 0 and tier > 0:
                break
        return shown

    # ------------------------------------------------------------------ reports

    def locations_of_interest(
        self, *, sources: Literal["cases", "all"] = "cases", tz: str | None = None
    ) -> pa.Table:
        """The exposure windows to publish: per venue, merged where they overlap.

        Parameters
        ----------
        sources : {"cases", "all"}, default "cases"
            Whose exposure windows: the cases' (what a health department publishes),
            or those of every tier that was traced onwards.
        tz : str, optional
            Show ``start`` and ``end`` in this zone (``"Asia/Ho_Chi_Minh"``: the local
            times a list for the public gives); the same instants. Default: UTC.

        Returns
        -------
        pyarrow.Table
            ``venue``, ``start``, ``end`` (the windows under the trace's policy,
            merged per venue when they overlap; closed-interval policies also merge
            touching windows), ``cases`` (distinct people whose windows were
            merged: the cases, or with ``sources="all"`` the infectious people of
            every tier), ``exposed`` (distinct people the trace found in the window).
            Sorted by start. Export with :func:`tracegraph.write_table`. Given back to
            :func:`tracegraph.present_at` with the same policy (and ``min_overlap``,
            unless the trace was ``cumulative``: its contacts may have reached the
            minimum only summed over several windows, so ask ``present_at`` for
            overlaps of any length), the windows find every contact the cases exposed.

        Raises
        ------
        ArgumentError
            If ``sources`` is another value, ``tz`` no zone name, or the trace has
            ``tiers=0`` (the cases' windows are matched in tier 1).
        TimezoneError
            If ``tz`` is not an IANA zone.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = tiny_city.stays["person"][0].as_py()
        >>> loi = tg.trace(index, [first]).locations_of_interest()
        >>> loi.column_names
        ['venue', 'start', 'end', 'cases', 'exposed']
        >>> local = tg.trace(index, [first]).locations_of_interest(tz="Asia/Ho_Chi_Minh")
        >>> str(local.schema.field("start").type), local["start"].equals(loi["start"].cast(
        ...     local.schema.field("start").type))
        ('timestamp[us, tz=Asia/Ho_Chi_Minh]', True)
        """
        from tracegraph import report

        return report.locations_of_interest(self, sources=sources, tz=tz)

    def risk(self, *, levels: Any = None, day_tz: str | None = None) -> pa.Table:
        """Each traced contact's exposure: minutes, risk score and level, and the crowd.

        Parameters
        ----------
        levels : dict or table, optional
            Transmission-risk levels (1..8) of the infectious people, weighed by the
            ``"cwa"`` risk model (under any other, an :class:`ArgumentError`):
            ``{person: level}``, or a table with ``person``,
            ``risk_level`` and optionally ``day`` (a date: the level on that day of
            ``day_tz``; or a zone-aware timestamp, whose day in ``day_tz`` counts).
            Unlisted people have level 5 (weight 1.0); listed people who are
            nobody's infector are ignored. A naive ``day`` timestamp counts by its
            own (wall-clock) date.
        day_tz : str, optional
            The zone whose midnights separate the days of the ``risk`` score
            (``"Asia/Ho_Chi_Minh"``: Hanoi's days, which UTC's split at 07:00).
            Default: the trace's ``day_tz`` (UTC unless :func:`trace` was given one).

        Returns
        -------
        pyarrow.Table
            One row per traced contact (tier >= 1), in the order of
            :attr:`contacts`: ``person``, ``tier``, ``exposed_at``; ``venue`` and
            ``source`` of the first exposure; ``overlap_minutes`` (the time spent
            with each infectious person, in seconds rounded once to minutes as the
            policy says, summed over them: exposure minutes, so 30 minutes with two
            infectious people count 60, and ten visits of 90 s count 15; a pair of
            persons' overlaps are merged where they overlap, so a duplicated stay
            does not count twice) and ``longest_minutes`` (the longest time together
            in one go, of one pair of stays or of overlapping ones; stays that only
            touch, as a stay split at midnight, count apart); ``risk`` (the policy's
            score on their worst day, overlaps split at the midnights of ``day_tz``:
            with each infectious person, that day's seconds rounded once to minutes,
            summed; under ``"cwa"``, as the Corona-Warn-App scores check-ins: per
            stay of the contact and day, each overlap rounded on its own and
            weighted by the infectious person's transmission-risk level, summed),
            ``risk_level`` (``"high"`` when ``risk >= policy.high_risk``, else
            ``"low"``); ``crowd`` (distinct people
            other than the infector present at the venue during the infector's
            exposure window there, the contact included).

        Raises
        ------
        ArgumentError
            If ``levels`` is given to a trace whose policy is not ``"cwa"``, or
            ``day_tz`` is not a string.
        TimezoneError
            If ``day_tz`` is no zone (an IANA name or a fixed offset ``"+07:00"``).
        SchemaError
            If ``levels`` is not a dict or a table, lacks ``person`` or
            ``risk_level``, or holds a level outside 1..8, a null, or an id of
            another type than the index's.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = tiny_city.stays["person"][0].as_py()
        >>> table = tg.trace(index, [first], policy="cwa").risk()
        >>> table.column_names[-5:]
        ['overlap_minutes', 'longest_minutes', 'risk', 'risk_level', 'crowd']
        """
        from tracegraph import report

        return report.risk(self, levels=levels, day_tz=day_tz)

    def explain(self, person: Any, *, tz: str | None = None) -> Any:
        """The chain from a case to ``person``, hop by hop (first exposures).

        Parameters
        ----------
        person : id
            A case or a traced contact.
        tz : str, optional
            Show times in this zone (``"Asia/Ho_Chi_Minh"``: a tracer's local
            times), in the table and the text; the same instants. Default: UTC.

        Returns
        -------
        tracegraph.report.Explanation
            ``.table`` (one row per hop: ``hop``, ``source``, ``target``, ``venue``,
            ``start``, ``end``, ``overlap_minutes``, ``tier``) and ``.text`` (the
            same in words; ``print(explanation)`` shows it).

        Raises
        ------
        PersonNotFound
            If the person is neither a case nor traced.
        SchemaError
            If the id is of another type than the index's ids (``"2"`` for ``2``).
        ArgumentError
            If ``tz`` is no zone name.
        TimezoneError
            If ``tz`` is not an IANA zone.

        Examples
        --------
        >>> import pyarrow as pa
        >>> ts = pa.timestamp("s", tz="UTC")
        >>> stays = pa.table({
        ...     "person": ["ann", "bob", "bob", "cat"],
        ...     "venue": ["cafe", "cafe", "gym", "gym"],
        ...     "start": pa.array([0, 1800, 7200, 9000], ts),
        ...     "end": pa.array([3600, 5400, 10800, 12600], ts),
        ... })
        >>> print(tg.trace(tg.VenueIndex.from_stays(stays), ["ann"], tiers=2).explain("cat"))
        cat (F2) was reached in 2 hop(s):
          1. ann (F0) -> bob (F1) at cafe, 1970-01-01 00:30Z to 1970-01-01 01:00Z (30 min)
          2. bob (F1) -> cat (F2) at gym, 1970-01-01 02:30Z to 1970-01-01 03:00Z (30 min)
        >>> result = tg.trace(tg.VenueIndex.from_stays(stays), ["ann"])
        >>> print(result.explain("bob", tz="Asia/Tokyo"))
        bob (F1) was reached in 1 hop(s):
          1. ann (F0) -> bob (F1) at cafe, 1970-01-01 09:30+09:00 to 1970-01-01 10:00+09:00 (30 min)
        """
        from tracegraph import report

        return report.explain(self, person, tz=tz)

    def venues(self) -> pa.Table:
        """Venues ranked by people exposed there (superspreading sites).

        Returns
        -------
        pyarrow.Table
            ``venue``, ``exposed`` (distinct people traced through a stay there),
            ``cases`` (cases with an exposure window there), ``exposure_hours``
            (total overlap of the stay pairs there), ``pairs``. Venues with neither
            exposed people nor cases are left out. Sorted by ``exposed``, then
            ``exposure_hours``, descending.

        Raises
        ------
        ArgumentError
            If the trace has ``tiers=0`` (the cases' windows are matched in tier 1,
            which it skips: an empty table would read as "no venues").

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = tiny_city.stays["person"][0].as_py()
        >>> tg.trace(index, [first]).venues().column_names
        ['venue', 'exposed', 'cases', 'exposure_hours', 'pairs']
        """
        from tracegraph import report

        return report.venues(self)

    def plot_timeline(self, person: Any, /, *, ax: Any = None, tz: Any = None) -> Any:
        """One person's stays and exposures over time; see :func:`tracegraph.plot.plot_timeline`.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], tiers=2)
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> ax = result.plot_timeline(result.contacts["person"][1].as_py())
        >>> matplotlib.pyplot.close(ax.figure)
        """
        from tracegraph.plot import plot_timeline

        return plot_timeline(self, person, ax=ax, tz=tz)

    def plot_tiers(
        self, /, *, ax: Any = None, max_nodes: int = 300, labels: bool | None = None
    ) -> Any:
        """The tier graph drawn in layers; see :func:`tracegraph.plot.plot_tiers`.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], tiers=2)
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> ax = result.plot_tiers()
        >>> matplotlib.pyplot.close(ax.figure)
        """
        from tracegraph.plot import plot_tiers

        return plot_tiers(self, ax=ax, max_nodes=max_nodes, labels=labels)

    def to_arrow(self) -> pa.Table:
        """The contacts table (``person``, ``tier``, ``exposed_at``).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], tiers=2)
        >>> result.to_arrow() is result.contacts
        True
        """
        return self.contacts

    def to_pandas(self) -> Any:
        """The contacts as a pandas DataFrame (needs ``pip install tracegraph[pandas]``).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], tiers=2)
        >>> list(result.to_pandas().columns)
        ['person', 'tier', 'exposed_at']
        """
        require("pandas", "pandas")
        return self.contacts.to_pandas()

    def to_polars(self) -> Any:
        """The contacts as a polars DataFrame (needs ``pip install tracegraph[polars]``).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> result = tg.trace(index, [tiny_city.stays["person"][0].as_py()], tiers=2)
        >>> result.to_polars().columns
        ['person', 'tier', 'exposed_at']
        """
        pl = require("polars", "polars")
        return pl.from_arrow(self.contacts)

    def to_networkx(self) -> nx.DiGraph:
        """The contact graph: infector → contact, one edge per pair of persons.

        Returns
        -------
        networkx.DiGraph
            Nodes are person ids with attributes ``tier`` and ``exposed_at``
            (a ``datetime``, ``None`` for cases). Edges run from a tier-k person to
            a tier-(k+1) person and aggregate their stay pairs: ``start`` (first
            overlap start), ``end`` (last overlap end), ``overlap_s`` (total overlap
            seconds), ``n_pairs`` (number of stay pairs), ``venue`` (venue of the
            first overlap) and ``venues`` (sorted distinct venues).

        Examples
        --------
        >>> import networkx as nx
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = tiny_city.stays["person"][0].as_py()
        >>> graph = tg.trace(index, [first], tiers=3).to_networkx()
        >>> all(graph.nodes[v]["tier"] == graph.nodes[u]["tier"] + 1 for u, v in graph.edges)
        True
        """
        import networkx as nx

        graph = nx.DiGraph()
        contacts = self.contacts.to_pydict()
        graph.add_nodes_from(
            (p, {"tier": t, "exposed_at": e})
            for p, t, e in zip(
                contacts["person"], contacts["tier"], contacts["exposed_at"], strict=True
            )
        )
        if self.edges.num_rows == 0:
            return graph
        edges = self.edges
        overlap = pc.divide(
            pc.cast(pc.subtract(edges["end"], edges["start"]), pa.int64()), 1_000_000
        )
        # one chunk: the groups' order below follows the rows, not how they are chunked
        table = edges.append_column("overlap_s", overlap).combine_chunks()
        # rows are sorted by start, so the first row of a pair is its first overlap
        first_rows = table.group_by(["source", "target"], use_threads=False).aggregate(
            [
                ("start", "min"),
                ("end", "max"),
                ("overlap_s", "sum"),
                ("venue", "count"),
                ("venue", "first"),
                ("venue", "distinct"),
            ]
        )
        column = first_rows.column
        attributes = zip(
            _datetimes(column("start_min")),
            _datetimes(column("end_max")),
            column("overlap_s_sum").to_pylist(),
            column("venue_count").to_pylist(),
            column("venue_first").to_pylist(),
            column("venue_distinct").to_pylist(),
            strict=True,
        )
        graph.add_edges_from(
            (
                u,
                v,
                {
                    "start": start,
                    "end": end,
                    "overlap_s": overlap_s,
                    "n_pairs": n_pairs,
                    "venue": venue,
                    "venues": venues if len(venues) < 2 else sorted(venues),
                },
            )
            for u, v, (start, end, overlap_s, n_pairs, venue, venues) in zip(
                column("source").to_pylist(), column("target").to_pylist(), attributes, strict=True
            )
        )
        return graph

    def write_graph(
        self, path: str | pathlib.Path, *, format: Literal["graphml", "gexf"] | None = None
    ) -> pathlib.Path:
        """Write the contact graph for Gephi or Cytoscape (GraphML or GEXF).

        The graph of :meth:`to_networkx`, with attributes those formats can hold:
        times as ISO-8601 UTC strings (``exposed_at`` is ``""`` for the cases), the
        venue list joined with ``";"``; integer person and venue ids stay integers.

        Parameters
        ----------
        path : str or pathlib.Path
            Where to write; the format comes from the suffix (``.graphml``, ``.gexf``)
            unless ``format`` is given.
        format : {"graphml", "gexf"}, optional
            Overrides the suffix.

        Returns
        -------
        pathlib.Path
            The path written.

        Examples
        --------
        >>> import tempfile, pathlib, networkx as nx
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = tiny_city.stays["person"][0].as_py()
        >>> result = tg.trace(index, [first], tiers=2)
        >>> path = result.write_graph(pathlib.Path(tempfile.mkdtemp()) / "contacts.graphml")
        >>> nx.read_graphml(path).number_of_nodes() == result.contacts.num_rows
        True
        """
        import networkx as nx

        path = as_path(path)
        if format is not None and format not in ("graphml", "gexf"):
            raise ArgumentError(f"`format`: expected 'graphml' or 'gexf', got {format!r}")
        chosen = format or {".graphml": "graphml", ".gexf": "gexf"}.get(path.suffix.lower())
        if chosen not in ("graphml", "gexf"):
            raise ArgumentError(
                f"`path`: expected a .graphml or .gexf suffix (or format='graphml'/'gexf'), "
                f"got {path.name!r}"
            )
        graph = self.to_networkx()
        plain = nx.DiGraph()
        for node, attrs in graph.nodes(data=True):
            when = attrs["exposed_at"]
            plain.add_node(
                _plain_id(node), tier=int(attrs["tier"]), exposed_at=_iso(when) if when else ""
            )
        for u, v, attrs in graph.edges(data=True):
            plain.add_edge(
                _plain_id(u),
                _plain_id(v),
                start=_iso(attrs["start"]),
                end=_iso(attrs["end"]),
                overlap_s=int(attrs["overlap_s"]),
                n_pairs=int(attrs["n_pairs"]),
                venue=_plain_id(attrs["venue"]),
                venues=";".join(str(x) for x in attrs["venues"]),
            )
        texts = [n for n in plain.nodes if isinstance(n, str)]
        texts += [a["venues"] for _, _, a in plain.edges(data=True)]  # (every venue)
        if any(_NOT_XML.search(text) for text in texts):  # (its readers refuse the file)
            raise SchemaError(
                f"`path`: {chosen} is XML, which cannot hold some of the ids (control "
                f"characters); write the edges with tg.write_table(result.edges, ...) "
                f"instead, or clean the ids before indexing"
            )
        if chosen == "graphml":
            nx.write_graphml(plain, path)
        else:
            nx.write_gexf(plain, path)
        return path


def _datetimes(column: pa.ChunkedArray) -> list[dt.datetime]:
    """A UTC timestamp column (no nulls) as aware datetimes, as ``to_pylist`` gives them.

    Each distinct time is converted once, through numpy's naive datetimes: many times
    faster than Arrow's conversion of zone-aware timestamps row by row (the million
    edges of a city's :meth:`Trace.to_networkx`).
    """
    utc = zoneinfo.ZoneInfo("UTC")
    naive = column.cast(pa.timestamp(column.type.unit)).to_numpy()
    distinct, which = np.unique(naive, return_inverse=True)
    aware = [t.replace(tzinfo=utc) for t in distinct.astype("datetime64[us]").astype(object)]
    return [aware[k] for k in which.tolist()]


#: Characters XML 1.0 cannot hold (even escaped): most control characters, surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _plain_id(node: Any) -> str | int:
    return node if isinstance(node, int) else str(node)


def _iso(when: Any) -> str:
    return str(when.isoformat())
