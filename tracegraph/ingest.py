"""Tables of stays → clean, canonical stays (int32 codes, int64 epoch seconds).

This is the first step of the flow: everything that reads user data validates it
here, so that later steps (:mod:`tracegraph.index`, :mod:`tracegraph.exposure`) and
the kernels only ever see canonical arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracegraph._time import to_seconds
from tracegraph._typing import TableLike
from tracegraph.errors import SchemaError

__all__ = ["STAY_COLUMNS", "Stays", "as_arrow_table", "clean_stays", "encode_ids"]

#: The columns a table of stays must have.
STAY_COLUMNS = ("person", "venue", "start", "end")

_INT32_MAX = int(np.iinfo(np.int32).max)


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
    table = as_arrow_table(stays, "stays")
    require_columns(table, STAY_COLUMNS, "stays")
    person_col = check_id_column(table.column("person"), "person", "stays")
    venue_col = check_id_column(table.column("venue"), "venue", "stays")
    start = to_seconds(table.column("start"), "start", tz)
    end = to_seconds(table.column("end"), "end", tz)
    bad = np.flatnonzero(end < start)
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


def as_arrow_table(data: TableLike, what: str) -> pa.Table:
    """Return ``data`` as a ``pyarrow.Table`` (pandas, polars: no copies where possible).

    Parameters
    ----------
    data : pyarrow.Table, pyarrow.RecordBatch, pandas.DataFrame or polars.DataFrame
        Anything tabular that speaks Arrow (the Arrow PyCapsule stream interface).
    what : str
        What the table is, for error messages (``"stays"``, ``"cases"``).

    Returns
    -------
    pyarrow.Table
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars" and hasattr(data, "to_arrow"):
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise SchemaError(
        f"{what}: expected a pyarrow.Table, pandas.DataFrame or polars.DataFrame, "
        f"got {type(data).__name__}"
    )


def require_columns(table: pa.Table, names: tuple[str, ...], what: str) -> None:
    missing = [name for name in names if name not in table.column_names]
    if missing:
        raise SchemaError(
            f"{what}: column `{missing[0]}` not found; expected columns {list(names)}, "
            f"available: {table.column_names}"
        )


def check_id_column(column: pa.ChunkedArray, name: str, what: str) -> pa.ChunkedArray:
    typ = column.type
    if pa.types.is_dictionary(typ):
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
    return column


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


def _encode_dense_ints(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray] | None:
    """Encode integer ids that fill most of their range with a bitmap (O(n), no hashing).

    Returns ``None`` when the ids are too sparse for that (then hashing is used).
    """
    values = column.to_numpy()
    lo = int(values.min())
    hi = int(values.max())
    span = hi - lo + 1
    if span > 2 * values.shape[0] + 1024 or span >= 2**31:
        return None
    offset = values - lo if lo else values
    present = np.zeros(span, dtype=np.bool_)
    present[offset] = True
    lookup = np.cumsum(present, dtype=np.int32) - 1
    ids = pa.array(np.flatnonzero(present) + lo, type=column.type)
    return ids, lookup[offset]
