"""Optional dependencies, imported on first use with an error naming the extra."""

from __future__ import annotations

import importlib
from typing import Any

from tracegraph.errors import MissingDependency

__all__ = ["require"]


def require(module: str, extra: str) -> Any:
    """Import ``module``, or raise :class:`MissingDependency` naming ``tracegraph[extra]``.

    Examples
    --------
    >>> from tracegraph._deps import require
    >>> require("json", "core").dumps([1])
    '[1]'
    >>> require("no_such_module", "plot")
    Traceback (most recent call last):
    ...
    tracegraph.errors.MissingDependency: this needs no_such_module, which is not installed;
    pip install 'tracegraph[plot]'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"this needs {module}, which is not installed; pip install 'tracegraph[{extra}]'"
        ) from exc
