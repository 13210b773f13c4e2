"""Peak memory of raw scans → stays → index, per scan, on a generated Parquet dataset.

Usage::

    python -m benchmarks.scan_memory --scans 100M      # the issue's acceptance run
    python -m benchmarks.scan_memory --scans 10M       # quicker
        [--days 14] [--seed 0] [--sparse-ids] [--cache DIR] [--json out.json]
        [--path lean|classic|both]                     # default: both

What it does
------------
1. Generates (once, cached in ``benchmarks/.cache/`` or ``$TRACEGRAPH_BENCH_CACHE``) a
   dataset of exactly ``--scans`` raw QR scans as one Parquet file per day in Hive
   folders, ``scans-.../day=2021-09-06/part-0.parquet``, with columns ``person`` and
   ``venue`` (``int64``), ``time`` (``timestamp[ms, Asia/Ho_Chi_Minh]``) and
   ``direction`` (``"in"``/``"out"``). Every stay has an entry scan at its start;
   about 30 % also an exit scan at its end; about 1 % of scans are sent twice (the
   same row again) and 1 % are repeated 5-90 s later (a second app). People make
   about three visits a day, one after the other; venues are visited with a
   Zipf-like popularity. The generator works one day at a time, so it never holds
   more than one day of scans.
2. Measures each path in its own *fresh* Python process (so nothing of the generator,
   or of the other path, is counted), one after the other: the process imports
   tracegraph and compiles the kernels on a tiny table (the baseline), then runs

   * ``lean``: ``tg.VenueIndex.from_scans`` (files → index, no tables in between), one stage;
   * ``classic``: ``read_scans`` → ``scans_to_stays`` → ``VenueIndex.from_stays`` the
     way a service would, dropping each stage's input once the next stage has its
     output.

   After each stage it records the resident set (``VmRSS``), the stage's peak
   (``VmHWM``, reset between stages through ``/proc/self/clear_refs`` where the kernel
   allows it) and the bytes Arrow holds (``pyarrow.total_allocated_bytes``), and the
   load average before and after (other work on the machine slows the run, it does
   not change the memory figures).
3. Prints, per path, the peak resident memory per scan: in total (what the issue asks
   about) and above the baseline (what the pipeline itself needs), and which stage set
   it; then both paths side by side.

``--sparse-ids`` scatters person and venue ids over the int64 range (like phone or
card numbers), so ids are hashed instead of bitmap-encoded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

GENERATOR_VERSION = 2
#: The dataset's description, beside its day files: a leading '_' keeps readers of the
#: folder from taking it for data (a folder's other files are an error).
META = "_meta.json"
ZONE = "Asia/Ho_Chi_Minh"
FIRST_DAY = dt.date(2021, 9, 6)
EXIT_SHARE = 0.30
DUPLICATE_SHARE = 0.01  # the same row sent twice
REPEAT_SHARE = 0.01  # the same scan again 5-90 s later (a second app, a double tap)
VISITS_PER_DAY = 3.0
PEOPLE_PER_VENUE = 30
_SCANS_PER_STAY = 1 + EXIT_SHARE + DUPLICATE_SHARE + REPEAT_SHARE


def parse_count(text: str) -> int:
    """``"100M"`` → 100_000_000, ``"20k"`` → 20_000, ``"1_000"`` → 1000."""
    match = re.fullmatch(r"\s*([0-9_]*\.?[0-9]+)\s*([kKmMgG]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a count such as 20k, 10M or 100M, got {text!r}")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[match.group(2).lower()]
    value = round(float(match.group(1).replace("_", "")) * scale)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least one scan, got {text!r}")
    return value


def cache_dir() -> Path:
    """The cache directory (``$TRACEGRAPH_BENCH_CACHE`` or ``benchmarks/.cache``)."""
    env = os.environ.get("TRACEGRAPH_BENCH_CACHE")
    return Path(env) if env else Path(__file__).resolve().parent / ".cache"


# --------------------------------------------------------------------------- generating


def dataset(
    n_scans: int,
    *,
    days: int = 14,
    seed: int = 0,
    sparse_ids: bool = False,
    root: Path | None = None,
) -> Path:
    """The folder of the generated dataset, generating it on first use."""
    root = cache_dir() if root is None else root
    ids = "sparse" if sparse_ids else "dense"
    folder = root / f"scans-n{n_scans}-d{days}-seed{seed}-{ids}-v{GENERATOR_VERSION}"
    if (folder / META).exists():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    _generate(tmp, n_scans, days=days, seed=seed, sparse_ids=sparse_ids)
    meta = {
        "scans": n_scans,
        "days": days,
        "seed": seed,
        "ids": ids,
        "generator_version": GENERATOR_VERSION,
        "generate_s": round(time.perf_counter() - t0, 1),
        "bytes_on_disk": sum(p.stat().st_size for p in tmp.rglob("*.parquet")),
    }
    (tmp / META).write_text(json.dumps(meta, indent=2))
    try:
        tmp.rename(folder)
    except OSError:  # another process won the race: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _generate(folder: Path, n_scans: int, *, days: int, seed: int, sparse_ids: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    per_day = [n_scans // days + (1 if d < n_scans % days else 0) for d in range(days)]
    stays_per_day = max(1, round(n_scans / days / _SCANS_PER_STAY))
    people = max(1, round(stays_per_day / VISITS_PER_DAY))
    venues = max(1, people // PEOPLE_PER_VENUE)
    # Zipf-like venue popularity (a few busy markets, many quiet shops)
    popularity = np.cumsum(1.0 / np.arange(1, venues + 1) ** 0.8)
    popularity /= popularity[-1]
    venue_label = rng.permutation(venues)
    person_id, venue_id = _id_maps(people, venues, sparse_ids)
    schema = pa.schema(
        [
            ("person", pa.int64()),
            ("venue", pa.int64()),
            ("time", pa.timestamp("ms", tz=ZONE)),
            ("direction", pa.string()),
        ]
    )
    for d, n_day in enumerate(per_day):
        if n_day == 0:
            continue
        day = FIRST_DAY + dt.timedelta(days=d)
        # local midnight in Hanoi (UTC+7, no DST)
        midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
        midnight -= 7 * 3600
        person, venue, t, direction = _one_day(
            rng, n_day, people, popularity, venue_label, midnight
        )
        order = np.argsort(t, kind="stable")  # a server log: in time order
        table = pa.table(
            {
                "person": person_id[person[order]],
                "venue": venue_id[venue[order]],
                "time": pa.array(t[order] * 1000, pa.timestamp("ms", tz=ZONE)),
                "direction": pa.DictionaryArray.from_arrays(
                    pa.array(direction[order], pa.int8()), pa.array(["in", "out"])
                ).cast(pa.string()),
            },
            schema=schema,
        )
        del person, venue, t, direction, order
        out = folder / f"day={day.isoformat()}"
        out.mkdir(parents=True)
        pq.write_table(table, out / "part-0.parquet", row_group_size=1 << 20)
        del table


def _id_maps(people: int, venues: int, sparse: bool) -> tuple[np.ndarray, np.ndarray]:
    if not sparse:
        return np.arange(people, dtype=np.int64), np.arange(venues, dtype=np.int64)
    rng = np.random.default_rng(12345)
    # distinct 11-digit numbers, like phone numbers; venue ids like registry codes
    persons = 84_000_000_000 + rng.choice(10**10, size=people, replace=False)
    places = 10**15 + rng.choice(10**12, size=venues, replace=False)
    return persons.astype(np.int64), places.astype(np.int64)


def _one_day(
    rng: np.random.Generator,
    n_day: int,
    people: int,
    popularity: np.ndarray,
    venue_label: np.ndarray,
    midnight: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exactly ``n_day`` scans of one day: (person code, venue code, seconds, direction)."""
    n_stays = max(1, round(n_day / _SCANS_PER_STAY))
    n_exits = min(round(n_stays * EXIT_SHARE), n_day - n_stays)
    n_extra = n_day - n_stays - n_exits
    n_stays = min(n_stays, n_day)
    person = np.sort(rng.integers(0, people, n_stays)).astype(np.int32)
    venue = venue_label[np.searchsorted(popularity, rng.random(n_stays))].astype(np.int32)
    # a person's stays follow one another from a random first arrival (06:00-10:00)
    dwell = np.minimum(300 + rng.exponential(40 * 60, n_stays), 4 * 3600).astype(np.int64)
    gap = rng.exponential(90 * 60, n_stays).astype(np.int64)
    step = dwell + gap
    elapsed = np.cumsum(step) - step
    first = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    group_start = np.repeat(elapsed[first], np.diff(np.r_[first, n_stays]))
    arrival = midnight + 6 * 3600 + rng.integers(0, 4 * 3600, people)
    start = arrival[person] + elapsed - group_start
    del elapsed, group_start, gap, step
    exits = rng.choice(n_stays, size=n_exits, replace=False) if n_exits else np.empty(0, np.int64)
    person = np.concatenate([person, person[exits]])
    venue = np.concatenate([venue, venue[exits]])
    t = np.concatenate([start, start[exits] + dwell[exits]])
    direction = np.concatenate([np.zeros(n_stays, np.int8), np.ones(exits.size, np.int8)])
    if n_extra:
        again = rng.integers(0, t.size, n_extra)
        later = np.where(
            rng.random(n_extra) < REPEAT_SHARE / (REPEAT_SHARE + DUPLICATE_SHARE),
            rng.integers(5, 91, n_extra),
            0,
        )
        person = np.concatenate([person, person[again]])
        venue = np.concatenate([venue, venue[again]])
        t = np.concatenate([t, t[again] + later])
        direction = np.concatenate([direction, direction[again]])
    return person, venue, t, direction


