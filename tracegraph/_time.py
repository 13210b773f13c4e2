"""Durations and timestamps at tracegraph's one-second resolution.

Internally every time is an ``int64`` count of whole seconds since the Unix epoch
(1970-01-01T00:00:00Z) and every duration an ``int64`` count of seconds.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracegraph._typing import DurationLike
from tracegraph.errors import ArgumentError, DurationError, SchemaError, TimezoneError

__all__ = ["FAR_FUTURE", "FAR_PAST", "duration_seconds", "seconds_to_timestamp", "to_seconds"]

#: Sentinels for "no bound"; far enough from int64 limits that adding a few
#: durations can never overflow, far beyond any real timestamp (year ~146 billion).
FAR_PAST = -(2**62)
FAR_FUTURE = 2**62
#: Longest accepted duration (about 1,000 years) and the accepted range of times (years
#: 1 to 9999): sums of a time and a few durations then stay far from the sentinels and
#: from int64 limits, and every time converts to a Python datetime.
MAX_DURATION = 1000 * 366 * 86_400
MIN_TIME = -62_135_596_800  # 0001-01-01T00:00:00Z
MAX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z
_FAR_SECONDS = 2**62  # int seconds given as instants are clipped to +- this
_DAY = 86_400

_UNITS = {
    "d": 86_400,
    "day": 86_400,
    "days": 86_400,
    "h": 3_600,
    "hr": 3_600,
    "hour": 3_600,
    "hours": 3_600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]+)")
_UNIT_PER_S = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def duration_seconds(value: DurationLike | None, name: str, *, allow_none: bool = False) -> int:
    """Convert a duration argument to a non-negative whole number of seconds.

    Parameters
    ----------
    value : timedelta, numpy.timedelta64, str or int
        The duration. Strings combine a number and a unit (``d``, ``h``, ``min``,
        ``s`` and their long forms), possibly several: ``"1h30min"``. A bare
        ``int`` is a number of seconds.
    name : str
        The argument's name, used in error messages.
    allow_none : bool
        Whether ``None`` is accepted (the caller then handles it).

    Returns
    -------
    int
        Whole seconds; ``-1`` when ``value`` is ``None`` and ``allow_none``.

    Raises
    ------
    DurationError
        If the value cannot be parsed, is negative, or is not a whole number of seconds.

    Examples
    --------
    >>> duration_seconds("15min", "min_overlap")
    900
    >>> duration_seconds("1h30min", "linger")
    5400
    >>> import datetime as dt
    >>> duration_seconds(dt.timedelta(hours=2), "latency")
    7200
    """
    if value is None:
        if allow_none:
            return -1
        raise DurationError(f"`{name}`: expected a duration, got None")
    seconds: float | int | Fraction
    if isinstance(value, bool):
        raise DurationError(f"`{name}`: expected a duration, got a bool ({value!r})")
    # a pandas Timedelta counts in its own unit (to ns): as its numpy.timedelta64
    exact: Any = getattr(value, "asm8", value) if isinstance(value, dt.timedelta) else value
    if isinstance(exact, dt.timedelta):  # (exact, no float: in microseconds)
        seconds = Fraction(exact // dt.timedelta(microseconds=1), 10**6)
    elif isinstance(exact, np.timedelta64):
        if np.isnat(exact):
            raise DurationError(f"`{name}`: expected a duration, got NaT")
        unit, step = np.datetime_data(exact.dtype)
        if unit not in _TIMEDELTA_SECONDS:  # years, months: no fixed length; no unit
            raise DurationError(
                f"`{name}`: expected a numpy.timedelta64 in a unit of fixed length (weeks to "
                f"attoseconds), got {value!r}; give it in days or seconds"
            )
        # exact (a float would round nanoseconds away)
        seconds = Fraction(int(exact.astype(np.int64)) * step) * _TIMEDELTA_SECONDS[unit]
    elif isinstance(value, int | np.integer):
        seconds = int(value)
    elif isinstance(value, str):
        seconds = _parse_duration_string(value, name)
    else:
        raise DurationError(
            f"`{name}`: expected a timedelta, numpy.timedelta64, str like '15min' or int "
            f"seconds, got {type(value).__name__}"
        )
    if seconds < 0:
        raise DurationError(f"`{name}`: expected a non-negative duration, got {value!r}")
    if seconds > MAX_DURATION:
        raise DurationError(
            f"`{name}`: expected at most {MAX_DURATION} s (about 1,000 years), got {value!r}"
            + ("; pass None for no end" if name == "infectious_for" else "")
        )
    if seconds != int(seconds):
        raise DurationError(
            f"`{name}`: expected whole seconds (tracegraph works at one-second resolution), "
            f"got {value!r}"
        )
    return int(seconds)


#: Seconds per unit of a ``numpy.timedelta64`` (years and months have no fixed length).
_TIMEDELTA_SECONDS = {
    "W": Fraction(604_800),
    "D": Fraction(86_400),
    "h": Fraction(3_600),
    "m": Fraction(60),
    "s": Fraction(1),
    **{
        unit: Fraction(1, 10 ** (3 * k))
        for k, unit in enumerate(("ms", "us", "ns", "ps", "fs", "as"), 1)
    },
}


def _parse_duration_string(text: str, name: str) -> Fraction:
    """Seconds of a string like ``'1h30min'``, exactly: ``'1.1h'`` is 3960 s."""
    stripped = text.strip()
    if stripped.startswith("-"):
        raise DurationError(f"`{name}`: expected a non-negative duration, got {text!r}")
    pos = 0
    total = Fraction(0)
    matched = False
    for match in _PART.finditer(stripped):
        if match.start() != pos:
            break
        unit = match.group(2).lower()
        if unit not in _UNITS:
            raise DurationError(
                f"`{name}`: unknown unit {match.group(2)!r} in {text!r}; "
                f"expected one of d, h, min, s (e.g. '15min', '2h', '1h30min')"
            )
        total += Fraction(match.group(1)) * _UNITS[unit]
        pos = match.end()
        matched = True
    if not matched or pos != len(stripped):
        raise DurationError(
            f"`{name}`: expected a duration like '15min', '2h', '90s' or '1h30min', got {text!r}"
        )
    return total


def to_seconds(
    column: pa.ChunkedArray | pa.Array, name: str, tz: str | None, what: str = ""
) -> np.ndarray:
    """Convert a timestamp column to int64 seconds since the epoch, floored.

    Parameters
    ----------
    column : pyarrow array
        A timestamp column of any unit. Zone-aware columns are exact instants.
        Naive columns need ``tz``: their wall-clock times are read in that zone.
    name : str
        The column's name, for error messages.
    tz : str or None
        The zone to read naive timestamps in (``"UTC"``, ``"Asia/Ho_Chi_Minh"``).
    what : str, optional
        The table the column is of (``"stays"``), for error messages.

    Returns
    -------
    numpy.ndarray
        ``int64`` seconds since 1970-01-01T00:00:00Z.
    """
    column = undictionary(column)
    typ = column.type
    label = f"{what}: column `{name}`" if what else f"column `{name}`"
    require_timestamp(typ, label)
    if column.null_count:
        null = column.is_null()
        if isinstance(null, pa.ChunkedArray):
            null = null.combine_chunks()
        first = int(np.flatnonzero(null.to_numpy(zero_copy_only=False))[0])
        raise SchemaError(
            f"{label}: expected no nulls, found {column.null_count} (first at row {first}); "
            f"drop or fill those rows first"
        )
    column = in_zone(column, label, tz)
    typ = column.type  # naive times come back in seconds
    raw = column.cast(pa.int64())
    if isinstance(raw, pa.ChunkedArray):
        values = raw.to_numpy() if raw.num_chunks else np.empty(0, np.int64)
    else:
        values = raw.to_numpy(zero_copy_only=False)
    per_s = _UNIT_PER_S[typ.unit]
    seconds: np.ndarray = np.ascontiguousarray(values, dtype=np.int64)
    if per_s != 1:
        seconds = np.floor_divide(seconds, per_s)
    if seconds.size and (seconds.min() < MIN_TIME or seconds.max() > MAX_TIME):
        bad = int(np.flatnonzero((seconds < MIN_TIME) | (seconds > MAX_TIME))[0])
        raise SchemaError(
            f"{label}: expected times between the years 1 and 9999, found one out of "
            f"range (first at row {bad})"
        )
    return seconds


def ends_before_start(start_s: np.ndarray, end_s: np.ndarray, start: Any, end: Any) -> np.ndarray:
    """Which stays end before they start, exactly, whatever the columns' units and zones.

    ``start_s``/``end_s`` are the times as floored whole seconds (instants, or any
    offset common to both); ``start``/``end`` the timestamp columns as given (Arrow
    arrays or chunked arrays without nulls), whose parts below a second decide between
    equal seconds: 1.7 s to 1.5 s ends before it starts, though both floor to 1 s.
    (Zone offsets are whole seconds, so a zone changes the seconds, not the fractions.)
    Null entries count by their seconds alone (those of an open window's end).
    """
    backwards: np.ndarray = end_s < start_s
    per_start, per_end = _per_second(start), _per_second(end)
    if per_start == per_end == 1:
        return backwards
    same = np.flatnonzero(end_s == start_s)  # only these need the fractions
    if same.size:
        rows = pa.array(same)
        frac_start = np.mod(int_values(pc.take(start, rows)), per_start) if per_start > 1 else 0
        frac_end = np.mod(int_values(pc.take(end, rows)), per_end) if per_end > 1 else 0
        # frac_end / per_end < frac_start / per_start, in integers (each factor < 10**9)
        backwards[same] = frac_end * per_start < frac_start * per_end
    return backwards


def _per_second(column: Any) -> int:
    """Units per second of a timestamp column; 1 for a column of nulls only (no type)."""
    return _UNIT_PER_S[column.type.unit] if pa.types.is_timestamp(column.type) else 1


def int_values(array: Any) -> np.ndarray:
    """An integer or timestamp (chunked) array's values as int64 numpy (its unit; nulls 0)."""
    values = pc.fill_null(array.cast(pa.int64()), 0)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)


