"""Plots: a person's timeline, the tier graph, QR compliance (``pip install "tracegraph[plot]"``).

matplotlib is an optional dependency: it is imported inside each function, so this
module imports without it, and a call without it raises an ``ImportError`` naming the
extra to install. Every function draws into ``ax`` when given one and otherwise opens
one new figure (through pyplot, so notebooks show it); none calls ``plt.show()``.

Ids are user data. Every id drawn as text (venue rows, node labels, legend entries) is
escaped first, so a ``$`` in an id is shown as a dollar sign, not parsed as mathtext,
and ``<b>`` is shown as typed (matplotlib draws no HTML). Titles never show the
person a timeline is about.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracegraph._deps import require
from tracegraph._time import to_seconds, zone_info
from tracegraph._typing import TableLike
from tracegraph.errors import ArgumentError, PersonNotFound, SchemaError, TimezoneError
from tracegraph.exposure import Trace
from tracegraph.ingest import as_arrow_table, ids_array, require_columns

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_compliance", "plot_tiers", "plot_timeline"]

#: What :func:`plot_compliance` can draw.
ComplianceMetric = Literal["share", "scans_per_venue", "registered", "active", "scans"]

_METRICS: dict[str, str] = {
    "share": "share of registered venues active",
    "scans_per_venue": "scans per active venue",
    "registered": "registered venues",
    "active": "active venues",
    "scans": "scans",
}
_COUNTS = ("registered", "active", "scans")
_REPORT_COLUMNS = ("period", "period_end", *_COUNTS, "share", "scans_per_venue")

#: Node labels are drawn by default up to this many nodes.
_MAX_LABELLED = 40
#: Incoming overlaps are annotated with their source up to this many.
_MAX_ANNOTATED = 8
#: A timeline grows 0.45 in per venue up to this many venues, then its rows get thinner
#: (a person of 1,600 venues made a figure 721 in tall, more pixels than a PNG holds).
_MAX_TALL_ROWS = 40
#: Timelines of more venues than this leave the venues unnamed (names would overlap).
_MAX_LABELLED_ROWS = 80
#: Longest id shown in full; longer ones are cut with an ellipsis.
_MAX_TEXT = 32

# gids of the artists, so that callers (and tests) can find what was drawn
GID_STAY = "tracegraph:stay"
GID_EXPOSED = "tracegraph:exposed"
GID_EXPOSING = "tracegraph:exposing"
GID_NODES = "tracegraph:nodes"
GID_EDGES = "tracegraph:edges"
GID_LABEL = "tracegraph:label"
GID_TIER_COUNTS = "tracegraph:tier-counts"
GID_VENUE_PAIRS = "tracegraph:venue-pairs"

_STAY_COLOR = "#9db4c8"
_EXPOSED_COLOR = "#d62728"
_EXPOSING_COLOR = "#ff9f1c"


# --------------------------------------------------------------------------- timeline


def plot_timeline(
    trace: Trace,
    person: Any,
    /,
    *,
    ax: Axes | None = None,
    tz: str | dt.tzinfo | None = None,
) -> Axes:
    """Draw one person's stays by venue over time, with their exposures highlighted.

    One row per venue the person visited (first visited at the top). Grey bars are
    the person's stays (:meth:`VenueIndex.stays_of`). Red spans, in the upper half of
    a row, are the overlaps through which the person was exposed: one per row of
    ``trace.edges`` whose ``target`` is the person, annotated with the infector's id
    when there are at most 8. Orange spans, in the lower half, are where the person
    exposed others (``trace.edges`` rows whose ``source`` is the person), merged per
    venue. A case (tier 0) thus shows its own stays and where it exposed others; a
    person of the last traced tier shows only red spans.

    Parameters
    ----------
    trace : Trace
        A result of :func:`tracegraph.trace`.
    person : int or str
        A person id: in the trace's index, or a case kept with ``unknown="keep"``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure.
    tz : str or datetime.tzinfo, optional
        The zone to show times in (``"Asia/Ho_Chi_Minh"``); default UTC.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into. The title gives the person's tier and ``exposed_at``
        (never the id).

    Raises
    ------
    PersonNotFound
        If ``person`` is neither in the trace's index nor among its contacts (the
        message does not repeat the id).
    TimezoneError
        If ``tz`` is not a valid zone.
    ImportError
        If matplotlib is not installed.

    See Also
    --------
    plot_tiers : the whole trace as a layered graph.
    VenueIndex.stays_of : the stays drawn here.

    Notes
    -----
    The artists carry gids: ``"tracegraph:stay"`` (stay bars),
    ``"tracegraph:exposed"`` (overlaps exposing the person) and
    ``"tracegraph:exposing"`` (merged overlaps where the person exposed others).
    Building :attr:`Trace.edges` is the main cost; it is kept on the trace.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from tracegraph.plot import plot_timeline
    >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
    >>> first = tiny_city.stays["person"][0].as_py()
    >>> result = tg.trace(index, [first], tiers=2)
    >>> tiers = result.contacts["tier"].to_pylist()
    >>> contact = result.contacts["person"][tiers.index(1)].as_py()
    >>> ax = plot_timeline(result, contact, tz="Asia/Ho_Chi_Minh")
    >>> ax.get_title().startswith("F1")
    True
    >>> plt.close(ax.figure)
    """
    plt = _pyplot()
    _check_trace(trace)
    _check_axes(ax)
    zone = _zone(tz)
    key, tier, exposed_at = _find_person(trace, person)
    index = trace.index
    if key is not None:
        stays = index.stays_of(key)
        edges = trace.edges
        incoming = edges.filter(pc.equal(edges["target"], key))
        outgoing = edges.filter(pc.equal(edges["source"], key))
    else:  # a case kept without stays (unknown="keep")
        stays = _STAYS_SCHEMA.empty_table()
        incoming = outgoing = _EDGES_SCHEMA.empty_table()

    # one row per venue, in order of first visit; row 0 at the top. Under a casefold
    # policy an exposure's venue id may differ in case from the person's own stay's
    folded = trace.policy.venue_match == "casefold"

    def fold(v: Any) -> Any:
        return v.casefold() if folded and isinstance(v, str) else v

    label_of: dict[Any, Any] = {}  # each row named by the person's first id for it
    for v in stays["venue"].to_pylist():
        label_of.setdefault(fold(v), v)
    venues: list[Any] = list(label_of)
    row_of = {v: len(venues) - 1 - i for i, v in enumerate(venues)}

    if ax is None:
        rows_shown = min(max(len(venues), 2), _MAX_TALL_ROWS)  # more: thinner rows
        _, ax = plt.subplots(figsize=(9, 1.6 + 0.45 * rows_shown), layout="constrained")
    assert ax is not None  # for mypy: set above when it was None

    def spans(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = np.array([row_of[fold(v)] for v in table["venue"].to_pylist()], dtype=np.float64)
        left = _datenums(to_seconds(table["start"], "start", None))
        right = _datenums(to_seconds(table["end"], "end", None))
        return rows, left, right - left

    rows, left, width = spans(stays)
    ax.barh(rows, width, left=left, height=0.7, color=_STAY_COLOR, label="stays", gid=GID_STAY)
    if incoming.num_rows:
        rows, left, width = spans(incoming)
        ax.barh(
            rows + 0.175,
            width,
            left=left,
            height=0.35,
            color=_EXPOSED_COLOR,
            label=f"exposed by F{(tier or 1) - 1}",
            gid=GID_EXPOSED,
        )
        if incoming.num_rows <= _MAX_ANNOTATED:
            for y, x, source in zip(rows, left, incoming["source"].to_pylist(), strict=True):
                ax.text(
                    x,
                    y + 0.38,
                    _plain(source),
                    fontsize="x-small",
                    va="bottom",
                    color=_EXPOSED_COLOR,
                    clip_on=True,
                    gid=GID_LABEL,
                )
    if outgoing.num_rows:
        merged = _merge_by_venue(outgoing)
        rows, left, width = spans(merged)
        ax.barh(
            rows - 0.175,
            width,
            left=left,
            height=0.35,
            color=_EXPOSING_COLOR,
            label=f"exposed F{(tier or 0) + 1}",
            gid=GID_EXPOSING,
        )
    if not venues:
        _note(ax, "no stays in the index")

    if len(venues) <= _MAX_LABELLED_ROWS:
        labels = [_plain(label_of[v]) for v in row_of]
        ax.set_yticks(list(row_of.values()), labels=labels, fontsize="small")
        ax.set_ylabel("venue")
    else:  # (names a row could not hold: the rows are counted instead)
        ax.set_yticks([])
        ax.set_ylabel(f"{len(venues):,} venues, in order of first visit")
    ax.set_ylim(-0.6, max(len(venues), 1) - 0.4)
    _time_axis(ax, zone, "time")
    _within_calendar(ax)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(_timeline_title(tier, exposed_at, zone, n_stays=stays.num_rows))
    if venues:  # beside the rows, so that it hides no stay
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return ax


# schemas only: building tables at import would import pandas (~0.2 s of a cold start)
_UTC_US = pa.timestamp("us", tz="UTC")
_STAYS_SCHEMA = pa.schema([("venue", pa.string()), ("start", _UTC_US), ("end", _UTC_US)])
_EDGES_SCHEMA = pa.schema(
    [("source", pa.string()), ("venue", pa.string()), ("start", _UTC_US), ("end", _UTC_US)]
)


def _find_person(trace: Trace, person: Any) -> tuple[pa.Scalar | None, int | None, Any]:
    """The person's id (of the index's type), tier and ``exposed_at``; never quoting it.

    The id is None for a case kept without stays, the tier None if not traced.
    """
    index = trace.index
    try:  # (uint64 ids of 2**63 or more: no int64 holds them)
        ids = ids_array([person], index.persons.type, "`person`")
    except SchemaError as exc:  # (its message says what is wrong, never the id)
        raise PersonNotFound(str(exc)) from None  # no Arrow cause: it would quote the value
    try:
        code = int(index.person_codes(ids)[0])
    except SchemaError as exc:  # e.g. a str id for an index of int ids (no id in message)
        raise PersonNotFound(f"`person`: not found in the trace: {exc}") from None
    key = index.persons[code] if code >= 0 else None
    contacts = trace.contacts
    try:
        wanted = key if key is not None else ids.cast(contacts["person"].type)[0]
        found = contacts.filter(pc.equal(contacts["person"], wanted))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        found = contacts.slice(0, 0)
    if key is None and found.num_rows == 0:
        raise PersonNotFound(
            "`person`: expected a person of the trace's index or contacts, got an id that "
            "is in neither (ids are not repeated in messages)"
        )
    if found.num_rows == 0:
        return key, None, None
    return key, int(found["tier"][0].as_py()), found["exposed_at"][0].as_py()


def _merge_by_venue(edges: pa.Table) -> pa.Table:
    """The union of the overlap intervals of ``edges`` at each venue (columns venue, start, end)."""
    venue_ids = edges["venue"].combine_chunks()
    codes = pc.dictionary_encode(venue_ids).indices.to_numpy(zero_copy_only=False)
    start = to_seconds(edges["start"], "start", None)
    end = to_seconds(edges["end"], "end", None)
    order = np.lexsort((start, codes))
    codes, start, end = codes[order], start[order], end[order]
    keep_rows: list[int] = []
    keep_end: list[int] = []
    for i in range(codes.shape[0]):
        if keep_rows and codes[keep_rows[-1]] == codes[i] and start[i] <= keep_end[-1]:
            keep_end[-1] = max(keep_end[-1], int(end[i]))
        else:
            keep_rows.append(i)
            keep_end.append(int(end[i]))
    rows = np.array(keep_rows, dtype=np.int64)
    return pa.table(
        {
            "venue": venue_ids.take(pa.array(order[rows])),
            "start": pa.array(start[rows] * 1_000_000, pa.timestamp("us", tz="UTC")),
            "end": pa.array(np.array(keep_end, np.int64) * 1_000_000, pa.timestamp("us", tz="UTC")),
        }
    )


def _timeline_title(tier: int | None, exposed_at: Any, zone: dt.tzinfo, *, n_stays: int) -> str:
    stays = f"{n_stays} stay{'s' if n_stays != 1 else ''}"
    if tier is None:
        return f"not traced · {stays}"
    if tier == 0:
        return f"F0 (case) · {stays}"
    try:
        when = exposed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    except OverflowError:  # (a zone's clocks past 9999-12-31 or before the year 1)
        when = exposed_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"F{tier} · exposed at {when} · {stays}"


# --------------------------------------------------------------------------- tiers


def plot_tiers(
    trace: Trace,
    /,
    *,
    ax: Axes | None = None,
    max_nodes: int = 300,
    labels: bool | None = None,
) -> Axes:
    """Draw the tier graph in layers: F0, F1, F2, … from left to right.

    Each person is a node at x = their tier, the nodes of a tier spread vertically
    (ordered to keep links short); each link of :meth:`Trace.to_networkx` runs from
    an infector (left) to a contact (right). Above ``max_nodes`` persons a summary
    is drawn instead: persons per tier, and the venues with the most qualifying stay
    pairs (:meth:`Trace.top_venues`).

    Parameters
    ----------
    trace : Trace
        A result of :func:`tracegraph.trace`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure.
    max_nodes : int, default 300
        Most persons drawn as a graph; a larger trace gets the summary.
    labels : bool, optional
        Whether to write each person's id beside its node; by default only when
        there are at most 40 persons. Pass ``False`` for a plot to share without ids.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into. In summary mode it holds two inset axes
        (``ax.child_axes``): persons per tier, and the busiest venues.

    Raises
    ------
    ValueError
        If ``max_nodes`` is negative.
    ImportError
        If matplotlib is not installed.

    See Also
    --------
    Trace.to_networkx : the graph drawn here.
    plot_timeline : one person's stays and exposures.

    Notes
    -----
    Nodes within a tier are ordered by the mean height of their infectors (the
    barycenter heuristic), one pass from left to right, ties kept in ``exposed_at``
    order; the cost is O(persons + links). Artists carry gids:
    ``"tracegraph:nodes"`` (one scatter, offsets in node order),
    ``"tracegraph:edges"`` (one line collection), ``"tracegraph:label"`` (ids).
    The summary does not build the graph, so it is cheap for any trace.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from tracegraph.plot import plot_tiers
    >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
    >>> first = tiny_city.stays["person"][0].as_py()
    >>> result = tg.trace(index, [first], tiers=2)
    >>> ax = plot_tiers(result)
    >>> [label.get_text().split()[0] for label in ax.get_xticklabels()]
    ['F0', 'F1', 'F2']
    >>> plt.close(ax.figure)
    >>> ax = plot_tiers(result, max_nodes=1)  # too many persons: the summary
    >>> len(ax.child_axes)
    2
    >>> plt.close(ax.figure)
    """
    plt = _pyplot()
    from matplotlib.collections import LineCollection

    _check_trace(trace)
    _check_axes(ax)
    if labels is not None and not isinstance(labels, bool):  # ("no" would show every id)
        raise ArgumentError(f"`labels`: expected True, False or None, got {labels!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int | np.integer):
        raise ArgumentError(f"`max_nodes`: expected an int, got {type(max_nodes).__name__}")
    if max_nodes < 0:
        raise ArgumentError(f"`max_nodes`: expected an int >= 0, got {max_nodes}")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 6), layout="constrained")
    assert ax is not None  # for mypy: set above when it was None
    n_persons = trace.contacts.num_rows
    if n_persons > max_nodes:
        _tier_summary(trace, ax, max_nodes)
        return ax

    graph = trace.to_networkx()
    nodes, x, y = _layers(graph)
    position = {node: (x[i], y[i]) for i, node in enumerate(nodes)}
    segments = [(position[u], position[v]) for u, v in graph.edges]
    # fainter links as they multiply, so that hundreds stay readable
    alpha = float(np.clip(40 / max(len(segments), 1), 0.03, 0.7))
    width = 0.8 if len(segments) <= 200 else 0.5
    ax.add_collection(
        LineCollection(segments, colors="#444444", linewidths=width, alpha=alpha, gid=GID_EDGES)
    )
    tiers = x.astype(np.int64)
    size = 60.0 if n_persons <= _MAX_LABELLED else float(np.clip(3000 / max(n_persons, 1), 8, 40))
    colors = [f"C{t % 10}" for t in tiers]
    ax.scatter(x, y, c=colors, s=size, zorder=3, edgecolors="white", linewidths=0.5, gid=GID_NODES)
    if labels is None:
        labels = n_persons <= _MAX_LABELLED
    if labels:
        for node, xi, yi in zip(nodes, x, y, strict=True):
            ax.text(xi + 0.04, yi, _plain(node), fontsize="x-small", va="center", gid=GID_LABEL)
    counts = trace._shown_tier_counts()
    n_tiers = max(counts) + 1 if counts else 1
    ax.set_xticks(range(n_tiers), labels=[f"F{k}\n({counts.get(k, 0):,})" for k in range(n_tiers)])
    ax.set_xlim(-0.5, n_tiers - 0.5 + (0.4 if labels else 0.0))
    ax.set_xlabel("tier (links run from infector, left, to contact, right)")
    ax.set_ylim(-0.55, 0.55)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if n_persons == 0:
        _note(ax, "no contacts")
    ax.set_title(f"{n_persons:,} persons, {graph.number_of_edges():,} infector → contact links")
    return ax


def _layers(graph: Any) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Nodes in drawing order, their x (tier) and y (spread within the tier)."""
    by_tier: dict[int, list[Any]] = {}
    for node, tier in graph.nodes(data="tier"):  # in contacts order: tier, exposed_at
        by_tier.setdefault(int(tier), []).append(node)
    tallest = max((len(v) for v in by_tier.values()), default=1)
    step = 1.0 / max(tallest - 1, 1)
    height: dict[Any, float] = {}
    nodes: list[Any] = []
    xs: list[float] = []
    for tier in sorted(by_tier):
        members = by_tier[tier]
        if tier > 0:
            # barycenter: under the mean height of the infectors (top first; stable)
            center = [
                -np.mean([height[p] for p in graph.predecessors(n) if p in height] or [0.0])
                for n in members
            ]
            members = [members[i] for i in np.argsort(center, kind="stable")]
        offset = (len(members) - 1) / 2
        for i, node in enumerate(members):
            height[node] = (offset - i) * step if len(members) > 1 else 0.0
        nodes.extend(members)
        xs.extend([float(tier)] * len(members))
    ys = np.array([height[n] for n in nodes], dtype=np.float64)
    return nodes, np.array(xs, dtype=np.float64), ys


