"""Named synthetic cities for benchmarks, generated once and cached as Parquet.

Sizes (``days=14``, about 2.8 stays per person and day with the generator's defaults):

===========  ==========  ============  ===============================================
name         people      stays         use
===========  ==========  ============  ===============================================
XS                2,500      ~0.1 M    smoke tests, pytest micro-benchmarks (< 1 s)
S               200,000      ~7.9 M    quick comparisons
M             1,000,000     ~39.6 M    the acceptance benchmark (1M people × 14 days)
L            10,600,000      ~420 M    10 independent districts of 1.06M people
S-crowd         200,000      ~7.9 M    S, 5 % of all stays moved to one venue
S-long          200,000      ~7.9 M    S, 5 % of the stays made 12-20 h shifts
S-stadium       200,000      ~7.9 M    S plus one 3-hour event of 50,000 people
===========  ==========  ============  ===============================================

Any base size takes the skews as a suffix (``XS-crowd``, ``M-long``, ...; not L), for
tests and for bigger skewed runs.

**L** is too big for one :func:`tracegraph.synth.generate_city` call (its work arrays
for 10M people x 14 days would need well over 20 GB), so it is built district by
district: ``generate_city(1_060_000, days=14)`` ten times with distinct seeds, person
ids offset by ``k * 1_060_000`` and venue ids by ``k * venues_per_district``, each
written as its own Parquet file (``stays/part-00k.parquet``) in one folder. Each step
needs about 2.5 GB and half a minute to a minute; the districts share no person and
no venue, so they are ten cities side by side, with the same day and time layout.
``city_parquet("L")`` returns the folder; :func:`parquet_glob` gives the glob that
DuckDB and Polars read (``pyarrow.parquet.read_table`` reads the folder itself).

**Skews** (applied to the base city with a generator seeded from the city's seed;
afterwards each person's stays are made disjoint again by dropping any stay that
starts before an earlier stay of the same person has ended, and the table is sorted
by start like the generator's):

``crowd``
    5 % of all stays, drawn at random, move to one new venue (id: one past the last
    venue), open round the clock: a single venue holding a huge crowd.
``long``
    5 % of the stays, drawn at random, last 12-20 h (uniform) from their start.
``stadium``
    ``min(50_000, people // 4)`` random people attend one event at one new venue on
    the sixth local day (a Saturday): arrival uniform 18:00-19:00, departure uniform
    22:00-22:30 local time.

The cache lives in ``benchmarks/.cache/`` unless the environment variable
``TRACEGRAPH_BENCH_CACHE`` names another directory. Each city gets its own folder,
keyed by size, parameters and a hash of ``tracegraph/synth.py`` (plus, for skewed
cities and L, a hash of the code here that makes them), so a change to the generator
regenerates the city instead of benchmarking a stale one. Writing goes to a temporary
folder renamed into place, so an interrupted run leaves no half city.

Usage::

    python -m benchmarks.cities M S-crowd   # generate (if needed) and print the paths
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import functools
import hashlib
import inspect
import json
import os
import shutil
import sys
import time
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = [
    "SIZES",
    "SKEWS",
    "CitySize",
    "cache_dir",
    "city_info",
    "city_parquet",
    "generate",
    "parquet_glob",
    "stays_table",
    "warm_up",
]

DAYS = 14
#: The generator's defaults, which the skews need to place the stadium event in local time.
_START = dt.date(2021, 9, 6)  # a Monday
_TZ = "Asia/Ho_Chi_Minh"
_HOUR = 3_600

#: Share of all stays moved to the crowded venue (``crowd``).
CROWD_SHARE = 0.05
#: Share of the stays made 12-20 h long (``long``).
LONG_SHARE = 0.05
LONG_HOURS = (12, 20)
#: Attendees of the stadium event (at most a quarter of the people).
STADIUM_PEOPLE = 50_000
STADIUM_DAY = 5  # the sixth simulated day: Saturday 2021-09-11

SKEWS = ("crowd", "long", "stadium")


@dataclass(frozen=True)
class CitySize:
    """A named city: ``people`` inhabitants over ``days`` days.

    ``districts`` > 1 splits the people into that many independent cities generated one
    at a time (ids offset), each written as its own Parquet file; ``skew`` names a
    distortion of the base city (see the module's docstring).
    """

    name: str
    people: int
    days: int = DAYS
    approx_stays: str = ""
    districts: int = 1
    skew: str | None = None


_BASE: dict[str, CitySize] = {
    "XS": CitySize("XS", 2_500, approx_stays="~0.1M"),
    "S": CitySize("S", 200_000, approx_stays="~7.9M"),
    "M": CitySize("M", 1_000_000, approx_stays="~39.6M"),
    "L": CitySize("L", 10_600_000, approx_stays="~420M", districts=10),
}


def _skewed(base: CitySize, skew: str) -> CitySize:
    if base.districts > 1:
        raise ValueError(f"skewed cities are made in memory: {base.name}-{skew} is too big")
    return CitySize(
        f"{base.name}-{skew}", base.people, base.days, base.approx_stays, base.districts, skew
    )


SIZES: dict[str, CitySize] = {
    **_BASE,
    **{f"S-{skew}": _skewed(_BASE["S"], skew) for skew in SKEWS},
}


def cache_dir() -> Path:
    """The cache directory (``$TRACEGRAPH_BENCH_CACHE`` or ``benchmarks/.cache``)."""
    env = os.environ.get("TRACEGRAPH_BENCH_CACHE")
    return Path(env) if env else Path(__file__).resolve().parent / ".cache"


def _size(size: str | CitySize) -> CitySize:
    if isinstance(size, CitySize):
        return size
    name = size.strip()
    for key, value in SIZES.items():
        if key.lower() == name.lower():
            return value
    base, _, skew = name.partition("-")
    if base.upper() in _BASE and skew.lower() in SKEWS:
        return _skewed(_BASE[base.upper()], skew.lower())
    raise ValueError(
        f"unknown city size {size!r}; expected one of {list(SIZES)} or a base size with a "
        f"skew suffix such as 'XS-crowd' (skews: {list(SKEWS)})"
    )


def _ast_hash(source: str) -> str:
    """Hash of Python source without docstrings: editing documentation keeps the cache."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[0] = ast.Pass()
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:10]


