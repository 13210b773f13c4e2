"""Stays → :class:`VenueIndex`: stays grouped by venue and duration, sorted by time.

The index answers "which stays at venue *v* overlap [a, b)?" by touching only the
stays of *v* that start shortly before or during [a, b), whatever the length of
the other stays, and "which stays does person *p* have?" through a per-person view.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracegraph import _kernels, _memory, _read_stays
from tracegraph._parallel import (
    count_rows,
    group_by_key,
    key_runs,
    run_all,
    scatter_slices,
    split_rows,
)
from tracegraph._progress import _Bar, progress_bar
from tracegraph._time import (
    check_zone,
    duration_seconds,
    format_bytes,
    format_duration,
    format_instant,
    instant_seconds,
    seconds_to_timestamp,
)
from tracegraph._typing import DurationLike, MatchRule, TableLike
from tracegraph.errors import ArgumentError, DataWarning, DurationError, PersonNotFound, SchemaError
from tracegraph.ingest import (
    _DEFAULT_BATCH,
    IngestReport,
    ScanErrors,
    ScanSchema,
    Stays,
    _compact_stays,
    clean_stays,
    encode_ids,
    ids_array,
)

__all__ = ["VenueIndex"]

_DEFAULT_BUCKET = "1h"
#: An index holds fewer stays than this (its row numbers are int32).
_MAX_STAYS = 2**31 - 1


@dataclass(frozen=True, repr=False, eq=False)
class VenueIndex:
    """Stays grouped by venue and by duration class, sorted by start; a per-person view.

    Build one with :meth:`from_stays`. All arrays are in the index's own order
    (stays sorted by venue, then duration class, then start).

    Attributes
    ----------
    persons, venues : pyarrow.Array
        The distinct person and venue ids, sorted; integer code ``c`` stands for
        ``persons[c]`` (or ``venues[c]``).
    bucket_width : int
        The shortest duration class in seconds: class ``c`` holds the stays lasting
        at most ``bucket_width * 2**c`` seconds.
    origin : int
        Epoch seconds that ``start`` and ``end`` count from (the earliest start).
    start, end : numpy.ndarray
        Times of the stays in seconds since ``origin`` (int32 when the stays span
        less than 68 years, else int64); :meth:`start_seconds` and
        :meth:`end_seconds` give epoch seconds.
    person : numpy.ndarray
        int32 person code of each stay; :meth:`venue_of` gives venue codes.
    pseudonymized : bool
        Whether the person ids are keyed pseudonyms (:func:`tracegraph.pseudonymize`):
        set by :meth:`from_scans` with a ``pseudonym_key`` and by
        ``from_stays(..., pseudonymized=True)``, kept by :meth:`append`,
        :meth:`purge` and saving. Cases must then be given as pseudonyms too.

    See Also
    --------
    tracegraph.trace : trace contacts of cases through an index.

    Notes
    -----
    A query "stays at venue v overlapping [a, b)" reads, for each duration class c of
    v, the stays that start in [a - bucket_width * 2**c, b): a binary search and a
    scan over sorted starts. Long stays sit in their own classes, so an 18-hour shift
    is found without scanning 18 hours of 2-minute visits, and a crowded venue costs
    nothing to queries elsewhere. Each stay is in one class and is read at most once
    per query. Building is a stable counting sort by (venue, class), O(n) for stays
    that arrive in time order (otherwise the groups not in start order are sorted).
    Memory is 16 bytes per stay (int32 start, end, person, and the per-person view),
    plus the id dictionaries and offsets.

    Examples
    --------
    >>> import pyarrow as pa
    >>> stays = pa.table({
    ...     "person": ["ann", "bob", "cat"],
    ...     "venue": ["cafe", "cafe", "shop"],
    ...     "start": pa.array([0, 1800, 0], pa.timestamp("s", tz="UTC")),
    ...     "end": pa.array([3600, 5400, 600], pa.timestamp("s", tz="UTC")),
    ... })
    >>> index = tg.VenueIndex.from_stays(stays)
    >>> index
    VenueIndex(3 stays, 3 persons, 2 venues, 1970-01-01 00:00Z..1970-01-01 01:30Z, bucket=1h, ...)
    >>> index.stays_at("cafe", "1970-01-01T01:00:00Z", "1970-01-01T02:00:00Z")["person"].to_pylist()
    ['bob']
    """

    persons: pa.Array
    venues: pa.Array
    bucket_width: int
    origin: int
    n_classes: int
    start: np.ndarray
    end: np.ndarray
    person: np.ndarray
    venue_offsets: np.ndarray
    class_offsets: np.ndarray
    person_offsets: np.ndarray
    person_stays: np.ndarray
    #: Whether the person ids are keyed pseudonyms (:func:`tracegraph.pseudonymize`), as
    #: the builder said: cases must then be given as pseudonyms too. Saved with the index.
    pseudonymized: bool = False

    # ------------------------------------------------------------------ building

    @classmethod
    def from_stays(
        cls,
        stays: TableLike,
        /,
        *,
        tz: str | None = None,
        bucket_width: DurationLike = _DEFAULT_BUCKET,
        pseudonymized: bool = False,
        progress: bool | None = None,
    ) -> VenueIndex:
        """Build an index from a table of stays.

        Parameters
        ----------
        stays : table, path, list of paths, reader or dataset
            One row per stay with columns ``person`` and ``venue`` (integer or string
            ids) and ``start`` and ``end`` (timestamps of any unit). A stay is the
            half-open interval [start, end). Other columns are ignored. A
            ``pyarrow.Table``, ``pandas.DataFrame`` or ``polars.DataFrame``; or a
            source read batch by batch: a Parquet or Arrow IPC file, a folder of them
            (read recursively, in name order; names starting with ``.`` or ``_``
            skipped, any other file not Parquet or Arrow IPC an error), a list of
            those, a ``pyarrow.RecordBatchReader`` or a ``pyarrow.dataset.Dataset``.
            Files must agree on the ids' kind: integers of different types meet as
            ``int64`` (``uint64`` when some ids are 2**63 or more and none is
            negative), text as ``string``; integers beside text are an error.
        tz : str, optional
            Zone in which to read *naive* timestamps (``"UTC"``,
            ``"Asia/Ho_Chi_Minh"``). Zone-aware timestamps need none; naive ones
            without ``tz`` are an error, since guessing the zone shifts every contact.
        bucket_width : duration, default ``"1h"``
            Width of the time buckets. Any width gives the same answers; it trades
            memory (long stays are entered in every bucket they cover) against the
            work per query (short queries read whole buckets). One hour suits visits
            of minutes to hours.
        pseudonymized : bool, default False
            Whether the person ids are keyed pseudonyms (made by
            :func:`tracegraph.pseudonymize`): recorded as the index's
            ``pseudonymized``, and saved with it, so that whoever traces it knows to
            give the cases as pseudonyms.
        progress : bool, optional
            Show a progress bar of the build's steps (``None``: the global setting,
            see :func:`tracegraph.set_progress`).

        Returns
        -------
        VenueIndex

        Raises
        ------
        SchemaError
            If a column is missing or has the wrong type, an id or time is null, or a
            stay ends before it starts (for sources, the message gives the file and
            the row, counted over the whole source).
        ArgumentError
            If ``pseudonymized`` is not a bool.
        TimezoneError
            If timestamps are naive and ``tz`` is not given.
        ScanFileError
            If a file is missing, not Parquet or Arrow IPC, truncated or corrupt, or
            a folder holds no such file.
        DurationError
            If ``bucket_width`` is not a positive whole number of seconds.

        Warns
        -----
        DataWarning
            If every stay lasts zero seconds (check-in times in both columns?), or if
            stays repeat others exactly (same person, venue, start and end): each copy
            counts again in edges, pair counts, exposure hours and (a case's stay)
            CWA risk scores.

        Notes
        -----
        Times are floored to whole seconds. Building is O(n) for stays that arrive
        in time order and O(n log n) otherwise, with no Python loop per stay: a
        counting scatter puts each stay in its (venue, duration class) group (threads
        count and scatter consecutive slices of the rows), only groups not already
        in start order are sorted, and the per-person view is grouped in two
        cache-friendly passes (by blocks of persons, then by person). A source is
        never held whole: files are decoded on a second thread while the batch
        before is checked and encoded (on Linux a third thread maps the buffers'
        memory ahead of the encoding), and only codes are kept (16 bytes per stay);
        the index's columns are then made one at a time, each input column's memory
        taking the next, so the peak is about 20 bytes per stay. Use a source for
        files larger than memory would allow as a table; it is also the fastest way
        in.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> index.n_stays == tiny_city.stays.num_rows
        True

        Straight from Parquet files, batch by batch:

        >>> import pyarrow.parquet as pq, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> pq.write_table(tiny_city.stays, folder / "stays.parquet")
        >>> tg.VenueIndex.from_stays(folder).n_stays == index.n_stays
        True
        """
        width = duration_seconds(bucket_width, "bucket_width")
        if width <= 0:
            raise DurationError(
                f"`bucket_width`: expected a positive duration, got {bucket_width!r}"
            )
        if tz is not None:  # checked even when every time has its zone: a typo is an error
            check_zone(tz)
        if not isinstance(pseudonymized, bool | np.bool_):
            raise ArgumentError(f"`pseudonymized`: expected True or False, got {pseudonymized!r}")
        index, instants = cls._build_from_stays(stays, tz=tz, width=width, progress=progress)
        if instants:
            _warn_instants(
                index.n_stays,
                "were check-in times put in both columns? "
                "tg.scans_to_stays(scans, default_dwell='30min') makes stays of them",
            )
        _warn_repeats(index, "")
        return dataclasses.replace(index, pseudonymized=True) if pseudonymized else index

    @classmethod
    def _build_from_stays(
        cls, stays: Any, *, tz: str | None, width: int, progress: bool | None
    ) -> tuple[VenueIndex, bool]:
        """:meth:`from_stays`'s build; and whether every stay lasts zero seconds.

        (Known from the longest stay, which the build finds anyway: no pass of its own.)
        """
        if _read_stays.is_source(stays):
            with progress_bar(progress, total=None, desc="reading stays", unit="row") as bar:
                codes = _read_stays.read_stay_codes(stays, tz=tz, bar=bar)
            with progress_bar(progress, total=4, desc="building index", unit="step") as bar:
                bar.update()
                persons, venues, origin = codes.persons, codes.venues, codes.origin
                columns = [codes.person, codes.venue, codes.start, codes.end]
                bounds = codes.bounds
                del codes  # the columns' memory is freed as the build uses them up
                instants = _all_instants(len(columns[0]), bounds)
                index = cls._from_codes(
                    persons, venues, columns, width, consume=True, bounds=bounds, bar=bar
                )
            if index.n_stays:  # the times were given relative to `origin`
                index = dataclasses.replace(index, origin=index.origin + origin)
            return index, instants
        with progress_bar(progress, total=4, desc="building index", unit="step") as bar:
            bar.describe("ids and times")
            clean = clean_stays(stays, tz=tz)
            bar.update()
            persons, venues = clean.persons, clean.venues
            columns = [clean.person, clean.venue, clean.start, clean.end]
            bounds = _bounds(clean.start, clean.end)  # (what the build finds first anyway)
            del clean
            instants = _all_instants(len(columns[0]), bounds)
            index = cls._from_codes(
                persons, venues, columns, width, consume=True, bounds=bounds, bar=bar
            )
            return index, instants

    @classmethod
    def from_scans(
        cls,
        source: Any,
        /,
        *,
        schema: ScanSchema | None = None,
        aliases: TableLike | None = None,
        errors: ScanErrors = "raise",
        not_before: Any = None,
        now: Any = None,
        tz: str | None = None,
        batch_size: int = _DEFAULT_BATCH,
        pseudonym_key: bytes | str | None = None,
        default_dwell: DurationLike = "30min",
        venue_dwell: TableLike | Mapping[Any, DurationLike] | None = None,
        max_stay: DurationLike = "12h",
        split_at_midnight: str | None = None,
        dedupe_within: DurationLike | None = "2min",
        bucket_width: DurationLike = _DEFAULT_BUCKET,
        progress: bool | None = None,
    ) -> tuple[VenueIndex, IngestReport]:
        """Read raw QR scans straight into a :class:`~tracegraph.VenueIndex`, in little memory.

        The same index as ``VenueIndex.from_stays(scans_to_stays(read_scans(source, ...),
        ...).stays)``, and the same row accounting, without holding the scans or the
        stays as tables: for inputs larger than memory would allow otherwise.

        Parameters
        ----------
        source : path, table, reader, or list of these or of ``(item, ScanSchema)`` pairs
            Where the scans are, as for :func:`~tracegraph.read_scans`.
        schema, aliases, errors, not_before, now, tz, batch_size, pseudonym_key
            As for :func:`~tracegraph.read_scans`.
        default_dwell, venue_dwell, max_stay, split_at_midnight, dedupe_within
            As for :func:`~tracegraph.scans_to_stays`.
        bucket_width : duration, default "1h"
            As for :meth:`from_stays`.
        progress : bool, optional
            Show progress bars (rows read, then the build's steps); ``None`` follows
            :func:`tracegraph.set_progress`.

        Returns
        -------
        index : VenueIndex
        report : tracegraph.ingest.IngestReport
            Row counts of reading (``report.scans``), of turning scans into stays
            (``report.stays``), and the rejected rows (``report.rejected``).

        Raises
        ------
        ScanRowError
            A bad row and ``errors="raise"``.
        SchemaError
            A column named by a schema is missing or of a type that holds no ids or
            times, bad options, or 2**31 scans or more.
        ArgumentError
            ``not_before`` is later than ``now``.
        AliasError
            A malformed alias table, an alias mapped to two persons, or a cycle.
        ScanFileError
            A file is missing, truncated, corrupt, or not Parquet / Arrow IPC.
        DurationError
            A duration that is negative or not whole seconds; ``max_stay`` of zero.
        TimezoneError
            ``tz`` or ``split_at_midnight`` is not a zone name, or a time column holds
            naive timestamps and no ``tz`` is given.

        See Also
        --------
        read_scans, scans_to_stays : the same steps, with the scans and stays as tables
            (sources and how each stay was closed included).
        VenueIndex.from_stays : index a table of stays.

        Notes
        -----
        Rows are read batch by batch and checked exactly as :func:`read_scans` checks
        them; of every accepted row only a person and a venue code (ids are
        dictionary-encoded as they arrive: a hash table for integer ids), the time as
        seconds after the first one (``int32`` while the times span less than 68 years)
        and the direction are kept, 13 bytes per scan. Aliases and pseudonyms are
        applied to the distinct ids only. Then:

        1. a stable counting sort groups the scans by person (an ``int32`` order); each
           person's scans are put in time order (ties: entries first, then venue), which
           is only checked when they arrived in time order;
        2. exact duplicates and repeats are squeezed out in place, each duplicate
           counted against its input as :func:`read_scans` counts it;
        3. entries are paired with exits and merged, whole persons at a time, by the
           kernels of :func:`scans_to_stays`; the stays are written over the scans
           (16 bytes per stay: codes, start and end);
        4. the stays are put in time order by a radix sort and indexed.

        Peak memory is about 40 bytes per stay, while the index is built (the stays,
        the index and the build's sort order), plus the distinct ids: about 31 bytes per
        scan above the baseline on ``benchmarks/scan_memory.py``'s 100M scans, against
        about 64 for the classic path. Work is O(n) but for the sorts of persons whose
        scans did not arrive in time order. The stays' ``source`` and ``closed_by``
        columns and the unmatched exits are not kept (the report counts them).

        Examples
        --------
        >>> import pyarrow as pa
        >>> raw = pa.table({
        ...     "uid": ["ann", "ann", "bob", "bob"],
        ...     "qr": ["cafe", "cafe", "cafe", "shop"],
        ...     "ts": ["2021-08-01T08:00:00+07:00", "2021-08-01T09:00:00+07:00",
        ...            "2021-08-01T08:10:00+07:00", "2021-08-01T08:20:00+07:00"],
        ...     "io": ["in", "out", "in", "in"],
        ... })
        >>> schema = tg.ScanSchema(person="uid", venue="qr", time="ts", direction="io")
        >>> index, report = tg.VenueIndex.from_scans(raw, schema=schema, default_dwell="1h")
        >>> index.n_stays, report.scans.read, report.stays.closed_by["exit"]
        (3, 4, 1)
        >>> tg.trace(index, ["ann"]).contacts["person"].to_pylist()
        ['ann', 'bob']
        """
        width = duration_seconds(bucket_width, "bucket_width")
        if width <= 0:
            raise DurationError(
                f"`bucket_width`: expected a positive duration, got {bucket_width!r}"
            )
        stays, report = _compact_stays(
            source,
            schema=schema,
            aliases=aliases,
            errors=errors,
            not_before=not_before,
            now=now,
            tz=tz,
            batch_size=batch_size,
            pseudonym_key=pseudonym_key,
            default_dwell=default_dwell,
            venue_dwell=venue_dwell,
            max_stay=max_stay,
            split_at_midnight=split_at_midnight,
            dedupe_within=dedupe_within,
            progress=progress,
        )
        with progress_bar(progress, total=4, desc="building index", unit="step") as bar:
            bar.update()
            persons, venues, origin = stays.persons, stays.venues, stays.origin
            columns = [stays.person, stays.venue, stays.start, stays.end]
            del stays
            bounds = _bounds(columns[2], columns[3])  # (what the build finds first anyway)
            instants = _all_instants(len(columns[0]), bounds)
            index = cls._from_codes(
                persons, venues, columns, width, consume=True, bounds=bounds, bar=bar
            )
        if instants:
            _warn_instants(
                index.n_stays,
                f"scans without an exit last default_dwell ({default_dwell!r} here): give "
                f"the time a visit lasts, e.g. default_dwell='30min'",
            )
        if index.n_stays:  # the stays' times were given relative to `origin`
            index = dataclasses.replace(index, origin=index.origin + origin)
        if pseudonym_key is not None:
            index = dataclasses.replace(index, pseudonymized=True)
        return index, report

    @classmethod
    def _from_codes(
        cls,
        persons: pa.Array,
        venues: pa.Array,
        columns: list[np.ndarray],
        width: int,
        *,
        person_view: bool = True,
        consume: bool = False,
        bounds: tuple[int, int, int] | None = None,
        pseudonymized: bool = False,
        bar: _Bar | None = None,
    ) -> VenueIndex:
        """Build from ``columns = [person codes, venue codes, start, end]``.

        Times are epoch seconds or any offsets (int32 or int64). ``consume``: the
        caller hands the columns over (and keeps no other reference to them): the
        list is emptied as each column is used up, and its memory takes the next index
        column; the venue codes' memory is reused for the rows' places and then the
        per-person view, and the end times' as that view's scratch (freed after it).
        The peak is then the columns plus one index column (20 bytes per stay for int32
        columns), not the columns plus the whole index. (Columns that cannot be
        written over, as a table's may be, leave the per-person view 4 bytes per stay
        of new scratch.) ``bounds``: the columns' earliest start, latest end and longest
        stay, when the caller found them on the way (no passes to find them here).
        """
        bar = bar or _Bar(None)
        person_codes, venue_codes, start, end = columns
        if consume:
            columns.clear()
        n = start.shape[0]
        n_venues = len(venues)
        bar.describe("sort by venue, duration and time")
        # 1. times from an origin: int32 when they fit
        if n and bounds is None:
            bounds = _bounds(start, end)
        origin, last, longest = bounds if n and bounds is not None else (0, 0, 0)
        dtype = np.int32 if last - origin < 2**31 else np.int64
        # 2. (venue, duration class) groups by a counting sort, each then put in start
        # order (only checked when the stays arrived in time order): no global sort
        n_classes = int(_kernels._duration_class(longest, width)) + 1
        class_offsets = np.zeros(n_venues * n_classes + 1, dtype=np.int64)
        # each stay's row; the venue codes' memory may take them
        reuse = (
            consume
            and venue_codes.dtype == np.int32
            and venue_codes.flags.writeable
            and venue_codes.flags.c_contiguous
        )
        rows = venue_codes if reuse else _memory.small_pages(n, np.int32)
        _group_rows(venue_codes, start, end, width, n_classes, class_offsets, rows)
        del venue_codes
        # then each column moved to its rows, one at a time (the input's memory freed
        # before the next index column is made)

        spare: list[np.ndarray] = []  # a consumed input column, to be written over

        def moved(values: np.ndarray, shift: int, out_dtype: type[np.integer]) -> np.ndarray:
            reuse = spare and spare[0].dtype == out_dtype and spare[0].shape[0] == n
            out = spare.pop() if reuse else _memory.small_pages(n, out_dtype)
            spare.clear()
            split_rows(n, lambda lo, hi: _kernels.put_rows(rows[lo:hi], values[lo:hi], shift, out))
            if consume and values.flags.writeable and values.flags.c_contiguous:
                # its memory takes the next column (no page faults for fresh pages)
                spare.append(values)
            return out

        person = moved(person_codes, 0, np.int32)
        del person_codes
        start_rel = moved(start, origin, dtype)
        del start
        end_rel = moved(end, origin, dtype)
        del end
        _sort_groups(start_rel, end_rel, person, class_offsets)
        venue_offsets = np.ascontiguousarray(class_offsets[::n_classes])
        bar.update()
        bar.describe("per-person view")
        # 3. per-person view (not needed by the engine's temporary indexes)
        if person_view:
            # the rows' places are not needed any more: their memory takes the view,
            # and the last consumed input column's is the sort's scratch
            scratch = spare[0].view(np.int32) if spare else None
            person_stays = rows
            person_offsets = group_by_key(person, len(persons), person_stays, scratch)
            del scratch
        else:
            person_offsets = np.zeros(1, dtype=np.int64)
            person_stays = np.empty(0, dtype=np.int32)
        spare.clear()
        bar.update()
        bar.update()
        return cls(
            persons=_narrow_text(persons),
            venues=_narrow_text(venues),
            bucket_width=width,
            origin=origin,
            n_classes=n_classes,
            start=start_rel,
            end=end_rel,
            person=person,
            venue_offsets=venue_offsets,
            class_offsets=class_offsets,
            person_offsets=person_offsets,
            person_stays=person_stays,
            pseudonymized=pseudonymized,
        )

    # ------------------------------------------------------------------ updates

    def append(self, stays: TableLike, /, *, tz: str | None = None) -> VenueIndex:
        """A new index holding these stays and the new ones (a new day of scans, say).

        Parameters
        ----------
        stays : table, path, list of paths, reader or dataset
            New stays, with the same columns and id types as for :meth:`from_stays`,
            and taken as it takes them: a ``pyarrow.Table``, ``pandas.DataFrame`` or
            ``polars.DataFrame``, or a source read batch by batch (a Parquet or Arrow
            IPC file, a folder of them, a list of those, a
            ``pyarrow.RecordBatchReader`` or a ``pyarrow.dataset.Dataset``).
        tz : str, optional
            Zone of naive timestamps, as for :meth:`from_stays`.

        Returns
        -------
        VenueIndex
            A new index with the same bucket width; this one is unchanged (indexes
            are values, so a trace running on it is never disturbed).

        Raises
        ------
        SchemaError
            If the new stays are invalid, their ids are of another kind (integer
            vs string) than this index's, the index is pseudonymized (its ids made by
            :func:`tracegraph.pseudonymize`) and the new person ids are not
            pseudonyms, or the index would hold 2**31 - 1 stays or more.
        TimezoneError
            If timestamps are naive and ``tz`` is not given, or ``tz`` is no zone.
        ScanFileError
            If a file is missing, not Parquet or Arrow IPC, truncated or corrupt, or
            a folder holds no such file.

        Warns
        -----
        DataWarning
            If stays of the new index repeat others exactly (same person, venue, start
            and end), as when the same day's stays are appended twice.

        Notes
        -----
        The index is rebuilt from its own arrays and the new stays: O(n log n) in
        all the stays, no Python loop per stay, and nothing of the old stays to re-read
        from files. The rebuilt index's columns are written in place, the times as
        int32 offsets while all of them span less than 68 years (no int64 copies of
        this index's columns), and new files are read into codes, as :meth:`from_stays`
        reads them, without an index of their own. A pseudonymized index takes
        pseudonyms only: give the new stays' ids as ``tg.pseudonymize(ids, key)``.

        Examples
        --------
        >>> days = tiny_city.stays
        >>> first = tg.VenueIndex.from_stays(days.slice(0, 100))
        >>> both = first.append(days.slice(100))
        >>> both.n_stays == days.num_rows, first.n_stays
        (True, 100)
        """
        if tz is not None:  # checked even when every time has its zone, as from_stays does
            check_zone(tz)
        if _read_stays.is_source(stays):  # files: read and checked as from_stays does
            codes = _read_stays.read_stay_codes(stays, tz=tz)
            new = Stays(
                codes.persons, codes.venues, codes.person, codes.venue, codes.start, codes.end
            )
            new_origin = codes.origin  # (its times are seconds after it)
            del codes
        else:
            new, new_origin = clean_stays(stays, tz=tz), 0
        if (  # raw ids beside the pseudonyms would be other persons, and personal data kept
            self.pseudonymized
            and len(new.persons)
            and not _pseudonyms(new.persons)
            and _pseudonyms(self.persons)
        ):
            raise SchemaError(
                "stays: column `person`: expected pseudonyms (32 hex characters, as "
                "tg.pseudonymize makes them), as this index holds, got ids that are not; "
                "pseudonymize the new stays' ids with the key the index was made with: "
                "stays.set_column(stays.column_names.index('person'), 'person', "
                "tg.pseudonymize(stays['person'], key))"
            )
        for what, old_ids, new_ids in (
            ("person", self.persons, new.persons),
            ("venue", self.venues, new.venues),
        ):
            if (
                len(old_ids)
                and len(new_ids)
                and _id_family(old_ids.type) != _id_family(new_ids.type)
            ):
                raise SchemaError(
                    f"stays: column `{what}`: expected ids of type {old_ids.type} (as in the "
                    f"index), got {new_ids.type}; cast the column to the index's type"
                )
        n_old, n_new = self.n_stays, new.person.shape[0]
        if n_old + n_new >= _MAX_STAYS:  # (row numbers are int32)
            raise SchemaError(
                f"stays: expected fewer than {_MAX_STAYS} stays in one index, got {n_old} in "
                f"the index and {n_new} new ones; purge old stays first, or index fewer"
            )
        persons, old_person, new_person = _merge_ids(self.persons, new.persons)
        venues, old_venue, new_venue = _merge_ids(self.venues, new.venues)
        # the columns written in place, the times as offsets (int32 when they fit): no
        # int64 epoch copies of the index's columns
        person = np.empty(n_old + n_new, dtype=np.int32)
        np.take(old_person.astype(np.int32, copy=False), self.person, out=person[:n_old])
        np.take(new_person.astype(np.int32, copy=False), new.person, out=person[n_old:])
        venue = np.empty(n_old + n_new, dtype=np.int32)
        venue[:n_old] = np.repeat(old_venue, np.diff(self.venue_offsets))
        np.take(new_venue.astype(np.int32, copy=False), new.venue, out=venue[n_old:])
        start, end, base = _joined_times(
            [(self.start, self.end, self.origin), (new.start, new.end, new_origin)]
        )
        del new
        index = VenueIndex._from_codes(
            persons,
            venues,
            [person, venue, start, end],
            self.bucket_width,
            consume=True,
            pseudonymized=self.pseudonymized,
        )
        if index.n_stays:  # the times were given relative to `base`
            index = dataclasses.replace(index, origin=index.origin + base)
        # (repeats already in this index were warned about when it was built: only the
        # new stays' are, or a daily append would repeat the warning every day)
        _warn_repeats(index, " (were some stays appended twice?)", before=self)
        return index

    def purge(self, *, before: Any, tz: str | None = None) -> VenueIndex:
        """A new index without the stays that ended at or before ``before``.

        Health systems keep scans for 10-21 days; ``purge`` drops what is older.
        A stay still going on at ``before`` is kept whole. Persons and venues left
        without stays are dropped from the id dictionaries.

        Parameters
        ----------
        before : datetime, numpy.datetime64, ISO-8601 str or int epoch seconds
            The retention cut-off. A naive datetime or string needs ``tz``; a numpy
            datetime64 is UTC without it.
        tz : str, optional
            The zone to read a naive ``before`` in (``"Asia/Ho_Chi_Minh"``).

        Returns
        -------
        VenueIndex
            A new index; this one is unchanged.

        Raises
        ------
        SchemaError
            If ``before`` is no time (``None``, a float, a date, text not ISO 8601).
        TimezoneError
            If ``before`` is naive and ``tz`` is not given, or ``tz`` is no zone.

        Notes
        -----
        O(n) in the stays kept but for the (venue, duration class) groups' sort: the
        ids still used are marked in one pass, and the kept stays' times stay offsets
        from this index's origin (no int64 copies of the columns).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> kept = index.purge(before="2021-09-07T00:00:00Z")
        >>> bool((kept.end_seconds() > 1630972800).all()), kept.n_stays < index.n_stays
        (True, True)
        """
        cutoff = instant_seconds(before, "before", tz)
        # on the index's own relative times (no int64 copies of whole columns): the
        # cut-off clipped to their type, whose ends all lie in [0, its maximum]
        limits = np.iinfo(self.end.dtype)
        keep = self.end > max(int(limits.min), min(cutoff - self.origin, int(limits.max)))
        person = self.person[keep]
        venue = self.venue_of()[keep]
        # the ids still used, marked in one pass (np.unique sorted the whole column)
        person_map, persons = _kept_ids(self.persons, person)
        venue_map, venues = _kept_ids(self.venues, venue)
        person = person_map[person]
        venue = venue_map[venue]
        index = VenueIndex._from_codes(
            persons,
            venues,
            [person, venue, self.start[keep], self.end[keep]],
            self.bucket_width,
            consume=True,
            pseudonymized=self.pseudonymized,
        )
        if index.n_stays:  # the times were given relative to this index's origin
            index = dataclasses.replace(index, origin=index.origin + self.origin)
        return index

    # ------------------------------------------------------------------ on disk

    def save(self, path: str | os.PathLike[str], /, *, overwrite: bool = False) -> pathlib.Path:
        """Save the index to a directory of Arrow IPC files, atomically.

        Parameters
        ----------
        path : str or path-like
            The directory to create (``.tgidx`` is a good suffix).
        overwrite : bool, default False
            Replace an index already saved at ``path``; anything else there is
            never replaced.

        Returns
        -------
        pathlib.Path
            The saved index's directory.

        Raises
        ------
        IndexExistsError
            If ``path`` exists and ``overwrite`` is off, or it is not an index.
        IndexFormatError
            If the index is not saveable (inconsistent arrays, no per-person view).
        OSError
            If the file system refuses (no parent directory, no permission, disk full,
            an index to replace that cannot be moved aside, such as a mount point).

        Notes
        -----
        The format (``tracegraph-index`` version 3) is one uncompressed Arrow IPC
        file per array plus ``manifest.json`` with sizes and CRC-32 checksums; no
        pickle, nothing executable. Files are written into a hidden temporary
        directory beside ``path``, flushed to disk, and renamed into place, so a crash
        never leaves a half-written index at ``path`` (a killed save's hidden
        directory is removed by the next save to ``path``). To update an index that
        processes have open, save over it (``overwrite=True``: they keep reading the
        one they opened); never copy files over an opened index in place (``cp``,
        ``rsync --inplace``): its memory-mapped pages would change under them, and
        a file cut shorter crashes them (``SIGBUS``). See
        :func:`tracegraph._store.save_index` for how a replace is done.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "city.tgidx"
        >>> reopened = tg.VenueIndex.open(index.save(folder))
        >>> reopened.n_stays == index.n_stays
        True
        """
        from tracegraph._store import save_index

        return save_index(self, path, overwrite=overwrite)

    @classmethod
    def open(cls, path: str | os.PathLike[str], /, *, verify: bool = True) -> VenueIndex:
        """Open a saved index, memory-mapped: nothing is read until a query needs it.

        Parameters
        ----------
        path : str or path-like
            A directory written by :meth:`save`.
        verify : bool, default True
            Check every file's CRC-32 checksum (about 0.5 s for 40M stays on two
            cores). Sizes, types and offsets are always checked, which takes
            milliseconds.

        Returns
        -------
        VenueIndex
            Arrays are read-only views of the mapped files.

        Raises
        ------
        IndexNotFound
            If there is no index at ``path``.
        IndexFormatError
            If ``path`` holds another format or a newer format version.
        CorruptIndexError
            If a file is missing, truncated or fails its checksum.
        """
        from tracegraph._store import open_index

        return open_index(path, verify=verify)

    # ------------------------------------------------------------------ sizes

    @property
    def n_stays(self) -> int:
        """Number of stays.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> index.n_stays == tiny_city.stays.num_rows
        True
        """
        return int(self.start.shape[0])

    @property
    def n_persons(self) -> int:
        """Number of distinct persons.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> index.n_persons == len(set(tiny_city.stays["person"].to_pylist()))
        True
        """
        return len(self.persons)

    @property
    def n_venues(self) -> int:
        """Number of distinct venues.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> index.n_venues == len(set(tiny_city.stays["venue"].to_pylist()))
        True
        """
        return len(self.venues)

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays, in bytes.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> 16 < index.nbytes / index.n_stays < 100
        True
        """
        arrays = (
            self.start,
            self.end,
            self.person,
            self.venue_offsets,
            self.class_offsets,
            self.person_offsets,
            self.person_stays,
        )
        return int(sum(a.nbytes for a in arrays) + self.persons.nbytes + self.venues.nbytes)

    def venue_of(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Venue codes (int32) of the stays at ``rows`` of the index (all when ``None``).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> index.venue_of().shape == (index.n_stays,)
        True
        """
        if rows is None:
            counts = np.diff(self.venue_offsets)
            return np.repeat(np.arange(self.n_venues, dtype=np.int32), counts)
        rows = np.asarray(rows)
        out = np.empty(rows.shape[0], dtype=np.int32)
        if rows.shape[0]:
            if int(rows.min()) < 0 or int(rows.max()) >= self.n_stays:
                raise IndexError(f"`rows`: expected rows in [0, {self.n_stays}), got some outside")
            _kernels.venues_of_rows(self.venue_offsets, self._venue_blocks, rows, out)
        return out

    def start_seconds(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Start times (int64 epoch seconds) of the stays at ``rows`` (all when ``None``).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> int(index.start_seconds().min()) == index.origin
        True
        """
        values = self.start if rows is None else self.start[rows]
        return values.astype(np.int64) + self.origin

    def end_seconds(self, rows: np.ndarray | None = None) -> np.ndarray:
        """End times (int64 epoch seconds) of the stays at ``rows`` (all when ``None``).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> bool((index.end_seconds() >= index.start_seconds()).all())
        True
        """
        values = self.end if rows is None else self.end[rows]
        return values.astype(np.int64) + self.origin

    def _span(self) -> str:
        if not self.n_stays:
            return "empty"
        first = self.origin + int(self.start.min())
        return f"{format_instant(first)}..{format_instant(self.origin + int(self.end.max()))}"

    def __repr__(self) -> str:
        return (
            f"VenueIndex({self.n_stays} stays, {self.n_persons} persons, "
            f"{self.n_venues} venues, {self._span()}, bucket={format_duration(self.bucket_width)}, "
            f"{format_bytes(self.nbytes)}{', pseudonymized' if self.pseudonymized else ''})"
        )

    def _repr_html_(self) -> str:
        from tracegraph import _html

        try:
            return _html.definition_list(
                "VenueIndex",
                [
                    ("stays", f"{self.n_stays:,}"),
                    ("persons", f"{self.n_persons:,}"),
                    ("venues", f"{self.n_venues:,}"),
                    ("time span (UTC)", self._span()),
                    ("bucket width", format_duration(self.bucket_width)),
                    ("person ids", "pseudonyms" if self.pseudonymized else "as given"),
                    (
                        "memory",
                        f"{format_bytes(self.nbytes)} "
                        f"({self.nbytes / max(self.n_stays, 1):.1f} bytes per stay)",
                    ),
                ],
            )
        except Exception:  # a repr must never raise: the one-line summary instead
            return _html.fallback(self)

    # ------------------------------------------------------------------ lookups

    def person_codes(self, ids: pa.Array, *, name: str | None = None) -> np.ndarray:
        """Codes of person ``ids`` (``-1`` where an id is not in the index).

        Codes are positions in :attr:`persons` (the sorted distinct ids). ``name``:
        the argument the ids came in, which a :class:`SchemaError` about their type
        names (```cases```, say).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> import pyarrow as pa
        >>> first = index.persons[0].as_py()
        >>> index.person_codes(pa.array([first, -5])).tolist()
        [0, -1]
        """
        values, absent = self._codes(ids, self.persons, "person", name)
        return _lookup(self._sorted_ids(self.persons, values), values, absent)

    def venue_codes(self, ids: pa.Array, *, name: str | None = None) -> np.ndarray:
        """Codes of venue ``ids`` (``-1`` where an id is not in the index).

        ``name``: the argument the ids came in, as :meth:`person_codes` takes it.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> import pyarrow as pa
        >>> index.venue_codes(pa.array([index.venues[1].as_py()])).tolist()
        [1]
        """
        values, absent = self._codes(ids, self.venues, "venue", name)
        return _lookup(self._sorted_ids(self.venues, values), values, absent)

    def _sorted_ids(self, dictionary: pa.Array, ids: np.ndarray) -> np.ndarray:
        """The sorted dictionary as numpy, widened to ``ids``' integer type (order kept)."""
        cached = self._sorted_persons if dictionary is self.persons else self._sorted_venues
        if ids.dtype != cached.dtype and ids.dtype.kind in "iu" and cached.dtype.kind in "iu":
            return cached.astype(ids.dtype)  # see _codes: always a widening
        return cached

    @functools.cached_property
    def _venue_blocks(self) -> np.ndarray:
        # the venue at the start of each block of rows, for venue_of
        blocks: np.ndarray = _kernels.venue_blocks(self.venue_offsets, self.n_stays)
        return blocks

    @functools.cached_property
    def _sorted_persons(self) -> np.ndarray:
        # the dictionary is sorted: a binary search finds codes without a hash table
        # (int ids: a zero-copy view; string ids: converted once, then kept)
        values: np.ndarray = self.persons.to_numpy(zero_copy_only=False)
        return values

    @functools.cached_property
    def _sorted_venues(self) -> np.ndarray:
        values: np.ndarray = self.venues.to_numpy(zero_copy_only=False)
        return values

    @staticmethod
    def _codes(
        ids: pa.Array | pa.ChunkedArray, dictionary: pa.Array, what: str, name: str | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``ids`` checked and cast to the dictionary's type, as numpy values.

        Integer ids of another integer type than the dictionary's are compared as
        uint64 when the dictionary is uint64, else as int64; ids that type cannot hold
        (negative, or 2**63 and more) are returned in the mask of ids not there.
        """
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        if pa.types.is_dictionary(ids.type):
            ids = ids.cast(ids.type.value_type)
        if ids.type != dictionary.type:
            if _id_family(ids.type) != _id_family(dictionary.type):
                fix = (
                    "give them as integers, e.g. [int(x) for x in ids]"
                    if _id_family(dictionary.type) == "int"
                    else "give them as text, e.g. [str(x) for x in ids]"
                )
                raise SchemaError(
                    ("" if name is None else f"{name}: ")
                    + f"expected {what} ids of type {dictionary.type} (as in the index), "
                    f"got {ids.type}; {fix}"
                )
            if _id_family(ids.type) == "int":
                return _as_int(ids, np.uint64 if pa.types.is_uint64(dictionary.type) else np.int64)
            ids = ids.cast(dictionary.type)
        values: np.ndarray = ids.to_numpy(zero_copy_only=False)
        return values, None

    def stays_of(self, person: Any) -> pa.Table:
        """The stays of one person, in time order.

        Parameters
        ----------
        person : int or str
            A person id.

        Returns
        -------
        pyarrow.Table
            Columns ``venue``, ``start``, ``end``.

        Raises
        ------
        PersonNotFound
            If no stay of the person is in the index (a mistyped id would otherwise
            read as someone who went nowhere; :func:`tracegraph.trace` refuses unknown
            cases alike).

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = tiny_city.stays["person"][0].as_py()
        >>> index.stays_of(first).num_rows >= 1
        True
        """
        ids = ids_array([person], self.persons.type, "`person`")
        code = int(self.person_codes(ids, name="`person`")[0])
        if code < 0:
            from tracegraph.exposure import PSEUDONYM_HINT

            # ids are personal data: the message never shows it
            hint = PSEUDONYM_HINT if self.pseudonymized else ""
            raise PersonNotFound(
                f"stays_of: the person id is not in the index (no stay of theirs was "
                f"indexed){hint}; check the id (ids of this index are {self.persons.type})"
            )
        rows = self.person_stays[self.person_offsets[code] : self.person_offsets[code + 1]]
        rows = rows[np.lexsort((self.end[rows], self.start[rows]))]
        return self._stay_table(rows, with_person=False)

    def stays_at(self, venue: Any, start: Any, end: Any, *, tz: str | None = None) -> pa.Table:
        """The stays at ``venue`` that overlap [start, end) by more than zero.

        Parameters
        ----------
        venue : int or str
            A venue id.
        start, end : datetime, numpy.datetime64, ISO-8601 str or int epoch seconds
            The query interval, ``end >= start``. Naive datetimes or strings need
            ``tz``; numpy datetime64 values are UTC without it.
        tz : str, optional
            The zone to read naive ``start`` / ``end`` in (``"Asia/Ho_Chi_Minh"``).

        Returns
        -------
        pyarrow.Table
            Columns ``person``, ``venue``, ``start``, ``end`` (the whole stays), in
            the index's order.

        Examples
        --------
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> row = tiny_city.stays.slice(0, 1).to_pylist()[0]
        >>> found = index.stays_at(row["venue"], row["start"], row["end"])
        >>> row["person"] in found["person"].to_pylist()
        True
        """
        a = instant_seconds(start, "start", tz)
        b = instant_seconds(end, "end", tz)
        if b < a:
            raise ArgumentError(
                "`end`: expected a time at or after `start`, got one before it; swap them"
            )
        ids = ids_array([venue], self.venues.type, "`venue`")
        code = int(self.venue_codes(ids, name="`venue`")[0])
        if code < 0 or b <= a:
            return self._stay_table(np.empty(0, dtype=np.int64), with_person=True)
        _, stays, _, _ = self.query(
            np.array([code], np.int32),
            np.array([a], np.int64),
            np.array([b], np.int64),
            np.array([-1], np.int32),
            min_overlap=0,
            excluded=np.zeros(self.n_persons, dtype=np.bool_),
        )
        return self._stay_table(stays, with_person=True)

    def _stay_table(self, rows: np.ndarray, *, with_person: bool) -> pa.Table:
        columns: dict[str, Any] = {}
        if with_person:
            columns["person"] = self.persons.take(pa.array(self.person[rows]))
        columns["venue"] = self.venues.take(pa.array(self.venue_of(rows)))
        columns["start"] = seconds_to_timestamp(self.start_seconds(rows))
        columns["end"] = seconds_to_timestamp(self.end_seconds(rows))
        return pa.table(columns)

    def query(
        self,
        venue: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        on_behalf_of: np.ndarray,
        *,
        min_overlap: int,
        excluded: np.ndarray,
        rule: MatchRule = "half-open",
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Batch overlap query on codes: the engine room of every lookup.

        Parameters
        ----------
        venue, start, end : numpy.ndarray
            Query ``i`` is [start[i], end[i]) at venue code ``venue[i]`` (int32 codes,
            int64 epoch seconds).
        on_behalf_of : numpy.ndarray
            int32 person code per query whose own stays are skipped (``-1``: none).
        min_overlap : int
            Minimum overlap in seconds (pairs also need an overlap > 0).
        excluded : numpy.ndarray
            bool per person code; stays of excluded persons are skipped.
        rule : {"half-open", "closed", "arrival"}, default "half-open"
            How a stay matches a query: the half-open intervals overlap by > 0; the
            closed intervals share an instant (touching and zero-length stays match);
            or the stay's start lies strictly inside the query (the overlap reported
            is then the arrival instant).

        Returns
        -------
        query, stay, overlap_start, overlap_end : numpy.ndarray
            One element per matching (query, stay) pair: the query's position, the
            stay's row in the index, and the overlap [overlap_start, overlap_end).

        Examples
        --------
        >>> import numpy as np
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> first = np.array([0])
        >>> query, stay, o_start, o_end = index.query(
        ...     index.venue_of(first), index.start_seconds(first), index.end_seconds(first),
        ...     np.array([-1], np.int32), min_overlap=0,
        ...     excluded=np.zeros(index.n_persons, dtype=bool))
        >>> 0 in stay.tolist()  # the stay itself overlaps its own interval
        True
        """
        parts = self.query_parts(
            venue, start, end, on_behalf_of, min_overlap=min_overlap, excluded=excluded, rule=rule
        )
        if len(parts) == 1:
            return parts[0]
        query, stay, o_start, o_end = (np.concatenate(cols) for cols in zip(*parts, strict=True))
        return query, stay, o_start, o_end

    def _check_queries(
        self,
        venue: Any,
        start: Any,
        end: Any,
        on_behalf_of: Any,
        excluded: Any,
        min_overlap: Any,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """Types, bounds and shapes, so that the kernel can never read out of bounds.

        Returns the arguments as the kernel takes them: int32 venue and person codes,
        int64 times, a bool mask and an int (no copy when they are so already).
        """
        arrays = {"venue": venue, "start": start, "end": end, "on_behalf_of": on_behalf_of}
        for name, value in [*arrays.items(), ("excluded", excluded)]:
            kinds = "b" if name == "excluded" else "iu"
            if not (
                isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in kinds
            ):
                what = "a bool" if name == "excluded" else "an integer"
                got = (
                    f"a {value.ndim}-d array of {value.dtype}"
                    if isinstance(value, np.ndarray)
                    else type(value).__name__
                )
                raise ArgumentError(f"`{name}`: expected {what} 1-d numpy array, got {got}")
        if isinstance(min_overlap, bool) or not isinstance(min_overlap, int | np.integer):
            raise ArgumentError(
                f"`min_overlap`: expected an int of seconds, got {type(min_overlap).__name__}"
            )
        if not 0 <= min_overlap < 2**62:
            raise ArgumentError(
                f"`min_overlap`: expected seconds >= 0 (and below 2**62), got {min_overlap}"
            )
        n = venue.shape[0]
        if not (start.shape == end.shape == on_behalf_of.shape == (n,)):
            raise ArgumentError("expected venue, start, end and on_behalf_of of one length")
        if excluded.shape != (self.n_persons,):
            raise ArgumentError(
                f"expected `excluded` of shape ({self.n_persons},), got {excluded.shape}"
            )
        if n and (venue.min() < 0 or venue.max() >= self.n_venues):
            raise ArgumentError(f"expected venue codes in [0, {self.n_venues}), got others")
        if n and (on_behalf_of.min() < -1 or on_behalf_of.max() >= self.n_persons):
            raise ArgumentError(f"expected person codes in [-1, {self.n_persons}), got others")
        for name, times in (("start", start), ("end", end)):
            if n and times.dtype == np.uint64 and times.max() > np.iinfo(np.int64).max:
                raise ArgumentError(f"`{name}`: expected epoch seconds below 2**63, got more")
        return (
            venue.astype(np.int32, copy=False),
            start.astype(np.int64, copy=False),
            end.astype(np.int64, copy=False),
            on_behalf_of.astype(np.int32, copy=False),
            excluded,
            int(min_overlap),
        )

    def query_parts(
        self,
        venue: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        on_behalf_of: np.ndarray,
        *,
        min_overlap: int,
        excluded: np.ndarray,
        rule: MatchRule = "half-open",
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Like :meth:`query`, but the result comes in parts, as the kernel wrote them.

        Saves concatenating large results; callers process part by part.

        Examples
        --------
        >>> import numpy as np
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> rows = np.arange(3)
        >>> parts = index.query_parts(
        ...     index.venue_of(rows), index.start_seconds(rows), index.end_seconds(rows),
        ...     np.full(3, -1, np.int32), min_overlap=0,
        ...     excluded=np.zeros(index.n_persons, dtype=bool))
        >>> sum(len(p[0]) for p in parts) >= 3
        True
        """
        venue, start, end, on_behalf_of, excluded, min_overlap = self._check_queries(
            venue, start, end, on_behalf_of, excluded, min_overlap
        )
        rule_code = _rule_code(rule)
        n_queries = int(venue.shape[0])
        capacity = max(4096, 8 * n_queries)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        next_query = 0
        while next_query < n_queries or not parts:
            out = (
                np.empty(capacity, dtype=np.int32),
                np.empty(capacity, dtype=np.int32),
                np.empty(capacity, dtype=np.int64),
                np.empty(capacity, dtype=np.int64),
            )
            n_written, resume = _kernels.overlapping_stays(
                venue, start, end, on_behalf_of, min_overlap, excluded,
                self.start, self.end, self.person, self.class_offsets, self.n_classes,
                self.origin, self.bucket_width, next_query,
                _kernels.EMIT_PAIRS, rule_code, _NO_INT64, _NO_INT32, _NO_INT64, *out,
            )  # fmt: skip
            parts.append(tuple(a[:n_written] for a in out))  # type: ignore[arg-type]
            next_query = int(resume)
            # the buffers filled up: continue where the kernel stopped, with more room
            capacity *= 2
        return parts

    def earliest_overlaps(
        self,
        venue: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        on_behalf_of: np.ndarray,
        *,
        min_overlap: int,
        excluded: np.ndarray,
        earliest: np.ndarray,
        venue_pairs: np.ndarray,
        first_venue: np.ndarray | None = None,
        by_query: bool = False,
        rule: MatchRule = "half-open",
    ) -> int:
        """Like :meth:`query`, but keep only each person's earliest overlap start.

        ``earliest`` (int64 per person code) is lowered in place for the person of each
        matching stay, or for the query's person when ``by_query``; ``first_venue``
        (int32 per person code, optional) takes the venue of that earliest overlap
        (the smallest venue code on a tie); ``venue_pairs`` (int64 per venue code)
        counts the matches. No pair is stored, so memory does not grow with the number
        of pairs. Returns the number of matching pairs.

        Examples
        --------
        >>> import numpy as np
        >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
        >>> earliest = np.full(index.n_persons, 2**62, dtype=np.int64)
        >>> first = np.array([0])
        >>> n = index.earliest_overlaps(
        ...     index.venue_of(first), index.start_seconds(first), index.end_seconds(first),
        ...     np.array([-1], np.int32), min_overlap=0,
        ...     excluded=np.zeros(index.n_persons, dtype=bool), earliest=earliest,
        ...     venue_pairs=np.zeros(index.n_venues, dtype=np.int64))
        >>> int(earliest[index.person[0]]) == int(index.start_seconds(first)[0])
        True
        """
        venue, start, end, on_behalf_of, excluded, min_overlap = self._check_queries(
            venue, start, end, on_behalf_of, excluded, min_overlap
        )
        rule_code = _rule_code(rule)
        if first_venue is None:
            first_venue = np.zeros(self.n_persons, dtype=np.int32)
        for name, out, dtype in (
            ("earliest", earliest, np.int64),
            ("first_venue", first_venue, np.int32),
            ("venue_pairs", venue_pairs, np.int64),
        ):  # (written in place: of the kernel's type, or the writes would go to a copy)
            if not isinstance(out, np.ndarray) or out.dtype != dtype:
                got = out.dtype if isinstance(out, np.ndarray) else type(out).__name__
                raise ArgumentError(
                    f"`{name}`: expected a numpy array of {np.dtype(dtype)}, got {got}"
                )
            if not out.flags.writeable:
                raise ArgumentError(f"`{name}`: expected a writeable array (it is written to)")
        if (
            earliest.shape != (self.n_persons,)
            or first_venue.shape != (self.n_persons,)
            or venue_pairs.shape != (self.n_venues,)
        ):
            raise ArgumentError(
                f"expected `earliest` and `first_venue` of shape ({self.n_persons},) and "
                f"`venue_pairs` of shape ({self.n_venues},), got {earliest.shape}, "
                f"{first_venue.shape} and {venue_pairs.shape}"
            )
        n_matches, _ = _kernels.overlapping_stays(
            venue, start, end, on_behalf_of, min_overlap, excluded,
            self.start, self.end, self.person, self.class_offsets, self.n_classes,
            self.origin, self.bucket_width, 0,
            _kernels.EARLIEST_BY_QUERY if by_query else _kernels.EARLIEST_BY_STAY, rule_code,
            earliest, first_venue, venue_pairs,
            _NO_INT32, _NO_INT32, _NO_INT64, _NO_INT64,
        )  # fmt: skip
        return int(n_matches)


#: The matching rules of :meth:`VenueIndex.query`, and their kernel codes.
MATCH_RULES: dict[str, int] = {
    "half-open": _kernels.RULE_HALF_OPEN,
    "closed": _kernels.RULE_CLOSED,
    "arrival": _kernels.RULE_ARRIVAL,
}


def _bounds(start: np.ndarray, end: np.ndarray) -> tuple[int, int, int] | None:
    """The stays' earliest start, latest end and longest stay (``None`` without stays)."""
    if not start.shape[0]:
        return None
    return int(start.min()), int(end.max()), int(_kernels.max_duration(start, end))


def _warn_instants(n: int, hint: str) -> None:
    """The :class:`DataWarning` for ``n`` stays all of zero seconds (``hint``: why, and the fix)."""
    warnings.warn(
        f"all {n} stays last zero seconds (end == start): under half-open rules (the "
        f"default policy) they overlap nothing and every trace finds only its cases; {hint}",
        DataWarning,
        stacklevel=3,
    )


def _narrow_text(ids: pa.Array) -> pa.Array:
    """Text ids as ``string`` whatever they came as (pandas and polars give ``large_string``).

    An index's outputs then have one id type for the same data from any library;
    ``large_string`` stays only where the distinct ids hold 2 GiB of text or more.
    """
    typ = ids.type
    if pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        size = pc.sum(pc.binary_length(ids)).as_py() or 0
        if size < 2**31 - 1:
            return ids.cast(pa.string())
    return ids


def _repeated_stays(index: VenueIndex) -> int:
    """Stays of ``index`` that repeat another exactly (person, venue, start and end)."""
    counts: list[int] = []

    def count(lo: int, hi: int) -> None:
        offsets = index.class_offsets[lo : hi + 1]
        counts.append(int(_kernels.count_repeats(index.start, index.end, index.person, offsets)))

    run_all([(count, run) for run in key_runs(index.class_offsets)])
    return sum(counts)


def _warn_repeats(index: VenueIndex, hint: str, *, before: VenueIndex | None = None) -> None:
    """A :class:`DataWarning` when stays of ``index`` repeat others (``hint``: the likely cause).

    ``before``: the index ``index`` was appended to; only repeats beyond its own count.
    """
    n = _repeated_stays(index) - (_repeated_stays(before) if before is not None else 0)
    if n > 0:
        what = "appended stays" if before is not None else "stays"
        total = index.n_stays - before.n_stays if before is not None else index.n_stays
        warnings.warn(
            f"{n} of {total} {what} repeat another stay exactly (same person, venue, "
            f"start and end){hint}: each copy counts again wherever stays are counted or "
            f"summed (a trace's edges and pair counts, venues' exposure hours and co-present "
            f"pairs, and the CWA risk of a case's stay), though not in who is a contact; "
            f"drop the repeats before building (pandas drop_duplicates(), polars unique())",
            DataWarning,
            stacklevel=3,
        )


def _all_instants(n: int, bounds: tuple[int, int, int] | None) -> bool:
    """Whether every one of ``n`` stays lasts zero seconds (``bounds``' longest stay is 0).

    Such stays overlap nothing under half-open rules: every trace would find only its
    cases. It is what check-in times copied into both columns look like.
    """
    return bool(n and bounds is not None and bounds[2] == 0)


def _group_rows(
    venue: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    width: int,
    n_classes: int,
    class_offsets: np.ndarray,
    rows: np.ndarray,
) -> None:
    """Each stay's row in the index (``rows``, may be ``venue``) and the groups' offsets.

    A counting sort by (venue, duration class): counts, then rows, with threads
    taking consecutive slices of the stays, each starting every group where the
    slices before it end (so a group's stays keep their input order).
    """
    slices = count_rows(
        start.shape[0],
        class_offsets,
        lambda lo, hi, counts: _kernels.count_venue_classes(
            venue[lo:hi], start[lo:hi], end[lo:hi], width, n_classes, counts
        ),
    )
    scatter_slices(
        slices,
        lambda lo, hi, cursor: _kernels.group_rows(
            venue[lo:hi], start[lo:hi], end[lo:hi], width, n_classes, cursor, rows[lo:hi]
        ),
    )


def _sort_groups(
    start: np.ndarray, end: np.ndarray, person: np.ndarray, class_offsets: np.ndarray
) -> None:
    """Each (venue, duration class) group put in start order, its rows kept together.

    Threads take runs of groups of about equal rows (groups already in order, as they
    are when stays arrive in time order, are only checked).
    """
    run_all(
        [
            (_kernels.sort_groups_by_start, (start, end, person, class_offsets[a : b + 1]))
            for a, b in key_runs(class_offsets)
        ]
    )


def _rule_code(rule: str) -> int:
    if rule not in MATCH_RULES:
        raise ArgumentError(f"`rule`: expected one of {sorted(MATCH_RULES)}, got {rule!r}")
    return MATCH_RULES[rule]


def _as_int(ids: pa.Array, dtype: type[np.integer[Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Integer ids as ``dtype`` (int64 or uint64) values, and which that type cannot hold."""
    raw = ids.to_numpy(zero_copy_only=False)
    if dtype is np.uint64:
        absent = raw < 0 if raw.dtype.kind == "i" else np.zeros(raw.shape[0], dtype=np.bool_)
    else:
        absent = raw > np.iinfo(np.int64).max if raw.dtype == np.uint64 else raw != raw
    values = np.where(absent, 0, raw).astype(dtype)
    return values, absent


def _merge_ids(old: pa.Array, new: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The sorted union of two id dictionaries, and each one's codes in it."""
    if not len(old) or not len(new):  # (an index purged of every stay, say)
        old, new = (pa.array([], new.type), new) if not len(old) else (old, pa.array([], old.type))
    elif old.type != new.type:
        # integers of different widths meet as int64 (uint64 when some are 2**63 or
        # more and none is negative); strings as the index's type
        common = _common_int_type(old, new) if pa.types.is_integer(old.type) else old.type
        old, new = old.cast(common), new.cast(common)
    both = pa.chunked_array([old, new], type=old.type)
    ids, codes = encode_ids(both)
    return ids, codes[: len(old)], codes[len(old) :]


def _joined_times(
    parts: list[tuple[np.ndarray, np.ndarray, int]],
) -> tuple[np.ndarray, np.ndarray, int]:
    """The start and end columns of ``parts`` one after another, and the epoch they count from.

    Each part is ``(start, end, offset)``: seconds after epoch second ``offset``. The
    result is int32 seconds after the earliest start when all the times span less than
    2**31 seconds, else int64 epoch seconds (and ``0``), written in place part by part.
    """
    filled = [(s, e, off) for s, e, off in parts if s.shape[0]]
    n = sum(s.shape[0] for s, _, _ in filled)
    if not n:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32), 0
    first = min(off + int(s.min()) for s, _, off in filled)
    last = max(off + int(e.max()) for _, e, off in filled)
    narrow = last - first < 2**31
    dtype, base = (np.int32, first) if narrow else (np.int64, 0)
    start, end = np.empty(n, dtype=dtype), np.empty(n, dtype=dtype)
    at = 0
    for s, e, off in filled:
        k = s.shape[0]
        shift = np.int64(off - base)  # (the sums in int64; they fit the output's type)
        np.add(s, shift, out=start[at : at + k], casting="unsafe")
        np.add(e, shift, out=end[at : at + k], casting="unsafe")
        at += k
    return start, end, base


def _pseudonyms(ids: pa.Array) -> bool:
    """Whether every id looks like a :func:`tracegraph.pseudonymize` pseudonym (32 hex digits)."""
    if _id_family(ids.type) != "str":
        return False
    return bool(pc.all(pc.match_substring_regex(ids, "^[0-9a-f]{32}$")).as_py() is not False)


def _kept_ids(ids: pa.Array, codes: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """The ids of ``ids`` that ``codes`` use (sorted still), and each old code's new one.

    Codes of ids not used map to ``-1``. O(n) in the codes: a mark per id, no sort.
    """
    used = np.zeros(len(ids), dtype=np.bool_)
    used[codes] = True
    new_codes = np.cumsum(used, dtype=np.int32)
    new_codes -= 1
    new_codes[~used] = -1
    return new_codes, ids.filter(pa.array(used))


def _common_int_type(a: pa.Array, b: pa.Array) -> pa.DataType:
    """The type two integer id arrays meet as: int64, or uint64 for ids of 2**63 and more."""
    big = [
        x for x in (a, b) if pa.types.is_uint64(x.type) and len(x) and pc.max(x).as_py() >= 2**63
    ]
    if not big:
        return pa.int64()
    if any(len(x) and pc.min(x).as_py() < 0 for x in (a, b)):
        raise SchemaError(  # (no id shown: personal data)
            "expected integer ids of one range, got uint64 ids of 2**63 and more beside "
            "negative ids, which no integer type holds both of; cast the ids to strings"
        )
    return pa.uint64()


def _lookup(
    sorted_ids: np.ndarray, ids: np.ndarray, absent: np.ndarray | None = None
) -> np.ndarray:
    """Positions of ``ids`` in ``sorted_ids`` (``-1`` where absent), by binary search."""
    if sorted_ids.shape[0] == 0:
        return np.full(ids.shape[0], -1, dtype=np.int32)
    pos = np.searchsorted(sorted_ids, ids)
    at = np.minimum(pos, sorted_ids.shape[0] - 1)
    found = sorted_ids[at] == ids
    if absent is not None:
        found &= ~absent
    return np.where(found, pos, -1).astype(np.int32)


_NO_INT32 = np.empty(0, dtype=np.int32)
_NO_INT64 = np.empty(0, dtype=np.int64)


def _id_family(typ: pa.DataType) -> str:
    """``"int"`` or ``"str"``: ids convert within a family, never across."""
    if pa.types.is_integer(typ):
        return "int"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return "str"
    return str(typ)