def utc_to_local(seconds: np.ndarray, tz: str) -> np.ndarray:
    """Epoch ``seconds`` as zone ``tz``'s wall-clock times (as seconds of a UTC clock).

    The inverse of :func:`local_to_utc`, away from its gaps and folds.
    """
    return int_values(pc.local_timestamp(pa.array(seconds, pa.timestamp("s", tz=tz))))


def local_days(seconds: np.ndarray, tz: str) -> np.ndarray:
    """The days (counted from 1970-01-01 in ``tz``) of epoch ``seconds``, as ``tz``'s clocks say."""
    days: np.ndarray = (seconds if tz == "UTC" else utc_to_local(seconds, tz)) // _DAY
    return days


def next_midnight(seconds: np.ndarray, zone: str | None) -> np.ndarray:
    """The first instant of the next local day after each time (far future without a zone).

    That is the next local midnight, or, where clocks skip midnight (in zones that
    change to summer time at 00:00), the instant they skip it at; where midnight
    happens twice, the first. (Arrow's ``ceil_temporal`` raises on both.) Never after
    the end of the year 9999, where tracegraph's calendar ends: a stay cut there ends
    within it (its ``closed_by`` says midnight).
    """
    if zone is None:
        return np.full(seconds.shape[0], MAX_TIME, dtype=np.int64)
    last = seconds
    seconds = np.minimum(seconds, MAX_TIME - _DAY)  # (a day's room for the zone's rules)
    wall = utc_to_local(seconds, zone)
    day = (np.floor_divide(wall, _DAY) + 1) * _DAY  # the next day's 00:00, wall clock
    midnight = day_starts(day, zone)
    behind = np.flatnonzero(midnight <= seconds)  # (clocks went back over that midnight)
    if behind.size:  # a midnight that happens twice: the second, if the time is between
        again = pc.assume_timezone(
            pa.array(day[behind], pa.timestamp("s")), timezone=zone, ambiguous="latest",
            nonexistent="latest",
        )  # fmt: skip
        late = int_values(again)
        later = late > seconds[behind]
        midnight[behind[later]] = late[later]
        behind = behind[~later]
    while behind.size:
        day[behind] += _DAY
        midnight[behind] = day_starts(day[behind], zone)
        behind = behind[midnight[behind] <= seconds[behind]]
    return np.where(midnight > last, np.minimum(midnight, MAX_TIME), MAX_TIME)


