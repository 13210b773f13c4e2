"""Property tests: :func:`tracegraph.trace` against the brute-force oracle.

Hypothesis builds small cities (see ``strategies.py``) and every example is compared
EXACTLY: the same contact rows with the same tiers and ``exposed_at``, and the same
multiset of edge rows. Around the comparison the input is varied in every way that
must not change the answer: id types, timestamp units and zones, sub-second noise,
pandas/polars/Arrow inputs, duration spellings, bucket widths, row order, cases as
ids or as a table.

The main test runs the active profile's ``max_examples`` (300 under ``ci``); the
others a fraction of it. Set ``HYPOTHESIS_PROFILE=heavy`` for a long hunt.
"""

from __future__ import annotations

import zoneinfo

import networkx as nx
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from oracle import overlap, tiers_by_bfs, trace_oracle
from strategies import (
    DURATION_STYLES,
    HOURS_20,
    UNIT_PER_S,
    City,
    Params,
    as_duration,
    case_windows,
    cases_table,
    cities,
    decoder,
    encode_id,
    examples,
    params,
    result_to_plain,
    stays_table,
)

import tracegraph as tg

BUCKET_WIDTHS = ("1s", "7min", "1h", "1d")
ZONES = ("UTC", "Europe/Berlin", "Asia/Kolkata")


# --------------------------------------------------------------------------- helpers


def oracle_for(city: City, cases: dict, p: Params, unknown: str = "keep"):
    if unknown == "drop":
        cases = {c: w for c, w in cases.items() if c in city.people}
    return trace_oracle(city.stays, cases, **p.oracle_kwargs())


def run_engine(
    city: City,
    cases: dict,
    p: Params,
    *,
    unknown: str = "keep",
    bucket_width: str = "1h",
    order=None,
    ids: str = "int",
    unit: str = "s",
    tz: str = "UTC",
    frame: str = "arrow",
    fractions=None,
    cases_as: str = "auto",
    duration_style: str = "int",
    graph_check: bool = False,
    all_time: str = "wide",
):
    """Trace ``cases`` through ``city`` with tracegraph; result in plain form."""
    stays = city.stays if order is None else [city.stays[i] for i in order]
    if fractions is not None and order is not None:
        fractions = tuple(np.asarray(f)[list(order)] for f in fractions)
    table = stays_table(stays, unit=unit, tz=tz, ids=ids, fractions=fractions)
    if frame == "pandas":
        table = table.to_pandas()
    elif frame == "polars":
        import polars as pl

        table = pl.from_arrow(table)
    index = tg.VenueIndex.from_stays(table, bucket_width=bucket_width)

    if cases_as == "auto":
        cases_as = "ids" if all(w is None for w in cases.values()) else "table"
    if cases_as == "ids":
        assert all(w is None for w in cases.values())
        arg = [encode_id(c, ids) for c in cases]
    else:
        arg = cases_table(cases, city, ids=ids, tz=tz, all_time=all_time)
        if cases_as == "pandas":
            arg = arg.to_pandas()

    result = tg.trace(
        index,
        arg,
        unknown=unknown,
        tiers=p.tiers,
        min_overlap=as_duration(p.min_overlap, duration_style),
        linger=as_duration(p.linger, duration_style),
        latency=as_duration(p.latency, duration_style),
        infectious_for=as_duration(p.infectious_for, duration_style),
    )
    if graph_check:
        check_networkx(result, decoder(ids))
    return result_to_plain(result, decode=decoder(ids))


def check_networkx(result, decode=None) -> None:
    """``result.to_networkx()`` summarises ``result.edges`` and ``result.contacts``:
    one arc per (source, target) with start = first overlap start, overlap_s = total
    overlap seconds, n_pairs = number of edge rows, venues = the distinct venues;
    node attribute tier."""
    decode = decode or (lambda x: x)
    contacts, edges = result_to_plain(result, decode=decode)
    graph = result.to_networkx()
    assert isinstance(graph, nx.DiGraph)
    assert {decode(n): t for n, t in graph.nodes(data="tier")} == {
        p: t for p, (t, _) in contacts.items()
    }
    arcs: dict = {}
    for source, target, venue, start, end, _tier in edges:
        arc = arcs.setdefault(
            (source, target),
            {"start": start, "end": end, "overlap_s": 0, "n_pairs": 0, "venues": set()},
        )
        arc["start"] = min(arc["start"], start)
        arc["end"] = max(arc["end"], end)
        arc["overlap_s"] += end - start
        arc["n_pairs"] += 1
        arc["venues"].add(venue)
    got = {}
    for u, v, attrs in graph.edges(data=True):
        start, end = attrs["start"], attrs["end"]
        assert start.tzinfo == end.tzinfo == zoneinfo.ZoneInfo("UTC")  # (as to_pylist's)
        start, end = int(start.timestamp()), int(end.timestamp())
        venues = [decode(x) for x in attrs["venues"]]
        assert len(venues) == len(set(venues)), f"repeated venues on arc {u}->{v}: {venues}"
        got[(decode(u), decode(v))] = {
            "start": start,
            "end": end,
            "overlap_s": attrs["overlap_s"],
            "n_pairs": attrs["n_pairs"],
            "venues": set(venues),
        }
    assert got == arcs


