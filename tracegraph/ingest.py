"""Tables of stays → clean, canonical stays (int32 codes, int64 epoch seconds).

This is the first step of the flow: everything that reads user data validates it
here, so that later steps (:mod:`tracegraph.index`, :mod:`tracegraph.exposure`) and
the kernels only ever see canonical arrays.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import pathlib
import stat
import string
import sys
import time
import unicodedata
import urllib.parse
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc
import pyarrow.parquet as pq

from tracegraph import _kernels, _memory
from tracegraph._deps import require
from tracegraph._parallel import split_rows, threads, workers
from tracegraph._progress import progress_bar
from tracegraph._time import (
    _UNIT_PER_S,
    FAR_PAST,
    MAX_TIME,
    MIN_TIME,
    check_zone,
    duration_seconds,
    ends_before_start,
    format_instant,
    instant_seconds,
    int_values,
    local_to_utc,
    next_midnight,
    to_seconds,
)
from tracegraph._typing import DurationLike, TableLike
from tracegraph.errors import (
    AliasError,
    ArgumentError,
    DataWarning,
    DurationError,
    ScanFileError,
    ScanRowError,
    SchemaError,
    TimezoneError,
)

__all__ = [
    "CLOSED_BY",
    "REJECT_REASONS",
    "STAY_COLUMNS",
    "FileReport",
    "IngestReport",
    "ScanReport",
    "ScanSchema",
    "Scans",
    "Stays",
    "StaysReport",
    "StaysResult",
    "as_arrow_table",
    "clean_stays",
    "encode_ids",
    "pseudonymize",
    "read_scans",
    "scans_to_stays",
]

#: The columns a table of stays must have.
STAY_COLUMNS = ("person", "venue", "start", "end")

_INT32_MAX = int(np.iinfo(np.int32).max)
_INT64_MAX = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class Stays:
    """Validated stays in canonical form.

    Attributes
    ----------
    persons, venues : pyarrow.Array
        Distinct ids, sorted; code ``c`` stands for ``persons[c]`` / ``venues[c]``.
    person, venue : numpy.ndarray
        ``int32`` codes, one per stay, in input order.
    start, end : numpy.ndarray
        ``int64`` seconds since the epoch, floored; ``end >= start``.
    """

    persons: pa.Array
    venues: pa.Array
    person: np.ndarray
    venue: np.ndarray
    start: np.ndarray
    end: np.ndarray


def clean_stays(stays: TableLike, /, *, tz: str | None = None) -> Stays:
    """Validate a table of stays and convert it to canonical arrays.

    Parameters
    ----------
    stays : pyarrow.Table, pandas.DataFrame or polars.DataFrame
        Columns ``person``, ``venue`` (integer or string ids, no nulls), ``start``,
        ``end`` (timestamps of any unit, no nulls).
    tz : str, optional
        Zone in which to read naive timestamps.

    Returns
    -------
    Stays

    Raises
    ------
    SchemaError
        Missing or mistyped columns, nulls, or a stay ending before it starts.
    TimezoneError
        Naive timestamps and no ``tz``.

    Examples
    --------
    >>> clean = clean_stays(tiny_city.stays)
    >>> clean.person.dtype, clean.start.dtype
    (dtype('int32'), dtype('int64'))
    """
    table = as_arrow_table(stays, "stays", STAY_COLUMNS)
    require_columns(table, STAY_COLUMNS, "stays")
    person_col = check_id_column(table.column("person"), "person", "stays")
    venue_col = check_id_column(table.column("venue"), "venue", "stays")
    start = to_seconds(table.column("start"), "start", tz, "stays")
    end = to_seconds(table.column("end"), "end", tz, "stays")
    backwards = ends_before_start(start, end, table.column("start"), table.column("end"))
    bad = np.flatnonzero(backwards)
    if bad.size:
        raise SchemaError(
            f"stays: expected end >= start, found {bad.size} stays ending before they "
            f"start (first at row {int(bad[0])}); fix or drop those rows"
        )
    n = int(start.shape[0])
    if n >= _INT32_MAX:
        raise SchemaError(f"stays: expected fewer than {_INT32_MAX} stays, got {n}")
    persons, person = encode_ids(person_col)
    venues, venue = encode_ids(venue_col)
    return Stays(persons, venues, person, venue, start, end)


def as_arrow_table(
    data: TableLike, what: str, columns: tuple[str, ...] = (), *, expected: str | None = None
) -> pa.Table:
    """Return ``data`` as a ``pyarrow.Table`` (pandas, polars: no copies where possible).

    Parameters
    ----------
    data : pyarrow.Table, pyarrow.RecordBatch, pandas.DataFrame or polars.DataFrame
        Anything tabular that speaks Arrow (the Arrow PyCapsule stream interface).
    what : str
        What the table is, for error messages (``"stays"``, ``"cases"``).
    columns : tuple of str
        The columns the caller reads, if known: a pandas column that Arrow cannot
        convert (objects of mixed types, say) is then left out when it is not one of
        them, instead of failing the whole table.
    expected : str, optional
        What the caller takes, for the error when ``data`` is no table (default: the
        table types, and for stays the sources ``from_stays`` reads as well).

    Returns
    -------
    pyarrow.Table
    """
    if isinstance(data, pa.Table):
        return _once_each(data, what, columns)
    if isinstance(data, pa.RecordBatch):
        return _once_each(pa.Table.from_batches([data]), what, columns)
    module = type(data).__module__.split(".")[0]
    name = type(data).__name__
    frame = hasattr(type(data), "columns")  # a Series, an Array: one column
    if module == "pandas" and frame:
        return _from_pandas(data, what, columns)
    if module == "polars" and frame and hasattr(type(data), "to_arrow"):
        return _once_each(data.to_arrow(), what, columns)
    hint = ""
    if isinstance(data, StaysResult) and what in ("stays", "scans"):
        hint = (
            "; these are stays already: tg.VenueIndex.from_stays(result.stays)"
            if what == "scans"
            else "; pass its table of stays: result.stays"
        )
    elif isinstance(data, Scans) and what in ("stays", "scans"):
        hint = (
            "; turn the scans into stays first: tg.scans_to_stays(scans).stays"
            if what == "stays"
            else "; pass its table: scans.table"
        )
    elif module == "polars" and hasattr(type(data), "collect"):
        hint = "; collect it first: frame.collect()"
    elif isinstance(data, pa.Array | pa.ChunkedArray) or (
        module in ("pandas", "polars") and not frame
    ):
        hint = "; pass a table of columns (a DataFrame), not one column"
    if not hint and hasattr(data, "__arrow_c_stream__"):
        return _once_each(pa.table(data), what, columns)
    if expected is None:
        expected = "a pyarrow.Table, pandas.DataFrame or polars.DataFrame"
    if what == "stays" and expected.endswith("polars.DataFrame"):
        expected += (
            ", or a path to a Parquet/Arrow file or folder, a pyarrow RecordBatchReader or "
            "dataset (or a list of these)"
        )
    raise SchemaError(f"{what}: expected {expected}, got {name}{hint}")


def _repeated_columns(names: list[str], what: str, columns: tuple[str, ...]) -> list[str]:
    """The names that appear more than once, when none of them is read.

    A repeated column that is read (one of ``columns``; any, when empty) is a
    :class:`SchemaError`: which copy would be meant?
    """
    repeated = sorted({name for name in names if names.count(name) > 1})
    read = [name for name in repeated if not columns or name in columns]
    if read:
        raise SchemaError(
            f"{what}: column `{read[0]}` appears {names.count(read[0])} times; expected "
            f"each column read once; drop or rename the copies"
        )
    return repeated


def _once_each(table: pa.Table, what: str, columns: tuple[str, ...]) -> pa.Table:
    """``table`` without the copies of repeated columns it is not read for (see above)."""
    repeated = _repeated_columns(table.column_names, what, columns)
    if not repeated:
        return table
    keep = [k for k, name in enumerate(table.column_names) if name not in repeated]
    return table.select(keep)


def _from_pandas(frame: Any, what: str, columns: tuple[str, ...]) -> pa.Table:
    """A pandas DataFrame as Arrow; a column Arrow cannot convert is named, never quoted."""
    names = [str(name) for name in frame.columns]
    repeated = _repeated_columns(names, what, columns)
    if repeated:  # (Arrow refuses such frames: those not read are left out)
        frame = frame.loc[:, [name not in repeated for name in names]]
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        pass  # Arrow's message quotes the value it could not convert: personal data
    bad = []
    for name in frame.columns:
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            bad.append(name)
    if columns and bad and not any(name in columns for name in bad):
        keep = [name for name in frame.columns if name not in bad]
        return pa.Table.from_pandas(frame[keep], preserve_index=False)
    name = next((n for n in bad if not columns or n in columns), bad[0] if bad else None)
    if name is None:
        raise SchemaError(f"{what}: expected a DataFrame Arrow can convert, got one it cannot")
    raise SchemaError(
        f"{what}: column `{name}` (pandas dtype {frame[name].dtype}): expected values of one "
        f"type (integers, text or timestamps), found values Arrow cannot convert to one "
        f"type; convert the column first (e.g. .astype(str) for ids)"
    )


def require_columns(table: pa.Table, names: tuple[str, ...], what: str) -> None:
    missing = [name for name in names if name not in table.column_names]
    if missing:
        raise SchemaError(
            f"{what}: column `{missing[0]}` not found; expected columns {list(names)}, "
            f"available: {table.column_names}"
        )


def check_id_column(
    column: pa.ChunkedArray, name: str, what: str, *, row0: int = 0
) -> pa.ChunkedArray:
    """An id column checked and made plain: integer or text ids, none null or empty.

    Dictionary columns are decoded and ``string_view`` becomes ``string``. Raises
    :class:`SchemaError` (naming rows, never an id: ids are personal data) for other
    types, nulls and empty text ids (an empty id would make everyone without an id
    one person, in contact with all the others' contacts). ``row0``: the row number
    of the column's first row in the source.
    """
    typ = column.type
    if pa.types.is_dictionary(typ):
        if pa.types.is_string_view(typ.value_type):  # (Arrow cannot decode these as they are)
            column = pa.chunked_array(
                [
                    pa.DictionaryArray.from_arrays(c.indices, c.dictionary.cast(pa.string()))
                    for c in column.chunks
                ],
                pa.dictionary(typ.index_type, pa.string()),
            )
            typ = column.type
        column = column.cast(typ.value_type)
        typ = column.type
    if not (
        pa.types.is_integer(typ)
        or pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_string_view(typ)
    ):
        raise SchemaError(f"{what}: column `{name}`: expected integer or string ids, got {typ}")
    if pa.types.is_string_view(typ):
        column = column.cast(pa.string())
    if column.null_count:
        raise SchemaError(
            f"{what}: column `{name}`: expected no nulls, found {column.null_count}; "
            f"drop or fill those rows first"
        )
    if not len(column):
        return column
    if pa.types.is_integer(typ):
        return column
    empty = pc.equal(pc.binary_length(column), 0)
    n_empty = int(pc.sum(empty).as_py() or 0)
    if n_empty:
        first = int(pc.index(empty, True).as_py())
        raise SchemaError(
            f"{what}: column `{name}`: expected non-empty ids, found {n_empty} empty (the "
            f"first at row {row0 + first}); drop those rows or give them their ids"
        )
    return column


def ids_array(values: list[Any], index_type: pa.DataType, what: str = "`cases`") -> pa.Array:
    """Ids asked for as an Arrow array: their own type, else the index's (e.g. uint64)."""
    if not values:
        return pa.array([], index_type)
    # (uint64 too: a list's ids of 2**63 or more, which int64 cannot hold, are ids
    # like any other, unknown to an index of signed ids)
    for typ in (None, index_type, pa.uint64()):
        try:
            return pa.array(values, type=typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            continue
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise SchemaError(
            f"{what}: expected ids of one type ({index_type}), got integers that no one "
            f"integer type holds (negative ids beside ids of 2**63 or more, or ids beyond 64 "
            f"bits); such ids cannot be in the index: leave them out"
        )
    raise SchemaError(
        f"{what}: expected ids of one type ({index_type}), got ids of mixed or unsupported types"
    )  # no Arrow message as cause: it would quote the offending id


def encode_ids(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Dictionary-encode ids into dense int32 codes with a sorted dictionary.

    Sorting the dictionary makes every code, and so every result's order,
    independent of the order of the input rows.

    Returns
    -------
    ids : pyarrow.Array
        The distinct ids, sorted; code ``c`` stands for ``ids[c]``.
    codes : numpy.ndarray
        ``int32`` code of every row.
    """
    if pa.types.is_integer(column.type) and len(column):
        dense = _encode_dense_ints(column)
        if dense is not None:
            return dense
        if column.type != pa.uint64() or pc.max(column).as_py() <= _INT64_MAX:
            return _encode_hashed(column)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return _encode_hashed(column)
    encoded = pc.dictionary_encode(column)
    if encoded.num_chunks == 0:
        return pa.array([], type=column.type), np.empty(0, dtype=np.int32)
    dictionary = encoded.chunk(0).dictionary
    raw_codes = np.concatenate(
        [chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded.chunks]
    )
    order = pc.array_sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return dictionary.take(pa.array(order)), rank[raw_codes]


#: Hashed ids in memory are encoded in slices of this many rows (see `_encode_rows`).
_HASHED_SLICE = 1 << 20


def _encode_hashed(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """:func:`encode_ids` of text or sparse integer ids (within int64) by hash table kernels.

    Slices of the column go through :class:`_IdCodes` as batches read from a file do
    (once most ids are known, slices are looked up on threads), then the distinct
    ids are sorted and each code replaced by its rank, as after Arrow's
    ``dictionary_encode`` (which hashes on one thread, with a slower hash table).
    """
    table = _IdCodes(len(column))
    table.dense = False  # integers too sparse for a direct table: encode_ids tried it
    for chunk in column.chunks:
        for lo in range(0, len(chunk), _HASHED_SLICE):
            table.append(chunk.slice(lo, _HASHED_SLICE))
    ids, rank = _sorted_ids(table, column.type)
    return ids, _renumbered(table.codes.take(), rank)


def _sorted_ids(codes: _IdCodes, typ: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """The distinct ids sorted (of type ``typ``), and each code's rank."""
    dense = codes.sorted_dense()
    if dense is not None:  # integer ids in a direct table: already in order there
        codes.distinct()  # releases the tables
        ids, rank = dense
        negative = int(np.searchsorted(ids, 0))
        if typ == pa.uint64() and negative:  # ids from 2**63 on come last as uint64
            ids = np.roll(ids, -negative)
            rank = (rank - negative) % ids.shape[0]
        return _ints_as(pa.array(ids), typ), rank.astype(np.int32, copy=False)
    ids = codes.distinct()
    if ids.type != typ:
        ids = _ints_as(ids, typ)
    order = pc.array_sort_indices(ids).to_numpy()
    rank = np.empty(order.shape[0], dtype=np.int32)
    rank[order] = np.arange(order.shape[0], dtype=np.int32)
    return ids.take(pa.array(order)), rank


def _ints_as(ids: pa.Array, typ: pa.DataType) -> pa.Array:
    """``ids`` cast to ``typ``; int64 codes' ids to uint64 by their bits (ids from 2**63 on).

    (:class:`_IdCodes` holds integer ids as int64: uint64 ids at or above 2**63 are
    negative there, and come back whole this way.)
    """
    if typ == pa.uint64() and ids.type == pa.int64():
        return pa.array(np.asarray(ids.to_numpy(zero_copy_only=False)).view(np.uint64))
    return ids.cast(typ)


def _renumbered(codes: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """``codes`` replaced by their ranks, in place, slices on threads."""
    split_rows(codes.shape[0], lambda lo, hi: _kernels.renumber(codes[lo:hi], rank))
    return codes


def _encode_dense_ints(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray] | None:
    """Encode integer ids that fill most of their range with a bitmap (O(n), no hashing).

    Returns ``None`` when the ids are too sparse for that (then hashing is used).
    Works piece by piece on zero-copy views of the chunks, so that its memory is the
    codes (4 bytes per id) and the bitmap, not copies of the ids.
    """
    bounds = pc.min_max(column)
    lo, hi = int(bounds["min"].as_py()), int(bounds["max"].as_py())
    n = len(column)
    span = hi - lo + 1
    if span > 2 * n + 1024 or span >= 2**31:
        return None
    present = np.zeros(span, dtype=np.bool_)
    for piece in _int_pieces(column):
        present[_offsets(piece, lo)] = True
    lookup = np.cumsum(present, dtype=np.int32) - 1
    dtype = np.dtype(column.type.to_pandas_dtype())
    ids = pa.array(np.flatnonzero(present).astype(dtype) + dtype.type(lo), type=column.type)
    del present
    codes = np.empty(n, dtype=np.int32)
    done = 0
    for piece in _int_pieces(column):
        codes[done : done + piece.shape[0]] = lookup[_offsets(piece, lo)]
        done += piece.shape[0]
    return ids, codes


_PIECE = 1 << 20  # rows per piece of piecewise numpy work: bounded temporaries
_PAIR_SLICE = 1 << 21  # scans per call of the pairing kernel (16 bytes of buffers each)


def _int_pieces(column: pa.ChunkedArray) -> Iterator[np.ndarray]:
    """Zero-copy numpy views of an integer column without nulls, at most ``_PIECE`` long."""
    for chunk in column.chunks:
        values = chunk.to_numpy()
        for start in range(0, values.shape[0], _PIECE):
            yield values[start : start + _PIECE]


def _offsets(values: np.ndarray, lo: int) -> np.ndarray:
    """``values - lo`` as int64 (known to be in ``[0, 2**31)``), without overflow."""
    if values.dtype == np.uint64:  # may not fit an int64; the difference does
        return (values - np.uint64(lo)).astype(np.int64)
    return values.astype(np.int64, copy=False) - lo


# =========================================================================== scans
#
# Raw QR scans → :class:`Scans` (read_scans) → stays (scans_to_stays). Rows are only
# ever handled in Arrow/numpy batches; the per-person sequential logic of pairing
# entries with exits lives in the "scans" kernels of :mod:`tracegraph._kernels`.

#: Why a scan row was rejected, in the order the rules are checked (a row gets the first).
REJECT_REASONS = (
    "null_person",
    "null_venue",
    "null_time",
    "bad_time",
    "naive_time",
    "time_out_of_range",
    "bad_direction",
    "future_time",
    "too_early",
)
_REASON_TEXT = {
    "null_person": "the person id is null or empty",
    "null_venue": "the venue id is null or empty",
    "null_time": "the time is null",
    "bad_time": (
        "the time cannot be parsed (expected an ISO-8601 string, a timestamp or a finite "
        "number; epoch numbers held as text are none of these: cast the column to integers)"
    ),
    "naive_time": (
        "the time is text without a UTC offset and no zone was given (pass tz= or ScanSchema(tz=))"
    ),
    "time_out_of_range": (
        "the time is outside the years 1 to 9999 (epoch numbers in milliseconds, "
        "microseconds or nanoseconds read as seconds? give the schema their unit: "
        "ScanSchema(..., time_unit='ms'))"
    ),
    "bad_direction": (
        "the direction is not one of the schema's direction values (map other values with "
        "ScanSchema(directions={...}))"
    ),
    "future_time": "the time is after `now`",
    "too_early": "the time is before `not_before`",
}
_R = {name: np.int8(code) for code, name in enumerate(REJECT_REASONS)}
_OK = np.int8(-1)

#: How a stay was closed, by code of the scans kernels.
CLOSED_BY = ("exit", "default_dwell", "next_scan", "max_stay", "midnight")

_DEFAULT_DIRECTIONS: dict[str, str] = {
    "entry": "entry",
    "exit": "exit",
    "in": "entry",
    "out": "exit",
    "i": "entry",
    "o": "exit",
    "enter": "entry",
}
_TIME_UNITS = ("s", "ms", "us", "ns")
_SCAN_SUFFIXES = (".parquet", ".pq", ".arrow", ".feather", ".ipc", ".arrows")
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_DEFAULT_BATCH = 1 << 16
_UTC_S = pa.timestamp("s", tz="UTC")
_ISO_TIME = (
    r"^\s*(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<hm>\d{2}:\d{2})(?P<sec>:\d{2})?(?:[.,]\d+)?"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?\s*$"
)

ScanErrors = Literal["raise", "quarantine"]


@dataclass(frozen=True)
class ScanSchema:
    """How one source names its scan columns: a declarative mapping to the canonical ones.

    Parameters
    ----------
    person, venue, time : str
        Names of the person id, venue id and scan time columns (required). Ids are
        integers or strings. Times are timestamps (zone-aware, or naive read in
        ``tz``), integers or floats since the Unix epoch in ``time_unit``, or
        ISO-8601 strings (``2021-08-01T07:30:00+07:00``, ``...Z``, or naive).
    direction : str, optional
        Name of the entry/exit column. Without it every scan is an entry.
    directions : mapping, optional
        Raw direction value → ``"entry"`` or ``"exit"``, matched case-insensitively
        after trimming blanks, accents composed (Unicode NFC: ``"Vào"`` written with a
        combining grave accent is ``"Vào"``). Default: ``entry/exit``, ``in/out``, ``I/O``. A null
        direction is an entry; any other value is rejected (``bad_direction``).
    method : str, optional
        Name of a column saying how the scan was made (app name, ``"CCCD"``), kept as
        the ``method`` column, as text (a column no text comes from, such as a list,
        is a :class:`~tracegraph.errors.SchemaError`).
    source : str, optional
        Provenance tag written to the ``source`` column of every scan from this
        source. Default: the file or directory name (``"table"`` in memory). In a
        partitioned directory (``app=bluezone/day=2021-09-01/...``) it may name
        partition keys in braces, filled in per file: ``"{app}"`` gives
        ``"bluezone"``, ``"{app}/{day}"`` gives ``"bluezone/2021-09-01"`` (``{{`` and
        ``}}`` are literal braces). See :func:`read_scans`.
    time_unit : {"s", "ms", "us", "ns"}, default "s"
        Unit of integer or float epoch times. Numbers too large for seconds are
        rejected as ``time_out_of_range`` (with a hint to give their unit); numbers
        read in ``"ms"``, ``"us"`` or ``"ns"`` whose accepted times all fall in 1970
        (seconds read in a finer unit) get a :class:`~tracegraph.errors.DataWarning`.
    tz : str, optional
        Zone of naive timestamps or strings of this source (overrides ``read_scans(tz=)``).

    Examples
    --------
    >>> schema = tg.ScanSchema(person="uid", venue="qr", time="ts", direction="dir",
    ...                        directions={"vao": "entry", "ra": "exit"}, source="vneid")
    >>> schema.columns()
    ['uid', 'qr', 'ts', 'dir']
    """

    person: str
    venue: str
    time: str
    direction: str | None = None
    directions: Mapping[str, str] | None = None
    method: str | None = None
    source: str | None = None
    time_unit: Literal["s", "ms", "us", "ns"] = "s"
    tz: str | None = None

    def __post_init__(self) -> None:
        for name in ("person", "venue", "time"):
            if not isinstance(getattr(self, name), str):
                raise SchemaError(
                    f"ScanSchema: `{name}`: expected a column name (str), "
                    f"got {type(getattr(self, name)).__name__}"
                )
        for name in ("direction", "method"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise SchemaError(
                    f"ScanSchema: `{name}`: expected a column name (str) or None, "
                    f"got {type(getattr(self, name)).__name__}"
                )
        if self.time_unit not in _TIME_UNITS:
            raise SchemaError(
                f"ScanSchema: `time_unit`: expected one of {_TIME_UNITS}, got {self.time_unit!r}"
            )
        if self.directions is not None:
            if not isinstance(self.directions, Mapping):
                raise SchemaError(
                    f"ScanSchema: `directions`: expected a mapping of raw values to 'entry' or "
                    f"'exit', e.g. {{'in': 'entry', 'out': 'exit'}}, got "
                    f"{type(self.directions).__name__}"
                )
            if self.direction is None:
                raise SchemaError(
                    "ScanSchema: `directions` given without a `direction` column; "
                    "name the column with direction=..."
                )
            wrong = [v for v in self.directions.values() if v not in ("entry", "exit")]
            if wrong:
                raise SchemaError(
                    f"ScanSchema: `directions`: expected values 'entry' or 'exit', got {wrong[0]!r}"
                )
            seen: dict[str, tuple[object, str]] = {}
            for key, value in self.directions.items():
                normal = _direction_key(key)
                if normal in seen and seen[normal][1] != value:
                    raise SchemaError(
                        f"ScanSchema: `directions`: expected raw values that differ once "
                        f"trimmed and lower-cased (they are matched so), got "
                        f"{seen[normal][0]!r} → {seen[normal][1]!r} and {key!r} → {value!r}; "
                        f"keep one of them"
                    )
                seen[normal] = (key, value)
        if self.source is not None:
            if not isinstance(self.source, str):
                raise SchemaError(
                    f"ScanSchema: `source`: expected a tag (str), e.g. 'bluezone' or '{{app}}' "
                    f"for a partition key, got {type(self.source).__name__}"
                )
            _template_keys(self.source)
        if self.tz is not None:  # (checked here, not at the read: "" read as no zone at all)
            if not isinstance(self.tz, str):
                raise SchemaError(
                    f"ScanSchema: `tz`: expected a zone name (str), e.g. 'Asia/Ho_Chi_Minh', "
                    f"or None, got {type(self.tz).__name__}"
                )
            try:
                check_zone(self.tz, "tz")
            except TimezoneError as exc:
                raise TimezoneError(f"ScanSchema: {exc}") from None

    def columns(self) -> list[str]:
        """The columns this schema reads, in order (person, venue, time, direction, method).

        Returns
        -------
        list of str
            Each column name once (a partition key the schema maps is one of them).

        Examples
        --------
        >>> tg.ScanSchema(person="uid", venue="qr", time="ts", method="app").columns()
        ['uid', 'qr', 'ts', 'app']
        """
        names = [self.person, self.venue, self.time, self.direction, self.method]
        return list(dict.fromkeys(n for n in names if n is not None))

    def direction_map(self) -> dict[str, str]:
        """Lower-cased raw value → ``"entry"``/``"exit"``.

        Returns
        -------
        dict
            The schema's ``directions``, or the default ones, keyed by trimmed,
            lower-cased value with its accents composed (NFC).

        Examples
        --------
        >>> schema = tg.ScanSchema(person="p", venue="v", time="t", direction="d",
        ...                        directions={" VAO ": "entry", "Ra": "exit"})
        >>> schema.direction_map()
        {'vao': 'entry', 'ra': 'exit'}
        """
        raw = _DEFAULT_DIRECTIONS if self.directions is None else self.directions
        return {_direction_key(k): v for k, v in raw.items()}


def _direction_key(value: object) -> str:
    """A raw direction value as it is matched: trimmed, lower-cased, accents composed (NFC)."""
    return unicodedata.normalize("NFC", str(value).strip().lower())


#: Used when ``read_scans`` gets no schema; its ``direction`` column is optional.
_DEFAULT_SCHEMA = ScanSchema(person="person", venue="venue", time="time", direction="direction")


@dataclass(frozen=True)
class FileReport:
    """Row counts of one input (file, table or reader).

    ``read == accepted + rejected + duplicates`` always holds.
    """

    file: str
    source: str
    read: int
    accepted: int
    rejected: int
    duplicates: int


@dataclass(frozen=True)
class ScanReport:
    """Row counts of :func:`read_scans`, per input and in total.

    Attributes
    ----------
    files : tuple of FileReport
        One entry per input file, table or reader, in reading order.
    rejected_by_reason : dict
        Reason → number of rejected rows (only reasons that occurred).
    """

    files: tuple[FileReport, ...]
    rejected_by_reason: dict[str, int]

    @property
    def read(self) -> int:
        """Rows read from every input."""
        return sum(f.read for f in self.files)

    @property
    def accepted(self) -> int:
        """Rows kept as scans."""
        return sum(f.accepted for f in self.files)

    @property
    def rejected(self) -> int:
        """Rows set aside in ``Scans.rejected``."""
        return sum(f.rejected for f in self.files)

    @property
    def duplicates(self) -> int:
        """Exact duplicate rows merged into an identical scan."""
        return sum(f.duplicates for f in self.files)


@dataclass(frozen=True, repr=False)
class Scans:
    """Scans read by :func:`read_scans`, in canonical form, with what was set aside.

    Attributes
    ----------
    table : pyarrow.Table
        One row per accepted scan: ``person`` (int64 or string, after aliases),
        ``venue`` (int64 or string), ``time`` (``timestamp[s, UTC]``, floored),
        ``direction`` (dictionary ``entry``/``exit``), ``source`` (dictionary
        string: the provenance tag), ``method`` (string or null), ``file``
        (dictionary string: which input the row came from). In reading order.
    rejected : pyarrow.Table
        One row per rejected row: ``file``, ``row`` (0-based position in that
        input), ``reason`` (one of :data:`REJECT_REASONS`), ``source``, and the raw
        ``person``, ``venue`` and ``time`` values as text (null when unreadable).
    report : ScanReport
        Row counts per input and in total.

    Examples
    --------
    >>> import pyarrow as pa
    >>> raw = pa.table({"person": ["a", "b", None], "venue": ["v", "v", "v"],
    ...                 "time": ["2021-08-01T08:00:00+07:00"] * 3})
    >>> scans = tg.read_scans(raw, errors="quarantine")
    >>> scans
    Scans(2 scans, 1 rejected, 0 duplicates from 1 input)
    >>> scans.rejected["reason"].to_pylist()
    ['null_person']
    """

    table: pa.Table
    rejected: pa.Table
    report: ScanReport

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def __repr__(self) -> str:
        r = self.report
        inputs = len(r.files)
        return (
            f"Scans({r.accepted} scans, {r.rejected} rejected, {r.duplicates} duplicates "
            f"from {inputs} input{'s' if inputs != 1 else ''})"
        )

    def to_arrow(self) -> pa.Table:
        """The accepted scans as a ``pyarrow.Table``.

        Returns
        -------
        pyarrow.Table
            :attr:`table` itself (no copy).

        Examples
        --------
        >>> import pyarrow as pa
        >>> raw = pa.table({"person": [1], "venue": [2], "time": ["2021-08-01T08:00:00Z"]})
        >>> tg.read_scans(raw).to_arrow().column_names
        ['person', 'venue', 'time', 'direction', 'source', 'method', 'file']
        """
        return self.table

    def to_pandas(self) -> Any:
        """The accepted scans as a pandas DataFrame (``pip install tracegraph[pandas]``).

        Examples
        --------
        >>> import pyarrow as pa
        >>> raw = pa.table({"person": [1], "venue": [2], "time": ["2021-08-01T08:00:00Z"]})
        >>> len(tg.read_scans(raw).to_pandas())
        1
        """
        require("pandas", "pandas")
        return self.table.to_pandas()

    def to_polars(self) -> Any:
        """The accepted scans as a polars DataFrame (``pip install tracegraph[polars]``).

        Examples
        --------
        >>> import pyarrow as pa
        >>> raw = pa.table({"person": [1], "venue": [2], "time": ["2021-08-01T08:00:00Z"]})
        >>> tg.read_scans(raw).to_polars().height
        1
        """
        pl = require("polars", "polars")
        return pl.from_arrow(self.table)


@dataclass(frozen=True)
class _Input:
    label: str  # file path or "<table 0>", used in messages and the `file` column
    source: str  # provenance tag
    schema: ScanSchema
    kind: str  # parquet, ipc_file, ipc_stream, table, reader
    obj: Any
    # (key, value) of the `key=value` folders between the directory read and the file
    partitions: tuple[tuple[str, str | None], ...] = ()


def read_scans(
    source: Any,
    /,
    *,
    schema: ScanSchema | None = None,
    aliases: TableLike | None = None,
    errors: ScanErrors = "raise",
    not_before: Any = None,
    now: Any = None,
    tz: str | None = None,
    progress: bool | None = None,
    batch_size: int = _DEFAULT_BATCH,
    pseudonym_key: bytes | str | None = None,
) -> Scans:
    """Read raw QR scans from files or tables into one canonical stream.

    Parameters
    ----------
    source : path, table, reader, or list of these or of ``(item, ScanSchema)`` pairs
        Where the scans are: a Parquet file, an Arrow IPC file or stream, a
        directory (searched recursively for ``*.parquet``, ``*.pq``, ``*.arrow``,
        ``*.feather``, ``*.ipc``, ``*.arrows``, or other files that are Parquet or
        Arrow IPC by their first bytes; hidden and ``_`` files skipped, any other
        file, and any link that leads nowhere, an error that names it; linked folders
        followed, each folder read once; e.g. one file per day), an in-memory
        ``pyarrow.Table`` / pandas / polars frame, or a ``pyarrow.RecordBatchReader``.
        Several sources with different layouts are read into one stream by passing a
        list whose items are either plain sources (read with ``schema``) or
        ``(source, ScanSchema)`` pairs::

            read_scans([("bluezone/", bluezone_schema), ("cccd.parquet", cccd_schema)])

        File formats are recognised by their first bytes, not their names.

        **Partitioned directories.** Folders named ``key=value`` below a directory
        (Hive style, as written by Spark, pyarrow or ``pandas.to_parquet(
        partition_cols=...)``), e.g. ``scans/day=2021-09-01/app=bluezone/part-0.parquet``,
        give every row of the files inside them a string column ``key`` holding
        ``value`` (percent-decoded; ``__HIVE_DEFAULT_PARTITION__`` is null). The schema
        maps these columns like any other: ``ScanSchema(method="app")`` keeps the
        app, ``ScanSchema(venue="venue")`` reads a folder per venue (as text ids).
        The ``source`` tag can name them in braces: ``ScanSchema(source="{app}")`` tags
        each file with its app, ``source="{app}/{day}"`` keeps the day as well. Other
        folders (``2021-09-01/part.parquet``) add nothing, and a file given by its own
        path has no partition keys. A partition key that is also a column of the file
        is a :class:`~tracegraph.errors.SchemaError`.
    schema : ScanSchema, optional
        Column mapping for sources given without their own. Default: columns named
        ``person``, ``venue``, ``time``, and ``direction`` if there is one.
    aliases : table, optional
        Columns ``alias`` and ``person``: every identifier a person was seen under
        (phone-app id, CCCD number, insurance card number) → one canonical id.
        Applied before anything else; identifiers not in the table stay themselves,
        and so does an alias mapped to itself. Chains are followed to their end: with
        ``a → b`` and ``b → c``, scans of ``a`` become scans of ``c``. An alias mapped
        to two different persons, or a cycle (``a → b``, ``b → a``), is an
        :class:`~tracegraph.errors.AliasError` naming the rows of the alias table (not
        the ids).
    pseudonym_key : bytes or str, optional
        A secret key. Every person id is then replaced by its keyed hash
        (:func:`pseudonymize`, HMAC-SHA256) right after aliases are applied, so that
        neither the scans, nor the stays, nor an index saved from them holds a raw
        phone or ID-card number. The same key gives the same pseudonym on every day;
        keep it secret and keep it: without it, case ids cannot be matched. Rejected
        rows show the pseudonym of their raw person text.
    errors : {"raise", "quarantine"}, default "raise"
        On the first bad row, raise :class:`~tracegraph.errors.ScanRowError` naming
        its input and position and the rule it broke; or set bad rows aside in
        :attr:`Scans.rejected` with a ``reason`` (see :data:`REJECT_REASONS`).
    not_before, now : datetime, ISO-8601 str, numpy.datetime64 or int seconds, optional
        Scans before ``not_before`` are rejected (``too_early``), scans after
        ``now`` (default: the current time) too (``future_time``); a ``not_before``
        later than ``now`` is an :class:`~tracegraph.errors.ArgumentError`. Naive
        datetimes and strings are read in ``tz`` (a
        :class:`~tracegraph.errors.TimezoneError` without it); numpy datetime64
        values are UTC without it.
    tz : str, optional
        Zone of naive times, for sources whose schema names none.
    progress : bool, optional
        Show a progress bar of rows read (needs ``tqdm``); ``None`` follows the global
        setting (:func:`tracegraph.set_progress`: by default only in a terminal or
        notebook).
    batch_size : int, default 65536
        Rows per batch; memory holds the accepted scans plus one batch.

    Returns
    -------
    Scans

    Raises
    ------
    ScanRowError
        A bad row and ``errors="raise"``.
    SchemaError
        A column named by a schema is missing; an id or time column is of a type that
        holds no ids or times (``bool``, ``date32``, ``null``: a pandas column of
        ``None``), or ``direction`` or ``method`` of a type no text comes from, such as
        a list (with either value of ``errors``: a column's problem, not a row's); a
        partition key is also a column of its file, or a ``source`` template names a
        key the file's folders lack; bad options (among them ``directions`` whose raw
        values collide once trimmed and lower-cased).
    AliasError
        An alias maps to two persons, aliases form a cycle, or the alias table is
        malformed.
    ArgumentError
        ``not_before`` is later than ``now``.
    ScanFileError
        A file is missing, truncated, corrupt, or not Parquet / Arrow IPC.
    TimezoneError
        A ``tz`` is not a valid zone name, or a time column holds naive timestamps
        (an Arrow timestamp type without a zone) and no ``tz`` names their zone.

    See Also
    --------
    scans_to_stays : scans → stays for :meth:`VenueIndex.from_stays`.
    VenueIndex.from_scans : files → index in one call, in half the memory.

    Notes
    -----
    Times are floored to whole seconds in UTC. Exact duplicates (same person,
    venue, second and direction, after aliases) are kept once: the row with the
    smallest ``source`` tag, then the first read; ``report`` counts them against the
    input of each dropped row, so that for every input and in total
    ``read == accepted + rejected + duplicates``. Work is O(n log n) for the
    duplicate search, everything else is vectorised per batch.

    Memory: the accepted scans are gathered in one buffer per column, sized from
    the Parquet metadata (grown by half for other inputs), about 25 bytes per scan
    with integer ids; the duplicate search adds 4-byte codes per id and an 8-byte
    sort order, and duplicates are then squeezed out in place. The result holds
    about 27 bytes per scan (integer ids; 1-byte ``direction``, ``source`` and
    ``file`` codes; a ``method`` column without values costs nothing).
    ``benchmarks/scan_memory.py`` measures the whole pipeline.

    Examples
    --------
    >>> import pyarrow as pa
    >>> raw = pa.table({
    ...     "uid": ["a", "a", "b"],
    ...     "qr": ["cafe", "cafe", "cafe"],
    ...     "epoch": [1_627_779_600, 1_627_783_200, 1_627_779_900],
    ...     "io": ["in", "out", "I"],
    ... })
    >>> schema = tg.ScanSchema(person="uid", venue="qr", time="epoch", direction="io")
    >>> scans = tg.read_scans(raw, schema=schema)
    >>> scans.table.column_names
    ['person', 'venue', 'time', 'direction', 'source', 'method', 'file']
    >>> scans.table["direction"].to_pylist()
    ['entry', 'exit', 'entry']
    >>> scans.report.read, scans.report.accepted
    (3, 3)
    """
    plan = _plan_read(
        source,
        schema=schema,
        aliases=aliases,
        errors=errors,
        not_before=not_before,
        now=now,
        tz=tz,
        batch_size=batch_size,
        pseudonym_key=pseudonym_key,
    )
    total = _total_rows(plan.inputs)
    acc = _Accumulator(total)
    rejected_parts, counts_read = _read_inputs(plan, acc.add, total, progress, stacklevel=2)
    table, dup_per_file = acc.finish(plan.inputs, plan.aliases)
    if plan.key is not None:
        table = table.set_column(
            table.column_names.index("person"), "person", pseudonymize(table["person"], plan.key)
        )
    rejected, report = _scan_report(plan, rejected_parts, counts_read, dup_per_file, stacklevel=2)
    return Scans(table=table, rejected=rejected, report=report)


@dataclass(frozen=True)
class _ReadPlan:
    """The validated options of :func:`read_scans`."""

    inputs: list[_Input]
    aliases: tuple[pa.Array, pa.Array] | None
    errors: ScanErrors
    tz: str | None
    now_s: int
    not_before_s: int
    batch_size: int
    key: bytes | None  # pseudonym key


def _plan_read(
    source: Any,
    *,
    schema: ScanSchema | None,
    aliases: TableLike | None,
    errors: ScanErrors,
    not_before: Any,
    now: Any,
    tz: str | None,
    batch_size: int,
    pseudonym_key: bytes | str | None,
) -> _ReadPlan:
    """Check the options of :func:`read_scans` and find its inputs (nothing is read yet)."""
    if errors not in ("raise", "quarantine"):
        raise SchemaError(f"`errors`: expected 'raise' or 'quarantine', got {errors!r}")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or not 0 < batch_size < 2**31
    ):
        raise SchemaError(f"`batch_size`: expected a positive int below 2**31, got {batch_size!r}")
    default_schema = _DEFAULT_SCHEMA if schema is None else schema
    if not isinstance(default_schema, ScanSchema):
        raise SchemaError(f"`schema`: expected a ScanSchema, got {type(schema).__name__}")
    if tz is not None:
        check_zone(tz, "tz")
    now_s = int(time.time()) if now is None else instant_seconds(now, "now", tz)
    not_before_s = FAR_PAST if not_before is None else instant_seconds(not_before, "not_before", tz)
    if not_before_s > now_s:
        now_text = "the current time, " if now is None else ""
        raise ArgumentError(
            f"`not_before` ({format_instant(not_before_s)}) is later than `now` ({now_text}"
            f"{format_instant(now_s)}): no scan could be accepted; expected not_before <= "
            f"now; pass an earlier not_before, or a later now"
        )
    inputs = _expand_sources(source, default_schema)
    for inp in inputs:
        zone = inp.schema.tz or tz
        if zone is not None:
            check_zone(zone, "tz")
    alias_map = None if aliases is None else _read_aliases(aliases)
    key = None if pseudonym_key is None else _pseudonym_key(pseudonym_key)
    return _ReadPlan(inputs, alias_map, errors, tz, now_s, not_before_s, batch_size, key)


def _read_inputs(
    plan: _ReadPlan,
    add: Callable[[_Cleaned, int], None],
    total: int | None,
    progress: bool | None,
    *,
    stacklevel: int,
) -> tuple[list[pa.Table], list[tuple[int, int]]]:
    """Read and check every batch of every input; ``add(cleaned, input)`` takes each.

    Returns the rejected rows (in parts) and ``(read, rejected)`` per input. With
    ``errors="raise"``, the first bad row raises :class:`ScanRowError`. ``total`` is
    the number of rows expected (for the progress bar), if known. An input whose
    epoch numbers, read in a unit finer than seconds, all land in 1970 gets a
    :class:`~tracegraph.errors.DataWarning` (``stacklevel`` frames above the caller).
    """
    bar = progress_bar(progress, total=total, desc="reading scans", unit="rows")
    rejected_parts: list[pa.Table] = []
    counts_read: list[tuple[int, int]] = []
    try:
        for file_idx, inp in enumerate(plan.inputs):
            n_read = 0
            n_rejected = 0
            zone = inp.schema.tz or plan.tz
            latest: int | None = None  # of the accepted epoch numbers in ms, us or ns
            for batch in _input_batches(inp, plan.batch_size):
                batch = _without_views(batch)
                cleaned = _clean_batch(batch, inp, zone, plan.now_s, plan.not_before_s)
                if _subsecond_numbers(batch, inp.schema) and (cleaned.reason < 0).any():
                    top = int(cleaned.seconds[cleaned.reason < 0].max())
                    latest = top if latest is None else max(latest, top)
                bad = np.flatnonzero(cleaned.reason >= 0)
                if bad.size:
                    if plan.errors == "raise":
                        reason = REJECT_REASONS[int(cleaned.reason[bad[0]])]
                        raise ScanRowError(
                            f"{inp.label}: row {n_read + int(bad[0])}: rejected ({reason}): "
                            f"{_reason_text(reason, inp.schema)}; fix the row, or pass "
                            f"errors='quarantine' to set such rows aside"
                        )
                    rejected_parts.append(_rejected_rows(batch, inp, cleaned.reason, bad, n_read))
                    n_rejected += int(bad.size)
                add(cleaned, file_idx)
                n_read += batch.num_rows
                bar.update(batch.num_rows)
            counts_read.append((n_read, n_rejected))
            if latest is not None and latest < _YEAR_1971:
                _warn_1970(inp, latest, stacklevel + 1)
    finally:
        bar.close()
    return rejected_parts, counts_read


def _reason_text(reason: str, schema: ScanSchema) -> str:
    """What a row rejected for ``reason`` broke, for a :class:`ScanRowError`.

    A bad direction gets the values its schema takes (the schema's, not the row's: a
    column mapped by mistake could hold person ids).
    """
    if reason != "bad_direction":
        return _REASON_TEXT[reason]
    values = ", ".join(repr(value) for value in schema.direction_map()) or "none"
    return (
        f"the direction is not one of the schema's direction values: expected one of "
        f"{values} (trimmed, in any case; null is an entry); map other values with "
        f"ScanSchema(directions={{...}})"
    )


#: 1971-01-01T00:00Z in epoch seconds: epoch numbers all before it are suspect.
_YEAR_1971 = 365 * 86_400


def _subsecond_numbers(batch: pa.RecordBatch, schema: ScanSchema) -> bool:
    """Whether the batch's times are plain numbers read in ms, us or ns."""
    typ = batch.schema.field(schema.time).type
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ)
    return numeric and schema.time_unit != "s"


def _warn_1970(inp: _Input, latest: int, stacklevel: int) -> None:
    """The :class:`DataWarning` for an input whose accepted times, to ``latest``, are in 1970."""
    unit = inp.schema.time_unit
    last = format_instant(latest)
    warnings.warn(
        f"{inp.label}: every time accepted falls in 1970 (the latest: {last}): column "
        f"`{inp.schema.time}` is read as epoch numbers in {_UNIT_NAMES[unit]} "
        f"(time_unit={unit!r}); give the schema their unit, e.g. ScanSchema(..., "
        f"time_unit='s') for seconds",
        DataWarning,
        stacklevel=stacklevel + 1,
    )


_UNIT_NAMES = {"ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _scan_report(
    plan: _ReadPlan,
    rejected_parts: list[pa.Table],
    counts_read: list[tuple[int, int]],
    dup_per_file: np.ndarray,
    *,
    stacklevel: int,
) -> tuple[pa.Table, ScanReport]:
    """The rejected rows (person ids pseudonymized with the plan's key) and the counts.

    Every row read rejected is a :class:`~tracegraph.errors.DataWarning`, issued
    ``stacklevel`` frames above the caller (the user's call).
    """
    if plan.key is not None:
        key = plan.key
        rejected_parts = [
            part.set_column(
                part.column_names.index("person"), "person", pseudonymize(part["person"], key)
            )
            for part in rejected_parts
        ]
    reports = [
        FileReport(inp.label, inp.source, n_read, n_read - n_rej - int(dups), n_rej, int(dups))
        for inp, (n_read, n_rej), dups in zip(plan.inputs, counts_read, dup_per_file, strict=True)
    ]
    rejected = pa.concat_tables(rejected_parts) if rejected_parts else _empty_rejected()
    by_reason: dict[str, int] = {}
    if rejected.num_rows:
        counts = pc.value_counts(rejected.column("reason").combine_chunks())
        by_reason = {str(item["values"]): int(item["counts"]) for item in counts.to_pylist()}
        by_reason = {r: by_reason[r] for r in REJECT_REASONS if r in by_reason}
    n_read = sum(n for n, _ in counts_read)
    if n_read and rejected.num_rows == n_read:
        reasons = ", ".join(f"{n} {r}" for r, n in by_reason.items())
        first = next(iter(by_reason))
        warnings.warn(
            f"all {n_read} scans read were rejected ({reasons}): nothing is left to trace; "
            f"{first}: {_REASON_TEXT[first]}",
            DataWarning,
            stacklevel=stacklevel + 1,
        )
    return rejected, ScanReport(tuple(reports), by_reason)


# --------------------------------------------------------------------------- sources


def _expand_sources(source: Any, schema: ScanSchema) -> list[_Input]:
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], ScanSchema):
        items: list[Any] = [source]
    elif isinstance(source, list):
        items = source
    else:
        items = [source]
    if not items:
        raise SchemaError("`source`: expected at least one file, directory or table, got []")
    inputs: list[_Input] = []
    for k, item in enumerate(items):
        item_schema = schema
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[1], ScanSchema):
                raise SchemaError(
                    f"`source[{k}]`: expected a source or a (source, ScanSchema) pair, "
                    f"got a tuple of {len(item)}"
                )
            item, item_schema = item
        inputs.extend(_expand_one(item, item_schema, k))
    return inputs