@functools.cache
def _synth_hash() -> str:
    """Hash of the generator's code: a changed generator means a new city."""
    import tracegraph.synth

    return _ast_hash(Path(tracegraph.synth.__file__).read_text())


@functools.cache
def _variant_hash() -> str:
    """Hash of the code here that makes skewed cities and L, with its constants."""
    parts = [
        inspect.getsource(f)
        for f in (_apply_skew, _disjoint_per_person, _write_districts, _district_seed)
    ]
    parts.append(
        repr((CROWD_SHARE, LONG_SHARE, LONG_HOURS, STADIUM_PEOPLE, STADIUM_DAY, _START, _TZ))
    )
    return _ast_hash("\n".join(parts))


def _key(size: CitySize, seed: int, ids: str) -> str:
    key = f"{size.name}-p{size.people}-d{size.days}-seed{seed}-{ids}"
    if size.skew or size.districts > 1:
        key += f"-v{_variant_hash()}"
    return key


def generate(size: str | CitySize, *, seed: int = 0, ids: str = "int") -> Any:
    """Generate a base city in memory (no cache); returns a ``tracegraph.synth.City``.

    Only for sizes without skew or districts; see :func:`stays_table` for those.
    """
    import tracegraph as tg

    s = _size(size)
    if s.skew or s.districts > 1:
        raise ValueError(f"{s.name} is not a single generated city; use stays_table()")
    return tg.synth.generate_city(s.people, days=s.days, seed=seed, ids=ids)