def note_features(city: City, cases: dict, p: Params, contacts: dict, edges: list) -> None:
    """Record which interesting situations an example hit (``--hypothesis-show-statistics``)."""
    stays = city.stays
    event(f"mode={city.mode}")
    if any(s == e for _, _, s, e in stays):
        event("has zero-length stay")
    if any(e - s >= HOURS_20 for _, _, s, e in stays):
        event("has stay >= 20 h")
    pairs = [
        (x, y) for i, x in enumerate(stays) for y in stays[i + 1 :] if x[1] == y[1] and x[0] != y[0]
    ]
    if any(
        overlap(x[2], x[3], y[2], y[3]) == 0 and x[2] != x[3] and y[2] != y[3] for x, y in pairs
    ):
        event("has touching stays")
    if any(w is not None for w in cases.values()):
        event("has a case window")
    if any(c not in city.people for c in cases):
        event("has a case with no stays")
    deepest = max((t for t, _ in contacts.values()), default=-1)
    event(f"deepest tier reached={deepest} (of {p.tiers})")
    if len(edges) != len(set(edges)):
        event("has duplicate edge rows")
    if all(v for v in (p.min_overlap, p.linger, p.latency, p.infectious_for)):
        event("every parameter non-zero")


# --------------------------------------------------------------------------- the main comparison


@given(data=st.data())
def test_engine_matches_oracle(data):
    """tg.trace == oracle, exactly, under every representation of the same input."""
    city = data.draw(cities(), label="city")
    p = data.draw(params(city.mode), label="params")
    cases = data.draw(case_windows(city), label="cases")
    unknown = data.draw(st.sampled_from(["keep", "drop", "raise"]), label="unknown")
    frame = data.draw(st.sampled_from(["arrow", "pandas", "polars"]), label="frame")
    ids = data.draw(st.sampled_from(["int", "str", "big"]), label="ids")
    unit = data.draw(st.sampled_from(["s", "ms", "us", "ns"]), label="unit")
    tz = data.draw(st.sampled_from(ZONES), label="tz")
    widths = BUCKET_WIDTHS[1:] if city.mode == "huge" else BUCKET_WIDTHS
    bucket_width = data.draw(st.sampled_from(widths), label="bucket_width")
    style = data.draw(st.sampled_from(DURATION_STYLES), label="duration_style")
    order = data.draw(st.permutations(range(len(city.stays))), label="row order")
    fractions = None
    if unit != "s" and data.draw(st.booleans(), label="sub-second noise"):
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="noise seed"))
        n = len(city.stays)
        f_start, f_end = (rng.integers(0, UNIT_PER_S[unit], n) for _ in range(2))
        # a zero-length stay's end is not before its start within the second either
        zero = np.array([s == e for _, _, s, e in city.stays], dtype=np.bool_)
        fractions = (f_start, np.where(zero, np.maximum(f_start, f_end), f_end))
    all_time = all(w is None for w in cases.values())
    cases_as = data.draw(
        st.sampled_from(["ids", "table", "pandas"] if all_time else ["table", "pandas"]),
        label="cases as",
    )
    open_windows = data.draw(
        st.sampled_from(["wide", "null"]), label="all-time windows in a table as"
    )

    kwargs = dict(
        unknown=unknown,
        bucket_width=bucket_width,
        order=order,
        ids=ids,
        unit=unit,
        tz=tz,
        frame=frame,
        fractions=fractions,
        cases_as=cases_as,
        duration_style=style,
        graph_check=True,
        all_time=open_windows,
    )
    if unknown == "raise" and any(c not in city.people for c in cases):
        with pytest.raises(tg.PersonNotFound):
            run_engine(city, cases, p, **kwargs)
        return

    expected = oracle_for(city, cases, p, unknown)
    got = run_engine(city, cases, p, **kwargs)
    note_features(city, cases, p, *expected)
    assert got[0] == expected[0], "contacts differ"
    assert got[1] == expected[1], "edges differ"
    assert tiers_by_bfs(
        list(cases) if unknown != "drop" else [c for c in cases if c in city.people], got[1]
    ) == {c: t for c, (t, _) in got[0].items()}


