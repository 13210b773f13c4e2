"""Command line: ``python -m tracegraph demo`` (and the ``tracegraph`` console script).

The CLI is the only part of tracegraph that prints.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import tracegraph as tg


def _demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    t0 = time.perf_counter()
    city = tg.synth.generate_city(args.people, days=args.days, seed=args.seed, ids="str")
    paths = city.write_parquet(out)
    t_gen = time.perf_counter() - t0
    print(
        f"1. generated a city: {city.people.num_rows:,} people, {city.venues.num_rows:,} venues, "
        f"{city.stays.num_rows:,} stays over {args.days} days -> {paths['stays']} ({t_gen:.1f} s)"
    )

    t0 = time.perf_counter()
    tg.warmup()
    print(f"   (compiled or loaded the kernels from the cache in {time.perf_counter() - t0:.2f} s)")

    t0 = time.perf_counter()
    stays = pq.read_table(paths["stays"])
    index = tg.VenueIndex.from_stays(stays)
    t_build = time.perf_counter() - t0
    print(
        f"2. built the index from Parquet in {t_build:.2f} s: {index!r}, "
        f"{index.nbytes / max(index.n_stays, 1):.1f} bytes/stay"
    )

    # the cases: random people, each infectious for the 48 hours before their positive test
    rng = np.random.default_rng(args.seed)
    persons = index.persons
    picks = np.sort(rng.choice(len(persons), size=min(args.cases, len(persons)), replace=False))
    first_day = int(index.start.min()) // 86_400 * 86_400
    tested = first_day + 86_400 * rng.integers(2, max(3, args.days), size=picks.size)
    cases = pa.table(
        {
            "person": persons.take(pa.array(picks)),
            "start": pa.array((tested - 2 * 86_400) * 1_000_000, pa.timestamp("us", tz="UTC")),
            "end": pa.array(tested * 1_000_000, pa.timestamp("us", tz="UTC")),
        }
    )
    t0 = time.perf_counter()
    result = tg.trace(
        index,
        cases,
        tiers=args.tiers,
        min_overlap=args.min_overlap,
        linger=args.linger,
        latency=args.latency,
        infectious_for=args.infectious_for,
    )
    t_trace = time.perf_counter() - t0
    print(
        f"3. traced {cases.num_rows} cases (each infectious for 48 h before a positive test) "
        f"to tier {args.tiers} in {t_trace * 1000:.1f} ms"
    )
    print(
        f"   rules: overlap >= {args.min_overlap}, linger {args.linger}; a contact becomes "
        f"infectious {args.latency} after exposure, for {args.infectious_for}"
    )
    print()
    print("   people per tier")
    for tier, count in result.tier_counts().items():
        label = "F0 (cases)" if tier == 0 else f"F{tier}"
        print(f"     {label:<10} {count:>8,}")
    print(f"   qualifying stay pairs: {result.n_pairs:,}")
    print()
    _print_busiest_venues(result, city.venues, top=args.top)
    return 0


def _print_busiest_venues(result: tg.Trace, venues: pa.Table, *, top: int) -> None:
    """The venues where most people were exposed, with kind and district."""
    edges = result.edges
    if edges.num_rows == 0:
        print("   no exposures found")
        return
    per_venue = (
        edges.group_by("venue")
        .aggregate([("target", "count_distinct"), ("source", "count_distinct")])
        .sort_by([("target_count_distinct", "descending"), ("venue", "ascending")])
        .slice(0, top)
    )
    info = venues.select(["venue", "kind", "district"])
    joined = per_venue.join(info, "venue").sort_by(
        [("target_count_distinct", "descending"), ("venue", "ascending")]
    )
    print(f"   busiest exposure venues (top {joined.num_rows})")
    print(f"     {'venue':<10} {'kind':<12} {'district':<10} {'exposed':>8} {'infectors':>10}")
    rows = joined.to_pydict()
    for i in range(joined.num_rows):
        print(
            f"     {rows['venue'][i]!s:<10} {rows['kind'][i]!s:<12} {rows['district'][i]!s:<10} "
            f"{rows['target_count_distinct'][i]:>8,} {rows['source_count_distinct'][i]:>10,}"
        )
    total = pc.count_distinct(edges["venue"]).as_py()
    print(f"   exposures happened at {total:,} venues in all")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tracegraph`` command."""
    parser = argparse.ArgumentParser(
        prog="tracegraph", description="Venue-based contact tracing: stays -> index -> tiers."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="generate a small city, build an index, trace a few cases")
    demo.add_argument("--people", type=int, default=20_000, help="people in the city (20000)")
    demo.add_argument("--days", type=int, default=7, help="days of stays (7)")
    demo.add_argument("--cases", type=int, default=5, help="number of cases to trace (5)")
    demo.add_argument("--tiers", type=int, default=2, help="tiers to trace (2)")
    demo.add_argument("--min-overlap", default="15min", help="minimum overlap ('15min')")
    demo.add_argument("--linger", default="0s", help="time a venue stays infectious ('0s')")
    demo.add_argument("--latency", default="1d", help="exposure to infectiousness ('1d')")
    demo.add_argument("--infectious-for", default="3d", help="infectious period of contacts ('3d')")
    demo.add_argument("--top", type=int, default=5, help="venues to list (5)")
    demo.add_argument("--seed", type=int, default=2021, help="random seed (2021)")
    demo.add_argument("--out", default="demo_city", help="folder for the city's Parquet files")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except tg.TracegraphError as exc:
        print(f"tracegraph: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
