"""Micro-benchmarks on the XS city (~0.1M stays): build, F1 for 100 cases, F1 -> F3, cold start.

Run them with ``pytest benchmarks/ --benchmark-enable``. With the project's default
``--benchmark-disable`` each benchmark body runs once, as a quick smoke test.

The warm benchmarks run after :func:`benchmarks.cities.warm_up` has compiled every
kernel (or loaded it from numba's cache); the cold-start benchmarks time a fresh
``python -c`` process (import + read Parquet + build + F1), with numba's on-disk
cache (what a user sees from the second run on) and without it (true JIT compile).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import tracegraph as tg
from benchmarks import cities

N_CASES = 100


@pytest.fixture(scope="module")
def xs_city() -> Any:
    cities.warm_up()
    return cities.generate("XS", seed=0)


@pytest.fixture(scope="module")
def xs_index(xs_city: Any) -> tg.VenueIndex:
    return tg.VenueIndex.from_stays(xs_city.stays)


@pytest.fixture(scope="module")
def xs_cases(xs_city: Any) -> list[Any]:
    persons = np.unique(xs_city.stays["person"].to_numpy())
    rng = np.random.default_rng(0)
    return sorted(rng.choice(persons, size=N_CASES, replace=False).tolist())


@pytest.fixture(scope="module")
def xs_parquet(xs_city: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = xs_city.write_parquet(tmp_path_factory.mktemp("xs"))["stays"]
    return path


def test_build_index(benchmark: Any, xs_city: Any) -> None:
    stays = xs_city.stays
    index = benchmark(tg.VenueIndex.from_stays, stays)
    benchmark.extra_info["stays"] = stays.num_rows
    assert index.n_stays == stays.num_rows


def test_f1_100_cases(benchmark: Any, xs_index: tg.VenueIndex, xs_cases: list[Any]) -> None:
    result = benchmark(tg.trace, xs_index, xs_cases, tiers=1)
    counts = result.tier_counts()
    benchmark.extra_info.update(contacts=result.contacts.num_rows, edges=result.edges.num_rows)
    assert counts[0] == N_CASES
    assert counts.get(1, 0) > 0


def test_f1_to_f3_100_cases(benchmark: Any, xs_index: tg.VenueIndex, xs_cases: list[Any]) -> None:
    result = benchmark(tg.trace, xs_index, xs_cases, tiers=3)
    benchmark.extra_info.update(tier_counts=result.tier_counts(), edges=result.edges.num_rows)
    assert result.tier_counts()[0] == N_CASES
    assert max(result.tier_counts()) <= 3


_COLD = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    import pyarrow.parquet as pq
    import tracegraph as tg
    t1 = time.perf_counter()
    stays = pq.read_table(sys.argv[1])
    t2 = time.perf_counter()
    index = tg.VenueIndex.from_stays(stays)
    t3 = time.perf_counter()
    result = tg.trace(index, json.loads(sys.argv[2]), tiers=1)
    t4 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "read_s": t2 - t1, "build_s": t3 - t2,
                      "f1_s": t4 - t3, "contacts": result.contacts.num_rows}))
    """
)


@pytest.mark.parametrize("numba_cache", ["cache", "no-cache"])
def test_cold_start_fresh_process(
    benchmark: Any, xs_parquet: Path, xs_cases: list[Any], numba_cache: str
) -> None:
    """First import + read + build + F1 in a fresh interpreter (one round: it is a first call)."""
    env = dict(os.environ, TRACEGRAPH_NUMBA_CACHE="1" if numba_cache == "cache" else "0")
    parts: dict[str, Any] = {}

    def run() -> None:
        out = subprocess.run(
            [sys.executable, "-c", _COLD, str(xs_parquet), json.dumps(xs_cases)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        parts.update(json.loads(out.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(parts)
    assert parts["contacts"] > N_CASES


def test_xs_city_is_small() -> None:
    """The XS city must stay a smoke-test size (the test suite generates it)."""
    stays = cities.generate("XS", seed=0).stays
    assert 50_000 <= stays.num_rows <= 150_000
    assert isinstance(stays, pa.Table)
