"""A deterministic synthetic city: people, QR-coded venues and the stays between them.

Modelled on Hanoi in 2021, when every venue (office, factory, shop, market, school,
restaurant, hospital, ...) showed a QR code that citizens scanned on entry.
:func:`generate_city` builds the people, the venues and everybody's stays; it is used by
the demo, the tests and the benchmarks.

Notes
-----
The generator is vectorised with numpy: it loops over days, venue kinds and shift
models, never over people, venues or stays. Measured on the 2-core development machine
(numpy 2.4, pyarrow 26), with other jobs running:

- ``generate_city(2_000, days=3)``: about 17,000 stays in about 0.01-0.02 s;
- ``generate_city(100_000, days=7)``: about 2 million stays in about 0.7 s;
- ``generate_city(1_000_000, days=14)``: about 39.6 million stays in 23 s of CPU (one
  core; 45 s of wall time with the machine twice oversubscribed), peak RSS 2.2 GB;
  :meth:`City.write_parquet` then takes about 11 s and writes 290 MB.

Memory is about 32 bytes per stay (four ``int64`` columns, one Arrow chunk per day,
built from numpy buffers without copies) plus a few hundred MB of per-day work arrays.
``ids="str"`` looks the ids up with Arrow ``take``: fine for demo cities, slower and
bigger for huge ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import pathlib
import sys
from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tracegraph._time import day_start, read_zone
from tracegraph.errors import ArgumentError, SchemaError

__all__ = ["City", "generate_city"]

I64: TypeAlias = npt.NDArray[np.int64]
F64: TypeAlias = npt.NDArray[np.float64]
Bool: TypeAlias = npt.NDArray[np.bool_]

#: Key of the stays.parquet metadata that holds the city's start, days and time zone.
_METADATA_KEY = "tracegraph.synth"
_INT32_LIMIT = 2**31

#: Rows per Parquet row group written by :meth:`City.write_parquet`.
ROW_GROUP_SIZE = 1 << 21

_HOUR = 3_600
_DAY = 86_400
#: Nobody starts a discretionary stay before 05:00 local time.
_WAKE = 5 * _HOUR
#: Latest start of any stay, in seconds after local midnight. Below 23 h so that even a
#: 23-hour daylight-saving day keeps every start of day d before every start of day d+1.
_LAST_START = 23 * _HOUR - 1
#: Latest start of a work shift or school day.
_LAST_SHIFT = 22 * _HOUR + 30 * 60
#: No shift is longer than 18 hours.
_LONGEST_SHIFT = 18 * _HOUR
#: Time between a shift and the stays before or after it.
_COMMUTE = 15 * 60
#: Stays shorter than this after being fitted into the day are dropped.
_MIN_STAY = 3 * 60
#: At most this many discretionary stays per person and day.
_MAX_VISITS = 10
_PEOPLE_PER_VENUE = 30
_MIN_VENUES = 12

# --- the QR registry -------------------------------------------------------------------
#: Most venues registered their QR code in the weeks before the first simulated day.
_REGISTRATION_DAYS = 56
#: Share of the city's venues that registered late, during the simulated days.
_LATE_SHARE = 0.1
#: Registry-only venues (registered, never scanned), as a share of the venues; at least 2.
_EXTRA_SHARE = 0.02
_MIN_EXTRA = 2
#: Share of the registry-only venues that registered late.
_EXTRA_LATE_SHARE = 0.5

# --- geography -----------------------------------------------------------------------
# Twelve urban districts with ward counts and populations (thousands) of the order of
# Hanoi's urban districts around 2021, and a "centrality" that raises the density of
# venues (offices above all) in the historic centre.
_WARDS = (14, 18, 8, 14, 8, 21, 18, 14, 11, 10, 13, 17)
_POPULATION = (226.0, 135.0, 160.0, 322.0, 292.0, 372.0, 304.0, 506.0, 293.0, 264.0, 334.0, 397.0)
_CENTRALITY = (1.5, 2.5, 1.0, 0.8, 1.3, 1.3, 1.3, 0.8, 1.0, 1.0, 0.8, 0.9)

# --- people --------------------------------------------------------------------------
_ROLE_SHARE = (0.62, 0.20, 0.18)  # worker, student, other (retired, at home, ...)
_WORKER, _STUDENT, _OTHER = 0, 1, 2
_LOCAL_WORK = 0.5  # probability a worker works in their home district
_RETURN = 0.8  # share of visits to a favourite venue (preferential return, Song et al. 2010)
_FAVOURITES = 3  # favourite venues per person and kind
_LOCAL_SCHOOL = 0.9

# --- shift models and the days they work (Mon..Sun) ------------------------------------
_OFFICE, _FACTORY, _SCHOOL, _RETAIL, _CLINIC, _HOSPITAL = range(6)
_WORKS_ON = np.array(
    [
        [0.95, 0.95, 0.95, 0.95, 0.95, 0.05, 0.00],  # office
        [0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.15],  # factory (six-day weeks)
        [0.97, 0.97, 0.97, 0.97, 0.97, 0.00, 0.00],  # school, teachers and pupils
        [0.86, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86],  # shops, markets, restaurants, ...
        [0.95, 0.95, 0.95, 0.95, 0.95, 0.50, 0.10],  # clinic
        [0.86, 0.86, 0.86, 0.86, 0.86, 0.86, 0.86],  # hospital (rota)
    ]
)


# --- venue kinds -----------------------------------------------------------------------
_KIND_NAMES = (
    "office", "factory", "school", "market", "supermarket", "shop", "restaurant", "cafe",
    "clinic", "hospital", "mall",
)  # fmt: skip
_SCHOOL_KIND = _KIND_NAMES.index("school")

# The venues: (share of all venues, range of opening hours, range of closing hours (local,
# inclusive; 0-24 is round the clock), lognormal sigma and scale of popularity, alpha:
# venue density ~ district population * centrality**alpha).
_VENUE_KINDS: dict[str, tuple[float, tuple[int, int], tuple[int, int], float, float, float]] = {
    "office": (0.12, (7, 8), (18, 20), 1.2, 1.0, 1.5),
    "factory": (0.03, (0, 0), (24, 24), 1.5, 3.0, -2.0),
    "school": (0.03, (6, 7), (17, 18), 0.5, 4.0, 1.0),
    "market": (0.03, (4, 5), (18, 19), 1.8, 2.0, 1.0),
    "supermarket": (0.04, (7, 8), (21, 22), 1.0, 2.0, 1.0),
    "shop": (0.33, (7, 9), (20, 22), 1.3, 0.5, 1.0),
    "restaurant": (0.20, (6, 10), (21, 23), 1.3, 1.0, 1.2),
    "cafe": (0.17, (6, 7), (22, 23), 1.3, 1.0, 1.2),
    "clinic": (0.03, (7, 8), (17, 20), 0.7, 1.0, 1.0),
    "hospital": (0.001, (0, 0), (24, 24), 0.8, 10.0, 1.0),
    "mall": (0.0006, (9, 10), (22, 22), 0.6, 30.0, 1.0),
}
# Their staff: (share of all workers, shift model).
_STAFF: dict[str, tuple[float, int]] = {
    "office": (0.34, _OFFICE),
    "factory": (0.22, _FACTORY),
    "school": (0.04, _SCHOOL),
    "market": (0.05, _RETAIL),
    "supermarket": (0.03, _RETAIL),
    "shop": (0.09, _RETAIL),
    "restaurant": (0.07, _RETAIL),
    "cafe": (0.05, _RETAIL),
    "clinic": (0.03, _CLINIC),
    "hospital": (0.04, _HOSPITAL),
    "mall": (0.04, _RETAIL),
}
# Their visitors: (weight among visits Monday-Friday, weight Saturday-Sunday, probability
# the visit is in the visitor's home district, dwell time in minutes: (median, lognormal
# sigma, min, max)).
_VISITS: dict[str, tuple[float, float, float, tuple[float, float, float, float]]] = {
    "office": (0.02, 0.0, 0.5, (60, 0.5, 15, 240)),
    "factory": (0.0, 0.0, 0.5, (60, 0.5, 15, 240)),
    "school": (0.012, 0.0, 0.95, (15, 0.4, 5, 60)),
    "market": (0.16, 0.20, 0.8, (35, 0.3, 15, 90)),
    "supermarket": (0.09, 0.13, 0.6, (35, 0.45, 10, 120)),
    "shop": (0.20, 0.22, 0.7, (15, 0.6, 3, 90)),
    "restaurant": (0.22, 0.20, 0.6, (50, 0.35, 20, 150)),
    "cafe": (0.20, 0.18, 0.6, (55, 0.45, 15, 180)),
    "clinic": (0.04, 0.02, 0.8, (45, 0.5, 10, 180)),
    "hospital": (0.03, 0.02, 0.3, (120, 0.7, 20, 600)),
    "mall": (0.02, 0.05, 0.2, (100, 0.5, 30, 300)),
}
# When visits like to start: a mixture of (mean hour, sd in hours, weight).
_WHEN: dict[str, tuple[tuple[float, float, float], ...]] = {
    "office": ((9.5, 1.0, 0.6), (14.5, 1.2, 0.4)),
    "factory": ((10.0, 2.0, 1.0),),
    "school": ((7.0, 0.3, 0.5), (16.75, 0.4, 0.5)),  # taking children, fetching them
    "market": ((6.5, 1.0, 0.6), (10.0, 1.5, 0.15), (16.5, 1.0, 0.25)),
    "supermarket": ((10.0, 2.0, 0.3), (18.5, 1.5, 0.7)),
    "shop": ((10.0, 2.0, 0.4), (15.0, 2.0, 0.2), (19.5, 1.5, 0.4)),
    "restaurant": ((7.0, 0.6, 0.25), (12.0, 0.6, 0.4), (18.75, 1.0, 0.35)),  # pho, lunch, dinner
    "cafe": ((7.5, 1.0, 0.35), (15.0, 2.0, 0.35), (20.0, 1.5, 0.3)),
    "clinic": ((8.5, 1.5, 0.6), (15.0, 1.5, 0.4)),
    "hospital": ((9.0, 2.0, 0.65), (15.0, 2.5, 0.35)),
    "mall": ((15.0, 2.5, 0.4), (19.0, 1.5, 0.6)),
}
#: Which kinds a very small city gets first when it has fewer venues than kinds.
_PRIORITY = (
    "shop", "restaurant", "market", "cafe", "office", "supermarket", "school", "clinic",
    "factory", "hospital", "mall",
)  # fmt: skip

_K_SHARE = np.array([_VENUE_KINDS[k][0] for k in _KIND_NAMES])
_K_STAFF = np.array([_STAFF[k][0] for k in _KIND_NAMES])
_K_SHIFT = np.array([_STAFF[k][1] for k in _KIND_NAMES], dtype=np.int64)
_K_WEEKDAY = np.array([_VISITS[k][0] for k in _KIND_NAMES])
_K_WEEKEND = np.array([_VISITS[k][1] for k in _KIND_NAMES])
_K_LOCAL = np.array([_VISITS[k][2] for k in _KIND_NAMES])
#: Dwell (median s, sigma, min s, max s) per kind.
_K_DWELL = np.array([_VISITS[k][3] for k in _KIND_NAMES]) * np.array([60.0, 1.0, 60.0, 60.0])
#: Preferred start per kind and component: (mean s, sd s, cumulative weight).
_K_WHEN = np.zeros((len(_KIND_NAMES), 3, 3))
_K_WHEN[:, :, 2] = 2.0  # unused components are never drawn
for _i, _name in enumerate(_KIND_NAMES):
    _mix = np.array(_WHEN[_name])
    _K_WHEN[_i, : len(_mix), 0] = _mix[:, 0] * _HOUR
    _K_WHEN[_i, : len(_mix), 1] = _mix[:, 1] * _HOUR
    _K_WHEN[_i, : len(_mix), 2] = np.cumsum(_mix[:, 2]) / _mix[:, 2].sum()


@dataclasses.dataclass(frozen=True, repr=False)
class City:
    """A synthetic city made by :func:`generate_city`.

    Attributes
    ----------
    stays : pyarrow.Table
        ``person``, ``venue`` (``int64`` or ``string`` ids), ``start``, ``end``
        (``timestamp[s, tz=UTC]``), one row per QR check-in, sorted by ``start``;
        one chunk per simulated day.
    people : pyarrow.Table
        ``person``, ``district``, ``ward``: each person's home.
    venues : pyarrow.Table
        ``venue``, ``kind``, ``district``, ``ward``, ``opens``, ``closes``
        (local opening hours as ``int8`` hours of the day, ``0``-``24`` meaning
        round the clock), ``popularity`` (``float64`` weight, mean 1).
    start : datetime.date
        The first simulated local day.
    days : int
        The number of simulated days.
    tz : str
        The time zone of the city's local times: an IANA name or a fixed offset.
    registry : pyarrow.Table
        The venues' QR registrations, one row per registered venue, in id order:
        ``venue`` (same id type as ``stays``), ``name``, ``district``, ``ward``,
        ``registered_at`` (``timestamp[s, tz=UTC]``), ``category`` (the venue's
        kind). Every venue of ``venues`` is registered; a few registry-only venues
        (fresh ids after the last venue's) registered but never scanned. See
        :func:`generate_city`, *Registry*.
    """

    stays: pa.Table
    people: pa.Table
    venues: pa.Table
    start: dt.date
    days: int
    tz: str
    registry: pa.Table

    def __repr__(self) -> str:
        last = self.start + dt.timedelta(days=self.days - 1)
        return (
            f"City(people={self.people.num_rows:_}, venues={self.venues.num_rows:_}, "
            f"stays={self.stays.num_rows:_}, days={self.days} "
            f"[{self.start.isoformat()}..{last.isoformat()} {self.tz}])"
        )

    def write_parquet(self, directory: str | os.PathLike[str]) -> dict[str, pathlib.Path]:
        """Write the four tables as Parquet files (zstd, row groups of 2M rows).

        Parameters
        ----------
        directory : str or path-like
            Created (with its parents) if missing; existing files are replaced.

        Returns
        -------
        dict of str to pathlib.Path
            ``{"stays": .../stays.parquet, "people": .../people.parquet,
            "venues": .../venues.parquet, "registry": .../registry.parquet}``.

        Raises
        ------
        ArgumentError
            If ``directory`` is not a str or path-like.
        OSError
            If the folder cannot be created or written (a file of that name, no
            permission, a full disk). The files are written one after the other, so
            a failure can leave a folder holding files of two cities.

        Notes
        -----
        Parquet has no unit of seconds: ``start``, ``end`` and ``registered_at`` are
        stored as milliseconds, and a plain ``pyarrow.parquet.read_table`` gives
        ``timestamp[ms, tz=UTC]``. :meth:`read_parquet` restores the exact tables
        (the city's ``start``, ``days`` and ``tz`` are kept in the metadata of
        ``stays.parquet``).

        Examples
        --------
        >>> import tempfile
        >>> city = generate_city(100, days=1, seed=3)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     paths = city.write_parquet(tmp)
        ...     again = City.read_parquet(tmp)
        >>> sorted(paths)
        ['people', 'registry', 'stays', 'venues']
        >>> again.stays.equals(city.stays), again.registry.equals(city.registry)
        (True, True)
        """
        folder = _folder(directory)
        folder.mkdir(parents=True, exist_ok=True)
        about = {"start": self.start.isoformat(), "days": self.days, "tz": self.tz}
        stays = self.stays.replace_schema_metadata({_METADATA_KEY: json.dumps(about)})
        paths: dict[str, pathlib.Path] = {}
        tables = (
            ("stays", stays),
            ("people", self.people),
            ("venues", self.venues),
            ("registry", self.registry),
        )
        for name, table in tables:
            path = folder / f"{name}.parquet"
            pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP_SIZE)
            paths[name] = path
        return paths

    @classmethod
    def read_parquet(cls, directory: str | os.PathLike[str]) -> City:
        """Read a city written by :meth:`write_parquet`, exactly as it was.

        Parameters
        ----------
        directory : str or path-like
            Holds ``stays.parquet``, ``people.parquet``, ``venues.parquet`` and
            ``registry.parquet``.

        Returns
        -------
        City

        Raises
        ------
        ArgumentError
            If ``directory`` is not a str or path-like.
        SchemaError
            If a file is missing or not readable Parquet, ``stays.parquet`` was not
            written by :meth:`write_parquet`, or ``registry.parquet`` is missing (a
            city written before cities had a registry: generate and write it again).
        """
        folder = _folder(directory)
        if not (folder / "registry.parquet").exists() and (folder / "stays.parquet").exists():
            raise SchemaError(
                f"{folder}: expected registry.parquet next to stays.parquet, got none (the "
                f"city was written before cities had a registry); generate it again and "
                f"write it with City.write_parquet"
            )
        tables = {name: _read_part(folder, name) for name in _PARTS}
        stays = tables["stays"]
        raw = (stays.schema.metadata or {}).get(_METADATA_KEY.encode())
        try:
            about = json.loads(raw) if raw is not None else None
            start_date = dt.date.fromisoformat(about["start"])  # type: ignore[index]
            n_days, zone = int(about["days"]), str(about["tz"])  # type: ignore[index]
        except (ValueError, KeyError, TypeError):
            raise SchemaError(
                f"{folder / 'stays.parquet'}: expected a file written by City.write_parquet "
                f"(with {_METADATA_KEY!r} metadata holding start, days and tz), got "
                f"{'none' if raw is None else 'other metadata'}; write the city again"
            ) from None
        registry = tables["registry"].replace_schema_metadata(None)
        seconds = pa.timestamp("s", tz="UTC")
        target = pa.schema(
            [
                stays.schema.field("person"),
                stays.schema.field("venue"),
                pa.field("start", seconds),
                pa.field("end", seconds),
            ]
        )
        return cls(
            stays.replace_schema_metadata(None).cast(target),
            tables["people"].replace_schema_metadata(None),
            tables["venues"].replace_schema_metadata(None),
            start_date,
            n_days,
            zone,
            registry.cast(
                registry.schema.set(
                    registry.schema.get_field_index("registered_at"),
                    pa.field("registered_at", seconds),
                )
            ),
        )


def generate_city(
    people: int = 10_000,
    *,
    venues: int | None = None,
    days: int = 7,
    start: str | dt.date = "2021-09-06",
    tz: str = "Asia/Ho_Chi_Minh",
    visits_per_day: float = 3.0,
    ids: Literal["int", "str"] = "int",
    seed: int | None = 0,
) -> City:
    """Generate a synthetic Hanoi-like city and everybody's QR check-ins.

    Parameters
    ----------
    people : int
        Number of inhabitants, at least 1 and below 2**31 (Python or numpy integer).
    venues : int, optional
        Number of QR-coded venues, at least 1 and below 2**31. Default: one per 30
        people, at least 12.
    days : int
        Number of simulated days, at least 1, ending before 9999-12-31.
    start : str or datetime.date
        The first local day, ``"YYYY-MM-DD"`` or a date. The default is a Monday. Of a
        ``datetime``, only its own date counts (its time and zone are ignored).
    tz : str
        Time zone of the city, an IANA name or a fixed offset such as ``"+07:00"``;
        local times are converted to UTC.
    visits_per_day : float
        Mean number of stays per person and day, at least 0. A work or school day
        counts as one of them; at ``0`` people only go to work or school. The mean
        is met from about 1 to 5 (about 6 % below it, see *Visits*). Below 1, work
        and school days keep it above (about 0.6 stays a day at ``0``, 0.8 at
        ``0.5``); beyond 5 the day fills up (about 5.1 at ``6``, 7 at ``10``, and
        under 8 for any larger value).
    ids : {"int", "str"}
        ``"int"``: ``int64`` ids, people ``0..people-1`` and venues ``0..venues-1``
        (fast, for big cities). ``"str"``: readable ids such as ``"P000123"`` and
        ``"V00042"`` (for demos). Either way the ids are made up (sequence
        numbers), never phone numbers or other ids of real people or places.
    seed : int or None
        Seed of ``numpy.random.default_rng``, an integer >= 0 (``None``: fresh entropy,
        a different city on every call, and no way to make it again); a given seed
        gives bit-for-bit the same city (with the same numpy version, platform and
        CPU instruction set: numpy's vectorised ``exp`` may differ in the last bit
        between CPUs with and without AVX2, which can change a venue's popularity
        slightly).

    Returns
    -------
    City
        ``stays`` (``person``, ``venue``, ``start``, ``end``), ``people``
        (``person``, ``district``, ``ward``), ``venues`` (``venue``, ``kind``,
        ``district``, ``ward``, ``opens``, ``closes``, ``popularity``) and
        ``registry`` (``venue``, ``name``, ``district``, ``ward``,
        ``registered_at``, ``category``).

    Raises
    ------
    SchemaError
        If an argument is of the wrong type or out of range (a ``ValueError``).
    TimezoneError
        If ``tz`` is neither a known IANA zone nor a fixed offset (a ``ValueError``).

    Notes
    -----
    **Geography.** Twelve urban districts (``"D01"`` .. ``"D12"``) with 8-21 wards each
    (``"D01-W03"``), populations and ward counts of the order of Hanoi's urban districts.
    People live in a district drawn by population and a random ward of it. Venues are
    spread by population times a centrality weight (offices crowd the centre, factories
    the outskirts).

    **Venues.** Eleven kinds: office, factory, school, market, supermarket, shop,
    restaurant, cafe, clinic, hospital and mall. ``opens``/``closes`` are local
    ``int8`` hours (``closes`` > ``opens``; factories and hospitals are ``0``-``24``,
    open round the clock). ``popularity`` is a lognormal weight times a per-kind
    scale, normalised to mean 1 (a typical mall weighs about 60 typical shops;
    markets, shops and restaurants have a very wide spread). It is the chance of a
    venue being chosen among venues of its kind, as a workplace or for a visit, so
    visits are heavy-tailed: big markets, malls, hospitals and factories see a large
    share of all check-ins. The top 1 % of venues hold about 15 % of the stays in
    a city of 20,000 people, and more in bigger cities (about 20 % at 100,000 people,
    22-25 % from 200,000 to 1,000,000), as the biggest venues draw from more people.

    **People.** 62 % work, 20 % go to school, 18 % stay at home. A workplace (of any
    kind, mostly offices and factories) or school is drawn once by popularity, in
    the home district with probability 0.5 (0.9 for pupils), and visited on working
    days: offices and schools Monday to Friday, factories six days a week,
    shops, markets and hospitals on about six days in seven. Shifts: office 8-11 h
    from about 08:00; school 4.5 or 9 h from 07:00; factory day shifts of 8-10 h,
    night shifts of 10-12 h from 19:00 or 22:00, 12-hour shifts and some 16-18 h
    "on-site" shifts; hospital day shifts and 12-hour night shifts; shop staff
    about 8.5 h inside opening hours (market stalls from 04:00 or 05:00). Night
    shifts end the next morning, and the worker's next day starts after them.

    **Visits.** Each person-day has a Poisson number of other stays with mean
    ``visits_per_day`` (minus one on a working day), at most 10. The kind follows
    weekday or weekend weights (no office or school visits at weekends, more
    shopping). People are creatures of habit (preferential return, as in Song et
    al., Nature Physics 2010): 80 % of visits go to one of the person's three
    favourite venues of that kind, fixed for the whole simulation; the other 20 %
    explore. Favourites and explorations alike are drawn by popularity, in the home
    district with a per-kind probability. A preferred start comes from a per-kind mixture of
    normal times of day (markets at dawn, pho at 07:00, lunch, dinner, ...) clamped
    to opening hours, and a lognormal dwell time (markets 20-60 min, restaurants
    30-90 min, cafes 25-120 min, shops 5-40 min, hospital visits 40 min-6 h, ...). Stays before a
    shift must end 15 min before it, stays after it start 15 min after it; the
    stays of one person and day are then laid out in time order, each starting at
    its preferred time or after the previous one plus a travel gap (5-60 min), and
    cut at closing time or at the shift; stays left shorter than 3 min, or starting
    after 23:00, are dropped (about 7 % of them). So a person's stays never overlap,
    also across days, and every stay at a venue that is not open round the clock
    lies within its opening hours on its local day. On average a person has about
    6 % fewer than ``visits_per_day`` stays a day (2.83 for the default 3).

    **Times.** Whole seconds, laid out as seconds after the local midnight of the
    day (computed with :mod:`zoneinfo`), stored in UTC. Every stay starts on one of
    the simulated local days (before 23:00); night shifts of the last day end the
    next morning, after the simulated days (almost all by 11:00, a handful in a big
    city up to about 11:30; none after 16:30, as shifts start by 22:30 and last at
    most 18 h). On a daylight-saving transition day, local times after the
    transition are off by the size of the jump (there is none in
    ``Asia/Ho_Chi_Minh``), and a skipped date gets no stays.
    Whatever the zone, stays stay sorted and a person's stays never overlap.

    **Registry.** The QR registry (``City.registry``), as the districts' accounts kept
    it, for :mod:`tracegraph.compliance`. Every venue is registered; so are
    ``max(2, round(0.02 * venues))`` registry-only venues with fresh ids (after the last
    venue's, of the same id type) that are never scanned, with a kind drawn by the
    venue shares and a district by population. A venue's ``name`` is its kind and id
    (``"Cafe 42"``, ``"Cafe V00042"``), its ``category`` its kind. Most venues
    registered at a uniform time in the 8 weeks before the first local midnight.
    About 10 % of the venues registered late: at a uniform time between the first
    local midnight and their first check-in (nobody scans a code before it exists),
    and half of the registry-only venues (the first always) after the first
    simulated day (on it, for a one-day city). The registry's draws come from their
    own random stream (spawned from ``seed``): the stays do not depend on them.

    **Performance.** See the module's notes: about 40 million stays in half a
    minute on one core, at about 32 bytes a stay.

    Examples
    --------
    >>> city = generate_city(200, days=2, seed=1)
    >>> city.stays.num_rows > 0
    True
    >>> city.stays.column_names
    ['person', 'venue', 'start', 'end']
    >>> city.stays.schema.field("start").type
    TimestampType(timestamp[s, tz=UTC])
    >>> city.venues.num_rows
    12
    >>> generate_city(50, days=1, ids="str").people["person"][0].as_py()
    'P000000'
    >>> city.registry.column_names
    ['venue', 'name', 'district', 'ward', 'registered_at', 'category']
    >>> city.registry.num_rows  # the 12 venues and 2 registry-only ones
    14
    """
    n, m, days, start_date, zone, lam, id_kind = _check_args(
        people, venues, days, start, tz, visits_per_day, ids
    )
    if seed is not None and (not _is_int(seed) or int(seed) < 0):
        raise SchemaError(f"`seed`: expected None or an integer >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    # The registry's own stream: spawning does not advance ``rng``, so the stays are
    # the same as without a registry.
    registry_rng = rng.spawn(1)[0]
    geo = _geography()
    v = _make_venues(rng, m, geo)
    p = _make_people(rng, n, v, geo)
    chunks = _simulate(rng, p, v, days, start_date, zone, lam)

    if id_kind == "str":
        person_ids, venue_ids = _ids("P", n, 6), _ids("V", m, _venue_width(m))
    else:
        person_ids = _int_array(np.arange(n, dtype=np.int64))
        venue_ids = _int_array(np.arange(m, dtype=np.int64))
    stays = _stays_table(chunks, person_ids, venue_ids)
    people_table = pa.table(
        {
            "person": person_ids,
            "district": geo.district_names.take(_int_array(p.district)),
            "ward": geo.ward_names.take(_int_array(p.ward)),
        }
    )
    venue_table = pa.table(
        {
            "venue": venue_ids,
            "kind": _strings(_KIND_NAMES).take(_int_array(v.kind)),
            "district": geo.district_names.take(_int_array(v.district)),
            "ward": geo.ward_names.take(_int_array(v.ward)),
            "opens": _numeric(pa.int8(), v.opens.astype(np.int8)),
            "closes": _numeric(pa.int8(), v.closes.astype(np.int8)),
            "popularity": _numeric(pa.float64(), v.popularity),
        }
    )
    registry = _registry(registry_rng, v, geo, chunks, venue_table, start_date, days, zone)
    return City(stays, people_table, venue_table, start_date, days, tz, registry)


# --- argument checks -------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _hint(value: object) -> str:
    """How to write a whole float (``1e5``, ``7.0``) as the integer it means, or ``""``."""
    if isinstance(value, float | np.floating) and 1 <= value < 2**63 and float(value).is_integer():
        return f" (write {int(value):_})"
    return ""


def _check_args(
    people: object,
    venues: object,
    days: object,
    start: object,
    tz: object,
    visits_per_day: object,
    ids: object,
) -> tuple[int, int, int, dt.date, str, float, str]:
    if not _is_int(people) or int(people) < 1:  # type: ignore[call-overload]
        raise SchemaError(f"`people`: expected an integer >= 1, got {people!r}{_hint(people)}")
    n = int(people)  # type: ignore[call-overload]
    if n >= _INT32_LIMIT:  # (codes are int32: numpy's raw errors beyond)
        raise SchemaError(f"`people`: expected fewer than 2**31 people, got {n}")
    if venues is None:
        m = max(_MIN_VENUES, round(n / _PEOPLE_PER_VENUE))
    elif not _is_int(venues) or int(venues) < 1:  # type: ignore[call-overload]
        raise SchemaError(
            f"`venues`: expected None or an integer >= 1, got {venues!r}{_hint(venues)}"
        )
    else:
        m = int(venues)  # type: ignore[call-overload]
        if m >= _INT32_LIMIT:
            raise SchemaError(f"`venues`: expected fewer than 2**31 venues, got {m}")
    if not _is_int(days) or int(days) < 1:  # type: ignore[call-overload]
        raise SchemaError(f"`days`: expected an integer >= 1, got {days!r}{_hint(days)}")
    if isinstance(start, dt.datetime):
        start_date = start.date()
    elif isinstance(start, dt.date):
        start_date = start
    elif isinstance(start, str):
        try:
            start_date = dt.date.fromisoformat(start)
        except ValueError:
            raise SchemaError(
                f"`start`: expected a date such as '2021-09-06', got {start!r}"
            ) from None
    else:
        raise SchemaError(f"`start`: expected a str or datetime.date, got {start!r}")
    # the registrations before the first day, the last simulated day, and the day after
    # it (night shifts end then), in the calendar
    if (start_date - dt.date.min).days <= _REGISTRATION_DAYS + 1:
        first = dt.date.min + dt.timedelta(days=_REGISTRATION_DAYS + 2)
        raise SchemaError(
            f"`start`: expected a date from {first.isoformat()} on (venues register up to "
            f"{_REGISTRATION_DAYS} days before it, within the calendar), got "
            f"{start_date.isoformat()}"
        )
    if (dt.date.max - start_date).days < int(days) + 1:  # type: ignore[call-overload]
        raise SchemaError(
            f"`start`, `days`: expected days that end before 9999-12-31, got {days!r} days "
            f"from {start_date.isoformat()}"
        )
    read_zone(tz)  # (as every other function: not "right/UTC", "posixrules", "Factory")
    zone = str(tz)  # (a str: read_zone refuses anything else)
    lam = math.nan
    if isinstance(visits_per_day, int | float | np.integer | np.floating) and not isinstance(
        visits_per_day, bool
    ):
        try:
            lam = float(visits_per_day)
        except OverflowError:  # an int beyond floats: as many visits as a day holds
            lam = -sys.float_info.max if visits_per_day < 0 else sys.float_info.max
    if not math.isfinite(lam) or lam < 0:
        raise SchemaError(
            f"`visits_per_day`: expected a finite number >= 0, got {visits_per_day!r}"
        )
    # (a str first: `in` compares an array element-wise, and an array of one "str" passed)
    if not isinstance(ids, str) or ids not in ("int", "str"):
        raise SchemaError(f"`ids`: expected 'int' or 'str', got {ids!r}")
    return n, m, int(days), start_date, zone, lam, str(ids)  # type: ignore[call-overload]


# --- geography, venues, people ---------------------------------------------------------


#: The files of a city written by :meth:`City.write_parquet`.
_PARTS = ("stays", "people", "venues", "registry")


def _folder(directory: object) -> pathlib.Path:
    """The ``directory`` argument of :class:`City`'s methods, or an :class:`ArgumentError`."""
    if isinstance(directory, str | os.PathLike):  # (~: the home folder, as as_path reads it)
        return pathlib.Path(os.path.expanduser(directory))
    raise ArgumentError(  # (as tracegraph.ingest.as_path says it)
        f"`directory`: expected a path (str or os.PathLike), got {type(directory).__name__}"
    )


def _read_part(folder: pathlib.Path, name: str) -> pa.Table:
    """``folder/name.parquet``, or a SchemaError saying what is wrong with it."""
    path = folder / f"{name}.parquet"
    if not path.is_file():
        raise SchemaError(
            f"{folder}: expected {name}.parquet (a city written by City.write_parquet has "
            f"{', '.join(p + '.parquet' for p in _PARTS)}), got none"
        )
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(
            f"{path}: not a readable Parquet file ({exc}); write the city again"
        ) from None


@dataclasses.dataclass(frozen=True)
class _Geography:
    ward_first: I64  # first global ward index of each district
    n_wards: I64
    population: F64
    centrality: F64
    district_names: pa.Array
    ward_names: pa.Array


def _geography() -> _Geography:
    n_wards = np.array(_WARDS, dtype=np.int64)
    ward_first = np.concatenate(([0], np.cumsum(n_wards)[:-1])).astype(np.int64)
    districts = [f"D{d + 1:02d}" for d in range(len(_WARDS))]
    wards = [
        f"{name}-W{w + 1:02d}" for name, k in zip(districts, _WARDS, strict=True) for w in range(k)
    ]
    return _Geography(
        ward_first,
        n_wards,
        np.array(_POPULATION),
        np.array(_CENTRALITY),
        _strings(districts),
        _strings(wards),
    )


class _Cdf:
    """Inverse cumulative distribution of weights, for fast vectorised draws.

    ``index(x)`` equals ``numpy.searchsorted(cum, x, side="right") - 1`` on the
    cumulative weights ``cum`` (with a leading 0), but uses a guide table of
    equal-width buckets and a few vectorised steps instead of a binary search per
    value, which is several times faster on large tables.
    """

    def __init__(self, weights: F64) -> None:
        cum = np.concatenate(([0.0], np.cumsum(weights)))
        self.total = float(cum[-1])
        buckets = int(min(max(1_024, 16 * len(weights)), 1 << 22))
        self.width = self.total / buckets
        self.edges = np.arange(buckets + 2, dtype=np.float64) * self.width
        self.guide = (np.searchsorted(cum, self.edges, side="right") - 1).astype(np.int64)
        self.cum = np.concatenate((cum, [np.inf]))

    def index(self, x: F64) -> I64:
        """Largest ``i`` with ``cum[i] <= x``, for each ``x`` in ``[0, total]``."""
        bucket = np.minimum((x / self.width).astype(np.int64), len(self.edges) - 2)
        bucket -= x < self.edges[bucket]  # rounding: make edges[bucket] <= x
        idx = self.guide[bucket]
        active = np.flatnonzero(self.cum[idx + 1] <= x)
        while active.size:
            idx[active] += 1
            active = active[self.cum[idx[active] + 1] <= x[active]]
        return idx


def _draw(rng: np.random.Generator, weights: F64, size: int) -> I64:
    """Draw ``size`` indices with probabilities proportional to ``weights``."""
    cdf = _Cdf(weights)
    return np.minimum(cdf.index(rng.random(size) * cdf.total), len(weights) - 1)


def _ward_in(rng: np.random.Generator, district: I64, geo: _Geography) -> I64:
    local = (rng.random(len(district)) * geo.n_wards[district]).astype(np.int64)
    return geo.ward_first[district] + local


def _lognormal(rng: np.random.Generator, median: F64 | float, sigma: F64 | float, size: int) -> F64:
    return np.asarray(median * np.exp(sigma * rng.standard_normal(size)), dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class _Venues:
    kind: I64
    district: I64
    ward: I64
    opens: I64  # local hour
    closes: I64
    popularity: F64
    sampler: _Sampler


class _Sampler:
    """Draw venues of a kind by popularity, within a district or city-wide.

    Venues are sorted by (kind, district); a draw is an inverse-CDF lookup in the
    cumulative popularity, restricted to the slice of the (kind, district) group, or
    of the kind when ``local`` is false or the district has no such venue.
    """

    def __init__(self, kind: I64, district: I64, popularity: F64, n_districts: int) -> None:
        n_kinds = len(_KIND_NAMES)
        self.order = np.lexsort((district, kind)).astype(np.int64)
        self.cdf = _Cdf(popularity[self.order])
        group = kind[self.order] * n_districts + district[self.order]
        self.by_group = np.searchsorted(group, np.arange(n_kinds * n_districts + 1)).astype(
            np.int64
        )
        self.by_kind = np.searchsorted(kind[self.order], np.arange(n_kinds + 1)).astype(np.int64)
        self.n_districts = n_districts

    def pick(self, kind: I64, district: I64, local: Bool, u: F64) -> I64:
        """Venue ids: one per draw, of ``kind``, in ``district`` where ``local``."""
        group = kind * self.n_districts + district
        lo = self.by_group[group]
        hi = self.by_group[group + 1]
        citywide = ~local | (lo == hi)
        lo = np.where(citywide, self.by_kind[kind], lo)
        hi = np.where(citywide, self.by_kind[kind + 1], hi)
        base = self.cdf.cum[lo]
        idx = self.cdf.index(base + u * (self.cdf.cum[hi] - base))
        return self.order[np.clip(idx, lo, hi - 1, out=idx)]


def _kind_counts(m: int) -> I64:
    n_kinds = len(_KIND_NAMES)
    counts = np.zeros(n_kinds, dtype=np.int64)
    if m < n_kinds:
        for name in _PRIORITY[:m]:
            counts[_KIND_NAMES.index(name)] = 1
        return counts
    quota = (m - n_kinds) * _K_SHARE / _K_SHARE.sum()
    counts[:] = 1 + np.floor(quota).astype(np.int64)
    rest = m - int(counts.sum())
    # Largest remainders, ties by kind order: deterministic.
    counts[np.argsort(-(quota - np.floor(quota)), kind="stable")[:rest]] += 1
    return counts


def _make_venues(rng: np.random.Generator, m: int, geo: _Geography) -> _Venues:
    counts = _kind_counts(m)
    kind = rng.permutation(np.repeat(np.arange(len(_KIND_NAMES), dtype=np.int64), counts))
    district = np.empty(m, dtype=np.int64)
    opens = np.empty(m, dtype=np.int64)
    closes = np.empty(m, dtype=np.int64)
    popularity = np.empty(m, dtype=np.float64)
    for k, name in enumerate(_KIND_NAMES):
        _, (open_lo, open_hi), (close_lo, close_hi), sigma, scale, alpha = _VENUE_KINDS[name]
        sel = np.flatnonzero(kind == k)
        size = len(sel)
        if size == 0:
            continue
        district[sel] = _draw(rng, geo.population * geo.centrality**alpha, size)
        opens[sel] = rng.integers(open_lo, open_hi + 1, size)
        closes[sel] = rng.integers(close_lo, close_hi + 1, size)
        popularity[sel] = _lognormal(rng, scale, sigma, size)
    popularity /= popularity.mean()
    ward = _ward_in(rng, district, geo)
    sampler = _Sampler(kind, district, popularity, len(geo.n_wards))
    return _Venues(kind, district, ward, opens, closes, popularity, sampler)


@dataclasses.dataclass(frozen=True)
class _People:
    district: I64
    ward: I64
    workplace: I64  # venue, -1 for nobody
    shift_class: I64  # row of _WORKS_ON
    shift_start: F64  # seconds after local midnight
    shift_length: F64  # seconds
    habits: int  # key of each person's favourite venues (see _favourite)


def _make_people(rng: np.random.Generator, n: int, v: _Venues, geo: _Geography) -> _People:
    present = np.bincount(v.kind, minlength=len(_KIND_NAMES)) > 0
    district = _draw(rng, geo.population, n)
    ward = _ward_in(rng, district, geo)
    role = _draw(rng, np.array(_ROLE_SHARE), n)
    if not present[_SCHOOL_KIND]:
        role[role == _STUDENT] = _OTHER
    workplace = np.full(n, -1, dtype=np.int64)
    shift_class = np.zeros(n, dtype=np.int64)
    start = np.zeros(n, dtype=np.float64)
    length = np.zeros(n, dtype=np.float64)

    workers = np.flatnonzero(role == _WORKER)
    students = np.flatnonzero(role == _STUDENT)
    staff = _K_STAFF * present
    if staff.sum() == 0:  # only kinds without staff: nobody works
        workers = workers[:0]
    wkind = _draw(rng, staff, len(workers)) if len(workers) else workers
    for who, kind, local in (
        (workers, wkind, _LOCAL_WORK),
        (students, np.full(len(students), _SCHOOL_KIND, dtype=np.int64), _LOCAL_SCHOOL),
    ):
        workplace[who] = v.sampler.pick(
            kind, district[who], rng.random(len(who)) < local, rng.random(len(who))
        )
    has = workplace >= 0
    shift_class[has] = _K_SHIFT[v.kind[workplace[has]]]

    def normal(mean: float, sd: float, size: int) -> F64:
        return np.asarray(mean + sd * rng.standard_normal(size), dtype=np.float64)

    # Shift models, in hours.
    for cls in range(len(_WORKS_ON)):
        sel = np.flatnonzero(has & (shift_class == cls) & (role == _WORKER))
        size = len(sel)
        if size == 0:
            continue
        if cls == _OFFICE:
            s = np.clip(normal(8.0, 0.4, size), 7.0, 9.5)
            d = np.clip(_lognormal(rng, 9.0, 0.07, size), 7.5, 11.0)
        elif cls == _SCHOOL:
            s = normal(7.0, 0.2, size)
            d = _lognormal(rng, 9.0, 0.05, size)
        elif cls in (_RETAIL, _CLINIC):
            d = np.clip(_lognormal(rng, 8.5, 0.1, size), 6.0, 11.0)
            o = v.opens[workplace[sel]].astype(np.float64)
            c = v.closes[workplace[sel]].astype(np.float64)
            s = o + rng.random(size) * np.maximum(0.0, c - o - d)
        else:  # factory and hospital: day, night, 12-hour and (factory) 16-18 h shifts
            u = rng.random(size)
            z = rng.standard_normal(size)
            half = rng.random(size) < 0.5
            if cls == _FACTORY:
                day, night, twelve = u < 0.55, (u >= 0.55) & (u < 0.80), (u >= 0.80) & (u < 0.95)
                s = np.select(
                    [day, night, twelve],
                    [
                        7.0 + 0.3 * z,
                        np.where(half, 19.0, 22.0) + 0.2 * z,
                        np.where(half, 6.0, 18.0) + 0.2 * z,
                    ],
                    6.0 + 0.3 * z,
                )
                d = np.select(
                    [day, night, twelve],
                    [
                        np.clip(_lognormal(rng, 9.0, 0.05, size), 8.0, 10.0),
                        np.clip(_lognormal(rng, 11.0, 0.05, size), 10.0, 12.0),
                        np.clip(normal(12.0, 0.25, size), 11.5, 13.0),
                    ],
                    16.0 + 2.0 * rng.random(size),
                )
            else:
                day, night = u < 0.55, (u >= 0.55) & (u < 0.80)
                s = np.select([day, night], [7.0 + 0.2 * z, 19.0 + 0.2 * z], 7.0 + 0.2 * z)
                d = np.select(
                    [day, night],
                    [
                        _lognormal(rng, 8.5, 0.05, size),
                        np.clip(normal(12.0, 0.2, size), 11.5, 13.0),
                    ],
                    np.clip(normal(12.0, 0.2, size), 11.5, 13.0),
                )
        start[sel] = s * _HOUR
        length[sel] = d * _HOUR
    if len(students):
        size = len(students)
        start[students] = normal(7.0, 0.15, size) * _HOUR
        full = rng.random(size) < 0.5
        length[students] = np.where(full, 9.25, 4.5) * _lognormal(rng, 1.0, 0.03, size) * _HOUR
    habits = int(rng.integers(1, 2**62))
    return _People(district, ward, workplace, shift_class, start, length, habits)


# --- the registry ----------------------------------------------------------------------


def _registry(
    rng: np.random.Generator,
    v: _Venues,
    geo: _Geography,
    chunks: list[Chunk],
    venue_table: pa.Table,
    start: dt.date,
    days: int,
    zone: str,
) -> pa.Table:
    """The QR registry: every venue, plus a few registry-only ones (see generate_city)."""
    m = len(v.kind)
    extra = _n_extra(m)
    first_midnight = _local_midnight(start, zone)
    second_midnight = _local_midnight(start + dt.timedelta(days=min(1, days - 1)), zone)
    end = _local_midnight(start + dt.timedelta(days=days), zone)

    # Registry-only venues: a kind by the venue shares, a district by population.
    kind = np.concatenate((v.kind, _draw(rng, _K_SHARE, extra)))
    district = np.concatenate((v.district, _draw(rng, geo.population, extra)))
    ward = np.concatenate((v.ward, _ward_in(rng, district[m:], geo)))

    # Early registrations, in the weeks before the first local midnight.
    span = _REGISTRATION_DAYS * _DAY
    registered = first_midnight - 1 - (rng.random(m + extra) * span).astype(np.int64)
    # Late venues of the city register between the first midnight and their first stay.
    late = rng.random(m) < _LATE_SHARE
    first_stay = np.full(m, end, dtype=np.int64)
    for _, venue, begin, _ in chunks:
        sel = late[venue]
        np.minimum.at(first_stay, venue[sel], begin[sel])
    window = first_stay[late] - first_midnight
    registered[:m][late] = first_midnight + (rng.random(len(window)) * window).astype(np.int64)
    # Late registry-only venues (the first always) register after the first day.
    late_extra = rng.random(extra) < _EXTRA_LATE_SHARE
    late_extra[0] = True
    window_extra = end - second_midnight
    registered[m:][late_extra] = second_midnight + (
        rng.random(int(late_extra.sum())) * window_extra
    ).astype(np.int64)

    ids = venue_table.column("venue").combine_chunks()
    if pa.types.is_string(ids.type):
        new_ids = _ids("V", extra, _venue_width(m), first=m)
    else:
        new_ids = _int_array(np.arange(m, m + extra, dtype=np.int64))
    venue = pa.concat_arrays([ids, new_ids])
    category = _strings(_KIND_NAMES).take(_int_array(kind))
    name = pc.binary_join_element_wise(pc.utf8_capitalize(category), venue.cast(pa.string()), " ")
    return pa.table(
        {
            "venue": venue,
            "name": name,
            "district": geo.district_names.take(_int_array(district)),
            "ward": geo.ward_names.take(_int_array(ward)),
            "registered_at": _time_array(registered),
            "category": category,
        }
    )


# --- the days --------------------------------------------------------------------------


def _local_midnight(day: dt.date, zone: str) -> int:
    """The first instant of ``day`` in ``zone``, as the rest of tracegraph has it."""
    return day_start(day, zone)


def _fit_shift(start: F64, length: F64, opens: I64, closes: I64) -> tuple[I64, I64]:
    """Round a shift to seconds and keep it inside the workplace's opening hours."""
    always = (opens == 0) & (closes == 24)
    s = np.maximum(np.rint(start), opens * _HOUR).astype(np.int64)
    e = s + np.rint(np.minimum(length, _LONGEST_SHIFT)).astype(np.int64)
    e = np.where(always, e, np.minimum(e, closes * _HOUR))
    return s, e


Chunk: TypeAlias = tuple[I64, I64, I64, I64]  # person, venue, start, end (UTC seconds)


def _simulate(
    rng: np.random.Generator,
    p: _People,
    v: _Venues,
    days: int,
    start: dt.date,
    zone: str,
    lam: float,
) -> list[Chunk]:
    n = len(p.district)
    never = np.iinfo(np.int64).min // 4
    carry = np.full(n, never, dtype=np.int64)  # UTC end of each person's latest stay
    has_work = p.workplace >= 0
    present = np.bincount(v.kind, minlength=len(_KIND_NAMES)) > 0
    chunks: list[Chunk] = []
    for d in range(days):
        day = start + dt.timedelta(days=d)
        weekday = day.weekday()
        midnight = _local_midnight(day, zone)
        # The day's real length (23 or 25 h on daylight-saving days, 0 for a skipped
        # date): starts stay below it, so the days' starts never interleave.
        length = _local_midnight(day + dt.timedelta(days=1), zone) - midnight
        # Seconds after today's midnight before which a person is still busy (a night
        # shift, or a late stay on a short day).
        busy_until = carry - midnight + _COMMUTE
        free_from = np.maximum(_WAKE, busy_until)

        # Work and school.
        works = has_work & (rng.random(n) < _WORKS_ON[p.shift_class, weekday])
        who = np.flatnonzero(works)
        place = p.workplace[who]
        jitter_s = p.shift_start[who] + 360.0 * rng.standard_normal(len(who))
        jitter_d = p.shift_length[who] * np.exp(0.03 * rng.standard_normal(len(who)))
        ws, we = _fit_shift(jitter_s, jitter_d, v.opens[place], v.closes[place])
        ws = np.maximum(ws, busy_until[who])
        ok = (ws <= min(_LAST_SHIFT, length - 1)) & (we - ws >= _HOUR)
        who, place, ws, we = who[ok], place[ok], ws[ok], we[ok]
        works = np.zeros(n, dtype=np.bool_)
        works[who] = True
        shift_start = np.full(n, _DAY, dtype=np.int64)
        shift_end = np.zeros(n, dtype=np.int64)
        shift_start[who] = ws
        shift_end[who] = we

        # Discretionary visits.
        weights = (_K_WEEKEND if weekday >= 5 else _K_WEEKDAY) * present
        if weights.sum() > 0 and lam > 0:
            # (a rate beyond 10**6 gives the cap of visits as surely: numpy refuses ~10**19)
            rate = np.minimum(np.where(works, max(lam - 1.0, 0.0), lam), 1e6)
            count = np.minimum(rng.poisson(rate), _MAX_VISITS)
        else:
            count = np.zeros(n, dtype=np.int64)
        visits = _visits(
            rng, p, v, count, weights, free_from, works, shift_start, shift_end, length
        )

        person = np.concatenate((who, visits[0]))
        venue = np.concatenate((place, visits[1]))
        begin = np.concatenate((ws, visits[2]))
        end = np.concatenate((we, visits[3]))
        # Sort by start (ties by position): unique keys, so any sort algorithm gives the
        # same order, and np.sort is much faster than a stable argsort.
        order = np.sort((begin << 40) | np.arange(len(begin), dtype=np.int64))
        order &= (1 << 40) - 1
        chunks.append((person[order], venue[order], begin[order] + midnight, end[order] + midnight))
        # Remember when everybody's day ended (visits are grouped by person).
        firsts = np.flatnonzero(np.diff(visits[0], prepend=-1))
        if len(firsts):
            someone = visits[0][firsts]
            last_end = np.maximum.reduceat(visits[3], firsts) + midnight
            carry[someone] = np.maximum(carry[someone], last_end)
        carry[who] = np.maximum(carry[who], we + midnight)
    return chunks


def _visits(
    rng: np.random.Generator,
    p: _People,
    v: _Venues,
    count: I64,
    weights: F64,
    free_from: I64,
    works: Bool,
    shift_start: I64,
    shift_end: I64,
    length: int,
) -> Chunk:
    """Lay out one day's discretionary stays (times in seconds after local midnight)."""
    n = len(count)
    total = int(count.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty, empty
    pid = np.repeat(np.arange(n, dtype=np.int64), count)
    kind = _draw(rng, weights, total)
    # Preferential return: most visits go to one of the person's few favourite venues
    # of the kind (fixed per person and kind), the rest explore by popularity.
    local = rng.random(total) < _K_LOCAL[kind]
    u = rng.random(total)
    back = rng.random(total) < _RETURN
    pick = rng.integers(0, _FAVOURITES, total)
    local[back], u[back] = _favourite(p.habits, pid[back], kind[back], pick[back], _K_LOCAL)
    venue = v.sampler.pick(kind, p.district[pid], local, u)
    del local, u, back, pick
    median, sigma, shortest, longest = (_K_DWELL[:, j][kind] for j in range(4))
    dur = median * np.exp(sigma * rng.standard_normal(total))
    dur = np.rint(np.clip(dur, shortest, longest, out=dur)).astype(np.int64)
    del median, sigma, shortest, longest
    gap = np.rint(np.clip(_lognormal(rng, 900.0, 0.6, total), 300.0, 3_600.0)).astype(np.int64)
    # Preferred start: a component of the kind's time-of-day mixture, within opening hours.
    u = rng.random(total)
    mix = kind * 3 + (u > _K_WHEN[:, 0, 2][kind]) + (u > _K_WHEN[:, 1, 2][kind])
    pref = _K_WHEN[:, :, 1].ravel()[mix] * rng.standard_normal(total)
    pref += _K_WHEN[:, :, 0].ravel()[mix]
    del u, mix
    opens = np.maximum(v.opens[venue] * _HOUR, _WAKE)
    closes = v.closes[venue] * _HOUR
    pref_s = np.clip(np.rint(pref), opens, closes - _MIN_STAY).astype(np.int64)
    del pref, opens

    # Before or after the day's shift; bounds of the window.
    working = works[pid]
    after = working & (pref_s >= shift_start[pid])
    low = np.where(after, shift_end[pid] + _COMMUTE, free_from[pid])
    pref_s = np.maximum(pref_s, low)
    high = np.where(working & ~after, shift_start[pid] - _COMMUTE, _DAY)
    high = np.minimum(high, closes)
    del low, closes, working

    # Sort by (person, segment, preferred start); pid < 2**40 and pref_s < 2**20.
    key = (pid << 21) | (after.astype(np.int64) << 20) | np.minimum(pref_s, (1 << 20) - 1)
    order = np.argsort(key, kind="stable")
    key, pid, venue, dur, gap, pref_s, high = (
        a[order] for a in (key, pid, venue, dur, gap, pref_s, high)
    )
    segment = key >> 20
    del key, order

    # Sequential layout, vectorised: end_i = max(pref_i + dur_i, end_{i-1} + gap_i + dur_i)
    # within a segment. With S_i the segment's running sum of gap + dur, end_i - S_i is
    # the running maximum of pref_i + dur_i - S_i.
    new = np.empty(total, dtype=np.bool_)
    new[0] = True
    np.not_equal(segment[1:], segment[:-1], out=new[1:])
    rank = np.cumsum(new) - 1
    step = dur + gap
    cum = np.cumsum(step)
    firsts = np.flatnonzero(new)
    local_cum = cum - (cum[firsts] - step[firsts])[rank]
    del cum, step, firsts, new, segment
    shift = rank << 23  # values below are within +-2**22
    slack = pref_s + dur - local_cum + shift
    np.maximum.accumulate(slack, out=slack)
    end = slack - shift + local_cum
    begin = end - dur
    end = np.minimum(end, high)
    keep = (end - begin >= _MIN_STAY) & (begin <= min(_LAST_START, length - 1))
    return pid[keep], venue[keep], begin[keep], end[keep]


def _favourite(key: int, pid: I64, kind: I64, pick: I64, local_p: F64) -> tuple[Bool, F64]:
    """The draws (local?, uniform) of favourite ``pick`` of person ``pid`` for ``kind``.

    A hash of (city key, person, kind, pick) replaces the random draws, so favourites
    stay the same every day without storing them (splitmix64 finaliser).
    """
    mask = np.uint64(2**64 - 1)
    with np.errstate(over="ignore"):
        x = (
            np.uint64(key)
            ^ (pid.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
            ^ (kind.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9))
            ^ (pick.astype(np.uint64) * np.uint64(0x94D049BB133111EB))
        ) & mask
        words = []
        for salt in (np.uint64(0x632BE59BD9B4E019), np.uint64(0x85EBCA77C2B2AE63)):
            z = x ^ salt
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            words.append((z >> np.uint64(11)).astype(np.float64) / float(2**53))
    return words[0] < local_p[kind], words[1]


# --- Arrow ------------------------------------------------------------------------------


# (Arrays are built from buffers: ``pyarrow.array`` would import pandas, which costs more
# than generating a small city.)


def _numeric(typ: pa.DataType, values: npt.NDArray[np.generic]) -> pa.Array:
    """Wrap a contiguous numpy array without copying it."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(typ, len(values), [None, pa.py_buffer(values)])


def _int_array(values: I64) -> pa.Array:
    return _numeric(pa.int64(), values)


def _time_array(values: I64) -> pa.Array:
    return _numeric(pa.timestamp("s", tz="UTC"), values)


def _strings(values: Sequence[str]) -> pa.Array:
    """A string array of a few names."""
    data = [s.encode("utf-8") for s in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(b) for b in data])
    return pa.Array.from_buffers(
        pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    )


def _n_extra(m: int) -> int:
    """How many registry-only venues a city of ``m`` venues gets."""
    return max(_MIN_EXTRA, round(_EXTRA_SHARE * m))


def _venue_width(m: int) -> int:
    """Digits of text venue ids: one width for the city's and the registry-only ones."""
    return max(5, len(str(m + _n_extra(m) - 1)))


def _ids(prefix: str, n: int, width: int, *, first: int = 0) -> pa.Array:
    """``prefix`` + zero-padded decimal number, for first..first+n-1, without Python strings."""
    width = max(width, len(str(first + n - 1)))
    size = len(prefix) + width
    chars = np.empty((n, size), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    numbers = np.arange(first, first + n, dtype=np.int64)
    chars[:, len(prefix) :] = numbers[:, None] // powers % 10 + ord("0")
    offsets = np.arange(n + 1, dtype=np.int64) * size
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chars)]
    ).cast(pa.string())


def _stays_table(chunks: list[Chunk], person_ids: pa.Array, venue_ids: pa.Array) -> pa.Table:
    """The stays as a table with one chunk per day; string ids are looked up."""
    lookup = pa.types.is_string(person_ids.type)

    def column(ids: pa.Array, arrays: list[I64]) -> pa.ChunkedArray:
        if lookup:
            return pa.chunked_array([ids.take(_int_array(a)) for a in arrays], ids.type)
        return pa.chunked_array([_int_array(a) for a in arrays], ids.type)

    time_type = pa.timestamp("s", tz="UTC")
    return pa.table(
        {
            "person": column(person_ids, [c[0] for c in chunks]),
            "venue": column(venue_ids, [c[1] for c in chunks]),
            "start": pa.chunked_array([_time_array(c[2]) for c in chunks], time_type),
            "end": pa.chunked_array([_time_array(c[3]) for c in chunks], time_type),
        }
    )
