"""Micro-benchmarks of every kernel-backed operation, warm and first call.

Run them with ``pytest benchmarks/test_bench_kernels.py --benchmark-enable``; with the
project's default ``--benchmark-disable`` each body runs once, as a quick smoke test.
The city is XS (~0.1M stays); ``TRACEGRAPH_BENCH_SIZE=S`` (or any name of
:mod:`benchmarks.cities`, e.g. ``S-crowd``) benchmarks a bigger one.

* ``test_warm[op]``: the operations of :data:`benchmarks.ops.OPS` (build, F1, F1 -> F3,
  edges, cumulative, policies, present_at, reports, clusters, co-present pairs,
  scans -> stays, open + trace), after :func:`benchmarks.cities.warm_up` and one
  untimed call, so compiling never counts.
* ``test_first_calls[cache]``: a fresh process runs each operation once on a tiny
  city: the first call of each, loading the kernels from numba's on-disk cache (what
  a user sees from the second run on); ``[compile]`` does it without the cache (true
  JIT compile time, about 20 s on two cores; marked slow). The times per operation
  are in the benchmark's ``extra_info``; the test also checks that every kernel of
  ``tracegraph._kernels`` is called by some operation.
* ``test_cold_start``: a fresh process imports tracegraph, opens a saved XS index and
  traces F1 of 100 cases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from benchmarks import cities, ops

SIZE = os.environ.get("TRACEGRAPH_BENCH_SIZE", "XS")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ops.Data:
    cities.warm_up()
    stays = cities.stays_table(SIZE, seed=0)
    return ops.prepare(stays, folder=tmp_path_factory.mktemp("bench"))


@pytest.mark.parametrize("name", list(ops.OPS))
def test_warm(benchmark: Any, data: ops.Data, name: str) -> None:
    op = ops.OPS[name]
    op(data)  # first call in this process (kernels for these argument types) not timed
    result = benchmark(op, data)
    benchmark.extra_info.update(size=SIZE, stays=data.stays.num_rows, kernels=ops.KERNELS[name])
    assert result is not None


def _run_first_calls(cache: bool) -> dict[str, Any]:
    env = dict(os.environ, TRACEGRAPH_NUMBA_CACHE="1" if cache else "0")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ops"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "mode", ["cache", pytest.param("compile", marks=pytest.mark.slow)], ids=str
)
def test_first_calls(benchmark: Any, mode: str) -> None:
    """Each operation's first call in a fresh process (one round: it is a first call)."""
    if mode == "cache":
        _run_first_calls(cache=True)  # fill numba's cache if a kernel changed
    parts: dict[str, Any] = {}
    benchmark.pedantic(
        lambda: parts.update(_run_first_calls(cache=mode == "cache")),
        rounds=1,
        iterations=1,
        warmup_rounds=0,
    )
    benchmark.extra_info.update(
        {f"first_{k}_s": round(v, 4) for k, v in parts["seconds"].items()},
        process_s=parts["process_s"],
    )
    assert set(ops.OPS) <= set(parts["seconds"])
    assert not parts["uncompiled"], (
        f"kernels no benchmark operation calls: {parts['uncompiled']} (dead code, or add an "
        f"operation to benchmarks/ops.py)"
    )


_COLD = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    import tracegraph as tg
    t1 = time.perf_counter()
    index = tg.VenueIndex.open(sys.argv[1])
    t2 = time.perf_counter()
    result = tg.trace(index, json.loads(sys.argv[2]), tiers=1)
    t3 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1, "f1_s": t3 - t2,
                      "contacts": result.contacts.num_rows}))
    """
)


def test_cold_start(benchmark: Any, data: ops.Data) -> None:
    """Import + open a saved index + F1 in a fresh interpreter (numba cache warm)."""
    cmd = [sys.executable, "-c", _COLD, str(data.saved), json.dumps(data.cases)]
    subprocess.run(cmd, check=True, capture_output=True)  # warm numba's and the OS's caches
    parts: dict[str, Any] = {}

    def run() -> None:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        parts.update(json.loads(out.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(parts)
    assert parts["contacts"] > len(data.cases)


def test_xs_city_is_small() -> None:
    """The XS city must stay a smoke-test size (the test suite generates it)."""
    stays = cities.generate("XS", seed=0).stays
    assert 50_000 <= stays.num_rows <= 150_000
