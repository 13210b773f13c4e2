"""Plots: render to PNG, and check what was drawn against the trace it came from."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.image as mimage  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

import tracegraph as tg  # noqa: E402
from tracegraph import plot as tgplot  # noqa: E402
from tracegraph.plot import plot_compliance, plot_tiers, plot_timeline  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TS = pa.timestamp("s", tz="UTC")

# ids that break naive rendering: mathtext (an unbalanced command raises when drawn),
# markup, and plain ones
A = "$\\frac{$"  # the case
B = "<b>"
C = "$x_1$"
D = "d"
E = "e"  # never traced
CAFE = "<b>cafe</b>"
GYM = "gym $\\alpha$ & 100%"


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


def render(fig: Any, dpi: int = 40) -> np.ndarray:
    """PNG bytes of ``fig``: check the signature and the decoded size; return the image."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    data = buffer.getvalue()
    assert data.startswith(PNG_SIGNATURE)
    image = mimage.imread(io.BytesIO(data), format="png")
    width, height = fig.get_size_inches()
    # matplotlib rounds a fractional pixel size either way
    assert abs(image.shape[0] - height * dpi) < 1
    assert abs(image.shape[1] - width * dpi) < 1
    assert image[..., :3].std() > 0  # something was drawn
    return image


def patches(ax: Any, gid: str) -> list[Any]:
    return [p for p in ax.patches if p.get_gid() == gid]


def texts(ax: Any, gid: str) -> list[Any]:
    return [t for t in ax.texts if t.get_gid() == gid]


def collection(ax: Any, gid: str) -> Any:
    (found,) = [c for c in ax.collections if c.get_gid() == gid]
    return found


@pytest.fixture(scope="module")
def odd() -> tg.Trace:
    """Edges A→B (cafe), A→B (gym), A→D (cafe), B→C (gym); E is not traced."""
    stays = pa.table(
        {
            "person": [A, A, B, B, C, D, E],
            "venue": [CAFE, GYM, CAFE, GYM, GYM, CAFE, "park"],
            "start": pa.array([0, 7200, 1800, 8000, 9500, 2000, 0], TS),
            "end": pa.array([3600, 9000, 5400, 10800, 12600, 2500, 100], TS),
        }
    )
    return tg.trace(tg.VenueIndex.from_stays(stays), [A], tiers=2)


@pytest.fixture(scope="module")
def city_trace() -> tg.Trace:
    city = tg.synth.generate_city(300, days=2, seed=7)
    index = tg.VenueIndex.from_stays(city.stays)
    return tg.trace(index, city.stays["person"][:1].to_pylist(), tiers=2)


def test_odd_trace_is_what_the_tests_assume(odd: tg.Trace) -> None:
    edges = odd.edges.to_pydict()
    pairs = sorted(zip(edges["source"], edges["target"], edges["venue"], strict=True))
    assert pairs == sorted([(A, B, CAFE), (A, B, GYM), (A, D, CAFE), (B, C, GYM)])
    assert odd.tier_counts() == {0: 1, 1: 2, 2: 1}


def test_mathtext_ids_would_break_rendering_unescaped() -> None:
    # the guard for the tests below: drawn raw, the case id is an error
    fig, ax = plt.subplots()
    ax.text(0, 0, A)
    with pytest.raises(ValueError):
        render(fig)


# --------------------------------------------------------------------------- timeline


