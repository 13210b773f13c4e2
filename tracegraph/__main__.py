"""Command line: ``python -m tracegraph demo`` (and the ``tracegraph`` console script).

The CLI is the only part of tracegraph that prints.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import tracegraph as tg
from tracegraph._time import in_zone
from tracegraph.compliance import scan_accounts
from tracegraph.ingest import decimal_ids


def _demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    t0 = time.perf_counter()
    city = tg.synth.generate_city(args.people, days=args.days, seed=args.seed, ids="str")
    with _writing(args.out):
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
    index = tg.VenueIndex.from_stays(paths["stays"])  # read batch by batch
    t_build = time.perf_counter() - t0
    print(
        f"2. built the index from Parquet in {t_build:.2f} s: {index!r}, "
        f"{index.nbytes / max(index.n_stays, 1):.1f} bytes/stay"
    )

    # the cases: random people, each infectious for the 48 hours before their positive test
    rng = np.random.default_rng(args.seed)
    persons = index.persons
    picks = np.sort(rng.choice(len(persons), size=min(args.cases, len(persons)), replace=False))
    first_day = index.origin // 86_400 * 86_400
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
    for tier, count in result._shown_tier_counts().items():
        label = "F0 (cases)" if tier == 0 else f"F{tier}"
        print(f"     {label:<10} {count:>8,}")
    print(f"   qualifying stay pairs: {result.n_pairs:,}")
    print()
    _print_busiest_venues(result, city.venues, top=args.top)
    print()
    _print_policies(index, cases)
    print()
    _print_loi(result, top=args.top, tz=args.tz)
    print()
    _print_compliance(city, index, tz=args.tz)
    return 0


def _print_policies(index: tg.VenueIndex, cases: pa.Table) -> None:
    """F1 under each preset policy: how much the rule of one system changes the answer."""
    print("4. the same cases under each system's rule (F1 only, no minimum overlap)")
    print(f"     {'policy':<14} {'F1':>8}  rule")
    for name in ("tracegraph", "nhs", "nhs-ios", "crowdnotifier", "nz", "cwa"):
        f1 = tg.trace(index, cases, policy=name).tier_counts().get(1, 0)
        rule = tg.MatchPolicy.named(name).describe().split(": ", 1)[1]
        print(f"     {name:<14} {f1:>8,}  {rule}")


def _print_loi(result: tg.Trace, *, top: int, tz: str) -> None:
    """The locations of interest a health department would publish, in local time."""
    loi = result.locations_of_interest(tz=tz)
    print(
        f"5. locations of interest to publish: {loi.num_rows:,} windows (most exposed first; "
        f"{tz} time)"
    )
    if loi.num_rows == 0:
        return
    ranked = loi.sort_by([("exposed", "descending"), ("start", "ascending")]).slice(0, top)
    rows = ranked.to_pydict()
    print(f"     {'venue':<10} {'from':<17} {'to':<17} {'cases':>5} {'exposed':>8}")
    for i in range(ranked.num_rows):
        print(
            f"     {rows['venue'][i]!s:<10} {rows['start'][i]:%Y-%m-%d %H:%M}  "
            f"{rows['end'][i]:%Y-%m-%d %H:%M}  {rows['cases'][i]:>5} {rows['exposed'][i]:>8,}"
        )


def _print_compliance(city: tg.synth.City, index: tg.VenueIndex, *, tz: str) -> None:
    """Weekly QR compliance per district, as the district accounts showed it."""
    if index.n_stays == 0:  # (a city too small for anyone to go out)
        print("6. QR compliance: no scans in this city, so no week to show")
        return
    report = tg.compliance(city.registry, index, freq="W", by=("district",), tz=tz)
    last = report.filter(pc.equal(report["period"], pc.max(report["period"])))
    week = last["period"][0].as_py()
    print(f"6. QR compliance, week of {week:%Y-%m-%d} ({tz}): venues registered vs scanned")
    print(f"     {'district':<9} {'registered':>10} {'active':>7} {'share':>6} {'scans/venue':>12}")
    rows = last.to_pydict()
    for i in range(last.num_rows):
        share = rows["share"][i]
        per = rows["scans_per_venue"][i]
        print(
            f"     {rows['district'][i]!s:<9} {rows['registered'][i]:>10,} {rows['active'][i]:>7,} "
            f"{'' if share is None else f'{share:.0%}':>6} "
            f"{'' if per is None else f'{per:.1f}':>12}"
        )
    inactive = tg.inactive_venues(city.registry, index, days=7)
    print(
        f"   {inactive.inactive.num_rows:,} registered venues had no scan in the last 7 days "
        f"(the list a ward officer calls)"
    )


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
    out = Path(args.out)
    found = [p.name for p in (out / f"{name}.parquet" for name in _CITY_FILES) if p.exists()]
    if found and not args.overwrite:  # (a folder of real stays.parquet, say)
        raise tg.ArgumentError(
            f"--out {args.out}: expected a folder without a city's files, found "
            f"{', '.join(found)}; pass --overwrite to replace them, or choose another folder"
        )
    city = tg.synth.generate_city(args.people, days=args.days, seed=args.seed, ids=args.ids)
    with _writing(args.out):
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


#: The files `generate` writes (tg.synth.City.write_parquet's).
_CITY_FILES = tg.synth._PARTS


def _read_stays_table(source: Path) -> pa.Table:
    """Stays in Parquet/Arrow IPC files (a file or a folder of them) as one table.

    Each file's format is sniffed from its first bytes, as ``from_stays`` does (which
    reads batch by batch); only the stays' columns are read.
    """
    from tracegraph._read_stays import _part_batches, _part_schema, _parts
    from tracegraph.ingest import STAY_COLUMNS

    tables = []
    for part in _parts(source):
        schema = _part_schema(part)
        batches = list(_part_batches(part))  # (a missing column is named here)
        declared = pa.schema([schema.field(name) for name in STAY_COLUMNS])
        # (text ids may come as dictionaries: read so from Parquet, as for a build)
        table = pa.Table.from_batches(batches) if batches else declared.empty_table()
        tables.append(table.cast(declared))
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise tg.SchemaError(
            f"{source}: expected the files' stay columns to have compatible types, found "
            f"types that differ between files; write them with one schema"
        ) from None


#: Columns that hold ids: read from CSV as text, so that 012 and 12 stay two people.
_ID_COLUMNS = ("person", "venue")
#: The types of the columns of a CSV file without rows (others: text).
_EMPTY_TYPES = dict.fromkeys(
    ("start", "end", "time", "registered_at"), pa.timestamp("s", tz="UTC")
) | dict.fromkeys(("cases", "exposed"), pa.int64())
#: An id written as a plain decimal integer: no sign but "-", no leading zero, fits int64.
_PLAIN_INTEGER = r"^(0|-?[1-9][0-9]{0,17})$"
#: An integer id as given for an index of integer ids: ASCII decimal digits (leading
#: zeros ignored: a phone number kept as an integer lost its 0), the id type deciding
#: what fits; "+12", "1_2", " 12", "0x10" or non-ASCII digits are not ids.
_DECIMAL = r"^-?[0-9]+$"


def _read_table(
    path: str,
    option: str,
    *,
    ids: dict[str, pa.DataType | None] | None = None,
    folder: bool = False,
) -> pa.Table:
    """A CSV or Parquet file, its CSV id columns read as text (ids keep leading zeros).

    ``option`` names the argument in messages. ``ids`` maps an id column to the type
    it should have (the index's), or to None: integers when every value is a plain
    decimal integer (no leading zero), else text. Id columns not named in ``ids`` get
    None. A folder (of Parquet files) is read only with ``folder``.
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if source.is_dir() and not folder:
        raise tg.ArgumentError(
            f"{option} {path}: expected a CSV or Parquet file, found a folder; name the file"
        )
    if _is_csv(path):
        return _read_csv(source, path, ids)
    not_parquet = tg.ScanFileError(
        f"{option} {path}: not a Parquet/CSV file (corrupt, truncated or another format); "
        f"expected a Parquet file, or a CSV file named *.csv"
    )
    if source.is_file():
        with open(source, "rb") as handle:
            if handle.read(4) != b"PAR1":
                raise not_parquet
    try:
        return pq.read_table(source)
    except (pa.ArrowInvalid, OSError):
        raise not_parquet from None


def _read_csv(source: Path, path: str, ids: dict[str, pa.DataType | None] | None) -> pa.Table:
    """A CSV file, its id columns read as text (see ``_read_table``)."""
    import pyarrow.csv as pacsv

    if source.stat().st_size == 0:
        raise tg.SchemaError(f"{path}: expected a CSV file with a header line, found an empty file")
    # an empty field is a missing value (an area left blank is no area), as in Parquet
    options = pacsv.ConvertOptions(
        strings_can_be_null=True, column_types=dict.fromkeys(_ID_COLUMNS, pa.string())
    )
    try:
        table = pacsv.read_csv(source, convert_options=options)
    except pa.ArrowInvalid as exc:  # Arrow quotes the offending row: no ids printed
        raise tg.ScanFileError(
            f"{path}: cannot read this CSV file ({_arrow_problem(exc)}); check that every row "
            f"has the header's columns"
        ) from None
    wanted = {name: None for name in _ID_COLUMNS} | (ids or {})
    for name, typ in wanted.items():
        if name in table.column_names:
            at = table.column_names.index(name)
            table = table.set_column(at, name, _text_ids(table[name], typ, path, name))
    if table.num_rows == 0:  # Arrow cannot infer types from a header: say them
        table = table.cast(
            pa.schema(
                (field.name, _EMPTY_TYPES.get(field.name, pa.string()))
                if pa.types.is_null(field.type)
                else field
                for field in table.schema
            )
        )
    return table


def _text_ids(
    column: pa.ChunkedArray, typ: pa.DataType | None, path: str, name: str
) -> pa.ChunkedArray:
    """Ids read as text, as ``typ`` (None: integers if all are plain decimals, else text)."""
    if typ is None:
        plain = pc.match_substring_regex(column, _PLAIN_INTEGER)
        if column.null_count == len(column) or not pc.all(plain).as_py():
            return column
        return column.cast(pa.int64())
    if pa.types.is_integer(typ):
        try:
            for wide in (typ, pa.int64(), pa.uint64()):  # ids beyond the index's type:
                with contextlib.suppress(pa.ArrowInvalid):  # unknown, as --case's are
                    return decimal_ids(column, wide)
            raise pa.ArrowInvalid("not decimal digits, or beyond 64 bits")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise tg.SchemaError(
                f"{path}: column `{name}`: expected integer ids (the index holds {typ} ids), "
                f"found text that is not one; check that the file and the index match"
            ) from None
    return column.cast(typ)


def _is_csv(path: str) -> bool:
    """Whether ``path`` is read as a CSV file (whose id types are inferred)."""
    return Path(path).suffix.lower() == ".csv" and Path(path).is_file()


def _venue_ids_alike(*sides: tuple[pa.Table, bool]) -> tuple[pa.Table, ...]:
    """The tables, a CSV file's integer venue ids as text where another's are text.

    Each side is ``(table, read from CSV)``. A CSV file's ids are integers when every
    one is a plain decimal integer (see ``_text_ids``), so a registry that lists venue
    A7 and scans of venues 1 and 2 only would be read with ids of two kinds; a plain
    decimal's text is the id as written, so the integers are made text again.
    """
    name = "venue"
    if not all(name in t.column_names for t, _ in sides):
        return tuple(t for t, _ in sides)  # a missing column: compliance says so
    text = any(pa.types.is_string(t.schema.field(name).type) for t, _ in sides)
    out = []
    for table, csv in sides:
        if text and csv and pa.types.is_int64(table.schema.field(name).type):
            at = table.column_names.index(name)
            table = table.set_column(at, name, table[name].cast(pa.string()))
        out.append(table)
    return tuple(out)


def _in_zone(table: pa.Table, names: tuple[str, ...], tz: str | None, what: str) -> pa.Table:
    """``table`` with its naive timestamp columns ``names`` read as local times in ``tz``."""
    for name in names:
        if name in table.column_names:
            column = table[name]
            if pa.types.is_timestamp(column.type) and column.type.tz is None:
                zoned = in_zone(column, f"{what}: column `{name}`", tz)
                table = table.set_column(table.column_names.index(name), name, zoned)
    return table


def _arrow_problem(exc: Exception) -> str:
    """What Arrow could not read, without the row it quotes (ids are personal data)."""
    import re

    found = [m.group(0) for m in re.finditer(r"Expected \d+ columns, got \d+|Row #\d+", str(exc))]
    return "; ".join(found) or "a value it could not parse"


def _named_by_file(exc: tg.TracegraphError, path: str) -> tg.TracegraphError:
    """The error of reading a CSV file's table, naming the file (not as "<table 0>")."""
    return type(exc)(str(exc).replace("<table 0>", path))


def _build(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if args.scans:
        # the lean path: files -> index without the scans or stays as tables; a CSV file
        # is read as a table first (ids as for stays: text with a key, as written)
        key = _key(args)
        scans_in: object = args.source
        if _is_csv(args.source):
            scans_in = _read_table(
                args.source, "source", ids={"person": pa.string()} if key else None
            )
        try:
            index, report = tg.VenueIndex.from_scans(
                scans_in,
                errors="quarantine" if args.quarantine else "raise",
                tz=args.tz,
                pseudonym_key=key,
                default_dwell=args.default_dwell or "30min",
                max_stay=args.max_stay or "12h",
                split_at_midnight=args.split_at_midnight,
                bucket_width=args.bucket_width,
            )
        except tg.TracegraphError as exc:
            if scans_in is args.source:
                raise
            raise _named_by_file(exc, args.source) from None
        scans = report.scans
        counts = {
            "scans_read": scans.read,
            "scans_accepted": scans.accepted,
            "scans_rejected": scans.rejected,
            "scans_rejected_by_reason": scans.rejected_by_reason,
            "scans_duplicates": scans.duplicates,
        }
        reasons = ", ".join(f"{n:,} {r}" for r, n in scans.rejected_by_reason.items())
        read = (
            f"read {scans.read:,} scans: {scans.accepted:,} accepted, {scans.rejected:,} "
            f"rejected{f' ({reasons})' if reasons else ''}, {scans.duplicates:,} exact "
            f"duplicates merged; "
        )
    else:
        counts, read = {}, ""
        # Parquet / Arrow files and folders are read batch by batch; CSV as a table
        source = Path(args.source)
        if not source.exists():
            raise FileNotFoundError(f"{args.source}: no such file or folder")
        key = _key(args)
        stays: object = source
        if source.suffix.lower() == ".csv":
            # with a key, ids are pseudonymized as text: read them as written
            stays = _read_table(args.source, "source", ids={"person": pa.string()} if key else None)
        if key is not None:
            # the stays' person ids become their pseudonyms before anything keeps them (the
            # table is read whole here, not batch by batch; --scans reads batch by batch)
            table = stays if isinstance(stays, pa.Table) else _read_stays_table(source)
            if "person" not in table.column_names:
                raise tg.SchemaError(
                    f"{args.source}: expected a column `person` to pseudonymize, found "
                    f"{table.column_names}"
                )
            at = table.column_names.index("person")
            stays = table.set_column(at, "person", tg.pseudonymize(table["person"], key))
        index = tg.VenueIndex.from_stays(
            stays, tz=args.tz, bucket_width=args.bucket_width, pseudonymized=key is not None
        )
    with _writing(args.out):
        path = index.save(args.out, overwrite=args.overwrite)
    summary = {
        **counts,
        "stays": index.n_stays,
        "persons": index.n_persons,
        "venues": index.n_venues,
        "index": str(path),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    _report(args, summary, f"{read}saved {index!r} to {path} in {summary['seconds']} s")
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


def _looks_pseudonymized(index: tg.VenueIndex) -> bool:
    """Whether the index's person ids look like pseudonyms: 32 hex digits.

    The ids are sorted, so the first, middle and last are a fair sample.
    """
    persons = index.persons
    if not (pa.types.is_string(persons.type) or pa.types.is_large_string(persons.type)):
        return False
    if len(persons) == 0:
        return False
    sample = persons.take(pa.array([0, len(persons) // 2, len(persons) - 1]))
    return bool(pc.all(pc.match_substring_regex(sample, r"^[0-9a-f]{32}$")).as_py())


def _traced(args: argparse.Namespace, index: tg.VenueIndex, **options: object) -> tg.Trace:
    """``tg.trace`` of the command's cases, with advice when the key and index disagree."""
    # (indexes saved before they recorded it: their ids' look)
    pseudonyms = index.pseudonymized or _looks_pseudonymized(index)
    if args.pseudonym_key_env and not pseudonyms:
        raise tg.ArgumentError(
            "--pseudonym-key-env: expected an index of pseudonymized ids, found one whose "
            "person ids are not pseudonyms (32 hex digits); drop --pseudonym-key-env"
        )
    cases = _cases(args, index)
    try:
        return tg.trace(index, cases, unknown=args.unknown, tz=args.tz, **options)  # type: ignore[arg-type]
    except tg.PersonNotFound as exc:
        if args.pseudonym_key_env or not pseudonyms:
            raise
        from tracegraph.exposure import PSEUDONYM_HINT

        message = str(exc).replace(PSEUDONYM_HINT, "")  # (said here the CLI's way, once)
        raise tg.PersonNotFound(
            f"{message}; this index's person ids are pseudonyms (32 hex digits): if the cases "
            f"are real ids, pass --pseudonym-key-env with the key the index was built with"
        ) from None


def _cases(args: argparse.Namespace, index: tg.VenueIndex) -> pa.Table | list[object]:
    key = _key(args)
    if key is None:
        return _plain_cases(args, index)
    # an index built with a pseudonym key holds pseudonyms: the cases' ids become theirs
    cases = _plain_cases(args, index, as_text=True)
    if isinstance(cases, pa.Table):
        at = cases.column_names.index("person")
        return cases.set_column(at, "person", tg.pseudonymize(cases["person"], key))
    return list(tg.pseudonymize(cases, key).to_pylist())


def _plain_cases(
    args: argparse.Namespace, index: tg.VenueIndex, *, as_text: bool = False
) -> pa.Table | list[object]:
    if args.cases_file:
        # ids as the index has them; with a key they are pseudonymized as text, as written
        person = pa.string() if as_text else index.persons.type
        table = _read_table(args.cases_file, "--cases-file", ids={"person": person})
        if table.num_rows == 0:
            raise tg.SchemaError(
                f"{args.cases_file}: expected at least one case, found a file without rows"
            )
        if {"start", "end"} & set(table.column_names):  # a window, whole or not (trace checks)
            return table
        if "person" not in table.column_names:
            raise tg.SchemaError(
                f"{args.cases_file}: expected a column `person` (and optionally `start`, `end`), "
                f"found {table.column_names}"
            )
        return table.column("person").to_pylist()
    if not args.case:
        raise tg.SchemaError("expected cases: give --case ID (repeatable) or --cases-file FILE")
    if pa.types.is_integer(index.persons.type) and not as_text:
        # as a cases file's are read (int() would read "+12", "1_2" or non-ASCII digits;
        # ids of more than 4300 digits it refuses, and no index holds them)
        if not all(re.fullmatch(_DECIMAL, c) and len(c) <= 40 for c in args.case):
            raise tg.SchemaError(
                "--case: expected integer ids written in decimal digits (the index holds "
                "integer person ids), got one with a sign, a separator, a space, other "
                "characters or over 40 digits"
            )
        return [int(c) for c in args.case]
    return list(args.case)


#: The files ``trace --out`` writes, each as .parquet or .csv.
_TRACE_OUTPUTS = ("contacts", "edges", "risk", "locations_of_interest")


def _earlier_trace_files(args: argparse.Namespace) -> list[Path]:
    """The files of an earlier trace in the --out folder (refused without --overwrite)."""
    out = Path(args.out)  # (a file there was refused by _check_out)
    found = [
        out / f"{name}.{fmt}"
        for name in _TRACE_OUTPUTS
        for fmt in ("parquet", "csv")
        if (out / f"{name}.{fmt}").exists()
    ]
    if found and not args.overwrite:
        raise tg.ArgumentError(
            f"--out {args.out}: expected a folder without an earlier trace's files, found "
            f"{', '.join(p.name for p in found)}; pass --overwrite to replace them (all of "
            f"them are removed first), or choose another folder"
        )
    return found


def _trace_cmd(args: argparse.Namespace) -> int:
    earlier = _earlier_trace_files(args) if args.out else []
    index = tg.VenueIndex.open(args.index, verify=not args.no_verify)
    t0 = time.perf_counter()
    result = _traced(
        args, index, tiers=args.tiers, min_overlap=args.min_overlap, linger=args.linger,
        latency=args.latency, infectious_for=args.infectious_for, policy=args.policy,
        cumulative="per_source" if args.per_source else args.cumulative, day_tz=args.day_tz,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    files = {}
    if args.out:
        out = Path(args.out)
        tables = {"contacts": result.contacts}
        if args.edges:
            tables["edges"] = result.edges
        if args.risk:
            tables["risk"] = result.risk()
        if args.loi:
            tables["locations_of_interest"] = result.locations_of_interest()
        with _writing(args.out):
            out.mkdir(parents=True, exist_ok=True)
            for path in earlier:  # no file of an earlier run is left beside this run's
                path.unlink()
            for name, table in tables.items():
                path = tg.write_table(table, out / f"{name}.{args.format or 'parquet'}")
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


def _loi_cmd(args: argparse.Namespace) -> int:
    index = tg.VenueIndex.open(args.index, verify=not args.no_verify)
    result = _traced(args, index, min_overlap=args.min_overlap, linger=args.linger,
                     policy=args.policy)  # fmt: skip
    loi = result.locations_of_interest()
    with _writing(args.out):
        path = tg.write_table(loi, args.out) if args.out else None
    summary = {
        "windows": loi.num_rows,
        "venues": pc.count_distinct(loi["venue"]).as_py() if loi.num_rows else 0,
        "exposed": result.tier_counts().get(1, 0),
        "file": None if path is None else str(path),
    }
    _report(
        args,
        summary,
        f"{summary['windows']:,} exposure windows at {summary['venues']:,} venues, "
        f"{summary['exposed']:,} people exposed" + (f"; wrote {path}" if path else ""),
    )
    return 0


def _present_cmd(args: argparse.Namespace) -> int:
    index = tg.VenueIndex.open(args.index, verify=not args.no_verify)
    windows = _read_table(args.windows, "--windows", ids={"venue": index.venues.type})
    found = tg.present_at(
        index, windows, policy=args.policy, min_overlap=args.min_overlap, tz=args.tz
    )
    with _writing(args.out):
        path = tg.write_table(found, args.out) if args.out else None
    summary = {
        "windows": windows.num_rows,
        "matches": found.num_rows,
        "people": pc.count_distinct(found["person"]).as_py() if found.num_rows else 0,
        "file": None if path is None else str(path),
    }
    _report(
        args,
        summary,
        f"{summary['people']:,} people present at {summary['windows']:,} windows "
        f"({summary['matches']:,} stay matches)" + (f"; wrote {path}" if path else ""),
    )
    return 0


def _compliance_cmd(args: argparse.Namespace) -> int:
    # naive (zone-less) times in the files are local times in --tz, as with --scans
    source = Path(args.source)
    scans: object
    venue: pa.DataType | None = None  # the registry's venue ids: as the index has them
    if (source / "manifest.json").exists():
        if args.scans:  # (it would be read as the index's stays, --scans ignored)
            raise tg.ArgumentError(
                f"--scans: {args.source} is a saved index (of stays), not scan files; drop "
                f"--scans, or give the scan files"
            )
        index = tg.VenueIndex.open(source, verify=not args.no_verify)
        scans, venue = index, index.venues.type
    elif args.scans and not _is_csv(args.source):
        scans = tg.read_scans(source, tz=args.tz)
    elif args.scans:  # (read_scans takes no CSV path: the file's table, read below)
        scans = _read_table(args.source, "source", ids={"person": pa.string()})
    else:
        scans = _in_zone(
            _read_table(args.source, "source", folder=True), ("time", "start"), args.tz, "scans"
        )
    registry = _read_table(args.registry, "registry", ids={"venue": venue})
    registry = _in_zone(registry, ("registered_at",), args.tz, "registry")
    if isinstance(scans, pa.Table):
        registry, scans = _venue_ids_alike(
            (registry, _is_csv(args.registry)), (scans, _is_csv(args.source))
        )
    if args.scans and isinstance(scans, pa.Table):
        try:
            scans = tg.read_scans(scans, tz=args.tz)
        except tg.TracegraphError as exc:
            raise _named_by_file(exc, args.source) from None
    by = tuple(b.strip() for b in args.by.split(",") if b.strip()) if args.by else ()
    report = tg.compliance(registry, scans, freq=args.freq, by=by, tz=args.tz or "UTC")
    with _writing(args.out):
        path = tg.write_table(report, args.out) if args.out else None
    last = report.filter(pc.equal(report["period"], pc.max(report["period"])))
    registered = pc.sum(last["registered"]).as_py() or 0
    active = pc.sum(last["active"]).as_py() or 0
    accounts = scan_accounts(report)
    summary = {
        "periods": pc.count_distinct(report["period"]).as_py(),
        "rows": report.num_rows,
        "last_period": last["period"][0].as_py().isoformat() if last.num_rows else None,
        "registered": registered,
        "active": active,
        "scans": accounts,
        "file": None if path is None else str(path),
    }
    share = f"{active / registered:.0%}" if registered else "n/a"
    left_out = accounts["read"] - accounts["counted"]
    _report(
        args,
        summary,
        f"{summary['periods']} period{'' if summary['periods'] == 1 else 's'}; last period: "
        f"{active:,} of {registered:,} registered venues had scans ({share}); "
        f"{accounts['counted']:,} of {accounts['read']:,} scans counted"
        + (
            f" ({left_out:,} left out: {accounts['unregistered_venue']:,} at venues not in "
            f"the registry, {accounts['before_registration']:,} before their venue "
            f"registered, {accounts['outside_periods']:,} outside the periods"
            + (f", {accounts['rejected']:,} rejected" if accounts["rejected"] else "")
            + (f", {accounts['duplicates']:,} duplicates" if accounts["duplicates"] else "")
            + ")"
            if left_out
            else ""
        )
        + (f"; wrote {path}" if path else ""),
    )
    return 0


#: What each command's --out names: a folder it writes files to, an index, or a file.
_OUT_KIND = {
    "demo": "folder",
    "generate": "folder",
    "trace": "folder",
    "build": "index",
    "loi": "file",
    "present": "file",
    "compliance": "file",
}


def _check_out(args: argparse.Namespace) -> None:
    """Refuse an --out that cannot be written, before any work (naming --out)."""
    out = getattr(args, "out", None)
    if not out:
        return
    path, kind = Path(out), _OUT_KIND[args.command]
    if kind == "folder" and path.exists() and not path.is_dir():
        raise tg.ArgumentError(f"--out {out}: expected a folder, found a file")
    if kind == "file" and path.is_dir():
        raise tg.ArgumentError(f"--out {out}: expected a file to write, found a folder")
    if kind == "file" and path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise tg.ArgumentError(
            f"--out {out}: expected a file name ending in .csv or .parquet (the format "
            f"written), got {path.suffix or 'none'}"
        )
    if kind == "file" and path.exists() and not args.overwrite:
        raise tg.ArgumentError(
            f"--out {out}: expected a new file, found one there already; pass --overwrite "
            f"to replace it, or choose another name"
        )
    parent = path.absolute().parent
    if kind != "folder" and not parent.is_dir():
        raise tg.ArgumentError(
            f"--out {out}: expected an existing folder to write in, found no folder {parent}; "
            f"create it first"
        )


@contextlib.contextmanager
def _writing(out: str | None) -> Iterator[None]:
    """File system errors while writing --out, named by --out (not a temporary path)."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, tg.TracegraphError):  # (already says what to do)
            raise
        import os
        import re

        code = exc.errno or next(map(int, re.findall(r"\[errno (\d+)\]", str(exc))), 0)
        reason = os.strerror(code) if code else "the file system refused"
        raise OSError(f"--out {out}: cannot write there ({reason})") from None


def _report(args: argparse.Namespace, summary: dict[str, object], text: str) -> None:
    if getattr(args, "json", False):
        import json

        print(json.dumps(summary))
    else:
        print(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tracegraph`` command."""
    parser = argparse.ArgumentParser(
        prog="tracegraph",
        description="Venue-based contact tracing: stays -> index -> tiers.",
        allow_abbrev=False,  # (--cases would silently be --cases-file)
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="generate a small city, build an index, trace a few cases", allow_abbrev=False
    )
    # every option is checked before the first step: no partial output, then an error
    positive = _integer(1)
    demo.add_argument("--people", type=positive, default=20_000, help="people in the city (20000)")
    demo.add_argument("--days", type=positive, default=7, help="days of stays (7)")
    demo.add_argument("--cases", type=positive, default=5, help="number of cases to trace (5)")
    demo.add_argument("--tiers", type=_integer(1, 127), default=2, help="tiers to trace (2)")
    demo.add_argument(
        "--min-overlap", type=_duration, default="15min", help="minimum overlap ('15min')"
    )
    demo.add_argument(
        "--linger", type=_duration, default="0s", help="time a venue stays infectious ('0s')"
    )
    demo.add_argument(
        "--latency", type=_duration, default="1d", help="exposure to infectiousness ('1d')"
    )
    demo.add_argument(
        "--infectious-for",
        type=_duration,
        default="3d",
        help="infectious period of contacts ('3d')",
    )
    demo.add_argument("--top", type=positive, default=5, help="venues to list (5)")
    demo.add_argument("--seed", type=_integer(0), default=2021, help="random seed (2021)")
    demo.add_argument("--out", default="demo_city", help="folder for the city's Parquet files")
    demo.add_argument(
        "--tz",
        type=_zone,
        default="Asia/Ho_Chi_Minh",
        help="zone of the locations of interest and the compliance weeks",
    )
    demo.set_defaults(subparser=demo, func=_demo)

    gen = sub.add_parser(
        "generate", help="generate a synthetic city and write it to Parquet", allow_abbrev=False
    )
    gen.add_argument("--people", type=int, default=10_000, help="people in the city (10000)")
    gen.add_argument("--days", type=int, default=7, help="days of stays (7)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (0)")
    gen.add_argument("--ids", choices=["int", "str"], default="int", help="id type (int)")
    gen.add_argument("--out", required=True, help="folder for stays/people/venues/registry.parquet")
    gen.add_argument(
        "--overwrite", action="store_true", help="replace those files if the folder has them"
    )
    gen.add_argument("--json", action="store_true", help="print a JSON summary")
    gen.set_defaults(subparser=gen, func=_generate)

    build = sub.add_parser(
        "build", help="stays (or raw scans) -> a saved index", allow_abbrev=False
    )
    build.add_argument(
        "source",
        help="stays: a Parquet, Arrow IPC or CSV file, or a folder of Parquet/Arrow files "
        "(with --scans: scan files or a folder of them); CSV ids are read as integers when "
        "every one is a plain decimal integer, else as text (012 and 12 are two ids)",
    )
    build.add_argument("--out", required=True, help="where to save the index (a folder)")
    build.add_argument("--overwrite", action="store_true", help="replace an index saved there")
    build.add_argument("--tz", default=None, help="zone of naive timestamps, e.g. UTC")
    build.add_argument("--bucket-width", default="1h", help="time bucket width ('1h')")
    build.add_argument(
        "--scans",
        action="store_true",
        help="the source holds raw QR scans: columns person, venue, time (and optionally "
        "direction: entry/exit, in/out)",
    )
    build.add_argument(
        "--quarantine", action="store_true", help="set bad scan rows aside (with --scans)"
    )
    build.add_argument(
        "--default-dwell", default=None, help="stay of an entry scan (with --scans; '30min')"
    )
    build.add_argument("--max-stay", default=None, help="longest stay (with --scans; '12h')")
    build.add_argument(
        "--split-at-midnight", default=None, help="zone whose midnight ends stays (with --scans)"
    )
    build.add_argument(
        "--pseudonym-key-env", default=None,
        help="name of an environment variable holding the pseudonym key (never pass keys as "
             "arguments: they end up in shell history)",
    )  # fmt: skip
    build.add_argument("--json", action="store_true", help="print a JSON summary")
    build.set_defaults(subparser=build, func=_build)

    tr = sub.add_parser("trace", help="trace cases through a saved index", allow_abbrev=False)
    tr.add_argument("index", help="a saved index (folder)")
    _cases_args(tr)
    tr.add_argument("--tiers", type=int, default=1, help="tiers to trace (1)")
    tr.add_argument("--min-overlap", default="0s", help="minimum overlap ('0s')")
    tr.add_argument("--linger", default="0s", help="time a venue stays infectious ('0s')")
    tr.add_argument("--latency", default="0s", help="exposure to infectiousness ('0s')")
    tr.add_argument("--infectious-for", default=None, help="infectious period (no end)")
    _unknown_arg(tr)
    _policy_arg(tr)
    tr.add_argument("--cumulative", action="store_true", help="sum overlaps per day (of --day-tz)")
    tr.add_argument(
        "--per-source",
        action="store_true",
        help="with --cumulative: sum the time with each infectious person apart (the CDC's "
        "15 minutes with one infected person), not with all of them",
    )
    tr.add_argument(
        "--day-tz",
        default="UTC",
        help="zone whose midnights separate days (--cumulative, --risk), e.g. Asia/Ho_Chi_Minh",
    )
    tr.add_argument(
        "--out",
        default=None,
        help="folder to write contacts (and with --edges, --risk, --loi: edges, risk, "
        "locations_of_interest) files to; a folder holding an earlier trace's files is "
        "refused unless --overwrite, which removes them all first",
    )
    tr.add_argument(
        "--overwrite", action="store_true", help="replace an earlier trace's files in --out"
    )
    tr.add_argument("--edges", action="store_true", help="also write every stay pair")
    tr.add_argument("--risk", action="store_true", help="also write risk per contact")
    tr.add_argument("--loi", action="store_true", help="also write locations of interest")
    tr.add_argument(
        "--format", choices=["parquet", "csv"], default=None, help="format of the files (parquet)"
    )
    tr.add_argument("--tz", default=None, help="zone of naive times in the cases-file")
    tr.add_argument(
        "--pseudonym-key-env", default=None,
        help="environment variable holding the key the index's ids were pseudonymized with",
    )  # fmt: skip
    tr.add_argument("--no-verify", action="store_true", help="skip the index checksum")
    tr.add_argument("--json", action="store_true", help="print a JSON summary")
    tr.set_defaults(subparser=tr, func=_trace_cmd)

    loi = sub.add_parser(
        "loi", help="cases -> locations of interest to publish (CSV/Parquet)", allow_abbrev=False
    )
    loi.add_argument("index", help="a saved index (folder)")
    _cases_args(loi)
    loi.add_argument("--min-overlap", default="0s", help="minimum overlap ('0s')")
    loi.add_argument("--linger", default="0s", help="time a venue stays infectious ('0s')")
    _unknown_arg(loi)
    _policy_arg(loi)
    _file_out_args(loi)
    loi.add_argument("--tz", default=None, help="zone of naive times in the cases-file")
    loi.add_argument(
        "--pseudonym-key-env", default=None,
        help="environment variable holding the key the index's ids were pseudonymized with",
    )  # fmt: skip
    loi.add_argument("--no-verify", action="store_true", help="skip the index checksum")
    loi.add_argument("--json", action="store_true", help="print a JSON summary")
    loi.set_defaults(subparser=loi, func=_loi_cmd)

    present = sub.add_parser(
        "present", help="published windows -> everyone present at them", allow_abbrev=False
    )
    present.add_argument("index", help="a saved index (folder)")
    present.add_argument("--windows", required=True, help="CSV/Parquet: venue, start, end")
    present.add_argument("--min-overlap", default="0s", help="minimum overlap ('0s')")
    _policy_arg(present)
    _file_out_args(present)
    present.add_argument("--tz", default=None, help="zone of naive times in the windows")
    present.add_argument("--no-verify", action="store_true", help="skip the index checksum")
    present.add_argument("--json", action="store_true", help="print a JSON summary")
    present.set_defaults(subparser=present, func=_present_cmd)

    comp = sub.add_parser(
        "compliance", help="QR compliance per period and area", allow_abbrev=False
    )
    comp.add_argument("registry", help="venue registry (CSV/Parquet)")
    comp.add_argument("source", help="saved index, stays/scans table, or (--scans) scan files")
    comp.add_argument(
        "--scans",
        action="store_true",
        help="the source holds raw QR scans: columns person, venue, time (and optionally "
        "direction)",
    )
    comp.add_argument("--freq", choices=["D", "W", "MS"], default="W", help="period (W)")
    comp.add_argument("--by", default="district,ward", help="area columns ('district,ward')")
    comp.add_argument(
        "--tz",
        default=None,
        help="zone of the periods' midnights (default UTC), and of naive times in the files "
        "(needed when they have any)",
    )
    _file_out_args(comp)
    comp.add_argument("--no-verify", action="store_true", help="skip the index checksum")
    comp.add_argument("--json", action="store_true", help="print a JSON summary")
    comp.set_defaults(subparser=comp, func=_compliance_cmd)
    return parser


def _file_out_args(parser: argparse.ArgumentParser) -> None:
    """--out (a file) and --overwrite, of the commands that write one table."""
    parser.add_argument("--out", default=None, help="file to write (.csv or .parquet)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the file at --out if there is one"
    )


def _unknown_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--unknown",
        choices=["raise", "keep", "drop"],
        default="raise",
        help="case ids not in the index: an error (raise, the default), kept as cases "
        "without stays (keep), or left out (drop)",
    )


def _cases_args(parser: argparse.ArgumentParser) -> None:
    cases = parser.add_mutually_exclusive_group()
    cases.add_argument("--case", action="append", help="a case person id (repeatable)")
    cases.add_argument("--cases-file", help="CSV/Parquet with `person` (and `start`, `end`)")


#: Options that only mean something beside another: (command, needed, its dependents).
_NEEDS = (
    ("trace", "out", ("edges", "risk", "loi", "format", "overwrite")),
    ("trace", "cumulative", ("per_source",)),
    *((command, "out", ("overwrite",)) for command in ("loi", "present", "compliance")),
    ("build", "scans", ("quarantine", "default_dwell", "max_stay", "split_at_midnight")),
)


def _usage_problem(args: argparse.Namespace) -> str | None:
    """An option given without the one it depends on (it would be silently ignored)."""
    for command, needed, dependents in _NEEDS:
        if args.command == command and not getattr(args, needed):
            given = [_flag(name) for name in dependents if getattr(args, name) not in (None, False)]
            if given:
                return f"{', '.join(given)}: only with {_flag(needed)} (ignored without it)"
    return None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _integer(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` (to ``high``)."""

    def integer(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"expected an integer {bounds}, got {value}")
        return value

    return integer


def _duration(text: str) -> str:
    """An argparse type: a duration such as '15min' (checked, kept as written)."""
    from tracegraph._time import duration_seconds

    try:
        duration_seconds(text, "duration")
    except tg.DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None
    return text


def _zone(text: str) -> str:
    """An argparse type: a time zone Arrow knows."""
    from tracegraph._time import check_zone

    try:
        check_zone(text)
    except tg.TimezoneError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None
    return text


def _policy_arg(parser: argparse.ArgumentParser) -> None:
    from tracegraph.policy import PRESETS

    parser.add_argument(
        "--policy", choices=sorted(PRESETS), default="tracegraph", help="matching rule"
    )


#: Advice in the library's messages that only a Python caller can follow, as the
#: command line says it (regular expressions, applied before the option names).
_HINTS = (
    (
        r"; convert it, e\.g\. pyarrow\.compute\.(strptime\(\.\.\.\) or pandas\.to_datetime"
        r"\(\.\.\., utc=True\)|cast\(column, pyarrow\.timestamp\('s', tz='UTC'\)\))",
        "; write times with their zone, e.g. 2021-09-06T10:00:00Z in a CSV file, or as a "
        "timestamp column in a Parquet file",
    ),
    (
        r"; attach the zone the times were recorded in, e\.g\. "
        r"pyarrow\.compute\.assume_timezone\(column, '[^']*'\)",
        "; pass --tz with the zone the times were recorded in, e.g. --tz Asia/Ho_Chi_Minh",
    ),
    (
        r"; convert one side, e\.g\. pyarrow\.compute\.cast\(registry\['venue'\], "
        r"pyarrow\.\w+\(\)\)",
        "; write the venue ids alike in both (in a CSV file, ids are integers when every one is "
        "a plain integer, else text)",
    ),
    (r"\(pass tz= or ScanSchema\(tz=\)\)", "(pass --tz with the zone the times were recorded in)"),
    (
        r"; map the columns with ScanSchema\(person=\.\.\., venue=\.\.\., time=\.\.\.\)",
        "; rename the file's columns to person, venue and time",
    ),
    (
        r"use e\.g\. secrets\.token_hex\(32\)( \(text: fits an environment variable\))?",
        "put e.g. the output of python -c 'import secrets; print(secrets.token_hex(32))' in "
        "the variable",
    ),
    (
        r"; a (CSV|TSV) file by its name: read it with .* and pass the table(, or build .*)?$",
        "; the command line reads CSV only from files named *.csv, of stays or scans "
        "(tracegraph build [--scans]) or of a registry and scans (tracegraph compliance): "
        "rename the file to *.csv, or convert it to Parquet",
    ),
    (r"pass start= and end=, or a longer freq", "pass a longer --freq, or fewer --by columns"),
    (r"; pass start= and end=, or fix those times", "; fix those times"),
    (r"`start`, `days`", "`days`"),  # (the synthetic city's start is not an option)
    (r"give them as integers, e\.g\. \[int\(x\) for x in ids\]", "write them as integers"),
    (
        r"give them as text, e\.g\. \[str\(x\) for x in ids\]",
        "write them as text (in a Parquet file: a string column)",
    ),
    (
        r"name the cases by tg\.pseudonymize\(ids, key\), with the key the scans were read "
        r"with",
        "give the cases' real ids and --pseudonym-key-env naming the key the scans were read with",
    ),
)

#: Library parameters whose CLI option has another name.
_OPTION_OF = {"pseudonym_key": "pseudonym_key_env"}

#: Library parameters the CLI passes on as options of (almost) the same name.
_PARAMETERS = (
    "people", "days", "seed", "ids", "tiers", "min_overlap", "linger", "latency",
    "infectious_for", "unknown", "policy", "cumulative", "day_tz", "tz", "bucket_width",
    "default_dwell",
    "max_stay", "split_at_midnight", "overwrite", "freq", "by", "pseudonym_key",
)  # fmt: skip


def _as_options(message: str, args: argparse.Namespace) -> str:
    """A library message in the command line's words: its options, not Python parameters.

    Python-only advice becomes the CLI's (``_HINTS``); then every parameter the
    command has as an option is spelled as that option: `` `min_overlap` `` and
    ``min_overlap`` as ``--min-overlap``, ``min_overlap=0`` as ``--min-overlap 0``,
    ``unknown='keep'`` as ``--unknown keep``, ``overwrite=True`` as ``--overwrite``.
    """
    import re

    for pattern, replacement in _HINTS:
        message = re.sub(pattern, replacement, message)
    if args.command == "build":
        message = message.replace("pass errors='quarantine'", "pass --quarantine")
    else:  # compliance reads raw scans strictly
        message = message.replace(
            "pass errors='quarantine' to set such rows aside",
            "build an index with tracegraph build --scans --quarantine (which sets such rows "
            "aside) and pass the index instead",
        )
    actions = {a.dest: a for a in args.subparser._actions if a.option_strings}
    for name in _PARAMETERS:
        action = actions.get(_OPTION_OF.get(name, name))
        if action is None:
            continue
        flag = action.option_strings[-1]
        switch = isinstance(action, argparse._StoreTrueAction)

        def spelled(m: re.Match[str], flag: str = flag, switch: bool = switch) -> str:
            value = next((v for v in m.groups() if v is not None), None)
            end, raw = "", m.group(3)
            if raw is not None:  # unquoted: it may be part of a type or a path
                if any(c in raw for c in "[]/\\"):  # e.g. timestamp[s, tz=UTC], a/tz=UTC/b
                    return m.group(0)
                value, end = (raw[:-1], ".") if raw.endswith(".") else (raw, "")
            if value is None or (switch and value == "True"):
                return flag + end
            return f"{flag} {value}{end}"

        quoted = r"=(?:'([^']*)'|\"([^\"]*)\"|([^\s,;:)'\"]+))?"
        message = re.sub(rf"`{name}`", flag, message)
        message = re.sub(rf"(?<![\w.`/\\-]){name}{quoted}(?![\w(])", spelled, message)
    return message


def _unrecognized(subparser: argparse.ArgumentParser, extra: list[str]) -> str:
    """The message for arguments argparse did not know, with the nearest option named.

    Only the options are quoted, not the values after them (a case id, say: messages
    never show person ids).
    """
    flags = [word.split("=", 1)[0] for word in extra if word.startswith("-")]
    values = len(extra) - len(flags)
    shown = " ".join(flags)
    if values:
        shown += f"{' and ' if flags else ''}{values} value{'s' if values > 1 else ''}"
    message = f"unrecognized arguments: {shown}"
    options = [o for action in subparser._actions for o in action.option_strings]
    for flag in flags:
        near = difflib.get_close_matches(flag, options, n=1, cutoff=0.75)
        if near:
            return f"{message} (did you mean {near[0]}?)"
    return message


#: The arguments that name files or folders.
_PATH_ARGUMENTS = ("out", "source", "index", "registry", "windows", "cases_file")


def _expand_home(args: argparse.Namespace) -> None:
    """A leading ``~`` of a path argument is the home folder, as the library reads it.

    (A shell leaves it in ``--out=~/x`` or in quotes: the command's checks would look
    in a folder named ``~`` while the library writes in the home folder.)
    """
    for name in _PATH_ARGUMENTS:
        value = getattr(args, name, None)
        if isinstance(value, str):
            setattr(args, name, os.path.expanduser(value))
        elif isinstance(value, list):
            setattr(args, name, [os.path.expanduser(v) if isinstance(v, str) else v for v in value])


#: Options whose value is a zone, which may be a negative fixed offset ('-03:00')
_ZONE_OPTIONS = ("--tz", "--day-tz", "--split-at-midnight")
_NEGATIVE_OFFSET = re.compile(r"-\d{2}(:?\d{2}(:?\d{2})?)?")


def _attach_offsets(argv: list[str]) -> list[str]:
    """``--tz -03:00`` as ``--tz=-03:00`` (argparse takes a value starting with - for an option)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--":  # (the rest is positional)
            return out + argv[i:]
        if (
            argv[i] in _ZONE_OPTIONS
            and i + 1 < len(argv)
            and _NEGATIVE_OFFSET.fullmatch(argv[i + 1])
        ):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    argv = _attach_offsets(sys.argv[1:] if argv is None else list(argv))
    # unknown options are reported by the command's parser (its usage line, not the
    # top-level one), with the nearest option it has
    args, extra = parser.parse_known_args(argv)
    if extra:
        args.subparser.error(_unrecognized(args.subparser, extra))
    _expand_home(args)
    problem = _usage_problem(args)
    if problem:
        args.subparser.error(problem)  # usage and exit code 2, as argparse's own errors
    try:
        _check_out(args)
        code: int = args.func(args)
    except (tg.TracegraphError, OSError, ValueError) as exc:
        # one line, no traceback: the message says what was expected and what was found
        message = " ".join(str(exc).split())
        message = _as_options(message, args)  # advice given as the command line spells it
        print(f"tracegraph {args.command}: error: {message}", file=sys.stderr)
        return 2
    except MemoryError:
        smaller = {
            "demo": "smaller --people or --days",
            "generate": "smaller --people or --days",
        }.get(args.command, "smaller inputs (fewer stays, cases or periods)")
        print(
            f"tracegraph {args.command}: error: out of memory (the data does not fit in this "
            f"machine's memory); try {smaller}",
            file=sys.stderr,
        )
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