def _expand_one(item: Any, schema: ScanSchema, k: int) -> list[_Input]:
    if isinstance(item, str | os.PathLike):
        path = as_path(item)
        default_tag = path.name.split(".")[0] or str(path)
        if path.is_dir():
            found = data_files(path, "scan")
            inputs = []
            for p in found:
                parts = _partitions(p, path)
                tag = _source_tag(schema, default_tag, parts, str(p))
                inputs.append(_Input(str(p), tag, schema, _sniff(p), p, parts))
            return inputs
        tag = _source_tag(schema, default_tag, (), str(path))
        return [_Input(str(path), tag, schema, _sniff(path), path)]
    if isinstance(item, pa.RecordBatchReader):
        label = f"<reader {k}>"
        return [_Input(label, _source_tag(schema, "table", (), label), schema, "reader", item)]
    if is_dataset(item):
        raise SchemaError(
            f"scans: expected {_READ_SCANS_EXPECTED}, got a pyarrow dataset; pass the path of "
            f"its files or folder (each file is then read with its own types), or a reader: "
            f"dataset.scanner().to_reader()"
        )
    # (a pandas column the schema does not read cannot fail the table)
    table = as_arrow_table(
        item, "scans", columns=tuple(schema.columns()), expected=_READ_SCANS_EXPECTED
    )
    label = f"<table {k}>"
    return [_Input(label, _source_tag(schema, "table", (), label), schema, "table", table)]


