"""Stays read batch by batch from files or readers into compact codes.

:meth:`tracegraph.VenueIndex.from_stays` takes a table in memory, or a *source*: a
Parquet or Arrow IPC file, a folder of them, a list of those, a
``pyarrow.RecordBatchReader`` or a ``pyarrow.dataset.Dataset``. A source is read
batch by batch, each batch checked as :func:`tracegraph.ingest.clean_stays` checks a
table, and only codes are kept: person and venue codes (``int32``, ids encoded as
they arrive) and start and end as seconds after the first stay's start
(``int32`` while they fit), 16 bytes per stay, instead of the table's 32 or more.
Files are decoded on a second thread while the first encodes the batch before, so
reading and encoding overlap.

Row numbers in error messages count from the first row of the source (all files in
order).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tracegraph import _kernels, _memory
from tracegraph._progress import _Bar
from tracegraph._time import (
    _UNIT_PER_S,
    MAX_TIME,
    MIN_TIME,
    ends_before_start,
    in_zone,
    require_timestamp,
    undictionary,
)
from tracegraph.errors import ScanFileError, SchemaError
from tracegraph.ingest import (
    _INT32_MAX,
    _INT32_MIN,
    _INT64_MAX,
    STAY_COLUMNS,
    _Buffer,
    _IdCodes,
    _renumbered,
    _sniff,
    _sorted_ids,
    _StayCodes,
    as_path,
    check_id_column,
    data_files,
    is_dataset,
)

__all__ = ["is_source", "read_stay_codes"]

#: Rows per batch read from a source.
BATCH_ROWS = 1 << 20
#: Batches decoded ahead of the one being encoded.
_AHEAD = 2


def is_source(obj: Any) -> bool:
    """Whether ``obj`` is read batch by batch (a path, a list of them, a reader, a dataset)."""
    if isinstance(obj, str | os.PathLike | pa.RecordBatchReader) or is_dataset(obj):
        return True
    return isinstance(obj, list) and all(isinstance(x, str | os.PathLike) for x in obj)


@dataclass(frozen=True)
class _Part:
    """One input of a source: a file (``kind`` as ``ingest._sniff`` says) or an object."""

    label: str
    kind: str  # "parquet", "ipc_file", "ipc_stream", "reader", "dataset"
    obj: Any


def _parts(source: Any) -> list[_Part]:
    if isinstance(source, pa.RecordBatchReader):
        return [_Part("<reader>", "reader", source)]
    if not isinstance(source, str | os.PathLike | list):
        return [_Part("<dataset>", "dataset", source)]
    if isinstance(source, list) and not source:
        raise ScanFileError("stays: expected at least one file or folder, got []")
    parts: list[_Part] = []
    for item in source if isinstance(source, list) else [source]:
        path = as_path(item)
        if not path.exists():
            raise ScanFileError(f"{path}: no such file or folder")
        if path.is_dir():
            parts.extend(_Part(str(p), _sniff(p, "stay"), p) for p in data_files(path, "stay"))
        else:
            parts.append(_Part(str(path), _sniff(path, "stay"), path))
    return parts


def _total_rows(parts: list[_Part]) -> int | None:
    total = 0
    for part in parts:
        if part.kind == "parquet":
            try:
                total += pq.ParquetFile(part.obj).metadata.num_rows
            except (pa.ArrowException, OSError):
                return None  # reading will name the damaged file
        elif part.kind == "dataset":
            total += part.obj.count_rows()
        else:
            return None
    return total


def _columns(names: list[str], label: str) -> list[str]:
    missing = [c for c in STAY_COLUMNS if c not in names]
    if missing:
        raise SchemaError(
            f"{label}: column `{missing[0]}` not found; expected columns {list(STAY_COLUMNS)}, "
            f"available: {names}"
        )
    return list(STAY_COLUMNS)


def _part_schema(part: _Part) -> pa.Schema:
    """The schema of one input, without reading its rows."""
    if part.kind in ("reader", "dataset"):
        return part.obj.schema
    try:
        if part.kind == "parquet":
            return pq.ParquetFile(part.obj).schema_arrow
        if part.kind == "ipc_file":
            return pa.ipc.open_file(pa.memory_map(str(part.obj))).schema
        with pa.OSFile(str(part.obj)) as handle:
            return pa.ipc.open_stream(handle).schema
    except (pa.ArrowException, OSError) as exc:
        raise ScanFileError(f"{part.label}: cannot read this file's schema: {exc}") from exc


def _part_batches(part: _Part) -> Iterator[pa.RecordBatch]:
    what = {"parquet": "Parquet", "ipc_file": "Arrow IPC file", "ipc_stream": "Arrow IPC stream"}
    if part.kind == "reader":
        columns = _columns(part.obj.schema.names, part.label)
        for batch in part.obj:
            yield batch.select(columns)
        return
    if part.kind == "dataset":
        columns = _columns(part.obj.schema.names, part.label)
        try:
            yield from part.obj.to_batches(columns=columns, batch_size=BATCH_ROWS)
        except pa.ArrowException as exc:  # its text may quote a value: personal data
            raise ScanFileError(
                f"{part.label}: cannot read the dataset's files as one table ({type(exc).__name__}"
                f"; their column types may disagree): pass the folder's path instead, which "
                f"reads each file with its own types, or give the dataset one schema"
            ) from None
        return
    try:
        if part.kind == "parquet":
            parquet = pq.ParquetFile(part.obj)
            columns = _columns(parquet.schema_arrow.names, part.label)
            as_dictionary = _dictionary_columns(parquet)
            if as_dictionary:
                parquet = pq.ParquetFile(part.obj, read_dictionary=as_dictionary)
            # whole row groups decode fastest; very large ones are read in slices
            for i in range(parquet.metadata.num_row_groups):
                if parquet.metadata.row_group(i).num_rows <= 4 * BATCH_ROWS:
                    yield from parquet.read_row_group(i, columns=columns).to_batches()
                else:
                    yield from parquet.iter_batches(
                        batch_size=BATCH_ROWS, row_groups=[i], columns=columns
                    )
            return
        if part.kind == "ipc_file":
            reader = pa.ipc.open_file(pa.memory_map(str(part.obj)))
            columns = _columns(reader.schema.names, part.label)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i).select(columns)
            return
        with pa.OSFile(str(part.obj)) as handle:
            stream = pa.ipc.open_stream(handle)
            columns = _columns(stream.schema.names, part.label)
            for batch in stream:
                yield batch.select(columns)
    except (pa.ArrowException, OSError) as exc:
        raise ScanFileError(
            f"{part.label}: cannot read this {what[part.kind]}, it may be truncated or "
            f"corrupt: {exc}"
        ) from exc


#: A Parquet text id column is read as a dictionary (its values and an index per row)
#: when it takes at most this many bytes per row, dictionary page included: it was
#: then written all as dictionary indices (few distinct ids, e.g. venues), and Arrow
#: hands over the file's own dictionary. A column whose dictionary overflowed and
#: fell back to plain strings (most persons) takes more, and is read as strings: Arrow
#: would build its dictionary by hashing every row.
_DICTIONARY_BYTES_PER_ROW = 4


def _dictionary_columns(parquet: pq.ParquetFile) -> list[str]:
    """The text id columns of a Parquet file to read as dictionaries (see above)."""
    schema = parquet.schema_arrow
    meta = parquet.metadata
    # the Parquet leaf columns by name (nested columns have several leaves each)
    leaves = {meta.schema.column(j).path: j for j in range(meta.num_columns)}
    names = []
    for name in ("person", "venue"):
        # (only string: a large_string column would come back as a dictionary of string)
        if not pa.types.is_string(schema.field(name).type) or name not in leaves:
            continue
        at = leaves[name]
        chunks = [meta.row_group(i).column(at) for i in range(meta.num_row_groups)]
        if chunks and all(
            c.has_dictionary_page
            and c.total_uncompressed_size <= _DICTIONARY_BYTES_PER_ROW * max(c.num_values, 1)
            for c in chunks
        ):
            names.append(name)
    return names


_T = TypeVar("_T")


def _ahead(items: Iterator[_T], depth: int) -> Iterator[_T]:
    """``items``, produced on a second thread up to ``depth`` items ahead.

    Arrow decodes without the GIL, so decoding the next batches overlaps with the
    caller's work on this one. An error in the producer is raised here; if the
    caller stops early, the producer stops at its next batch.
    """
    box: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            last: Any = done
        except BaseException as exc:  # handed to the consumer, raised there
            last = exc
        while not stop.is_set():
            try:
                box.put(last, timeout=0.1)
                return
            except queue.Full:
                continue

    worker = threading.Thread(target=produce, name="tracegraph-read", daemon=True)
    worker.start()
    try:
        while True:
            got = box.get()
            if got is done:
                return
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()
        worker.join()


class _Times:
    """Start and end columns as seconds after the first stay's start.

    ``int32`` while every time is within 68 years of that origin, else ``int64``.
    """

    def __init__(self, capacity: int) -> None:
        self.origin: int | None = None
        self.start = _Buffer(np.int32, capacity)
        self.end = _Buffer(np.int32, capacity)
        # the earliest start, the latest end (seconds) and the longest stay seen
        self.first = MAX_TIME + 1
        self.last = MIN_TIME - 1
        self.longest = 0

    def bounds(self) -> tuple[int, int, int] | None:
        """``(earliest start, latest end, longest stay)``, times after the origin (or None)."""
        if self.origin is None:
            return None
        return self.first - self.origin, self.last - self.origin, self.longest

    @staticmethod
    def raw(column: pa.Array, name: str, tz: str | None, row0: int) -> tuple[np.ndarray, int]:
        """The column checked (type, nulls, zone) as int64 in its unit; and units per second."""
        column = undictionary(column)
        typ = column.type
        require_timestamp(typ, f"stays: column `{name}`")
        if column.null_count:
            first = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise SchemaError(
                f"stays: column `{name}`: expected no nulls, found one at row {row0 + first}; "
                f"drop or fill those rows first"
            )
        column = in_zone(column, f"stays: column `{name}`", tz)  # naive: now in seconds
        return column.view(pa.int64()).to_numpy(zero_copy_only=False), _UNIT_PER_S[column.type.unit]

    def append(self, batch: pa.RecordBatch, tz: str | None, row0: int) -> None:
        n = batch.num_rows
        raw_start, per_start = self.raw(batch.column("start"), "start", tz, row0)
        raw_end, per_end = self.raw(batch.column("end"), "end", tz, row0)
        if not n:
            return
        per = per_start
        if per_end != per_start:  # units differ: both to seconds first
            raw_start, raw_end, per = _seconds(raw_start, per_start), _seconds(raw_end, per_end), 1
        if self.origin is None:
            self.origin = int(raw_start[0]) // per
        # one pass: floor to seconds, range, order check, offsets from the origin
        found = _kernels.stay_seconds(
            raw_start, raw_end, per, self.origin, self.start.reserve(n), self.end.reserve(n)
        )
        lo_s, hi_s, lo_e, hi_e, bad, longest = (int(x) for x in found)
        # the kernel compares the times in one unit before flooring: exact for zone-aware
        # columns of one unit; naive ones came back floored and mixed units were floored
        # above, so those are compared again with their parts below a second
        sub_second = None
        s_col, e_col = batch.column("start"), batch.column("end")
        exact = s_col.type.unit == e_col.type.unit and None not in (s_col.type.tz, e_col.type.tz)
        if not exact and not s_col.type.unit == e_col.type.unit == "s":
            if per == 1:  # (naive, or mixed units: in seconds already)
                sub_second = ends_before_start(raw_start, raw_end, s_col, e_col)
            else:
                s_sec, e_sec = _seconds(raw_start, per), _seconds(raw_end, per)
                sub_second = ends_before_start(s_sec, e_sec, s_col, e_col)
            if sub_second.any():
                bad = (
                    int(np.argmax(sub_second)) if bad < 0 else min(bad, int(np.argmax(sub_second)))
                )
        for name, raw, lo, hi in (("start", raw_start, lo_s, hi_s), ("end", raw_end, lo_e, hi_e)):
            if lo < MIN_TIME or hi > MAX_TIME:
                seconds = _seconds(raw, per)
                at = int(np.flatnonzero((seconds < MIN_TIME) | (seconds > MAX_TIME))[0])
                raise SchemaError(
                    f"stays: column `{name}`: expected times between the years 1 and 9999, "
                    f"found one out of range at row {row0 + at}"
                )
        if bad >= 0:
            backwards = raw_end < raw_start  # (the kernel's test: one unit, before flooring)
            if sub_second is not None:
                backwards |= sub_second
            n_bad = int(np.count_nonzero(backwards))
            raise SchemaError(
                f"stays: expected end >= start, found {n_bad} stays ending before they start "
                f"in the batch at rows {row0}-{row0 + n - 1} (first at row {row0 + bad}); "
                f"fix or drop those rows"
            )
        self.first, self.last = min(self.first, lo_s), max(self.last, hi_e)
        self.longest = max(self.longest, longest)
        if self.start.data.dtype == np.int32 and (
            min(lo_s, lo_e) - self.origin < _INT32_MIN or max(hi_s, hi_e) - self.origin > _INT32_MAX
        ):  # the int32 offsets wrapped: widen to int64 and write this batch again
            for name in ("start", "end"):
                old = getattr(self, name)
                old.size -= n
                wide = _Buffer(np.int64, old.data.shape[0])
                wide.append(old.take())
                setattr(self, name, wide)
            _kernels.stay_seconds(
                raw_start, raw_end, per, self.origin, self.start.reserve(n), self.end.reserve(n)
            )


def _seconds(raw: np.ndarray, per_s: int) -> np.ndarray:
    """Timestamps in units of ``1 / per_s`` s as whole epoch seconds (floored), int64."""
    seconds: np.ndarray = np.floor_divide(raw, per_s)  # only mixed units and errors
    return seconds


def read_stay_codes(source: Any, *, tz: str | None, bar: _Bar | None = None) -> _StayCodes:
    """Read a source of stays (see :func:`is_source`) into codes, ids sorted as ``clean_stays``."""
    bar = bar or _Bar(None)
    parts = _parts(source)
    capacity = _total_rows(parts) or 0
    person = _IdCodes(capacity)
    venue = _IdCodes(capacity)
    times = _Times(capacity)
    id_types: dict[str, list[pa.DataType]] = {}  # the ids' types seen, first first
    # id columns with uint64 ids from 2**63 on, and with negative ids
    beyond_int64: set[str] = set()
    negative: set[str] = set()
    row0 = 0

    def batches() -> Iterator[tuple[_Part, pa.RecordBatch]]:
        for part in parts:
            for batch in _part_batches(part):
                yield part, batch

    # the read buffers' pages are faulted in on another thread, ahead of the encoding
    # (as they are when it asks: the times' are replaced if they widen to int64)
    populator = _memory.Populator(
        lambda: [b.data for b in (person.codes, venue.codes, times.start, times.end)]
    )
    with populator:
        for part, batch in _ahead(batches(), _AHEAD):
            n = batch.num_rows
            if not n:  # no rows, no ids: their type may be any (an empty file's default)
                continue
            if row0 + n >= _INT32_MAX:
                raise SchemaError(
                    f"stays: expected fewer than {_INT32_MAX} stays in one index, got more; "
                    f"index fewer stays at once (a shorter period)"
                )
            for name, codes in (("person", person), ("venue", venue)):
                column = _id_column(batch.column(name), name, part, row0)
                typ = column.type
                if pa.types.is_dictionary(typ):
                    typ = typ.value_type
                seen = id_types.setdefault(name, [typ])
                if _family(typ) != _family(seen[0]):
                    raise SchemaError(
                        f"{part.label}: column `{name}`: expected {_family(seen[0])} ids as in the "
                        f"rows before, got {typ}; give every file the same id type"
                    )
                if typ not in seen:
                    seen.append(typ)
                if typ == pa.uint64() and (pc.max(column).as_py() or 0) > _INT64_MAX:
                    beyond_int64.add(name)
                elif pa.types.is_signed_integer(typ) and (pc.min(column).as_py() or 0) < 0:
                    negative.add(name)
                codes.append(column)
            times.append(batch, tz, row0)
            row0 += n
            bar.update(n)
    if not id_types:  # no rows: the ids' types as the source declares them
        schema = _part_schema(parts[0])
        for name in ("person", "venue"):
            field = schema.field(name) if name in schema.names else None
            typ = field.type if field is not None else pa.int64()
            if pa.types.is_dictionary(typ):
                typ = typ.value_type
            id_types[name] = [pa.string() if pa.types.is_string_view(typ) else typ]
    types = {name: _id_type(seen) for name, seen in id_types.items()}
    for name in sorted(beyond_int64):  # files of integer ids meet as index.append's do
        if name in negative:  # (the int64 codes of 2**64 - 1 and of -1 are one)
            raise SchemaError(  # (no id shown: personal data)
                f"stays: column `{name}`: expected integer ids of one range, got uint64 ids "
                f"of 2**63 and more beside negative ids, which no integer type holds both "
                f"of; cast the ids to strings"
            )
        types[name] = pa.uint64()
    persons = _sorted_ids(person, types["person"])
    venues = _sorted_ids(venue, types["venue"])
    return _StayCodes(
        persons=persons[0],
        venues=venues[0],
        person=_renumbered(_tight(person.codes), persons[1]),
        venue=_renumbered(_tight(venue.codes), venues[1]),
        start=_tight(times.start),
        end=_tight(times.end),
        origin=times.origin or 0,
        bounds=times.bounds(),
    )


def _tight(buffer: _Buffer) -> np.ndarray:
    """The buffer's rows, copied out when it holds much unused room (it outlives the build)."""
    capacity = buffer.data.shape[0]
    values = buffer.take()
    return values.copy() if capacity > values.shape[0] + values.shape[0] // 8 else values