def _tier_summary(trace: Trace, ax: Axes, max_nodes: int) -> None:
    """Persons per tier and the busiest venues, in two insets of ``ax``."""
    ax.set_axis_off()
    ax.set_title(f"{trace.contacts.num_rows:,} persons (more than max_nodes={max_nodes}): summary")
    counts = trace._shown_tier_counts()
    left = ax.inset_axes((0.0, 0.08, 0.38, 0.84))
    tiers = sorted(counts)
    bars = left.bar(
        range(len(tiers)),
        [counts[k] for k in tiers],
        color=[f"C{k % 10}" for k in tiers],
        gid=GID_TIER_COUNTS,
    )
    left.bar_label(bars, labels=[f"{counts[k]:,}" for k in tiers], fontsize="small")
    left.set_xticks(range(len(tiers)), labels=[f"F{k}" for k in tiers])
    left.set_ylabel("persons")
    left.set_title("persons per tier", fontsize="medium")
    right = ax.inset_axes((0.62, 0.08, 0.38, 0.84))
    top = trace.top_venues(10)
    names = [_plain(v) for v in top["venue"].to_pylist()]
    pairs = top["pairs"].to_pylist()
    positions = np.arange(len(names))[::-1]
    right.barh(positions, pairs, color="#7f7f7f", gid=GID_VENUE_PAIRS)
    right.set_yticks(positions, labels=names, fontsize="small")
    right.set_xlabel("qualifying stay pairs")
    right.set_title("busiest exposure venues", fontsize="medium")
    if not names:
        _note(right, "no stay pairs")


