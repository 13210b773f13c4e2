"""tracegraph vs DuckDB: build + F1 for N cases on the same Parquet file, in one process.

Usage::

    python -m benchmarks.compare_duckdb --size M --cases 1000 [--repeat 3] [--threads 2]
        [--seed 0] [--min-overlap 15min] [--linger 0] [--json out.json]

What is timed
-------------
build
    tracegraph: ``pyarrow.parquet.read_table`` + ``VenueIndex.from_stays``.
    DuckDB: ``CREATE TABLE stays AS SELECT * FROM read_parquet(...)``.
F1
    tracegraph: ``tg.trace(index, case_ids, tiers=1, ...)`` -> ``result.contacts``
    (it also builds the ``edges`` table, which DuckDB does not).
    DuckDB: the SQL below, materialised as an Arrow table; once with the default plan
    and once with ``SET prefer_range_joins = true``; the best is compared.

The kernels are compiled (or loaded from numba's cache) on a tiny city before any
timing; the cost of that first call is reported separately, in this process and in
a fresh process without numba's cache (true compile time).

The contact sets (person, exposed_at) of tracegraph's tier 1 and of every DuckDB
plan must be identical; otherwise the script exits with status 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import tracegraph as tg
from benchmarks import cities
from tracegraph._time import duration_seconds

PLANS = {
    "default": "SET prefer_range_joins = false",
    "prefer_range_joins": "SET prefer_range_joins = true",
}


# --------------------------------------------------------------------------- SQL


def f1_sql(min_overlap: int, linger: int) -> str:
    """DuckDB SQL for F1 of the persons in table ``cases`` over table ``stays``.

    The rule: a case stay [s, e) with e > s gives the exposure interval [s, e + linger);
    a stay [ts, te) of a non-case at the same venue qualifies when
    ``min(te, x_end) - max(ts, x_start)`` is > 0 and >= ``min_overlap``. That overlap
    condition is written as the equivalent conjunction of comparisons
    (``min(A, B) - max(C, D) >= m`` iff ``A - C``, ``A - D``, ``B - C``, ``B - D`` are
    all >= m), which gives the planner two plain range predicates to join on.
    """
    linger_iv = f"to_seconds({int(linger)})"
    if min_overlap > 0:
        m = f"to_seconds({int(min_overlap)})"
        case_filter = f'"end" > start AND "end" + {linger_iv} >= start + {m}'
        join_pred = f't.start <= x.x_end - {m} AND t."end" >= x.x_start + {m}'
        stay_filter = f't."end" >= t.start + {m}'
    else:
        case_filter = '"end" > start'
        join_pred = 't.start < x.x_end AND t."end" > x.x_start'
        stay_filter = 't."end" > t.start'
    return textwrap.dedent(
        f"""\
        WITH exposure AS (  -- exposure intervals of the cases: [start, end + linger)
            SELECT venue, start AS x_start, "end" + {linger_iv} AS x_end
            FROM stays
            WHERE person IN (SELECT person FROM cases) AND {case_filter}
        )
        SELECT t.person, min(greatest(t.start, x.x_start)) AS exposed_at
        FROM exposure AS x
        JOIN stays AS t
          ON t.venue = x.venue AND {join_pred}
        WHERE {stay_filter}
          AND t.person NOT IN (SELECT person FROM cases)
        GROUP BY t.person"""
    )


# --------------------------------------------------------------------------- helpers


class RssSampler:
    """Samples this process's RSS every 20 ms and keeps the peak per phase."""

    def __init__(self) -> None:
        self.phase = "start"
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.is_set():
            self._record()
            self._stop.wait(0.02)

    def _record(self) -> None:
        rss = self.rss()
        if rss > self.peaks.get(self.phase, 0):
            self.peaks[self.phase] = rss

    def set(self, phase: str) -> None:
        self._record()
        self.phase = phase
        self._record()

    def stop(self) -> dict[str, float]:
        self._record()
        self._stop.set()
        self._thread.join()
        return {k: round(v / 2**20, 1) for k, v in self.peaks.items()}


def parse_duration(text: str, name: str) -> int:
    """A duration flag: int seconds (``"900"``) or tracegraph's strings (``"15min"``)."""
    text = text.strip()
    return int(text) if text.isdigit() else duration_seconds(text, name)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": round(ram / 2**30, 1),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "tracegraph": tg.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pyarrow": pa.__version__,
        "duckdb": duckdb.__version__,
    }


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None or den <= 0:
        return "-"
    r = num / den
    return f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


