"""Doctest namespace: ``tg`` and a tiny generated city are available in every example."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict[str, Any]) -> None:
    import tracegraph as tg

    doctest_namespace["tg"] = tg
    doctest_namespace["tiny_city"] = _tiny_city()


_CITY: list[Any] = []


def _tiny_city() -> Any:
    if not _CITY:
        import tracegraph as tg

        _CITY.append(tg.synth.generate_city(300, days=2, seed=7))
    return _CITY[0]
