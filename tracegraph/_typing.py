"""Type aliases shared by the public modules (one place, as in polars' ``_typing``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

#: A duration: ``datetime.timedelta``, ``numpy.timedelta64``, a string such as
#: ``"15min"``, ``"2h"``, ``"90s"``, ``"1d"`` or ``"1h30min"``, or an ``int`` number of seconds.
DurationLike: TypeAlias = "dt.timedelta | np.timedelta64 | str | int"

#: What :func:`tracegraph.trace` does with a case id that is not in the index.
UnknownCases: TypeAlias = Literal["raise", "keep", "drop"]
#: ``trace(cumulative=)``: no sum, summed over the tier's sources, or per source.
Cumulative: TypeAlias = bool | Literal["per_source"]

#: How a stay matches a query interval (see :data:`tracegraph.index.MATCH_RULES`):
#: ``"half-open"`` (overlap > 0), ``"closed"`` (the closed intervals share an instant),
#: ``"arrival"`` (the stay's arrival lies strictly inside the query).
MatchRule: TypeAlias = Literal["half-open", "closed", "arrival"]

#: Anything table-like tracegraph accepts: a ``pyarrow.Table`` or ``RecordBatch``, a
#: pandas or polars ``DataFrame`` (converted to Arrow, without copies where possible).
TableLike: TypeAlias = Any

I32: TypeAlias = npt.NDArray[np.int32]
I64: TypeAlias = npt.NDArray[np.int64]