def test_timeline_bars_and_spans_match_the_trace(odd: tg.Trace) -> None:
    ax = plot_timeline(odd, B)
    render(ax.figure)
    stays = odd.index.stays_of(B)
    bars = patches(ax, tgplot.GID_STAY)
    assert len(bars) == stays.num_rows == 2
    starts = mdates.date2num(stays["start"].to_numpy(zero_copy_only=False))
    assert sorted(b.get_x() for b in bars) == pytest.approx(sorted(starts))

    incoming = odd.edges.filter(pc.equal(odd.edges["target"], B))
    exposed = patches(ax, tgplot.GID_EXPOSED)
    assert len(exposed) == incoming.num_rows == 2
    for name in ("start", "end"):
        want = mdates.date2num(incoming[name].to_numpy(zero_copy_only=False))
        got = [p.get_x() + (p.get_width() if name == "end" else 0) for p in exposed]
        assert sorted(got) == pytest.approx(sorted(want))
    # each span sits on its venue's row
    rows = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    for patch, venue in zip(exposed, incoming["venue"].to_pylist(), strict=True):
        assert patch.get_y() < rows[tgplot._plain(venue)] + 0.5
        assert patch.get_y() + patch.get_height() > rows[tgplot._plain(venue)]
    # B exposed C at the gym: one merged span
    assert len(patches(ax, tgplot.GID_EXPOSING)) == 1
    # the infector is named (escaped), the person is not
    assert [t.get_text() for t in texts(ax, tgplot.GID_LABEL)] == [tgplot._plain(A)] * 2
    assert ax.get_title().startswith("F1 · exposed at 1970-01-01 00:30")
    assert B not in ax.get_title()


def test_timeline_of_a_case_shows_whom_it_exposed_merged_by_venue(odd: tg.Trace) -> None:
    ax = plot_timeline(odd, A)
    render(ax.figure)
    assert len(patches(ax, tgplot.GID_STAY)) == 2
    assert patches(ax, tgplot.GID_EXPOSED) == []
    # cafe: B [1800, 3600) and D [2000, 2500) merge into one span; gym: B [8000, 9000)
    spans = sorted(
        (round(p.get_x() * 86400), round((p.get_x() + p.get_width()) * 86400))
        for p in patches(ax, tgplot.GID_EXPOSING)
    )
    assert spans == [(1800, 3600), (8000, 9000)]
    assert ax.get_title().startswith("F0 (case)")


def test_timeline_rows_are_escaped_venues_in_order_of_first_visit(odd: tg.Trace) -> None:
    ax = plot_timeline(odd, A)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    ticks = list(ax.get_yticks())
    by_height = [label for _, label in sorted(zip(ticks, labels, strict=True), reverse=True)]
    assert by_height == [CAFE, GYM.replace("$", r"\$")]


def test_timeline_in_a_zone(odd: tg.Trace) -> None:
    ax = plot_timeline(odd, B, tz="Asia/Tokyo")  # +09 then and now
    render(ax.figure)
    assert "1970-01-01 09:30 JST" in ax.get_title()
    assert "Asia/Tokyo" in ax.get_xlabel()
    import datetime as dt

    ax = plot_timeline(odd, B, tz=dt.timezone(dt.timedelta(hours=-3)))
    assert "1969-12-31 21:30" in ax.get_title()
    # a fixed offset as text, as trace, explain and read_scans take it (it was refused)
    ax = plot_timeline(odd, B, tz="-03:00")
    assert "1969-12-31 21:30" in ax.get_title()
    with pytest.raises(tg.TimezoneError, match="IANA zone"):
        plot_timeline(odd, B, tz="Mars/Olympus")


def test_timeline_of_a_person_not_traced_or_without_stays(odd: tg.Trace) -> None:
    ax = plot_timeline(odd, E)
    render(ax.figure)
    assert ax.get_title().startswith("not traced")
    assert len(patches(ax, tgplot.GID_STAY)) == 1

    kept = tg.trace(odd.index, [A, "ghost"], unknown="keep")
    ax = plot_timeline(kept, "ghost")
    render(ax.figure)
    assert patches(ax, tgplot.GID_STAY) == []
    assert ax.get_title().startswith("F0 (case) · 0 stays")