def day_starts(midnights: np.ndarray, zone: str) -> np.ndarray:
    """The first instant of each day, given as its 00:00 on the wall clock (seconds).

    Local midnight; where clocks pass it twice, the first time; where they skip it,
    the instant they jump at, whether the jump starts at midnight (00:00 to 01:00,
    Havana) or before it (23:30 to 00:30, Toronto in 1919: the day began at the
    jump, not at the instant 00:00 of the old offset, which the clocks showed as
    01:00).
    """
    wall = pa.array(midnights, pa.timestamp("s"))
    try:  # the common case: no midnight in a gap (one call)
        exact = pc.assume_timezone(wall, timezone=zone, ambiguous="earliest", nonexistent="raise")
        return np.array(int_values(exact))  # (a copy: callers write to it)
    except pa.ArrowInvalid:
        pass
    early = pc.assume_timezone(wall, timezone=zone, ambiguous="earliest", nonexistent="earliest")
    late = pc.assume_timezone(wall, timezone=zone, ambiguous="earliest", nonexistent="latest")
    first, after = int_values(early), int_values(late)
    # in a gap `early` is the last second before the jump: the day begins one later
    return np.where(first != after, first + 1, first)


def day_start(day: dt.date, zone: str) -> int:
    """The first instant of one calendar ``day`` in ``zone`` (see :func:`day_starts`)."""
    wall = (day - dt.date(1970, 1, 1)).days * _DAY
    return int(day_starts(np.array([wall], dtype=np.int64), zone)[0])