# --------------------------------------------------------------------------- compliance


def plot_compliance(
    report: TableLike,
    /,
    *,
    ax: Axes | None = None,
    by: str | None = None,
    metric: ComplianceMetric = "share",
    max_lines: int = 8,
) -> Axes:
    """Draw a QR compliance report: ``metric`` over time, one line per area.

    Parameters
    ----------
    report : table
        A compliance report (pyarrow, pandas or polars), as made by
        ``tracegraph.compliance.compliance``: columns ``period``, ``period_end``
        (timestamps), zero or more area columns (strings, coarsest first, e.g.
        ``district``, ``ward``), ``registered``, ``active``, ``share``, ``scans``,
        ``scans_per_venue``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure.
    by : str, optional
        The area column to draw one line per area of; by default the first area
        column. An area is named by the columns up to ``by`` (a ward of its district:
        "Ba Dinh / Phuc Xa"); finer area columns are summed over. Without area
        columns, one city-wide line is drawn.
    metric : {"share", "scans_per_venue", "registered", "active", "scans"}, default "share"
        What to plot.
    max_lines : int, default 8
        Most lines drawn: beyond it, the areas with the most registered venues (summed
        over the periods) get their own line and the rest are summed into "other".

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into, one line (``ax.get_lines()``) per area shown.

    Raises
    ------
    SchemaError
        If a column is missing or of the wrong type, counts hold nulls, or ``by`` is
        not an area column of the report.
    ValueError
        If ``metric`` or ``max_lines`` is not valid.
    ImportError
        If matplotlib is not installed.

    Notes
    -----
    Counts are summed per period and line, then ``share = active / registered`` and
    ``scans_per_venue = scans / active`` are recomputed from the sums (empty where
    the divisor is 0, which breaks the line; a value alone between two breaks is
    drawn as a dot): a mean of ratios would weigh a ward of 3 venues like one of
    300. A missing area name is drawn as "(missing)". Times are shown in the zone of
    the ``period`` column.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import pyarrow as pa
    >>> from tracegraph.plot import plot_compliance
    >>> week = pa.timestamp("us", tz="Asia/Ho_Chi_Minh")
    >>> report = pa.table({
    ...     "period": pa.array([0, 0, 604_800_000_000, 604_800_000_000], week),
    ...     "period_end": pa.array([604_800_000_000] * 2 + [1_209_600_000_000] * 2, week),
    ...     "district": ["D1", "D3", "D1", "D3"],
    ...     "registered": [120, 80, 121, 80],
    ...     "active": [90, 40, 100, 44],
    ...     "share": [0.75, 0.5, 100 / 121, 0.55],
    ...     "scans": [5000, 1500, 5400, 1700],
    ...     "scans_per_venue": [5000 / 90, 37.5, 54.0, 1700 / 44],
    ... })
    >>> ax = plot_compliance(report)
    >>> [line.get_label() for line in ax.get_lines()]
    ['D1', 'D3']
    >>> plt.close(ax.figure)
    """
    plt = _pyplot()
    from matplotlib.ticker import PercentFormatter

    _check_axes(ax)
    table = as_arrow_table(report, "compliance report")
    areas = _check_report(table)
    if not isinstance(metric, str) or metric not in _METRICS:
        raise ArgumentError(f"`metric`: expected one of {tuple(_METRICS)}, got {metric!r}")
    if isinstance(max_lines, bool) or not isinstance(max_lines, int | np.integer):
        raise ArgumentError(f"`max_lines`: expected an int, got {type(max_lines).__name__}")
    if max_lines < 1:
        raise ArgumentError(f"`max_lines`: expected an int >= 1, got {max_lines}")
    if by is None:
        by = areas[0] if areas else None
    elif by not in areas:
        raise SchemaError(f"`by`: expected one of the report's area columns {areas}, got {by!r}")

    keys = [] if by is None else areas[: areas.index(by) + 1]  # the areas holding `by` too
    line_of_row, names = _lines(table, keys, max_lines)
    periods, period_of_row = np.unique(
        table["period"].cast(pa.int64()).to_numpy(), return_inverse=True
    )
    cell = period_of_row * len(names) + line_of_row
    n_cells = len(periods) * len(names)
    sums = {
        name: np.bincount(cell, weights=table[name].to_numpy(), minlength=n_cells).reshape(
            len(periods), len(names)
        )
        for name in _COUNTS
    }
    present = np.bincount(cell, minlength=n_cells).reshape(len(periods), len(names)) > 0
    values = _metric_values(metric, sums)
    values[~present] = np.nan

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    assert ax is not None  # for mypy: set above when it was None
    period_type = table.schema.field("period").type
    zone = _column_zone(period_type.tz)
    unit = period_type.unit
    x = _datenums_from(periods.astype(f"datetime64[{unit}]"))
    for j, name in enumerate(names):
        ax.plot(
            x,
            values[:, j],
            marker="o",
            markevery=_marked(values[:, j], every=len(periods) <= 30),
            markersize=3,
            label=_plain(name),
        )
    _time_axis(ax, zone, "period start")
    ax.set_ylabel(_METRICS[metric])
    if metric == "share":
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    where = f"by {by}" if by is not None else "city-wide"
    ax.set_title(f"QR check-ins: {_METRICS[metric]}, {where}")
    if names:
        ax.legend(title=" / ".join(keys), fontsize="small", loc="best")
    else:
        _note(ax, "empty report")
    return ax


