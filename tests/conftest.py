"""Hypothesis profiles and shared helpers for the tracegraph test suite.

Profiles, chosen by the ``HYPOTHESIS_PROFILE`` environment variable (default ``ci``
when ``CI`` is set, else ``dev``):

* ``dev``   -- quick local runs (50 examples for the main oracle comparison);
* ``ci``    -- 300 examples for the main oracle comparison, what CI runs;
* ``heavy`` -- 2000 examples, for a long hunt before a release.

Secondary property tests run a fraction of the profile's ``max_examples`` (see
:func:`strategies.examples`). ``deadline`` is off everywhere: the first example of a run pays
for numba's JIT compilation, and timing noise on shared CI machines must not fail
a correct result. No health check is suppressed. ``ci`` is derandomized (the same
examples on every run, so CI is deterministic); ``dev`` and ``heavy`` explore new
examples each run and keep failures in the local example database. Failures print
the reproduction blob (``print_blob=True``) for ``@reproduce_failure``.
"""

from __future__ import annotations

import os
import sys

from hypothesis import settings

# Make the helper modules beside this file (oracle.py, strategies.py) importable
# whatever pytest's import mode is.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# Every profile starts from Hypothesis' own defaults, not from whatever profile is
# active: when CI is set, Hypothesis pre-loads its built-in "ci" profile, which would
# otherwise leak into "dev" and "heavy".
_BASE = settings.get_profile("default")
settings.register_profile("dev", _BASE, max_examples=50, deadline=None, print_blob=True)
# CI: the same examples every run (derandomize), so a red CI is never a coin toss and
# a failure replays locally with `HYPOTHESIS_PROFILE=ci`; no example database in a
# fresh clone.
settings.register_profile(
    "ci", _BASE, max_examples=300, deadline=None, print_blob=True, derandomize=True, database=None
)
settings.register_profile("heavy", _BASE, max_examples=2000, deadline=None, print_blob=True)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def pytest_report_header(config):
    return f"hypothesis profile: {PROFILE} (max_examples={settings.default.max_examples})"


def pytest_collection_modifyitems(config, items):
    """Property tests draw any data, suspicious or not: their DataWarnings are expected.

    A generated city whose stays all last zero seconds, or a batch of scans that are
    all rejected, is a case the engine must handle, and handles with a
    ``tg.DataWarning``; such tests check the answers, not the advice. Example-based
    tests keep the suite's "warnings are errors" rule (and ``pytest.warns`` checks the
    warnings themselves).
    """
    import pytest

    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.filterwarnings("ignore::tracegraph.DataWarning"))