def undictionary(column: Any) -> Any:
    """A dictionary column of timestamps (a pandas categorical of times) as its timestamps."""
    typ = column.type
    if pa.types.is_dictionary(typ) and pa.types.is_timestamp(typ.value_type):
        return column.cast(typ.value_type)
    return column


def require_timestamp(typ: pa.DataType, label: str) -> None:
    """A :class:`SchemaError` unless ``typ`` is a timestamp (``label``: "column `start`")."""
    if not pa.types.is_timestamp(typ):
        raise SchemaError(
            f"{label}: expected a timestamp type, got {typ}; convert it, e.g. "
            f"pyarrow.compute.strptime(...) or pandas.to_datetime(..., utc=True)"
        )


def in_zone(column: Any, label: str, tz: str | None) -> Any:
    """Timestamps as exact instants: naive ones read in ``tz``, which they then need.

    Zone-aware columns are returned as they are. Naive ones are floored to whole
    seconds (tracegraph's resolution; in seconds no wall-clock time near the ends of
    a nanosecond column overflows when its zone's offset is applied) and read as
    wall-clock times in ``tz`` by :func:`local_to_utc`: ``timestamp[s, tz=UTC]``.
    """
    typ = column.type
    if typ.tz is not None:
        return column
    if tz is None:
        raise TimezoneError(
            f"{label}: expected zone-aware timestamps, got naive {typ}; "
            f"pass tz='UTC' (or the zone the times were recorded in, e.g. "
            f"tz='Asia/Ho_Chi_Minh')"
        )
    check_zone(tz)
    raw = pc.fill_null(column.cast(pa.int64()), 0)
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks() if raw.num_chunks else pa.array([], pa.int64())
    values = np.asarray(raw.to_numpy(zero_copy_only=False), dtype=np.int64)
    local = np.floor_divide(values, _UNIT_PER_S[typ.unit])
    mask = None
    if column.null_count:
        null = pc.is_null(column)
        if isinstance(null, pa.ChunkedArray):
            null = null.combine_chunks()
        mask = np.asarray(null.to_numpy(zero_copy_only=False), dtype=np.bool_)
    utc = local_to_utc(local, tz)
    return pa.array(utc, type=pa.timestamp("s", tz="UTC"), mask=mask)