def _check_report(table: pa.Table) -> list[str]:
    """Check the report's columns and types; return its area columns, in order."""
    require_columns(table, _REPORT_COLUMNS, "compliance report")
    schema = table.schema
    for name in ("period", "period_end"):
        if not pa.types.is_timestamp(schema.field(name).type):
            raise SchemaError(
                f"compliance report: column `{name}`: expected a timestamp type, got "
                f"{schema.field(name).type}"
            )
    for name in _COUNTS:
        typ = schema.field(name).type
        if not pa.types.is_integer(typ):
            raise SchemaError(
                f"compliance report: column `{name}`: expected an integer type, got {typ}"
            )
    for name in ("period", *_COUNTS):
        if table[name].null_count:
            raise SchemaError(
                f"compliance report: column `{name}`: expected no nulls, found "
                f"{table[name].null_count}"
            )
    for name in ("share", "scans_per_venue"):
        typ = schema.field(name).type
        if not (pa.types.is_floating(typ) or pa.types.is_null(typ)):
            raise SchemaError(
                f"compliance report: column `{name}`: expected a float type, got {typ}"
            )
    areas = [name for name in table.column_names if name not in _REPORT_COLUMNS]
    for name in areas:
        typ = schema.field(name).type
        if pa.types.is_dictionary(typ):
            typ = typ.value_type
        if not (pa.types.is_string(typ) or pa.types.is_large_string(typ) or _is_view(typ)):
            raise SchemaError(
                f"compliance report: column `{name}`: expected area names (strings), got "
                f"{schema.field(name).type}; the report's columns are {_REPORT_COLUMNS[:2]}, "
                f"area columns, then {_REPORT_COLUMNS[2:]}"
            )
    return areas