@settings(max_examples=examples(0.3))
@given(city=cities(relay=True), data=st.data())
def test_deep_tiers_match_oracle(city, data):
    """Cities built around a relay (each person meets the next one a little later),
    traced from the relay's head: tiers 2..4, latency and infectious_for really bite."""
    p = data.draw(params(city.mode), label="params")
    cases = data.draw(case_windows(city, head=True), label="cases")
    expected = oracle_for(city, cases, p)
    event(f"deepest tier reached={max(t for t, _ in expected[0].values())} (of {p.tiers})")
    assert run_engine(city, cases, p) == expected


@settings(max_examples=examples(0.2))
@given(city=cities(), data=st.data())
def test_every_parameter_non_zero(city, data):
    """min_overlap, linger, latency and infectious_for all positive at once, tiers 1..4."""
    p = data.draw(params(city.mode, nonzero=True), label="params")
    cases = data.draw(case_windows(city, min_size=1), label="cases")
    assert run_engine(city, cases, p) == oracle_for(city, cases, p)


@settings(max_examples=examples(0.15))
@given(city=cities(modes=("grid", "fine")), data=st.data())
def test_bucket_width_does_not_change_the_answer(city, data):
    """Every bucket width gives the oracle's answer (1 s buckets with 20 h stays included)."""
    p = data.draw(params(city.mode), label="params")
    cases = data.draw(case_windows(city), label="cases")
    expected = oracle_for(city, cases, p)
    for width in BUCKET_WIDTHS:
        assert run_engine(city, cases, p, bucket_width=width) == expected, width


@settings(max_examples=examples(0.1))
@given(city=cities(), data=st.data())
def test_huge_spans_with_fine_buckets(city, data):
    """Stays spanning years still trace right with 7-minute buckets."""
    p = data.draw(params("huge"), label="params")
    cases = data.draw(case_windows(city), label="cases")
    assert run_engine(city, cases, p, bucket_width="7min") == oracle_for(city, cases, p)


@settings(max_examples=examples(0.1))
@given(city=cities(), data=st.data())
def test_one_index_serves_many_traces(city, data):
    """An index is reusable: several traces on the same index, with different cases
    and parameters, each give the oracle's answer (no state leaks between calls)."""
    index = tg.VenueIndex.from_stays(stays_table(city.stays), bucket_width="7min")
    for i in range(3):
        p = data.draw(params(city.mode), label=f"params {i}")
        cases = data.draw(case_windows(city), label=f"cases {i}")
        result = tg.trace(
            index,
            cases_table(cases, city),
            unknown="keep",
            **p.oracle_kwargs(),
        )
        assert result_to_plain(result) == oracle_for(city, cases, p), f"trace #{i}"


@settings(max_examples=examples(0.15))
@given(city=cities(), data=st.data())
def test_row_order_does_not_change_the_answer(city, data):
    """Shuffling the stays table gives the same contacts and the same edge multiset."""
    p = data.draw(params(city.mode), label="params")
    cases = data.draw(case_windows(city), label="cases")
    order = data.draw(st.permutations(range(len(city.stays))), label="order")
    assert run_engine(city, cases, p, order=order) == run_engine(city, cases, p)


@settings(max_examples=examples(0.1))
@given(city=cities(), data=st.data())
def test_cases_as_ids_or_all_time_table_agree(city, data):
    """Case ids (window = all time) trace like a table whose windows contain every
    stay, and like a table whose window bounds are null (open)."""
    p = data.draw(params(city.mode), label="params")
    cases = data.draw(case_windows(city, windows=False), label="cases")
    as_ids = run_engine(city, cases, p, cases_as="ids")
    assert as_ids == run_engine(city, cases, p, cases_as="table")
    assert as_ids == run_engine(city, cases, p, cases_as="table", all_time="null")
    assert as_ids == oracle_for(city, cases, p)


