"""Named synthetic cities for benchmarks, generated once and cached as Parquet.

Sizes (``days=14``, about 2.8 stays per person and day with the generator's defaults):

====  =========  ============  ==============================================
name  people     stays         use
====  =========  ============  ==============================================
XS        2,500      ~0.1 M    smoke tests, pytest micro-benchmarks (< 1 s)
S       200,000      ~7.9 M    quick comparisons
M     1,000,000     ~39.7 M    the acceptance benchmark (1M people × 14 days)
====  =========  ============  ==============================================

The cache lives in ``benchmarks/.cache/`` unless the environment variable
``TRACEGRAPH_BENCH_CACHE`` names another directory. Each city gets its own folder,
keyed by size, parameters and a hash of ``tracegraph/synth.py``, so a change to the
generator regenerates the city instead of benchmarking a stale one. Writing goes to
a temporary folder renamed into place, so an interrupted run leaves no half city.

Usage::

    python -m benchmarks.cities M          # generate (if needed) and print the path
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SIZES",
    "CitySize",
    "cache_dir",
    "city_info",
    "city_parquet",
    "generate",
    "warm_up",
]

DAYS = 14


@dataclass(frozen=True)
class CitySize:
    """A named city: ``people`` inhabitants over ``days`` days."""

    name: str
    people: int
    days: int = DAYS
    approx_stays: str = ""


SIZES: dict[str, CitySize] = {
    "XS": CitySize("XS", 2_500, approx_stays="~0.1M"),
    "S": CitySize("S", 200_000, approx_stays="~7.9M"),
    "M": CitySize("M", 1_000_000, approx_stays="~39.7M"),
}


def cache_dir() -> Path:
    """The cache directory (``$TRACEGRAPH_BENCH_CACHE`` or ``benchmarks/.cache``)."""
    env = os.environ.get("TRACEGRAPH_BENCH_CACHE")
    return Path(env) if env else Path(__file__).resolve().parent / ".cache"


def _size(size: str | CitySize) -> CitySize:
    if isinstance(size, CitySize):
        return size
    try:
        return SIZES[size.upper()]
    except KeyError:
        raise ValueError(f"unknown city size {size!r}; expected one of {list(SIZES)}") from None


@functools.cache
def _synth_hash() -> str:
    """Hash of the generator's code: a changed generator means a new city.

    The hash is of the syntax tree without docstrings, so editing documentation or
    comments of ``tracegraph/synth.py`` keeps the cached cities.
    """
    import tracegraph.synth

    tree = ast.parse(Path(tracegraph.synth.__file__).read_text())
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


def _key(size: CitySize, seed: int, ids: str) -> str:
    return f"{size.name}-p{size.people}-d{size.days}-seed{seed}-{ids}"


def generate(size: str | CitySize, *, seed: int = 0, ids: str = "int") -> Any:
    """Generate the named city in memory (no cache); returns a ``tracegraph.synth.City``."""
    import tracegraph as tg

    s = _size(size)
    return tg.synth.generate_city(s.people, days=s.days, seed=seed, ids=ids)


def city_parquet(size: str | CitySize, *, seed: int = 0, ids: str = "int") -> Path:
    """Path of the named city's ``stays.parquet``, generating and caching it on first use.

    Parameters
    ----------
    size : {"XS", "S", "M"} or CitySize
    seed : int
        Seed of the generator.
    ids : {"int", "str"}
        Id type of persons and venues.

    Returns
    -------
    pathlib.Path
        The ``stays`` Parquet file (``person``, ``venue``, ``start``, ``end``).
    """
    s = _size(size)
    root = cache_dir()
    key = _key(s, seed, ids)
    folder = root / f"{key}-synth{_synth_hash()}"
    meta_path = folder / "meta.json"
    if meta_path.exists():
        return folder / json.loads(meta_path.read_text())["files"]["stays"]

    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"generating city {s.name} ({s.people:,} people x {s.days} days) ...",
        file=sys.stderr,
        flush=True,
    )
    t0 = time.perf_counter()
    city = generate(s, seed=seed, ids=ids)
    t_gen = time.perf_counter() - t0
    paths = city.write_parquet(tmp)
    t_write = time.perf_counter() - t0 - t_gen
    meta = {
        "size": s.name,
        "people": s.people,
        "days": s.days,
        "seed": seed,
        "ids": ids,
        "stays": city.stays.num_rows,
        "generate_s": round(t_gen, 3),
        "write_s": round(t_write, 3),
        "files": {name: Path(p).name for name, p in paths.items()},
    }
    del city
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    try:
        tmp.rename(folder)
    except OSError:  # another process won the race: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(
            f"  {meta['stays']:,} stays, generated in {t_gen:.1f} s, written in "
            f"{t_write:.1f} s -> {folder}",
            file=sys.stderr,
            flush=True,
        )
        # drop older versions of the same city (made by an earlier generator)
        for old in root.glob(f"{key}-synth*"):
            if old != folder and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    return city_parquet(s, seed=seed, ids=ids)


def city_info(size: str | CitySize, *, seed: int = 0, ids: str = "int") -> dict[str, Any]:
    """Metadata of the cached city (generating it if needed): stays, generation time..."""
    path = city_parquet(size, seed=seed, ids=ids)
    info: dict[str, Any] = json.loads((path.parent / "meta.json").read_text())
    return info


def warm_up() -> float:
    """Compile (or load from numba's cache) every kernel on a tiny city; returns seconds.

    Builds an index and traces three tiers with ``min_overlap`` and ``linger``, which
    calls every kernel with the argument types the benchmarks use.
    """
    import tracegraph as tg

    city = tg.synth.generate_city(200, days=2, seed=1)
    t0 = time.perf_counter()
    index = tg.VenueIndex.from_stays(city.stays)
    cases = city.stays["person"][:3].to_pylist()
    tg.trace(index, cases, tiers=3, min_overlap=60, linger=60)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="+", choices=list(SIZES), help="city sizes to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ids", choices=["int", "str"], default="int")
    args = parser.parse_args(argv)
    for name in args.sizes:
        info = city_info(name, seed=args.seed, ids=args.ids)
        print(
            f"{name}: {info['stays']:,} stays  {city_parquet(name, seed=args.seed, ids=args.ids)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
