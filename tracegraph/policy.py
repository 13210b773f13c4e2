"""Matching policies: how each public-health system drew the line at "exposed".

A :class:`MatchPolicy` says how a case's stay becomes an exposure window, how a
contact's stay is compared with that window (half-open or closed intervals, or the
arrival instant only), how overlap seconds become minutes, how risk is scored, and
how venue ids are compared. :func:`tracegraph.trace` and :func:`tracegraph.present_at`
take a preset name or a policy object.

The presets, and the systems they reproduce:

============== ================================================================
name           rule
============== ================================================================
tracegraph     half-open stays, overlap > 0 and >= ``min_overlap``, ``linger``
               after the case left; minutes floored (the default)
cwa            Corona-Warn-App event check-in: the case's stay becomes a window
               on a 10-minute grid (:func:`cwa_windows`), half-open matching,
               minutes rounded half up, risk = transmission-risk weight x minutes,
               summed per check-in and day (UTC's, or ``day_tz``'s), high from 10
nhs            NHS COVID-19 (Android): half-open [from, to) on both sides,
               touching does not count, venue ids compared exactly
nhs-ios        NHS COVID-19 (iOS): closed intervals, so touching endpoints and
               zero-length stays inside the window count; venue ids compared
               case-insensitively
crowdnotifier  SwissCovid / NotifyMe (CrowdNotifier): the stay and the window
               share a 1-hour bucket (``floor(unix / 3600)``), then closed-interval
               intersection
nz             NZ COVID Tracer: a stay counts as its arrival instant only, which
               must lie strictly inside the window
============== ================================================================

Notes
-----
How far each preset follows its system (checked against the apps' public source):

* ``cwa``: the windows (``TimeIntervalDeriver``), the matching
  (``CheckInWarningMatcher``: overlap > 0, the contact's whole stay) and the risk
  (``PresenceTracingRiskCalculator``: each case overlap rounded to minutes on its
  own, weighted, summed per check-in and day; a contact is at risk when one of
  their check-ins is) as the Android app. The iOS app also drops overlaps under
  30 s (``TraceWarningMatcher``: a check-in matches when its overlap with the
  window, rounded to minutes, is > 0): ``trace(..., policy="cwa",
  min_overlap="30s")`` reproduces it. The weights and the threshold are the app's
  server configuration; those here are the values of its tests.
* ``nhs``: as the Android app, except that the app's containment test also matches
  a zero-length visit inside the window (it never records one itself); both apps
  round check-ins down and check-outs up to quarter hours before matching: round
  the stays so first to reproduce them (``nhs-ios``' closed intervals make touching
  count).
* ``crowdnotifier`` and ``nz``: as their SDK and app (``nz``: arrival strictly
  inside, ``checkInItemMatch``). Some CrowdNotifier SDK versions also require the
  visit to fall on the event's day.
* The exposure window from a case's stay (plus ``linger``) is tracegraph's model for
  every preset but ``cwa``: in the NHS, CrowdNotifier and NZ systems a health
  authority sets the window; :func:`tracegraph.present_at` takes such windows as
  they are.

The CrowdNotifier bucket test is kept as a field (``bucket``) so the policy mirrors
the system's two steps; with any intersection rule it never rejects a pair that
intersects (a shared instant lies in a shared bucket), so the kernels test the
intersection only, and the brute-force oracle in the tests tests both, checking that
this holds.

Examples
--------
>>> tg.MatchPolicy.named("nhs-ios").intervals
'closed'
>>> tg.MatchPolicy(intervals="closed", rounding="half-up").name
'custom'
>>> tg.MatchPolicy.named("who")
Traceback (most recent call last):
...
tracegraph.errors.PolicyError: unknown policy 'who'; expected one of ['crowdnotifier', 'cwa',
'nhs', 'nhs-ios', 'nz', 'tracegraph'], or a tracegraph.MatchPolicy
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from tracegraph._typing import MatchRule
from tracegraph.errors import ArgumentError, PolicyError

__all__ = ["CWA_WEIGHTS", "PRESETS", "MatchPolicy", "cwa_windows", "resolve_policy"]

Intervals = Literal["half-open", "closed"]
ContactPoint = Literal["stay", "arrival"]
WindowRule = Literal["stay", "cwa"]
Rounding = Literal["floor", "half-up", "ceil"]
VenueMatch = Literal["exact", "casefold"]
RiskModel = Literal["minutes", "cwa"]

#: Corona-Warn-App transmission-risk weights of levels 1..8 (index 0 is level 1).
CWA_WEIGHTS: tuple[float, ...] = (0.0, 0.0, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6)
_CWA_GRID = 600  # seconds: CWA windows sit on a 10-minute grid
_CWA_MIN_MINUTES = 10  # shorter case stays give no window
_CWA_MAX_DECAY = 1800  # seconds


@dataclass(frozen=True)
class MatchPolicy:
    """A rule for when a contact's stay counts as exposed to a case's stay.

    Parameters
    ----------
    name : str, default "custom"
        A label, shown in reprs and kept in :attr:`tracegraph.Trace.params`.
    intervals : {"half-open", "closed"}, default "half-open"
        ``"half-open"``: stays are [start, end); a pair matches when the overlap is
        > 0 (touching does not count, zero-length stays never match).
        ``"closed"``: [start, end]; a pair matches when the intervals share an
        instant (touching and zero-length stays inside the window count).
    contact : {"stay", "arrival"}, default "stay"
        ``"arrival"``: a contact's stay counts as its arrival instant only, which
        must lie strictly inside the window (``intervals`` must be "half-open").
    bucket : int, optional
        Seconds: the stay and the window must also share a bucket
        ``floor(unix / bucket)`` (CrowdNotifier's hour). Implied by any intersection.
    window : {"stay", "cwa"}, default "stay"
        How a case's stay (clipped to its infectious window) becomes an exposure
        window: as it is, extended by ``linger``; or by the Corona-Warn-App rule
        (:func:`cwa_windows`), which sets its own end (``linger`` must then be 0).
    rounding : {"floor", "half-up", "ceil"}, default "floor"
        How overlap seconds become whole minutes.
    venue_match : {"exact", "casefold"}, default "exact"
        How venue ids are compared: exactly, or string ids case-insensitively (Unicode
        case folding, as Python's ``str.casefold``: "STRASSE" matches "straße").
    risk : {"minutes", "cwa"}, default "minutes"
        Risk score of a contact: ``"minutes"`` is their rounded overlap minutes with
        the cases on their worst day (UTC's, or those of the trace's or
        :meth:`~tracegraph.Trace.risk`'s ``day_tz``); ``"cwa"`` scores each of the
        contact's stays (check-ins) and days apart, as the Corona-Warn-App does: each
        overlap with a case's window, split at those days' midnights, rounded to
        minutes on its own and weighted by the case's transmission-risk level
        (:data:`CWA_WEIGHTS`), summed; the contact's risk is their worst check-in's
        day.
    high_risk : float, default 15
        A risk score at or above this (a number >= 0) is "high", below it "low".
    source : str
        Where the rule comes from (documentation only).

    Raises
    ------
    PolicyError
        If a field has a value outside its choices, or fields conflict.

    Examples
    --------
    >>> p = tg.MatchPolicy(intervals="closed", bucket=3600)
    >>> p.rule
    'closed'
    >>> tg.MatchPolicy(contact="arrival", intervals="closed")
    Traceback (most recent call last):
    ...
    tracegraph.errors.PolicyError: contact="arrival" matches the arrival instant strictly
    inside the window; expected intervals="half-open", got 'closed'
    """

    name: str = "custom"
    intervals: Intervals = "half-open"
    contact: ContactPoint = "stay"
    bucket: int | None = None
    window: WindowRule = "stay"
    rounding: Rounding = "floor"
    venue_match: VenueMatch = "exact"
    risk: RiskModel = "minutes"
    high_risk: float = 15.0
    source: str = ""

    def __post_init__(self) -> None:
        for field, choices in _CHOICES.items():
            value = getattr(self, field)
            if value not in choices:
                raise PolicyError(f"`{field}`: expected one of {list(choices)}, got {value!r}")
        if self.contact == "arrival" and self.intervals != "half-open":
            raise PolicyError(
                'contact="arrival" matches the arrival instant strictly inside the window; '
                f'expected intervals="half-open", got {self.intervals!r}'
            )
        if self.bucket is not None and (
            isinstance(self.bucket, bool | np.bool_)
            or not isinstance(self.bucket, int | np.integer)
            or self.bucket <= 0
        ):
            raise PolicyError(f"`bucket`: expected a positive int of seconds, got {self.bucket!r}")
        if self.bucket is not None:  # (numpy ints as Python ints: equal policies compare equal)
            object.__setattr__(self, "bucket", int(self.bucket))
        if isinstance(self.high_risk, bool | np.bool_) or not isinstance(
            self.high_risk, int | float | np.integer | np.floating
        ):
            raise PolicyError(f"`high_risk`: expected a number, got {self.high_risk!r}")
        if isinstance(self.high_risk, np.generic):  # (as Python numbers, as `bucket`)
            object.__setattr__(self, "high_risk", self.high_risk.item())
        if not self.high_risk >= 0:  # (NaN too: no score would ever be "high")
            raise PolicyError(
                f"`high_risk`: expected a number >= 0 (the score from which a contact's risk "
                f"is high), got {self.high_risk!r}"
            )

    @property
    def rule(self) -> MatchRule:
        """The kernel's matching rule: ``"half-open"``, ``"closed"`` or ``"arrival"``.

        Examples
        --------
        >>> tg.MatchPolicy.named("nz").rule
        'arrival'
        """
        if self.contact == "arrival":
            return "arrival"
        return self.intervals

    @property
    def symmetric(self) -> bool:
        """Whether swapping the window and the stay gives the same matches.

        Examples
        --------
        >>> tg.MatchPolicy.named("nz").symmetric, tg.MatchPolicy.named("nhs").symmetric
        (False, True)
        """
        return self.contact == "stay"

    @classmethod
    def named(cls, name: str) -> MatchPolicy:
        """The preset called ``name`` (see the module docstring for the list).

        Raises
        ------
        PolicyError
            If there is no such preset; the message lists the valid names.
        """
        try:
            return PRESETS[name]
        except (KeyError, TypeError):
            raise PolicyError(
                f"unknown policy {name!r}; expected one of {sorted(PRESETS)}, "
                "or a tracegraph.MatchPolicy"
            ) from None

    def minutes(self, seconds: np.ndarray) -> np.ndarray:
        """Overlap seconds as whole minutes (int64), rounded as the policy says.

        Examples
        --------
        >>> import numpy as np
        >>> tg.MatchPolicy.named("cwa").minutes(np.array([29, 30, 89, 90]))
        array([0, 1, 1, 2])
        >>> tg.MatchPolicy.named("tracegraph").minutes(np.array([59, 60, 119]))
        array([0, 1, 1])
        """
        s = np.asarray(seconds, dtype=np.int64)
        if self.rounding == "floor":
            return s // 60
        if self.rounding == "ceil":
            return -(-s // 60)
        return (s + 30) // 60

    def describe(self) -> str:
        """One line saying what the policy does, for reprs and summaries.

        Examples
        --------
        >>> tg.MatchPolicy.named("crowdnotifier").describe()
        'crowdnotifier: closed intervals, shared 3600 s bucket, minutes floor'
        """
        parts = [f"{self.intervals} intervals"]
        if self.contact == "arrival":
            parts = ["arrival instant strictly inside the window"]
        if self.bucket:
            parts.append(f"shared {self.bucket} s bucket")
        if self.window == "cwa":
            parts.append("CWA 10-minute windows")
        parts.append(f"minutes {self.rounding}")
        if self.venue_match == "casefold":
            parts.append("venue ids case-insensitive")
        return f"{self.name}: " + ", ".join(parts)


_CHOICES: dict[str, tuple[str, ...]] = {
    "intervals": ("half-open", "closed"),
    "contact": ("stay", "arrival"),
    "window": ("stay", "cwa"),
    "rounding": ("floor", "half-up", "ceil"),
    "venue_match": ("exact", "casefold"),
    "risk": ("minutes", "cwa"),
}

#: The named presets.
PRESETS: dict[str, MatchPolicy] = {
    "tracegraph": MatchPolicy(name="tracegraph", source="tracegraph's core rules"),
    "cwa": MatchPolicy(
        name="cwa",
        window="cwa",
        rounding="half-up",
        risk="cwa",
        high_risk=10.0,
        source="Corona-Warn-App event check-in (cwa-app-android: TimeIntervalDeriver, "
        "CheckInWarningMatcher, PresenceTracingRiskCalculator)",
    ),
    "nhs": MatchPolicy(
        name="nhs", source="NHS COVID-19 app, Android venue matching: [from, to) on both sides"
    ),
    "nhs-ios": MatchPolicy(
        name="nhs-ios",
        intervals="closed",
        venue_match="casefold",
        source="NHS COVID-19 app, iOS venue matching: closed intervals, case-insensitive ids",
    ),
    "crowdnotifier": MatchPolicy(
        name="crowdnotifier",
        intervals="closed",
        bucket=3600,
        source="CrowdNotifier (SwissCovid / NotifyMe): shared hour bucket, then intersection",
    ),
    "nz": MatchPolicy(
        name="nz",
        contact="arrival",
        source="NZ COVID Tracer: arrival strictly inside the location-of-interest window",
    ),
}


def resolve_policy(policy: str | MatchPolicy) -> MatchPolicy:
    """A policy object from a preset name or a policy object.

    Raises
    ------
    PolicyError
        If ``policy`` is an unknown name.
    ArgumentError
        If it is neither a string nor a :class:`MatchPolicy` (also a ``TypeError``).

    Examples
    --------
    >>> from tracegraph.policy import resolve_policy
    >>> resolve_policy("nz").contact
    'arrival'
    """
    if isinstance(policy, MatchPolicy):
        return policy
    if isinstance(policy, str):
        return MatchPolicy.named(policy)
    raise ArgumentError(
        f"`policy`: expected a preset name or a tracegraph.MatchPolicy, got {type(policy).__name__}"
    )


def cwa_windows(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corona-Warn-App exposure windows of case stays (int64 epoch seconds).

    A stay of ``d`` seconds (``dm = floor(d / 60)`` whole minutes) gives no window if
    ``dm < 10``. Otherwise ``decay = d`` if ``dm <= 30`` else 30 minutes;
    ``relevantEnd = end + decay``; ``target = round_half_up((d + decay) / 600) * 600``;
    ``S = floor(start / 600) * 600``, ``E = floor(relevantEnd / 600) * 600``. If
    ``relevantEnd - E > S + 600 - start`` the window ends at ``E + 600`` and starts
    ``target`` earlier; otherwise it is ``[S, S + target)``.

    Returns
    -------
    keep, window_start, window_end : numpy.ndarray
        ``keep`` (bool) marks the stays that give a window; the windows are given for
        every stay (meaningless where ``keep`` is false).

    Examples
    --------
    A stay 10:24-10:36 becomes the window 10:30-10:50; a 9-minute stay none:

    >>> import numpy as np
    >>> from tracegraph.policy import cwa_windows
    >>> h = 3600
    >>> start, end = np.array([10 * h + 24 * 60, 0]), np.array([10 * h + 36 * 60, 540])
    >>> keep, ws, we = cwa_windows(start, end)
    >>> keep.tolist(), int(ws[0] - 10 * h) // 60, int(we[0] - 10 * h) // 60
    ([True, False], 30, 50)
    """
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    d = end - start
    keep = d // 60 >= _CWA_MIN_MINUTES
    decay = np.where(d // 60 <= 30, d, _CWA_MAX_DECAY)
    relevant_end = end + decay
    target = (d + decay + _CWA_GRID // 2) // _CWA_GRID * _CWA_GRID
    s_grid = start // _CWA_GRID * _CWA_GRID
    e_grid = relevant_end // _CWA_GRID * _CWA_GRID
    late = (relevant_end - e_grid) > (s_grid + _CWA_GRID - start)
    window_end = np.where(late, e_grid + _CWA_GRID, s_grid + target)
    window_start = np.where(late, window_end - target, s_grid)
    return keep, window_start, window_end