# --------------------------------------------------------------------------- cold start

_COLD_SCRIPT = """
import json, time
t0 = time.perf_counter()
import tracegraph as tg
t1 = time.perf_counter()
city = tg.synth.generate_city(200, days=2, seed=1)
cases = city.stays["person"][:3].to_pylist()
t2 = time.perf_counter()
index = tg.VenueIndex.from_stays(city.stays)
t3 = time.perf_counter()
tg.trace(index, cases, tiers=1)
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "build_s": t3 - t2, "f1_s": t4 - t3}))
"""


def cold_start(numba_cache: bool) -> dict[str, float]:
    """First import + build + F1 on a tiny city in a fresh process."""
    env = dict(os.environ)
    env["TRACEGRAPH_NUMBA_CACHE"] = "1" if numba_cache else "0"
    out = subprocess.run(
        [sys.executable, "-c", _COLD_SCRIPT],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    res: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    res["total_s"] = res["import_s"] + res["build_s"] + res["f1_s"]
    return res


# --------------------------------------------------------------------------- tracegraph


def tracegraph_build(path: Path) -> tuple[dict[str, float], tg.VenueIndex]:
    t0 = time.perf_counter()
    table = pq.read_table(path, columns=["person", "venue", "start", "end"])
    t1 = time.perf_counter()
    index = tg.VenueIndex.from_stays(table)
    t2 = time.perf_counter()
    return {"total_s": t2 - t0, "read_s": t1 - t0, "index_s": t2 - t1}, index


def tracegraph_f1(
    index: tg.VenueIndex, case_ids: list[Any], min_overlap: int, linger: int, repeat: int
) -> tuple[list[float], pa.Table, tg.Trace]:
    times = []
    result = None
    for _ in range(repeat):
        result = None
        dt, result = timed(
            lambda: tg.trace(index, case_ids, tiers=1, min_overlap=min_overlap, linger=linger)
        )
        times.append(dt)
    assert result is not None
    f1 = result.contacts.filter(pc.equal(result.contacts["tier"], 1))
    return times, f1.select(["person", "exposed_at"]), result


def n_pairs(result: tg.Trace) -> int:
    """Number of qualifying stay pairs, without building the edges table if possible."""
    n = getattr(result, "n_pairs", None)
    return int(n) if n is not None else int(result.edges.num_rows)


# --------------------------------------------------------------------------- DuckDB


def duckdb_query(
    con: duckdb.DuckDBPyConnection, sql: str, repeat: int, timeout: float
) -> tuple[list[float], pa.Table | None, bool]:
    """Run ``sql`` ``repeat`` times (Arrow output); stop at the first run over ``timeout``."""
    times: list[float] = []
    result = None
    for _ in range(repeat):
        timer = threading.Timer(timeout, con.interrupt)
        timer.start()
        try:
            dt, result = timed(lambda: con.sql(sql).to_arrow_table())
        except duckdb.InterruptException:
            return times, result, True
        finally:
            timer.cancel()
        times.append(dt)
    return times, result, False


def join_operators(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The join operators of the physical plan, e.g. ``["Hash Join INNER", "IE Join INNER"]``."""
    import re

    text = "\n".join(str(row[-1]) for row in con.sql("EXPLAIN " + sql).fetchall())
    ops: list[str] = []
    for match in re.finditer(r"─ ([A-Za-z][A-Za-z ]*?Join) ─", text):
        kind = re.search(r"Join Type: (\w+)", text[match.end() :])
        name = match.group(1) + (f" {kind.group(1)}" if kind else "")
        if name not in ops:
            ops.append(name)
    return ops


# --------------------------------------------------------------------------- checks


def compare_contacts(expected: pa.Table, got: pa.Table, label: str) -> list[str]:
    """Differences between two (person, exposed_at) tables; empty when identical."""
    a = expected.sort_by("person")
    b = got.select(["person", "exposed_at"]).sort_by("person")
    problems: list[str] = []
    if b["exposed_at"].null_count:
        problems.append(f"{label}: {b['exposed_at'].null_count} null exposed_at")
    b_time = b["exposed_at"].cast(pa.timestamp("us", tz="UTC"))
    only_tg = a.filter(pc.invert(pc.is_in(a["person"], value_set=b["person"].combine_chunks())))
    only_db = b.filter(pc.invert(pc.is_in(b["person"], value_set=a["person"].combine_chunks())))
    if only_tg.num_rows or only_db.num_rows:
        problems.append(
            f"{label}: contact sets differ: {a.num_rows} persons from tracegraph, "
            f"{b.num_rows} from DuckDB; {only_tg.num_rows} only in tracegraph "
            f"(e.g. {only_tg['person'][:5].to_pylist()}), {only_db.num_rows} only in DuckDB "
            f"(e.g. {only_db['person'][:5].to_pylist()})"
        )
        return problems
    ta = a["exposed_at"].cast(pa.int64()).to_numpy()
    tb = b_time.cast(pa.int64()).to_numpy()
    diff = np.flatnonzero(ta != tb)
    if diff.size:
        i = int(diff[0])
        problems.append(
            f"{label}: exposed_at differs for {diff.size} of {a.num_rows} persons "
            f"(e.g. person {a['person'][i].as_py()}: tracegraph {a['exposed_at'][i].as_py()}, "
            f"DuckDB {b_time[i].as_py()})"
        )
    return problems


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.compare_duckdb",
        description="tracegraph vs DuckDB SQL: build + F1 on the same Parquet file.",
    )
    p.add_argument("--size", default="M", choices=list(cities.SIZES), help="city size")
    p.add_argument("--cases", type=int, default=1000, help="number of random cases")
    p.add_argument("--repeat", type=int, default=3, help="runs per timing (best is kept)")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    p.add_argument("--seed", type=int, default=0, help="seed of the city and of the cases")
    p.add_argument(
        "--min-overlap", default=None, help="also time F1 with this min_overlap (e.g. 15min)"
    )
    p.add_argument("--linger", default="0", help="linger for every F1 (default 0)")
    p.add_argument(
        "--duckdb-timeout",
        type=float,
        default=600.0,
        help="seconds after which a DuckDB query is interrupted (default 600)",
    )
    p.add_argument(
        "--plans",
        default=",".join(PLANS),
        help=f"comma-separated DuckDB plans to run (default: all of {list(PLANS)})",
    )
    p.add_argument(
        "--skip-cold", action="store_true", help="skip the fresh-process cold-start measurements"
    )
    p.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON")
    args = p.parse_args(argv)
    if args.cases < 1 or args.repeat < 1 or args.threads < 1:
        p.error("--cases, --repeat and --threads must be >= 1")
    args.plans = [x.strip() for x in args.plans.split(",") if x.strip()]
    unknown = [x for x in args.plans if x not in PLANS]
    if unknown or not args.plans:
        p.error(f"--plans: expected some of {list(PLANS)}, got {unknown or 'none'}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    linger = parse_duration(args.linger, "--linger")
    runs: list[tuple[str, int]] = [("F1", 0)]
    if args.min_overlap is not None:
        m = parse_duration(args.min_overlap, "--min-overlap")
        runs.append((f"F1 min_overlap={args.min_overlap}", m))

    rss = RssSampler()
    report: dict[str, Any] = {
        "config": {
            "size": args.size,
            "cases": args.cases,
            "repeat": args.repeat,
            "duckdb_threads": args.threads,
            "seed": args.seed,
            "linger_s": linger,
            "min_overlap_s": [m for _, m in runs],
        },
        "machine": machine_info(),
        "versions": versions(),
    }

    # ---- the city
    rss.set("generate")
    path = cities.city_parquet(args.size, seed=args.seed)
    meta = json.loads((path.parent / "meta.json").read_text())
    n_stays = pq.ParquetFile(path).metadata.num_rows
    report["city"] = {
        "path": str(path),
        "stays": n_stays,
        "people": meta["people"],
        "days": meta["days"],
        "parquet_mib": round(path.stat().st_size / 2**20, 1),
    }
    persons = pq.read_table(path, columns=["person"])["person"]
    persons = pc.unique(persons)
    persons = persons.take(pc.array_sort_indices(persons))
    if args.cases > len(persons):
        print(f"--cases {args.cases} > {len(persons)} persons in the city", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(persons), size=args.cases, replace=False))
    case_ids = persons.take(pa.array(pick)).to_pylist()
    cases_table = pa.table({"person": persons.take(pa.array(pick))})
    del persons
    print(
        f"city {args.size}: {n_stays:,} stays, {meta['people']:,} people, {meta['days']} days "
        f"({path})",
        file=sys.stderr,
        flush=True,
    )

    # ---- tracegraph
    rss.set("tracegraph")
    tgr: dict[str, Any] = {}
    if not args.skip_cold:
        tgr["cold_process_numba_cache"] = cold_start(numba_cache=True)
        tgr["cold_process_no_numba_cache"] = cold_start(numba_cache=False)
    tgr["warmup_in_process_s"] = cities.warm_up()
    builds = []
    index = None
    for _ in range(args.repeat):
        index = None
        gc.collect()
        b, index = tracegraph_build(path)
        builds.append(b)
    assert index is not None
    tgr["build"] = {
        "runs": builds,
        "first_s": builds[0]["total_s"],
        "best_s": min(b["total_s"] for b in builds),
    }
    tgr["index"] = {"nbytes_mib": round(index.nbytes / 2**20, 1), "repr": repr(index)}
    print(
        f"tracegraph build: {fmt_s(tgr['build']['first_s'])} first, "
        f"{fmt_s(tgr['build']['best_s'])} best",
        file=sys.stderr,
        flush=True,
    )
    tg_f1: dict[str, pa.Table] = {}
    for label, m in runs:
        times, f1, result = tracegraph_f1(index, case_ids, m, linger, args.repeat)
        tgr[label] = {
            "runs_s": times,
            "first_s": times[0],
            "best_s": min(times),
            "contacts": f1.num_rows,
            "edges": n_pairs(result),
        }
        tg_f1[label] = f1
        del result
        print(
            f"tracegraph {label}: {fmt_s(min(times))} best, {f1.num_rows:,} contacts",
            file=sys.stderr,
            flush=True,
        )
    del index
    gc.collect()
    report["tracegraph"] = tgr

    # ---- DuckDB
    rss.set("duckdb")
    ddb: dict[str, Any] = {}
    con = duckdb.connect(config={"threads": args.threads})
    con.execute("SET TimeZone = 'UTC'")
    source = str(path).replace("'", "''")
    builds_db = []
    for _ in range(args.repeat):
        con.execute("DROP TABLE IF EXISTS stays")
        dt, _ = timed(
            lambda: con.execute(f"CREATE TABLE stays AS SELECT * FROM read_parquet('{source}')")
        )
        builds_db.append(dt)
    ddb["build"] = {"runs_s": builds_db, "first_s": builds_db[0], "best_s": min(builds_db)}
    print(
        f"duckdb build: {fmt_s(builds_db[0])} first, {fmt_s(min(builds_db))} best",
        file=sys.stderr,
        flush=True,
    )
    con.register("cases", cases_table)
    problems: list[str] = []
    for label, m in runs:
        sql = f1_sql(m, linger)
        per_plan: dict[str, Any] = {"sql": sql}
        for plan in args.plans:
            con.execute(PLANS[plan])
            ops = join_operators(con, sql)
            times, table, timed_out = duckdb_query(con, sql, args.repeat, args.duckdb_timeout)
            entry: dict[str, Any] = {"join_operators": ops, "runs_s": times, "timed_out": timed_out}
            if times:
                entry["first_s"] = times[0]
                entry["best_s"] = min(times)
            if timed_out:
                entry["timeout_s"] = args.duckdb_timeout
            if table is not None:
                entry["contacts"] = table.num_rows
                diffs = compare_contacts(tg_f1[label], table, f"{label}, DuckDB {plan}")
                entry["identical"] = not diffs
                problems += diffs
            per_plan[plan] = entry
            status = (
                "TIMEOUT" if timed_out else ("identical" if entry.get("identical") else "DIFFERENT")
            )
            print(
                f"duckdb {label} [{plan}: {', '.join(ops)}]: "
                f"{fmt_s(entry.get('best_s'))} best, {entry.get('contacts', '-')} contacts, "
                f"{status}",
                file=sys.stderr,
                flush=True,
            )
        done = [p for p in args.plans if "best_s" in per_plan[p]]
        if done:
            best = min(done, key=lambda p: per_plan[p]["best_s"])
            per_plan["best_plan"] = best
            per_plan["best_s"] = per_plan[best]["best_s"]
        ddb[label] = per_plan
    con.close()
    report["duckdb"] = ddb
    rss.set("end")
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["peak_rss_mib"] = {
        "by_phase": rss.stop(),
        "process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    report["identical"] = not problems
    report["problems"] = problems

    report["config"]["plans"] = args.plans
    print_report(report, runs)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"\nwrote {args.json}")
    if problems:
        print("\nFAILED: tracegraph and DuckDB disagree:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    return 0


def print_report(r: dict[str, Any], runs: list[tuple[str, int]]) -> None:
    cfg, city, mach, tgr, ddb = r["config"], r["city"], r["machine"], r["tracegraph"], r["duckdb"]
    rows: list[tuple[str, float | None, float | None, float | None]] = []
    # (step, tracegraph, duckdb, tracegraph value the ratio is taken against)
    tb, db = tgr["build"], ddb["build"]
    rows.append(("build, first call", tb["first_s"], db["first_s"], tb["first_s"]))
    rows.append((f"build, best of {cfg['repeat']}", tb["best_s"], db["best_s"], tb["best_s"]))
    best_read = min(tb["runs"], key=lambda b: b["total_s"])
    rows.append(("  tracegraph: read Parquet", best_read["read_s"], None, None))
    rows.append(("  tracegraph: VenueIndex.from_stays", best_read["index_s"], None, None))
    for label, _ in runs:
        t, d = tgr[label], ddb[label]
        name = f"{label}, {cfg['cases']} cases"
        rows.append(
            (
                f"{name}, first call",
                t["first_s"],
                d.get(d.get("best_plan", ""), {}).get("first_s"),
                t["first_s"],
            )
        )
        rows.append((f"{name}, best of {cfg['repeat']}", t["best_s"], d.get("best_s"), t["best_s"]))
        for plan in cfg["plans"]:
            e = d[plan]
            ops = ", ".join(o for o in e["join_operators"] if o.endswith("INNER"))
            tag = "TIMEOUT " if e["timed_out"] else ""
            rows.append((f"  DuckDB {plan} ({tag}{ops})", None, e.get("best_s"), t["best_s"]))
    w = max(len(x[0]) for x in rows) + 2
    print()
    print(
        f"city {cfg['size']}: {city['stays']:,} stays ({city['people']:,} people x "
        f"{city['days']} days, Parquet {city['parquet_mib']} MiB); {cfg['cases']} cases "
        f"(seed {cfg['seed']}); linger {cfg['linger_s']} s; "
        f"DuckDB threads={cfg['duckdb_threads']}"
    )
    print(
        f"machine: {mach['cpu']}, {mach['cores']} cores ({mach['cores_usable']} usable), "
        f"{mach['ram_gib']} GiB RAM; {mach['platform']}"
    )
    print(
        f"load average (1, 5, 15 min) at start {mach['loadavg_start']}, at end "
        f"{mach.get('loadavg_end')}"
        + (
            "  [WARNING: machine busy, timings noisy]"
            if max(mach["loadavg_start"][0], mach.get("loadavg_end", [0])[0]) > (mach["cores"] or 1)
            else ""
        )
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()))
    print()
    print(f"{'step':<{w}}{'tracegraph':>12}{'DuckDB':>12}{'DuckDB/tg':>11}")
    print("-" * (w + 35))
    for step, t, d, den in rows:
        print(f"{step:<{w}}{fmt_s(t):>12}{fmt_s(d):>12}{fmt_ratio(d, den):>11}")
    print()
    for label, _ in runs:
        t, d = tgr[label], ddb[label]
        checks = ", ".join(
            f"{plan}: "
            + (
                "timeout"
                if "identical" not in d[plan]
                else ("identical" if d[plan]["identical"] else "DIFFERENT")
            )
            for plan in cfg["plans"]
        )
        print(
            f"{label}: {t['contacts']:,} contacts ({t['edges']:,} stay pairs in tracegraph's "
            f"edges); DuckDB vs tracegraph: {checks}"
        )
    if "cold_process_no_numba_cache" in tgr:
        c0, c1 = tgr["cold_process_no_numba_cache"], tgr["cold_process_numba_cache"]
        print(
            "cold start, fresh process, tiny city (import + first build + first F1): "
            f"no numba cache {fmt_s(c0['import_s'])} + {fmt_s(c0['build_s'])} + "
            f"{fmt_s(c0['f1_s'])} = {fmt_s(c0['total_s'])}; with numba cache "
            f"{fmt_s(c1['import_s'])} + {fmt_s(c1['build_s'])} + {fmt_s(c1['f1_s'])} = "
            f"{fmt_s(c1['total_s'])}"
        )
    print(
        f"kernel warm-up in this process (before any timing): {fmt_s(tgr['warmup_in_process_s'])}"
    )
    print(f"index size: {tgr['index']['nbytes_mib']} MiB")
    pk = r["peak_rss_mib"]
    print(
        "peak RSS: process "
        + f"{pk['process']:,.0f} MiB; by phase: "
        + ", ".join(f"{k} {v:,.0f} MiB" for k, v in pk["by_phase"].items())
    )


if __name__ == "__main__":
    raise SystemExit(main())
