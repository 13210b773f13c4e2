"""Stays of the real check-in datasets of ``../shared/data/real``, for ``benchmarks.compare``.

Usage::

    python -m benchmarks.realdata                      # all three; prints the paths
    python -m benchmarks.realdata foursquare_us_5k     # one
    python -m benchmarks.compare --stays "$(python -m benchmarks.realdata gowalla_nyc)" \\
        --cases 1,10,100 --peers duckdb --skip-pairs --skip-cold

The check-ins (Gowalla New York City, Foursquare US 5k users, Gowalla 1k users; see
the folder's README for their origin and licence) are read with
:func:`tracegraph.ingest.read_scans` and made stays with
:func:`tracegraph.ingest.scans_to_stays` as ``tests/test_realdata.py`` makes them: a
check-in is a single moment, so each one is an entry with a dwell of one hour
(stays of at most 12 hours; a repeated check-in within 2 minutes is dropped). The
stays are written to ``<cache>/real-<name>/stays.parquet`` (the benchmark cache,
``benchmarks/.cache`` unless ``$TRACEGRAPH_BENCH_CACHE`` says otherwise, which git
ignores: real data is never copied into the repository) and rewritten only when the
source file is newer. The folder is ``../shared/data/real`` beside the repository,
or ``$TRACEGRAPH_SHARED_DATA``. Nothing here prints a person id.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks import cities

__all__ = ["DATASETS", "real_data_folder", "real_stays_parquet"]

#: dataset name -> its scans file, relative to the real-data folder
DATASETS = {
    "gowalla_nyc": "gowalla_nyc/gowalla_nyc.scans.parquet",
    "foursquare_us_5k": "lbsn_liu2017/foursquare_us_5k/foursquare_us_5k.scans.parquet",
    "gowalla_1k": "lbsn_liu2017/gowalla_1k/gowalla_1k.scans.parquet",
}

_ENV = "TRACEGRAPH_SHARED_DATA"
#: the scans' "now", for read_scans' check of times in the future
_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def real_data_folder() -> Path:
    """``$TRACEGRAPH_SHARED_DATA``, else ``../shared/data/real`` beside the repository."""
    configured = os.environ.get(_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def real_stays_parquet(name: str) -> Path:
    """Path of the stays of dataset ``name``, written from its check-ins if needed.

    Raises
    ------
    KeyError
        If ``name`` is not one of :data:`DATASETS`.
    FileNotFoundError
        If the real-data folder or the dataset's file is absent (a clone without
        ``../shared``), saying where it was looked for.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown real dataset {name!r}; expected one of {list(DATASETS)}")
    source = real_data_folder() / DATASETS[name]
    if not source.is_file():
        raise FileNotFoundError(
            f"real check-in file not found: {source} (the shared data folder sits beside "
            f"the repository as ../shared/data/real, or set {_ENV})"
        )
    out = cities.cache_dir() / f"real-{name}" / "stays.parquet"
    if out.is_file() and out.stat().st_mtime >= source.stat().st_mtime:
        return out
    from tracegraph.ingest import ScanSchema, read_scans, scans_to_stays

    schema = ScanSchema(person="person_id", venue="venue_id", time="ts", source="checkin")
    scans = read_scans(source, schema=schema, now=_NOW)
    result = scans_to_stays(scans, default_dwell="1h", max_stay="12h", dedupe_within="2min")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")  # writers in other processes: no clash
    pq.write_table(result.stays.select(["person", "venue", "start", "end"]), tmp)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.realdata",
        description="Write the stays of the real check-in datasets; print their paths.",
    )
    p.add_argument("names", nargs="*", help=f"datasets (default all): {list(DATASETS)}")
    args = p.parse_args(argv)
    names = args.names or list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        p.error(f"unknown datasets {unknown}; expected some of {list(DATASETS)}")
    try:
        paths = [real_stays_parquet(n) for n in names]
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
