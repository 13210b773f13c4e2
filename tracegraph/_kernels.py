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
* ``inline="always"`` only for a kernel body that a kernel calls with constants for
  its common case (``_jit_inline``; e.g. :func:`earliest_packed`): numba inlines the
  body, so the compiler removes the branches the constants decide. The body stays
  callable on its own, and a test compares the two.
* One compiler intrinsic, :func:`_prefetch` (LLVM's ``llvm.prefetch``): a hint that
  starts loading a cache line a few iterations before a kernel reads or updates it at
  random (a no-op as plain Python). It changes no result; it hides memory latency where a
  kernel is bound by it.
* No ``parallel=True``: numba's threading layers differ in whether they may be entered
  from several threads at once, and ``trace`` must be callable from many threads.
  Large tiers are split over plain Python threads instead (the kernels release the
  GIL; see ``tracegraph.exposure._earliest_overlaps``), with a test that the split
  gives exactly the serial answer.

This module imports only numpy and numba (and numba's llvmlite, for the intrinsic).
"""

from __future__ import annotations

import os

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

_CACHE = os.environ.get("TRACEGRAPH_NUMBA_CACHE", "1").strip().lower() not in {"0", "false", "no"}


def _jit(func):  # type: ignore[no-untyped-def]
    """Compile ``func`` with tracegraph's one flag set."""
    return njit(nogil=True, cache=_CACHE)(func)


def _jit_inline(func):  # type: ignore[no-untyped-def]
    """As :func:`_jit`, and inlined into its callers.

    For a body that callers specialise by passing constants: the compiler then
    removes the branches those constants decide.
    """
    return njit(nogil=True, cache=_CACHE, inline="always")(func)


def _prefetch(array: np.ndarray, index: int) -> None:
    """Start loading the cache line of ``array[index]``, to be written: a hint only.

    Compiled, LLVM's ``llvm.prefetch`` (write, high locality, data cache), which x86
    turns into one prefetch instruction that never faults: for a kernel that updates
    an array at random places it knows a few iterations ahead, so that the loads
    overlap instead of each waiting for memory in turn. As plain Python (a kernel's
    ``py_func``, or ``NUMBA_DISABLE_JIT=1``) it does nothing.
    """


def _prefetch_read(array: np.ndarray, index: int) -> None:
    """As :func:`_prefetch`, for a line that will only be read.

    (A line asked for to be written is taken from the other cores' caches; threads
    that read one shared table, as lookups do, should not take it from each other.)
    """


def _prefetch_intrinsic_for(rw: int):  # type: ignore[no-untyped-def]
    """The compiled prefetch: ``rw`` 1 for a write, 0 for a read."""

    @intrinsic
    def prefetch(typingctx, array, index):  # type: ignore[no-untyped-def]
        if not isinstance(array, types.Array) or array.ndim != 1:
            return None
        if not isinstance(index, types.Integer):
            return None
        sig = types.void(array, types.intp)  # the index as numba indexes: intp

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            # the element's address as ``array[index]`` finds it (strides too), unchecked
            item = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])  # type: ignore[no-untyped-call]
            i8p = ir.IntType(8).as_pointer()
            address = builder.bitcast(item, i8p)
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            name = "llvm.prefetch.p0i8"
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)  # type: ignore[no-untyped-call]
            # rw, locality = 3 (keep in every cache level), 1 = data
            builder.call(fn, [address, i32(rw), i32(3), i32(1)])
            return context.get_dummy_value()

        return sig, codegen

    return prefetch


_prefetch_intrinsic = _prefetch_intrinsic_for(1)
_prefetch_read_intrinsic = _prefetch_intrinsic_for(0)


@overload(_prefetch, jit_options={"nogil": True})
def _prefetch_compiled(array, index):  # type: ignore[no-untyped-def]
    def impl(array, index):  # type: ignore[no-untyped-def]
        _prefetch_intrinsic(array, index)

    return impl


@overload(_prefetch_read, jit_options={"nogil": True})
def _prefetch_read_compiled(array, index):  # type: ignore[no-untyped-def]
    def impl(array, index):  # type: ignore[no-untyped-def]
        _prefetch_read_intrinsic(array, index)

    return impl


# --------------------------------------------------------------------------- sorting


# --------------------------------------------------------------------------- duration classes


@_jit
def _duration_class(d, width):  # type: ignore[no-untyped-def]
    """The duration class of a stay lasting ``d`` seconds (see :func:`count_venue_classes`)."""
    c = 0
    reach = width
    while reach < d:
        reach *= 2
        c += 1
    return c


@_jit
def count_venue_classes(venue, start, end, width, n_classes, counts):  # type: ignore[no-untyped-def]
    """Count the stays of each (venue, duration class) group, for :func:`group_rows`.

    Group ``v * n_classes + c`` holds venue ``v``'s stays of class ``c``: those lasting
    at most ``width * 2**c`` seconds and, for ``c > 0``, more than
    ``width * 2**(c - 1)`` (zero-length stays are in class 0). ``counts[g + 1]`` is
    incremented for each stay of group ``g`` (``n_venues * n_classes + 1`` long); its
    running sums are the groups' first rows.
    """
    for i in range(venue.shape[0]):
        c = _duration_class(np.int64(end[i]) - start[i], width)
        counts[venue[i] * n_classes + c + 1] += 1


@_jit
def group_rows(venue, start, end, width, n_classes, cursor, out):  # type: ignore[no-untyped-def]
    """Each stay's row in the index: the next free row of its (venue, duration class) group.

    ``out[i] = cursor[v * n_classes + c]`` for stay ``i`` of venue ``v`` and class ``c``,
    and the cursor is advanced, so a group's stays keep their input order. ``cursor``
    starts at the groups' first rows (:func:`count_venue_classes`) for all rows at
    once; threads given consecutive slices of the rows start each group where the
    slices before theirs end. ``out`` may be ``venue`` itself (each code is read
    before its slot is written).
    """
    for i in range(venue.shape[0]):
        k = venue[i] * n_classes + _duration_class(np.int64(end[i]) - start[i], width)
        at = cursor[k]
        cursor[k] = at + 1
        out[i] = at


@_jit
def put_rows(rows, values, shift, out):  # type: ignore[no-untyped-def]
    """``out[rows[i]] = values[i] - shift``: a column moved to the rows of :func:`group_rows`."""
    for i in range(rows.shape[0]):
        out[rows[i]] = values[i] - shift


@_jit
def _scatter_rows(keys, first, cursor, out):  # type: ignore[no-untyped-def]
    """Row numbers grouped by key: a counting sort's second pass.

    Row ``first + i`` goes to ``out[cursor[keys[i]]]``, which is then advanced, so rows
    of one key keep their input order. ``cursor`` starts at the keys' first slots;
    threads given consecutive slices of the rows (``first`` their first row) start
    each key where the slices before theirs end.
    """
    for i in range(keys.shape[0]):
        k = keys[i]
        at = cursor[k]
        cursor[k] = at + 1
        out[at] = first + i


#: Groups made of at most this many ascending runs are sorted by merging the runs.
_MAX_RUNS = 32


@_jit
def _merge_runs(keys, m, runs, buf):  # type: ignore[no-untyped-def]
    """Sort ``keys[:m]`` (distinct) by merging its ascending runs, if there are few.

    Groups built from data that was nearly in order (several sorted runs
    interleaved) sort in O(m log runs). Returns False, leaving ``keys`` as it was,
    when there are more than ``_MAX_RUNS`` runs.
    """
    n_runs = 0
    runs[0] = 0
    for k in range(1, m):
        if keys[k] < keys[k - 1]:
            n_runs += 1
            if n_runs >= _MAX_RUNS:
                return False
            runs[n_runs] = k
    n_runs += 1
    runs[n_runs] = m
    src = keys
    dst = buf
    in_buf = False  # whether the latest pass wrote to `buf`
    while n_runs > 1:
        w = 0
        for r in range(0, n_runs, 2):
            lo = runs[r]
            if r + 1 >= n_runs:  # an odd run out: copied over as it is
                for k in range(lo, runs[r + 1]):
                    dst[k] = src[k]
                runs[w] = lo
                w += 1
                continue
            mid = runs[r + 1]
            hi = runs[r + 2]
            a = lo
            b = mid
            k = lo
            while a < mid and b < hi:
                if src[a] <= src[b]:
                    dst[k] = src[a]
                    a += 1
                else:
                    dst[k] = src[b]
                    b += 1
                k += 1
            while a < mid:
                dst[k] = src[a]
                a += 1
                k += 1
            while b < hi:
                dst[k] = src[b]
                b += 1
                k += 1
            runs[w] = lo
            w += 1
        runs[w] = m
        n_runs = w
        src, dst = dst, src
        in_buf = not in_buf
    if in_buf:
        keys[:m] = buf[:m]
    return True


@_jit
def sort_groups_by_start(start, end, person, offsets):  # type: ignore[no-untyped-def]
    """Sort each group ``offsets[g]:offsets[g+1]`` by start (stable), rows kept together.

    Groups already in order, as they are when stays arrive in time order, are only
    checked. Others are sorted as packed (start, position) keys, which makes any
    sort stable; small groups by insertion. Returns the number of groups sorted.
    """
    n_sorted = 0
    largest = 0
    for g in range(offsets.shape[0] - 1):
        if offsets[g + 1] - offsets[g] > largest:
            largest = offsets[g + 1] - offsets[g]
    keys = np.empty(largest, dtype=np.int64)
    merged = np.empty(largest, dtype=np.int64)
    runs = np.empty(_MAX_RUNS + 1, dtype=np.int64)
    s_buf = np.empty(largest, dtype=start.dtype)
    e_buf = np.empty(largest, dtype=end.dtype)
    p_buf = np.empty(largest, dtype=person.dtype)
    for g in range(offsets.shape[0] - 1):
        lo = offsets[g]
        hi = offsets[g + 1]
        ordered = True
        for j in range(lo + 1, hi):
            if start[j] < start[j - 1]:
                ordered = False
                break
        if ordered:
            continue
        n_sorted += 1
        m = hi - lo
        # relative to the group's smallest start, so start and position fit one int64
        low = np.int64(start[lo])
        high = low
        for k in range(m):
            x = np.int64(start[lo + k])
            if x < low:
                low = x
            if x > high:
                high = x
        if high - low >= 2**31:  # (int64 times only) too far apart to pack: argsort
            order = np.argsort(start[lo:hi], kind="mergesort")
            for k in range(m):
                keys[k] = order[k]
        else:
            for k in range(m):
                keys[k] = ((np.int64(start[lo + k]) - low) << 32) | k
            if m <= 16:
                for k in range(1, m):
                    x = keys[k]
                    q = k - 1
                    while q >= 0 and keys[q] > x:
                        keys[q + 1] = keys[q]
                        q -= 1
                    keys[q + 1] = x
            elif not _merge_runs(keys, m, runs, merged):
                keys[:m] = np.sort(keys[:m])
        for k in range(m):
            s_buf[k] = start[lo + k]
            e_buf[k] = end[lo + k]
            p_buf[k] = person[lo + k]
        mask = (np.int64(1) << 32) - 1
        for k in range(m):
            src = keys[k] & mask
            start[lo + k] = s_buf[src]
            end[lo + k] = e_buf[src]
            person[lo + k] = p_buf[src]
    return n_sorted