def test_timeline_under_casefold_puts_exposures_on_the_persons_own_venue_rows() -> None:
    ts = pa.timestamp("s", tz="UTC")
    stays = pa.table(
        {
            "person": ["ann", "bob"],
            "venue": ["cafe", "CAFE"],
            "start": pa.array([0, 600], ts),
            "end": pa.array([3600, 4200], ts),
        }
    )
    result = tg.trace(tg.VenueIndex.from_stays(stays), ["ann"], policy="nhs-ios")
    for person, gid in (("ann", tgplot.GID_EXPOSING), ("bob", tgplot.GID_EXPOSED)):
        ax = plot_timeline(result, person)
        render(ax.figure)
        assert len(patches(ax, tgplot.GID_STAY)) == 1
        (bar,) = patches(ax, gid)  # on the person's one venue row (row 0), above or below
        assert abs(bar.get_y() + bar.get_height() / 2) == pytest.approx(0.175)
        own = {"ann": "cafe", "bob": "CAFE"}[person]  # the row named by the person's own id
        assert [t.get_text() for t in ax.get_yticklabels()] == [own]
        plt.close(ax.figure)


@pytest.mark.parametrize("person", ["secret-id-123", 123456789, object(), None])
def test_timeline_unknown_person_raises_without_the_id(odd: tg.Trace, person: Any) -> None:
    with pytest.raises(tg.PersonNotFound) as info:
        plot_timeline(odd, person)
    message = str(info.value)
    assert "person" in message
    assert "secret" not in message and "123456789" not in message
    assert plt.get_fignums() == []  # nothing opened before failing


def test_timeline_of_an_id_no_integer_type_holds_says_so(odd: tg.Trace) -> None:
    # it said "expected a person id (int or str), got int", of an int
    with pytest.raises(tg.PersonNotFound) as info:
        plot_timeline(odd, 2**70)
    assert "no one integer type holds" in str(info.value)
    assert not str(info.value).endswith("got int") and str(2**70) not in str(info.value)


def test_timeline_on_a_city_matches_each_persons_stays_and_edges(city_trace: tg.Trace) -> None:
    contacts = city_trace.contacts.to_pydict()
    tiers = contacts["tier"]
    for tier in (0, 1, 2):
        person = contacts["person"][tiers.index(tier)]
        ax = plot_timeline(city_trace, person, tz="Asia/Ho_Chi_Minh")
        render(ax.figure, dpi=30)
        edges = city_trace.edges
        n_in = edges.filter(pc.equal(edges["target"], person)).num_rows
        assert len(patches(ax, tgplot.GID_STAY)) == city_trace.index.stays_of(person).num_rows
        assert len(patches(ax, tgplot.GID_EXPOSED)) == n_in
        assert (n_in > 0) == (tier > 0)
        assert ax.get_title().startswith(f"F{tier}")
        plt.close(ax.figure)


def test_timeline_of_a_person_of_many_venues_stays_drawable() -> None:
    # 0.45 in per venue without a cap: 1,600 venues made a figure 721 in tall (72,100
    # px at 100 dpi, more than a PNG holds) with 1,600 overlapping names
    n = 1_600
    stays = pa.table(
        {
            "person": ["ann"] * n + ["bob"],
            "venue": [f"v{k}" for k in range(n)] + ["v0"],
            "start": pa.array([k * 3600 for k in range(n)] + [0], TS),
            "end": pa.array([k * 3600 + 1800 for k in range(n)] + [1800], TS),
        }
    )
    ax = plot_timeline(tg.trace(tg.VenueIndex.from_stays(stays), ["ann"]), "ann")
    _width, height = ax.figure.get_size_inches()
    assert height <= 1.6 + 0.45 * tgplot._MAX_TALL_ROWS
    assert len(patches(ax, tgplot.GID_STAY)) == n  # every stay still drawn, thinner
    assert (
        list(ax.get_yticks()) == [] and ax.get_ylabel() == "1,600 venues, in order of first visit"
    )
    render(ax.figure, dpi=20)
    # a few venues keep their names
    small = plot_timeline(tg.trace(tg.VenueIndex.from_stays(stays.slice(n - 3)), ["ann"]), "ann")
    assert [t.get_text() for t in small.get_yticklabels()] == ["v1597", "v1598", "v1599"]


