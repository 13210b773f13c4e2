"""tracegraph: exact, fast, explainable venue-based contact tracing.

The flow, one module a step::

    ingest   scan events / stay tables  →  clean stays
    index    stays                      →  VenueIndex (venue × time buckets, per person view)
    exposure VenueIndex + cases         →  Trace (contacts by tier, stay pairs, graph)

Examples
--------
>>> import tracegraph as tg
>>> city = tg.synth.generate_city(300, days=2, seed=3)
>>> index = tg.VenueIndex.from_stays(city.stays)
>>> result = tg.trace(index, city.stays["person"][:2].to_pylist(), tiers=2)
>>> sorted(result.tier_counts())[:1]
[0]
"""

from __future__ import annotations

from typing import Any

from tracegraph._progress import set_progress
from tracegraph.compliance import InactiveVenues, compliance, inactive_venues, scan_accounts
from tracegraph.errors import (
    AliasError,
    ArgumentError,
    CorruptIndexError,
    DataWarning,
    DurationError,
    IndexExistsError,
    IndexFormatError,
    IndexNotFound,
    MissingDependency,
    PersonNotFound,
    PolicyError,
    ScanFileError,
    ScanRowError,
    SchemaError,
    TimezoneError,
    TracegraphError,
)
from tracegraph.exposure import Trace, copresent_pairs, present_at, trace, warmup
from tracegraph.index import VenueIndex
from tracegraph.ingest import Scans, ScanSchema, pseudonymize, read_scans, scans_to_stays
from tracegraph.plot import plot_compliance
from tracegraph.policy import MatchPolicy
from tracegraph.report import clusters, write_table

__version__ = "0.1.0"

__all__ = [
    "AliasError",
    "ArgumentError",
    "CorruptIndexError",
    "DataWarning",
    "DurationError",
    "InactiveVenues",
    "IndexExistsError",
    "IndexFormatError",
    "IndexNotFound",
    "MatchPolicy",
    "MissingDependency",
    "PersonNotFound",
    "PolicyError",
    "ScanFileError",
    "ScanRowError",
    "ScanSchema",
    "Scans",
    "SchemaError",
    "TimezoneError",
    "Trace",
    "TracegraphError",
    "VenueIndex",
    "__version__",
    "clusters",
    "compliance",
    "copresent_pairs",
    "inactive_venues",
    "plot_compliance",
    "present_at",
    "pseudonymize",
    "read_scans",
    "scan_accounts",
    "scans_to_stays",
    "set_progress",
    "synth",
    "trace",
    "warmup",
    "write_table",
]


def __getattr__(name: str) -> Any:
    # the generator is imported on first use: importing tracegraph stays fast
    if name == "synth":
        import importlib

        return importlib.import_module("tracegraph.synth")
    raise AttributeError(f"module 'tracegraph' has no attribute {name!r}")
