"""The tracegraph exception hierarchy.

Every error tracegraph raises on purpose derives from :class:`TracegraphError`, and
also from the builtin exception a user would naturally catch (``ValueError`` for bad
values and schemas, ``KeyError`` for unknown ids). Messages say what was expected,
what was found and, where possible, how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AliasError",
    "ArgumentError",
    "CorruptIndexError",
    "DataWarning",
    "DurationError",
    "IndexExistsError",
    "IndexFormatError",
    "IndexNotFound",
    "MissingDependency",
    "PersonNotFound",
    "PolicyError",
    "ScanFileError",
    "ScanRowError",
    "SchemaError",
    "TimezoneError",
    "TracegraphError",
]


class TracegraphError(Exception):
    """Base class of every error raised by tracegraph."""


class ArgumentError(TracegraphError, ValueError, TypeError):
    """A function was given an argument of the wrong type or value.

    For example ``tiers=500``, ``unknown="ignore"`` or ``metric="hours"``. It is
    both a ``ValueError`` and a ``TypeError``, the builtins such mistakes raise
    elsewhere, so either ``except`` catches it.
    """


class SchemaError(TracegraphError, ValueError):
    """A table is missing a column, has the wrong type, or holds invalid values.

    Raised for missing or mistyped columns, nulls in ids or times, a stay whose
    ``end`` is before its ``start``, and duplicated case rows.
    """


class TimezoneError(SchemaError):
    """A timestamp column has no time zone and none was named by the caller."""


class DurationError(TracegraphError, ValueError):
    """A duration argument could not be parsed, is negative, or is not whole seconds."""


class PersonNotFound(TracegraphError, KeyError):
    """A case person id is not present in the index.

    Pass ``unknown="keep"`` or ``unknown="drop"`` to :func:`tracegraph.trace` to
    trace such cases anyway.
    """

    def __str__(self) -> str:
        # KeyError.__str__ quotes its argument; we want the plain message.
        return str(self.args[0]) if self.args else ""


class IndexNotFound(TracegraphError, FileNotFoundError):
    """There is no saved index at a path: no such directory, or no manifest in it."""


class IndexExistsError(TracegraphError, FileExistsError):
    """Saving would replace a path that exists (and ``overwrite`` is off, or it is not an index)."""


class IndexFormatError(TracegraphError, ValueError):
    """A directory holds another format, or a format version this tracegraph cannot read."""


class CorruptIndexError(TracegraphError, OSError):
    """A saved index is damaged: a file is missing, truncated, altered or unreadable."""


# --------------------------------------------------------------------------- saving


# --------------------------------------------------------------------------- scans


class ScanRowError(SchemaError):
    """A scan row breaks a rule (null id, unparseable, naive, future or too early time).

    Raised by :func:`tracegraph.ingest.read_scans` with ``errors="raise"``; the
    message names the file, the row's position in it and the rule, never the ids.
    Pass ``errors="quarantine"`` to set such rows aside in ``Scans.rejected`` instead.
    """


class AliasError(SchemaError):
    """An identity alias table is malformed, e.g. one alias maps to two persons."""


class ScanFileError(TracegraphError, OSError):
    """A scan file is missing, truncated, corrupt, or neither Parquet nor Arrow IPC."""


class PolicyError(TracegraphError, ValueError):
    """A matching policy is unknown, or its fields or the arguments used with it conflict."""


class DataWarning(UserWarning):
    """Data was read without an error but looks wrong, e.g. every scan was rejected.

    Filter it like any warning: ``warnings.simplefilter("error", tg.DataWarning)``
    turns it into an error (in a pipeline that must not go on with empty data).
    """


class MissingDependency(TracegraphError, ImportError):
    """An optional dependency is needed but not installed; the message names the extra."""