def test_timeline_draws_into_a_given_axes(odd: tg.Trace) -> None:
    fig, (_, right) = plt.subplots(1, 2)
    assert plot_timeline(odd, B, ax=right) is right
    assert plt.get_fignums() == [fig.number]
    render(fig)


def test_timeline_rejects_what_is_not_a_trace() -> None:
    with pytest.raises(TypeError, match=r"expected a tracegraph\.Trace"):
        plot_timeline("trace", B)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- tiers


def test_tiers_layers_nodes_edges_and_labels(odd: tg.Trace) -> None:
    ax = plot_tiers(odd)
    render(ax.figure)
    graph = odd.to_networkx()
    nodes = collection(ax, tgplot.GID_NODES).get_offsets()
    assert len(nodes) == graph.number_of_nodes()
    # x = tier, in the order of the node labels
    labels = [t.get_text() for t in texts(ax, tgplot.GID_LABEL)]
    tier_of = {tgplot._plain(n): t for n, t in graph.nodes(data="tier")}
    assert sorted(labels) == sorted(tier_of)
    assert list(nodes[:, 0]) == [tier_of[label] for label in labels]
    assert np.all(np.abs(nodes[:, 1]) <= 0.5)
    # one segment per infector → contact link, one tier to the right
    segments = collection(ax, tgplot.GID_EDGES).get_segments()
    assert len(segments) == graph.number_of_edges() == 3
    assert all(seg[1][0] - seg[0][0] == 1 for seg in segments)
    assert [t.get_text().split()[0] for t in ax.get_xticklabels()] == ["F0", "F1", "F2"]
    # traced to tier 20: one more column, F3 (nobody), not 18 (the graph squeezed left)
    deep = tg.trace(odd.index, [A], tiers=20)
    ticks = [t.get_text().split()[0] for t in plot_tiers(deep).get_xticklabels()]
    assert ticks == ["F0", "F1", "F2", "F3"]


def test_tiers_layer_positions_on_a_city(city_trace: tg.Trace) -> None:
    ax = plot_tiers(city_trace, max_nodes=10_000)
    render(ax.figure, dpi=30)
    graph = city_trace.to_networkx()
    offsets = collection(ax, tgplot.GID_NODES).get_offsets()
    nodes, x, y = tgplot._layers(graph)
    assert np.asarray(offsets)[:, 0].tolist() == pytest.approx(x.tolist())
    assert list(x) == [graph.nodes[n]["tier"] for n in nodes]
    assert sorted(nodes) == sorted(graph.nodes)
    for tier in np.unique(x):  # distinct heights within a tier
        assert len(np.unique(y[x == tier])) == int((x == tier).sum())
    assert texts(ax, tgplot.GID_LABEL) == []  # too many nodes for labels


def test_tiers_summary_above_max_nodes(odd: tg.Trace, city_trace: tg.Trace) -> None:
    n = odd.contacts.num_rows
    ax = plot_tiers(odd, max_nodes=n)  # at the limit: still the graph
    assert ax.child_axes == []
    plt.close(ax.figure)

    ax = plot_tiers(city_trace, max_nodes=city_trace.contacts.num_rows - 1)
    render(ax.figure)
    assert not any(c.get_gid() == tgplot.GID_NODES for c in ax.collections)
    left, right = ax.child_axes
    heights = [p.get_height() for p in left.patches if p.get_gid() == tgplot.GID_TIER_COUNTS]
    assert heights == list(city_trace.tier_counts().values())
    top = city_trace.top_venues(10)
    widths = [p.get_width() for p in right.patches if p.get_gid() == tgplot.GID_VENUE_PAIRS]
    assert widths == top["pairs"].to_pylist()


def test_tiers_summary_escapes_venue_ids(odd: tg.Trace) -> None:
    ax = plot_tiers(odd, max_nodes=0)
    render(ax.figure)
    names = [t.get_text() for t in ax.child_axes[1].get_yticklabels()]
    assert sorted(names) == sorted(tgplot._plain(v) for v in (CAFE, GYM))