#: :func:`count_repeats` compares runs of equal starts up to this long pair by pair;
#: longer runs go through a hash table of (end, person)
_REPEAT_PAIRWISE = 8

#: Slots of the hash table :func:`count_repeats` allocates once per call (runs of up
#: to half as many rows use it; longer ones, rare, allocate their own)
_REPEAT_TABLE = 1 << 12


@_jit
def _repeats_hashed(end, person, a, b, table):  # type: ignore[no-untyped-def]
    """Rows ``a+1..b-1`` that repeat an earlier row of ``a..b-1`` (same end and person).

    An open-addressing table of row numbers with linear probing, in the first
    ``size`` slots of ``table`` (overwritten), ``size`` the smallest power of two
    ``>= max(16, 2 * (b - a))``, slots by :func:`_mix32` of the end and person: O(b - a)
    expected for any values.
    """
    m = b - a
    size = 16
    while size < 2 * m:
        size *= 2
    mask = size - 1
    for s in range(size):
        table[s] = -1
    repeats = 0
    for k in range(a, b):
        x = np.int64(end[k])
        h = _mix32(((x >> 32) & _LOW32) ^ (np.int64(person[k]) & _LOW32))
        s = _mix32((x & _LOW32) ^ h) & mask
        while True:
            r = table[s]
            if r < 0:
                table[s] = k
                break
            if end[r] == end[k] and person[r] == person[k]:
                repeats += 1
                break
            s = (s + 1) & mask
    return repeats


@_jit
def _repeats_long(end, person, a, b):  # type: ignore[no-untyped-def]
    """:func:`_repeats_hashed` for a run too long for the shared table: its own table."""
    return _repeats_hashed(end, person, a, b, np.empty(4 * (b - a) + 16, dtype=np.int64))


@_jit
def count_repeats(start, end, person, offsets):  # type: ignore[no-untyped-def]
    """Rows that repeat an earlier row of their group: same start, end and person.

    Each group ``offsets[g]:offsets[g+1]`` is in start order (as
    :func:`sort_groups_by_start` leaves it), so repeats sit in one run of equal
    starts: runs of up to :data:`_REPEAT_PAIRWISE` rows are compared pair by pair,
    longer ones through a hash table of their (end, person) (O(m) expected for a run
    of m rows, whatever the values). A stay given twice (the same day appended twice,
    say) counts once here.
    """
    repeats = 0
    # allocated once, never reassigned: a reassigned array in this loop costs numba
    # reference counting on every row (0.26 s against 0.09 s for M's 39.6M rows)
    table = np.empty(_REPEAT_TABLE, dtype=np.int64)
    for g in range(offsets.shape[0] - 1):
        hi = offsets[g + 1]
        i = offsets[g] + 1
        while i < hi:
            if start[i] != start[i - 1]:  # (most rows: a run of one)
                i += 1
                continue
            a = i - 1
            b = i + 1
            while b < hi and start[b] == start[a]:
                b += 1
            i = b + 1
            m = b - a
            if m <= _REPEAT_PAIRWISE:
                for k in range(a + 1, b):
                    for q in range(a, k):
                        if end[q] == end[k] and person[q] == person[k]:
                            repeats += 1
                            break
            elif 2 * m <= _REPEAT_TABLE:
                repeats += _repeats_hashed(end, person, a, b, table)
            else:
                repeats += _repeats_long(end, person, a, b)
    return repeats


@_jit
def max_duration(start, end):  # type: ignore[no-untyped-def]
    """The longest ``end - start`` (0 for no rows)."""
    longest = 0
    for i in range(start.shape[0]):
        d = np.int64(end[i]) - start[i]
        if d > longest:
            longest = d
    return longest


#: Rows per block of :func:`venue_blocks` (a power of two).
BLOCK_SHIFT = 12


@_jit
def venue_blocks(venue_offsets, n_rows):  # type: ignore[no-untyped-def]
    """For each block of ``2**BLOCK_SHIFT`` rows, the venue holding its first row.

    With it, :func:`venues_of_rows` searches only the venues a block spans (from its
    first row's venue to the next block's), not all venues.
    """
    n_blocks = (n_rows >> BLOCK_SHIFT) + 1
    out = np.empty(n_blocks, dtype=np.int32)
    v = 0
    n_venues = venue_offsets.shape[0] - 1
    for b in range(n_blocks):
        row = b << BLOCK_SHIFT
        while v + 1 < n_venues and venue_offsets[v + 1] <= row:
            v += 1
        out[b] = v
    return out


#: :func:`venues_of_rows` scans a block spanning at most this many venues (else searches).
_SCAN_VENUES = 8


@_jit
def venues_of_rows(venue_offsets, blocks, rows, out):  # type: ignore[no-untyped-def]
    """``out[i]`` = the venue whose rows hold ``rows[i]`` (rows within the index).

    A scan of the venues of the row's block when it spans a few large ones, else a
    binary search among them: a few steps also when a block spans hundreds of small
    venues (real check-in data: a few stays per venue). The venue found is the first ``v`` with
    ``venue_offsets[v + 1] > row`` (venues without rows are passed over).
    """
    n_venues = venue_offsets.shape[0] - 1
    last_block = blocks.shape[0] - 1
    for i in range(rows.shape[0]):
        row = rows[i]
        b = row >> BLOCK_SHIFT
        lo = blocks[b]
        # the next block's first venue holds a row beyond this one: v <= hi
        hi = blocks[b + 1] if b < last_block else n_venues - 1
        if hi - lo <= _SCAN_VENUES:  # a few large venues: a short scan
            v = lo
            while venue_offsets[v + 1] <= row:
                v += 1
            out[i] = v
        else:
            # first j in [lo + 1, hi + 1] with venue_offsets[j] > row (one exists: the
            # rows of venue hi end after row); the venue is j - 1
            out[i] = _lower_bound(venue_offsets, lo + 1, hi + 1, row + 1) - 1