# --------------------------------------------------------------------------- measuring


def _status(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` in bytes (0 where there is none)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _peak() -> int:
    peak = _status("VmHWM")
    if peak:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current resident set (Linux); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


PATHS = ("lean", "classic")


def measure(folder: Path, path: str = "lean") -> dict[str, Any]:
    """Run one path of the pipeline on ``folder`` in this process; the figures as a dict."""
    if path not in PATHS:
        raise ValueError(f"`path`: expected one of {PATHS}, got {path!r}")
    t0 = time.perf_counter()
    import pyarrow as pa
    import pyarrow.parquet as pq

    import tracegraph as tg

    rss_import = _status("VmRSS")
    t_import = time.perf_counter() - t0
    load_before = os.getloadavg()
    meta = json.loads((folder / META).read_text())
    files = sorted(folder.rglob("*.parquet"))
    n_scans = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    schema = tg.ScanSchema(person="person", venue="venue", time="time", direction="direction")
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    # compile (or load from numba's cache) every kernel the path uses
    t0 = time.perf_counter()
    tiny = pa.Table.from_batches([next(pq.ParquetFile(files[0]).iter_batches(batch_size=1000))])
    if path == "lean":
        tg.VenueIndex.from_scans(tiny, schema=schema, now=now)
    else:
        warm = tg.scans_to_stays(tg.read_scans(tiny, schema=schema, now=now))
        tg.VenueIndex.from_stays(warm.stays)
        del warm
    del tiny
    gc.collect()
    t_warm = time.perf_counter() - t0
    baseline = _status("VmRSS")
    resets = _reset_peak()
    stages: list[dict[str, Any]] = []

    def record(name: str, seconds: float, **extra: Any) -> None:
        gc.collect()
        stages.append(
            {
                "stage": name,
                "seconds": round(seconds, 2),
                "peak_rss": _peak(),
                "rss_after": _status("VmRSS"),
                "arrow_after": pa.total_allocated_bytes(),
                **extra,
            }
        )
        _reset_peak()

    if path == "lean":
        t0 = time.perf_counter()
        index, result = tg.VenueIndex.from_scans(folder, schema=schema, now=now)
        r = result.scans
        record(
            "index_from_scans",
            time.perf_counter() - t0,
            rows=r.read,
            accepted=r.accepted,
            duplicates=r.duplicates,
            rejected=r.rejected,
            stays=result.stays.stays,
            repeats=result.stays.repeats,
            index_bytes=index.nbytes,
        )
        n_stays = result.stays.stays
    else:
        t0 = time.perf_counter()
        scans = tg.read_scans(folder, schema=schema, now=now)
        r = scans.report
        record(
            "read_scans",
            time.perf_counter() - t0,
            rows=r.read,
            accepted=r.accepted,
            duplicates=r.duplicates,
            rejected=r.rejected,
            table_bytes=scans.table.nbytes,
        )
        t0 = time.perf_counter()
        stays = tg.scans_to_stays(scans)
        seconds = time.perf_counter() - t0
        del scans
        record(
            "scans_to_stays",
            seconds,
            stays=stays.report.stays,
            repeats=stays.report.repeats,
            table_bytes=stays.stays.nbytes,
        )
        n_stays = stays.report.stays
        t0 = time.perf_counter()
        index = tg.VenueIndex.from_stays(stays.stays)
        seconds = time.perf_counter() - t0
        del stays
        record("from_stays", seconds, index_bytes=index.nbytes)
    peak = max(s["peak_rss"] for s in stages)
    return {
        "path": path,
        "scans": n_scans,
        "stays": n_stays,
        "dataset": meta,
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
        "numpy": np.__version__,
        "arrow_pool": pa.default_memory_pool().backend_name,
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "import_s": round(t_import, 2),
        "warmup_s": round(t_warm, 2),
        "rss_after_import": rss_import,
        "baseline_rss": baseline,
        "peak_per_stage": resets,
        "stages": stages,
        "seconds": round(sum(s["seconds"] for s in stages), 2),
        "peak_rss": peak,
        "bytes_per_scan": peak / n_scans,
        "bytes_per_scan_above_baseline": (peak - baseline) / n_scans,
        "index_bytes_per_stay": index.nbytes / max(n_stays, 1),
    }


def _measure_in_fresh_process(folder: Path, path: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.scan_memory", "--measure", str(folder), "--path", path]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measuring process failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(result: dict[str, Any]) -> str:
    """The figures of one path as a short text table."""
    mb = 1 << 20
    n = result["scans"]
    lines = [
        f"[{result['path']}] {n:,} scans -> {result['stays']:,} stays  (python "
        f"{result['python']}, pyarrow {result['pyarrow']}, numpy {result['numpy']}, arrow pool "
        f"{result['arrow_pool']})",
        f"load average before/after: {result['load_before'][0]:.2f} / "
        f"{result['load_after'][0]:.2f} on {result['cpus']} CPUs",
        f"baseline after import + warm-up: {result['baseline_rss'] / mb:,.0f} MiB "
        f"(import {result['rss_after_import'] / mb:,.0f} MiB in {result['import_s']} s, "
        f"warm-up {result['warmup_s']} s)",
        "",
        f"{'stage':<18}{'time s':>8}{'peak MiB':>10}{'B/scan':>8}{'after MiB':>11}"
        f"{'arrow MiB':>11}",
    ]
    for s in result["stages"]:
        lines.append(
            f"{s['stage']:<18}{s['seconds']:>8.1f}{s['peak_rss'] / mb:>10,.0f}"
            f"{s['peak_rss'] / n:>8.1f}{s['rss_after'] / mb:>11,.0f}{s['arrow_after'] / mb:>11,.0f}"
        )
    worst = max(result["stages"], key=lambda s: s["peak_rss"])
    lines += [
        "",
        f"peak resident memory: {result['peak_rss'] / mb:,.0f} MiB = "
        f"{result['bytes_per_scan']:.1f} bytes/scan ({result['bytes_per_scan_above_baseline']:.1f}"
        f" above the baseline), in {worst['stage']}",
        f"index: {result['index_bytes_per_stay']:.1f} bytes/stay "
        f"({result['index_bytes_per_stay'] * result['stays'] / n:.1f} bytes/scan)",
    ]
    if not result["peak_per_stage"]:
        lines.append("(VmHWM could not be reset: every stage shows the peak so far)")
    return "\n".join(lines)


def compare(results: list[dict[str, Any]]) -> str:
    """The paths side by side: peak resident memory per scan, time."""
    mb = 1 << 20
    lines = [
        f"{'path':<9}{'peak MiB':>10}{'B/scan':>8}{'above base':>12}{'base MiB':>10}"
        f"{'time s':>8}{'load':>7}"
    ]
    for r in results:
        lines.append(
            f"{r['path']:<9}{r['peak_rss'] / mb:>10,.0f}{r['bytes_per_scan']:>8.1f}"
            f"{r['bytes_per_scan_above_baseline']:>12.1f}{r['baseline_rss'] / mb:>10,.0f}"
            f"{r['seconds']:>8.1f}{max(r['load_before'][0], r['load_after'][0]):>7.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=parse_count, default=parse_count("10M"))
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sparse-ids", action="store_true")
    parser.add_argument("--cache", type=Path, default=None, help="dataset cache directory")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--path", choices=[*PATHS, "both"], default="both", help="which pipeline to measure"
    )
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure is not None:  # the fresh process
        print(json.dumps(measure(args.measure, "lean" if args.path == "both" else args.path)))
        return 0
    t0 = time.perf_counter()
    folder = dataset(
        args.scans, days=args.days, seed=args.seed, sparse_ids=args.sparse_ids, root=args.cache
    )
    print(f"dataset: {folder} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    results = []
    for path in PATHS if args.path == "both" else (args.path,):
        results.append(_measure_in_fresh_process(folder, path))
        print(report(results[-1]), end="\n\n", flush=True)
    print(compare(results))
    if args.json is not None:
        args.json.write_text(json.dumps({r["path"]: r for r in results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