def test_tiers_labels_can_be_turned_off_and_on(odd: tg.Trace) -> None:
    assert texts(plot_tiers(odd, labels=False), tgplot.GID_LABEL) == []
    assert len(texts(plot_tiers(odd, labels=True), tgplot.GID_LABEL)) == 4


def test_tiers_of_an_empty_trace(odd: tg.Trace) -> None:
    empty = tg.trace(odd.index, ["nobody"], unknown="drop")
    ax = plot_tiers(empty)
    render(ax.figure)
    assert len(collection(ax, tgplot.GID_NODES).get_offsets()) == 0


def test_tiers_draws_into_a_given_axes(odd: tg.Trace) -> None:
    fig, ax = plt.subplots()
    assert plot_tiers(odd, ax=ax) is ax
    assert plot_tiers(odd, ax=ax, max_nodes=0) is ax
    assert plt.get_fignums() == [fig.number]


@pytest.mark.parametrize(
    ("max_nodes", "error", "match"),
    [(-1, ValueError, "expected an int >= 0"), ("10", TypeError, "expected an int")],
)
def test_tiers_rejects_bad_max_nodes(odd: tg.Trace, max_nodes: Any, error: Any, match: str) -> None:
    with pytest.raises(error, match=match):
        plot_tiers(odd, max_nodes=max_nodes)


def test_layers_follow_bfs_from_the_cases(city_trace: tg.Trace) -> None:
    graph = city_trace.to_networkx()
    cases = [n for n, t in graph.nodes(data="tier") if t == 0]
    nodes, x, _ = tgplot._layers(graph)
    layer_of = {n: k for k, layer in enumerate(nx.bfs_layers(graph, cases)) for n in layer}
    assert [layer_of[n] for n in nodes] == list(x)


# --------------------------------------------------------------------------- compliance

WEEK_US = 7 * 86_400 * 1_000_000
PERIOD = pa.timestamp("us", tz="Asia/Ho_Chi_Minh")


def report(
    areas: dict[str, list[Any]], counts: list[tuple[int, int, int]], n_periods: int
) -> pa.Table:
    """A report of ``n_periods`` weeks, each with the rows ``areas``/``counts``."""
    rows = len(counts)
    period = [k * WEEK_US for k in range(n_periods) for _ in range(rows)]
    registered = [c[0] + k for k in range(n_periods) for c in counts]
    active = [c[1] for _ in range(n_periods) for c in counts]
    scans = [c[2] for _ in range(n_periods) for c in counts]
    columns: dict[str, Any] = {
        "period": pa.array(period, PERIOD),
        "period_end": pa.array([p + WEEK_US for p in period], PERIOD),
    }
    for name, values in areas.items():
        columns[name] = pa.array(values * n_periods, pa.string())
    columns |= {
        "registered": pa.array(registered, pa.int64()),
        "active": pa.array(active, pa.int64()),
        "share": pa.array([a / r if r else None for a, r in zip(active, registered, strict=True)]),
        "scans": pa.array(scans, pa.int64()),
        "scans_per_venue": pa.array(
            [s / a if a else None for s, a in zip(scans, active, strict=True)]
        ),
    }
    return pa.table(columns)


AREAS = {"district": ["D1", "D1", "D3"], "ward": ["W1", "W2", "W9"]}
COUNTS = [(100, 50, 1000), (20, 0, 0), (60, 30, 300)]


def ydata(ax: Any) -> dict[str, np.ndarray]:
    return {line.get_label(): np.asarray(line.get_ydata(), float) for line in ax.get_lines()}


def test_compliance_one_line_per_first_area_with_share_recomputed() -> None:
    table = report(AREAS, COUNTS, n_periods=3)
    ax = plot_compliance(table)
    render(ax.figure)
    lines = ydata(ax)
    assert list(lines) == ["D1", "D3"]  # busiest first
    # D1 sums its two wards: (50 + 0) / (100 + k + 20 + k)
    assert lines["D1"] == pytest.approx([50 / (120 + 2 * k) for k in range(3)])
    assert lines["D3"] == pytest.approx([30 / (60 + k) for k in range(3)])
    assert ax.get_legend().get_title().get_text() == "district"
    x = ax.get_lines()[0].get_xdata()
    assert np.diff(x) == pytest.approx([7, 7])  # weekly, in days