def _name_hint(tz: Any) -> str:
    """``"; pass its name, 'Asia/Ho_Chi_Minh'"`` for a zone object that knows its name."""
    key = getattr(tz, "key", None)  # a zoneinfo.ZoneInfo knows its name
    return f"; pass its name, {key!r}" if isinstance(key, str) else ""


def check_zone_name(tz: Any, name: str) -> None:
    """An :class:`ArgumentError` unless ``tz`` is a str, then :func:`check_zone`."""
    if not isinstance(tz, str):
        raise ArgumentError(
            f"`{name}`: expected a zone name, got {type(tz).__name__}{_name_hint(tz)}"
        )
    check_zone(tz, name)


def read_zone(tz: Any, name: str = "tz") -> dt.tzinfo:
    """``tz`` checked (:func:`check_zone`) and read by :func:`zone_info`, for local dates.

    :class:`TimezoneError` for anything else than a zone name or fixed offset both
    Arrow and Python read (a zone object is told to pass its name).
    """
    if not isinstance(tz, str):
        raise TimezoneError(
            f"`{name}`: expected a zone name such as 'Asia/Ho_Chi_Minh' or a fixed offset such "
            f"as '+07:00', got {type(tz).__name__}{_name_hint(tz)}"
        )
    check_zone(tz, name)
    try:
        return zone_info(tz)
    except (KeyError, ValueError, OSError):  # (a zone Arrow knows and Python does not)
        raise TimezoneError(
            f"`{name}`: expected a zone name Python's zoneinfo also knows, got {tz!r}; pass "
            f"another name of that zone, or install the tzdata package"
        ) from None


def check_zone(tz: str, name: str = "tz") -> None:
    """A :class:`TimezoneError` unless ``tz`` is a zone Arrow knows (``name``: the argument)."""
    try:
        pc.assume_timezone(pa.array([0], pa.timestamp("s")), timezone=tz)
        # (and times in it become Python datetimes: Arrow's compute takes "+0700",
        # its conversion to Python only "+07:00")
        pa.scalar(0, pa.timestamp("s", tz=tz)).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError) as exc:
        hint = _zone_hint(tz)
        raise TimezoneError(
            f"`{name}`: expected a valid IANA zone name or a fixed offset such as "
            f"'+07:00', got {tz!r}" + (f"; did you mean {hint!r}?" if hint else "")
        ) from exc


#: Zone names people write that the IANA database does not have.
_ZONE_ALIASES = {"asia/hanoi": "Asia/Ho_Chi_Minh", "asia/hcmc": "Asia/Ho_Chi_Minh"}


def _zone_hint(tz: Any) -> str | None:
    """The zone ``tz`` most likely meant, if that is another name and a zone this reads.

    The same name in other case, ``"+07:00"`` for ``"+0700"``, or a known alias.
    """
    if not isinstance(tz, str):
        return None
    key = tz.strip().lower()
    fixed = re.fullmatch(r"([+-][0-9]{2})([0-9]{2})", key)
    if key in _ZONE_ALIASES:
        candidate: str | None = _ZONE_ALIASES[key]
    elif fixed:
        candidate = f"{fixed.group(1)}:{fixed.group(2)}"
    else:
        try:
            names = zoneinfo.available_timezones() | {"UTC"}
        except Exception:  # (no zone database to look in)
            return None
        same = sorted(n for n in names if n.lower() == key and n != tz)
        candidate = same[0] if same else None
    if candidate is None or candidate == tz:
        return None
    try:
        check_zone(candidate)  # ("Factory" is in Python's list, not Arrow's)
    except TimezoneError:
        return None
    return candidate


