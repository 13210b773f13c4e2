"""Progress bars for long operations, quiet unless someone is watching.

Long calls (:func:`tracegraph.read_scans`, :meth:`tracegraph.VenueIndex.from_stays`,
:func:`tracegraph.trace`) take ``progress=``: ``True`` shows a ``tqdm.auto`` bar (a
widget in Jupyter, text in a terminal), ``False`` never does, and ``None`` (the
default) follows the global setting, :func:`set_progress`, whose default is "auto":
on when attached to a terminal or a notebook kernel and ``tqdm`` is installed, off
otherwise, so services and CI logs stay quiet.
"""

from __future__ import annotations

import importlib.util
import sys
from types import TracebackType
from typing import Any

import numpy as np

from tracegraph.errors import ArgumentError, MissingDependency

__all__ = ["progress_bar", "set_progress"]

_setting: dict[str, bool | None] = {"progress": None}


def set_progress(enabled: bool | None) -> None:
    """Turn progress bars on (``True``), off (``False``) or back to auto (``None``).

    The setting applies to every call whose ``progress=`` is left at ``None``.

    Examples
    --------
    >>> tg.set_progress(False)  # a batch job: never show bars
    >>> tg.set_progress(None)  # back to auto: only in a terminal or notebook
    """
    _setting["progress"] = _bool_or_none(enabled, "enabled")


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _watched() -> bool:
    """Whether someone can see a bar: a terminal on stderr, or a Jupyter kernel."""
    if _in_notebook():
        return True
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def _wanted(progress: bool | None) -> bool | None:
    """``True``/``False`` if asked for explicitly, ``None`` for auto."""
    if progress is not None:
        return _bool_or_none(progress, "progress")
    return _setting["progress"]


def _bool_or_none(value: object, name: str) -> bool | None:
    """``value`` as a bool (numpy's too) or None; anything else is an ArgumentError.

    ("no" would be true: and show a bar.)
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    raise ArgumentError(f"`{name}`: expected True, False or None, got {value!r}")


class _Bar:
    """A tqdm bar, or nothing; usable as a context manager either way."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> _Bar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def progress_bar(progress: bool | None, *, total: int | None, desc: str, unit: str = "it") -> _Bar:
    """A progress bar if ``progress`` (or the global setting) asks for one.

    Raises
    ------
    MissingDependency
        If a bar is asked for explicitly and ``tqdm`` is not installed.
    """
    wanted = _wanted(progress)
    if wanted is False or (wanted is None and not _watched()):
        return _Bar(None)
    try:
        if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]
        else:  # text bars (tqdm.auto would warn in a notebook without ipywidgets)
            from tqdm.std import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        if wanted:
            raise MissingDependency(
                "progress=True needs tqdm, which is not installed; "
                "pip install 'tracegraph[progress]'"
            ) from None
        return _Bar(None)
    return _Bar(tqdm(total=total, desc=desc, unit=unit, leave=False))