def test_compliance_by_finest_area_equals_the_reports_own_values() -> None:
    table = report(AREAS, COUNTS, n_periods=2)
    for metric in ("share", "scans_per_venue", "scans"):
        lines = ydata(plot_compliance(table, by="ward", metric=metric))
        assert list(lines) == ["D1 / W1", "D3 / W9", "D1 / W2"]  # a ward of its district
        for label, values in lines.items():
            rows = table.filter(pc.equal(table["ward"], label.split(" / ")[1]))
            want = [np.nan if v is None else v for v in rows[metric].to_pylist()]
            np.testing.assert_allclose(values, want)  # W2: nothing active, no ratio


def test_compliance_wards_of_one_name_in_two_districts_are_two_lines() -> None:
    # Ho Chi Minh City has a "Phuong 1" in many districts: never one merged line
    table = report(
        {"district": ["Quan 3", "Quan 10"], "ward": ["Phuong 1", "Phuong 1"]},
        [(10, 10, 40), (30, 0, 0)],
        n_periods=1,
    )
    ax = plot_compliance(table, by="ward")
    assert ydata(ax) == {"Quan 10 / Phuong 1": [0.0], "Quan 3 / Phuong 1": [1.0]}
    assert ax.get_legend().get_title().get_text() == "district / ward"


def test_compliance_of_many_periods_still_shows_a_lone_value() -> None:
    # beyond 30 periods lines have no markers; a value between two gaps (scans per
    # venue in the one week a ward had scans) then drew nothing at all
    n = 40
    active = [0] * n
    active[20] = 4  # a lone week of scans
    active[30] = active[31] = 2  # two weeks: a segment
    table = report({"district": ["D1"]}, [(10, 0, 0)], n_periods=n)
    table = table.set_column(4, "active", pa.array(active, pa.int64()))
    table = table.set_column(6, "scans", pa.array([8 * a for a in active], pa.int64()))
    ax = plot_compliance(table, metric="scans_per_venue")
    (line,) = ax.get_lines()
    y = np.asarray(line.get_ydata(), float)
    assert np.flatnonzero(np.isfinite(y)).tolist() == [20, 30, 31]
    marked = np.zeros(n, dtype=bool)
    every = line.get_markevery()
    if line.get_marker() not in ("None", "", None, " "):
        marked[every if every is not None else slice(None)] = True
    assert marked.tolist() == [k == 20 for k in range(n)]  # only the lone value
    assert render(ax.figure).size
    plt.close(ax.figure)


def test_compliance_city_wide_without_area_columns() -> None:
    table = report({}, [(10, 5, 50)], n_periods=4)
    ax = plot_compliance(table, metric="scans_per_venue")
    render(ax.figure)
    assert list(ydata(ax)) == ["city-wide"]
    assert ydata(ax)["city-wide"] == pytest.approx([10.0] * 4)
    assert "city-wide" in ax.get_title()


def test_compliance_caps_lines_and_sums_the_rest_into_other() -> None:
    names = [f"D{i:02d}" for i in range(12)]
    counts = [(10 * (i + 1), i, 7) for i in range(12)]  # D11 has the most registered
    table = report({"district": names}, counts, n_periods=2)
    ax = plot_compliance(table, metric="registered", max_lines=5)
    render(ax.figure)
    lines = ydata(ax)
    assert list(lines) == ["D11", "D10", "D09", "D08", "other (8 areas)"]
    assert lines["other (8 areas)"] == pytest.approx(
        [sum(c[0] + k for c in counts[:8]) for k in range(2)]
    )
    assert len(ax.get_lines()) == 5