#: What :func:`read_scans` reads, for the error when it gets something else.
_READ_SCANS_EXPECTED = (
    "a path to a Parquet or Arrow IPC file or folder, a pyarrow.Table, pandas.DataFrame "
    "or polars.DataFrame, or a pyarrow.RecordBatchReader (or a list of these, or of "
    "(source, ScanSchema) pairs)"
)


def is_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a ``pyarrow.dataset.Dataset``, without importing that module.

    (``pyarrow.dataset`` imports pandas, ~0.3 s of a cold start; whoever holds a
    dataset has imported it already.)
    """
    pads = sys.modules.get("pyarrow.dataset")
    return pads is not None and isinstance(obj, pads.Dataset)


def data_files(folder: pathlib.Path, what: str) -> list[pathlib.Path]:
    """The Parquet / Arrow IPC files below ``folder``, in name order.

    Files and folders whose names start with ``.`` or ``_`` (markers, temporary
    files) are skipped. Data files are named by their suffix, or else recognised by
    their first bytes. Any other file is an error that names it (no file is left
    out without a word), and so is a link that leads nowhere and a folder without
    data files.

    Links to folders are followed, wherever they lead. A folder or file reached
    twice through links is read once, at its first path in name order: a link to a
    folder above it (a loop, also one above ``folder``, whose other contents are not
    read) or to one listed already adds nothing.
    """
    found: list[pathlib.Path] = []
    other: list[pathlib.Path] = []
    broken: list[pathlib.Path] = []
    seen: set[str] = set()  # the real path of every folder and file listed

    def walk(directory: pathlib.Path, real: str) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            raise ScanFileError(f"{directory}: cannot list this folder: {exc.strerror}") from exc
        for entry in entries:
            if entry.name.startswith((".", "_")):
                continue
            path = pathlib.Path(entry.path)
            try:
                info = path.stat()  # (of what a link leads to)
            except OSError as exc:
                if path.is_symlink():
                    broken.append(path)
                    continue
                raise ScanFileError(f"{path}: cannot read this file: {exc.strerror}") from exc
            # (a plain entry's real path is its folder's; a link's is where it leads)
            where = os.path.realpath(path) if entry.is_symlink() else os.path.join(real, entry.name)
            if where in seen:
                continue
            if stat.S_ISDIR(info.st_mode) and root.startswith(where.rstrip(os.sep) + os.sep):
                continue  # a folder holding the root: a loop (its other contents not ours)
            if stat.S_ISDIR(info.st_mode):
                seen.add(where)
                walk(path, where)
            elif stat.S_ISREG(info.st_mode):
                seen.add(where)
                if path.suffix.lower() in _SCAN_SUFFIXES or _file_kind(path) is not None:
                    found.append(path)  # (by its name, or by its first bytes: part-0.snappy)
                else:
                    other.append(path)

    root = os.path.realpath(folder)
    seen.add(root)
    walk(folder, root)
    suffixes = ", ".join("*" + s for s in _SCAN_SUFFIXES)
    if broken:
        names = ", ".join(f"{p.relative_to(folder)} -> {os.readlink(p)}" for p in broken[:3])
        more = f" and {len(broken) - 3} more" if len(broken) > 3 else ""
        raise ScanFileError(
            f"{folder}: expected links in this directory to lead to {what} files or folders, "
            f"found {len(broken)} that lead nowhere (the target is missing, or links form a "
            f"loop): {names}{more}; fix or remove them, or give their names a leading '_' to "
            f"have them skipped"
        )
    if other:
        names = ", ".join(str(p.relative_to(folder)) for p in other[:3])
        more = f" and {len(other) - 3} more" if len(other) > 3 else ""
        raise ScanFileError(
            f"{folder}: expected only {what} files ({suffixes}) in this directory, found "
            f"{len(other)} other file(s): {names}{more}; convert them to Parquet, move "
            f"them out, or give their names a leading '_' to have them skipped"
        )
    if not found:
        raise ScanFileError(
            f"{folder}: no {what} files found in this directory; expected files named {suffixes}"
        )
    return found


def _partitions(path: pathlib.Path, root: pathlib.Path) -> tuple[tuple[str, str | None], ...]:
    """The ``key=value`` folders between ``root`` and the file ``path``, outermost first.

    Keys and values are percent-decoded (as Hive, Spark and pyarrow write them);
    ``__HIVE_DEFAULT_PARTITION__`` stands for a null value. Other folders are ignored.
    """
    found: dict[str, str | None] = {}
    for part in path.relative_to(root).parts[:-1]:
        raw_key, sep, raw_value = part.partition("=")
        if not sep or not raw_key:
            continue
        key = urllib.parse.unquote(raw_key)
        if key in found:
            raise SchemaError(
                f"{path}: partition key `{key}` appears in two folders of this path; "
                f"expected each `key=value` folder key once"
            )
        found[key] = None if raw_value == _HIVE_NULL else urllib.parse.unquote(raw_value)
    return tuple(found.items())


def _template_keys(template: str) -> list[str]:
    """The ``{key}`` fields of a source tag template (an error for malformed ones)."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise SchemaError(
            f"ScanSchema: `source`: expected a tag, or partition keys in braces such as "
            f"'{{app}}', got {template!r} ({exc}); write literal braces as '{{{{' and '}}}}'"
        ) from None
    for field in fields:
        if not field or field.isdigit() or any(c in field for c in ".[]!:"):
            raise SchemaError(
                f"ScanSchema: `source`: expected partition keys in braces such as '{{app}}', "
                f"got {template!r}; write literal braces as '{{{{' and '}}}}'"
            )
    return fields


def _source_tag(
    schema: ScanSchema, default: str, partitions: tuple[tuple[str, str | None], ...], label: str
) -> str:
    """The provenance tag of one input: the schema's tag, its template filled in, or ``default``."""
    if schema.source is None:
        return default
    keys = _template_keys(schema.source)
    values = {key: "" if value is None else value for key, value in partitions}
    missing = [key for key in keys if key not in values]
    if missing:
        raise SchemaError(
            f"{label}: ScanSchema(source={schema.source!r}) names partition key `{missing[0]}`, "
            f"but this input has partition keys {list(values)}; expected it in a folder "
            f"`{missing[0]}=...` below the directory read"
        )
    return schema.source.format_map(values)


def _file_kind(path: pathlib.Path, head: bytes | None = None) -> str | None:
    """``"parquet"``, ``"ipc_file"`` or ``"ipc_stream"`` by a file's first bytes; else None."""
    if head is None:
        try:
            with open(path, "rb") as handle:
                head = handle.read(8)
        except OSError:
            return None
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:6] == b"ARROW1":
        return "ipc_file"
    if head[:4] == b"\xff\xff\xff\xff":
        return "ipc_stream"
    return None