def _is_view(typ: pa.DataType) -> bool:
    is_string_view = getattr(pa.types, "is_string_view", None)
    return bool(is_string_view is not None and is_string_view(typ))


def _lines(table: pa.Table, by: list[str], max_lines: int) -> tuple[np.ndarray, list[str]]:
    """Which line each row goes to, and the lines' names (busiest first, "other" last).

    An area is the values of the ``by`` columns together (a ward is a ward of its
    district: "Phuong 1" of two districts are two lines, named "district / ward").
    """
    n = table.num_rows
    if not by:
        return np.zeros(n, dtype=np.int64), (["city-wide"] if n else [])
    parts = []
    for name in by:
        column = table[name].combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        parts.append(column.cast(pa.string()).fill_null("(missing)"))
    key = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, " / ")
    encoded = pc.dictionary_encode(key)
    group = encoded.indices.to_numpy().astype(np.int64)
    names: list[str] = encoded.dictionary.to_pylist()
    totals = np.bincount(group, weights=table["registered"].to_numpy(), minlength=len(names))
    used = np.bincount(group, minlength=len(names)) > 0
    order = [g for g in np.argsort(-totals, kind="stable") if used[g]]
    kept = order if len(order) <= max_lines else order[: max_lines - 1]
    line_of_group = np.full(len(names), len(kept), dtype=np.int64)
    line_of_group[kept] = np.arange(len(kept))
    lines = [names[g] for g in kept]
    if len(kept) < len(order):
        lines.append(f"other ({len(order) - len(kept)} areas)")
    return line_of_group[group], lines