def test_compliance_missing_area_and_odd_names_render() -> None:
    table = report({"district": [A, None, B]}, COUNTS, n_periods=2)
    ax = plot_compliance(table)
    render(ax.figure)
    assert sorted(ydata(ax)) == sorted([tgplot._plain(A), "(missing)", B])


@pytest.mark.parametrize("kind", ["pandas", "polars", "batch"])
def test_compliance_accepts_other_tables(kind: str) -> None:
    table = report(AREAS, COUNTS, n_periods=2)
    if kind == "batch":
        data: Any = table.to_batches()[0]
    else:
        module = pytest.importorskip(kind)
        data = table.to_pandas() if kind == "pandas" else module.from_arrow(table)
    lines = ydata(plot_compliance(data))
    assert list(lines) == ["D1", "D3"]


def test_compliance_draws_into_a_given_axes() -> None:
    fig, ax = plt.subplots()
    assert plot_compliance(report(AREAS, COUNTS, 2), ax=ax) is ax
    assert plt.get_fignums() == [fig.number]


def test_compliance_empty_report_renders() -> None:
    ax = plot_compliance(report(AREAS, COUNTS, 0))
    render(ax.figure)
    assert ax.get_lines() == []


def _drop(table: pa.Table, name: str) -> pa.Table:
    return table.drop_columns([name])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda t: _drop(t, "scans"), r"column `scans` not found; .*available: \["),
        (
            lambda t: t.set_column(2, "district", pa.array([1, 2, 3] * 2)),
            "`district`: expected area names",
        ),
        (lambda t: t.set_column(0, "period", pa.array(range(6))), "`period`: expected a timestamp"),
        (
            lambda t: t.set_column(4, "registered", pa.array([1.5] * 6)),
            "`registered`: expected an integer",
        ),
        (
            lambda t: t.set_column(5, "active", pa.array([1, None] * 3)),
            "`active`: expected no nulls",
        ),
        (lambda t: t.set_column(6, "share", pa.array(["x"] * 6)), "`share`: expected a float"),
    ],
)
def test_compliance_schema_errors(change: Any, match: str) -> None:
    table = report(AREAS, COUNTS[:1] * 3, n_periods=2)
    with pytest.raises(tg.SchemaError, match=match):
        plot_compliance(change(table))


def test_compliance_argument_errors() -> None:
    table = report(AREAS, COUNTS, 2)
    with pytest.raises(
        tg.SchemaError,
        match=r"`by`: expected one of the report's area columns \['district', 'ward'\], got 'city'",
    ):
        plot_compliance(table, by="city")
    with pytest.raises(ValueError, match="`metric`: expected one of"):
        plot_compliance(table, metric="ratio")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`max_lines`: expected an int >= 1"):
        plot_compliance(table, max_lines=0)
    with pytest.raises(tg.SchemaError, match=r"expected a pyarrow\.Table"):
        plot_compliance([1, 2, 3])


# --------------------------------------------------------------------------- matplotlib missing


