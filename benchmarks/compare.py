"""tracegraph vs DuckDB and Polars on the same Parquet file: build, F1, F1 -> F3, pairs.

Usage::

    python -m benchmarks.compare --size M                 # the acceptance run
    python -m benchmarks.compare --size S --cases 1,100 --peers duckdb --timeout 60
    python -m benchmarks.compare --size XS --cases 1,10 --json out.json
    python -m benchmarks.compare --stays my_stays.parquet --cases 1,100 --peers duckdb

Options: ``--cases`` (comma-separated case counts, default ``1,100,1000,10000``),
``--peers`` (``duckdb,polars``; ``none`` for tracegraph alone), ``--timeout`` (seconds
per peer query; a peer over it is killed and reported as ``> N s``), ``--repeat``
(runs per timing, the best is kept; a run over ``--repeat-under`` seconds is not
repeated), ``--min-overlap``/``--linger`` (the rule of every trace),
``--pairs-min-overlap`` (the co-present pair counts to time), ``--threads`` (DuckDB and
Polars threads, default 2), ``--peer-memory`` (GiB; a peer above it is killed),
``--skip-cold``, ``--skip-pairs``, ``--skip-f1``, ``--skip-f3``, ``--json FILE``.
``--stays PATH`` compares the engines on a Parquet file (or folder of files) of your
own stays instead of a generated city: columns ``person``, ``venue``, ``start``, ``end``
(time-zone-aware timestamps in whole seconds: tracegraph floors times to seconds, the
peers take them as they are), as :meth:`tracegraph.VenueIndex.from_stays` takes them
(``python -m benchmarks.realdata`` writes such files from the real check-ins of
``../shared/data/real``). Person ids of such data are never printed: a difference
between engines is reported by counts only.

What is timed (after a warm-up that compiles or loads every kernel; its time is
reported as the first call)
----------------------------------------------------------------------------------
build
    tracegraph: ``VenueIndex.from_stays(path)`` (the file read batch by batch straight
    into the index); DuckDB: ``CREATE TABLE
    stays AS SELECT * FROM read_parquet(...)``; Polars: ``pl.read_parquet``.
F1, N cases
    tracegraph: ``tg.trace(index, cases, tiers=1)`` -> ``.contacts``; DuckDB: one
    self-join (the better of its default plan and ``SET prefer_range_joins=true``);
    Polars: equi-join on venue, filter, group by person. Same random cases for all.
F1 -> F3, N cases
    ``tiers=3``: the time-respecting rule (latency 0, infectious for ever: a tier-k
    person infects from their ``exposed_at`` on); the peers chain one self-join per
    tier, excluding everybody already reached (see :mod:`benchmarks._peers`).
co-present pairs
    ``tg.copresent_pairs(index, min_overlap=m)`` vs a DuckDB self-join count of the
    stay pairs by different people at one venue overlapping by > 0 and >= m.
cold start
    A fresh ``python`` process: import tracegraph, ``VenueIndex.open`` the index saved
    from this build, F1 of one case; run once untimed first (numba's cache and the
    OS page cache warm), then timed. Wall time of the whole process, and its parts.

Every answer of a peer is checked against tracegraph's: contact sets (person, tier,
exposed_at) identical, pair counts equal; any difference makes the exit status 1.
Peers run in worker processes on the same Parquet file (so a slow query can be
stopped); tracegraph runs in this process. The report lists times, ratios (peer time
/ tracegraph time: how many times faster tracegraph is), the index's bytes per stay,
peak memory, machine and versions.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq

import tracegraph as tg
from benchmarks import cities
from benchmarks._peers import PLANS
from tracegraph._time import duration_seconds

PEERS = ("duckdb", "polars")
DEFAULT_CASES = "1,100,1000,10000"
PAIR_FORMS = ("rowid", "ordered")


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


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": round(ram / 2**30, 1),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def versions() -> dict[str, str]:
    out = {
        "python": platform.python_version(),
        "tracegraph": tg.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pyarrow": pa.__version__,
    }
    commit = git_commit()
    if commit:
        out["tracegraph commit"] = commit
    return out


def git_commit() -> str | None:
    """The checkout's commit (with ``+`` if files differ from it), or None outside git."""
    root = Path(tg.__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+" if dirty else "") if head else None


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
    return f"{r:.2f}x" if r < 10 else (f"{r:.1f}x" if r < 100 else f"{r:,.0f}x")


# --------------------------------------------------------------------------- peers


class PeerFailed(Exception):
    """A peer request that timed out, ran out of memory or failed."""

    def __init__(self, kind: str, detail: str, limit: float | None = None) -> None:
        super().__init__(detail)
        self.kind = kind  # "timeout", "memory", "error"
        self.detail = detail
        self.limit = limit


class Peer:
    """A peer's worker process (:mod:`benchmarks._peers`), restarted after a kill."""

    def __init__(
        self,
        name: str,
        source: str,
        *,
        threads: int,
        memory_gib: float,
        workdir: Path,
        private: bool = False,
    ) -> None:
        self.name = name
        # real people's data (--stays): a peer's error text may quote a value, so
        # only its kind is reported
        self.private = private
        self.source = source
        self.threads = threads
        self.memory_bytes = int(memory_gib * 2**30)
        self.workdir = workdir
        self.proc: subprocess.Popen[str] | None = None
        self.version = ""
        self.peak_rss = 0
        self.built = False
        self._buf = ""

    def _start(self) -> None:
        env = dict(os.environ, POLARS_MAX_THREADS=str(self.threads))
        self._close_stderr()  # a restarted worker's
        self._stderr = open(self.workdir / f"{self.name}.stderr", "a")  # noqa: SIM115
        cmd = [
            sys.executable, "-m", "benchmarks._peers", self.name, self.source,
            "--threads", str(self.threads),
            # DuckDB spills to disk below the budget instead of being killed at it
            "--memory-mib", str(int(self.memory_bytes * 0.75) >> 20),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
            start_new_session=True,
        )
        self._buf = ""
        self.built = False
        hello = self._read(120.0)
        self.version = str(hello.get("version", ""))

    def _rss(self) -> int:
        assert self.proc is not None
        try:
            with open(f"/proc/{self.proc.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0

    def _read(self, timeout: float) -> dict[str, Any]:
        """The next ``@@`` answer, watching the time and the worker's memory."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.perf_counter() + timeout
        fd = self.proc.stdout.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        try:
            while True:
                while "\n" in self._buf:
                    line, self._buf = self._buf.split("\n", 1)
                    if line.startswith("@@ "):
                        answer: dict[str, Any] = json.loads(line[3:])
                        return answer
                left = deadline - time.perf_counter()
                if left <= 0:
                    self.kill()
                    raise PeerFailed("timeout", f"> {timeout:g} s", timeout)
                rss = self._rss()
                self.peak_rss = max(self.peak_rss, rss)
                if rss > self.memory_bytes:
                    self.kill()
                    gib = self.memory_bytes / 2**30
                    raise PeerFailed("memory", f"> {gib:g} GiB RSS", gib)
                if sel.select(min(left, 0.05)):
                    chunk = os.read(fd, 1 << 16).decode()
                    if not chunk:
                        code = self.proc.wait()
                        self.proc = None
                        tail = (self.workdir / f"{self.name}.stderr").read_text()[-600:]
                        if self.private:
                            tail = "(its output withheld: it may quote the data)"
                        raise PeerFailed("error", f"worker exited ({code}): {tail.strip()}")
                    self._buf += chunk
        finally:
            sel.close()

    def request(self, req: dict[str, Any], timeout: float) -> dict[str, Any]:
        if self.proc is None:
            self._start()
        if req["op"] != "build" and not self.built:
            self.request({"op": "build"}, timeout=max(timeout, 600.0))
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        answer = self._read(timeout)
        if not answer.get("ok"):
            error = str(answer.get("error"))
            if self.private:  # "Kind: message" -> "Kind"
                error = error.split(":", 1)[0] + " (message withheld: it may quote the data)"
            raise PeerFailed("error", error)
        if req["op"] == "build":
            self.built = True
        return answer

    def kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self._close_pipes()
            self.proc = None
        self.built = False

    def close(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
            if self.proc is not None:
                self._close_pipes()
            self.proc = None
        self._close_stderr()

    def _close_pipes(self) -> None:
        assert self.proc is not None
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()

    def _close_stderr(self) -> None:
        handle = getattr(self, "_stderr", None)
        if handle is not None and not handle.closed:
            handle.close()


def peer_runs(
    peer: Peer,
    req: dict[str, Any],
    *,
    repeat: int,
    repeat_under: float,
    timeout: float,
    between: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run ``req`` up to ``repeat`` times; the entry holds times, or how it failed.

    ``between``, if given, is called after each run that answered (``--interleave``).
    """
    times: list[float] = []
    entry: dict[str, Any] = {}
    for i in range(repeat):
        try:
            answer = peer.request(req, timeout)
        except PeerFailed as exc:
            if not times:
                entry.update(failed=exc.kind, detail=exc.detail, limit=exc.limit)
            break
        times.append(float(answer["seconds"]))
        if between is not None:
            between()
        if i == 0:
            entry.update({k: v for k, v in answer.items() if k not in ("ok", "seconds")})
        if answer["seconds"] > repeat_under:
            break
    if times:
        entry.update(runs_s=times, first_s=times[0], best_s=min(times))
    return entry


# --------------------------------------------------------------------------- checks


def _micros(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    typ = pa.timestamp("us", tz="UTC")
    return np.asarray(column.cast(typ).cast(pa.int64()).to_numpy(), dtype=np.int64)


def compare_contacts(
    expected: pa.Table, got: pa.Table, label: str, *, show_ids: bool = True
) -> list[str]:
    """Differences between two (person, tier, exposed_at) tables; empty when identical.

    ``show_ids``: name a few of the persons concerned (generated data only: the ids
    of real people are never printed).
    """
    a = expected.sort_by([("person", "ascending")])
    b = got.select(["person", "tier", "exposed_at"]).sort_by([("person", "ascending")])
    if b["exposed_at"].null_count:
        return [f"{label}: {b['exposed_at'].null_count} null exposed_at"]
    pa_, pb = a["person"].to_numpy(), b["person"].to_numpy()
    if pa_.shape != pb.shape or not np.array_equal(pa_, pb):
        only_a = np.setdiff1d(pa_, pb)
        only_b = np.setdiff1d(pb, pa_)
        eg_a = f" (e.g. {only_a[:5].tolist()})" if show_ids else ""
        eg_b = f" (e.g. {only_b[:5].tolist()})" if show_ids else ""
        return [
            f"{label}: contact sets differ: {a.num_rows} persons from tracegraph, "
            f"{b.num_rows} from the peer; {only_a.size} only in tracegraph{eg_a}, "
            f"{only_b.size} only in the peer{eg_b}"
        ]
    problems = []
    ta = np.asarray(a["tier"].to_numpy(), dtype=np.int64)
    tb = np.asarray(b["tier"].to_numpy(), dtype=np.int64)
    if not np.array_equal(ta, tb):
        i = int(np.flatnonzero(ta != tb)[0])
        who = f"person {pa_[i]}" if show_ids else f"row {i} by person"
        problems.append(
            f"{label}: tier differs for {int((ta != tb).sum())} persons (e.g. {who}: "
            f"tracegraph {ta[i]}, peer {tb[i]})"
        )
    xa, xb = _micros(a["exposed_at"]), _micros(b["exposed_at"])
    diff = np.flatnonzero(xa != xb)
    if diff.size:
        i = int(diff[0])
        who = f"person {pa_[i]}" if show_ids else f"row {i} by person"
        problems.append(
            f"{label}: exposed_at differs for {diff.size} of {a.num_rows} persons "
            f"(e.g. {who}: tracegraph {xa[i]} us, peer {xb[i]} us)"
        )
    return problems


# --------------------------------------------------------------------------- tracegraph


def tracegraph_build(path: Path) -> tuple[dict[str, float], tg.VenueIndex]:
    t0 = time.perf_counter()
    index = tg.VenueIndex.from_stays(path)  # read batch by batch, straight into the index
    return {"total_s": time.perf_counter() - t0}, index


def tracegraph_trace(
    index: tg.VenueIndex,
    cases: list[Any],
    tiers: int,
    m: int,
    linger: int,
    repeat: int,
    repeat_under: float,
) -> tuple[list[float], pa.Table]:
    times = []
    contacts = None
    for _ in range(repeat):
        contacts = None
        gc.collect()
        dt, contacts = timed(
            lambda: tg.trace(index, cases, tiers=tiers, min_overlap=m, linger=linger).contacts
        )
        times.append(dt)
        if dt > repeat_under:
            break
    assert contacts is not None
    found = contacts.filter(pc.greater(contacts["tier"], 0))
    return times, found.select(["person", "tier", "exposed_at"])


_COLD_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    case = json.loads(sys.stdin.read())  # not on the command line: ids stay private
    t0 = time.perf_counter()
    import tracegraph as tg
    t1 = time.perf_counter()
    index = tg.VenueIndex.open(sys.argv[1], verify=sys.argv[2] == "1")
    t2 = time.perf_counter()
    n = tg.trace(index, [case], tiers=1).contacts.num_rows
    t3 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1, "f1_s": t3 - t2, "contacts": n}))
    """
)


def cold_start(saved: Path, case: Any, *, verify: bool, repeat: int) -> dict[str, Any]:
    """Fresh processes: import + open + F1 of one case; one untimed run first."""
    runs = []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _COLD_SCRIPT, str(saved), str(int(verify))],
            input=json.dumps(case),
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        parts = json.loads(out.stdout.strip().splitlines()[-1])
        if i:
            runs.append({"wall_s": wall, **parts})
    best = min(runs, key=lambda r: r["wall_s"])
    return {"runs": runs, "best": best, "best_s": best["wall_s"], "first_s": runs[0]["wall_s"]}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description="tracegraph vs DuckDB and Polars on the same Parquet file.",
    )
    p.add_argument("--size", default="M", help=f"city size: {list(cities.SIZES)} (default M)")
    p.add_argument(
        "--stays",
        type=Path,
        default=None,
        help="a Parquet file or folder of your own stays (person, venue, start, end) to "
        "compare on instead of a generated city (--size and --seed's city are then unused)",
    )
    p.add_argument("--cases", default=DEFAULT_CASES, help=f"case counts (default {DEFAULT_CASES})")
    p.add_argument("--peers", default=",".join(PEERS), help="duckdb,polars (or none)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per peer query")
    p.add_argument("--repeat", type=int, default=3, help="runs per timing (best is kept)")
    p.add_argument(
        "--repeat-under",
        type=float,
        default=10.0,
        help="runs slower than this (seconds) are not repeated",
    )
    p.add_argument("--threads", type=int, default=2, help="DuckDB and Polars threads")
    p.add_argument("--peer-memory", type=float, default=10.0, help="GiB per peer before a kill")
    p.add_argument("--seed", type=int, default=0, help="seed of the city and of the cases")
    p.add_argument("--min-overlap", default="0", help="min_overlap of every trace (e.g. 15min)")
    p.add_argument("--linger", default="0", help="linger of every trace")
    p.add_argument("--tiers", type=int, default=3, help="tiers of the F1 -> Fk rows (default 3)")
    p.add_argument(
        "--pairs-min-overlap", default="0,15min", help="min_overlap values of the pair counts"
    )
    p.add_argument("--pair-form", choices=PAIR_FORMS, default="rowid", help="DuckDB pair SQL")
    p.add_argument("--plans", default=",".join(PLANS), help=f"DuckDB plans: {list(PLANS)}")
    p.add_argument(
        "--interleave",
        action="store_true",
        help="also time tracegraph's traces once after each run of the first peer's first plan "
        "(both engines then sample the same moments of a machine whose speed drifts); "
        "tracegraph's best of those is reported, its back-to-back runs are kept in the JSON",
    )
    p.add_argument("--skip-cold", action="store_true", help="skip the cold-start processes")
    p.add_argument("--skip-pairs", action="store_true", help="skip the co-present pair counts")
    p.add_argument("--skip-f1", action="store_true", help="skip the F1 rows")
    p.add_argument("--skip-f3", action="store_true", help="skip the F1 -> F3 rows")
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    # compare_duckdb's name for --timeout
    p.add_argument("--duckdb-timeout", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.stays is not None:
        args.city = None
        if not args.stays.exists():
            p.error(f"--stays: expected a Parquet file or folder of stays, {args.stays} not found")
    else:
        try:
            args.city = cities._size(args.size)
        except ValueError as exc:
            p.error(str(exc))
    if args.duckdb_timeout is not None:
        args.timeout = args.duckdb_timeout
    try:
        args.case_counts = sorted({int(x) for x in args.cases.split(",") if x.strip()})
    except ValueError:
        p.error(f"--cases: expected comma-separated integers, got {args.cases!r}")
    if not args.case_counts or min(args.case_counts) < 1:
        p.error("--cases: expected counts >= 1")
    names = [x.strip().lower() for x in args.peers.split(",") if x.strip()]
    args.peer_names = [] if names == ["none"] else names
    unknown = [x for x in args.peer_names if x not in PEERS]
    if unknown:
        p.error(f"--peers: expected some of {list(PEERS)} or 'none', got {unknown}")
    args.plan_names = [x.strip() for x in args.plans.split(",") if x.strip()]
    bad = [x for x in args.plan_names if x not in PLANS]
    if bad or not args.plan_names:
        p.error(f"--plans: expected some of {list(PLANS)}, got {bad or 'none'}")
    if args.repeat < 1 or args.threads < 1 or args.tiers < 2:
        p.error("--repeat and --threads must be >= 1, --tiers >= 2")
    args.m = parse_duration(args.min_overlap, "--min-overlap")
    args.linger_s = parse_duration(args.linger, "--linger")
    args.pair_ms = [
        (x.strip(), parse_duration(x, "--pairs-min-overlap"))
        for x in args.pairs_min_overlap.split(",")
        if x.strip()
    ]
    return args


def _stays_label(path: Path) -> str:
    """``stays:<folder>/<name>`` of a ``--stays`` path, for the report."""
    path = path.resolve()
    return f"stays:{path.parent.name}/{path.name}"


def stays_files(path: Path) -> list[Path]:
    """The Parquet files of ``--stays``: the file, or a folder's ``*.parquet`` files.

    Every engine must read the same rows: the peers read ``folder/*.parquet``, so a
    folder holding anything tracegraph would also read (subfolders of files, Arrow
    IPC files) is refused.
    """
    from tracegraph.ingest import data_files

    if path.is_file():
        return [path]
    top = sorted(p for p in path.glob("*.parquet") if not p.name.startswith((".", "_")))
    try:
        found = data_files(path, "stays")
    except tg.ScanFileError:
        found = []
    if not top or found != top:
        raise SystemExit(
            f"--stays: expected a Parquet file or a folder of *.parquet files (no subfolders "
            f"of data, no other data files), got {path}"
        )
    return top


def stays_info(files: list[Path]) -> dict[str, Any]:
    """Stays, people and days (from the first start to the last end) of stays files.

    Never prints an id: a file that does not fit the others is reported by name.
    """
    tables = []
    for f in files:
        names = pq.read_schema(f).names
        missing = [c for c in ("person", "venue", "start", "end") if c not in names]
        if missing:
            raise SystemExit(
                f"--stays: expected columns person, venue, start and end in {f}, "
                f"{missing} missing (found {names})"
            )
        table = pq.read_table(f, columns=["person", "start", "end"])
        # epoch seconds (whole): units and zones of each file as they are
        tables.append(
            pa.table(
                {
                    "person": table["person"],
                    "start": _epoch_seconds(table["start"], f),
                    "end": _epoch_seconds(table["end"], f),
                }
            )
        )
    table = _concat_ids(tables)
    days = 0.0
    if table.num_rows:
        span = pc.max(table["end"]).as_py() - pc.min(table["start"]).as_py()
        days = round(span / 86_400, 1)
    return {
        "stays": table.num_rows,
        "people": len(pc.unique(table["person"])),
        "days": days,
    }


def _epoch_seconds(column: pa.ChunkedArray, path: Path) -> pa.ChunkedArray:
    """A timestamp column as int64 epoch seconds (truncated), whatever its unit and zone."""
    if not pa.types.is_timestamp(column.type):
        raise SystemExit(f"--stays: expected timestamps in {path}, got {column.type}")
    per_s = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[column.type.unit]
    return pc.divide(column.cast(pa.int64()), per_s)  # whole seconds (days to 0.1)


def _concat_ids(tables: list[pa.Table]) -> pa.Table:
    """The tables one after the other, integer ids widened; never quoting an id."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise SystemExit(  # the error's text may quote an id: not shown
            "--stays: the files' person ids are not of one kind (integers in some, text "
            "in others); write them all with the same type"
        ) from None


def pick_cases(files: list[Path], counts: list[int], seed: int) -> dict[int, pa.Array]:
    """Random distinct persons of the stays ``files`` for each count (independent draws), sorted."""
    tables = [pq.read_table(f, columns=["person"]) for f in files]
    persons = pc.unique(_concat_ids(tables)["person"])
    persons = persons.take(pc.array_sort_indices(persons))
    out = {}
    for n in counts:
        if n > len(persons):
            raise SystemExit(f"--cases {n} > {len(persons)} persons in the city")
        rng = np.random.default_rng([seed, n])
        out[n] = persons.take(pa.array(np.sort(rng.choice(len(persons), size=n, replace=False))))
    return out


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: kill the peers' workers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    rss = RssSampler()
    report: dict[str, Any] = {
        "config": {
            "size": args.city.name if args.city is not None else _stays_label(args.stays),
            "cases": args.case_counts,
            "peers": args.peer_names,
            "repeat": args.repeat,
            "timeout_s": args.timeout,
            "threads": args.threads,
            "seed": args.seed,
            "min_overlap_s": args.m,
            "linger_s": args.linger_s,
            "tiers": args.tiers,
            "pairs_min_overlap_s": [m for _, m in args.pair_ms],
            "plans": args.plan_names,
            "pair_form": args.pair_form,
            "interleave": bool(args.interleave and args.peer_names),
        },
        "machine": machine_info(),
        "versions": versions(),
    }
    problems: list[str] = []
    notes: list[str] = []

    # ---- the city
    rss.set("generate")
    if args.city is None:  # the user's own stays
        path = args.stays.resolve()
        files = stays_files(path)
        meta = stays_info(files)
    else:
        path = cities.city_parquet(args.city, seed=args.seed)
        files = stays_files(path)
        meta = cities.city_info(args.city, seed=args.seed)
    source = cities.parquet_glob(path)
    size_b = sum(f.stat().st_size for f in files)
    report["city"] = {
        "path": str(path),
        "stays": meta["stays"],
        "people": meta["people"],
        "days": meta["days"],
        "parquet_mib": round(size_b / 2**20, 1),
    }
    cases = pick_cases(files, args.case_counts, args.seed)
    log(f"city {report['config']['size']}: {meta['stays']:,} stays, {meta['people']:,} people")
    workdir = Path(tempfile.mkdtemp(prefix="compare-", dir=cities.cache_dir()))
    try:
        rc = _run(args, report, problems, notes, rss, path, source, cases, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["peak_rss_mib"] = {
        "by_phase": rss.stop(),
        "process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    report["identical"] = not problems
    report["problems"] = problems
    report["notes"] = notes
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"\nwrote {args.json}")
    if problems:
        log("\nFAILED: the answers differ:")
        for p in problems:
            log("  " + p)
        return 1
    return rc


def _run(
    args: argparse.Namespace,
    report: dict[str, Any],
    problems: list[str],
    notes: list[str],
    rss: RssSampler,
    path: Path,
    source: str,
    cases: dict[int, pa.Array],
    workdir: Path,
) -> int:
    tiers_runs = ([] if args.skip_f1 else [("F1", 1)]) + (
        [] if args.skip_f3 else [(f"F1->F{args.tiers}", args.tiers)]
    )
    tgr: dict[str, Any] = {}
    report["tracegraph"] = tgr

    # ---- tracegraph: warm-up, build, traces, pairs, cold start
    rss.set("tracegraph")
    tgr["warmup_s"] = cities.warm_up()
    log(f"tracegraph warm-up (first call of every kernel): {fmt_s(tgr['warmup_s'])}")
    builds = []
    index = None
    rss.set("tracegraph build")
    for _ in range(args.repeat):
        index = None
        gc.collect()
        b, index = tracegraph_build(path)
        builds.append(b)
        if b["total_s"] > args.repeat_under:
            break
    assert index is not None
    best = min(builds, key=lambda b: b["total_s"])
    tgr["build"] = {
        "runs": builds,
        "first_s": builds[0]["total_s"],
        "best_s": best["total_s"],
    }
    tgr["index"] = {
        "nbytes": index.nbytes,
        "bytes_per_stay": round(index.nbytes / max(index.n_stays, 1), 2),
        "repr": repr(index),
    }
    log(f"tracegraph build: {fmt_s(best['total_s'])} best; {tgr['index']['bytes_per_stay']} B/stay")
    rss.set("tracegraph")

    expected: dict[tuple[str, int], pa.Table] = {}
    for label, tiers in tiers_runs:
        for n, ids in cases.items():
            times, found = tracegraph_trace(
                index, ids.to_pylist(), tiers, args.m, args.linger_s, args.repeat, args.repeat_under
            )
            expected[(label, n)] = found
            tgr[f"{label}/{n}"] = {
                "runs_s": times,
                "first_s": times[0],
                "best_s": min(times),
                "contacts": found.num_rows,
            }
            log(f"tracegraph {label} {n} cases: {fmt_s(min(times))}, {found.num_rows:,} contacts")
            pq.write_table(pa.table({"person": ids}), workdir / f"cases-{n}.parquet")

    copresent = getattr(tg, "copresent_pairs", None)
    tg_pairs: dict[int, int] = {}
    if args.skip_pairs:
        pass
    elif copresent is None:
        notes.append("co-present pairs: tg.copresent_pairs is not in tracegraph yet; row skipped")
        log(notes[-1])
    else:
        for text, m in args.pair_ms:
            times = []
            count = 0
            for _ in range(args.repeat):
                dt, got = timed(lambda m=m, ix=index: copresent(ix, min_overlap=m))
                times.append(dt)
                count = int(got)
                if dt > args.repeat_under:
                    break
            tg_pairs[m] = count
            tgr[f"pairs/{m}"] = {
                "runs_s": times,
                "first_s": times[0],
                "best_s": min(times),
                "count": count,
                "label": text,
            }
            log(f"tracegraph pairs min_overlap={text}: {fmt_s(min(times))}, {count:,}")

    if not args.skip_cold:
        saved = workdir / "city.tgidx"
        index.save(saved)
        case = cases[min(cases)][0].as_py()
        for verify in (True, False):
            key = "cold" if verify else "cold_noverify"
            tgr[key] = cold_start(saved, case, verify=verify, repeat=args.repeat)
            b = tgr[key]["best"]
            log(
                f"cold start (verify={verify}): {fmt_s(tgr[key]['best_s'])} wall; import "
                f"{fmt_s(b['import_s'])}, open {fmt_s(b['open_s'])}, F1 {fmt_s(b['f1_s'])}"
            )
        shutil.rmtree(saved, ignore_errors=True)
    if not (args.interleave and args.peer_names):
        del index  # (kept to be timed between the first peer's runs)
        gc.collect()

    # ---- peers, one worker process each, one after the other
    peers: dict[str, Any] = {}
    report["peers"] = peers
    for name in args.peer_names:
        rss.set(name)
        peer = Peer(
            name,
            source,
            threads=args.threads,
            memory_gib=args.peer_memory,
            workdir=workdir,
            private=args.city is None,
        )
        res: dict[str, Any] = {}
        peers[name] = res
        try:
            res["build"] = peer_runs(
                peer,
                {"op": "build"},
                repeat=args.repeat,
                repeat_under=args.repeat_under,
                timeout=max(args.timeout, 600.0),
            )
            report["versions"][name] = peer.version
            log(f"{name} build: {_status(res['build'])}")
            if "failed" in res["build"]:
                continue
            plans = args.plan_names if name == "duckdb" else ["-"]
            for label, tiers in tiers_runs:
                # F1: more cases only add work, so once n cases exceed the timeout, more are
                # skipped. Not so for F1 -> Fk: with more cases, F1 reaches almost everyone
                # and the later tiers' joins shrink, so every count is run.
                over: dict[str, int] = {}
                for n in cases:
                    per_plan: dict[str, Any] = {}
                    for plan in plans:
                        if plan in over:
                            detail = f"not run: {over[plan]} cases exceeded the limit"
                            per_plan[plan] = {
                                "failed": "timeout",
                                "limit": args.timeout,
                                "skipped": True,
                                "detail": detail,
                            }
                            log(f"{name} {label} {n} cases [{plan}]: {per_plan[plan]['detail']}")
                            continue
                        req = {
                            "op": "trace",
                            "cases": str(workdir / f"cases-{n}.parquet"),
                            "tiers": tiers,
                            "min_overlap": args.m,
                            "linger": args.linger_s,
                            "plan": plan if plan != "-" else "default",
                            "out": str(workdir / f"{name}-out.arrow"),
                        }
                        samples: list[float] = []
                        between = None
                        if args.interleave and name == args.peer_names[0] and plan == plans[0]:

                            def between(
                                ids: pa.Array = cases[n],
                                tiers: int = tiers,
                                samples: list[float] = samples,
                            ) -> None:
                                times, _ = tracegraph_trace(
                                    index, ids.to_pylist(), tiers, args.m, args.linger_s, 1, 0.0
                                )
                                samples.extend(times)

                        e = peer_runs(
                            peer,
                            req,
                            repeat=args.repeat,
                            repeat_under=args.repeat_under,
                            timeout=args.timeout,
                            between=between,
                        )
                        if samples:
                            t = tgr[f"{label}/{n}"]
                            t["back_to_back_s"] = t["runs_s"]
                            t.update(runs_s=samples, best_s=min(samples))
                            t["interleaved_with"] = f"{name} {plan}"
                            log(
                                f"tracegraph {label} {n} cases, between {name} [{plan}] runs: "
                                f"{fmt_s(min(samples))} (back to back: "
                                f"{fmt_s(min(t['back_to_back_s']))})"
                            )
                        if "best_s" in e:
                            got = feather.read_table(req["out"])
                            diffs = compare_contacts(
                                expected[(label, n)],
                                got,
                                f"{label} {n} cases, {name} {plan}",
                                show_ids=args.city is not None,
                            )
                            e["identical"] = not diffs
                            problems.extend(diffs)
                        per_plan[plan] = e
                        if e.get("failed") in ("timeout", "memory") and tiers == 1:
                            over[plan] = n
                        log(f"{name} {label} {n} cases [{plan}]: {_status(e)}")
                    res[f"{label}/{n}"] = _best_plan(per_plan)
            if name == "duckdb" and tg_pairs:
                # the join's work hardly depends on min_overlap: a plan over the limit
                # for one value is not run for the next
                over_pairs: dict[str, str] = {}
                for text, m in args.pair_ms:
                    per_plan = {}
                    for plan in args.plan_names:
                        if plan in over_pairs:
                            detail = f"not run: min_overlap {over_pairs[plan]} exceeded the limit"
                            per_plan[plan] = {
                                "failed": "timeout",
                                "limit": args.timeout,
                                "skipped": True,
                                "detail": detail,
                            }
                            log(f"duckdb pairs min_overlap={text} [{plan}]: {detail}")
                            continue
                        req = {
                            "op": "pairs",
                            "min_overlap": m,
                            "plan": plan,
                            "form": args.pair_form,
                        }
                        e = peer_runs(
                            peer,
                            req,
                            repeat=args.repeat,
                            repeat_under=args.repeat_under,
                            timeout=args.timeout,
                        )
                        if "count" in e:
                            e["identical"] = e["count"] == tg_pairs[m]
                            if not e["identical"]:
                                problems.append(
                                    f"pairs min_overlap={text}: tracegraph {tg_pairs[m]:,}, "
                                    f"duckdb {plan} {e['count']:,}"
                                )
                        per_plan[plan] = e
                        if e.get("failed") in ("timeout", "memory"):
                            over_pairs[plan] = text
                        log(f"duckdb pairs min_overlap={text} [{plan}]: {_status(e)}")
                    res[f"pairs/{m}"] = _best_plan(per_plan)
        except BaseException:
            peer.kill()
            raise
        finally:
            peer.close()
            res["peak_rss_mib"] = round(peer.peak_rss / 2**20, 1)
    return 0


def _status(e: dict[str, Any]) -> str:
    if "best_s" not in e:
        return f"{e.get('failed', 'failed')}: {e.get('detail', '')}"
    check = {True: ", identical", False: ", DIFFERENT"}.get(e.get("identical"), "")
    return f"{fmt_s(e['best_s'])} best of {len(e['runs_s'])}{check}"


def _best_plan(per_plan: dict[str, Any]) -> dict[str, Any]:
    done = [p for p, e in per_plan.items() if "best_s" in e]
    out: dict[str, Any] = {"plans": per_plan}
    if done:
        best = min(done, key=lambda p: per_plan[p]["best_s"])
        out.update(per_plan[best], best_plan=best)
    else:
        out.update(next(iter(per_plan.values())))
    return out


# --------------------------------------------------------------------------- report


def _cell(e: dict[str, Any] | None) -> str:
    if e is None:
        return "-"
    if "best_s" in e:
        return fmt_s(e["best_s"])
    if e.get("failed") == "timeout":
        return f"> {e['limit']:g} s" + ("*" if e.get("skipped") else "")
    if e.get("failed") == "memory":
        return f"> {e['limit']:g} GiB"
    return "failed"


def _check(e: dict[str, Any] | None) -> str:
    if e is None or "identical" not in e:
        return ""
    return "=" if e["identical"] else "DIFF"


def table_rows(r: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, str, str]], str]]:
    """(step, tracegraph cell, [(peer cell, ratio, check)], note) per printed row."""
    cfg, tgr, peers = r["config"], r["tracegraph"], r.get("peers", {})
    names = cfg["peers"]
    rows = []

    def row(step: str, key: str, t: dict[str, Any] | None, note: str = "") -> None:
        cells = []
        for name in names:
            e = peers.get(name, {}).get(key)
            ratio = "-"
            if e is not None and t is not None:
                if "best_s" in e:
                    ratio = fmt_ratio(e["best_s"], t["best_s"])
                elif e.get("failed") == "timeout":
                    ratio = "> " + fmt_ratio(e["limit"], t["best_s"])
            cells.append((_cell(e), ratio, _check(e)))
        rows.append((step, _cell(t) if t is not None else "-", cells, note))

    b = tgr["build"]
    note = "VenueIndex.from_stays(path): streamed"
    if len(b.get("runs", [])) > 1:  # the first build pays for memory new to the process
        firsts = [f"first run {fmt_s(b['first_s'])}"] + [
            f"{name} {fmt_s(peers[name]['build']['first_s'])}"
            for name in names
            if "first_s" in peers.get(name, {}).get("build", {})
        ]
        note += "; " + ", ".join(firsts)
    row("build from Parquet", "build", b, note)
    tiers_labels = ["F1"] + ([] if cfg.get("skip_f3") else [f"F1->F{cfg['tiers']}"])
    for label in tiers_labels:
        for n in cfg["cases"]:
            t = tgr.get(f"{label}/{n}")
            if t is None:
                continue
            plans = peers.get("duckdb", {}).get(f"{label}/{n}", {}).get("best_plan")
            note = f"{t['contacts']:,} contacts"
            if plans and len(cfg["plans"]) > 1:
                note += f"; duckdb {plans}"
            if "interleaved_with" in t:
                note += f"; tracegraph timed between {t['interleaved_with']} runs"
            row(f"{label}, {n:,} case{'s' if n > 1 else ''}", f"{label}/{n}", t, note)
    for m in cfg["pairs_min_overlap_s"]:
        t = tgr.get(f"pairs/{m}")
        if t is not None:
            row(
                f"co-present pairs, min_overlap {t['label']}",
                f"pairs/{m}",
                t,
                f"{t['count']:,} pairs",
            )
    for key, what in (("cold", "cold start"), ("cold_noverify", "cold start, open(verify=False)")):
        c = tgr.get(key)
        if c is not None:
            bst = c["best"]
            row(
                what,
                "-",
                c,
                f"process wall; import {fmt_s(bst['import_s'])} + open "
                f"{fmt_s(bst['open_s'])} + F1 {fmt_s(bst['f1_s'])}",
            )
    return rows


def print_report(r: dict[str, Any]) -> None:
    cfg, city, mach = r["config"], r["city"], r["machine"]
    tgr = r["tracegraph"]
    names = cfg["peers"]
    print()
    print(
        f"city {cfg['size']}: {city['stays']:,} stays ({city['people']:,} people x "
        f"{city['days']} days, Parquet {city['parquet_mib']} MiB); cases seed {cfg['seed']}; "
        f"min_overlap {cfg['min_overlap_s']} s, linger {cfg['linger_s']} s; "
        f"peer threads {cfg['threads']}, timeout {cfg['timeout_s']:g} s; best of "
        f"{cfg['repeat']}"
    )
    print(
        f"machine: {mach['cpu']}, {mach['cores']} cores ({mach['cores_usable']} usable), "
        f"{mach['ram_gib']} GiB RAM; {mach['platform']}; {mach['date']}"
    )
    # at the end the load includes this run's own work: only the start tells of others
    busy = mach["loadavg_start"][0] > 1.0
    print(
        f"load average (1, 5, 15 min) at start {mach['loadavg_start']}, at end "
        f"{mach.get('loadavg_end')}"
        + ("  [WARNING: other work was running at the start: timings may be noisy]" if busy else "")
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()))
    rows = table_rows(r) if "build" in tgr else []
    if rows:
        w = max(len(x[0]) for x in rows) + 2
        head = f"{'step':<{w}}{'tracegraph':>12}"
        for name in names:
            head += f"{name:>12}{'ratio':>9}{'':>5}"
        print()
        print(head + "  note")
        print("-" * (len(head) + 30))
        for step, t, cells, note in rows:
            line = f"{step:<{w}}{t:>12}"
            for cell, ratio, check in cells:
                line += f"{cell:>12}{ratio:>9}{check:>5}"
            print(line + "  " + note)
        print()
        print(
            "ratio = peer time / tracegraph time (how many times faster tracegraph is); "
            "'=' the peer's answer is identical to tracegraph's; '> N s' a peer stopped at "
            "the timeout ('*': not run, since an easier run already exceeded it)"
        )
    if "index" in tgr:
        ix = tgr["index"]
        print(
            f"index: {ix['nbytes'] / 2**20:,.1f} MiB in memory, {ix['bytes_per_stay']} bytes "
            f"per stay; kernel warm-up (first call, numba cache load) {fmt_s(tgr['warmup_s'])}"
        )
        firsts = [
            f"{k} {fmt_s(v['first_s'])}"
            for k, v in tgr.items()
            if isinstance(v, dict) and "runs_s" in v and len(v["runs_s"]) > 1
        ]
        if firsts:
            print("tracegraph first timed runs: " + ", ".join(firsts))
    peers = r.get("peers", {})
    for name in names:
        if name in peers:
            p = peers[name]
            print(f"{name}: peak RSS {p.get('peak_rss_mib', 0):,.0f} MiB", end="")
            joins = {
                k: v.get("joins") for k, v in p.items() if isinstance(v, dict) and v.get("joins")
            }
            if joins:
                first = next(iter(joins.items()))
                print(f"; join operators e.g. {first[0]}: {', '.join(first[1])}", end="")
            print()
    pk = r.get("peak_rss_mib")
    if pk:
        print(
            f"peak RSS of this process {pk['process']:,.0f} MiB; by phase: "
            + ", ".join(f"{k} {v:,.0f} MiB" for k, v in pk["by_phase"].items())
        )
    for note in r.get("notes", []):
        print("note: " + note)
    checked = unchecked = 0
    for res in peers.values():
        for key, e in res.items():
            if isinstance(e, dict) and key != "build" and ("best_s" in e or "failed" in e):
                checked += "identical" in e
                unchecked += "identical" not in e
    if r.get("identical", True):
        print(
            f"answers: all {checked} peer answers identical to tracegraph's"
            + (f" ({unchecked} timed out or failed: not checked)" if unchecked else "")
        )
    else:
        print(f"answers: {len(r['problems'])} DIFFERENCES (see stderr)")


if __name__ == "__main__":
    raise SystemExit(main())