@settings(max_examples=examples(0.15))
@given(city=cities(), data=st.data())
def test_wider_case_window_never_removes_a_tier_1_contact(city, data):
    """Widening case windows keeps every tier-1 contact (deeper tiers can re-route; see
    test_rules.test_a_wider_window_can_reroute_contacts_beyond_tier_1)."""
    p = data.draw(params(city.mode, max_tiers=1), label="params")
    cases = data.draw(case_windows(city, min_size=1), label="cases")
    wider = {}
    for c, w in cases.items():
        if w is None or data.draw(st.booleans()):
            wider[c] = None
        else:
            grow = st.integers(0, 4 * 3600)
            wider[c] = (
                None if w[0] is None else w[0] - data.draw(grow),
                None if w[1] is None else w[1] + data.draw(grow),
            )
    narrow_contacts = run_engine(city, cases, p)[0]
    wide_contacts = run_engine(city, wider, p)[0]
    assert set(narrow_contacts) <= set(wide_contacts)
    for person, (tier, x) in narrow_contacts.items():
        assert wide_contacts[person][0] == tier
        if tier == 1:
            assert wide_contacts[person][1] <= x  # exposed no later


# --------------------------------------------------------------------------- the oracle on its own


@settings(max_examples=examples(0.5))
@given(city=cities(), data=st.data())
def test_oracle_tier_1_is_bfs_layer_1_of_the_static_contact_graph(city, data):
    """Sanity check of the oracle with networkx: with all-time cases and no parameters,
    tier 1 is exactly BFS layer 1 of the static contact graph, and every deeper tier
    is at least the static BFS distance (time can only lengthen paths)."""
    cases = data.draw(case_windows(city, windows=False, min_size=1), label="cases")
    tiers = data.draw(st.integers(1, 4), label="tiers")
    contacts, edges = trace_oracle(city.stays, cases, tiers=tiers)

    static = nx.Graph()
    static.add_nodes_from(cases)
    static.add_nodes_from(city.people)
    for i, (p, v, s, e) in enumerate(city.stays):
        for q, w, s2, e2 in city.stays[i + 1 :]:
            if v == w and p != q and overlap(s, e, s2, e2) > 0:
                static.add_edge(p, q)
    layers = list(nx.bfs_layers(static, list(cases)))
    distance = {person: d for d, layer in enumerate(layers) for person in layer}
    layer_1 = set(layers[1]) if len(layers) > 1 else set()
    assert {c for c, (t, _) in contacts.items() if t == 1} == layer_1
    for person, (tier, _) in contacts.items():
        assert tier >= distance[person]
    assert tiers_by_bfs(cases, edges) == {c: t for c, (t, _) in contacts.items()}


@settings(max_examples=examples(0.5))
@given(city=cities(), data=st.data())
def test_oracle_more_tiers_extend_fewer_tiers(city, data):
    """Sanity check of the oracle: tracing k+1 tiers keeps the k-tier answer as its prefix."""
    p = data.draw(params(city.mode, max_tiers=3), label="params")
    cases = data.draw(case_windows(city), label="cases")
    short = trace_oracle(city.stays, cases, **p.oracle_kwargs())
    longer_p = Params(**{**p.oracle_kwargs(), "tiers": p.tiers + 1})
    longer = trace_oracle(city.stays, cases, **longer_p.oracle_kwargs())
    assert {c: v for c, v in longer[0].items() if v[0] <= p.tiers} == short[0]
    assert [e for e in longer[1] if e[5] <= p.tiers] == short[1]
    for source, target, _venue, start, end, tier in longer[1]:
        assert longer[0][source][0] == tier - 1 and longer[0][target][0] == tier
        assert start < end
        assert end - start >= p.min_overlap


def test_oracle_handles_empty_inputs():
    """No stays, no cases: nothing to trace; a case with no stays is just tier 0."""
    assert trace_oracle([], {}) == ({}, [])
    assert trace_oracle([], {7: None}, tiers=3) == ({7: (0, None)}, [])
    assert trace_oracle([(1, 0, 0, 10)], {}) == ({}, [])


def test_result_columns_for_an_empty_trace():
    """An empty trace still has the documented columns and types."""
    table = stays_table([(1, 0, 0, 10)])
    result = tg.trace(tg.VenueIndex.from_stays(table), [], tiers=2)
    assert result.contacts.num_rows == 0 and result.edges.num_rows == 0
    assert result_to_plain(result) == ({}, [])
    assert isinstance(result.contacts, pa.Table) and isinstance(result.edges, pa.Table)
