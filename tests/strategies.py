"""Hypothesis strategies for small synthetic cities, and glue between the oracle's
plain-int world and tracegraph's Arrow tables.

A *city* is a list of stays ``(person, venue, start, end)`` with int ids and int
seconds. Cities are kept small (<= 10 people, <= 5 venues, <= 60 stays) so that
hundreds of examples run in seconds, and times are usually drawn on a coarse grid
(multiples of 300 s within a few hours) so that touching, nested and overlapping
stays are common. Some cities mix in 20-hour stays, zero-length stays, a venue
holding half the stays, exact duplicate stays, and spans of years. About two
cities in three are built around a *relay* (each person meets the next one a little
later), so that tracing from the relay's head reaches tiers 2, 3 and 4.

Hypothesis draws small integers and first list elements far more often than
others; the strategies below counter that where it matters (uniform
``sampled_from`` for tiers, per-person stay lists, explicit relays), otherwise
most examples would never get past tier 1.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from hypothesis import settings
from hypothesis import strategies as st

GRID = 300  # 5 minutes
HOURS_20 = 20 * 3600
YEAR = 365 * 86_400
ABSENT_PERSON = 999  # an id never used by a stay: a case "not in the index"

# Epoch offsets: the Unix epoch itself, a realistic 2023 time, and a time before 1970
# (negative seconds, which stress floor division and sign handling).
BASES = (0, 1_700_000_000, -1_000_000_007)


@dataclass
class City:
    stays: list[tuple[int, int, int, int]]
    n_people: int
    base: int
    mode: str = "grid"
    relay: tuple[int, ...] = ()  # people who meet one after the other, if any

    @property
    def people(self) -> set[int]:
        return {p for p, _, _, _ in self.stays}

    def span(self) -> tuple[int, int]:
        """``(min start - 1, max end + 1)``: a window strictly containing every stay."""
        if not self.stays:
            return self.base - 1, self.base + 1
        return min(s for _, _, s, _ in self.stays) - 1, max(e for _, _, _, e in self.stays) + 1


def examples(fraction: float, minimum: int = 10) -> int:
    """``fraction`` of the active hypothesis profile's ``max_examples`` (>= ``minimum``).

    Call it at import time of a test module (conftest has loaded the profile by then).
    """
    return max(minimum, int(settings.default.max_examples * fraction))


# --------------------------------------------------------------------------- times


def _grid_times(hours: int = 3) -> st.SearchStrategy[tuple[int, int]]:
    """(offset, duration) on the 5-minute grid within ``hours``; durations 0..2 h or 20 h.

    A dense grid: with a few dozen stays over a few venues, touching, nested and
    overlapping stays are the rule. Spread over 12 h, contacts thin out into chains
    that reach tiers 2..4."""
    start = st.integers(0, hours * 12).map(lambda k: k * GRID)
    duration = st.one_of(
        st.integers(1, 12).map(lambda k: k * GRID),
        st.integers(1, 6).map(lambda k: k * GRID),
        st.integers(1, 24).map(lambda k: k * GRID),
        st.just(0),
        st.just(HOURS_20),
    )
    return st.tuples(start, duration)


def _fine_times() -> st.SearchStrategy[tuple[int, int]]:
    """(offset, duration) to the second within 3 h; durations up to 1 h, or 20 h."""
    return st.tuples(
        st.integers(0, 3 * 3600),
        st.one_of(
            st.integers(1, 3600), st.integers(600, 3600), st.just(0), st.integers(0, HOURS_20)
        ),
    )


def _huge_times() -> st.SearchStrategy[tuple[int, int]]:
    """(offset, duration) spread over ten years, durations up to ten years."""
    return st.tuples(st.integers(0, 10 * YEAR), st.integers(0, 10 * YEAR))


TIME_MODES = {
    "grid": _grid_times(),
    "spread": _grid_times(12),
    "fine": _fine_times(),
    # mostly grid stays with a few enormous ones mixed in
    "huge": st.one_of(_grid_times(), _grid_times(), _huge_times()),
}


def offsets(mode: str) -> st.SearchStrategy[int]:
    """A time offset (relative to the city's base) in the style of ``mode``."""
    if mode == "grid":
        return st.integers(-2, 40).map(lambda k: k * GRID)
    if mode == "spread":
        return st.integers(-2, 150).map(lambda k: k * GRID)
    if mode == "fine":
        return st.integers(-600, 4 * 3600)
    return st.one_of(st.integers(-2, 40).map(lambda k: k * GRID), st.integers(-YEAR, 11 * YEAR))


def durations(
    mode: str, *, allow_zero: bool = True, grid_steps: int = 6, most: int = 3600
) -> st.SearchStrategy[int]:
    """A duration parameter in seconds: 0 (often, unless ``allow_zero`` is false), a
    multiple of the 5-minute grid (hits exact boundaries), any second up to ``most``,
    and in ``huge`` mode up to two years."""
    options = [st.integers(1, grid_steps).map(lambda k: k * GRID), st.integers(1, most)]
    if allow_zero:
        options = [st.just(0), st.just(0), *options]
    if mode == "huge":
        options.append(st.integers(1, 2 * YEAR))
    return st.one_of(*options)


# --------------------------------------------------------------------------- cities


@st.composite
def cities(
    draw,
    *,
    max_people: int = 10,
    max_venues: int = 5,
    max_stays: int = 60,
    modes: tuple[str, ...] = ("grid", "spread", "fine", "huge"),
    relay: bool | None = None,
) -> City:
    """A small city; see the module docstring."""
    mode = draw(st.sampled_from(modes))
    base = draw(st.sampled_from(BASES))
    n_people = draw(st.integers(1, max_people))
    n_venues = draw(st.one_of(st.integers(1, 3), st.integers(1, max_venues)))
    skewed = draw(st.booleans())  # one venue holds about half the stays

    venue = st.integers(0, n_venues - 1)
    if skewed:
        venue = st.one_of(st.just(0), venue)
    raw = []
    if relay:
        n_people = max(n_people, draw(st.integers(3, max(3, max_people))))
    chain = n_people > 1 and (
        relay if relay is not None else draw(st.sampled_from([False, True, True]))
    )
    if chain:
        # a relay: each person meets the next one a little later, so a case at the
        # head of the relay reaches tiers 2, 3, 4 when the parameters allow it
        relay = tuple(draw(st.permutations(range(n_people))))
        t = 0
        for a, b in itertools.pairwise(relay):
            v = draw(venue)
            stay_a = draw(st.integers(1, 8))
            # b arrives while a is there, or (now and then) just as a leaves
            inside = st.integers(0, stay_a - 1)
            shift = draw(st.one_of(inside, inside, inside, st.just(stay_a)))
            raw.append((a, v, (t, stay_a * GRID)))
            raw.append((b, v, (t + shift * GRID, draw(st.integers(1, 8)) * GRID)))
            t += (shift + draw(st.integers(1, 6))) * GRID  # b passes it on a bit later
    else:
        relay = ()
    # every person gets some more stays (1..k, or 0..k next to a relay); drawn per
    # person so each person's stays shrink on their own
    per_person = max(1, (max_stays - len(raw)) // n_people)
    if chain:
        per_person = min(per_person, draw(st.integers(1, 4)))  # light noise around a relay
    for person in range(n_people):
        mine = draw(
            st.lists(
                st.tuples(venue, TIME_MODES[mode]), min_size=0 if chain else 1, max_size=per_person
            )
        )
        raw.extend((person, v, t) for v, t in mine)
    stays = [(p, v, base + s, base + s + d) for p, v, (s, d) in raw]
    # exact duplicate stays: independent stays, each giving its own edge rows
    if stays and draw(st.booleans()):
        extra = draw(st.lists(st.sampled_from(stays), max_size=3))
        stays = (stays + extra)[: max_stays + 3]
    return City(stays=stays, n_people=n_people, base=base, mode=mode, relay=relay)


@dataclass
class Params:
    tiers: int = 1
    min_overlap: int = 0
    linger: int = 0
    latency: int = 0
    infectious_for: int | None = None

    def oracle_kwargs(self) -> dict:
        return dict(
            tiers=self.tiers,
            min_overlap=self.min_overlap,
            linger=self.linger,
            latency=self.latency,
            infectious_for=self.infectious_for,
        )


@st.composite
def params(draw, mode: str = "grid", *, nonzero: bool = False, max_tiers: int = 4) -> Params:
    """Trace parameters; ``nonzero`` forces every duration to be positive.

    Ranges are chosen so that contacts still reach deep tiers often: a min_overlap
    or latency of an hour would end most relays at tier 1."""
    z = not nonzero
    infectious = durations(mode, allow_zero=z, grid_steps=24, most=4 * 3600)
    return Params(
        # lean towards deep tracing: integers() alone would draw tiers=1 most of the time
        tiers=draw(
            st.one_of(st.integers(1, max_tiers), st.just(max_tiers), st.just(max(1, max_tiers - 1)))
        ),
        min_overlap=draw(durations(mode, allow_zero=z, grid_steps=3, most=1800)),
        linger=draw(durations(mode, allow_zero=z)),
        latency=draw(durations(mode, allow_zero=z, grid_steps=3, most=1800)),
        infectious_for=draw(infectious if nonzero else st.one_of(st.none(), st.none(), infectious)),
    )


@st.composite
def case_windows(
    draw, city: City, *, windows: bool = True, min_size: int = 1, head: bool = False
) -> dict:
    """``person -> (w0, w1) | None``: mostly people with stays, now and then one
    without (an id in range with no stay, or :data:`ABSENT_PERSON`). ``head`` always
    makes the head of the city's relay a case."""
    people = sorted(city.people)
    chosen = draw(
        st.lists(
            st.sampled_from(people),
            unique=True,
            min_size=min(min_size, len(people)),
            max_size=draw(st.sampled_from([1, 3])),  # a single case reaches deeper tiers
        )
        if people
        else st.just([])
    )
    if city.relay and (head or draw(st.booleans())) and city.relay[0] not in chosen:
        chosen[:1] = [city.relay[0]]  # start at the head of the relay
    if not chosen or draw(st.integers(0, 3)) == 0:
        absent = [p for p in range(city.n_people + 1) if p not in city.people] + [ABSENT_PERSON]
        chosen.append(draw(st.sampled_from(absent)))
    out = {}
    for person in chosen:
        if windows and draw(st.booleans()):
            own = [s for p, _, s, _ in city.stays if p == person]
            if own and draw(st.booleans()):  # near the start of one of the case's stays
                w0 = draw(st.sampled_from(own)) + draw(st.integers(-3, 3)) * GRID
            else:
                w0 = city.base + draw(offsets(city.mode))
            length = draw(
                st.one_of(st.integers(1, 24).map(lambda k: k * GRID), st.integers(1, 4 * 3600))
            )
            w1 = w0 + length
            side = draw(st.sampled_from(["both", "both", "open start", "open end"]))
            out[person] = (None if side == "open start" else w0, None if side == "open end" else w1)
        else:
            out[person] = None
    return out


# --------------------------------------------------------------------------- Arrow glue

UNIT_PER_S = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def timestamps(seconds, unit: str = "s", tz: str | None = "UTC", fractions=None) -> pa.Array:
    """Int seconds -> a timestamp array of ``unit``; ``fractions`` (ticks in [0, 1 s))
    are added to test that tracegraph floors to whole seconds."""
    per_s = UNIT_PER_S[unit]
    ticks = np.asarray(seconds, dtype=np.int64) * per_s
    if fractions is not None:
        ticks = ticks + np.asarray(fractions, dtype=np.int64)
    return pa.array(ticks, pa.int64()).cast(pa.timestamp(unit, tz=tz))


def random_stays(seed, n, *, persons, venues, days, max_stay) -> pa.Table:
    """``n`` random stays as a table: uniform starts over ``days``, stays up to ``max_stay`` s.

    Person and venue ids are ``0..persons-1`` and ``0..venues-1`` (int64), times
    ``timestamp[s, UTC]`` from the epoch. Deterministic by ``seed``.
    """
    rng = np.random.default_rng(seed)
    start = rng.integers(0, days * 86_400, n)
    ts = pa.timestamp("s", tz="UTC")
    return pa.table(
        {
            "person": rng.integers(0, persons, n),
            "venue": rng.integers(0, venues, n),
            "start": pa.array(start).cast(ts),
            "end": pa.array(start + rng.integers(0, max_stay, n)).cast(ts),
        }
    )


def stays_table(
    stays,
    *,
    unit: str = "s",
    tz: str | None = "UTC",
    ids: str = "int",
    fractions=None,
) -> pa.Table:
    """The stays as a ``pyarrow.Table`` (person, venue, start, end).

    ``ids="str"`` renders person ``3`` as ``"p3"`` and venue ``1`` as ``"v1"``;
    ``ids="big"`` maps them to large and negative int64 ids (:func:`encode_big_id`).
    ``fractions`` is an optional ``(start_ticks, end_ticks)`` pair of sub-second offsets.
    """
    persons = [p for p, _, _, _ in stays]
    venues = [v for _, v, _, _ in stays]
    if ids == "str":
        person_col = pa.array([f"p{p}" for p in persons], pa.string())
        venue_col = pa.array([f"v{v}" for v in venues], pa.string())
    elif ids == "big":
        person_col = pa.array([encode_big_id(p) for p in persons], pa.int64())
        venue_col = pa.array([encode_big_id(v) for v in venues], pa.int64())
    else:
        person_col = pa.array(persons, pa.int64())
        venue_col = pa.array(venues, pa.int64())
    f_start, f_end = fractions if fractions is not None else (None, None)
    return pa.table(
        {
            "person": person_col,
            "venue": venue_col,
            "start": timestamps([s for _, _, s, _ in stays], unit, tz, f_start),
            "end": timestamps([e for _, _, _, e in stays], unit, tz, f_end),
        }
    )


def assert_same_traces(a, b, cases, tiers=(1, 3)) -> None:
    """Two indexes answer alike: the same contacts and the same edges (as a set of rows)."""
    import tracegraph as tg

    for n in tiers:
        x = tg.trace(a, cases, tiers=n, unknown="drop")
        y = tg.trace(b, cases, tiers=n, unknown="drop")
        assert x.contacts.equals(y.contacts)
        assert sorted(zip(*x.edges.to_pydict().values(), strict=True)) == sorted(
            zip(*y.edges.to_pydict().values(), strict=True)
        )


def index_of(rows, **kwargs):
    """Hand-written rows ``(person, venue, start, end)``, times in int seconds (UTC), as
    a :class:`tracegraph.VenueIndex` (``kwargs`` go to ``from_stays``)."""
    import tracegraph as tg

    ts = pa.timestamp("s", tz="UTC")
    table = pa.table(
        {
            "person": [r[0] for r in rows],
            "venue": [r[1] for r in rows],
            "start": pa.array([r[2] for r in rows], pa.int64()).cast(ts),
            "end": pa.array([r[3] for r in rows], pa.int64()).cast(ts),
        }
    )
    return tg.VenueIndex.from_stays(table, **kwargs)


def cases_table(
    cases: dict,
    city: City,
    *,
    ids: str = "int",
    unit: str = "s",
    tz: str = "UTC",
    all_time: str = "wide",
) -> pa.Table:
    """The cases as a table (person, start, end).

    A bound given as None is a null (documented as "that side of the window is
    open"). A case with no window at all (None) becomes, with ``all_time="wide"``,
    a window strictly containing every stay of the city, which must trace exactly
    like all time; with ``all_time="null"``, a row with two null bounds."""
    lo, hi = city.span()
    persons, starts, ends = [], [], []
    for person, window in cases.items():
        if window is None:
            window = (lo, hi) if all_time == "wide" else (None, None)
        persons.append(encode_id(person, ids))
        starts.append(window[0])
        ends.append(window[1])
    per_s = UNIT_PER_S[unit]

    def column(values):
        ticks = [None if v is None else v * per_s for v in values]
        return pa.array(ticks, pa.int64()).cast(pa.timestamp(unit, tz=tz))

    person_type = pa.string() if ids == "str" else pa.int64()
    return pa.table(
        {"person": pa.array(persons, person_type), "start": column(starts), "end": column(ends)}
    )


def as_duration(seconds: int | None, style: str):
    """Render int seconds in one of the accepted duration spellings."""
    if seconds is None:
        return None
    if style == "int":
        return seconds
    if style == "timedelta":
        return dt.timedelta(seconds=seconds)
    if style == "timedelta64":
        return np.timedelta64(seconds, "s")
    if style == "str":
        for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
            if seconds and seconds % size == 0:
                return f"{seconds // size}{unit}"
        return f"{seconds}s"
    raise ValueError(style)


DURATION_STYLES = ("int", "timedelta", "timedelta64", "str")


_BIG = 1_000_000_000_000_007


def encode_big_id(value: int) -> int:
    """A small id -> a large or negative int64 id (``ids="big"``): ids are labels,
    not positions, so they must never be used to index arrays."""
    return (value - 5) * _BIG


def decode_big_id(value: int) -> int:
    assert value % _BIG == 0, value
    return value // _BIG + 5


def encode_id(value: int, ids: str):
    return {"str": lambda v: f"p{v}", "big": encode_big_id}.get(ids, lambda v: v)(value)


def decoder(ids: str):
    return {"str": decode_str_ids, "big": decode_big_id}.get(ids)


def decode_str_ids(value):
    """``"p3"``/``"v1"`` (as made by ``ids="str"``) -> ``3``/``1``."""
    return int(value[1:])


def result_to_plain(result, *, decode=None):
    """(contacts, edges) of a tracegraph result in the oracle's plain form.

    ``decode`` maps ids back (e.g. :func:`decode_str_ids`); times become int seconds.
    Also checks the parts of the output contract that the oracle cannot express:
    column names and types, one row per person, whole-second timestamps.
    """
    from oracle import sort_edges

    if decode is None:

        def decode(x):
            return x

    contacts_t = result.contacts
    edges_t = result.edges
    assert contacts_t.column_names[:3] == ["person", "tier", "exposed_at"], contacts_t.schema
    assert pa.types.is_integer(contacts_t.schema.field("tier").type)
    assert contacts_t.schema.field("exposed_at").type == pa.timestamp("us", tz="UTC")
    for name in ("source", "target", "venue", "start", "end", "tier"):
        assert name in edges_t.column_names, edges_t.schema
    assert edges_t.schema.field("start").type == pa.timestamp("us", tz="UTC")
    assert edges_t.schema.field("end").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_integer(edges_t.schema.field("tier").type)

    def seconds(col):
        out = []
        for us in col.cast(pa.int64()).to_pylist():
            if us is None:
                out.append(None)
            else:
                assert us % 1_000_000 == 0, f"timestamp {us} us is not whole seconds"
                out.append(us // 1_000_000)
        return out

    persons = [decode(p) for p in contacts_t.column("person").to_pylist()]
    tiers = contacts_t.column("tier").to_pylist()
    exposed = seconds(contacts_t.column("exposed_at"))
    assert len(set(persons)) == len(persons), f"duplicate contact rows: {persons}"
    contacts = {p: (t, x) for p, t, x in zip(persons, tiers, exposed, strict=True)}

    edges = list(
        zip(
            [decode(x) for x in edges_t.column("source").to_pylist()],
            [decode(x) for x in edges_t.column("target").to_pylist()],
            [decode(x) for x in edges_t.column("venue").to_pylist()],
            seconds(edges_t.column("start")),
            seconds(edges_t.column("end")),
            edges_t.column("tier").to_pylist(),
            strict=True,
        )
    )
    return contacts, sort_edges(edges)
