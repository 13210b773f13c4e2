"""Every compiled kernel of tracegraph, and the one place their JIT flags are set.

Kernels take flat, contiguous arrays of canonical dtypes (``int32`` codes,
``int64`` epoch seconds), write into caller-allocated buffers and return counts.
They never raise for user errors: the public wrappers validate first, so a kernel
cannot read out of bounds on bad input.

JIT policy (the reasons, written down once):

* ``nogil=True`` everywhere, so several threads can trace on one index at once.
* ``cache=True`` unless the environment variable ``TRACEGRAPH_NUMBA_CACHE`` is set to
  ``0`` (or ``NUMBA_DISABLE_JIT=1`` is set, which turns every kernel into plain Python
  for debugging and coverage). Numba's cache only notices changes in the file that
  defines a function, which is why every kernel lives in this one file.
* No ``fastmath``: all arithmetic is integer time arithmetic and must be exact.
* No ``parallel=True`` yet: a parallel twin is only added where a benchmark shows a
  gain, with a test that it agrees with the serial kernel.

This module imports only numpy and numba.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit

_CACHE = os.environ.get("TRACEGRAPH_NUMBA_CACHE", "1").strip().lower() not in {"0", "false", "no"}


def _jit(func):  # type: ignore[no-untyped-def]
    """Compile ``func`` with tracegraph's one flag set."""
    return njit(nogil=True, cache=_CACHE)(func)


# --------------------------------------------------------------------------- sorting