def _sniff(path: pathlib.Path, what: str = "scan") -> str:
    """The kind of a file of ``what`` (``"scan"``, ``"stay"``) by its first bytes.

    A :class:`ScanFileError` for a missing file and one that is neither Parquet nor
    Arrow IPC (a file named as CSV gets how to read it).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError as exc:
        raise ScanFileError(f"{path}: no such {what} file") from exc
    except OSError as exc:
        raise ScanFileError(f"{path}: cannot open {what} file: {exc}") from exc
    kind = _file_kind(path, head)
    if kind is not None:
        return kind
    raise ScanFileError(
        f"{path}: not a Parquet or Arrow IPC file (unrecognised first bytes; "
        f"{'empty file' if not head else 'maybe truncated or another format'})"
        f"{_csv_hint(path, what)}"
    )


def _csv_hint(path: pathlib.Path, what: str) -> str:
    """How to read a file named as CSV or TSV (``""`` for other names)."""
    name = path.name.lower()
    if name.endswith((".tsv", ".tsv.gz")):
        kind = "TSV"
        how = "pyarrow.csv.read_csv(path, parse_options=pyarrow.csv.ParseOptions(delimiter='\\t'))"
    elif name.endswith((".csv", ".csv.gz")):
        kind, how = "CSV", "pyarrow.csv.read_csv(path)"
    else:
        return ""
    hint = f"; a {kind} file by its name: read it with {how} (or pandas) and pass the table"
    if what == "stay" and name.endswith(".csv"):  # (the command line reads these)
        hint += f", or build the index on the command line: tracegraph build {path} --out FOLDER"
    return hint


def _total_rows(inputs: list[_Input]) -> int | None:
    total = 0
    for inp in inputs:
        if inp.kind == "table":
            total += inp.obj.num_rows
        elif inp.kind == "parquet":
            try:
                total += pq.ParquetFile(inp.obj).metadata.num_rows
            except (pa.ArrowException, OSError):
                return None  # reading will name the damaged file
        else:
            return None
    return total


def _input_batches(inp: _Input, batch_size: int) -> Iterator[pa.RecordBatch]:
    """The batches of one input, only the schema's columns, at most ``batch_size`` rows."""
    if inp.kind == "table":
        columns = _require_scan_columns(inp.obj.schema.names, inp)
        yield from inp.obj.select(columns).to_batches(max_chunksize=batch_size)
        return
    if inp.kind == "reader":
        columns = _require_scan_columns(inp.obj.schema.names, inp)
        for batch in inp.obj:
            yield from _slices(batch.select(columns), batch_size)
        return
    yield from _file_batches(inp, batch_size)


def _file_batches(inp: _Input, batch_size: int) -> Iterator[pa.RecordBatch]:
    """The batches of one file, with the partition columns its schema maps appended."""
    mapped = [(key, value) for key, value in inp.partitions if key in inp.schema.columns()]
    for batch in _file_column_batches(inp, batch_size):
        for key, value in mapped:
            constant = pa.repeat(pa.scalar(value, pa.string()), batch.num_rows)
            batch = batch.append_column(key, constant)
        yield batch


def _file_column_batches(inp: _Input, batch_size: int) -> Iterator[pa.RecordBatch]:
    what = {"parquet": "Parquet", "ipc_file": "Arrow IPC file", "ipc_stream": "Arrow IPC stream"}
    try:
        if inp.kind == "parquet":
            parquet = pq.ParquetFile(inp.obj)
            columns = _require_scan_columns(parquet.schema_arrow.names, inp)
            for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
                yield batch
            return
        if inp.kind == "ipc_file":
            reader = pa.ipc.open_file(pa.memory_map(str(inp.obj)))
            columns = _require_scan_columns(reader.schema.names, inp)
            for i in range(reader.num_record_batches):
                yield from _slices(reader.get_batch(i).select(columns), batch_size)
            return
        with pa.OSFile(str(inp.obj)) as handle:
            stream = pa.ipc.open_stream(handle)
            columns = _require_scan_columns(stream.schema.names, inp)
            for batch in stream:
                yield from _slices(batch.select(columns), batch_size)
    except (pa.ArrowException, OSError) as exc:
        raise ScanFileError(
            f"{inp.label}: cannot read this {what[inp.kind]} file, it may be truncated or "
            f"corrupt: {exc}"
        ) from exc


def _slices(batch: pa.RecordBatch, size: int) -> Iterator[pa.RecordBatch]:
    for offset in range(0, batch.num_rows, size):
        yield batch.slice(offset, size)


def _require_scan_columns(available: list[str], inp: _Input) -> list[str]:
    """The columns to read from the input (partition keys are added after reading).

    An error for a partition key that is also a column of the file, and one naming the
    first column the schema needs but is in neither.
    """
    keys = [key for key, _ in inp.partitions]
    for key in keys:
        if key in available:
            raise SchemaError(
                f"{inp.label}: partition key `{key}` (from a `{key}=...` folder) is also a "
                f"column of the file; expected each column once; rename the folder or the "
                f"column, or list the files to read them without partition keys"
            )
    columns = inp.schema.columns()
    if inp.schema is _DEFAULT_SCHEMA and "direction" not in available and "direction" not in keys:
        columns.remove("direction")
    for name in columns:
        if available.count(name) > 1:  # (which one is meant?)
            raise SchemaError(
                f"{inp.label}: column `{name}` appears {available.count(name)} times; "
                f"expected each column the schema reads once; drop or rename the copies"
            )
        if name not in available and name not in keys:
            partition_note = f" or partition keys {keys}" if keys else ""
            raise SchemaError(
                f"{inp.label}: column `{name}` not found in scans; available: {available}"
                f"{partition_note}; map the columns with ScanSchema(person=..., venue=..., "
                f"time=...)"
            )
    return [name for name in columns if name not in keys]


# --------------------------------------------------------------------------- one batch