@_jit
def _lower_bound(values, lo, hi, x):  # type: ignore[no-untyped-def]
    """Binary search: first position in ``[lo, hi)`` whose value is >= ``x``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


#: modes of :func:`overlapping_stays`
EMIT_PAIRS = 0
EARLIEST_BY_STAY = 1
EARLIEST_BY_QUERY = 2

#: matching rules of :func:`overlapping_stays` (query [a, b), stay [s, t))
RULE_HALF_OPEN = 0  # min(t, b) - max(s, a) > 0: touching and zero-length never match
RULE_CLOSED = 1  # [s, t] and [a, b] share an instant: touching and zero-length match
RULE_ARRIVAL = 2  # a < s < b: the stay counts as its arrival instant only


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
    class_offsets,
    n_classes,
    origin,
    width,
    first_query,
    mode,
    rule,
    earliest,
    first_venue,
    venue_pairs,
    out_query,
    out_stay,
    out_start,
    out_end,
):
    """For each query interval, every stay at its venue that overlaps it enough.

    Query ``i`` is ``[q_start[i], q_end[i])`` (epoch seconds) at venue ``q_venue[i]``
    on behalf of person ``q_person[i]`` (``-1`` for nobody). A stay ``j`` (times
    ``start[j] + origin``, ``end[j] + origin``) is reported when it matches the query
    under ``rule`` (below), its overlap ``min(end, q_end) - max(start, q_start)`` is
    >= ``min_overlap``, its person differs from ``q_person[i]`` and
    ``excluded[person[j]]`` is false. Rules:

    * ``RULE_HALF_OPEN`` (0): the overlap is > 0.
    * ``RULE_CLOSED`` (1): the closed intervals share an instant (overlap >= 0), so
      touching intervals and zero-length stays inside the query match.
    * ``RULE_ARRIVAL`` (2): ``q_start < start < q_end``; the overlap reported is the
      arrival instant ``[start, start]``.

    The stays of venue ``v`` and duration class ``c`` (at most ``width * 2**c``
    seconds long) are ``class_offsets[v * n_classes + c]`` up to the next offset,
    sorted by start. A stay of class ``c`` that reaches the query started at or after
    ``q_start - width * 2**c``, so each class is read by a binary search to that
    point and a scan that stops at the first stay starting after ``q_end``: only
    stays that start near the query are touched, however long the others, and each
    stay is read once (it is in one class). No division, no set of seen stays.

    What is done with a match depends on ``mode``:

    * ``EMIT_PAIRS`` (0): matches are written to the ``out_*`` buffers (query index,
      stay, overlap start and end), starting with query ``first_query``. When the
      buffers fill up, the kernel stops before the query that did not fit and returns
      ``(n_written, next_query)``; the caller continues from ``next_query`` with fresh
      buffers, so no work is done twice. ``next_query == len(q_venue)`` means done.
    * ``EARLIEST_BY_STAY`` (1) / ``EARLIEST_BY_QUERY`` (2): nothing is written; the
      overlap start lowers ``earliest[p]`` for the stay's person (1) or the query's
      person (2), ``first_venue[p]`` takes the venue of that earliest overlap (the
      smallest venue code on a tie), and ``venue_pairs[q_venue[i]]`` counts the match.
      Returns ``(n_matches, len(q_venue))``. This is how tracing finds each person's
      ``exposed_at`` without holding every pair in memory.
    """
    cap = out_query.shape[0]
    n_out = 0
    for i in range(first_query, q_venue.shape[0]):
        n_before = n_out
        a = q_start[i]
        b = q_end[i]
        if b < a or (b == a and rule != RULE_CLOSED):
            continue
        v = q_venue[i]
        me = q_person[i]
        a_rel = a - origin
        b_rel = b - origin
        for c in range(n_classes):
            lo = class_offsets[v * n_classes + c]
            hi = class_offsets[v * n_classes + c + 1]
            if lo == hi:
                continue
            reach = width << c
            if rule == RULE_ARRIVAL:
                first = _lower_bound(start, lo, hi, a_rel + 1)
            elif a_rel < reach:
                first = lo  # relative starts are >= 0
            else:
                first = _lower_bound(start, lo, hi, a_rel - reach)
            for j in range(first, hi):
                s_rel = start[j]
                if s_rel > b_rel or (s_rel == b_rel and rule != RULE_CLOSED):
                    break  # sorted by start: nothing later reaches the query
                s = np.int64(s_rel) + origin  # int64: the sum may pass 2**31
                t = np.int64(end[j]) + origin
                if rule == RULE_HALF_OPEN:
                    if t <= a or t == s:
                        continue
                elif rule == RULE_CLOSED:
                    if t < a:
                        continue
                elif s <= a:
                    continue
                p = person[j]
                if p == me or excluded[p]:
                    continue
                o_start = s if s > a else a
                o_end = t if t < b else b
                if rule == RULE_ARRIVAL:
                    o_end = s
                if o_end - o_start < min_overlap:
                    continue
                if mode != EMIT_PAIRS:
                    who = p if mode == EARLIEST_BY_STAY else me
                    if o_start < earliest[who]:
                        earliest[who] = o_start
                        first_venue[who] = v
                    elif o_start == earliest[who] and v < first_venue[who]:
                        first_venue[who] = v
                    venue_pairs[v] += 1
                    n_out += 1
                    continue
                if n_out == cap:
                    return n_before, i  # full: this query starts the next call
                out_query[n_out] = i
                out_stay[n_out] = j
                out_start[n_out] = o_start
                out_end[n_out] = o_end
                n_out += 1
    return n_out, q_venue.shape[0]


#: Bits of a person code in a packed (tier, time, person) key of :func:`contacts_pack`,
#: and of a venue code in an int64 (time, venue) key of :func:`earliest_packed`.
PACK_SHIFT = 31
#: How many stays ahead :func:`earliest_packed` prefetches the key it will update:
#: far enough for a line from the shared cache to arrive in time. F1 for 1,000 cases
#: on city M (2 threads, the old and new kernel alternating in one process): best of
#: 15 traces 84 -> 67 ms, median 113 -> 79 ms; 8 and 32 gave about the same.
PREFETCH_AHEAD = 16
#: :func:`earliest_packed`'s key of a person not to reach (no key is smaller).
SKIP_KEY = 0


@_jit_inline
def _first_long_overlap(q_start, q_end, k0, k1, origin, s, t, min_overlap):  # type: ignore[no-untyped-def]
    """Where stay [s, t) starts to overlap the first of queries k0..k1-1 by ``min_overlap``.

    ``min_overlap`` > 0; the queries ascend; times are relative to ``origin``; -1 when
    no query is overlapped by that much.
    """
    for k in range(k0, k1):
        a = q_start[k] - origin
        if a > t:
            break  # this and later queries start after the stay ends
        o_start = s if s > a else a
        o_end = q_end[k] - origin
        o_end = t if t < o_end else o_end
        if o_end - o_start >= min_overlap:
            return o_start
    return -1


@_jit_inline
def _earliest_packed(  # type: ignore[no-untyped-def]
    q_venue,
    q_start,
    q_end,
    min_overlap,
    closed,
    start,
    end,
    person,
    class_offsets,
    n_classes,
    origin,
    width,
    venue_bits,
    best,
):
    """The body of :func:`earliest_packed`, inlined with the rule as constants where it can be.

    Each venue's run of queries is swept once per duration class: a cursor moves
    forward through the class's stays (sorted by start), so a stay is read at most
    once however many of the venue's queries reach it, and it is matched against the
    first query it can overlap, then the next ones while they start before its end.
    """
    n_matches = 0
    venue_mask = (np.int64(1) << venue_bits) - 1
    n = q_venue.shape[0]
    i0 = 0
    while i0 < n:  # the run of queries [i0, i1) at venue v
        v = q_venue[i0]
        i1 = i0 + 1
        while i1 < n and q_venue[i1] == v:
            i1 += 1
        tag = np.int64(v) & venue_mask
        for c in range(n_classes):
            lo = class_offsets[v * n_classes + c]
            hi = class_offsets[v * n_classes + c + 1]
            reach = width << c  # the longest stay of class c
            j = lo  # every stay before j was read, or ends before the queries from here
            for k in range(i0, i1):
                if j == hi:
                    break
                a = q_start[k] - origin
                b = q_end[k] - origin
                if b < a or (b == a and not closed):
                    continue  # empty: overlaps nothing
                if start[j] < a - reach:  # these stays end before a: skip them
                    j = _lower_bound(start, j + 1, hi, a - reach)
                while j < hi:
                    s = np.int64(start[j])
                    if s > b or (s == b and not closed):
                        break  # sorted by start: the next query reads on from here
                    t = np.int64(end[j])
                    if j + PREFETCH_AHEAD < hi:
                        # the key this loop may update PREFETCH_AHEAD stays from now
                        _prefetch(best, person[j + PREFETCH_AHEAD])
                    j += 1
                    # the stay ends no earlier than the queries before k (their ends
                    # ascend): its earliest overlap is with k or a later query
                    if closed:
                        if t < a:
                            continue  # it ends before k starts: no match
                    elif t <= a or t == s:
                        continue  # it ends by k's start, or lasts no time: no match
                    o_start = s if s > a else a
                    if min_overlap > 0 and (t if t < b else b) - o_start < min_overlap:
                        # too short with k; the first later query it overlaps by enough
                        # (queries may overlap when merged with a minimum), if any.
                        # With a constant minimum of 0 this compiles away
                        o_start = _first_long_overlap(
                            q_start, q_end, k + 1, i1, origin, s, t, min_overlap
                        )
                        if o_start < 0:
                            continue
                    # 0 <= o_start <= end[j] < 2**31: o_start + 1 fits 32 bits unsigned
                    key = ((o_start + 1) << venue_bits) | tag  # stored as best's type
                    p = person[j - 1]
                    # an unconditional store of the minimum: no branch to mispredict,
                    # which keeps more of these random accesses in flight (~15 % faster)
                    best[p] = min(best[p], key)
                    n_matches += 1
        i0 = i1
    return n_matches


@_jit
def earliest_packed(  # type: ignore[no-untyped-def]
    q_venue,
    q_start,
    q_end,
    min_overlap,
    closed,
    start,
    end,
    person,
    class_offsets,
    n_classes,
    origin,
    width,
    venue_bits,
    best,
):
    """Each person's earliest qualifying overlap with any query, as one packed key.

    The lean twin of :func:`overlapping_stays` in ``EARLIEST_BY_STAY`` mode for
    queries made on behalf of nobody, under the half-open rule (overlap > 0) or,
    when ``closed``, the closed rule (overlap >= 0). A matching stay of person ``p``
    with overlap start ``o`` (relative to ``origin``, so ``0 <= o < 2**31``) at venue
    ``v`` lowers ``best[p]`` to the key ``(o + 1) << venue_bits | v``: the minimum key
    is the earliest overlap (the smallest venue on a tie), one random access per match.

    Two widths: ``venue_bits`` 0 with uint32 keys (times only: 4 bytes a person, half
    the memory of a (time, venue) key, which keeps more of it in cache, ~20 % faster on
    a city of a million people; tracing uses these), or :data:`PACK_SHIFT` with int64
    keys (time and venue; finding first venues again uses these). Persons to skip
    are set to :data:`SKIP_KEY` by the caller (no key is smaller), the others to the
    largest key of ``best``'s type (every key is smaller). Needs int32 index times.

    The queries must come grouped by venue and, within a venue, with ascending starts
    and ascending ends (the merged pieces of ``tracegraph.exposure._merged_queries``
    are): each venue's stays are then swept once per duration class, and a stay that
    several of them reach is read once. Returns the number of stays matched.
    """
    if min_overlap <= 1 and not closed and venue_bits == 0:
        # tracing's default rule (half-open, whose overlaps of whole seconds are >= 1
        # anyway: tracing asks for 1), compiled with the rule and width as constants
        return _earliest_packed(
            q_venue, q_start, q_end, 0, False, start, end, person, class_offsets,
            n_classes, origin, width, 0, best,
        )  # fmt: skip
    return _earliest_packed(
        q_venue, q_start, q_end, min_overlap, closed, start, end, person, class_offsets,
        n_classes, origin, width, venue_bits, best,
    )  # fmt: skip


@_jit
def init_packed(excluded, best):  # type: ignore[no-untyped-def]
    """Start keys of :func:`earliest_packed`: ``SKIP_KEY`` if excluded, else the largest."""
    top = np.iinfo(best.dtype).max
    for p in range(best.shape[0]):
        best[p] = SKIP_KEY if excluded[p] else top


@_jit
def unpack_earliest(  # type: ignore[no-untyped-def]
    keys, lo, hi, origin, venue_bits, earliest, first_venue, reached, number, tier, excluded
):
    """Persons ``lo..hi-1``: combine the keys of :func:`earliest_packed` and unpack them.

    ``keys`` holds one row of keys per thread copy; a person's key is the minimum over
    the rows. Keys ``SKIP_KEY`` and the largest change nothing; a key
    ``(o + 1) << venue_bits | v`` lowers person ``p``'s earliest time to ``o + origin``
    (with ``venue_bits``, ``first_venue[p]`` takes ``v``, the smallest venue on a tie)
    and lists ``p`` in ``reached`` (ascending, from ``reached[0]``). With
    ``number >= 0``, also marks ``p`` traced as :func:`mark_traced` does
    (``tier[p] = number``, ``excluded[p] = True``). Returns ``(number listed, t_min,
    t_max)``, the earliest and latest of their times (the largest/smallest int64 when
    none).
    """
    top = np.iinfo(keys.dtype).max
    venue_mask = (np.int64(1) << venue_bits) - 1
    t_min = np.iinfo(np.int64).max
    t_max = np.iinfo(np.int64).min
    n_found = 0
    n_rows = keys.shape[0]
    for p in range(lo, hi):
        k = keys[0, p]
        for r in range(1, n_rows):
            k = min(k, keys[r, p])
        if k == SKIP_KEY or k == top:  # noqa: SIM109 (two compares, no tuple)
            continue
        reached[n_found] = p
        n_found += 1
        key = np.int64(k)
        when = (key >> venue_bits) - 1 + origin
        if venue_bits:
            v = np.int32(key & venue_mask)
            if when < earliest[p] or (when == earliest[p] and v < first_venue[p]):
                earliest[p] = when
                first_venue[p] = v
        elif when < earliest[p]:
            earliest[p] = when
        when = earliest[p]
        t_min = min(t_min, when)
        t_max = max(t_max, when)
        if number >= 0:
            tier[p] = number
            excluded[p] = True
    return n_found, t_min, t_max


@_jit
def _contacts_span(codes, tier, earliest):  # type: ignore[no-untyped-def]
    """Of the traced persons ``codes``: ``(n_cases, n_exposed, top tier, t_min, t_max)``.

    Persons with tier ``-1`` (not traced) are skipped; ``t_min``/``t_max`` (the
    exposed persons' earliest times) are the largest/smallest int64 when nobody is
    exposed, and the top tier is then 1.
    """
    n_cases = 0
    n_exposed = 0
    top = 1
    t_min = np.iinfo(np.int64).max
    t_max = np.iinfo(np.int64).min
    for idx in range(codes.shape[0]):
        p = codes[idx]
        k = tier[p]
        if k < 0:
            continue
        if k == 0:
            n_cases += 1
            continue
        n_exposed += 1
        if k > top:
            top = k
        w = earliest[p]
        if w < t_min:
            t_min = w
        if w > t_max:
            t_max = w
    return n_cases, n_exposed, top, t_min, t_max


@_jit
def contacts_bits(top, t_min, t_max):  # type: ignore[no-untyped-def]
    """Bits of a contact's (tier, time) key: ``(shift, key_bits)``, ``key_bits`` 0 if too wide.

    The key is ``((tier - 1) << shift) + time - t_min``; packed with the code (bits
    below ``PACK_SHIFT``) when ``key_bits + PACK_SHIFT <= 62``.
    """
    span = t_max - t_min + 1
    shift = 1
    while (span >> shift) > 0:
        shift += 1
    key_bits = 1
    while ((np.int64(top - 1) << shift) + span) >> key_bits > 0:
        key_bits += 1
    if key_bits + PACK_SHIFT > 62:
        return shift, 0
    return shift, key_bits


@_jit
def contacts_pack(  # type: ignore[no-untyped-def]
    codes, tier, earliest, t_min, shift, out_cases, packed, ids, out_ids
):
    """Cases' codes to ``out_cases``, exposed persons' packed keys to ``packed``, in order.

    The key of exposed person ``p`` is ``(((tier - 1) << shift) + earliest - t_min)
    << PACK_SHIFT | p``: sorting the keys sorts the contacts by (tier, time, code).
    When ``ids`` is not empty, ``out_ids`` takes each exposed person's id ``ids[p]``
    beside its key (``codes`` ascend within a tier: the ids are read in order; sorted
    with the keys, they need no gather at random later).
    """
    with_ids = ids.shape[0] > 0
    n_cases = 0
    i = 0
    for idx in range(codes.shape[0]):
        p = codes[idx]
        k = tier[p]
        if k == 0:
            out_cases[n_cases] = p
            n_cases += 1
        elif k > 0:
            key = (np.int64(k - 1) << shift) + (earliest[p] - t_min)
            packed[i] = (key << PACK_SHIFT) | p
            if with_ids:
                out_ids[i] = ids[p]
            i += 1


@_jit
def unpack_contacts(  # type: ignore[no-untyped-def]
    packed, t_min, shift, scale, out_code, out_tier, out_when, id_base, out_id
):
    """Decode sorted keys of :func:`contacts_pack` into codes, tiers and times.

    Times are written multiplied by ``scale`` (1: seconds; 1,000,000: the
    microseconds of a timestamp column). When ``out_id`` is not empty, it takes each
    code plus ``id_base``: the ids of an index whose ids are consecutive integers.
    """
    code_mask = (np.int64(1) << PACK_SHIFT) - 1
    time_mask = (np.int64(1) << shift) - 1
    with_ids = out_id.shape[0] > 0
    for i in range(packed.shape[0]):
        x = packed[i]
        key = x >> PACK_SHIFT
        code = x & code_mask
        out_code[i] = code
        out_tier[i] = (key >> shift) + 1
        out_when[i] = ((key & time_mask) + t_min) * scale
        if with_ids:
            out_id[i] = code + id_base


@_jit
def contacts_order(codes, tier, earliest, out_code, out_tier, out_when):  # type: ignore[no-untyped-def]
    """The traced persons ``codes`` sorted by (tier, earliest, code), on one thread.

    ``codes`` lists each traced person once, ascending within each tier (the work
    is proportional to them, not to the index's persons). The cases (tier 0) come
    first in code order (``out_when`` 0); the others by tier, then time, then code.
    Written to the ``out_*`` buffers (at least as long as ``codes``); returns the
    number written. (tier, time, code) pack into one int64 sorted by a radix sort,
    O(n); when they do not fit, the (tier, time) keys are radix-sorted by position.
    """
    n = codes.shape[0]
    n_cases, n_exposed, top, t_min, t_max = _contacts_span(codes, tier, earliest)
    if n_exposed == 0:
        t_min = t_max = 0
    shift, key_bits = contacts_bits(top, t_min, t_max)
    out_tier[:n_cases] = 0
    out_when[:n_cases] = 0
    if key_bits > 0:
        packed = np.empty(n_exposed, dtype=np.int64)
        contacts_pack(codes, tier, earliest, t_min, shift, out_code, packed, codes[:0], codes[:0])
        if n_exposed == 0:
            return n_cases
        packed = _radix_sort_bits(packed[:n_exposed], PACK_SHIFT, PACK_SHIFT + key_bits)
        unpack_contacts(
            packed, t_min, shift, 1, out_code[n_cases:], out_tier[n_cases:], out_when[n_cases:],
            0, codes[:0],
        )  # fmt: skip
        return n_cases + n_exposed
    keys = np.empty(n_exposed, dtype=np.int64)
    exposed = np.empty(n_exposed, dtype=np.int32)
    i = 0
    c = 0
    for idx in range(n):
        p = codes[idx]
        k = tier[p]
        if k == 0:
            out_code[c] = p
            c += 1
        elif k > 0:
            exposed[i] = p
            keys[i] = (np.int64(k - 1) << shift) + (earliest[p] - t_min)
            i += 1
    order = np.empty(n_exposed, dtype=np.int32)
    radix_order(keys, 0, order, np.empty(n_exposed, dtype=np.int32))
    for i in range(n_exposed):
        p = exposed[order[i]]
        out_code[n_cases + i] = p
        out_tier[n_cases + i] = tier[p]
        out_when[n_cases + i] = earliest[p]
    return n_cases + n_exposed


@_jit
def mark_traced(persons, number, earliest, tier, excluded):  # type: ignore[no-untyped-def]
    """``tier[persons] = number`` and ``excluded[persons] = True``, in one pass.

    Returns ``(t_min, t_max)``, the earliest and latest ``earliest`` of ``persons``
    (the largest/smallest int64 when there are none). (numpy's fancy-index assignment
    costs several times more per person.)
    """
    t_min = np.iinfo(np.int64).max
    t_max = np.iinfo(np.int64).min
    for i in range(persons.shape[0]):
        p = persons[i]
        tier[p] = number
        excluded[p] = True
        t_min = min(t_min, earliest[p])
        t_max = max(t_max, earliest[p])
    return t_min, t_max


@_jit
def clean_traced(persons, far, tier, earliest, first_venue, excluded):  # type: ignore[no-untyped-def]
    """Reset the entries of ``persons`` to untraced: the only entries a trace writes.

    Tier -1, earliest time ``far``, no first venue, not excluded.
    """
    for i in range(persons.shape[0]):
        p = persons[i]
        tier[p] = -1
        earliest[p] = far
        first_venue[p] = -1
        excluded[p] = False


@_jit
def newly_reached(earliest, excluded, far, out):  # type: ignore[no-untyped-def]
    """Write the persons with ``earliest < far`` not ``excluded`` to ``out``, ascending.

    One pass (instead of numpy's several with temporaries); returns how many.
    """
    k = 0
    for p in range(earliest.shape[0]):
        if earliest[p] < far and not excluded[p]:
            out[k] = p
            k += 1
    return k


@_jit
def _radix_digits(bits):  # type: ignore[no-untyped-def]
    """``(passes, digit bits)`` of an LSD radix sort over ``bits`` bits.

    Digits of at most 11 bits (2,048 counters a pass, few enough for the scatter's
    output streams to stay in cache), as few passes as the bits need, the bits
    spread evenly (the last digit may be narrower).
    """
    passes = (bits + 10) // 11
    return passes, (bits + passes - 1) // passes


@_jit
def _radix_sort_bits(values, lo_bit, hi_bit):  # type: ignore[no-untyped-def]
    """Non-negative int64 ``values`` sorted by their bits ``lo_bit..hi_bit`` (stable).

    LSD radix (digits by :func:`_radix_digits`), each pass a :func:`radix_counts`
    and a :func:`radix_scatter`. Returns the sorted array (the input or a buffer).
    With the bits below ``lo_bit`` ascending within equal keys on input, the result
    is fully sorted.
    """
    n = values.shape[0]
    bits = hi_bit - lo_bit
    if n < 2 or bits <= 0:
        return values
    passes, digit = _radix_digits(bits)
    counts = np.empty(1 << digit, dtype=np.int64)
    buf = np.empty_like(values)
    for k in range(passes):
        shift = lo_bit + k * digit
        mask = (np.int64(1) << min(digit, bits - k * digit)) - 1
        counts[:] = 0
        radix_counts(values, shift, mask, counts)
        total = 0
        for d in range(counts.shape[0]):
            c = counts[d]
            counts[d] = total
            total += c
        radix_scatter(values, shift, mask, counts, buf, values[:0], values[:0])
        values, buf = buf, values
    return values


@_jit
def radix_counts(values, shift, mask, counts):  # type: ignore[no-untyped-def]
    """Add the histogram of digit ``(values >> shift) & mask`` to ``counts``."""
    for i in range(values.shape[0]):
        counts[(values[i] >> shift) & mask] += 1


@_jit
def radix_scatter(values, shift, mask, offsets, out, payload, out_payload):  # type: ignore[no-untyped-def]
    """Place ``values`` in ``out`` by digit: the next value of digit ``d`` goes to ``offsets[d]``.

    One thread's slice of a pass of a parallel LSD radix sort (stable: values keep
    their order within a digit); ``offsets`` is advanced. When ``payload`` (one entry
    per value) is not empty, its entries move to ``out_payload`` with their values.
    """
    if payload.shape[0] > 0:
        for i in range(values.shape[0]):
            x = values[i]
            d = (x >> shift) & mask
            at = offsets[d]
            out[at] = x
            out_payload[at] = payload[i]
            offsets[d] = at + 1
        return
    for i in range(values.shape[0]):
        x = values[i]
        d = (x >> shift) & mask
        out[offsets[d]] = x
        offsets[d] += 1


@_jit
def exposure_intervals(  # type: ignore[no-untyped-def]
    persons,
    window_start,
    window_end,
    linger,
    closed,
    person_offsets,
    person_stays,
    start,
    end,
    origin,
    out_stay,
    out_start,
    out_end,
):
    """Clip each person's stays to their window and extend them by ``linger``.

    For person ``persons[i]`` with window ``[window_start[i], window_end[i])``, every
    own stay ``[s, e)`` (``s = start[j] + origin``, ``e = end[j] + origin``) with
    ``min(e, w1) - max(s, w0) > 0`` (``>= 0`` when ``closed``) gives the exposure
    interval ``[max(s, w0), min(e, w1) + linger)``. The buffers must hold the
    persons' total number of stays. Returns the number of intervals written.
    """
    n_out = 0
    for i in range(persons.shape[0]):
        p = persons[i]
        w0 = window_start[i]
        w1 = window_end[i]
        for r in range(person_offsets[p], person_offsets[p + 1]):
            j = person_stays[r]
            s = np.int64(start[j]) + origin  # int64: the sum may pass 2**31
            e = np.int64(end[j]) + origin
            s = s if s > w0 else w0
            e = e if e < w1 else w1
            if e - s > 0 or (closed and e == s):
                out_stay[n_out] = j
                out_start[n_out] = s
                out_end[n_out] = e + linger
                n_out += 1
    return n_out


@_jit
def open_stays(  # type: ignore[no-untyped-def]
    excluded,
    person,
    start,
    end,
    origin,
    venue_offsets,
    closed,
    out_row,
    out_venue,
    out_start,
    out_end,
):
    """Every stay of the persons not ``excluded``, in index order, with its venue.

    A stay ``[s, e)`` counts when ``e > s`` (or, when ``closed``, also ``e == s``), as
    :func:`exposure_intervals` counts it over an unbounded window. One sequential
    pass over the index (venues follow from the row order); the buffers must hold
    those persons' stays. Returns the number written.
    """
    n_out = 0
    v = 0
    for j in range(person.shape[0]):
        while venue_offsets[v + 1] <= j:
            v += 1
        if excluded[person[j]]:
            continue
        s = np.int64(start[j]) + origin
        e = np.int64(end[j]) + origin
        if e > s or (closed and e == s):
            out_row[n_out] = j
            out_venue[n_out] = v
            out_start[n_out] = s
            out_end[n_out] = e
            n_out += 1
    return n_out


@_jit
def window_stays(  # type: ignore[no-untyped-def]
    windows,
    linger,
    closed,
    person,
    start,
    end,
    origin,
    out_stay,
    out_start,
    out_end,
):
    """:func:`exposure_intervals` by one sequential pass over the index, in index order.

    For many persons at once: ``windows[p]`` is person ``p``'s window ``(start, end)``
    (an ``(n_persons, 2)`` array: one memory access per stay), an empty window (start
    after end) for persons not asked about. The same intervals as
    :func:`exposure_intervals`, ordered by row instead of by person; reading the
    index in order beats visiting most of it through the per-person view.
    """
    n_out = 0
    for j in range(person.shape[0]):
        p = person[j]
        w0 = windows[p, 0]
        w1 = windows[p, 1]
        if w0 > w1:
            continue
        s = np.int64(start[j]) + origin
        e = np.int64(end[j]) + origin
        s = s if s > w0 else w0
        e = e if e < w1 else w1
        if e - s > 0 or (closed and e == s):
            out_stay[n_out] = j
            out_start[n_out] = s
            out_end[n_out] = e + linger
            n_out += 1
    return n_out


@_jit
def sort_by_group_then_value(group, value, n_groups):  # type: ignore[no-untyped-def]
    """Order of rows sorted by (group, value).

    A counting sort by group, then a stable sort of each group's values: O(n +
    n_groups + sum of k log k) over groups of size k (insertion sort for the many
    small groups, no allocation). Returns ``(order, offsets)`` as
    :func:`counting_sort_into` fills them.
    """
    order = np.empty(group.shape[0], dtype=np.int64)
    offsets = np.zeros(n_groups + 1, dtype=np.int64)
    counting_sort_into(group, order, offsets)
    for g in range(n_groups):
        lo = offsets[g]
        hi = offsets[g + 1]
        if 1 < hi - lo <= 16:
            for k in range(lo + 1, hi):
                row = order[k]
                x = value[row]
                m = k
                while m > lo and value[order[m - 1]] > x:
                    order[m] = order[m - 1]
                    m -= 1
                order[m] = row
        elif hi - lo > 16:
            rows = order[lo:hi].copy()
            keys = np.empty(hi - lo, dtype=value.dtype)
            for k in range(hi - lo):
                keys[k] = value[rows[k]]
            by_value = np.argsort(keys, kind="mergesort")
            for k in range(hi - lo):
                order[lo + k] = rows[by_value[k]]
    return order, offsets


@_jit
def merge_windows(key, start, end, touching, out_group):  # type: ignore[no-untyped-def]
    """Merge overlapping windows that share a key (a venue).

    Rows are sorted by (key, start). Row ``i`` joins the current merged window when it
    has the same key and starts before its end (``start <= end`` if ``touching``).
    ``out_group[i]`` receives the merged window of row ``i`` (0, 1, ...). Returns the
    number of merged windows.
    """
    n = key.shape[0]
    g = -1
    reach = 0
    for i in range(n):
        same = g >= 0 and key[i] == key[i - 1]
        if same and (start[i] < reach or (touching and start[i] == reach)):
            if end[i] > reach:
                reach = end[i]
        else:
            g += 1
            reach = end[i]
        out_group[i] = g
    return g + 1


@_jit
def merge_pair_overlaps(key, start, end, order, piece, p_first, p_end):  # type: ignore[no-untyped-def]
    """Each key's intervals merged where they overlap: their union, in pieces.

    ``order`` lists the rows grouped by ``key`` (a stable order of the keys); each
    group is put in start order here (in place: most groups are a row or two), then
    a row joins the current piece when it starts before the piece's end so far
    (intervals that only touch stay apart). ``piece[row]`` receives the row's piece,
    ``p_first[k]`` piece ``k``'s first row (its start, and its key), ``p_end[k]`` its
    end; pieces are numbered in (key, start) order. Returns the number of pieces.
    """
    n = order.shape[0]
    n_pieces = 0
    i = 0
    while i < n:
        k = key[order[i]]
        j = i + 1
        while j < n and key[order[j]] == k:
            j += 1
        if j - i > 32:  # a large group: a stable sort of its rows by start
            rows = order[i:j].copy()
            by_start = np.argsort(start[rows], kind="mergesort")
            for t in range(j - i):
                order[i + t] = rows[by_start[t]]
        else:  # insertion sort (stable)
            for a in range(i + 1, j):
                r = order[a]
                s = start[r]
                b = a - 1
                while b >= i and start[order[b]] > s:
                    order[b + 1] = order[b]
                    b -= 1
                order[b + 1] = r
        reach = end[order[i]]
        for t in range(i, j):
            r = order[t]
            if t == i or start[r] >= reach:  # a new piece
                p_first[n_pieces] = r
                reach = end[r]
                n_pieces += 1
            elif end[r] > reach:
                reach = end[r]
            p_end[n_pieces - 1] = reach
            piece[r] = n_pieces - 1
        i = j
    return n_pieces


@_jit
def day_totals_reach(owner, start, end, day, min_total, ok):  # type: ignore[no-untyped-def]
    """Whether each interval's owner has ``>= min_total`` seconds on the interval's day.

    Intervals are grouped by ``owner`` (consecutive rows); an interval counts on
    ``day`` (its day, given: of UTC or another zone). ``ok[i]`` is set for every
    interval ``i``: the sum of ``end - start`` over the intervals of its owner and day,
    compared.
    """
    n = owner.shape[0]
    i = 0
    while i < n:
        j = i + 1
        while j < n and owner[j] == owner[i]:
            j += 1
        if j - i <= 32:  # few intervals (most owners): compare every pair
            for a in range(i, j):
                total = 0
                for b in range(i, j):
                    if day[b] == day[a]:
                        total += end[b] - start[b]
                ok[a] = total >= min_total
        else:  # many: by day
            rows = np.argsort(day[i:j], kind="mergesort") + i
            a = 0
            while a < j - i:
                c = a
                total = 0
                while c < j - i and day[rows[c]] == day[rows[a]]:
                    total += end[rows[c]] - start[rows[c]]
                    c += 1
                for t in range(a, c):
                    ok[rows[t]] = total >= min_total
                a = c
        i = j


@_jit
def _push_piece(buf, n, a, b):  # type: ignore[no-untyped-def]
    """``buf[n] = (a, b)``, in a copy twice as large when full; returns the buffer."""
    if n == buf.shape[0]:
        grown = np.empty((2 * buf.shape[0], 2), dtype=np.int64)
        grown[:n] = buf[:n]
        buf = grown
    buf[n, 0] = a
    buf[n, 1] = b
    return buf


@_jit
def merge_venue_blocks(venue, start, end, stay, stay_start, origin, m):  # type: ignore[no-untyped-def]
    """Merge a tier's exposure intervals per venue into disjoint pieces, in place.

    Each interval ``[start, end)`` stands for the closed integer interval
    ``[start, end - m]`` (a stay overlaps the interval by ``>= m`` exactly when its own
    shrunk interval meets this one, see ``exposure._match_tier``); those that overlap
    or touch merge, and each piece ``[ps, pe]`` is written back grown as
    ``[ps, pe + m)``. Empty shrunk intervals are dropped.

    The intervals must come in index row order (``stay``: the row each was cut from,
    ``stay_start``/``origin``: the index's start times): then a venue's intervals are
    contiguous, and those that start where their stay does form a few ascending runs
    (one per duration class), merged as they come; the others (cut by a window) are
    few and sorted with the runs' pieces. No sort of all intervals. The pieces
    overwrite the first rows of ``venue``, ``start``, ``end`` (by venue, then start);
    returns their number.
    """
    n = venue.shape[0]
    pieces = np.empty((64, 2), dtype=np.int64)
    k = 0
    lo = 0
    while lo < n:
        v = venue[lo]
        hi = lo + 1
        while hi < n and venue[hi] == v:
            hi += 1
        n_p = 0
        run_open = False
        prev = np.int64(0)
        ra = np.int64(0)
        rb = np.int64(0)
        for i in range(lo, hi):
            a = np.int64(start[i])
            b = np.int64(end[i]) - m
            if b < a:
                continue
            if a != np.int64(stay_start[stay[i]]) + origin:  # cut by a window
                pieces = _push_piece(pieces, n_p, a, b)
                n_p += 1
                continue
            if run_open and a >= prev:  # the run goes on
                prev = a
                if a <= rb + 1:
                    if b > rb:
                        rb = b
                    continue
            elif run_open:  # a new run
                prev = a
            if run_open:
                pieces = _push_piece(pieces, n_p, ra, rb)
                n_p += 1
            ra = a
            rb = b
            prev = a
            run_open = True
        if run_open:
            pieces = _push_piece(pieces, n_p, ra, rb)
            n_p += 1
        # the block is read: its pieces, sorted and merged, overwrite its first rows
        order = np.argsort(pieces[:n_p, 0])
        piece_open = False
        reach = np.int64(0)
        for idx in order:
            a = pieces[idx, 0]
            b = pieces[idx, 1]
            if piece_open and a <= reach + 1:
                if b > reach:
                    reach = b
                continue
            if piece_open:
                end[k - 1] = reach + m
            venue[k] = v
            start[k] = a
            k += 1
            reach = b
            piece_open = True
        if piece_open:
            end[k - 1] = reach + m
        lo = hi
    return k


@_jit
def find_windows(w_key, w_start, w_end, key, time, closed_end, out):  # type: ignore[no-untyped-def]
    """For each (key, time), the window with that key holding ``time``, or ``-1``.

    Windows are sorted by (key, start) and disjoint within a key. A window [s, e)
    holds ``s <= time < e``, or ``time <= e`` when ``closed_end``. Binary search.
    """
    n_w = w_key.shape[0]
    for i in range(key.shape[0]):
        k = key[i]
        t = time[i]
        # last window with (w_key, w_start) <= (k, t)
        lo = 0
        hi = n_w
        while lo < hi:
            mid = (lo + hi) >> 1
            if w_key[mid] < k or (w_key[mid] == k and w_start[mid] <= t):
                lo = mid + 1
            else:
                hi = mid
        j = lo - 1
        out[i] = -1
        if j >= 0 and w_key[j] == k and (t < w_end[j] or (closed_end and t == w_end[j])):
            out[i] = j


@_jit
def copresent_counts(  # type: ignore[no-untyped-def]
    start, end, venue_offsets, class_offsets, n_classes, person_offsets, person_stays, m, out
):
    """Per venue, the pairs of stays by different people overlapping by >= ``m`` (>= 1).

    Two stays overlap by >= m exactly when the closed intervals [s, e - m] meet; of
    the k stays of a venue lasting >= m, k(k - 1)/2 pairs minus those where one
    ends (``e - m``) before the other starts meet. The starts of a venue are merged
    from its duration classes (each sorted) into one sorted buffer, and a binary
    search per stay counts the stays starting after it ends. The pairs of one
    person's own stays at a venue (runs of the per-person view, which lists a
    person's stays in index order, so by venue) are counted pairwise and taken off.
    """
    n_venues = venue_offsets.shape[0] - 1
    largest = 0
    for v in range(n_venues):
        size = venue_offsets[v + 1] - venue_offsets[v]
        if size > largest:
            largest = size
    buffer = np.empty(largest, dtype=np.int64)
    cursor = np.empty(n_classes, dtype=np.int64)
    for v in range(n_venues):
        # merge the classes' sorted starts (of stays lasting >= m)
        k = 0
        for c in range(n_classes):
            cursor[c] = class_offsets[v * n_classes + c]
        while True:
            best = -1
            best_start = 0
            for c in range(n_classes):
                hi = class_offsets[v * n_classes + c + 1]
                while cursor[c] < hi and end[cursor[c]] - start[cursor[c]] < m:
                    cursor[c] += 1
                if cursor[c] < hi and (best < 0 or start[cursor[c]] < best_start):
                    best = c
                    best_start = start[cursor[c]]
            if best < 0:
                break
            buffer[k] = best_start
            k += 1
            cursor[best] += 1
        disjoint = 0
        for j in range(venue_offsets[v], venue_offsets[v + 1]):
            if end[j] - start[j] < m:
                continue
            b = end[j] - m
            # stays starting after b: k minus the first position with start > b
            disjoint += k - _lower_bound(buffer, 0, k, b + 1)
        out[v] = k * (k - 1) // 2 - disjoint
    # one person's own stays at a venue are not a pair of people
    for p in range(person_offsets.shape[0] - 1):
        lo = person_offsets[p]
        hi = person_offsets[p + 1]
        r = lo
        while r < hi:
            v_r = _venue_at(venue_offsets, person_stays[r])
            q = r + 1
            while q < hi and _venue_at(venue_offsets, person_stays[q]) == v_r:
                q += 1
            if q - r > _PAIRWISE_RUN:
                # many stays of one person at one venue (a placeholder id, say): counted
                # as the venue's are, by a sort and a binary search each, not pairwise
                out[v_r] -= _meeting_pairs(start, end, person_stays[r:q], m)
                r = q
                continue
            for x in range(r, q):
                i = person_stays[x]
                if end[i] - start[i] < m:
                    continue
                for y in range(x + 1, q):
                    j = person_stays[y]
                    if end[j] - start[j] < m:
                        continue
                    if start[i] <= end[j] - m and start[j] <= end[i] - m:
                        out[v_r] -= 1
            r = q


#: Runs of one person's stays at one venue longer than this are counted by sorting.
_PAIRWISE_RUN = 32


@_jit
def _meeting_pairs(start, end, rows, m):  # type: ignore[no-untyped-def]
    """Pairs of the stays ``rows`` (those lasting >= m) overlapping by >= ``m``: O(k log k)."""
    starts = np.empty(rows.shape[0], dtype=np.int64)
    last = np.empty(rows.shape[0], dtype=np.int64)
    n = 0
    for x in range(rows.shape[0]):
        i = rows[x]
        if end[i] - start[i] < m:
            continue
        starts[n] = start[i]
        last[n] = np.int64(end[i]) - m
        n += 1
    ordered = np.sort(starts[:n])
    disjoint = 0
    for t in range(n):  # the stays starting after this one's [s, e - m] ends
        disjoint += n - _lower_bound(ordered, 0, n, last[t] + 1)
    return n * (n - 1) // 2 - disjoint


@_jit
def _venue_at(venue_offsets, row):  # type: ignore[no-untyped-def]
    """The venue whose offsets range holds ``row`` (binary search)."""
    lo = 0
    hi = venue_offsets.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if venue_offsets[mid] <= row:
            lo = mid
        else:
            hi = mid
    return lo


@_jit
def connected_labels(n, a, b):  # type: ignore[no-untyped-def]
    """Connected components of the graph with nodes ``0..n-1`` and edges ``a[i]-b[i]``.

    Union-find with path halving. Returns the root of each node's component.
    """
    parent = np.arange(n)
    for i in range(a.shape[0]):
        x = a[i]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        y = b[i]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x != y:
            if x < y:
                parent[y] = x
            else:
                parent[x] = y
    for i in range(n):
        x = i
        while parent[x] != x:
            x = parent[x]
        parent[i] = x
    return parent


# --------------------------------------------------------------------------- scans
# Raw QR scans → stays (used by :func:`tracegraph.ingest.scans_to_stays`). The arrays
# are sorted by (person code, time); ``direction`` is 0 for an entry, 1 for an exit.
# ``closed_by`` codes: 0 exit scan, 1 default dwell, 2 next scan, 3 max_stay, 4 midnight.


@_jit
def dedupe_scans(person, venue, time, direction, within, keep):  # type: ignore[no-untyped-def]
    """Mark repeated scans: ``keep[i]`` is false when scan ``i`` repeats an earlier one.

    A scan repeats the last kept scan of the same person when it is at the same
    venue, with the same direction, at most ``within`` seconds later (``within < 0``
    keeps everything). The window is anchored at the kept (earliest) scan, so taps
    every minute for an hour are not all folded into one. Any other scan of the
    person in between ends the run. Returns the number of scans kept.
    """
    n_kept = 0
    last = -1
    for i in range(person.shape[0]):
        if (
            last >= 0
            and person[i] == person[last]
            and venue[i] == venue[last]
            and direction[i] == direction[last]
            and time[i] - time[last] <= within
        ):
            keep[i] = False
        else:
            keep[i] = True
            last = i
            n_kept += 1
    return n_kept


@_jit
def pair_scans(  # type: ignore[no-untyped-def]
    person,
    venue,
    time,
    direction,
    dwell,
    cap_at,
    max_stay,
    out_scan,
    out_end,
    out_closed_by,
    exit_used,
):
    """Turn each entry scan into a stay ``[time[i], end)``.

    The *next scan* of an entry is the person's next scan, leaving out exits of the
    entry's own second that closed an earlier entry. An entry whose next scan is an
    exit at the same venue ends there (then at most ``max_stay`` later;
    ``exit_used`` marks that exit); so does one whose next scan shares its second
    with such an exit (scans of one second are sorted entries first: leaving one
    venue and entering the next in the same second closes the first stay at its
    exit, and the second stay at its own exit). Any other entry lasts ``dwell[i]``,
    cut at ``start + max_stay``, at ``cap_at[i]`` (local midnight, or a far-future
    sentinel) and at its next scan; the rule that set the end is recorded, ties
    going to the earlier rule in that list.

    Outputs, caller-allocated with one slot per scan: ``out_scan`` (the entry's
    position), ``out_end``, ``out_closed_by``; ``exit_used`` must start all false.
    Returns the number of stays written, in input order.
    """
    n = person.shape[0]
    n_out = 0
    for i in range(n):
        if direction[i] != 0:
            continue
        s = time[i]
        # the next scan, but an exit of this entry's second that closed an earlier entry
        nxt = i + 1
        while nxt < n and person[nxt] == person[i] and time[nxt] == s and exit_used[nxt]:
            nxt += 1
        has_next = nxt < n and person[nxt] == person[i]
        paired = -1  # the exit that closes this entry, if any: among the next second's scans
        if has_next:
            k = nxt
            while k < n and person[k] == person[i] and time[k] == time[nxt]:
                if direction[k] == 1 and venue[k] == venue[i] and not exit_used[k]:
                    paired = k
                    break
                k += 1
        if paired >= 0:
            e = time[paired]
            rule = 0
            exit_used[paired] = True
            if e - s > max_stay:
                e = s + max_stay
                rule = 3
        else:
            e = s + dwell[i]
            rule = 1
            if s + max_stay < e:
                e = s + max_stay
                rule = 3
            if cap_at[i] < e:
                e = cap_at[i]
                rule = 4
            if has_next and time[nxt] < e:
                e = time[nxt]
                rule = 2
        out_scan[n_out] = i
        out_end[n_out] = e
        out_closed_by[n_out] = rule
        n_out += 1
    return n_out


@_jit
def merge_stays(person, venue, start, end, closed_by, max_stay, keep):  # type: ignore[no-untyped-def]
    """Merge each stay into the person's previous stay when they touch or overlap at one venue.

    Stays are in (person, start) order. Stay ``k`` is merged into the last kept
    stay when both are the same person's at the same venue, ``start[k] <=
    end[last]``, the last one was closed by an exit, its default dwell or the next
    scan (a stay cut at ``max_stay`` or midnight was cut on purpose) and the merged
    stay is no longer than ``max_stay``. ``end`` and ``closed_by`` of the kept stay
    are updated in place; ``keep[k]`` says whether stay ``k`` remains. Returns the
    number of stays merged away.
    """
    merged = 0
    last = -1
    for k in range(person.shape[0]):
        if (
            last >= 0
            and person[k] == person[last]
            and venue[k] == venue[last]
            and start[k] <= end[last]
            and closed_by[last] <= 2
            and max(end[k], end[last]) - start[last] <= max_stay
        ):
            if end[k] > end[last]:
                end[last] = end[k]
                closed_by[last] = closed_by[k]
            keep[k] = False
            merged += 1
        else:
            keep[k] = True
            last = k
    return merged


# --------------------------------------------------------------------------- scans, lean path
# Used by :meth:`tracegraph.VenueIndex.from_scans`, which keeps 4-byte codes and times
# per scan instead of tables: ids are encoded while reading, scans are grouped by person
# with an int32 counting sort, and repeats are squeezed out in place.

# odd multipliers below 2**31: a 32-bit value times one stays below 2**63 (no overflow,
# so the hash is the same compiled or not)
_MIX_A = 0x7FEB352D
_MIX_B = 0x6C8E9CF5
_LOW32 = 0xFFFFFFFF
_LOW31 = 0x7FFFFFFF


@_jit
def _mix32(h):  # type: ignore[no-untyped-def]
    """A 32-bit multiply-xorshift mix (as "lowbias32"): each output bit depends on every input."""
    h ^= h >> 16
    h = (h * _MIX_A) & _LOW32
    h ^= h >> 15
    h = (h * _MIX_B) & _LOW32
    h ^= h >> 16
    return h


#: modes of :func:`encode_int64` and :func:`encode_bytes`: encode every row; only
#: look rows up (threads may look up slices at once); encode the rows not found
ENCODE_ALL = 0
LOOKUP_ONLY = 1
ENCODE_MISSING = 2


#: rows hashed, and their slots and records fetched, together (encode_int64, encode_bytes)
_ENCODE_GROUP = 16


@_jit
def encode_int64(values, slots, distinct, n_distinct, out, mode):  # type: ignore[no-untyped-def]
    """Dictionary-encode int64 ``values`` through an open-addressing hash table.

    ``slots`` (int32, a power of two long, at most 2**32, ``-1`` for empty) holds codes;
    code ``c`` stands for ``distinct[c]``. A value not seen before gets the next code
    and is appended to ``distinct``, which must have room for ``len(values)`` more.
    The caller keeps the table at most half full, so a probe always ends. ``out``
    receives the code of every value, in first-seen order. Returns the new number of
    codes. The slot is the low bits of a 32-bit mix of the value's halves (dense ids
    spread evenly); collisions probe linearly. ``mode`` as for :func:`encode_bytes`
    (:data:`LOOKUP_ONLY`: ``out`` -1 for values not in the table, nothing inserted,
    returns how many; :data:`ENCODE_MISSING`: only rows whose ``out`` is negative).

    As in :func:`encode_bytes`, rows go in groups of :data:`_ENCODE_GROUP`: their
    slots are asked for, then the distinct values those slots point to, and only then
    is each row looked up (and inserted) in order: the misses of a group overlap.
    """
    mask = slots.shape[0] - 1
    n = n_distinct
    missing = 0
    n_rows = values.shape[0]
    places = np.empty(_ENCODE_GROUP, dtype=np.int64)
    for g0 in range(0, n_rows, _ENCODE_GROUP):
        g1 = min(g0 + _ENCODE_GROUP, n_rows)
        for i in range(g0, g1):
            x = np.int64(values[i])
            j = _mix32((x & _LOW32) ^ _mix32((x >> 32) & _LOW32)) & mask
            places[i - g0] = j
            if mode != ENCODE_MISSING or out[i] < 0:
                _prefetch_read(slots, j)
        for i in range(g0, g1):
            if mode == ENCODE_MISSING and out[i] >= 0:
                continue
            c = slots[places[i - g0]]
            if c >= 0:
                _prefetch_read(distinct, c)
        for i in range(g0, g1):
            if mode == ENCODE_MISSING and out[i] >= 0:
                continue
            x = np.int64(values[i])
            j = places[i - g0]
            while True:
                c = slots[j]
                if c < 0:
                    if mode == LOOKUP_ONLY:
                        missing += 1
                        break
                    c = n
                    slots[j] = n
                    distinct[n] = x
                    n += 1
                    break
                if distinct[c] == x:
                    break
                j = (j + 1) & mask
            out[i] = c
    return missing if mode == LOOKUP_ONLY else n


#: FNV-1a, 32 bits: offset basis and prime (the prime is below 2**25: a 32-bit state
#: times it stays below 2**63)
_FNV_BASIS = 0x811C9DC5
_FNV_PRIME = 0x01000193


@_jit
def _hash_bytes(data, lo, hi):  # type: ignore[no-untyped-def]
    """32-bit hash of ``data[lo:hi]``: FNV-1a over the bytes, then :func:`_mix32`."""
    h = np.int64(_FNV_BASIS)
    for k in range(lo, hi):
        h = ((h ^ np.int64(data[k])) * _FNV_PRIME) & _LOW32
    return _mix32(h)


#: :func:`encode_bytes`: a slot is ``tag << SLOT_TAG_SHIFT | record offset``
SLOT_TAG_SHIFT = 40
_SLOT_OFFSET_MASK = (1 << 40) - 1
_SLOT_TAG_MASK = (1 << 23) - 1  # 23 bits of tag: slots stay >= 0


@_jit
def _read_u32(buf, at):  # type: ignore[no-untyped-def]
    """The little-endian unsigned 32-bit integer at ``buf[at:at + 4]`` (uint8)."""
    return (
        np.int64(buf[at])
        | (np.int64(buf[at + 1]) << 8)
        | (np.int64(buf[at + 2]) << 16)
        | (np.int64(buf[at + 3]) << 24)
    )


@_jit
def _write_u32(buf, at, x):  # type: ignore[no-untyped-def]
    for k in range(4):
        buf[at + k] = (x >> (8 * k)) & 0xFF


@_jit
def encode_bytes(offsets, data, slots, records, used, n_distinct, out, mode):  # type: ignore[no-untyped-def]
    """Dictionary-encode byte strings (an Arrow string array's buffers) by a hash table.

    String ``i`` is ``data[offsets[i]:offsets[i + 1]]``. Each distinct string is a
    record in ``records`` (uint8; its first ``used`` bytes are filled): its code and
    its length as 4-byte little-endian integers, then its bytes; records follow each
    other in code order. ``slots`` (int64, a power of two long, ``-1`` for empty, at
    most half full after the call) holds ``tag << SLOT_TAG_SHIFT | record offset``,
    the tag being 23 bits of the string's :func:`_hash_bytes`: a probe compares tags
    in the slot and reads a record only when they are equal. A string not seen before
    gets the next code and a new record; the caller gives ``records`` room for 8 more
    bytes per row plus all of this batch's bytes. ``out`` receives every string's
    code, in first-seen order. Returns ``(codes, bytes used)``.

    A lookup costs a random read of a slot and one of a record (tens of millions of
    rows against millions of distinct ids: most of them miss every cache). Rows are
    taken in groups of :data:`_ENCODE_GROUP`: all of a group's strings are hashed
    first, then their slots are asked for (:func:`_prefetch_read`, in a loop of nothing
    else, so that all the misses overlap: interleaved with the hashing, only two or
    three were in flight at once, and M's text ids took twice as long), then the
    records those slots point to, and only then is each row looked up (now from
    cache) in order, which inserts what is new. No Python object per string.

    ``mode`` splits the work for threads: :data:`ENCODE_ALL` (0) as above;
    :data:`LOOKUP_ONLY` (1) only reads the table (threads may look up slices of the
    rows at once): a string not in it gets ``out`` -1, nothing is inserted, and the
    first value returned is the number of such rows; :data:`ENCODE_MISSING` (2)
    encodes only the rows whose ``out`` is negative, in row order, so that after a
    lookup the new strings get exactly the codes ``ENCODE_ALL`` would have given.
    """
    mask = slots.shape[0] - 1
    n = n_distinct
    used = np.int64(used)
    n_rows = offsets.shape[0] - 1
    hashes = np.empty(_ENCODE_GROUP, dtype=np.int64)
    missing = 0
    for g0 in range(0, n_rows, _ENCODE_GROUP):
        g1 = min(g0 + _ENCODE_GROUP, n_rows)
        for i in range(g0, g1):
            if mode == ENCODE_MISSING and out[i] >= 0:
                continue
            hashes[i - g0] = _hash_bytes(data, offsets[i], offsets[i + 1])
        for i in range(g0, g1):
            if mode == ENCODE_MISSING and out[i] >= 0:
                continue
            _prefetch_read(slots, hashes[i - g0] & mask)
        for i in range(g0, g1):
            if mode == ENCODE_MISSING and out[i] >= 0:
                continue
            slot = slots[hashes[i - g0] & mask]
            if slot >= 0:
                _prefetch_read(records, slot & _SLOT_OFFSET_MASK)
        for i in range(g0, g1):
            if mode == ENCODE_MISSING and out[i] >= 0:
                continue
            lo = np.int64(offsets[i])
            size = np.int64(offsets[i + 1]) - lo
            h = hashes[i - g0]
            tag = (h >> 9) & _SLOT_TAG_MASK
            j = h & mask
            while True:
                slot = slots[j]
                if slot < 0:
                    if mode == LOOKUP_ONLY:
                        c = -1
                        missing += 1
                        break
                    c = n
                    slots[j] = (tag << SLOT_TAG_SHIFT) | used
                    _write_u32(records, used, c)
                    _write_u32(records, used + 4, size)
                    for k in range(size):
                        records[used + 8 + k] = data[lo + k]
                    used += 8 + size
                    n += 1
                    break
                at = slot & _SLOT_OFFSET_MASK
                if (slot >> SLOT_TAG_SHIFT) == tag and _read_u32(records, at + 4) == size:
                    same = True
                    for k in range(size):
                        if records[at + 8 + k] != data[lo + k]:
                            same = False
                            break
                    if same:
                        c = _read_u32(records, at)
                        break
                j = (j + 1) & mask
            out[i] = c
    if mode == LOOKUP_ONLY:
        return missing, used
    return n, used


@_jit
def rehash(slots, records, new_slots):  # type: ignore[no-untyped-def]
    """Move the filled ``slots`` of :func:`encode_bytes` into ``new_slots`` (all ``-1``).

    A slot keeps only a tag of its string's hash: the hash is computed again from the
    record, so that the slot's place follows all of its bits.
    """
    mask = new_slots.shape[0] - 1
    for k in range(slots.shape[0]):
        slot = slots[k]
        if slot < 0:
            continue
        at = slot & _SLOT_OFFSET_MASK
        size = _read_u32(records, at + 4)
        j = _hash_bytes(records, at + 8, at + 8 + size) & mask
        while new_slots[j] >= 0:
            j = (j + 1) & mask
        new_slots[j] = slot


@_jit
def record_strings(records, n_distinct, out_offsets, out_data):  # type: ignore[no-untyped-def]
    """The strings of :func:`encode_bytes`' records, in code order, as Arrow buffers."""
    at = 0
    pos = 0
    out_offsets[0] = 0
    for c in range(n_distinct):
        size = _read_u32(records, at + 4)
        for k in range(size):
            out_data[pos + k] = records[at + 8 + k]
        pos += size
        out_offsets[c + 1] = pos
        at += 8 + size


@_jit
def encode_dense(values, lo, lookup, distinct, n_distinct, out):  # type: ignore[no-untyped-def]
    """Dictionary-encode int64 ``values`` through a direct table (dense ids: no hashing).

    ``lookup[v - lo]`` is the code of id ``v`` (``-1``: not seen yet). Otherwise as
    :func:`encode_int64`: new ids get the next code and are appended to ``distinct``;
    ``out`` receives every value's code. Stops at the first value outside the table
    (so that the caller need not find the values' range first: it widens the table
    and calls again from there). Returns ``(number of codes, values encoded)``.
    """
    n = n_distinct
    hi = lo + (lookup.shape[0] - 1)  # (compared, not subtracted first: no overflow)
    for i in range(values.shape[0]):
        v = np.int64(values[i])
        if v < lo or v > hi:
            return n, i
        c = lookup[v - lo]
        if c < 0:
            c = n
            lookup[v - lo] = n
            distinct[n] = v
            n += 1
        out[i] = c
    return n, values.shape[0]


@_jit
def dense_ranks(lookup, lo, rank, ids):  # type: ignore[no-untyped-def]
    """Sort ids encoded through a direct table (:func:`encode_dense`) by walking the table.

    ``lookup[v - lo]`` is the code of id ``v`` or -1. Writes ``rank[code]`` (the id's
    position in ascending order) and ``ids`` (the ids in ascending order); returns the
    number of ids. O(table size), no comparison sort.
    """
    r = 0
    for j in range(lookup.shape[0]):
        c = lookup[j]
        if c >= 0:
            rank[c] = r
            ids[r] = lo + j
            r += 1
    return r


@_jit
def _floor_div(x, per_s):  # type: ignore[no-untyped-def]
    """``x // per_s`` with a constant divisor per unit (a multiply, once inlined in a loop)."""
    if per_s == 1_000:
        return x // 1_000
    if per_s == 1_000_000:
        return x // 1_000_000
    if per_s == 1:
        return x
    return x // 1_000_000_000


@_jit
def stay_seconds(raw_start, raw_end, per_s, origin, out_start, out_end):  # type: ignore[no-untyped-def]
    """A batch's start and end times as whole seconds after ``origin``, in one pass.

    ``raw_*`` are int64 timestamps in units of ``1 / per_s`` seconds (``per_s`` in 1,
    10**3, 10**6, 10**9), floored to seconds; ``out_* = seconds - origin``, or 0 where
    the outputs' dtype cannot hold it (the caller sees from the returned range that
    the outputs must be wider, and writes them again).
    Returns ``(min start, max start, min end, max end, first row with end < start or
    -1, longest end - start)`` in seconds (for no rows: largest and smallest int64,
    -1 and 0); end < start is compared before flooring.
    """
    # (tested, not left to wrap: as plain Python, NUMBA_DISABLE_JIT=1, a store out of
    # range raises)
    low = np.iinfo(out_start.dtype).min
    high = np.iinfo(out_start.dtype).max
    lo_s = np.iinfo(np.int64).max
    hi_s = np.iinfo(np.int64).min
    lo_e = lo_s
    hi_e = hi_s
    bad = -1
    longest = np.int64(0)
    for i in range(raw_start.shape[0]):
        s = _floor_div(raw_start[i], per_s)
        e = _floor_div(raw_end[i], per_s)
        longest = max(longest, e - s)
        lo_s = min(lo_s, s)
        hi_s = max(hi_s, s)
        lo_e = min(lo_e, e)
        hi_e = max(hi_e, e)
        if raw_end[i] < raw_start[i] and bad < 0:  # also within a second: 1.7 s to 1.5 s
            bad = i
        s -= origin
        e -= origin
        out_start[i] = s if low <= s <= high else 0
        out_end[i] = e if low <= e <= high else 0
    return lo_s, hi_s, lo_e, hi_e, bad, longest


@_jit
def _count_keys(keys, counts):  # type: ignore[no-untyped-def]
    """``counts[k + 1] += 1`` for each key ``k`` (running sums then give counting-sort offsets)."""
    for i in range(keys.shape[0]):
        counts[keys[i] + 1] += 1


@_jit
def count_buckets(keys, shift, counts):  # type: ignore[no-untyped-def]
    """``counts[k >> shift] += 1`` for each key ``k``: bucket sizes for :func:`partition_rows`."""
    for i in range(keys.shape[0]):
        counts[keys[i] >> shift] += 1


@_jit
def partition_rows(keys, first, shift, cursor, out_keys, out_rows):  # type: ignore[no-untyped-def]
    """Rows partitioned by bucket (``key >> shift``): the first pass of :func:`sort_bucket_rows`.

    Row ``first + i`` and its key go to slot ``cursor[keys[i] >> shift]`` of
    ``out_rows`` and ``out_keys``, and the cursor is advanced, so a bucket's rows keep
    their input order. With a few hundred buckets every write goes to one of a few
    hundred cache lines (where a direct counting sort by key writes to one line per
    key: a miss per row once the keys' lines no longer fit in the cache).
    """
    for i in range(keys.shape[0]):
        k = keys[i]
        b = k >> shift
        at = cursor[b]
        cursor[b] = at + 1
        out_keys[at] = k
        out_rows[at] = first + i


@_jit
def sort_bucket_rows(keys, rows, bucket_offsets, shift, n_keys, b_lo, b_hi, offsets, scratch):  # type: ignore[no-untyped-def]
    """The second pass: each bucket's rows put in key order, within the bucket's slots.

    For buckets ``b_lo <= b < b_hi`` (slots ``bucket_offsets[b]:bucket_offsets[b + 1]``
    of ``keys`` and ``rows``, keys ``b << shift`` up to ``(b + 1) << shift``, below
    ``n_keys``), a stable counting sort of ``rows`` by key in place (through
    ``scratch``, at least as long as the largest bucket), and ``offsets[k + 1]`` (the
    end of key ``k``'s rows, all rows counted) for each of the buckets' keys. The
    bucket's keys' counts and rows are few enough to stay in the cache.
    """
    width = 1 << shift
    cursor = np.empty(width + 1, dtype=np.int64)
    for b in range(b_lo, b_hi):
        lo = bucket_offsets[b]
        hi = bucket_offsets[b + 1]
        k0 = b << shift
        m = min(width, n_keys - k0)
        cursor[: m + 1] = 0
        for j in range(lo, hi):
            cursor[keys[j] - k0 + 1] += 1
        cursor[0] = lo
        for t in range(m):
            cursor[t + 1] += cursor[t]
            offsets[k0 + t + 1] = cursor[t + 1]
        scratch[: hi - lo] = rows[lo:hi]
        for j in range(lo, hi):
            t = keys[j] - k0
            at = cursor[t]
            cursor[t] = at + 1
            rows[at] = scratch[j - lo]


@_jit
def renumber(codes, rank):  # type: ignore[no-untyped-def]
    """``codes[i] = rank[codes[i]]``, in place."""
    for i in range(codes.shape[0]):
        codes[i] = rank[codes[i]]


@_jit
def counting_sort_into(keys, order, offsets):  # type: ignore[no-untyped-def]
    """Stable counting sort of ``keys`` (ints in ``[0, len(offsets) - 1)``) into buffers.

    ``offsets`` has ``n_keys + 1`` slots and must start all zero; rows with key ``k``
    end up in ``order[offsets[k]:offsets[k+1]]``, in input order (an int32 ``order``
    halves the memory of an int64 one). O(n + n_keys).
    """
    _count_keys(keys, offsets)
    for k in range(offsets.shape[0] - 1):
        offsets[k + 1] += offsets[k]
    _scatter_rows(keys, 0, offsets[:-1].copy(), order)


@_jit
def _scan_after(time, direction, venue, a, b):  # type: ignore[no-untyped-def]
    """Whether scan ``a`` sorts strictly after scan ``b`` by (time, direction, venue)."""
    if time[a] != time[b]:
        return time[a] > time[b]
    if direction[a] != direction[b]:
        return direction[a] > direction[b]
    return venue[a] > venue[b]


@_jit
def sort_groups_by_time(order, offsets, time, direction, venue):  # type: ignore[no-untyped-def]
    """Sort each group ``order[offsets[g]:offsets[g+1]]`` by (time, direction, venue) of its rows.

    Stable: rows that tie keep their order. A group already in order (the usual case:
    scans arrive in time order) is only checked. Returns the number of groups sorted.
    """
    n_sorted = 0
    for g in range(offsets.shape[0] - 1):
        lo = offsets[g]
        hi = offsets[g + 1]
        ordered = True
        for k in range(lo + 1, hi):
            if _scan_after(time, direction, venue, order[k - 1], order[k]):
                ordered = False
                break
        if ordered:
            continue
        rows = order[lo:hi].copy()
        # least significant key first, each pass a stable sort
        rows = rows[np.argsort(venue[rows], kind="mergesort")]
        rows = rows[np.argsort(direction[rows], kind="mergesort")]
        rows = rows[np.argsort(time[rows], kind="mergesort")]
        order[lo:hi] = rows
        n_sorted += 1
    return n_sorted


@_jit
def _run_of(run_end, row):  # type: ignore[no-untyped-def]
    """The run holding ``row``: the first run whose (exclusive) end is past it."""
    return _lower_bound(run_end, 0, run_end.shape[0], row + 1)


@_jit
def drop_repeated_scans(  # type: ignore[no-untyped-def]
    offsets, venue, time, direction, row, run_end, run_rank, run_input, within, dup_per_input
):
    """Squeeze exact duplicates and repeats out of person-grouped scans, in place.

    The scans of group (person) ``g`` are ``offsets[g]:offsets[g+1]``, sorted by
    (time, direction, venue); ``row`` is each scan's position in reading order. Scans
    equal in all three are exact duplicates: one is kept, and each other one counts
    against its input in ``dup_per_input``. The one kept is the smallest ``run_rank``
    (of the run of rows holding it; ``run_end`` are the runs' ends), then the first
    read, as :func:`tracegraph.ingest.read_scans` keeps it. Then, as
    :func:`dedupe_scans` does, a scan at the venue and with the direction of the
    group's last kept scan, at most ``within`` seconds after it, is a repeat.

    ``venue``, ``time`` and ``direction`` are compacted in place and ``offsets``
    rewritten to the kept scans. Returns ``(n_kept, n_duplicates)``.
    """
    n_groups = offsets.shape[0] - 1
    w = 0
    n_dup = 0
    lo = offsets[0]
    for g in range(n_groups):
        hi = offsets[g + 1]
        offsets[g] = w
        last = -1
        i = lo
        while i < hi:
            j = i + 1
            while (
                j < hi
                and time[j] == time[i]
                and direction[j] == direction[i]
                and venue[j] == venue[i]
            ):
                j += 1
            if j - i > 1:
                best = i
                best_rank = run_rank[_run_of(run_end, row[i])]
                for k in range(i + 1, j):
                    rank = run_rank[_run_of(run_end, row[k])]
                    if rank < best_rank or (rank == best_rank and row[k] < row[best]):
                        best = k
                        best_rank = rank
                for k in range(i, j):
                    if k != best:
                        dup_per_input[run_input[_run_of(run_end, row[k])]] += 1
                n_dup += j - i - 1
            if not (
                last >= 0
                and venue[i] == venue[last]
                and direction[i] == direction[last]
                and np.int64(time[i]) - time[last] <= within
            ):
                venue[w] = venue[i]
                time[w] = time[i]
                direction[w] = direction[i]
                last = w
                w += 1
            i = j
        lo = hi
    offsets[n_groups] = w
    return w, n_dup


@_jit
def radix_order(keys, lo, order, scratch):  # type: ignore[no-untyped-def]
    """Stable order of ``keys`` (integers ``>= lo``, ``keys - lo`` within int64): LSD radix sort.

    ``order`` and ``scratch`` are int32 buffers as long as ``keys``; the order is
    written to ``order``. 16 bits a pass, one pass per 16 bits of ``max(keys) - lo``,
    each O(n).
    """
    n = keys.shape[0]
    span = 0
    for i in range(n):
        order[i] = i
        d = np.int64(keys[i]) - lo
        if d > span:
            span = d
    src = order
    dst = scratch
    shift = 0
    passes = 0
    counts = np.empty(65536, dtype=np.int64)
    while shift < 64 and (span >> shift) > 0:
        counts[:] = 0
        for i in range(n):
            counts[((np.int64(keys[src[i]]) - lo) >> shift) & 0xFFFF] += 1
        total = 0
        for k in range(65536):
            c = counts[k]
            counts[k] = total
            total += c
        for i in range(n):
            k = ((np.int64(keys[src[i]]) - lo) >> shift) & 0xFFFF
            dst[counts[k]] = src[i]
            counts[k] += 1
        src, dst = dst, src
        shift += 16
        passes += 1
    if passes % 2:
        order[:] = scratch