@_jit
def counting_sort(keys, n_keys):  # type: ignore[no-untyped-def]
    """Stable counting sort of ``keys`` (int32 in ``[0, n_keys)``).

    Returns ``(order, offsets)``: ``order`` lists row positions grouped by key, each
    group in input order; rows with key ``k`` are ``order[offsets[k]:offsets[k+1]]``.
    O(n + n_keys).
    """
    n = keys.shape[0]
    offsets = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(n):
        offsets[keys[i] + 1] += 1
    for k in range(n_keys):
        offsets[k + 1] += offsets[k]
    cursor = offsets[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        k = keys[i]
        order[cursor[k]] = i
        cursor[k] += 1
    return order, offsets


@_jit
def is_sorted_within_groups(values, offsets):  # type: ignore[no-untyped-def]
    """Whether ``values`` is non-decreasing inside every ``offsets`` group."""
    for g in range(offsets.shape[0] - 1):
        for i in range(offsets[g] + 1, offsets[g + 1]):
            if values[i] < values[i - 1]:
                return False
    return True


# --------------------------------------------------------------------------- buckets


@_jit
def bucket_entry_count(start, end, origin, width):  # type: ignore[no-untyped-def]
    """Number of (bucket, stay) entries the bucket table will hold.

    A stay [s, e) with e > s is entered in every bucket from ``(s - origin) // width``
    to ``(e - 1 - origin) // width``; zero-length stays overlap nothing and are not
    entered at all.
    """
    total = 0
    for i in range(start.shape[0]):
        s = start[i]
        e = end[i]
        if e > s:
            total += (e - 1 - origin) // width - (s - origin) // width + 1
    return total


@_jit
def build_buckets(  # type: ignore[no-untyped-def]
    start,
    end,
    venue_offsets,
    origin,
    width,
    key_bucket,
    key_offsets,
    key_carried,
    venue_key_offsets,
    entry_stay,
    active,
):
    """Fill the per-venue bucket table with a sweep over each venue's stays.

    ``start``/``end`` are sorted by (venue, start); ``venue_offsets`` delimits each
    venue's stays. For every venue the sweep walks the occupied buckets in increasing
    order, keeping the stays that started earlier and still cover the current bucket
    (``active``, in start order), then appending the stays that start in it. Each
    bucket therefore lists its stays in start order, which lets a query stop at the
    first stay starting after the query's end. Work is O(entries).

    Outputs (caller-allocated, sized by :func:`bucket_entry_count`):
    ``key_bucket[k]`` the bucket number of key ``k``; ``key_offsets[k]:key_offsets[k+1]``
    its entries in ``entry_stay``, of which the first ``key_carried[k]`` are stays
    carried over from earlier buckets and the rest start in this bucket;
    ``venue_key_offsets[v]:venue_key_offsets[v+1]`` the keys of venue ``v``.
    ``active`` is scratch space of the number of stays.
    Returns the number of keys.
    """
    n_venues = venue_offsets.shape[0] - 1
    n_keys = 0
    n_entries = 0
    key_offsets[0] = 0
    for v in range(n_venues):
        venue_key_offsets[v] = n_keys
        i = venue_offsets[v]
        stop = venue_offsets[v + 1]
        n_active = 0
        bucket = 0
        while True:
            # skip zero-length stays: they are in no bucket
            while i < stop and end[i] <= start[i]:
                i += 1
            if n_active == 0:
                if i >= stop:
                    break
                bucket = (start[i] - origin) // width
            # the active stays all started before this bucket and cover it
            key_carried[n_keys] = n_active
            for a in range(n_active):
                entry_stay[n_entries] = active[a]
                n_entries += 1
            # then the stays that start in this bucket, in start order
            while i < stop and (start[i] - origin) // width == bucket:
                if end[i] > start[i]:
                    entry_stay[n_entries] = i
                    n_entries += 1
                    active[n_active] = i
                    n_active += 1
                i += 1
            key_bucket[n_keys] = bucket
            n_keys += 1
            key_offsets[n_keys] = n_entries
            # keep only the stays that also cover the next bucket
            bucket += 1
            kept = 0
            for a in range(n_active):
                j = active[a]
                if (end[j] - 1 - origin) // width >= bucket:
                    active[kept] = j
                    kept += 1
            n_active = kept
    venue_key_offsets[n_venues] = n_keys
    return n_keys


# --------------------------------------------------------------------------- queries


@_jit
def _first_key_at_or_after(key_bucket, lo, hi, bucket):  # type: ignore[no-untyped-def]
    """Binary search: first key index in ``[lo, hi)`` whose bucket is >= ``bucket``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if key_bucket[mid] < bucket:
            lo = mid + 1
        else:
            hi = mid
    return lo


@_jit
def overlapping_stays(  # type: ignore[no-untyped-def]
    q_venue,
    q_start,
    q_end,
    q_person,
    min_overlap,
    excluded,
    start,
    end,
    person,
    venue_key_offsets,
    key_bucket,
    key_offsets,
    key_carried,
    entry_stay,
    origin,
    width,
    first_query,
    out_query,
    out_stay,
    out_start,
    out_end,
):
    """For each query interval, every stay at its venue that overlaps it enough.

    Query ``i`` is ``[q_start[i], q_end[i])`` at venue ``q_venue[i]`` on behalf of
    person ``q_person[i]`` (``-1`` for nobody). A stay ``j`` is reported when its
    overlap ``min(end, q_end) - max(start, q_start)`` is > 0 and >= ``min_overlap``,
    its person differs from ``q_person[i]`` and ``excluded[person[j]]`` is false.

    Only the buckets that can overlap the query are touched. A stay entered in several
    buckets is reported once: from the first bucket read if it is listed there (it
    started at or before that bucket), otherwise from the bucket it starts in, where
    it sits after the carried-over stays. No division, no set of seen stays.

    Matches are written to the ``out_*`` buffers (query index, stay, overlap start and
    end), starting with query ``first_query``. When the buffers fill up, the kernel
    stops before the query that did not fit and returns ``(n_written, next_query)``;
    the caller continues from ``next_query`` with fresh buffers, so no work is done
    twice. ``next_query == len(q_venue)`` means done.
    """
    cap = out_query.shape[0]
    n_out = 0
    for i in range(first_query, q_venue.shape[0]):
        n_before = n_out
        a = q_start[i]
        b = q_end[i]
        if b <= a:
            continue
        v = q_venue[i]
        me = q_person[i]
        qa = (a - origin) // width
        qb = (b - 1 - origin) // width
        k = _first_key_at_or_after(key_bucket, venue_key_offsets[v], venue_key_offsets[v + 1], qa)
        k_stop = venue_key_offsets[v + 1]
        first_key = k
        while k < k_stop and key_bucket[k] <= qb:
            # Each overlapping stay is reported once: by the first bucket read if it
            # is listed there, else by the bucket it starts in. So in later buckets
            # the stays carried over from earlier ones are skipped without a look.
            e0 = key_offsets[k] if k == first_key else key_offsets[k] + key_carried[k]
            for e in range(e0, key_offsets[k + 1]):
                j = entry_stay[e]
                s = start[j]
                if s >= b:
                    break  # entries are in start order: nothing later overlaps
                t = end[j]
                if t <= a:
                    continue
                p = person[j]
                if p == me or excluded[p]:
                    continue
                o_start = s if s > a else a
                o_end = t if t < b else b
                if o_end - o_start < min_overlap:
                    continue
                if n_out == cap:
                    return n_before, i  # full: this query starts the next call
                out_query[n_out] = i
                out_stay[n_out] = j
                out_start[n_out] = o_start
                out_end[n_out] = o_end
                n_out += 1
            k += 1
    return n_out, q_venue.shape[0]


# --------------------------------------------------------------------------- tracing


@_jit
def exposure_intervals(  # type: ignore[no-untyped-def]
    persons,
    window_start,
    window_end,
    linger,
    person_offsets,
    person_stays,
    start,
    end,
    out_stay,
    out_start,
    out_end,
):
    """Clip each person's stays to their window and extend them by ``linger``.

    For person ``persons[i]`` with window ``[window_start[i], window_end[i])``, every
    own stay ``[s, e)`` with ``min(e, w1) - max(s, w0) > 0`` gives the exposure interval
    ``[max(s, w0), min(e, w1) + linger)``. The buffers must hold the persons' total
    number of stays. Returns the number of intervals written.
    """
    n_out = 0
    for i in range(persons.shape[0]):
        p = persons[i]
        w0 = window_start[i]
        w1 = window_end[i]
        for r in range(person_offsets[p], person_offsets[p + 1]):
            j = person_stays[r]
            s = start[j] if start[j] > w0 else w0
            e = end[j] if end[j] < w1 else w1
            if e - s > 0:
                out_stay[n_out] = j
                out_start[n_out] = s
                out_end[n_out] = e + linger
                n_out += 1
    return n_out


@_jit
def assign_tier(target_person, overlap_start, tier_value, tier, exposed_at):  # type: ignore[no-untyped-def]
    """Give every target person ``tier_value`` and their earliest overlap start.

    ``tier`` (int8, -1 = untraced) and ``exposed_at`` are per person and updated in
    place. Returns the newly traced persons, in order of first appearance.
    """
    new = np.empty(target_person.shape[0], dtype=np.int32)
    n_new = 0
    for r in range(target_person.shape[0]):
        p = target_person[r]
        if tier[p] != tier_value:
            tier[p] = tier_value
            exposed_at[p] = overlap_start[r]
            new[n_new] = p
            n_new += 1
        elif overlap_start[r] < exposed_at[p]:
            exposed_at[p] = overlap_start[r]
    return new[:n_new].copy()