def test_without_matplotlib_the_error_names_the_extra(odd: tg.Trace, monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    for call in (
        lambda: plot_tiers(odd),
        lambda: plot_timeline(odd, A),
        lambda: plot_compliance(report({}, [(1, 1, 1)], 1)),
    ):
        with pytest.raises(ImportError, match=r"tracegraph\[plot\]"):
            call()


def test_module_imports_without_matplotlib() -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import tracegraph.plot\n"
        "assert sys.modules['matplotlib'] is None\n"
        "assert not [m for m in sys.modules if m.startswith('matplotlib.')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_timeline_of_ids_no_int64_holds() -> None:
    # uint64 ids of 2**63 and more (hashes, say) trace and explain: they plot too
    big = 2**63 + 5
    stays = pa.table(
        {
            "person": pa.array([big, big + 1], pa.uint64()),
            "venue": [10, 10],
            "start": pa.array([0, 10]).cast(TS),
            "end": pa.array([100, 200]).cast(TS),
        }
    )
    result = tg.trace(tg.VenueIndex.from_stays(stays), [big])
    ax = plot_timeline(result, big + 1)
    assert len(ax.patches) >= 1  # the contact's stay
    plt.close("all")


def test_timeline_near_the_calendars_ends_in_any_zone() -> None:
    # an exposure at 9999-12-31 22:59 UTC is in the year 10000 in Tokyo: the title
    # says it in UTC (a raw OverflowError before)
    last = 253_402_300_799
    stays = pa.table(
        {
            "person": ["a", "b"],
            "venue": ["v", "v"],
            "start": pa.array([last - 7200, last - 3600]).cast(TS),
            "end": pa.array([last, last]).cast(TS),
        }
    )
    result = tg.trace(tg.VenueIndex.from_stays(stays), ["a"])
    ax = plot_timeline(result, "b", tz="Asia/Tokyo")
    assert "exposed at 9999-12-31 22:59 UTC" in ax.get_title()
    # and the figure draws: the axis' left limit, past the last date the zone can
    # show, failed in matplotlib's tick locator (a raw OverflowError when displayed)
    first = -62_135_596_800  # 0001-01-01 00:00 UTC: the year 0 west of UTC
    early = stays.set_column(2, "start", pa.array([first, first + 600]).cast(TS))
    early = early.set_column(3, "end", pa.array([first + 7200, first + 3600]).cast(TS))
    for traced in (result, tg.trace(tg.VenueIndex.from_stays(early), ["a"])):
        for zone in ("Asia/Tokyo", "Pacific/Kiritimati", "UTC", "Etc/GMT+12"):
            for person in ("a", "b"):
                ax = plot_timeline(traced, person, tz=zone)
                assert render(ax.figure).size
                left, right = ax.get_xlim()
                assert left < right
                plt.close(ax.figure)
    plt.close("all")


def test_arguments_of_the_wrong_kind_are_argument_errors(odd: tg.Trace) -> None:
    # (a Figure or an array of axes for ax=: raw AttributeErrors deep in the drawing;
    # metric=["share"]: an unhashable TypeError; labels="no": every id drawn)
    fig, axs = plt.subplots(1, 2)
    table = report(AREAS, COUNTS, 2)
    for bad, hint in ((fig, "Figure"), (axs, r"ndarray; pass one of them, e\.g\. axs\[0\]")):
        for call in (
            lambda bad=bad: plot_timeline(odd, A, ax=bad),
            lambda bad=bad: plot_tiers(odd, ax=bad),
            lambda bad=bad: plot_compliance(table, ax=bad),
        ):
            with pytest.raises(
                tg.ArgumentError, match=rf"^`ax`: expected a matplotlib Axes, got {hint}"
            ):
                call()
    with pytest.raises(tg.ArgumentError, match="`metric`: expected one of"):
        plot_compliance(table, metric=["share"])  # type: ignore[arg-type]
    with pytest.raises(tg.ArgumentError, match=r"`labels`: expected True, False or None, got 'no'"):
        plot_tiers(odd, labels="no")  # type: ignore[arg-type]


def test_a_stay_to_a_placeholder_end_of_time_still_draws() -> None:
    # a check-out never made, recorded as 9999-12-31: the axis' margin went past the
    # year 9999 and the figure failed when drawn (a raw matplotlib ValueError)
    end = 253_402_300_799  # 9999-12-31 23:59:59 UTC
    start = -62_135_596_800  # 0001-01-01 00:00 UTC
    for first, last in ((1_630_886_400, end), (start, 1_630_890_000)):
        stays = pa.table(
            {
                "person": ["a", "b"],
                "venue": ["v", "v"],
                "start": pa.array([1_630_886_400, first]).cast(TS),
                "end": pa.array([1_630_893_600, last]).cast(TS),
            }
        )
        result = tg.trace(tg.VenueIndex.from_stays(stays), ["a"])
        ax = plot_timeline(result, "b")
        assert render(ax.figure).size
        left, right = ax.get_xlim()
        assert mdates.num2date(left).year >= 1 and mdates.num2date(right).year <= 9999