def _id_column(column: pa.Array, name: str, part: _Part, row0: int) -> pa.Array:
    """An id column of one batch, checked as :func:`check_id_column` does (rows from ``row0``).

    A dictionary of text ids is kept as one (the ids are encoded once per distinct
    value) when its rows and the values they use are neither null nor empty; any
    other dictionary is decoded, and a bad id then named by its row.
    """
    if pa.types.is_dictionary(column.type) and _clean_text_dictionary(column):
        return column
    if column.null_count:
        first = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise SchemaError(
            f"{part.label}: column `{name}`: expected no null ids, found one at row "
            f"{row0 + first}; drop or fill those rows first"
        )
    return check_id_column(pa.chunked_array([column]), name, part.label, row0=row0).chunk(0)


def _clean_text_dictionary(column: pa.DictionaryArray) -> bool:
    """Whether a dictionary column holds text ids without nulls or empty ones."""
    values = column.dictionary
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return False  # (integers and others are decoded: their checks are the plain ones)
    if column.null_count or values.null_count:
        return False
    return not pc.any(pc.equal(pc.binary_length(values), 0)).as_py()


def _id_type(seen: list[pa.DataType]) -> pa.DataType:
    """The ids' type: as the rows had it, or int64 when files gave different integer types."""
    if len(seen) == 1:
        return seen[0]
    if all(pa.types.is_integer(t) for t in seen):
        return pa.int64()
    return pa.large_string() if pa.large_string() in seen else pa.string()


def _family(typ: pa.DataType) -> str:
    return "integer" if pa.types.is_integer(typ) else "text"