def stays_table(size: str | CitySize, *, seed: int = 0) -> pa.Table:
    """The stays of a city in memory (no cache), skew applied; not for L."""
    s = _size(size)
    if s.districts > 1:
        raise ValueError(f"{s.name} is built district by district; read city_parquet() instead")
    base = CitySize(s.name, s.people, s.days)
    stays = generate(base, seed=seed).stays
    return _apply_skew(stays, s, seed) if s.skew else stays


def parquet_glob(path: Path) -> str:
    """What DuckDB's ``read_parquet`` and Polars read for a city: the file, or ``dir/*.parquet``."""
    return str(path / "*.parquet") if path.is_dir() else str(path)


def city_parquet(size: str | CitySize, *, seed: int = 0, ids: str = "int") -> Path:
    """Path of the named city's stays, generating and caching them on first use.

    Parameters
    ----------
    size : str or CitySize
        ``"XS"``, ``"S"``, ``"M"``, ``"L"``, ``"S-crowd"``, ... (see the module).
    seed : int
        Seed of the generator.
    ids : {"int", "str"}
        Id type of persons and venues (``"str"`` only for base sizes without districts).

    Returns
    -------
    pathlib.Path
        The ``stays.parquet`` file (``person``, ``venue``, ``start``, ``end``), or for a
        city made of districts, the folder of its Parquet files.
    """
    s = _size(size)
    if ids != "int" and (s.skew or s.districts > 1):
        raise ValueError(f"{s.name}: only ids='int' is supported for skewed or district cities")
    root = cache_dir()
    key = _key(s, seed, ids)
    folder = root / f"{key}-synth{_synth_hash()}"
    meta_path = folder / "meta.json"
    if meta_path.exists():
        return folder / json.loads(meta_path.read_text())["files"]["stays"]

    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    print(
        f"generating city {s.name} ({s.people:,} people x {s.days} days) ...",
        file=sys.stderr,
        flush=True,
    )
    t0 = time.perf_counter()
    meta: dict[str, Any] = {
        "size": s.name,
        "people": s.people,
        "days": s.days,
        "districts": s.districts,
        "skew": s.skew,
        "seed": seed,
        "ids": ids,
    }
    if s.districts > 1:
        meta.update(_write_districts(s, seed, tmp))
    else:
        import pyarrow.parquet as pq

        from tracegraph.synth import ROW_GROUP_SIZE

        if s.skew:
            stays = stays_table(s, seed=seed)
            t_gen = time.perf_counter() - t0
            pq.write_table(stays, tmp / "stays.parquet", compression="zstd",
                           row_group_size=ROW_GROUP_SIZE)  # fmt: skip
            files = {"stays": "stays.parquet"}
            n = stays.num_rows
            del stays
        else:
            city = generate(s, seed=seed, ids=ids)
            t_gen = time.perf_counter() - t0
            paths = city.write_parquet(tmp)
            files = {name: Path(p).name for name, p in paths.items()}
            n = city.stays.num_rows
            del city
        meta.update(
            stays=n,
            generate_s=round(t_gen, 3),
            write_s=round(time.perf_counter() - t0 - t_gen, 3),
            files=files,
        )
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    try:
        tmp.rename(folder)
    except OSError:  # another process won the race: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(
            f"  {meta['stays']:,} stays, generated in {meta['generate_s']:.1f} s, written in "
            f"{meta['write_s']:.1f} s -> {folder}",
            file=sys.stderr,
            flush=True,
        )
        # drop older versions of the same city (made by an earlier generator)
        prefix = f"{s.name}-p{s.people}-d{s.days}-seed{seed}-{ids}-"
        for old in root.glob(f"{prefix}*"):
            if old != folder and old.is_dir() and old.name[len(prefix) :][:1] in "sv":
                shutil.rmtree(old, ignore_errors=True)
    return city_parquet(s, seed=seed, ids=ids)


