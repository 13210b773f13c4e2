"""The operations the micro-benchmarks time: together they call every compiled kernel.

:data:`OPS` maps a name to a function of :class:`Data` (a city's stays, its index,
some cases, scans made from the stays, the index saved to disk). ``KERNELS`` says
which kernels of ``tracegraph._kernels`` each operation is there for (documentation;
:func:`first_calls` checks coverage for real by asking numba which kernels were
compiled).

``python -m benchmarks.ops`` runs every operation once on a tiny city in this fresh
process and prints, as JSON, the time of each first call (numba cache load, or the
compile with ``TRACEGRAPH_NUMBA_CACHE=0``) and the kernels no operation compiled.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import tracegraph as tg

N_CASES = 100


@dataclass
class Data:
    """Inputs of the operations, prepared once (not timed)."""

    stays: pa.Table
    index: tg.VenueIndex
    cases: list[Any]
    scans: pa.Table
    saved: Path
    trace1: tg.Trace
    parquet: Path
    parquet_text: Path


def prepare(stays: pa.Table, n_cases: int = N_CASES, *, folder: Path | None = None) -> Data:
    """Build the index, draw the cases, make scans, save the index (in ``folder``)."""
    index = tg.VenueIndex.from_stays(stays)
    persons = np.unique(stays["person"].to_numpy())
    rng = np.random.default_rng(0)
    cases = sorted(rng.choice(persons, size=min(n_cases, len(persons)), replace=False).tolist())
    # an entry scan at each stay's start and an exit scan at its end
    n = stays.num_rows
    time_type = stays.schema.field("start").type
    scans = pa.table(
        {
            "person": pa.concat_arrays([stays["person"].combine_chunks()] * 2),
            "venue": pa.concat_arrays([stays["venue"].combine_chunks()] * 2),
            "time": pa.concat_arrays(
                [stays["start"].combine_chunks(), stays["end"].combine_chunks()]
            ).cast(time_type),
            "direction": pa.array(["entry"] * n + ["exit"] * n),
        }
    )
    folder = folder or Path(tempfile.mkdtemp(prefix="tg-bench-"))
    saved = index.save(folder / "city.tgidx", overwrite=True)
    # ids spread out: the file is read through the hash table (the table above, with
    # dense ids, through the direct one)
    parquet = folder / "stays.parquet"
    spread = pa.array(stays["person"].to_numpy().astype(np.int64) * 1_000_003 + 7)
    at = stays.schema.get_field_index("person")
    pq.write_table(stays.set_column(at, "person", spread), parquet)
    # text person ids: read through the byte-string hash table (written without a
    # dictionary, which a build would read as one: each distinct id encoded once)
    parquet_text = folder / "stays_text_ids.parquet"
    text = pa.array([f"resident-{p}" for p in stays["person"].to_pylist()], pa.string())
    pq.write_table(stays.set_column(at, "person", text), parquet_text, use_dictionary=["venue"])
    trace1 = tg.trace(index, cases, tiers=1)
    return Data(stays, index, cases, scans, saved, trace1, parquet, parquet_text)


def _windows(d: Data) -> pa.Table:
    return d.trace1.locations_of_interest()


def _f1_packed(d: Data) -> Any:
    """F1 the way large tiers go, forced on however small a city and however few cores.

    Packed-key matching on two threads, and the contacts ordered on two threads.
    """
    from tracegraph import exposure

    names = ("_PACKED_MIN_QUERIES", "_PARALLEL_MIN_QUERIES", "_PARALLEL_MIN_CONTACTS")
    saved = [getattr(exposure, name) for name in names]
    saved_env = os.environ.get("TRACEGRAPH_NUM_THREADS")
    for name in names:
        setattr(exposure, name, 0)
    os.environ["TRACEGRAPH_NUM_THREADS"] = "2"
    try:
        return tg.trace(d.index, d.cases, tiers=1).contacts
    finally:
        for name, value in zip(names, saved, strict=True):
            setattr(exposure, name, value)
        if saved_env is None:
            del os.environ["TRACEGRAPH_NUM_THREADS"]
        else:
            os.environ["TRACEGRAPH_NUM_THREADS"] = saved_env


OPS: dict[str, Callable[[Data], Any]] = {
    "build": lambda d: tg.VenueIndex.from_stays(d.stays),
    "build_from_parquet": lambda d: tg.VenueIndex.from_stays(d.parquet),
    "build_from_parquet_text_ids": lambda d: tg.VenueIndex.from_stays(d.parquet_text),
    "build_text_ids": lambda d: tg.VenueIndex.from_stays(pq.read_table(d.parquet_text)),
    "f1": lambda d: tg.trace(d.index, d.cases, tiers=1).contacts,
    "f1_packed": _f1_packed,
    "f1_min_overlap_linger": lambda d: (
        tg.trace(d.index, d.cases, tiers=1, min_overlap="15min", linger="10min").contacts
    ),
    "f1_to_f3": lambda d: tg.trace(d.index, d.cases, tiers=3).contacts,
    "edges": lambda d: tg.trace(d.index, d.cases, tiers=1).edges,
    "cumulative": lambda d: (
        tg.trace(d.index, d.cases, tiers=1, min_overlap="15min", cumulative=True).contacts
    ),
    "arrival_policy": lambda d: tg.trace(d.index, d.cases, tiers=1, policy="nz").contacts,
    "present_at": lambda d: tg.present_at(d.index, _windows(d)),
    "locations_of_interest": lambda d: d.trace1.locations_of_interest(),
    "risk": lambda d: d.trace1.risk(),
    "clusters": lambda d: tg.clusters(d.index, d.cases[:20]),
    "copresent_pairs": lambda d: tg.copresent_pairs(d.index),
    "scans_to_stays": lambda d: tg.scans_to_stays(d.scans),
    "from_scans": lambda d: tg.VenueIndex.from_scans(d.scans),
    "open_and_trace": lambda d: tg.trace(tg.VenueIndex.open(d.saved), d.cases, tiers=2).contacts,
    "repeated_stays": lambda d: tg.index._repeated_stays(d.index),
}

#: What each operation is there for: the kernels it calls (as of writing).
KERNELS = {
    "build": "max_duration, count_venue_classes, group_rows, put_rows (counts and scatters "
    "on threads by slices of the rows), sort_groups_by_start (runs of groups on threads), "
    "count_buckets, partition_rows, sort_bucket_rows (the per-person view)",
    "build_from_parquet": "the same after stay_seconds, encode_int64 (ids "
    "spread out), encode_dense, dense_ranks, renumber (batches read and encoded on two threads)",
    "build_from_parquet_text_ids": "the same with encode_bytes, rehash, record_strings (text "
    "person ids)",
    "build_text_ids": "the same from a table read into memory first: its text ids encoded "
    "by the same kernels, then renumber (codes replaced by the ids' ranks)",
    "f1": "exposure_intervals, merge_windows, overlapping_stays (earliest)",
    "f1_packed": "init_packed, earliest_packed, unpack_earliest, contacts_span, contacts_bits, "
    "contacts_pack, radix_counts, radix_scatter, unpack_contacts (large tiers' kernels "
    "on two threads, forced)",
    "f1_min_overlap_linger": "the same with min_overlap and linger",
    "f1_to_f3": "the same, tier after tier (reverse matching in late tiers)",
    "edges": "overlapping_stays (emit pairs)",
    "cumulative": "overlapping_stays (emit pairs) per tier, radix_order, merge_pair_overlaps, "
    "day_totals_reach (a pair's overlapping overlaps merged, summed per day)",
    "arrival_policy": "overlapping_stays under the arrival rule",
    "present_at": "overlapping_stays with windows as queries",
    "locations_of_interest": "merge_windows",
    "risk": "find_windows, radix_order, merge_pair_overlaps",
    "clusters": "connected_labels",
    "copresent_pairs": "copresent_counts, _meeting_pairs",
    "scans_to_stays": "dedupe_scans, pair_scans, merge_stays",
    "from_scans": "encode_int64, counting_sort_into, sort_groups_by_time, drop_repeated_scans, "
    "radix_order (the lean scans -> index path)",
    "open_and_trace": "every trace kernel on read-only (memory-mapped) arrays",
    "repeated_stays": "count_repeats (a build's count of stays given twice, alone)",
}


def kernels() -> dict[str, Any]:
    """Every compiled kernel of ``tracegraph._kernels``, by name."""
    from numba.core.dispatcher import Dispatcher

    from tracegraph import _kernels

    return {
        name: obj
        for name, obj in vars(_kernels).items()
        if isinstance(obj, Dispatcher) and not name.startswith("__")
    }


def first_calls(people: int = 300, days: int = 2) -> dict[str, Any]:
    """Time each operation's first call in this process; list kernels left uncompiled."""
    stays = tg.synth.generate_city(people, days=days, seed=1).stays
    folder = Path(tempfile.mkdtemp(prefix="tg-first-"))
    try:
        t0 = time.perf_counter()
        data = prepare(stays, 5, folder=folder)  # builds and traces: part of the first calls
        seconds = {"prepare (build + save + F1)": time.perf_counter() - t0}
        for name, op in OPS.items():
            t0 = time.perf_counter()
            op(data)
            seconds[name] = time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    idle = sorted(
        name
        for name, k in kernels().items()
        if not k.signatures and not name.startswith("_")  # private helpers are inlined callees
    )
    return {"seconds": seconds, "total_s": sum(seconds.values()), "uncompiled": idle}


if __name__ == "__main__":
    t0 = time.perf_counter()
    out = first_calls()
    out["process_s"] = time.perf_counter() - t0
    json.dump(out, sys.stdout)
    print()
