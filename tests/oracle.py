"""A brute-force oracle for :func:`tracegraph.trace`, written from the rules text.

It is deliberately slow and plain: Python ints, nested loops over every stay, no
index, no sorting tricks. Each step below quotes the rule it implements, so the
oracle can be checked against the rules by reading it, and the fast engine can be
checked against the oracle by the property tests.

The rules
---------
* A stay is the half-open interval ``[start, end)`` at one venue by one person. Two
  intervals overlap by ``min(end1, end2) - max(start1, start2)``; a pair qualifies
  when that overlap is ``> 0`` and ``>= min_overlap``.
* Tier 0 = the cases. A case's stays that overlap its window ``[w0, w1)`` (overlap
  ``> 0``; others are ignored) are clipped to the window, then extended by
  ``linger`` after the end: exposure interval ``[max(start, w0), min(end, w1) + linger)``.
  With no window, the window is all time.
* Tier 1 = every person not in tier 0 with a stay at the same venue that qualifies
  against any tier-0 exposure interval. Their ``exposed_at`` is the earliest overlap
  start ``max(stay start, interval start)`` among their qualifying pairs.
* Tier k+1 (k >= 1) is built the same way from tier k: a tier-k person ``q`` is
  infectious during ``[exposed_at_q + latency, exposed_at_q + latency + infectious_for)``
  (no upper bound when ``infectious_for`` is None); ``q``'s stays overlapping that
  window are clipped to it and extended by ``linger``, exactly as for the cases.
* ``edges`` holds every qualifying (tier-k person, tier-(k+1) person) stay pair, with
  the overlap ``[max(a, xs), min(b, xe))`` of the target's stay ``[a, b)`` with the
  source's exposure interval ``[xs, xe)``, and ``tier = k + 1``. One row per
  (source stay, target stay) pair.
* A person's own overlapping stays are not contacts. Tracing stops after ``tiers``
  tiers, or earlier when a tier is empty.

Policies (``policy=``, the issue's text for each preset, see :func:`matches`) change
three steps: how a window's stays become exposure intervals (closed intervals keep
stays touching the window; the CWA rule rebuilds each interval on a 10-minute grid),
when a contact's stay matches an interval (half-open, closed, arrival instant,
shared hour bucket), and how venue ids compare (exactly or case-insensitively).
``cumulative=True`` sums a target's time with each source per day of ``day_tz`` (of the
overlap start; a pair's overlaps that overlap each other, from duplicated stays,
count once), over the sources, before ``min_overlap`` is applied;
``cumulative="per_source"`` does the same for each source apart.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction
from typing import Any

__all__ = [
    "cwa_window",
    "exposure_intervals",
    "matches",
    "overlap",
    "present_at_oracle",
    "sort_edges",
    "tiers_by_bfs",
    "trace_oracle",
]

Stay = tuple[Hashable, Hashable, int, int]  # (person, venue, start, end)
Edge = tuple[
    Hashable, Hashable, Hashable, int, int, int
]  # (source, target, venue, start, end, tier)


def overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    """``min(end1, end2) - max(start1, start2)``: positive only for a real overlap."""
    return min(a1, b1) - max(a0, b0)


def cwa_window(start: int, end: int) -> tuple[int, int] | None:
    """The Corona-Warn-App window of a case stay, from the issue's text, or None."""
    d = end - start
    dm = d // 60
    if dm < 10:
        return None  # "dropped if dm < 10"
    decay = d if dm <= 30 else 30 * 60
    relevant_end = end + decay
    target = int(Fraction(d + decay, 600) + Fraction(1, 2)) * 600  # round half up
    s_grid = (start // 600) * 600
    e_grid = (relevant_end // 600) * 600
    if (relevant_end - e_grid) > (s_grid + 600 - start):
        window_end = e_grid + 600
        return window_end - target, window_end
    return s_grid, s_grid + target


def matches(
    policy: Any, a: int, b: int, xs: int, xe: int, min_overlap: int
) -> tuple[int, int] | None:
    """The overlap ``(start, end)`` of a contact's stay [a, b] with a window [xs, xe] if
    they match under ``policy`` (None: the default rules), else None."""
    intervals = "half-open" if policy is None else policy.intervals
    contact = "stay" if policy is None else policy.contact
    if contact == "arrival":
        # "a contact stay counts as its arrival instant only; it matches iff window
        # start < arrival < window end (both strict)"
        return (a, a) if xs < a < xe and min_overlap == 0 else None
    ov = overlap(a, b, xs, xe)
    # half-open: overlap > 0; closed: they share an instant (touching, zero length count)
    ok = ov > 0 if intervals == "half-open" else a <= xe and xs <= b
    if ok and policy is not None and policy.bucket:
        k = policy.bucket
        ok = bool(set(range(a // k, b // k + 1)) & set(range(xs // k, xe // k + 1)))
    if not ok or ov < min_overlap:
        return None
    return max(a, xs), min(b, xe)


def same_venue(policy: Any, v: Hashable, w: Hashable) -> bool:
    casefold = policy is not None and policy.venue_match == "casefold"
    if casefold and isinstance(v, str) and isinstance(w, str):
        return v.casefold() == w.casefold()
    return v == w


def exposure_intervals(
    stays: Iterable[Stay],
    person: Hashable,
    window: tuple[int | None, int | None],
    linger: int,
    policy: Any = None,
) -> list[tuple[Hashable, int, int]]:
    """``person``'s exposure intervals ``(venue, xs, xe)`` for the window ``[w0, w1)``.

    ``None`` for a bound means unbounded. A stay counts only when it overlaps the
    window by more than zero; it is then clipped to the window and its end is
    extended by ``linger``.
    """
    w0, w1 = window
    out = []
    for p, venue, start, end in stays:
        if p != person:
            continue
        lo = start if w0 is None else max(start, w0)
        hi = end if w1 is None else min(end, w1)
        closed = policy is not None and policy.intervals == "closed"
        if hi - lo > 0 or (closed and hi == lo):
            # overlaps the window by > 0 (also drops zero-length stays); closed
            # policies also keep a stay touching it, or a zero-length one inside
            if policy is not None and policy.window == "cwa":
                cwa = cwa_window(lo, hi)
                if cwa is not None:
                    out.append((venue, cwa[0], cwa[1]))
            else:
                out.append((venue, lo, hi + linger))
    return out


def trace_oracle(
    stays: Iterable[Stay],
    cases: Mapping[Hashable, tuple[int | None, int | None] | None],
    *,
    tiers: int = 1,
    min_overlap: int = 0,
    linger: int = 0,
    latency: int = 0,
    infectious_for: int | None = None,
    policy: Any = None,
    cumulative: bool | str = False,
    day_tz: str = "UTC",
    with_stays: bool = False,
) -> tuple[dict[Hashable, tuple[int, int | None]], list[Edge]]:
    """Trace ``cases`` through ``stays`` by brute force.

    Parameters
    ----------
    stays
        ``(person, venue, start, end)`` tuples, times in int seconds, ``start <= end``.
    cases
        ``person -> (w0, w1)`` (either bound may be None = unbounded) or
        ``person -> None`` for a window of all time. A case need not have any stay.
    tiers, min_overlap, linger, latency, infectious_for
        As in :func:`tracegraph.trace`, durations in int seconds.

    Returns
    -------
    contacts
        ``person -> (tier, exposed_at)``, ``exposed_at`` None for tier 0.
    edges
        Sorted list of ``(source, target, venue, start, end, tier)``; with
        ``with_stays``, the target's stay (its position in ``stays``) seventh.
    """
    stays = [(p, v, int(s), int(e)) for p, v, s, e in stays]
    for p, v, s, e in stays:
        assert s <= e, f"invalid stay {(p, v, s, e)}"
    for arg in (tiers, min_overlap, linger, latency):
        assert arg >= 0
    assert infectious_for is None or infectious_for >= 0

    # Tier 0: the cases, each with its window (None = all time).
    contacts: dict[Hashable, tuple[int, int | None]] = {p: (0, None) for p in cases}
    window: dict[Hashable, tuple[int | None, int | None]] = {
        p: (None, None) if w is None else (w[0], w[1]) for p, w in cases.items()
    }
    frontier = list(cases)
    edges: list[Edge] = []

    for k in range(tiers):  # build tier k + 1 from tier k
        if not frontier:
            break  # an empty tier stops the tracing
        sources = [
            (q, venue, xs, xe)
            for q in frontier
            for venue, xs, xe in exposure_intervals(stays, q, window[q], linger, policy)
        ]
        found: list[Edge] = []
        for q, venue, xs, xe in sources:
            for i, (p, v, a, b) in enumerate(stays):
                if not same_venue(policy, v, venue) or p == q or p in contacts:
                    continue  # other venue, oneself, or already in tiers 0..k
                m = matches(policy, a, b, xs, xe, 0 if cumulative else min_overlap)
                if m is not None:
                    found.append((q, p, v, m[0], m[1], k + 1, i))
        if cumulative:
            # the time each target spent with each source: that pair's overlaps merged
            # where they overlap (duplicated stays count once; touching ones stay
            # apart), each merged piece on the day (of day_tz) it starts; summed per
            # (target, day), or per (target, source, day) with "per_source"
            by_pair: dict[tuple[Hashable, Hashable], list[int]] = {}
            for i, e in enumerate(found):
                by_pair.setdefault((e[0], e[1]), []).append(i)
            total: dict[tuple[Hashable, ...], int] = {}
            day_of: dict[int, tuple[Hashable, ...]] = {}
            for (q, p), members in by_pair.items():
                pieces: list[list[Any]] = []  # [start, end, edges]
                for i in sorted(members, key=lambda i: found[i][3]):
                    a, b = found[i][3], found[i][4]
                    if pieces and a < pieces[-1][1]:
                        pieces[-1][1] = max(pieces[-1][1], b)
                        pieces[-1][2].append(i)
                    else:
                        pieces.append([a, b, [i]])
                for a, b, edges_of_piece in pieces:
                    key = (p, local_day(a, day_tz))
                    if cumulative == "per_source":
                        key = (p, q, local_day(a, day_tz))
                    total[key] = total.get(key, 0) + b - a
                    for i in edges_of_piece:
                        day_of[i] = key
            found = [e for i, e in enumerate(found) if total[day_of[i]] >= min_overlap]
        exposed_at: dict[Hashable, int] = {}
        for e in found:
            edges.append(e)
            exposed_at[e[1]] = min(exposed_at.get(e[1], e[3]), e[3])
        for p, x in exposed_at.items():
            contacts[p] = (k + 1, x)
            lo = x + latency
            window[p] = (lo, None if infectious_for is None else lo + infectious_for)
        frontier = list(exposed_at)

    return contacts, sort_edges(edges if with_stays else [e[:6] for e in edges])


def local_day(t: int, tz: str) -> dt.date:
    """The calendar day of epoch second ``t`` on the clocks of zone ``tz``."""
    return dt.datetime.fromtimestamp(t, zoneinfo.ZoneInfo(tz)).date()


def present_at_oracle(
    stays: Iterable[Stay],
    windows: Iterable[tuple[Hashable, int, int]],
    policy: Any = None,
    min_overlap: int = 0,
) -> list[tuple[int, Hashable, Hashable, int, int]]:
    """Every (window position, person, venue, overlap start, overlap end) match, sorted."""
    out = []
    for w, (venue, xs, xe) in enumerate(windows):
        for p, v, a, b in stays:
            if same_venue(policy, v, venue):
                m = matches(policy, a, b, xs, xe, min_overlap)
                if m is not None:
                    out.append((w, p, v, m[0], m[1]))
    return sorted(out, key=repr)


def sort_edges(edges: Iterable[Edge]) -> list[Edge]:
    """Edges in a canonical order (by tier, then ids, then times), so that two edge
    multisets are equal exactly when their sorted lists are."""

    def key(edge: Edge):
        # ids compared by their printed form, so mixed id types never fail to compare
        source, target, venue, start, end, tier = edge[:6]
        return (tier, repr(source), repr(target), repr(venue), start, end, *edge[6:])

    return sorted(edges, key=key)


def tiers_by_bfs(cases: Iterable[Hashable], edges: Iterable[Edge]) -> dict[Hashable, int]:
    """Tier of each person as the BFS layer from the cases in the graph of ``edges``.

    Edges only ever go from tier k to tier k + 1 and every person of tier k + 1 has
    at least one incoming edge, so BFS layers over the edges must reproduce the
    tiers exactly. Used to check that a result's contacts and edges agree.
    """
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(cases)
    graph.add_edges_from((e[0], e[1]) for e in edges)
    return {
        person: depth
        for depth, layer in enumerate(nx.bfs_layers(graph, list(dict.fromkeys(cases))))
        for person in layer
    }


def day_pieces(a: int, b: int, tz: str) -> list[tuple[dt.date, int]]:
    """``[a, b)`` cut where the calendar day of zone ``tz`` changes: (day, seconds) pieces.

    The cuts are found by bisection on whole seconds (the day of a time only grows
    with it in the zones the tests use); an empty interval is one piece on its day.
    """
    pieces = []
    while True:
        day = local_day(a, tz)
        if b <= a or local_day(b - 1, tz) == day:
            pieces.append((day, b - a))
            return pieces
        lo, hi = a, b - 1  # local_day(lo) == day < local_day(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if local_day(mid, tz) == day else (lo, mid)
        pieces.append((day, hi - a))
        a = hi


def risk_oracle(
    edges: Iterable[Edge],
    policy: Any,
    *,
    levels: Mapping[Any, int] | None = None,
    day_tz: str = "UTC",
) -> dict[Hashable, tuple[int, int, float]]:
    """``target -> (overlap_minutes, longest_minutes, risk)`` of ``Trace.risk``, by hand.

    With each source, a target's overlaps are merged where they overlap (touching
    ones stay apart). ``overlap_minutes``: per source, the merged seconds summed and
    rounded once, summed over sources; ``longest_minutes``: the longest merged piece,
    rounded. ``risk``: per day of ``day_tz``, with each source, that day's seconds
    rounded once, summed; the worst day's. Under the ``"cwa"`` risk model (edges with
    their target stays, ``trace_oracle(..., with_stays=True)``): per target stay and
    day, each edge's seconds that day rounded on their own, times the source's CWA
    weight (``levels[(source, day)]``, else ``levels[source]``, else 5), summed; the
    worst stay's day.
    """
    from tracegraph.policy import CWA_WEIGHTS

    def minutes(s: int) -> int:
        if policy.rounding == "floor":
            return s // 60
        if policy.rounding == "ceil":
            return -(-s // 60)
        return (s + 30) // 60

    edges = list(edges)
    by_pair: dict[tuple[Hashable, Hashable], list[tuple[int, int]]] = {}
    for source, target, _, a, b, _ in (e[:6] for e in edges):
        by_pair.setdefault((target, source), []).append((a, b))
    cwa_score: dict[tuple[Hashable, int, dt.date], float] = {}
    if policy.risk == "cwa":  # per check-in (target stay) and day, each edge rounded
        given = levels or {}
        for source, target, _, a, b, _, stay in edges:
            for day, seconds in day_pieces(a, b, day_tz):
                weight = CWA_WEIGHTS[given.get((source, day), given.get(source, 5)) - 1]
                key = (target, stay, day)
                cwa_score[key] = cwa_score.get(key, 0.0) + weight * minutes(seconds)
    total: dict[Hashable, int] = {}
    longest: dict[Hashable, int] = {}
    score: dict[tuple[Hashable, dt.date], float] = {}
    for (target, _source), spans in by_pair.items():
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        total[target] = total.get(target, 0) + minutes(sum(b - a for a, b in merged))
        longest[target] = max([longest.get(target, 0)] + [minutes(b - a) for a, b in merged])
        per_day: dict[dt.date, int] = {}
        for a, b in merged:
            for day, seconds in day_pieces(a, b, day_tz):
                per_day[day] = per_day.get(day, 0) + seconds
        for day, seconds in per_day.items():
            score[target, day] = score.get((target, day), 0.0) + minutes(seconds)
    worst: dict[Hashable, float] = {}
    scores: dict[Any, float] = dict(cwa_score if policy.risk == "cwa" else score)
    for key, value in scores.items():
        worst[key[0]] = max(worst.get(key[0], 0.0), value)
    return {t: (total[t], longest[t], worst[t]) for t in total}