def city_info(size: str | CitySize, *, seed: int = 0, ids: str = "int") -> dict[str, Any]:
    """Metadata of the cached city (generating it if needed): stays, generation time..."""
    path = city_parquet(size, seed=seed, ids=ids)
    info: dict[str, Any] = json.loads((path.parent / "meta.json").read_text())
    return info


# --------------------------------------------------------------------------- L: districts


def _district_seed(seed: int, k: int) -> int:
    return seed * 1_000 + k


def _write_districts(s: CitySize, seed: int, folder: Path) -> dict[str, Any]:
    """Generate ``s.districts`` independent cities one at a time, ids offset, one file each."""
    import pyarrow.parquet as pq

    import tracegraph as tg
    from tracegraph.synth import ROW_GROUP_SIZE

    per = s.people // s.districts
    out = folder / "stays"
    out.mkdir()
    n_total, t_gen, t_write = 0, 0.0, 0.0
    venue_offset = 0
    for k in range(s.districts):
        t0 = time.perf_counter()
        city = tg.synth.generate_city(per, days=s.days, seed=_district_seed(seed, k))
        stays = city.stays
        n_venues = city.venues.num_rows
        del city
        t1 = time.perf_counter()
        stays = pa.table(
            {
                "person": _offset(stays["person"], k * per),
                "venue": _offset(stays["venue"], venue_offset),
                "start": stays["start"],
                "end": stays["end"],
            }
        )
        pq.write_table(stays, out / f"part-{k:03d}.parquet", compression="zstd",
                       row_group_size=ROW_GROUP_SIZE)  # fmt: skip
        n_total += stays.num_rows
        del stays
        venue_offset += n_venues
        t2 = time.perf_counter()
        t_gen += t1 - t0
        t_write += t2 - t1
        print(
            f"  district {k + 1}/{s.districts}: generated in {t1 - t0:.1f} s, written in "
            f"{t2 - t1:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return {
        "stays": n_total,
        "venues": venue_offset,
        "generate_s": round(t_gen, 3),
        "write_s": round(t_write, 3),
        "files": {"stays": "stays"},
    }


def _offset(column: pa.ChunkedArray, offset: int) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    return pc.add(column, pa.scalar(offset, pa.int64())) if offset else column


# --------------------------------------------------------------------------- skews