def _marked(y: np.ndarray, *, every: bool) -> list[bool]:
    """Which points of a line get a marker: all (``every``), else the lone ones.

    A lone value (no value on either side: a gap before and after) draws no line
    segment; without a marker it would not be seen at all.
    """
    shown = np.isfinite(y)
    if not every:
        shown &= ~np.r_[False, shown[:-1]] & ~np.r_[shown[1:], False]
    marked: list[bool] = shown.tolist()
    return marked


def _metric_values(metric: str, sums: dict[str, np.ndarray]) -> np.ndarray:
    if metric in _COUNTS:
        return sums[metric].astype(np.float64)
    numerator, divisor = (
        (sums["active"], sums["registered"])
        if metric == "share"
        else (sums["scans"], sums["active"])
    )
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, divisor, out=out, where=divisor > 0)
    return out


# --------------------------------------------------------------------------- helpers


def _pyplot() -> Any:
    """matplotlib.pyplot, or an ImportError naming the extra to install."""
    require("matplotlib", "plot")  # MissingDependency (an ImportError) naming the extra
    import matplotlib.pyplot as plt

    return plt


def _note(ax: Axes, text: str) -> None:
    """A note in the middle of ``ax`` (for an empty plot)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", color="#666666", transform=ax.transAxes)


def _check_axes(ax: Any) -> None:
    """An ``ax=`` argument: None or one matplotlib Axes (not a Figure, not an array)."""
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise ArgumentError(
            f"`ax`: expected a matplotlib Axes, got {type(ax).__name__}"
            + ("; pass one of them, e.g. axs[0]" if isinstance(ax, np.ndarray) else "")
        )


def _within_calendar(ax: Axes) -> None:
    """The date axis' limits clamped to the years 1-9999 matplotlib can draw.

    (A stay ending at a placeholder 9999-12-31, with the axis' margin, would put the
    limit past the year 9999: the figure would fail when drawn.) Both limits are kept
    a day inside the calendar, so that they are dates in every zone too (9999-12-31
    22:00Z is in the year 10000 in Tokyo), and in order.
    """
    mdates = _dates()
    first = mdates.date2num(dt.datetime(1, 1, 2, tzinfo=dt.UTC))
    last = mdates.date2num(dt.datetime(9999, 12, 30, tzinfo=dt.UTC))
    left, right = ax.get_xlim()
    left = min(max(left, first), last - 1)
    right = max(min(right, last), left + 1)
    ax.set_xlim(left, right)


def _check_trace(trace: Any) -> None:
    if not isinstance(trace, Trace):
        raise ArgumentError(f"`trace`: expected a tracegraph.Trace, got {type(trace).__name__}")


def _plain(value: Any) -> str:
    """An id as plain text for matplotlib: ``$`` escaped (no mathtext), long ids cut."""
    text = "(null)" if value is None else str(value)
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 1] + "…"
    return text.replace("$", r"\$")


def _zone(tz: str | dt.tzinfo | None) -> dt.tzinfo:
    if tz is None:
        return dt.UTC
    if isinstance(tz, dt.tzinfo):
        return tz
    if isinstance(tz, str):
        try:  # (an IANA name, or a fixed offset as trace takes it)
            return zone_info(tz)
        except (KeyError, ValueError, OSError):
            pass
    raise TimezoneError(f"`tz`: expected a valid IANA zone name or a tzinfo, got {tz!r}")


def _column_zone(name: str | None) -> dt.tzinfo:
    """The zone of a timestamp column (an IANA name or a fixed offset such as "+07:00")."""
    if name is None or name == "UTC":
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    try:
        offset = dt.datetime.strptime(name, "%z").utcoffset()
    except ValueError:
        return dt.UTC
    return dt.timezone(offset) if offset is not None else dt.UTC


def _zone_name(zone: dt.tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone.tzname(None) or zone)


def _datenums(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds as matplotlib date numbers (whatever ``date.epoch`` is set to)."""
    return _datenums_from(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"))


def _datenums_from(times: np.ndarray) -> np.ndarray:
    if times.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    return np.asarray(_dates().date2num(times), dtype=np.float64)


def _time_axis(ax: Axes, zone: dt.tzinfo, what: str) -> None:
    """Date ticks and labels in ``zone``."""
    mdates = _dates()
    locator = mdates.AutoDateLocator(tz=zone)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    ax.set_xlabel(f"{what} ({_zone_name(zone)})")


def _dates() -> Any:
    """``matplotlib.dates`` (typed Any: parts of it have no annotations)."""
    import matplotlib.dates

    return matplotlib.dates
