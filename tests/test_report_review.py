"""A second look at the reports and the policies: brute force on generated cities, and
the arguments a notebook user gets wrong.

The oracle here is written from the docstrings of ``Trace.locations_of_interest``,
``Trace.venues`` and ``Trace.risk`` (``crowd``), over every pair of stays of a
``tg.synth`` city whose venue ids vary in case (so the case-folding policy folds
them) and which has zero-length and touching stays added (so the closed-interval
policies differ from the half-open ones).
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pyarrow as pa
import pytest
from oracle import exposure_intervals

import tracegraph as tg
from tracegraph.errors import PolicyError, SchemaError
from tracegraph.policy import PRESETS

UTC = pa.timestamp("s", tz="UTC")
H = 3600


def _secs(column):
    return [int(t.timestamp()) for t in column.to_pylist()]


def _key(policy, venue):
    """A venue id as the policy compares venue ids."""
    return venue.casefold() if policy.venue_match == "casefold" else venue


def _merged(windows, policy):
    """``(key, start, end, owners)`` windows merged per venue key where they overlap
    (closed policies: where they touch too)."""
    merged: list[list] = []
    for key, start, end, owner in sorted(windows, key=lambda w: (w[0], w[1])):
        last = merged[-1] if merged else None
        if (
            last
            and last[0] == key
            and (start < last[2] or (policy.intervals == "closed" and start <= last[2]))
        ):
            last[2] = max(last[2], end)
            last[3].add(owner)
        else:
            merged.append([key, start, end, {owner}])
    return merged


def _matches(policy, a, b, xs, xe):
    """Whether a stay ``[a, b)`` matches the window ``[xs, xe)`` (overlap of any length)."""
    if policy.rule == "arrival":
        return xs < a < xe
    if policy.intervals == "half-open":
        return min(b, xe) - max(a, xs) > 0
    return a <= xe and xs <= b


def _city(seed, linger):
    """A generated city, its venue ids as text in two cases, and three cases.

    Stays are added where the rules part: touching and zero-length stays of other
    people, and stays of the first case (infectious for all time) starting where one
    of its windows ends, with people arriving, or staying no time, at that instant and
    where the merged window ends.
    """
    rng = random.Random(seed)
    city = tg.synth.generate_city(300, days=3, seed=seed)
    columns = city.stays.to_pydict()
    stays = [
        (p, rng.choice([f"v{v}", f"V{v}"]), s, e)
        for p, v, s, e in zip(
            columns["person"],
            columns["venue"],
            _secs(city.stays["start"]),
            _secs(city.stays["end"]),
            strict=True,
        )
    ]
    cases = rng.sample(sorted({s[0] for s in stays}), 3)
    for _ in range(40):
        _, venue, start, end = rng.choice(stays)
        other = rng.randrange(300)
        extra = [(other, venue, end, end), (other, venue, end, end + 600)]
        stays.append(rng.choice([*extra, (other, venue, start - 600, start)]))
    own = [s for s in stays if s[0] == cases[0]]
    for k, (_, venue, _, end) in enumerate(rng.sample(own, min(len(own), 6))):
        at = end + linger  # where the case's window there ends
        stays.append((cases[0], venue.upper(), at, at + 900))
        stays.append((rng.randrange(300), venue, at, at))
        stays.append((rng.randrange(300), venue.lower(), at, at + 300))
        # people seen only there, when the window ends: exposed then or never
        stays.append((1000 + k, venue, at + 900 + linger, at + 900 + linger))
        stays.append((2000 + k, venue, at + 900 + linger, at + 1200 + linger))
    table = pa.table(
        {
            "person": pa.array([s[0] for s in stays], pa.int64()),
            "venue": pa.array([s[1] for s in stays], pa.string()),
            "start": pa.array([s[2] for s in stays], pa.int64()).cast(UTC),
            "end": pa.array([s[3] for s in stays], pa.int64()).cast(UTC),
        }
    )
    return rng, stays, cases, tg.VenueIndex.from_stays(table)


@pytest.mark.parametrize("seed", [3])
@pytest.mark.parametrize(
    ("name", "min_overlap"),
    # (arrival instants have no overlap to reach a minimum: 'nz' with 0 only)
    [
        (name, m)
        for name in sorted(PRESETS)
        for m in (0, 300)
        if not (PRESETS[name].rule == "arrival" and m)
    ],
)
def test_reports_of_a_two_tier_trace_match_brute_force_under_every_policy(name, min_overlap, seed):
    policy = PRESETS[name]
    linger = 0 if policy.window == "cwa" else 600
    rng, stays, cases, index = _city(seed, linger)
    t0 = min(s[2] for s in stays)
    window = {}
    for case in cases:  # one case infectious for all time, the others for a while
        w0 = t0 + rng.randrange(0, 2 * 86_400)
        window[case] = (None, None) if case == cases[0] else (w0, w0 + rng.randrange(H, 86_400))
    latency, infectious_for = 600, 6 * H
    cases_table = pa.table(
        {
            "person": pa.array(cases, pa.int64()),
            "start": pa.array([window[c][0] for c in cases], pa.int64()).cast(UTC),
            "end": pa.array([window[c][1] for c in cases], pa.int64()).cast(UTC),
        }
    )
    with warnings.catch_warnings():  # (the repeated stays added are not the point here)
        warnings.simplefilter("ignore", tg.DataWarning)
        trace = tg.trace(
            index,
            cases_table,
            tiers=2,
            policy=name,
            linger=linger,
            min_overlap=min_overlap,
            latency=latency,
            infectious_for=infectious_for,
        )
    contacts = trace.contacts.to_pydict()
    tier = dict(zip(contacts["person"], contacts["tier"], strict=True))
    exposed_at = {
        p: None if t is None else int(t.timestamp())
        for p, t in zip(contacts["person"], contacts["exposed_at"], strict=True)
    }
    assert 1 in tier.values() and 2 in tier.values()  # a city where both tiers matter

    def windows_of(person):
        if tier[person] == 0:
            w0, w1 = window[person]
        else:
            w0, w1 = exposed_at[person] + latency, exposed_at[person] + latency + infectious_for
        return exposure_intervals(stays, person, (w0, w1), linger, policy)

    edges = trace.edges.to_pydict()
    edges = list(
        zip(
            edges["source"],
            edges["target"],
            [_key(policy, v) for v in edges["venue"]],
            _secs(pa.array(edges["start"])),
            _secs(pa.array(edges["end"])),
            strict=True,
        )
    )

    # locations of interest: the sources' windows merged per venue, the people found in each
    for sources in ("cases", "all"):
        owners = [p for p, t in tier.items() if (t == 0 if sources == "cases" else t < 2)]
        merged = _merged(
            [(_key(policy, v), xs, xe, p) for p in owners for v, xs, xe in windows_of(p)], policy
        )
        expected = []
        for key, xs, xe, who in merged:
            found = {
                t
                for _, t, v, a, _ in edges
                if v == key
                and (sources == "all" or tier[t] == 1)
                and (xs <= a < xe or (policy.intervals == "closed" and a == xe))
            }
            expected.append((key, xs, xe, len(who), len(found)))
        loi = trace.locations_of_interest(sources=sources).to_pydict()
        got = zip(
            [_key(policy, v) for v in loi["venue"]],
            _secs(pa.array(loi["start"])),
            _secs(pa.array(loi["end"])),
            loi["cases"],
            loi["exposed"],
            strict=True,
        )
        assert sorted(got) == sorted(expected), sources
        assert _secs(pa.array(loi["start"])) == sorted(_secs(pa.array(loi["start"])))

    # venues: people exposed, cases with a window there, hours and pairs, per venue
    per_venue: dict = {}
    for _, t, v, a, b in edges:
        row = per_venue.setdefault(v, [set(), set(), 0, 0])
        row[0].add(t)
        row[2] += b - a
        row[3] += 1
    for case in cases:
        for v, _, _ in windows_of(case):
            per_venue.setdefault(_key(policy, v), [set(), set(), 0, 0])[1].add(case)
    expected_venues = sorted(
        (v, len(r[0]), len(r[1]), round(r[2] / H, 6), r[3]) for v, r in per_venue.items()
    )
    venues = trace.venues().to_pydict()
    got_venues = zip(
        [_key(policy, v) for v in venues["venue"]],
        venues["exposed"],
        venues["cases"],
        [round(h, 6) for h in venues["exposure_hours"]],
        venues["pairs"],
        strict=True,
    )
    assert sorted(got_venues) == expected_venues

    # risk: the first exposure is a pair at exposed_at; the crowd is everyone but the
    # source matching the source's (merged) window at that venue holding that instant
    risk = trace.risk().to_pydict()
    assert sorted(risk["person"]) == sorted(p for p, t in tier.items() if t > 0)
    for person, venue, source, crowd in zip(
        risk["person"], risk["venue"], risk["source"], risk["crowd"], strict=True
    ):
        key, at = _key(policy, venue), exposed_at[person]
        assert (source, person, key, at) in {e[:4] for e in edges}
        held = [
            (xs, xe)
            for k, xs, xe, _ in _merged(
                [(_key(policy, v), xs, xe, source) for v, xs, xe in windows_of(source)], policy
            )
            if k == key and (xs <= at < xe or (policy.rule != "half-open" and at == xe))
        ]
        assert len(held) == 1
        present = {
            p
            for p, v, a, b in stays
            if p != source and _key(policy, v) == key and _matches(policy, a, b, *held[0])
        }
        assert crowd == len(present), person


# --------------------------------------------------------------------------- arguments


def _cwa_trace():
    stays = pa.table(
        {
            "person": ["ann", "bob"],
            "venue": ["cafe", "cafe"],
            "start": pa.array([0, 1800], UTC),
            "end": pa.array([H, 2 * H], UTC),
        }
    )
    return tg.trace(tg.VenueIndex.from_stays(stays), ["ann"], policy="cwa")


def test_risk_levels_with_a_missing_level_say_so_not_that_integers_are_no_integers():
    trace = _cwa_trace()
    levels = pa.table({"person": ["ann", "bob"], "risk_level": pa.array([3, None], pa.int64())})
    with pytest.raises(
        SchemaError, match=r"`risk_level`: expected integers 1\.\.8, found 1 null"
    ) as e:
        trace.risk(levels=levels)
    assert "leave them out for level 5" in str(e.value)
    # (and a dict with a level left out: the same)
    with pytest.raises(SchemaError, match="found 1 null"):
        trace.risk(levels={"ann": 3, "bob": None})


@pytest.mark.parametrize("levels", [[("ann", 3)], 5, "ann"])
def test_risk_levels_of_another_type_are_told_a_dict_works_too(levels):
    with pytest.raises(SchemaError, match=r"levels: expected a dict \{person: level\} or a table"):
        _cwa_trace().risk(levels=levels)


@pytest.mark.parametrize("bad", [float("nan"), -1, -0.5])
def test_a_high_risk_threshold_no_score_reaches_or_every_score_does_is_refused(bad):
    with pytest.raises(PolicyError, match=r"`high_risk`: expected a number >= 0"):
        tg.MatchPolicy(high_risk=bad)
    assert tg.MatchPolicy(high_risk=0).high_risk == 0  # (every contact high: allowed)
    # numpy numbers kept as Python numbers (as bucket): a policy's repr and JSON stay plain
    for value, kind in ((np.float64(7.5), float), (np.int64(7), int)):
        assert type(tg.MatchPolicy(high_risk=value).high_risk) is kind


def test_a_bucket_of_numpy_seconds_is_an_int_like_any_other():
    policy = tg.MatchPolicy(intervals="closed", bucket=np.int64(3600))
    assert policy == tg.MatchPolicy(intervals="closed", bucket=3600)
    assert type(policy.bucket) is int
    for bad in (np.bool_(True), True, np.float64(3600.0)):
        with pytest.raises(PolicyError, match="`bucket`: expected a positive int of seconds"):
            tg.MatchPolicy(bucket=bad)