def _seconds(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _apply_skew(stays: pa.Table, s: CitySize, seed: int) -> pa.Table:
    """The stays of the base city distorted by ``s.skew`` (see the module's docstring)."""
    rng = np.random.default_rng([seed, SKEWS.index(s.skew or "") + 1])
    person = np.asarray(stays["person"].to_numpy(), dtype=np.int64)
    venue = np.asarray(stays["venue"].to_numpy(), dtype=np.int64)
    start = _seconds(stays["start"])
    end = _seconds(stays["end"])
    n = person.shape[0]
    new_venue = int(venue.max()) + 1
    if s.skew == "crowd":
        pick = rng.choice(n, size=round(CROWD_SHARE * n), replace=False)
        venue[pick] = new_venue
    elif s.skew == "long":
        pick = rng.choice(n, size=round(LONG_SHARE * n), replace=False)
        lo, hi = LONG_HOURS
        end[pick] = start[pick] + rng.integers(lo * _HOUR, hi * _HOUR + 1, size=pick.shape[0])
    elif s.skew == "stadium":
        people = np.unique(person)
        crowd = np.sort(
            rng.choice(people, size=min(STADIUM_PEOPLE, len(people) // 4), replace=False)
        )
        day = _START + dt.timedelta(days=STADIUM_DAY)
        midnight = int(
            dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(_TZ)).timestamp()
        )
        arrive = midnight + 18 * _HOUR + rng.integers(0, _HOUR + 1, size=crowd.shape[0])
        leave = midnight + 22 * _HOUR + rng.integers(0, _HOUR // 2 + 1, size=crowd.shape[0])
        # the attendees' own stays during the event are dropped (they are at the stadium)
        at = np.searchsorted(crowd, person)
        attends = crowd[np.minimum(at, crowd.shape[0] - 1)] == person
        busy = np.zeros(n, dtype=np.bool_)
        rows = np.flatnonzero(attends)
        a, b = arrive[at[rows]], leave[at[rows]]
        busy[rows] = (start[rows] < b) & (end[rows] > a)
        keep = ~busy
        person = np.concatenate([person[keep], crowd])
        venue = np.concatenate([venue[keep], np.full(crowd.shape[0], new_venue, np.int64)])
        start = np.concatenate([start[keep], arrive])
        end = np.concatenate([end[keep], leave])
    else:
        raise ValueError(f"unknown skew {s.skew!r}; expected one of {list(SKEWS)}")
    keep = _disjoint_per_person(person, start, end)
    order = np.argsort(start[keep], kind="stable")
    rows = np.flatnonzero(keep)[order]
    ts = pa.timestamp("s", tz="UTC")
    return pa.table(
        {
            "person": pa.array(person[rows], pa.int64()),
            "venue": pa.array(venue[rows], pa.int64()),
            "start": pa.array(start[rows], pa.int64()).cast(ts),
            "end": pa.array(end[rows], pa.int64()).cast(ts),
        }
    )


def _disjoint_per_person(person: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Mask of the stays to keep so that each person's stays are disjoint.

    A stay is dropped when it starts before some earlier stay of the same person (in
    start order, kept or not) has ended: every kept stay starts at or after the end of
    all the person's earlier stays.
    """
    n = person.shape[0]
    keep = np.ones(n, dtype=np.bool_)
    if n < 2:
        return keep
    order = np.lexsort((start, person))
    p, s, e = person[order], start[order], end[order]
    first = np.empty(n, dtype=np.bool_)
    first[0] = True
    np.not_equal(p[1:], p[:-1], out=first[1:])
    rank = np.cumsum(first) - 1
    base = int(e.min())
    span = int(e.max()) - base + 1
    running = np.maximum.accumulate(rank * span + (e - base))  # running max end per person
    prev_end = np.empty(n, dtype=np.int64)
    prev_end[0] = 0
    prev_end[1:] = running[:-1] - rank[1:] * span + base
    overlaps = ~first & (s < prev_end)
    keep[order[overlaps]] = False
    return keep


# --------------------------------------------------------------------------- warm-up


def warm_up() -> float:
    """Compile (or load from numba's cache) every kernel on a tiny city; returns seconds.

    Builds an index and traces three tiers with ``min_overlap`` and ``linger``, which
    calls every kernel with the argument types the benchmarks use, then runs
    :func:`tracegraph.warmup` (policies, read-only arrays of an opened index).
    """
    import tracegraph as tg

    city = tg.synth.generate_city(200, days=2, seed=1)
    t0 = time.perf_counter()
    index = tg.VenueIndex.from_stays(city.stays)
    cases = city.stays["person"][:3].to_pylist()
    tg.trace(index, cases, tiers=3, min_overlap=60, linger=60)
    tg.trace(index, cases, tiers=3)
    tg.warmup()
    copresent = getattr(tg, "copresent_pairs", None)
    if copresent is not None:
        copresent(index)
        copresent(index, min_overlap=60)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="+", help=f"city sizes to generate: {list(SIZES)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ids", choices=["int", "str"], default="int")
    args = parser.parse_args(argv)
    for name in args.sizes:
        try:
            _size(name)
        except ValueError as exc:
            parser.error(str(exc))
    for name in args.sizes:
        info = city_info(name, seed=args.seed, ids=args.ids)
        print(
            f"{name}: {info['stays']:,} stays  {city_parquet(name, seed=args.seed, ids=args.ids)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