def _without_views(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with its ``string_view`` and ``binary_view`` columns as ``string`` / ``binary``.

    Dictionaries of views get plain dictionaries (their indices kept). Arrow has no
    ``take`` for views, which decoding a dictionary and setting rows aside use, and
    polars writes them (``write_ipc``: text as ``string_view``, categoricals as
    dictionaries of it). Other columns are kept as they are.
    """
    for k, field in enumerate(batch.schema):
        column = batch.column(k)
        typ = field.type
        if pa.types.is_dictionary(typ) and _is_view(typ.value_type):
            plain = _plain_type(typ.value_type)
            column = pa.DictionaryArray.from_arrays(column.indices, column.dictionary.cast(plain))
        elif _is_view(typ):
            column = column.cast(_plain_type(typ))
        else:
            continue
        batch = batch.set_column(k, field.name, column)
    return batch


def _is_view(typ: pa.DataType) -> bool:
    return bool(pa.types.is_string_view(typ) or pa.types.is_binary_view(typ))


def _plain_type(typ: pa.DataType) -> pa.DataType:
    """``string`` for ``string_view``, ``binary`` for ``binary_view``."""
    return pa.string() if pa.types.is_string_view(typ) else pa.binary()


@dataclass
class _Cleaned:
    reason: np.ndarray  # int8 per row, -1 = accepted
    person: pa.Array
    venue: pa.Array
    seconds: np.ndarray
    direction: np.ndarray  # int8, 0 entry, 1 exit
    method: pa.Array | None


def _clean_batch(
    batch: pa.RecordBatch, inp: _Input, tz: str | None, now_s: int, not_before_s: int
) -> _Cleaned:
    """Check every row of a batch against the rules, vectorised; the first rule broken wins.

    Its columns' types are checked first (:func:`_check_column_types`).
    """
    schema = inp.schema
    _check_column_types(batch, inp, tz)
    n = batch.num_rows
    reason = np.full(n, _OK, dtype=np.int8)

    def flag(mask: np.ndarray, name: str) -> None:
        reason[(reason == _OK) & mask] = _R[name]

    person, person_null = _ids(batch.column(schema.person))
    venue, venue_null = _ids(batch.column(schema.venue))
    seconds, time_reason = _times(batch.column(schema.time), schema.time_unit, tz)
    flag(person_null, "null_person")
    flag(venue_null, "null_venue")
    for name in ("null_time", "bad_time", "naive_time", "time_out_of_range"):
        flag(time_reason == _R[name], name)
    direction = np.zeros(n, dtype=np.int8)
    if schema.direction is not None and schema.direction in batch.schema.names:
        column = batch.column(schema.direction)
        read = _directions(column, schema.direction_map())
        if read is None:  # (a schema's column, not a row: an error, not a rejection)
            raise SchemaError(
                f"{inp.label}: column `{schema.direction}` (the schema's direction): expected "
                f"text or integers, got {batch.schema.field(schema.direction).type}, which no "
                f"direction comes from; cast it to strings, or leave ScanSchema(direction=) "
                f"unset (every scan an entry)"
            )
        direction, unknown = read
        flag(unknown, "bad_direction")
    flag(seconds > now_s, "future_time")
    flag(seconds < not_before_s, "too_early")
    method = None
    if schema.method is not None:
        column = batch.column(schema.method)
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        method = _text_or_none(column)
        if method is None and (
            pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)
        ):
            # bytes of which some are not UTF-8: read with U+FFFD for what does not decode
            decoded = [
                None if v is None else v.decode("utf-8", "replace") for v in column.to_pylist()
            ]
            method = pa.array(decoded, pa.string())
        if method is None:  # (a schema's column, not a row: an error, not a rejection)
            raise SchemaError(
                f"{inp.label}: column `{schema.method}` (the schema's method): expected text, got "
                f"{batch.schema.field(schema.method).type}, which no text comes from; cast "
                f"it to strings, or leave ScanSchema(method=) unset"
            )
    return _Cleaned(reason, person, venue, seconds, direction, method)


def _ids(column: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Ids (integers or text, as checked) as int64 or string, and which are null or empty."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    typ = column.type
    if pa.types.is_uint64(typ) and (pc.max(column).as_py() or 0) > _INT64_MAX:
        typ = pa.string()  # beyond int64: as text, as ids of mixed types become
        column = column.cast(typ)
    if pa.types.is_integer(typ):
        ids = column.cast(pa.int64())
        return ids, _null_mask(ids)
    ids = column.cast(pa.string())
    empty = pc.fill_null(pc.equal(pc.utf8_length(ids), 0), True)
    return ids, empty.to_numpy(zero_copy_only=False)


def _check_column_types(batch: pa.RecordBatch, inp: _Input, tz: str | None) -> None:
    """A :class:`SchemaError` naming an id or time column of a type that holds none.

    And a :class:`TimezoneError` for a time column of naive timestamps without a
    zone ``tz`` to read them in. Column problems, not a row's: no row of such a
    column could be read, so none is set aside one by one (as a missing column,
    these stop the read). (Naive ISO text is checked row by row: it may be mixed with
    text that has its offset.)
    """
    schema = inp.schema
    for role, name in (("person", schema.person), ("venue", schema.venue)):
        typ = batch.schema.field(name).type
        if pa.types.is_dictionary(typ):
            typ = typ.value_type
        if pa.types.is_integer(typ) or _is_text(typ):
            continue
        if pa.types.is_null(typ):
            raise SchemaError(
                f"{inp.label}: column `{name}` (the schema's {role}) holds no ids: its type is "
                f"null (every value is null, as in a pandas column of None); expected integer "
                f"or text ids; fill them in, or map the schema's {role} to another column"
            )
        hint = (
            "; integer ids with missing values become floats in pandas: use the nullable "
            "'Int64' dtype, or strings"
            if pa.types.is_floating(typ)
            else "; cast the column to integers or strings"
        )
        raise SchemaError(
            f"{inp.label}: column `{name}` (the schema's {role}): expected integer or text "
            f"ids, got {typ}{hint}"
        )
    typ = batch.schema.field(schema.time).type
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_timestamp(typ) and typ.tz is None and tz is None:
        raise TimezoneError(
            f"{inp.label}: column `{schema.time}` (the schema's time): expected zone-aware "
            f"timestamps, got naive {typ}, of no known zone; name the zone they were recorded "
            f"in, e.g. 'Asia/Ho_Chi_Minh' or 'UTC' (pass tz= or ScanSchema(tz=))"
        )
    if (
        pa.types.is_timestamp(typ)
        or pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or _is_text(typ)
    ):
        return
    expected = (
        "expected timestamps, epoch numbers (integers or floats, in the schema's time_unit) "
        "or ISO-8601 text"
    )
    if pa.types.is_null(typ):
        raise SchemaError(
            f"{inp.label}: column `{schema.time}` (the schema's time) holds no times: its type "
            f"is null (every value is null, as in a pandas column of None); {expected}; fill "
            f"them in, or map the schema's time to another column"
        )
    hint = (
        " (a date is no instant: cast dates to timestamps, and pass tz=, if their midnight "
        "is meant)"
        if pa.types.is_date(typ)
        else ""
    )
    raise SchemaError(
        f"{inp.label}: column `{schema.time}` (the schema's time): {expected}, got {typ}; cast "
        f"the column to one of these{hint}"
    )


def _null_mask(array: pa.Array) -> np.ndarray:
    if not array.null_count:
        return np.zeros(len(array), dtype=np.bool_)
    return np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False), dtype=np.bool_)


def _times(column: pa.Array, unit: str, tz: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Times as int64 UTC seconds (floored) and a per-row reason code (-1 = fine)."""
    n = len(column)
    reason = np.full(n, _OK, dtype=np.int8)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    typ = column.type
    null = _null_mask(column)
    if pa.types.is_timestamp(typ):
        if typ.tz is None and tz is not None:  # (and none without tz: checked)
            # floored first: no overflow near the ends of a ns column; gaps as _time's
            local = np.floor_divide(int_values(column), _UNIT_PER_S[typ.unit])
            far = _out_of_range(local)  # (no zone rules there: set aside below)
            seconds = np.where(far, local, local_to_utc(np.where(far, 0, local), tz))
        else:
            seconds = np.floor_divide(int_values(column), _UNIT_PER_S[typ.unit])
    elif pa.types.is_uint64(typ):  # (values from 2**63 have no int64: divided first)
        raw = np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False), dtype=np.uint64)
        # seconds beyond any calendar are set aside as out of range below
        seconds = np.minimum(raw // np.uint64(_UNIT_PER_S[unit]), MAX_TIME + 1).astype(np.int64)
    elif pa.types.is_integer(typ):
        seconds = np.floor_divide(int_values(column), _UNIT_PER_S[unit])
    elif pa.types.is_floating(typ):
        raw = np.asarray(
            pc.fill_null(column.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False),
            dtype=np.float64,
        )
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = np.floor(raw / _UNIT_PER_S[unit])
        finite = np.isfinite(scaled)
        reason[~finite] = _R["bad_time"]  # (NaN, infinities: no number of seconds)
        # numbers too large for int64 are clipped: out of range below, as such ints are
        finite_s = np.where(finite, scaled, 0.0)
        seconds = np.clip(finite_s, MIN_TIME - 1, MAX_TIME + 1).astype(np.int64)
    else:  # (text, as checked)
        seconds, text_reason = _parse_iso(column.cast(pa.string()), tz)
        reason[:] = text_reason
    # times that no calendar of tracegraph's holds (before the year 1, after 9999)
    reason[(reason == _OK) & _out_of_range(seconds)] = _R["time_out_of_range"]
    reason[null] = _R["null_time"]
    return np.ascontiguousarray(seconds, dtype=np.int64), reason


def _out_of_range(seconds: np.ndarray) -> np.ndarray:
    """Which epoch ``seconds`` fall outside the years 1 to 9999."""
    return (seconds < MIN_TIME) | (seconds > MAX_TIME)


def _parse_iso(text: pa.Array, tz: str | None) -> tuple[np.ndarray, np.ndarray]:
    """ISO-8601 strings → UTC seconds, row by row tolerant (unparseable → ``bad_time``)."""
    n = len(text)
    reason = np.full(n, _OK, dtype=np.int8)
    parts = pc.extract_regex(text, _ISO_TIME)
    matched = pc.fill_null(pc.is_valid(parts), False).to_numpy(zero_copy_only=False)
    seconds_part = pc.if_else(pc.equal(parts.field("sec"), ""), ":00", parts.field("sec"))
    base = pc.binary_join_element_wise(
        parts.field("date"), "T", parts.field("hm"), seconds_part, ""
    )
    local = pc.strptime(base, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    # strptime is lenient (Feb 30 → Mar 1): a valid time prints back to the same text
    round_trip = pc.equal(pc.strftime(local, format="%Y-%m-%dT%H:%M:%S"), base)
    valid = pc.fill_null(round_trip, False).to_numpy(zero_copy_only=False) & matched
    reason[~valid] = _R["bad_time"]
    zone = parts.field("zone")
    naive = pc.fill_null(pc.equal(zone, ""), False).to_numpy(zero_copy_only=False)
    local_s = int_values(local)
    # offsets: "Z" → 0; "+07", "+0700", "+07:00" → sign * (hh * 3600 + mm * 60)
    digits = pc.replace_substring(pc.utf8_slice_codeunits(zone, 1), ":", "")
    hours = _digits(pc.utf8_slice_codeunits(digits, 0, 2))
    minutes = _digits(pc.utf8_slice_codeunits(digits, 2, 4))
    sign = np.where(
        pc.fill_null(pc.starts_with(zone, "-"), False).to_numpy(zero_copy_only=False), -1, 1
    )
    seconds = local_s - sign * (hours * 3600 + minutes * 60)
    # an offset of 24 hours or more, or of 60 minutes or more, is no offset
    reason[valid & ~naive & ((hours > 23) | (minutes > 59))] = _R["bad_time"]
    if naive.any():
        if tz is None:
            reason[valid & naive] = _R["naive_time"]
        else:
            seconds = np.where(naive, local_to_utc(local_s, tz), seconds)
    return seconds.astype(np.int64), reason


def _digits(text: pa.Array) -> np.ndarray:
    blank = pc.if_else(pc.equal(text, ""), "0", text)
    values = pc.cast(pc.fill_null(blank, "0"), pa.int64(), safe=False)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)


def _directions(column: pa.Array, mapping: dict[str, str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Direction codes (0 entry, 1 exit; null → entry) and which values are unknown.

    ``None`` for a column of a type no text comes from (a list, a struct).
    """
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    text = _text_or_none(column)
    undecodable = np.zeros(len(column), dtype=np.bool_)
    if text is None and (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)):
        # bytes of which some are not UTF-8: those rows only are no direction
        raw = column.to_pylist()
        values = [None if v is None else _utf8_or_none(v) for v in raw]
        undecodable = np.array(
            [v is None and r is not None for v, r in zip(values, raw, strict=True)], np.bool_
        )
        text = pa.array(values, pa.string())
    if text is None:  # (lists, structs: no value is a direction)
        return None
    keys = pa.array(list(mapping), pa.string())
    codes = np.array([0 if v == "entry" else 1 for v in mapping.values()], dtype=np.int8)
    normal = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    if not pc.all(pc.string_is_ascii(normal)).as_py():  # (as _direction_key reads the schema's)
        normal = pc.utf8_normalize(normal, form="NFC")
    where = pc.index_in(normal, value_set=keys)
    found = pc.is_valid(where).to_numpy(zero_copy_only=False)
    index = np.asarray(pc.fill_null(where, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    direction = np.where(found, codes[index] if codes.size else 0, 0).astype(np.int8)
    unknown = (~found & ~_null_mask(text)) | undecodable
    return direction, unknown


def _utf8_or_none(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _as_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The values as text; all null for a type no text comes from (a list, say)."""
    text = _text_or_none(column)
    return pa.nulls(len(column), pa.string()) if text is None else text


def _text_or_none(column: pa.Array | pa.ChunkedArray) -> pa.Array | None:
    """The values as text, or ``None`` for a type no text comes from (a list, say)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def pseudonymize(ids: Any, key: bytes | str) -> pa.Array:
    """Keyed pseudonyms of person ids: HMAC-SHA256 with ``key``, as 32 hex characters.

    The same id and key always give the same pseudonym (so days read separately can be
    joined); without the key, a pseudonym cannot be linked back to the id or
    recomputed from a list of candidate phone numbers. Integer ids are hashed as
    their decimal text, so ``123`` and ``"123"`` get the same pseudonym. Nulls stay
    null. Use it to turn the ids of confirmed cases into the pseudonyms of an index
    built with ``read_scans(..., pseudonym_key=key)``.

    Parameters
    ----------
    ids : iterable of ids, or pyarrow array
        Person ids (strings or integers).
    key : bytes or str
        The secret key (a ``str`` is encoded as UTF-8); at least 16 bytes.

    Returns
    -------
    pyarrow.Array
        ``string`` pseudonyms (128 bits of the HMAC, in hex).

    Raises
    ------
    SchemaError
        If the key is shorter than 16 bytes.

    Notes
    -----
    One HMAC per distinct id (ids are dictionary-encoded first), so a day of scans
    from a million people costs about a second.

    Examples
    --------
    >>> a = tg.pseudonymize(["84912345678"], key="a long secret key!!")
    >>> b = tg.pseudonymize([84912345678], key="a long secret key!!")
    >>> a[0] == b[0], len(a[0].as_py())
    (True, 32)
    >>> tg.pseudonymize(["84912345678"], key="another secret key!")[0] == a[0]
    False
    """
    secret = _pseudonym_key(key)
    if isinstance(ids, str | bytes | int | np.integer):
        raise SchemaError(
            f"`ids`: expected a collection of person ids, got a single {type(ids).__name__}"
            + (" (it would be read character by character)" if isinstance(ids, str | bytes) else "")
            + "; wrap it in a list: [id]"
        )
    ids = _id_column_of(ids)
    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(ids.type.value_type)
    if not (pa.types.is_integer(ids.type) or _is_text(ids.type) or pa.types.is_null(ids.type)):
        raise SchemaError(
            f"`ids`: expected integer or string person ids, got {ids.type}"
            + (
                "; integer ids with missing values became floats in pandas: use the "
                "nullable 'Int64' dtype, or strings"
                if pa.types.is_floating(ids.type)
                else ""
            )
        )
    text = ids if pa.types.is_string(ids.type) else ids.cast(pa.string())
    encoded = pc.dictionary_encode(text)
    values = encoded.dictionary.to_pylist()
    hashed = pa.array(
        [hmac.new(secret, v.encode("utf-8"), hashlib.sha256).hexdigest()[:32] for v in values],
        pa.string(),
    )
    return hashed.take(encoded.indices)


def numpy_ids(ids: np.ndarray) -> pa.Array:
    """A numpy array of ids as an Arrow array (Arrow takes numpy's native byte order only)."""
    return pa.array(ids if ids.dtype.isnative else ids.astype(ids.dtype.newbyteorder("=")))


def as_path(value: Any, name: str = "path") -> pathlib.Path:
    """A file or folder path argument, or an :class:`ArgumentError` naming ``name``.

    A leading ``~`` is the user's home folder, as pandas and polars read it (a name
    such as ``~backup.parquet``, of no user, is left as it is, as they leave it).
    """
    if isinstance(value, str | os.PathLike):
        return pathlib.Path(os.path.expanduser(value))
    raise ArgumentError(
        f"`{name}`: expected a path (str or os.PathLike), got {type(value).__name__}"
    )


def is_table(obj: Any) -> bool:
    """Whether ``obj`` is a table (Arrow, pandas or polars), not a column of values."""
    if isinstance(obj, pa.Table | pa.RecordBatch):
        return True
    module = type(obj).__module__.split(".")[0]
    if module == "polars" and type(obj).__name__ == "LazyFrame":
        return True  # (refused as a table later; its `columns` would warn that it resolves)
    return module in {"pandas", "polars"} and hasattr(obj, "columns")


def _id_column_of(ids: Any) -> pa.Array:
    """Ids given as an Arrow array, a pandas/polars Series, numpy or a Python iterable."""
    if isinstance(ids, pa.ChunkedArray):
        return ids.combine_chunks()
    if isinstance(ids, pa.Array):
        return ids
    module = type(ids).__module__.split(".")[0]
    if is_table(ids):
        raise SchemaError(
            f"`ids`: expected one column of person ids, got a table "
            f"({type(ids).__name__}); pass its id column, e.g. table['person']"
        )
    try:
        if module == "polars":
            return _id_column_of(ids.to_arrow())
        if module == "pandas":
            return pa.array(ids, from_pandas=True)  # (None and NaN: null)
        if isinstance(ids, np.ndarray):
            return numpy_ids(ids)
        try:
            values = list(ids)
        except TypeError:
            raise SchemaError(
                f"`ids`: expected a collection of person ids, got {type(ids).__name__}"
            ) from None
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        raise SchemaError(  # (no Arrow message: it would quote an id)
            "`ids`: expected person ids of one type (all integers or all strings), got ids "
            "of mixed or unsupported types"
        ) from None


def _pseudonym_key(key: bytes | str) -> bytes:
    if not isinstance(key, str | bytes | bytearray | memoryview):
        # (bytes(16) is sixteen zero bytes: a public key, never a secret)
        raise SchemaError(
            f"`pseudonym_key`: expected the secret as bytes or str, got {type(key).__name__}; "
            f"use e.g. secrets.token_hex(32)"
        )
    secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(secret) < 16:
        raise SchemaError(
            f"`pseudonym_key`: expected a secret of at least 16 bytes, got {len(secret)}; "
            f"use e.g. secrets.token_hex(32) (text: fits an environment variable) and keep it safe"
        )
    return secret


def _rejected_rows(
    batch: pa.RecordBatch, inp: _Input, reason: np.ndarray, bad: np.ndarray, first_row: int
) -> pa.Table:
    take = pa.array(bad)
    names = np.array(REJECT_REASONS)[reason[bad]]
    return pa.table(
        {
            "file": pa.array([inp.label] * bad.size, pa.string()),
            "row": pa.array(bad.astype(np.int64) + first_row, pa.int64()),
            "reason": pa.array(names.tolist(), pa.string()),
            "source": pa.array([inp.source] * bad.size, pa.string()),
            "person": _as_text(batch.column(inp.schema.person).take(take)),
            "venue": _as_text(batch.column(inp.schema.venue).take(take)),
            "time": _as_text(batch.column(inp.schema.time).take(take)),
        }
    )


def _empty_rejected() -> pa.Table:
    s = pa.string()
    return pa.table(
        {
            "file": pa.array([], s),
            "row": pa.array([], pa.int64()),
            "reason": pa.array([], s),
            "source": pa.array([], s),
            "person": pa.array([], s),
            "venue": pa.array([], s),
            "time": pa.array([], s),
        }
    )


# --------------------------------------------------------------------------- collecting


class _Buffer:
    """A numpy column filled batch by batch, in place.

    Allocated at the expected number of rows (pages not written cost no memory) or
    grown by half when that is unknown, so that the accepted rows are one block of
    memory, not many small arrays the allocator cannot give back.
    """

    def __init__(self, dtype: type[np.generic], capacity: int) -> None:
        self.data = _memory.small_pages(max(capacity, 1024), dtype)
        self.size = 0

    def append(self, values: np.ndarray) -> None:
        self.reserve(values.shape[0])[:] = values

    def reserve(self, n: int) -> np.ndarray:
        """The next ``n`` rows (a view), counted as filled: the caller writes them."""
        end = self.size + n
        if end > self.data.shape[0]:
            grown = _memory.small_pages(max(end, self.data.shape[0] * 3 // 2), self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        view = self.data[self.size : end]
        self.size = end
        return view

    def take(self) -> np.ndarray:
        """The filled rows (a view); the buffer is emptied."""
        values = self.data[: self.size]
        self.data = np.empty(0, dtype=self.data.dtype)
        self.size = 0
        return values


class _Ids:
    """An id column filled batch by batch: an int64 buffer, or Arrow parts once text appears."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.ints: _Buffer | None = None
        self.parts: list[pa.Array] | None = None  # text (or mixed) ids

    def append(self, ids: pa.Array) -> None:
        if self.parts is None and pa.types.is_integer(ids.type):
            if self.ints is None:
                self.ints = _Buffer(np.int64, self.capacity)
            self.ints.append(ids.to_numpy())  # no nulls: accepted rows only
            return
        if self.parts is None:
            self.parts = [] if self.ints is None else [pa.array(self.ints.take())]
            self.ints = None
        self.parts.append(ids)

    def take(self) -> np.ndarray | pa.ChunkedArray:
        """All ids: int64 numpy when every part was integer, else a string chunked array."""
        if self.ints is not None:
            return self.ints.take()
        parts = self.parts or []
        self.parts = None
        if not parts:
            return pa.chunked_array([], pa.string())
        if all(pa.types.is_integer(p.type) for p in parts):
            return pa.chunked_array(parts, pa.int64())
        return pa.chunked_array([p.cast(pa.string()) for p in parts], pa.string())


def _as_chunked(ids: np.ndarray | pa.ChunkedArray) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(ids)]) if isinstance(ids, np.ndarray) else ids


class _Accumulator:
    """The accepted rows of every batch, joined into one table at the end.

    Memory is what the accepted rows need (8 bytes per integer id or time, 1 per
    direction, in buffers sized for every row when that is known; inputs are kept as
    runs, a method column only if there is one) plus, at the end, 4-byte codes of
    the ids and the sort order for the duplicate search. Duplicates are then
    squeezed out in place.
    """

    def __init__(self, capacity: int | None) -> None:
        expected = capacity or 0
        self.person = _Ids(expected)
        self.venue = _Ids(expected)
        self.seconds = _Buffer(np.int64, expected)
        self.direction = _Buffer(np.int8, expected)
        self.method: list[pa.Array | None] = []  # None: the batch has no method column
        self.runs: list[tuple[int, int]] = []  # (input, accepted rows) per batch

    def add(self, cleaned: _Cleaned, file_idx: int) -> None:
        rows = _accepted_rows(cleaned)
        if rows is None:
            return
        self.person.append(rows.person)
        self.venue.append(rows.venue)
        self.seconds.append(rows.seconds)
        self.direction.append(rows.direction)
        self.method.append(rows.method)
        self.runs.append((file_idx, rows.seconds.shape[0]))

    def finish(
        self, inputs: list[_Input], aliases: tuple[pa.Array, pa.Array] | None
    ) -> tuple[pa.Table, np.ndarray]:
        person = self.person.take()
        venue = self.venue.take()
        if aliases is not None:
            person = _apply_aliases(_as_chunked(person), aliases)
        seconds = self.seconds.take()
        direction = self.direction.take()
        n = seconds.shape[0]
        run_file = np.array([f for f, _ in self.runs], dtype=np.int64)
        run_len = np.array([c for _, c in self.runs], dtype=np.int64)
        labels = [inp.label for inp in inputs]
        tags = sorted({inp.source for inp in inputs})
        tag_dtype = _index_dtype(len(tags))
        tag_of_file = np.array([tags.index(inp.source) for inp in inputs], dtype=tag_dtype)
        # exact duplicates: same person, venue, second and direction; keep the smallest
        # source tag, then the first read (lexsort is stable: ties stay in reading order)
        _, p_codes = encode_ids(_as_chunked(person))
        _, v_codes = encode_ids(_as_chunked(venue))
        keys = [direction, seconds, v_codes, p_codes]
        if len(tags) > 1:
            source_idx = np.repeat(tag_of_file[run_file], run_len)
            keys.insert(0, source_idx)
        else:  # one tag: zeros on pages that are read but never written (no memory)
            source_idx = np.zeros(n, dtype=tag_dtype)
        order = np.lexsort(keys)
        same = _same_as_previous(order, p_codes, v_codes, seconds, direction)
        del keys, order, p_codes, v_codes
        dup_rows = np.flatnonzero(same)
        dup_file = run_file[np.searchsorted(np.cumsum(run_len), dup_rows, side="right")]
        dup_per_file = np.bincount(dup_file, minlength=len(inputs))
        keep = None if not dup_rows.size else ~same
        n_keep = n - int(dup_rows.size)
        del same, dup_rows, dup_file
        method = self.method
        self.method = []
        file_idx = np.repeat(run_file.astype(_index_dtype(len(labels))), run_len)
        table = pa.table(
            {
                "person": _compact_ids(person, keep),
                "venue": _compact_ids(venue, keep),
                "time": pa.array(_squeeze(seconds, keep)).view(_UTC_S),
                "direction": pa.DictionaryArray.from_arrays(
                    pa.array(_squeeze(direction, keep)), pa.array(["entry", "exit"])
                ),
                "source": pa.DictionaryArray.from_arrays(
                    pa.array(source_idx[:n_keep] if len(tags) == 1 else _squeeze(source_idx, keep)),
                    pa.array(tags, pa.string()),
                ),
                "method": _compact_method(method, run_len, keep),
                "file": pa.DictionaryArray.from_arrays(
                    pa.array(_squeeze(file_idx, keep)), pa.array(labels, pa.string())
                ),
            }
        )
        return table, dup_per_file


@dataclass(frozen=True)
class _Accepted:
    """The accepted rows of a batch (ids without nulls)."""

    person: pa.Array
    venue: pa.Array
    seconds: np.ndarray
    direction: np.ndarray
    method: pa.Array | None


def _accepted_rows(cleaned: _Cleaned) -> _Accepted | None:
    """The rows of a checked batch that were accepted; ``None`` if there are none."""
    ok = cleaned.reason < 0
    n_ok = int(ok.sum())
    if n_ok == 0:
        return None
    if n_ok == ok.shape[0]:  # the usual case: no copies
        return _Accepted(
            cleaned.person, cleaned.venue, cleaned.seconds, cleaned.direction, cleaned.method
        )
    mask = pa.array(ok)
    method = cleaned.method
    return _Accepted(
        cleaned.person.filter(mask),
        cleaned.venue.filter(mask),
        cleaned.seconds[ok],
        cleaned.direction[ok],
        None if method is None else method.filter(mask),
    )


def _index_dtype(size: int) -> type[np.signedinteger[Any]]:
    """The smallest signed integer type for dictionary indices ``0 .. size - 1``."""
    if size <= 128:
        return np.int8
    if size <= 2**15:
        return np.int16
    return np.int32


def _squeeze(values: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """``values[keep]``, written over ``values`` itself (a view of its start is returned)."""
    if keep is None:
        return values
    written = 0
    for start in range(0, values.shape[0], _PIECE):
        piece = values[start : start + _PIECE][keep[start : start + _PIECE]]
        values[written : written + piece.shape[0]] = piece
        written += piece.shape[0]
    return values[:written]


def _same_as_previous(order: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Rows equal, in every key, to the row before them in ``order`` (piecewise)."""
    n = order.shape[0]
    same = np.zeros(n, dtype=np.bool_)
    for start in range(1, n, _PIECE):
        a = order[start : start + _PIECE]
        b = order[start - 1 : start - 1 + a.shape[0]]
        equal = np.ones(a.shape[0], dtype=np.bool_)
        for key in keys:
            equal &= key[a] == key[b]
        same[a] = equal
    return same


def _compact_ids(
    ids: np.ndarray | pa.ChunkedArray, keep: np.ndarray | None
) -> pa.Array | pa.ChunkedArray:
    """The kept rows of an id column: int64 squeezed in place, or text chunks (no 2 GiB limit)."""
    if isinstance(ids, np.ndarray):
        return pa.array(_squeeze(ids, keep))
    if keep is None:
        return ids
    mask = pa.array(keep)
    out = []
    done = 0
    for chunk in ids.chunks:
        out.append(chunk.filter(mask.slice(done, len(chunk))))
        done += len(chunk)
    return pa.chunked_array(out, ids.type)


def _compact_method(
    parts: list[pa.Array | None], sizes: np.ndarray, keep: np.ndarray | None
) -> pa.Array | pa.ChunkedArray:
    """The kept rows of the method column (``None`` parts are all null)."""
    n_keep = int(sizes.sum()) if keep is None else int(keep.sum())
    if all(part is None for part in parts):
        return _null_strings(n_keep)
    filled = [
        pa.nulls(int(size), pa.string()) if part is None else part
        for part, size in zip(parts, sizes, strict=True)
    ]
    column = pa.chunked_array(filled, pa.string())
    return column if keep is None else column.filter(pa.array(keep))


def _null_strings(n: int) -> pa.Array:
    """``n`` null strings, on zeroed pages that cost no memory until written (they never are)."""
    offsets = pa.py_buffer(np.zeros(n + 1, dtype=np.int32))
    validity = pa.py_buffer(np.zeros((n + 7) // 8, dtype=np.uint8))
    return pa.StringArray.from_buffers(n, offsets, pa.py_buffer(b""), validity, null_count=n)


def _read_aliases(aliases: TableLike) -> tuple[pa.Array, pa.Array]:
    """Validate an alias table; return (aliases, canonical persons) with each alias once.

    Chains (``a → b``, ``b → c``) are followed to their end (``a → c``); ``a → a`` is
    the identity. Messages give row positions, never the ids (they are personal data).
    """
    table = as_arrow_table(aliases, "aliases", ("alias", "person"))
    try:
        require_columns(table, ("alias", "person"), "aliases")
        alias = check_id_column(table.column("alias"), "alias", "aliases")
        person = check_id_column(table.column("person"), "person", "aliases")
    except AliasError:
        raise
    except SchemaError as exc:
        raise AliasError(str(exc)) from exc
    as_text = not (pa.types.is_integer(alias.type) and pa.types.is_integer(person.type)) or any(
        pa.types.is_uint64(c.type) and len(c) and pc.max(c).as_py() > _INT64_MAX
        for c in (alias, person)
    )  # ids beyond int64 as text, as read_scans makes them
    target = pa.string() if as_text else pa.int64()
    alias = alias.cast(target).combine_chunks()
    person = person.cast(target).combine_chunks()
    _, a_codes = encode_ids(pa.chunked_array([alias]))
    _, p_codes = encode_ids(pa.chunked_array([person]))
    order = np.lexsort((p_codes, a_codes))
    a_sorted = a_codes[order]
    p_sorted = p_codes[order]
    clash = np.flatnonzero((a_sorted[1:] == a_sorted[:-1]) & (p_sorted[1:] != p_sorted[:-1]))
    if clash.size:
        rows = sorted((int(order[clash[0]]), int(order[clash[0] + 1])))
        raise AliasError(
            f"aliases: expected each alias to map to one person, found an alias mapped to two "
            f"different persons (rows {rows[0]} and {rows[1]}); remove one of those rows"
        )
    first = np.ones(order.size, dtype=np.bool_)
    first[1:] = a_sorted[1:] != a_sorted[:-1]
    first_row = order[first]  # of each alias in the table
    alias = alias.take(pa.array(first_row))
    person = person.take(pa.array(first_row))
    return alias, _resolve_chains(alias, person, first_row)


def _resolve_chains(alias: pa.Array, person: pa.Array, rows: np.ndarray) -> pa.Array:
    """The canonical person of every alias: its chain of aliases followed to the end.

    ``alias`` holds distinct ids, ``person`` their targets, ``rows`` their rows in the
    alias table (for messages). Pointer doubling on codes: ``step = step[step]``
    until nothing changes, at most ``log2(ids) + 1`` rounds, each O(ids). A chain
    ends at an id that is no alias, or its own (``a → a``); an id whose walk ends
    anywhere else is on, or leads into, a cycle.
    """
    if not len(alias):
        return person
    ids, codes = encode_ids(pa.chunked_array([alias, person]))
    a_codes, p_codes = codes[: len(alias)], codes[len(alias) :]
    step = np.arange(len(ids), dtype=np.int32)
    step[a_codes] = p_codes
    final = step
    for _ in range(max(1, len(ids).bit_length()) + 1):
        nxt = final[final]
        if np.array_equal(nxt, final):
            break
        final = nxt
    looping = step[final] != final  # the walk stopped on an alias that maps elsewhere
    if looping.any():
        # after at least len(ids) steps every looping walk is on its cycle
        on_cycle = np.zeros(len(ids), dtype=np.bool_)
        on_cycle[final[looping]] = True
        cycle_rows = np.sort(rows[on_cycle[a_codes]])
        leading = int(looping[a_codes].sum()) - cycle_rows.size
        shown = ", ".join(str(int(r)) for r in cycle_rows[:5])
        more = ", ..." if cycle_rows.size > 5 else ""
        raise AliasError(
            f"aliases: expected every chain of aliases to end at a canonical person, found "
            f"{cycle_rows.size} aliases in a cycle (rows {shown}{more}) and {leading} more "
            f"leading into it; map one alias of the cycle to the canonical person (or to "
            f"itself) instead"
        )
    return ids.take(pa.array(final[a_codes]))


def _apply_aliases(person: pa.ChunkedArray, aliases: tuple[pa.Array, pa.Array]) -> pa.ChunkedArray:
    alias, canonical = aliases
    if pa.types.is_string(alias.type) and not pa.types.is_string(person.type):
        person = person.cast(pa.string())
    elif pa.types.is_string(person.type) and not pa.types.is_string(alias.type):
        alias = alias.cast(pa.string())
        canonical = canonical.cast(pa.string())
    where = pc.index_in(person, value_set=alias)
    mapped = canonical.take(where)
    result = pc.if_else(pc.is_null(where), person, mapped)
    if isinstance(result, pa.Array):
        return pa.chunked_array([result])
    return result


# =========================================================================== scans → stays


@dataclass(frozen=True)
class StaysReport:
    """What :func:`scans_to_stays` did with the scans.

    ``scans == repeats + entries + exits``, ``entries == stays + merged``,
    ``exits == exits_paired + exits_without_entry`` and ``stays ==
    sum(closed_by.values())``. A stay closed by an exit counts under ``"exit"``
    unless ``max_stay`` cut it first; a merged stay counts under the rule of its
    last part.

    Attributes
    ----------
    scans : int
        Scans given.
    repeats : int
        Scans folded into the same person's scan at the same venue, with the same
        direction, at most ``dedupe_within`` earlier (double taps, two apps).
    entries, exits : int
        Entry and exit scans left after that.
    stays : int
        Stays returned.
    merged : int
        Stays merged into the same person's previous stay at the venue, which they
        touched or overlapped.
    closed_by : dict
        Rule → number of stays whose end it set: ``exit`` (an exit scan),
        ``default_dwell``, ``next_scan`` (the person's next scan anywhere),
        ``max_stay``, ``midnight``.
    exits_paired : int
        Exit scans that closed an entry (the person's scan right before, same venue).
    exits_without_entry : int
        Exit scans not right after an entry by the same person at the venue.
    """

    scans: int
    repeats: int
    entries: int
    exits: int
    stays: int
    merged: int
    closed_by: dict[str, int]
    exits_paired: int
    exits_without_entry: int


@dataclass(frozen=True, repr=False)
class StaysResult:
    """The result of :func:`scans_to_stays`.

    Attributes
    ----------
    stays : pyarrow.Table
        One row per stay, sorted by person then start: ``person``, ``venue``,
        ``start``, ``end`` (``timestamp[s, UTC]``, the stay is ``[start, end)``),
        ``source`` (of its entry scan; dictionary string, like the scans') and
        ``closed_by`` (dictionary string). Ready for :meth:`VenueIndex.from_stays`.
    unmatched_exits : pyarrow.Table
        The exit scans without an entry: ``person``, ``venue``, ``time``, ``source``.
    report : StaysReport
    """

    stays: pa.Table
    unmatched_exits: pa.Table
    report: StaysReport

    def __repr__(self) -> str:
        r = self.report
        return (
            f"StaysResult({r.stays} stays from {r.scans} scans; {r.exits_without_entry} "
            f"exits without entry)"
        )

    def to_arrow(self) -> pa.Table:
        """The stays as a ``pyarrow.Table``.

        Examples
        --------
        >>> import pyarrow as pa
        >>> raw = pa.table({"person": [1], "venue": [2], "time": ["2021-08-01T08:00:00Z"]})
        >>> tg.scans_to_stays(tg.read_scans(raw)).to_arrow().num_rows
        1
        """
        return self.stays

    def to_pandas(self) -> Any:
        """The stays as a pandas DataFrame (``pip install tracegraph[pandas]``).

        Examples
        --------
        >>> import pyarrow as pa
        >>> raw = pa.table({"person": [1], "venue": [2], "time": ["2021-08-01T08:00:00Z"]})
        >>> len(tg.scans_to_stays(tg.read_scans(raw)).to_pandas())
        1
        """
        require("pandas", "pandas")
        return self.stays.to_pandas()

    def to_polars(self) -> Any:
        """The stays as a polars DataFrame (``pip install tracegraph[polars]``).

        Examples
        --------
        >>> import pyarrow as pa
        >>> raw = pa.table({"person": [1], "venue": [2], "time": ["2021-08-01T08:00:00Z"]})
        >>> tg.scans_to_stays(tg.read_scans(raw)).to_polars().height
        1
        """
        pl = require("polars", "polars")
        return pl.from_arrow(self.stays)


#: What :func:`scans_to_stays` takes, for the error when it gets something else.
_TO_STAYS_EXPECTED = (
    "a tracegraph.Scans, or a table of scans (pyarrow.Table, pandas.DataFrame or polars.DataFrame)"
)


def scans_to_stays(
    scans: Scans | TableLike,
    /,
    *,
    default_dwell: DurationLike = "30min",
    venue_dwell: TableLike | Mapping[Any, DurationLike] | None = None,
    max_stay: DurationLike = "12h",
    split_at_midnight: str | None = None,
    dedupe_within: DurationLike | None = "2min",
) -> StaysResult:
    """Turn entry and exit scans into stays, person by person in time order.

    Parameters
    ----------
    scans : Scans or table
        From :func:`read_scans`, or a table with ``person``, ``venue``, ``time``
        (zone-aware timestamps) and optionally ``direction`` (``"entry"``/``"exit"``
        or 0/1; null = entry) and ``source``.
    default_dwell : duration, default "30min"
        How long an entry without its exit is assumed to last.
    venue_dwell : table or mapping, optional
        Per-venue default dwell: a table with columns ``venue`` and
        ``default_dwell`` (a duration type or int seconds; one row per venue), or
        ``{venue: duration}``.
        Venues not listed use ``default_dwell``.
    max_stay : duration, default "12h"
        No stay is longer, even one closed by an exit scan.
    split_at_midnight : str, optional
        An IANA zone (``"Asia/Ho_Chi_Minh"``): an entry without its exit ends at the
        next local midnight at the latest.
    dedupe_within : duration or None, default "2min"
        A scan by the same person at the same venue with the same direction at most
        this long after their previous (kept) scan, with no other scan of theirs in
        between, is a repeat (two apps, a double tap) and is dropped; the earliest is
        kept. ``None`` keeps all scans.

    Returns
    -------
    StaysResult
        ``.stays`` for :meth:`VenueIndex.from_stays`, ``.unmatched_exits`` and a
        ``.report`` of how each stay was closed.

    Raises
    ------
    SchemaError
        A missing or mistyped column, null values, or an unknown direction value.
    DurationError
        A duration that is negative or not whole seconds; ``max_stay`` of zero.
    TimezoneError
        Naive times, or ``split_at_midnight`` is not a zone name.

    See Also
    --------
    read_scans : read raw scans from files.
    VenueIndex.from_stays : index the stays.
    VenueIndex.from_scans : files → index in one call, in half the memory.

    Notes
    -----
    The scans are sorted by (person, time) with ``numpy.lexsort`` (ties broken by
    direction, entries first, then venue and source, so the result does not
    depend on the order of the input rows), then three kernels walk them once each:

    1. repeats are dropped;
    2. an entry whose person's *next* scan is an exit at the same venue ends at that
       exit (also when the next scans share a second and one of them is that exit:
       leaving the cafe and entering the shop at 09:00 closes the cafe stay at 09:00);
       any other entry gets its dwell, cut at ``max_stay``, at local midnight (with
       ``split_at_midnight``) and at the person's next scan anywhere (they had left by
       then; an exit of the entry's own second that closed another stay does not
       cut it). The rule that set the end is recorded (ties: default dwell, then
       max_stay, midnight, next scan). An exit that closes no entry is reported, not
       turned into a stay;
    3. a stay that touches or overlaps the same person's previous stay at the same
       venue is merged into it, unless that one was cut at ``max_stay`` or midnight,
       or the merged stay would be longer than ``max_stay``.

    So a person's stays never overlap, and every stay has ``start <= end <= start +
    max_stay``. O(n log n) for the sort, O(n) after.

    Examples
    --------
    >>> import pyarrow as pa
    >>> ts = pa.timestamp("s", tz="UTC")
    >>> scans = pa.table({
    ...     "person": ["ann", "ann", "bob", "bob"],
    ...     "venue": ["cafe", "cafe", "cafe", "shop"],
    ...     "time": pa.array([0, 3600, 600, 1200], ts),
    ...     "direction": ["entry", "exit", "entry", "entry"],
    ... })
    >>> result = tg.scans_to_stays(scans, default_dwell="1h")
    >>> result.stays["closed_by"].to_pylist()
    ['exit', 'next_scan', 'default_dwell']
    >>> result.report.closed_by
    {'exit': 1, 'default_dwell': 1, 'next_scan': 1, 'max_stay': 0, 'midnight': 0}
    >>> index = tg.VenueIndex.from_stays(result.stays)
    >>> tg.trace(index, ["ann"]).contacts["person"].to_pylist()
    ['ann', 'bob']
    """
    dwell_s, max_s, within_s = _stay_options(
        default_dwell, max_stay, dedupe_within, split_at_midnight
    )
    if isinstance(scans, Scans):
        table = scans.table
    elif isinstance(scans, str | os.PathLike):
        raise SchemaError(
            f"scans: expected {_TO_STAYS_EXPECTED}, got a path; read the files first: "
            f"tg.scans_to_stays(tg.read_scans(path)), or tg.VenueIndex.from_scans(path) for "
            f"an index"
        )
    else:  # (direction and source, when there, are read too)
        columns = ("person", "venue", "time", "direction", "source")
        table = as_arrow_table(scans, "scans", columns, expected=_TO_STAYS_EXPECTED)
    require_columns(table, ("person", "venue", "time"), "scans")
    person_col = check_id_column(table.column("person"), "person", "scans")
    venue_col = check_id_column(table.column("venue"), "venue", "scans")
    seconds = to_seconds(table.column("time"), "time", None)  # a view where possible
    direction = _scan_directions(table)
    sources, s_codes = _source_codes(table)
    persons, p_codes = encode_ids(person_col)
    venues, v_codes = encode_ids(venue_col)
    del person_col, venue_col, table

    # 1. (person, time) order, deterministic ties. Memory: every array below is freed
    # as soon as its successor exists (the input table is still held by the caller).
    keys = [s_codes, v_codes, direction, seconds, p_codes]
    order = np.lexsort(keys if len(sources) > 1 else keys[1:])
    del keys
    p = _permuted(p_codes, order)
    del p_codes
    v = _permuted(v_codes, order)
    del v_codes
    t = _permuted(seconds, order)
    del seconds
    d = _permuted(direction, order)
    del direction
    src = _permuted(s_codes, order)
    del s_codes, order
    n = int(t.shape[0])

    # 2. repeats
    keep = np.empty(n, dtype=np.bool_)
    _kernels.dedupe_scans(p, v, t, d, within_s, keep)
    if not keep.all():
        p, v, t, d, src = p[keep], v[keep], t[keep], d[keep], src[keep]
    del keep
    n_kept = int(t.shape[0])

    # 3. pairing, a slice of whole persons at a time (a person's scans are paired on
    # their own), so that the per-scan dwell and midnight arrays are slice-sized. The
    # outputs have a slot per scan; only the first `n_stays` pages are ever written.
    dwell_of_venue = _dwell_by_venue(venues, dwell_s, venue_dwell)
    out_scan = np.empty(n_kept, dtype=np.int64)
    out_end = np.empty(n_kept, dtype=np.int64)
    out_closed_by = np.empty(n_kept, dtype=np.int8)
    exit_used = np.zeros(n_kept, dtype=np.bool_)
    n_stays = 0
    for lo, hi in _person_slices(p, _PAIR_SLICE):
        written = int(
            _kernels.pair_scans(
                p[lo:hi],
                v[lo:hi],
                t[lo:hi],
                d[lo:hi],
                np.ascontiguousarray(dwell_of_venue[v[lo:hi]]),
                next_midnight(t[lo:hi], split_at_midnight),
                max_s,
                out_scan[n_stays:],
                out_end[n_stays:],
                out_closed_by[n_stays:],
                exit_used[lo:hi],
            )
        )
        out_scan[n_stays : n_stays + written] += lo
        n_stays += written

    # the exits that closed no entry, and the counts
    exits = d == 1
    del d
    n_exits = int(exits.sum())
    n_paired = int(exit_used.sum())
    orphan = np.flatnonzero(exits & ~exit_used)
    del exits, exit_used
    unmatched = pa.table(
        {
            "person": persons.take(pa.array(p[orphan])),
            "venue": venues.take(pa.array(v[orphan])),
            "time": pa.array(t[orphan]).view(_UTC_S),
            "source": pa.DictionaryArray.from_arrays(pa.array(src[orphan]), sources),
        }
    )
    # the stays, each scan column released once gathered (the ends are written in
    # place: the pages of `out_end` past `n_stays` were never touched)
    entry = out_scan[:n_stays]
    s_person = p[entry]
    del p
    s_venue = v[entry]
    del v
    s_start = t[entry]
    del t
    s_source = src[entry]
    del src, entry, out_scan
    s_end = out_end[:n_stays]
    s_closed = out_closed_by[:n_stays]

    # 4. merge a person's touching stays at one venue
    keep_stay = np.empty(n_stays, dtype=np.bool_)
    n_merged = int(
        _kernels.merge_stays(s_person, s_venue, s_start, s_end, s_closed, max_s, keep_stay)
    )
    if n_merged:
        s_person, s_venue, s_start = s_person[keep_stay], s_venue[keep_stay], s_start[keep_stay]
        s_end, s_closed, s_source = s_end[keep_stay], s_closed[keep_stay], s_source[keep_stay]
    del keep_stay
    counts = np.bincount(s_closed, minlength=len(CLOSED_BY))

    person_ids = _decode(persons, s_person)
    del s_person
    venue_ids = _decode(venues, s_venue)
    del s_venue
    stays = pa.table(
        {
            "person": person_ids,
            "venue": venue_ids,
            "start": pa.array(s_start).view(_UTC_S),
            "end": pa.array(s_end).view(_UTC_S),
            "source": pa.DictionaryArray.from_arrays(pa.array(s_source), sources),
            "closed_by": pa.DictionaryArray.from_arrays(
                pa.array(s_closed, pa.int8()), pa.array(CLOSED_BY)
            ),
        }
    )
    report = StaysReport(
        scans=n,
        repeats=n - n_kept,
        entries=n_kept - n_exits,
        exits=n_exits,
        stays=int(s_start.shape[0]),
        merged=n_merged,
        closed_by={rule: int(c) for rule, c in zip(CLOSED_BY, counts, strict=True)},
        exits_paired=n_paired,
        exits_without_entry=int(orphan.size),
    )
    return StaysResult(stays=stays, unmatched_exits=unmatched, report=report)


def _stay_options(
    default_dwell: DurationLike,
    max_stay: DurationLike,
    dedupe_within: DurationLike | None,
    split_at_midnight: str | None,
) -> tuple[int, int, int]:
    """The options of :func:`scans_to_stays` checked: dwell, max stay, dedupe window in seconds."""
    dwell_s = duration_seconds(default_dwell, "default_dwell")
    max_s = duration_seconds(max_stay, "max_stay")
    if max_s <= 0:
        raise DurationError(f"`max_stay`: expected a positive duration, got {max_stay!r}")
    within_s = duration_seconds(dedupe_within, "dedupe_within", allow_none=True)
    if split_at_midnight is not None:
        check_zone(split_at_midnight, "split_at_midnight")
    return dwell_s, max_s, within_s


def _permuted(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``values[order]``, contiguous."""
    return np.ascontiguousarray(values[order])


def _decode(ids: pa.Array, codes: np.ndarray) -> pa.Array:
    """The ids of codes: a numpy gather for integer ids (no Arrow copy), else ``take``."""
    if pa.types.is_integer(ids.type) and not ids.null_count:
        return pa.array(ids.to_numpy()[codes], ids.type)
    return ids.take(pa.array(codes))


def _source_codes(table: pa.Table) -> tuple[pa.Array, np.ndarray]:
    """The distinct ``source`` tags, sorted (null and absent are ``""``), and each row's code.

    A dictionary column (as :func:`read_scans` makes) is encoded through its
    dictionary, without decoding every row into text.
    """
    n = table.num_rows
    if "source" not in table.column_names:
        return pa.array([""], pa.string()), np.zeros(n, dtype=np.int8)
    column = table.column("source")
    typ = column.type
    if not (pa.types.is_dictionary(typ) and _is_text(typ.value_type)):
        text = _text_or_none(column)
        if text is None:  # (every row's tag would be "", as if none were given)
            raise SchemaError(
                f"scans: column `source`: expected text (each scan's provenance tag, "
                f"e.g. the app), got {typ}; cast it to strings, or drop the column"
            )
        text = pc.fill_null(text, "")
        sources, codes = encode_ids(pa.chunked_array([text]))
        return sources, codes.astype(_index_dtype(len(sources)))
    chunks = [chunk for chunk in column.chunks if len(chunk)]
    names = [pc.fill_null(chunk.dictionary.cast(pa.string()), "") for chunk in chunks]
    distinct = pc.unique(pa.chunked_array([*names, pa.array([""])], pa.string()))
    distinct = distinct.take(pc.array_sort_indices(distinct))
    # per chunk: the position in `distinct` of every dictionary entry, and of null
    # rows (the last slot, ""); then which positions occur, counted piece by piece
    empty = int(pc.index_in(pa.array([""]), value_set=distinct)[0].as_py())
    lookups = [
        np.append(np.asarray(pc.index_in(name, value_set=distinct), dtype=np.int64), empty)
        for name in names
    ]
    used = np.zeros(len(distinct), dtype=np.bool_)
    for chunk, lookup in zip(chunks, lookups, strict=True):
        for piece in _dictionary_indices(chunk):
            used[lookup[np.bincount(piece, minlength=lookup.shape[0]) > 0]] = True
    # only the tags that occur, as encode_ids would give them
    dtype = _index_dtype(int(used.sum()))
    rank = (np.cumsum(used) - 1).astype(dtype)
    if int(used.sum()) == 1:  # zeros on pages never written: no memory
        return distinct.filter(pa.array(used)), np.zeros(n, dtype=dtype)
    codes = np.empty(n, dtype=dtype)
    done = 0
    for chunk, lookup in zip(chunks, lookups, strict=True):
        to_rank = rank[lookup]
        for piece in _dictionary_indices(chunk):
            codes[done : done + piece.shape[0]] = to_rank[piece]
            done += piece.shape[0]
    return distinct.filter(pa.array(used)), codes


def _dictionary_indices(chunk: pa.DictionaryArray) -> Iterator[np.ndarray]:
    """The indices of a dictionary array, nulls as ``len(dictionary)``, in pieces."""
    indices = chunk.indices
    if indices.null_count:
        indices = pc.fill_null(indices, len(chunk.dictionary))
    values = indices.to_numpy(zero_copy_only=False)
    for start in range(0, values.shape[0], _PIECE):
        yield values[start : start + _PIECE]


def _is_text(typ: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ)
    )


def _scan_directions(table: pa.Table) -> np.ndarray:
    """The ``direction`` column as int8 codes (0 entry, 1 exit); absent or null → entry."""
    n = table.num_rows
    if "direction" not in table.column_names:
        return np.zeros(n, dtype=np.int8)
    chunked = table.column("direction")
    if pa.types.is_dictionary(chunked.type) and _is_text(chunked.type.value_type):
        return _dictionary_directions(chunked)
    column = chunked.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_integer(column.type):
        # (compared as they are: uint64 values from 2**63 have no int64)
        codes = pc.fill_null(column, 0)
        other = pc.invert(pc.is_in(codes, value_set=pa.array([0, 1], column.type)))
        bad = np.flatnonzero(other.to_numpy(zero_copy_only=False))
        if bad.size:
            raise SchemaError(
                f"scans: column `direction`: expected 0 (entry) or 1 (exit), found "
                f"{codes[int(bad[0])].as_py()} at row {int(bad[0])}"
            )
        return int_values(codes).astype(np.int8)
    text = _text_or_none(column)
    if text is None:
        raise SchemaError(
            f"scans: column `direction`: expected 'entry'/'exit' text or 0/1 integers, got "
            f"{column.type}"
        )
    normal = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    where = pc.index_in(normal, value_set=pa.array(["entry", "exit"]))
    unknown = np.flatnonzero(pc.is_null(where).to_numpy(zero_copy_only=False) & ~_null_mask(text))
    if unknown.size:
        raise SchemaError(
            f"scans: column `direction`: expected 'entry' or 'exit', found another value at "
            f"row {int(unknown[0])}; read raw scans with read_scans and "
            f"ScanSchema(directions=...)"
        )
    return np.asarray(pc.fill_null(where, 0).to_numpy(zero_copy_only=False), dtype=np.int8)


def _dictionary_directions(column: pa.ChunkedArray) -> np.ndarray:
    """:func:`_scan_directions` of a dictionary column: each dictionary entry read once."""
    codes = np.empty(len(column), dtype=np.int8)
    done = 0
    for chunk in column.chunks:
        text = _as_text(chunk.dictionary)
        normal = pc.utf8_lower(pc.utf8_trim_whitespace(text))
        where = pc.index_in(normal, value_set=pa.array(["entry", "exit"]))
        lookup = np.asarray(pc.fill_null(where, 0).to_numpy(zero_copy_only=False), dtype=np.int8)
        lookup[pc.is_null(where).to_numpy(zero_copy_only=False) & ~_null_mask(text)] = -1
        lookup = np.append(lookup, np.int8(0))  # null rows are entries
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(text))
        part = lookup[indices.to_numpy(zero_copy_only=False)]
        unknown = np.flatnonzero(part < 0)
        if unknown.size:
            raise SchemaError(
                f"scans: column `direction`: expected 'entry' or 'exit', found another value at "
                f"row {done + int(unknown[0])}; read raw scans with read_scans and "
                f"ScanSchema(directions=...)"
            )
        codes[done : done + len(chunk)] = part
        done += len(chunk)
    return codes


def _person_slices(person: np.ndarray, size: int) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` slices of about ``size`` rows of person-sorted codes; a person is never cut."""
    n = person.shape[0]
    lo = 0
    while lo < n:
        hi = min(lo + size, n)
        if hi < n:  # back to the start of the person at `hi`, or past them if that is `lo`
            cut = int(np.searchsorted(person, person[hi], side="left"))
            hi = cut if cut > lo else int(np.searchsorted(person, person[hi], side="right"))
        yield lo, hi
        lo = hi


def _dwell_by_venue(
    venues: pa.Array,
    default_s: int,
    venue_dwell: TableLike | Mapping[Any, DurationLike] | None,
) -> np.ndarray:
    """The default dwell of every venue code, in seconds."""
    by_venue = np.full(len(venues), default_s, dtype=np.int64)
    if venue_dwell is not None:
        if isinstance(venue_dwell, Mapping):
            keys = list(venue_dwell)
            values = np.array(
                [duration_seconds(venue_dwell[k], f"venue_dwell[{i}]") for i, k in enumerate(keys)],
                dtype=np.int64,
            )
            key_col = pa.chunked_array([ids_array(keys, venues.type, "venue_dwell")])
        else:
            table = as_arrow_table(venue_dwell, "venue_dwell", ("venue", "default_dwell"))
            require_columns(table, ("venue", "default_dwell"), "venue_dwell")
            key_col = check_id_column(table.column("venue"), "venue", "venue_dwell")
            values = _dwell_column(table.column("default_dwell"))
        if (
            len(venues)
            and len(key_col)
            and pa.types.is_string(venues.type) != pa.types.is_string(key_col.type)
        ):
            try:
                key_col = (
                    decimal_ids(key_col, venues.type)
                    if _is_text(key_col.type)
                    else key_col.cast(venues.type)
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise SchemaError(
                    f"venue_dwell: expected venue ids of the scans' type ({venues.type}), "
                    f"got {key_col.type} ids that do not convert; give the venues as they "
                    f"appear in the scans"
                ) from None
        # (counted as the scans' ids: "7" and "07" are one integer venue)
        repeated = len(key_col) - pc.count_distinct(key_col).as_py()
        if repeated:  # (which dwell should win?)
            raise SchemaError(
                f"venue_dwell: expected one row per venue, found {repeated} repeating a venue "
                f"listed before (ids read as the scans' venue ids); keep one dwell each"
            )
        if len(venues) and len(key_col):
            where = pc.index_in(key_col, value_set=venues)
            found = pc.is_valid(where).to_numpy(zero_copy_only=False)
            codes = np.asarray(pc.fill_null(where, 0).to_numpy(zero_copy_only=False), np.int64)
            by_venue[codes[found]] = values[found]
    return by_venue


def decimal_ids(text: Any, typ: pa.DataType) -> Any:
    """Text ids as integer ids of ``typ``: ASCII decimal digits only (leading zeros ignored).

    Arrow's cast alone also reads "0x10" as 16; anything but optional "-" and digits
    raises ``pyarrow.ArrowInvalid``, as an id out of ``typ``'s range does.
    """
    if not pc.all(pc.match_substring_regex(text, r"^-?[0-9]+$")).as_py():
        raise pa.ArrowInvalid("not decimal digits")
    return text.cast(typ)


def _dwell_column(column: pa.ChunkedArray) -> np.ndarray:
    typ = column.type
    if column.null_count:
        raise SchemaError("venue_dwell: column `default_dwell`: expected no nulls")
    if pa.types.is_duration(typ):
        raw = int_values(column.combine_chunks())
        per_s = _UNIT_PER_S[typ.unit]
        if np.any(raw % per_s):  # as a mapping's durations are: whole seconds or an error
            raise DurationError(
                "venue_dwell: column `default_dwell`: expected whole seconds (tracegraph "
                "works at one-second resolution), found a fraction of a second"
            )
        values = raw // per_s
    elif pa.types.is_integer(typ):
        values = int_values(column.combine_chunks())
    else:
        raise SchemaError(
            f"venue_dwell: column `default_dwell`: expected a duration or int seconds, got {typ}"
        )
    if values.size and int(values.min()) < 0:
        raise DurationError("venue_dwell: column `default_dwell`: expected non-negative durations")
    return np.asarray(values, dtype=np.int64)


# =========================================================================== scans → index
#
# The lean path: files → VenueIndex without a table in between. Per scan only 4-byte
# codes and times and a 1-byte direction are kept (ids are dictionary-encoded while
# reading); scans are grouped by person with an int32 counting sort, repeats are
# squeezed out in place, and stays are written over the scans they came from.

_INT32_MIN = int(np.iinfo(np.int32).min)
_LEAN_SLICE = 1 << 18  # scans per slice of pairing: about 80 bytes of temporaries each


@dataclass(frozen=True, repr=False)
class IngestReport:
    """What :meth:`VenueIndex.from_scans` read, set aside and made of the scans.

    Attributes
    ----------
    scans : ScanReport
        Row counts per input and in total, as :func:`read_scans` gives them:
        ``read == accepted + rejected + duplicates``.
    stays : StaysReport
        What became of the accepted scans, as :func:`scans_to_stays` gives it:
        ``scans == repeats + entries + exits``, ``entries == stays + merged``.
    rejected : pyarrow.Table
        The rejected rows, as :attr:`Scans.rejected`.

    Examples
    --------
    >>> import pyarrow as pa
    >>> raw = pa.table({"person": ["a", "a", None], "venue": ["v", "v", "v"],
    ...                 "time": ["2021-08-01T08:00:00Z", "2021-08-01T08:00:00Z",
    ...                          "2021-08-01T09:00:00Z"]})
    >>> index, report = tg.VenueIndex.from_scans(raw, errors="quarantine")
    >>> report
    IngestReport(3 rows: 1 scan, 1 rejected, 1 duplicate; 1 stay)
    """

    scans: ScanReport
    stays: StaysReport
    rejected: pa.Table

    def __repr__(self) -> str:
        r = self.scans

        def count(n: int, what: str) -> str:
            return f"{n} {what}{'' if n == 1 else 's'}"

        return (
            f"IngestReport({count(r.read, 'row')}: {count(r.accepted, 'scan')}, "
            f"{r.rejected} rejected, {count(r.duplicates, 'duplicate')}; "
            f"{count(self.stays.stays, 'stay')})"
        )


def _compact_stays(
    source: Any,
    /,
    *,
    schema: ScanSchema | None,
    aliases: TableLike | None,
    errors: ScanErrors,
    not_before: Any,
    now: Any,
    tz: str | None,
    batch_size: int,
    pseudonym_key: bytes | str | None,
    default_dwell: DurationLike,
    venue_dwell: TableLike | Mapping[Any, DurationLike] | None,
    max_stay: DurationLike,
    split_at_midnight: str | None,
    dedupe_within: DurationLike | None,
    progress: bool | None,
) -> tuple[Any, IngestReport]:
    """Raw scans → stays as codes (times from their own origin) and the row accounting.

    The lean path behind :meth:`tracegraph.VenueIndex.from_scans`; its docstring says
    how it works and what it keeps.
    """
    dwell_s, max_s, within_s = _stay_options(
        default_dwell, max_stay, dedupe_within, split_at_midnight
    )
    _dwell_by_venue(pa.array([], pa.string()), dwell_s, venue_dwell)  # checked before reading
    plan = _plan_read(
        source,
        schema=schema,
        aliases=aliases,
        errors=errors,
        not_before=not_before,
        now=now,
        tz=tz,
        batch_size=batch_size,
        pseudonym_key=pseudonym_key,
    )
    total = _total_rows(plan.inputs)
    if total is not None and total >= _INT32_MAX:
        raise _too_many_scans(total)
    acc = _CodeAccumulator(total)
    rejected_parts, counts_read = _read_inputs(plan, acc.add, total, progress, stacklevel=3)
    stays, stays_report, dup_per_file = _stays_from_codes(
        acc,
        plan,
        dwell_s=dwell_s,
        venue_dwell=venue_dwell,
        max_s=max_s,
        within_s=within_s,
        zone=split_at_midnight,
    )
    del acc
    rejected, scan_report = _scan_report(
        plan, rejected_parts, counts_read, dup_per_file, stacklevel=3
    )
    return stays, IngestReport(scans=scan_report, stays=stays_report, rejected=rejected)


#: Integer ids are encoded through a direct table while their range spans at most
#: this many ids per row read, plus the slack (4 bytes per id of the range).
_DENSE_PER_ROW = 4
_DENSE_SLACK = 1 << 16


def _too_many_scans(n: int) -> SchemaError:
    return SchemaError(
        f"scans: expected fewer than {_INT32_MAX} scans for VenueIndex.from_scans, got {n}; "
        f"index the scans in parts (by period) and combine them with VenueIndex.append"
    )


#: Longest text id (bytes): :func:`tracegraph._kernels.encode_bytes` keeps 4-byte lengths.
_MAX_ID_BYTES = (1 << 32) - 1
#: A batch of ids (hashed: text, or sparse integers) this long or longer is looked up
#: on threads first, when the batch before it brought at most this share of new ids
#: (see `_encode_rows`).
_PARALLEL_LOOKUP_ROWS = 1 << 16
_LOOKUP_FIRST_BELOW = 0.25


def _encode_rows(
    n_rows: int, new_share: float, run: Callable[[int, int, int], int], distinct: Callable[[], int]
) -> float:
    """Encode a batch's rows through a hash table kernel, on threads when it pays.

    ``run(mode, a, b)`` runs the kernel (:func:`tracegraph._kernels.encode_int64` or
    ``encode_bytes``) in ``mode`` on rows ``a..b-1`` and returns the number of rows
    not found (``LOOKUP_ONLY``); ``distinct()`` is the number of distinct ids. A lookup
    waits on memory (a random slot, and a record, among millions of ids), so once
    most ids of a batch are likely known already (the batch before brought at most
    :data:`_LOOKUP_FIRST_BELOW` new ones: people come back), the rows are first looked
    up in slices on threads, the table only read, and then the rows not found are
    encoded in row order: exactly the codes of encoding every row in order. Returns
    the share of this batch's rows that were new (or a lower bound: its new ids).
    """
    n_threads = threads()
    if n_threads > 1 and n_rows >= _PARALLEL_LOOKUP_ROWS and new_share <= _LOOKUP_FIRST_BELOW:
        bounds = [int(x) for x in np.linspace(0, n_rows, n_threads + 1)]
        with workers(n_threads) as pool:
            futures = [
                pool.submit(run, _kernels.LOOKUP_ONLY, a, b) for a, b in itertools.pairwise(bounds)
            ]
            missing = sum(int(f.result()) for f in futures)
        if missing:
            run(_kernels.ENCODE_MISSING, 0, n_rows)
        return missing / n_rows
    before = distinct()
    run(_kernels.ENCODE_ALL, 0, n_rows)
    return (distinct() - before) / n_rows


class _TextTable:
    """Distinct text ids and their codes, grown batch by batch (:func:`encode_bytes`).

    The strings' bytes are hashed and compared in a kernel straight from each batch's
    Arrow buffers: no Python string per row or per distinct id. Memory: the distinct
    ids' bytes and 8 more per distinct id, and a table of 8-byte slots at most half
    full.
    """

    def __init__(self) -> None:
        self.n = 0
        self.used = 0
        self.slots = np.full(1 << 10, -1, dtype=np.int64)
        self.records = np.empty(1 << 14, dtype=np.uint8)
        self.new_share = 1.0  # of the rows of the last batch: new ids (or more)

    def encode(self, strings: pa.Array, out: np.ndarray) -> None:
        """Write the codes of ``strings`` (string or large_string, no nulls) to ``out``.

        Batches of mostly known ids are looked up on threads first (:func:`_encode_rows`).
        """
        n_rows = len(strings)
        if not n_rows:
            return
        if strings.null_count:  # callers check ids first; a null here is a bug
            raise ValueError("expected text ids without nulls")
        _, offsets_buffer, data_buffer = strings.buffers()
        wide = pa.types.is_large_string(strings.type)
        # (Arrow's buffers may be longer than their values: read only those)
        offsets = np.frombuffer(
            offsets_buffer, dtype=np.int64 if wide else np.int32, count=strings.offset + n_rows + 1
        )[strings.offset :]
        if wide and int(np.diff(offsets).max()) > _MAX_ID_BYTES:
            raise SchemaError(
                f"expected text ids of at most {_MAX_ID_BYTES} bytes, found a longer one; "
                f"shorten the ids (a hash of each, say)"
            )
        data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else None
        if data is None:  # only empty strings
            data = np.empty(0, np.uint8)
        self._reserve(n_rows, int(offsets[-1] - offsets[0]))

        def run(mode: int, a: int, b: int) -> int:
            found, used = _kernels.encode_bytes(
                offsets[a : b + 1], data, self.slots, self.records, self.used, self.n,
                out[a:b], mode,
            )  # fmt: skip
            if mode == _kernels.LOOKUP_ONLY:
                return int(found)
            self.n, self.used = int(found), int(used)
            return self.n

        self.new_share = _encode_rows(n_rows, self.new_share, run, lambda: self.n)

    def _reserve(self, n_rows: int, n_bytes: int) -> None:
        """Room for ``n_rows`` more ids of ``n_bytes`` more bytes, the slots half full."""
        need = self.used + 8 * n_rows + n_bytes
        if need >= 1 << _kernels.SLOT_TAG_SHIFT:
            raise SchemaError(
                f"expected the distinct text ids to hold less than "
                f"{1 << _kernels.SLOT_TAG_SHIFT} bytes, got more; use integer ids"
            )
        if need > self.records.shape[0]:
            records = np.empty(max(need, 2 * self.records.shape[0]), dtype=np.uint8)
            records[: self.used] = self.records[: self.used]
            self.records = records
        if 2 * (self.n + n_rows) > self.slots.shape[0]:
            size = self.slots.shape[0]
            while size < 2 * (self.n + n_rows):
                size *= 2
            slots = np.full(size, -1, dtype=np.int64)
            _kernels.rehash(self.slots, self.records, slots)
            self.slots = slots

    def distinct(self) -> pa.Array:
        """The distinct ids as a string array, code ``c`` at position ``c``."""
        offsets = np.empty(self.n + 1, dtype=np.int64)
        data = np.empty(self.used - 8 * self.n, dtype=np.uint8)
        _kernels.record_strings(self.records, self.n, offsets, data)
        wide = data.shape[0] > _INT32_MAX
        return pa.Array.from_buffers(
            pa.large_string() if wide else pa.string(),
            self.n,
            [None, pa.py_buffer(offsets if wide else offsets.astype(np.int32)), pa.py_buffer(data)],
        )


class _IdCodes:
    """An id column dictionary-encoded while it is read: int32 codes, ids in first-seen order.

    Integer ids that fill most of their range go through a direct table (4 bytes per
    id of the range seen so far, grown as batches widen it), others through a hash
    table kernel (4-byte slots, at most half full); the direct table turns into the
    hash table if the ids turn out sparse. Once a text id appears every id is text,
    as :func:`read_scans` makes them, and a dict maps text to codes. Memory: 4 bytes
    per row and the distinct ids.
    """

    def __init__(self, capacity: int) -> None:
        self.codes = _Buffer(np.int32, capacity)
        self.kind: Literal["int", "text"] | None = None  # None: no id yet
        self.dense = True  # integer ids through `lookup` (else through `slots`)
        self.lookup = np.empty(0, dtype=np.int32)
        self.lo = 0
        self.rows = 0
        self.slots = np.empty(0, dtype=np.int32)
        self.ints = np.empty(1 << 11, dtype=np.int64)
        self.new_share = 1.0  # of the rows of the last hashed batch: new ids (or more)
        self.n_ints = 0
        self.text = _TextTable()

    def append(self, ids: pa.Array) -> None:
        if self.kind != "text" and pa.types.is_integer(ids.type):
            self.kind = "int"
            values = np.asarray(ids.to_numpy(), dtype=np.int64)
            self.encode_ints(values, self.codes.reserve(values.shape[0]))
            return
        if self.kind == "int":  # text from now on: the integer ids become text too
            as_text = pa.array(  # large_string: one array however long
                [str(v) for v in self.ints[: self.n_ints].tolist()], pa.large_string()
            )
            # distinct, in code order: each gets its code again
            self.text.encode(as_text, np.empty(self.n_ints, dtype=np.int32))
            self.slots = np.empty(0, dtype=np.int32)
            self.lookup = np.empty(0, dtype=np.int32)
            self.ints = np.empty(0, dtype=np.int64)
        self.kind = "text"
        typ = ids.type
        if pa.types.is_dictionary(typ):  # text ids as indices into their distinct values
            self._append_dictionary(ids)
            return
        wide = pa.types.is_large_string(typ)
        text = ids if pa.types.is_string(typ) or wide else ids.cast(pa.string())
        self.text.encode(text, self.codes.reserve(len(text)))

    def _append_dictionary(self, ids: pa.DictionaryArray) -> None:
        """Text ids given as a dictionary: its values used by some row are encoded, once.

        New ids then get their codes in the dictionary's order, not the rows' (callers
        that sort the ids afterwards, as a build does, see no difference). The
        indices must have no nulls, the values be ``string`` or ``large_string``.
        """
        indices = np.asarray(ids.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        values = ids.dictionary
        used = np.flatnonzero(np.bincount(indices, minlength=len(values)))
        lookup = np.full(len(values), -1, dtype=np.int32)
        if used.shape[0]:
            codes = np.empty(used.shape[0], dtype=np.int32)
            self.text.encode(values.take(pa.array(used)), codes)
            lookup[used] = codes
        np.take(lookup, indices, out=self.codes.reserve(indices.shape[0]))

    def encode_ints(self, values: np.ndarray, out: np.ndarray) -> None:
        """Write the codes of integer ``values`` to ``out`` (new ids get new codes)."""
        if not values.shape[0]:
            return
        need = self.n_ints + values.shape[0]
        if need > self.ints.shape[0]:
            grown = np.empty(max(need, 2 * self.ints.shape[0]), dtype=np.int64)
            grown[: self.n_ints] = self.ints[: self.n_ints]
            self.ints = grown
        self.rows += values.shape[0]
        done = 0
        while self.dense:
            if self.lookup.shape[0]:  # encode until an id outside the table
                n_ints, stop = _kernels.encode_dense(
                    values[done:], self.lo, self.lookup, self.ints, self.n_ints, out[done:]
                )
                self.n_ints, done = int(n_ints), done + int(stop)
                if done == values.shape[0]:
                    return
            # (only then the range of the rows left: ids seen before need no pass)
            rest = values[done:]
            self._widen(int(rest.min()), int(rest.max()))
        values, out = values[done:], out[done:]  # the rows left go through the hash table
        if 2 * need > self.slots.shape[0]:
            size = max(self.slots.shape[0], 1 << 12)
            while size < 2 * need:
                size *= 2
            self.slots = np.full(size, -1, dtype=np.int32)
            # re-inserting the distinct ids in code order gives each its code again
            _kernels.encode_int64(
                self.ints[: self.n_ints],
                self.slots,
                self.ints,
                0,
                np.empty(self.n_ints, dtype=np.int32),
                _kernels.ENCODE_ALL,
            )

        def run(mode: int, a: int, b: int) -> int:
            found = int(
                _kernels.encode_int64(
                    values[a:b], self.slots, self.ints, self.n_ints, out[a:b], mode
                )
            )
            if mode != _kernels.LOOKUP_ONLY:
                self.n_ints = found
            return found

        self.new_share = _encode_rows(values.shape[0], self.new_share, run, lambda: self.n_ints)

    def _widen(self, lo: int, hi: int) -> bool:
        """Make the direct table cover ``[lo, hi]``; False (hashing from now on) if too sparse."""
        if self.lookup.shape[0]:
            lo, hi = min(lo, self.lo), max(hi, self.lo + self.lookup.shape[0] - 1)
        span = hi - lo + 1
        if span > _DENSE_PER_ROW * self.rows + _DENSE_SLACK or span >= _INT32_MAX:
            self.dense = False
            self.lookup = np.empty(0, dtype=np.int32)
            return False
        old = self.lookup.shape[0]
        if span > old:
            # grow geometrically on the side(s) being extended (within the sparseness
            # cap), so ids that rise batch by batch do not copy the table every time
            cap = min(_DENSE_PER_ROW * self.rows + _DENSE_SLACK, _INT32_MAX - 1)
            extra = max(0, min(2 * old, cap) - span)
            if old and hi > self.lo + old - 1:
                hi = min(hi + extra, _INT64_MAX)
            elif old and lo < self.lo:
                lo = max(lo - extra, -_INT64_MAX - 1)
            grown = np.full(hi - lo + 1, -1, dtype=np.int32)
            at = self.lo - lo
            grown[at : at + old] = self.lookup
            self.lookup, self.lo = grown, lo
        return True

    def sorted_dense(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(ids ascending as int64, rank of each code)`` read off the direct table.

        None unless the ids are integers encoded through the direct table. Call
        before :meth:`distinct`, which releases the table.
        """
        if self.kind != "int" or not self.dense or not self.lookup.shape[0]:
            return None
        rank = np.empty(self.n_ints, dtype=np.int32)
        ids = np.empty(self.n_ints, dtype=np.int64)
        found = int(_kernels.dense_ranks(self.lookup, self.lo, rank, ids))
        assert found == self.n_ints, "the direct table holds every code once"
        return ids, rank

    def distinct(self) -> pa.Array:
        """The distinct ids, code ``c`` at position ``c``; the lookup tables are released."""
        self.slots = np.empty(0, dtype=np.int32)
        self.lookup = np.empty(0, dtype=np.int32)
        if self.kind == "int":
            ids = pa.array(self.ints[: self.n_ints])
            self.ints = np.empty(0, dtype=np.int64)
            return ids
        if self.kind == "text":
            ids = self.text.distinct()
            self.text = _TextTable()
            return ids
        return pa.array([], pa.string())  # no ids: as read_scans types an empty column


class _Seconds:
    """Times filled batch by batch as seconds after the first batch's earliest time.

    ``int32`` while every time is within 68 years of that origin, else ``int64``.
    """

    def __init__(self, capacity: int) -> None:
        self.origin: int | None = None
        self.buffer = _Buffer(np.int32, capacity)

    def append(self, seconds: np.ndarray) -> None:
        if not seconds.shape[0]:
            return
        if self.origin is None:
            self.origin = int(seconds.min())
        offsets = seconds - self.origin
        if self.buffer.data.dtype == np.int32 and (
            int(offsets.min()) < _INT32_MIN or int(offsets.max()) > _INT32_MAX
        ):
            wide = _Buffer(np.int64, self.buffer.data.shape[0])
            wide.append(self.buffer.take())
            self.buffer = wide
        self.buffer.append(offsets)


class _CodeAccumulator:
    """The accepted rows as codes: person, venue (int32), time offsets, direction (int8).

    Inputs are kept as runs of rows (one per batch), for the row accounting.
    """

    def __init__(self, capacity: int | None) -> None:
        expected = capacity or 0
        self.person = _IdCodes(expected)
        self.venue = _IdCodes(expected)
        self.seconds = _Seconds(expected)
        self.direction = _Buffer(np.int8, expected)
        self.runs: list[tuple[int, int]] = []  # (input, accepted rows) per batch
        self.size = 0

    def add(self, cleaned: _Cleaned, file_idx: int) -> None:
        rows = _accepted_rows(cleaned)
        if rows is None:
            return
        n = rows.seconds.shape[0]
        if self.size + n >= _INT32_MAX:
            raise _too_many_scans(self.size + n)
        self.person.append(rows.person)
        self.venue.append(rows.venue)
        self.seconds.append(rows.seconds)
        self.direction.append(rows.direction)
        self.runs.append((file_idx, n))
        self.size += n


@dataclass(frozen=True)
class _StayCodes:
    """Stays as codes, in time order, ready for ``VenueIndex._from_codes``."""

    persons: pa.Array  # the persons and venues that have stays, sorted
    venues: pa.Array
    person: np.ndarray  # int32 codes
    venue: np.ndarray
    start: np.ndarray  # seconds after `origin`, int32 or int64
    end: np.ndarray
    origin: int
    # (earliest start, latest end, longest stay) of start and end, when known: the
    # build then needs no pass to find them
    bounds: tuple[int, int, int] | None = None


def _stays_from_codes(
    acc: _CodeAccumulator,
    plan: _ReadPlan,
    *,
    dwell_s: int,
    venue_dwell: TableLike | Mapping[Any, DurationLike] | None,
    max_s: int,
    within_s: int,
    zone: str | None,
) -> tuple[_StayCodes, StaysReport, np.ndarray]:
    """The scans of ``acc`` → stays, the stays report and the duplicates per input.

    Each array is released as soon as its successor exists; ``acc`` is emptied.
    """
    # 1. the final codes: of the ids after aliases and pseudonyms, sorted
    person_ids = acc.person.distinct()
    if plan.aliases is not None:
        person_ids = _apply_aliases(pa.chunked_array([person_ids]), plan.aliases)
    if plan.key is not None:
        person_ids = pseudonymize(person_ids, plan.key)
    persons, person_map = encode_ids(_as_chunked_ids(person_ids))
    venues, venue_map = encode_ids(_as_chunked_ids(acc.venue.distinct()))
    person = _remapped(acc.person.codes.take(), person_map)
    venue = _remapped(acc.venue.codes.take(), venue_map)
    del person_map, venue_map
    seconds = acc.seconds.buffer.take()
    origin = acc.seconds.origin or 0
    direction = acc.direction.take()
    runs = acc.runs
    acc.runs = []
    n = int(seconds.shape[0])

    # 2. group by person (a stable int32 counting sort), each person in time order
    order = np.empty(n, dtype=np.int32)
    offsets = np.zeros(len(persons) + 1, dtype=np.int64)
    _kernels.counting_sort_into(person, order, offsets)
    del person
    _kernels.sort_groups_by_time(order, offsets, seconds, direction, venue)
    venue = _permuted(venue, order)
    seconds = _permuted(seconds, order)
    direction = _permuted(direction, order)

    # 3. exact duplicates (counted per input as read_scans counts them), then repeats
    run_input = np.array([f for f, _ in runs], dtype=np.int64)
    run_end = np.cumsum(np.array([size for _, size in runs], dtype=np.int64))
    tags = sorted({inp.source for inp in plan.inputs})
    run_rank = np.array([tags.index(plan.inputs[f].source) for f, _ in runs], dtype=np.int64)
    dup_per_input = np.zeros(len(plan.inputs), dtype=np.int64)
    n_kept, n_dup = _kernels.drop_repeated_scans(
        offsets, venue, seconds, direction, order, run_end, run_rank, run_input, within_s,
        dup_per_input,
    )  # fmt: skip
    del order
    n_kept, n_scans = int(n_kept), n - int(n_dup)

    # 4. stays, written over the scans they come from
    span_end = int(seconds[:n_kept].max()) + max_s if n_kept else 0
    fits = seconds.dtype == np.int32 and span_end <= _INT32_MAX
    rel = np.dtype(np.int32) if fits else np.dtype(np.int64)
    start = seconds if seconds.dtype == rel else np.empty(n_kept, dtype=rel)
    end = np.empty(n_kept, dtype=rel)
    stay_person = np.empty(n_kept, dtype=np.int32)
    counts = _pair_and_merge(
        offsets,
        venue,
        seconds,
        direction,
        origin,
        dwell_of_venue=_dwell_by_venue(venues, dwell_s, venue_dwell),
        max_s=max_s,
        zone=zone,
        out=(stay_person, venue, start, end),
    )
    del seconds, direction, offsets
    n_stays = counts.stays
    stay_person = _shrunk(stay_person, n_stays)
    venue = _shrunk(venue, n_stays)
    start = _shrunk(start, n_stays)
    end = _shrunk(end, n_stays)

    # 5. codes of the persons and venues that have stays (as the index would encode
    # them), and time order (stable: the index keeps ties in this order)
    persons, stay_person = _used_codes(persons, stay_person)
    venues, venue = _used_codes(venues, venue)
    if n_stays > 1 and not _is_sorted(start):
        by_time = np.empty(n_stays, dtype=np.int32)
        _kernels.radix_order(start, int(start.min()), by_time, np.empty(n_stays, dtype=np.int32))
        stay_person = _permuted(stay_person, by_time)
        venue = _permuted(venue, by_time)
        start = _permuted(start, by_time)
        end = _permuted(end, by_time)
        del by_time

    n_exits = counts.exits
    report = StaysReport(
        scans=n_scans,
        repeats=n_scans - n_kept,
        entries=n_kept - n_exits,
        exits=n_exits,
        stays=n_stays,
        merged=counts.merged,
        closed_by={rule: int(c) for rule, c in zip(CLOSED_BY, counts.closed_by, strict=True)},
        exits_paired=counts.exits_paired,
        exits_without_entry=n_exits - counts.exits_paired,
    )
    stays = _StayCodes(persons, venues, stay_person, venue, start, end, origin)
    return stays, report, dup_per_input


@dataclass(frozen=True)
class _PairCounts:
    stays: int
    merged: int
    exits: int
    exits_paired: int
    closed_by: np.ndarray


def _pair_and_merge(
    offsets: np.ndarray,
    venue: np.ndarray,
    seconds: np.ndarray,
    direction: np.ndarray,
    origin: int,
    *,
    dwell_of_venue: np.ndarray,
    max_s: int,
    zone: str | None,
    out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> _PairCounts:
    """Pair and merge the scans of whole persons a slice at a time, as scans_to_stays does.

    The kept stays are written to ``out`` (person, venue, start, end; times relative
    to ``origin``) from position 0. A slice's scans are copied to slice-sized int64
    temporaries first, and a slice never makes more stays than it has scans, so
    ``out`` may be the ``venue`` and ``seconds`` arrays themselves.
    """
    out_person, out_venue, out_start, out_end = out
    n_out = n_merged = n_exits = n_paired = 0
    closed_by = np.zeros(len(CLOSED_BY), dtype=np.int64)
    for g0, g1 in _group_slices(offsets, _LEAN_SLICE):
        lo, hi = int(offsets[g0]), int(offsets[g1])
        person = np.repeat(np.arange(g0, g1, dtype=np.int32), np.diff(offsets[g0 : g1 + 1]))
        v = np.array(venue[lo:hi])
        t = seconds[lo:hi].astype(np.int64) + origin
        d = direction[lo:hi]
        m = hi - lo
        entry = np.empty(m, dtype=np.int64)
        s_end = np.empty(m, dtype=np.int64)
        s_closed = np.empty(m, dtype=np.int8)
        exit_used = np.zeros(m, dtype=np.bool_)
        written = int(
            _kernels.pair_scans(
                person,
                v,
                t,
                d,
                np.ascontiguousarray(dwell_of_venue[v]),
                next_midnight(t, zone),
                max_s,
                entry,
                s_end,
                s_closed,
                exit_used,
            )
        )
        n_exits += int(np.count_nonzero(d))
        n_paired += int(np.count_nonzero(exit_used))
        entry = entry[:written]
        s_person, s_venue, s_start = person[entry], v[entry], t[entry]
        s_end, s_closed = s_end[:written], s_closed[:written]
        keep = np.empty(written, dtype=np.bool_)
        n_merged += int(
            _kernels.merge_stays(s_person, s_venue, s_start, s_end, s_closed, max_s, keep)
        )
        k = int(np.count_nonzero(keep))
        where = slice(n_out, n_out + k)
        out_person[where] = s_person[keep]
        out_venue[where] = s_venue[keep]
        out_start[where] = s_start[keep] - origin
        out_end[where] = s_end[keep] - origin
        closed_by += np.bincount(s_closed[keep], minlength=len(CLOSED_BY))
        n_out += k
    return _PairCounts(n_out, n_merged, n_exits, n_paired, closed_by)


def _group_slices(offsets: np.ndarray, size: int) -> Iterator[tuple[int, int]]:
    """``(g0, g1)`` ranges of groups (``offsets`` bound them) of about ``size`` rows each."""
    n_groups = offsets.shape[0] - 1
    g = 0
    while g < n_groups:
        last = int(np.searchsorted(offsets, offsets[g] + size, side="right")) - 1
        g1 = min(max(last, g + 1), n_groups)
        yield g, g1
        g = g1


def _as_chunked_ids(ids: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return ids if isinstance(ids, pa.ChunkedArray) else pa.chunked_array([ids], ids.type)


def _remapped(codes: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """``lookup[codes]``, written over ``codes`` piece by piece."""
    for start in range(0, codes.shape[0], _PIECE):
        piece = codes[start : start + _PIECE]
        piece[:] = lookup[piece]
    return codes


def _used_codes(ids: pa.Array, codes: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Only the ids that occur in ``codes``, and the codes renumbered (in place) to them."""
    used = np.zeros(len(ids), dtype=np.bool_)
    for start in range(0, codes.shape[0], _PIECE):
        used[codes[start : start + _PIECE]] = True
    if used.all():
        return ids, codes
    rank = (np.cumsum(used, dtype=np.int64) - 1).astype(np.int32)
    return ids.filter(pa.array(used)), _remapped(codes, rank)


def _is_sorted(values: np.ndarray) -> bool:
    """Whether ``values`` never decrease (piecewise: no full-size temporary)."""
    for start in range(1, values.shape[0], _PIECE):
        a = values[start - 1 : start - 1 + _PIECE]
        b = values[start : start + _PIECE]
        if bool(np.any(b < a[: b.shape[0]])):
            return False
    return True


def _shrunk(values: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` values, the memory past them given back where possible."""
    if values.shape[0] == n:
        return values
    if values.flags.owndata and values.base is None:
        values.resize(n, refcheck=False)  # realloc: shrinks in place, frees the tail
        return values
    return values[:n].copy()
