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


def _generate(args: argparse.Namespace) -> int:
    city = tg.synth.generate_city(args.people, days=args.days, seed=args.seed, ids=args.ids)
    paths = city.write_parquet(Path(args.out))
    summary = {
        "people": city.people.num_rows,
        "venues": city.venues.num_rows,
        "stays": city.stays.num_rows,
        "files": {name: str(path) for name, path in paths.items()},
    }
    _report(
        args,
        summary,
        f"wrote {summary['stays']:,} stays of {summary['people']:,} people "
        f"at {summary['venues']:,} venues to {args.out}",
    )
    return 0


def _read_table(path: str) -> pa.Table:
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if source.suffix.lower() == ".csv":
        import pyarrow.csv as pacsv

        return pacsv.read_csv(source)
    return pq.read_table(source)


def _build(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if args.scans:
        scans = tg.read_scans(
            args.source,
            errors="quarantine" if args.quarantine else "raise",
            tz=args.tz,
            pseudonym_key=_key(args),
        )
        result = tg.scans_to_stays(
            scans, default_dwell=args.default_dwell, max_stay=args.max_stay,
            split_at_midnight=args.split_at_midnight,
        )  # fmt: skip
        stays = result.stays
        counts = {"scans_read": scans.report.read, "scans_rejected": scans.report.rejected}
    else:
        stays = _read_table(args.source)
        counts = {}
    index = tg.VenueIndex.from_stays(stays, tz=args.tz, bucket_width=args.bucket_width)
    path = index.save(args.out, overwrite=args.overwrite)
    summary = {
        **counts,
        "stays": index.n_stays,
        "persons": index.n_persons,
        "venues": index.n_venues,
        "index": str(path),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    _report(args, summary, f"saved {index!r} to {path} in {summary['seconds']} s")
    return 0


def _key(args: argparse.Namespace) -> bytes | None:
    import os

    if not args.pseudonym_key_env:
        return None
    value = os.environ.get(args.pseudonym_key_env)
    if not value:
        raise tg.SchemaError(
            f"--pseudonym-key-env: expected the environment variable "
            f"{args.pseudonym_key_env} to hold the key, found it unset or empty"
        )
    return value.encode("utf-8")


def _cases(args: argparse.Namespace, index: tg.VenueIndex) -> pa.Table | list[object]:
    if args.cases_file:
        table = _read_table(args.cases_file)
        if {"start", "end"} <= set(table.column_names):
            return table
        if "person" not in table.column_names:
            raise tg.SchemaError(
                f"{args.cases_file}: expected a column `person` (and optionally `start`, `end`), "
                f"found {table.column_names}"
            )
        return table.column("person").to_pylist()
    if not args.case:
        raise tg.SchemaError("expected cases: give --case ID (repeatable) or --cases-file FILE")
    if pa.types.is_integer(index.persons.type):
        try:
            return [int(c) for c in args.case]
        except ValueError as exc:
            raise tg.SchemaError(
                "--case: expected integer ids (the index holds integer person ids)"
            ) from exc
    return list(args.case)


def _trace_cmd(args: argparse.Namespace) -> int:
    index = tg.VenueIndex.open(args.index, verify=not args.no_verify)
    cases = _cases(args, index)
    t0 = time.perf_counter()
    result = tg.trace(
        index, cases, tiers=args.tiers, min_overlap=args.min_overlap, linger=args.linger,
        latency=args.latency, infectious_for=args.infectious_for, unknown=args.unknown,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    files = {}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        tables = {"contacts": result.contacts}
        if args.edges:
            tables["edges"] = result.edges
        for name, table in tables.items():
            if args.format == "csv":
                import pyarrow.csv as pacsv

                path = out / f"{name}.csv"
                pacsv.write_csv(table, path)
            else:
                path = out / f"{name}.parquet"
                pq.write_table(table, path)
            files[name] = str(path)
    per_tier = {f"F{k}": v for k, v in result.tier_counts().items()}
    summary = {
        "persons_per_tier": per_tier,
        "stay_pairs": result.n_pairs,
        "seconds": round(seconds, 4),
        "files": files,
    }
    tiers = ", ".join(f"{k}={v:,}" for k, v in per_tier.items())
    _report(
        args,
        summary,
        f"traced in {seconds * 1000:.1f} ms: {tiers}; "
        f"{result.n_pairs:,} stay pairs"
        + (f"; wrote {', '.join(files.values())}" if files else ""),
    )
    return 0


def _report(args: argparse.Namespace, summary: dict[str, object], text: str) -> None:
    if getattr(args, "json", False):
        import json

        print(json.dumps(summary))
    else:
        print(text)


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

    gen = sub.add_parser("generate", help="generate a synthetic city and write it to Parquet")
    gen.add_argument("--people", type=int, default=10_000, help="people in the city (10000)")
    gen.add_argument("--days", type=int, default=7, help="days of stays (7)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (0)")
    gen.add_argument("--ids", choices=["int", "str"], default="int", help="id type (int)")
    gen.add_argument("--out", required=True, help="folder for stays/people/venues.parquet")
    gen.add_argument("--json", action="store_true", help="print a JSON summary")
    gen.set_defaults(func=_generate)

    build = sub.add_parser("build", help="stays (or raw scans) -> a saved index")
    build.add_argument("source", help="stays: a Parquet/CSV file (with --scans: files or folder)")
    build.add_argument("--out", required=True, help="where to save the index (a folder)")
    build.add_argument("--overwrite", action="store_true", help="replace an index saved there")
    build.add_argument("--tz", default=None, help="zone of naive timestamps, e.g. UTC")
    build.add_argument("--bucket-width", default="1h", help="time bucket width ('1h')")
    build.add_argument("--scans", action="store_true", help="the source holds raw QR scans")
    build.add_argument("--quarantine", action="store_true", help="set bad scan rows aside")
    build.add_argument("--default-dwell", default="30min", help="stay of an entry scan ('30min')")
    build.add_argument("--max-stay", default="12h", help="longest stay ('12h')")
    build.add_argument("--split-at-midnight", default=None, help="zone whose midnight ends stays")
    build.add_argument(
        "--pseudonym-key-env", default=None,
        help="name of an environment variable holding the pseudonym key (never pass keys as "
             "arguments: they end up in shell history)",
    )  # fmt: skip
    build.add_argument("--json", action="store_true", help="print a JSON summary")
    build.set_defaults(func=_build)

    tr = sub.add_parser("trace", help="trace cases through a saved index")
    tr.add_argument("index", help="a saved index (folder)")
    tr.add_argument("--case", action="append", help="a case person id (repeatable)")
    tr.add_argument("--cases-file", help="CSV/Parquet with `person` (and `start`, `end`)")
    tr.add_argument("--tiers", type=int, default=1, help="tiers to trace (1)")
    tr.add_argument("--min-overlap", default="0s", help="minimum overlap ('0s')")
    tr.add_argument("--linger", default="0s", help="time a venue stays infectious ('0s')")
    tr.add_argument("--latency", default="0s", help="exposure to infectiousness ('0s')")
    tr.add_argument("--infectious-for", default=None, help="infectious period (no end)")
    tr.add_argument("--unknown", choices=["raise", "keep", "drop"], default="raise")
    tr.add_argument("--out", default=None, help="folder for contacts (and edges) files")
    tr.add_argument("--edges", action="store_true", help="also write every stay pair")
    tr.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    tr.add_argument("--no-verify", action="store_true", help="skip the index checksum")
    tr.add_argument("--json", action="store_true", help="print a JSON summary")
    tr.set_defaults(func=_trace_cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except (tg.TracegraphError, OSError, ValueError) as exc:
        # one line, no traceback: the message says what was expected and what was found
        message = " ".join(str(exc).split())
        print(f"tracegraph {args.command}: error: {message}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
