"""Small, capped and escaped HTML for notebook reprs (``_repr_html_``).

Ids are user data: every value goes through :func:`html.escape`. Tables are capped
at :data:`MAX_ROWS` rows, so rendering a result of a million rows costs the same as
rendering ten. Nothing here raises on odd values: reprs must never fail.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

__all__ = ["MAX_ROWS", "arrow_table", "definition_list", "escape", "fallback", "table"]

escape = html.escape

#: Rows shown by any HTML table.
MAX_ROWS = 10

_STYLE = "border-collapse:collapse;font-size:90%;margin:4px 0"
_CELL = "padding:1px 8px;text-align:left;border-bottom:1px solid #ddd"


def _text(value: Any) -> str:
    if value is None:
        return "<i>null</i>"
    return html.escape(str(value))


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str = "") -> str:
    """An HTML table of at most :data:`MAX_ROWS` rows, every cell escaped.

    Examples
    --------
    >>> table(["id"], [["<b>x</b>"]])
    '<table ...&lt;b&gt;x&lt;/b&gt;...'
    """
    head = "".join(f'<th style="{_CELL}">{_text(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{_text(v)}</td>' for v in row) + "</tr>"
        for row in rows[:MAX_ROWS]
    )
    cap = f"<caption style='text-align:left'>{_text(caption)}</caption>" if caption else ""
    return f'<table style="{_STYLE}">{cap}<tr>{head}</tr>{body}</table>'


def arrow_table(data: pa.Table, *, caption: str = "") -> str:
    """The first :data:`MAX_ROWS` rows of an Arrow table, with a row count note.

    Examples
    --------
    >>> import pyarrow as pa
    >>> late = pa.array([253_402_300_799], pa.timestamp("s", tz="Asia/Tokyo"))
    >>> "10000-01-01 08:59:59" in arrow_table(pa.table({"until": late}))
    True
    """
    shown = data.slice(0, MAX_ROWS)
    columns = [_values(column) for column in shown.columns]
    rows = [[values[i] for values in columns] for i in range(shown.num_rows)]
    more = data.num_rows - shown.num_rows
    note = f"<div style='color:#666'>… {more:,} more rows</div>" if more > 0 else ""
    return table(data.column_names, rows, caption=caption) + note


def _values(column: pa.ChunkedArray) -> list[Any]:
    """A column's values as Python objects, or as Arrow's text where Python has none.

    (A time in the year 10000, such as 9999-12-31 23:59:59Z shown in a zone east of
    UTC, has no Python datetime: the whole repr would otherwise fail.)
    """
    try:
        values: list[Any] = column.to_pylist()
    except Exception:  # (OverflowError, ValueError, ...: a repr must never fail)
        try:
            values = column.cast(pa.string()).to_pylist()
        except Exception:
            values = ["?"] * len(column)
    return values


def definition_list(title: str, items: Sequence[tuple[str, Any]]) -> str:
    """A title and ``name: value`` lines."""
    lines = "".join(
        f"<tr><th style='{_CELL}'>{_text(k)}</th><td style='{_CELL}'>{_text(v)}</td></tr>"
        for k, v in items
    )
    return f"<div><b>{_text(title)}</b><table style='{_STYLE}'>{lines}</table></div>"


def fallback(obj: Any) -> str:
    """What a ``_repr_html_`` that failed shows instead: the object's ``repr`` in ``<pre>``.

    (``object.__repr__``, "... object at 0x...", only if the ``repr`` fails too.)
    """
    try:
        text = repr(obj)
    except Exception:
        text = object.__repr__(obj)
    return f"<pre>{escape(text)}</pre>"
