"""Every public function, class and method documents itself with a runnable example.

The examples themselves run as doctests (``--doctest-modules``); this test makes sure
none is missing, so a new public name without an example fails the suite.
"""

from __future__ import annotations

import inspect

import pytest

import tracegraph as tg


def public_members():
    for name in tg.__all__:
        obj = getattr(tg, name)
        if name.startswith("__") or inspect.ismodule(obj):
            continue
        if isinstance(obj, type) and issubclass(obj, BaseException):
            continue  # exceptions are documented by their one-line docstring
        yield name, obj
        if isinstance(obj, type):
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                target = value.fget if isinstance(value, property) else value
                target = getattr(target, "func", target)  # cached_property, classmethod
                if callable(target):
                    yield f"{name}.{attr}", target


@pytest.mark.parametrize(("name", "obj"), list(public_members()), ids=lambda x: str(x))
def test_public_api_has_an_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{name} has no docstring"
    assert "Examples\n--------" in doc and ">>> " in doc, f"{name} has no Examples section"


def test_every_error_has_a_docstring():
    for name in tg.__all__:
        obj = getattr(tg, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert (obj.__doc__ or "").strip(), name
            if issubclass(obj, Warning):  # warnings: their own category, filterable
                assert obj.__module__ == "tracegraph.errors", name
                continue
            assert issubclass(obj, tg.TracegraphError), name
