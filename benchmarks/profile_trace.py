"""Where does the time of build and F1 go? cProfile + the query kernel's scan statistics.

Usage::

    python -m benchmarks.profile_trace --size M --cases 1000 [--repeat 3] [--top 12]

Prints, for ``VenueIndex.from_stays`` and for ``tg.trace(..., tiers=1)``:

* wall times (every run, best first);
* a cProfile of the last run sorted by own time: numba kernels appear as
  ``_kernels.py:<line>(<name>)`` entries, so kernel time vs numpy/pyarrow/Python glue
  can be read off directly;
* for F1, how much work the bucket scan does: query intervals, buckets visited, bucket
  entries read, and how many of those entries were read in a bucket after the first
  one of the query although they started before it (a long stay is entered in every
  bucket it covers, and is reported only from the first one).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numba import njit

import tracegraph as tg
from benchmarks import cities


@njit(nogil=True, cache=False)
def _scan_stats(  # type: ignore[no-untyped-def]
    q_venue,
    q_start,
    q_end,
    start,
    venue_key_offsets,
    key_bucket,
    key_offsets,
    entry_stay,
    origin,
    width,
):
    """Replays the bucket walk of ``_kernels.overlapping_stays`` and counts its reads.

    Returns (buckets visited, entries read, entries read in a later bucket of the query
    that started before that bucket, i.e. re-reads of a long stay).
    """
    n_keys = 0
    n_read = 0
    n_carried = 0
    for i in range(q_venue.shape[0]):
        a = q_start[i]
        b = q_end[i]
        if b <= a:
            continue
        v = q_venue[i]
        qa = (a - origin) // width
        qb = (b - 1 - origin) // width
        lo = venue_key_offsets[v]
        hi = venue_key_offsets[v + 1]
        stop = hi
        while lo < hi:
            mid = (lo + hi) >> 1
            if key_bucket[mid] < qa:
                lo = mid + 1
            else:
                hi = mid
        k = lo
        first = lo
        while k < stop and key_bucket[k] <= qb:
            n_keys += 1
            for e in range(key_offsets[k], key_offsets[k + 1]):
                s = start[entry_stay[e]]
                n_read += 1
                if s >= b:
                    break
                if k != first and (s - origin) // width < key_bucket[k]:
                    n_carried += 1
            k += 1
    return n_keys, n_read, n_carried


def _profile(fn: Any, repeat: int, top: int) -> tuple[list[float], Any, str]:
    times = []
    result = None
    prof = cProfile.Profile()
    for i in range(repeat):
        result = None
        if i == repeat - 1:
            prof.enable()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        if i == repeat - 1:
            prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    text = "\n".join(
        line
        for line in out.getvalue().splitlines()
        if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced"))
    )
    return times, result, text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_trace", description=__doc__)
    p.add_argument("--size", default="M", choices=list(cities.SIZES))
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top", type=int, default=12, help="cProfile lines to print")
    args = p.parse_args(argv)

    cities.warm_up()
    path = cities.city_parquet(args.size, seed=args.seed)
    print(f"load average {os.getloadavg()}")
    t0 = time.perf_counter()
    table = pq.read_table(path, columns=["person", "venue", "start", "end"])
    print(f"read Parquet: {time.perf_counter() - t0:.2f} s, {table.num_rows:,} stays")

    times, index, text = _profile(
        lambda t=table: tg.VenueIndex.from_stays(t), args.repeat, args.top
    )
    print(f"\nVenueIndex.from_stays: runs {[round(t, 2) for t in times]} s")
    print(text)
    print(f"index: {index!r}, {index.nbytes / 2**20:,.0f} MiB")

    persons = pc.unique(table["person"])
    persons = persons.take(pc.array_sort_indices(persons))
    del table
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(persons), size=args.cases, replace=False))
    cases = persons.take(pa.array(pick)).to_pylist()

    times, result, text = _profile(lambda: tg.trace(index, cases, tiers=1), args.repeat, args.top)
    print(f"\ntrace F1, {args.cases} cases: runs {[round(t, 3) for t in times]} s; {result!r}")
    print(text)

    try:
        codes = index.person_codes(pa.array(cases))
        rows = np.concatenate(
            [
                index.person_stays[index.person_offsets[c] : index.person_offsets[c + 1]]
                for c in codes
            ]
        )
        rows = rows[index.end[rows] > index.start[rows]]
        n_keys, n_read, n_carried = _scan_stats(
            index.venue[rows],
            index.start[rows],
            index.end[rows],
            index.start,
            index.venue_key_offsets,
            index.key_bucket,
            index.key_offsets,
            index.entry_stay,
            index.origin,
            index.bucket_width,
        )
    except AttributeError as exc:  # the index layout changed: stats need updating
        print(f"\nscan statistics unavailable ({exc})")
        return 0
    n_pairs = getattr(result, "n_pairs", None)
    print(
        f"\nbucket scan: {rows.size:,} query intervals, {n_keys:,} buckets visited, "
        f"{n_read:,} entries read ({index.entry_stay.size / index.n_stays:.2f} entries per "
        f"stay in the index), of which {n_carried:,} ({n_carried / max(n_read, 1):.0%}) are "
        f"re-reads of long stays in a later bucket than the query's first; "
        f"{n_pairs if n_pairs is not None else '?':,} unique pairs reported"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