def local_to_utc(local: np.ndarray, tz: str) -> np.ndarray:
    """Wall-clock times in zone ``tz`` (int64 seconds, as if UTC) as epoch seconds.

    A time the clocks pass twice (the hour after clocks go back) is its earlier
    instant; a time the clocks skip (the hour clocks go forward over) is read with
    the offset before the change, as Python's ``datetime`` does (``fold=0``):
    02:10 on a night clocks go from 02:00 to 03:00 is 01:10 in the zone's old
    offset, so a stay from 02:10 to 02:40 keeps its 30 minutes (Arrow's
    ``nonexistent="earliest"`` alone would move both ends to 01:59:59).
    """
    wall = pa.array(local, pa.timestamp("s"))
    try:  # the common case: no time in a gap
        exact = pc.assume_timezone(wall, timezone=tz, ambiguous="earliest", nonexistent="raise")
        return np.array(exact.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    except pa.ArrowInvalid:
        pass
    early = pc.assume_timezone(wall, timezone=tz, ambiguous="earliest", nonexistent="earliest")
    late = pc.assume_timezone(wall, timezone=tz, ambiguous="earliest", nonexistent="latest")
    utc = np.array(early.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    gap = utc != late.cast(pa.int64()).to_numpy(zero_copy_only=False)
    # `early` of a skipped time is the last second before the change: its wall-clock
    # time minus itself is the offset before the change
    before = early.filter(pa.array(gap))
    offset = pc.local_timestamp(before).cast(pa.int64()).to_numpy(zero_copy_only=False) - (
        before.cast(pa.int64()).to_numpy(zero_copy_only=False)
    )
    utc[gap] = local[gap] - offset
    return utc


def format_duration(seconds: int) -> str:
    """Short human form of a duration: ``format_duration(5400) == "1h30min"``.

    Examples
    --------
    >>> format_duration(5400), format_duration(86400), format_duration(0)
    ('1h30min', '1d', '0s')
    """
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def format_bytes(n: int) -> str:
    """Short human form of a size: ``format_bytes(1536) == "1.5 kB"``.

    Examples
    --------
    >>> format_bytes(512), format_bytes(1536), format_bytes(3 * 2**30)
    ('512 B', '1.5 kB', '3.0 GB')
    """
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


def format_instant(seconds: int, tz: str | None = None) -> str:
    """Epoch seconds as a short ISO-8601 string, to the minute when exact.

    In UTC (``Z``), or as the wall clock of zone ``tz`` with its offset (an instant
    whose local date is outside years 1-9999 stays in UTC). An instant outside them
    in UTC too (int seconds an argument gave) is named by the end it is past.

    Examples
    --------
    >>> format_instant(0), format_instant(61), format_instant(-62_135_596_800)
    ('1970-01-01 00:00Z', '1970-01-01 00:01:01Z', '0001-01-01 00:00Z')
    >>> format_instant(1_630_886_400, "Asia/Ho_Chi_Minh")
    '2021-09-06 07:00+07:00'
    >>> format_instant(0, "Africa/Monrovia"), format_instant(0, "-05:30")
    ('1969-12-31 23:15:30-00:44:30', '1969-12-31 18:30-05:30')
    >>> format_instant(2**62)
    'a time after the year 9999'
    """
    if seconds > MAX_TIME:
        return "a time after the year 9999"
    if seconds < MIN_TIME:
        return "a time before the year 1"
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    if tz is not None:
        try:
            local = when.astimezone(zone_info(tz))
        except (OverflowError, ValueError, KeyError):  # (KeyError: a zone zoneinfo lacks)
            pass
        else:
            total = int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
            hours, rest = divmod(abs(total), 3600)
            minutes, secs = divmod(rest, 60)
            offset = f"{'-' if total < 0 else '+'}{hours:02d}:{minutes:02d}"
            return _wall(local) + offset + (f":{secs:02d}" if secs else "")
    return _wall(when) + "Z"


def _wall(when: dt.datetime) -> str:
    """``YYYY-MM-DD HH:MM[:SS]`` (years below 1000 padded, which ``%Y`` is not everywhere)."""
    shape = "-%m-%d %H:%M" if when.second == 0 else "-%m-%d %H:%M:%S"
    return f"{when.year:04d}" + when.strftime(shape)


_FIXED_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def zone_info(tz: str) -> dt.tzinfo:
    """The zone ``tz`` as Arrow reads it: an IANA name, or a fixed offset ``"+07:00"``.

    Raises ``zoneinfo.ZoneInfoNotFoundError`` (a ``KeyError``), ``ValueError`` or
    ``OSError`` for a name that is neither.
    """
    fixed = _FIXED_OFFSET.match(tz)
    if fixed:
        sign = -1 if fixed.group(1) == "-" else 1
        offset = dt.timedelta(hours=int(fixed.group(2)), minutes=int(fixed.group(3)))
        return dt.timezone(sign * offset)
    return zoneinfo.ZoneInfo(tz)


def seconds_to_timestamp(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Wrap int64 epoch seconds as ``timestamp[us, tz=UTC]`` (``mask`` marks nulls)."""
    micros = np.asarray(seconds, dtype=np.int64) * 1_000_000
    return pa.array(micros, type=pa.timestamp("us", tz="UTC"), mask=mask)


def refuse_nat(value: Any, name: str) -> None:
    """A :class:`SchemaError` if ``value`` is pandas' or numpy's NaT (``name``: the argument)."""
    if type(value).__name__ == "NaTType" or (isinstance(value, np.datetime64) and np.isnat(value)):
        raise SchemaError(f"`{name}`: expected a time, got NaT (not a time)")


def instant_seconds(value: Any, name: str, tz: str | None = None) -> int:
    """One instant (datetime, numpy datetime64, ISO string, or int seconds) as epoch seconds.

    A naive datetime or ISO string (no zone or offset) is a wall-clock time in ``tz``
    (read as :func:`local_to_utc` reads it); without ``tz`` it is a
    :class:`TimezoneError`, as naive timestamps are everywhere (guessing the zone
    would shift the time). A numpy datetime64 is UTC without ``tz`` (numpy's and
    pandas' convention), else a wall-clock time in ``tz``.
    """
    if tz is not None:
        check_zone(tz)
    refuse_nat(value, name)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        # no time lies beyond the years 1 to 9999: seconds further out (2**63, say) are
        # all alike, and held where int64 sums of them with durations cannot overflow
        return max(-_FAR_SECONDS, min(int(value), _FAR_SECONDS))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            wall = int(value.replace(tzinfo=dt.UTC).timestamp() // 1)
            return _naive_instant(wall, name, tz)
        return int(value.timestamp() // 1)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise SchemaError(f"`{name}`: expected an ISO-8601 time, got {value!r}") from exc
        return instant_seconds(parsed, name, tz)
    if isinstance(value, np.datetime64):
        # numpy's have no zone: UTC by numpy's and pandas' convention (what to_numpy()
        # of a zone-aware column gives), or wall-clock times in tz when it is given
        wall = int(value.astype("datetime64[s]").astype(np.int64))
        return wall if tz is None else int(local_to_utc(np.array([wall]), tz)[0])
    raise SchemaError(
        f"`{name}`: expected a datetime, numpy.datetime64, ISO-8601 str or int seconds, "
        f"got {type(value).__name__}"
    )


def _naive_instant(wall: int, name: str, tz: str | None) -> int:
    """A naive wall-clock time (as epoch seconds of the same UTC wall clock) read in ``tz``."""
    if tz is None:
        raise TimezoneError(
            f"`{name}`: expected a zone-aware time, got a naive one; give it a zone "
            f"(datetime(..., tzinfo=ZoneInfo('Asia/Ho_Chi_Minh')), '2021-09-06T08:00+07:00', "
            f"'...Z') or pass tz='Asia/Ho_Chi_Minh' (the zone it was recorded in)"
        )
    return int(local_to_utc(np.array([wall]), tz)[0])
