"""Keeping an index up to date day by day: append, purge, save over, open (review tests).

After any sequence of appends and purges the index must answer exactly as an index built
from scratch on the same stays; append and purge must not copy what they need not; a
pseudonymized index must not take raw ids.
"""

from __future__ import annotations

import functools
import tracemalloc
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import assert_same_traces, examples

import tracegraph as tg
from tracegraph import index as index_module

DAY = 86_400
YEAR = 365 * DAY


@functools.lru_cache(maxsize=4)
def _days(seed: int) -> tuple[pa.Table, ...]:
    """A generated city's stays, split by the day they start on (UTC)."""
    stays = tg.synth.generate_city(300, days=4, seed=seed).stays
    starts = pc.cast(stays["start"], pa.int64()).to_numpy()
    day = (starts - starts.min()) // DAY
    return tuple(stays.filter(pa.array(day == k)) for k in range(int(day.max()) + 1))


def _shifted(table: pa.Table, seconds: int) -> pa.Table:
    """``table`` with its times moved by ``seconds``."""
    for name in ("start", "end"):
        moved = pc.add(pc.cast(table[name], pa.int64()), seconds).cast(
            table.schema.field(name).type
        )
        table = table.set_column(table.column_names.index(name), name, moved)
    return table


def _rows(index: tg.VenueIndex) -> list[tuple]:
    persons = index.persons.take(pa.array(index.person)).to_pylist()
    venues = index.venues.take(pa.array(index.venue_of())).to_pylist()
    return sorted(
        zip(
            persons,
            venues,
            index.start_seconds().tolist(),
            index.end_seconds().tolist(),
            strict=True,
        )
    )


def _same_index(got: tg.VenueIndex, built: tg.VenueIndex, cases: list) -> None:
    assert _rows(got) == _rows(built)
    assert got.persons.equals(built.persons) and got.venues.equals(built.venues)
    assert (got.origin, got.n_classes, got.bucket_width) == (
        built.origin,
        built.n_classes,
        built.bucket_width,
    )
    assert got.start.dtype == built.start.dtype
    assert_same_traces(got, built, cases, tiers=(1, 2))


_STEP = st.one_of(
    st.tuples(
        st.just("append"),
        st.integers(0, 4),  # the day (4: an empty table)
        # moved: none, a year earlier (before the origin), 80 years on (int64 offsets)
        st.sampled_from([0, 0, -YEAR, 80 * YEAR]),
    ),
    st.tuples(st.just("purge"), st.floats(-0.1, 1.1), st.sampled_from(["at", "start", "end"])),
    st.tuples(st.just("save"), st.just(0), st.just(0)),
)


@settings(max_examples=examples(0.2))
@given(seed=st.integers(1, 3), steps=st.lists(_STEP, min_size=1, max_size=6))
def test_any_appends_and_purges_answer_as_an_index_built_from_scratch(
    seed, steps, tmp_path_factory
):
    days = _days(seed)
    path = tmp_path_factory.mktemp("idx") / "city.tgidx"
    index = tg.VenueIndex.from_stays(days[0])
    kept = days[0]
    for op, arg, how in steps:
        if op == "append":
            new = _shifted(days[arg], how) if arg < len(days) else days[0].slice(0, 0)
            index = index.append(new)
            kept = pa.concat_tables([kept, new])
        elif op == "purge":
            ends = pc.cast(kept["end"], pa.int64()).to_numpy()
            if not ends.shape[0]:
                cutoff = 0
            elif how == "at":  # anywhere, before the first stay and after the last too
                lo, hi = int(ends.min()), int(ends.max())
                cutoff = int(lo + arg * (hi - lo))
            else:  # exactly at a stay's start or end
                times = pc.cast(kept[how], pa.int64()).to_numpy()
                cutoff = int(times[int(min(max(arg, 0), 0.999) * times.shape[0])])
            index = index.purge(before=cutoff)
            kept = kept.filter(pa.array(ends > cutoff))
        else:  # the nightly save over the index that services have open
            index.save(path, overwrite=True)
            index = tg.VenueIndex.open(path)
        assert index.pseudonymized is False
    built = tg.VenueIndex.from_stays(kept)
    _same_index(index, built, kept["person"][:4].to_pylist())


def test_purge_at_a_stays_end_drops_it_and_at_its_start_keeps_it():
    stays = _days(1)[1]
    index = tg.VenueIndex.from_stays(stays)
    first_end = int(index.end_seconds().min())
    at_end = index.purge(before=first_end)
    assert int(at_end.end_seconds().min()) > first_end
    assert at_end.n_stays == int((index.end_seconds() > first_end).sum())
    assert index.purge(before=int(index.start_seconds().min())).n_stays == index.n_stays
    everything = index.purge(before=int(index.end_seconds().max()))
    assert (everything.n_stays, everything.n_persons, everything.n_venues) == (0, 0, 0)
    # the empty index is appended to, saved and opened as any other
    again = everything.append(stays)
    _same_index(again, index, stays["person"][:3].to_pylist())


def _peak_bytes(call) -> int:
    """Peak memory traced by Python's allocators (numpy's included) during ``call()``."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_append_and_purge_make_no_int64_copies_of_the_index(tmp_path):
    # The index's columns are int32 offsets: append made int64 epoch copies of its start
    # and end (and their temporaries), and built a whole index of a file's stays before
    # taking its columns apart; purge did the same. Traced peaks, per stay of the index
    # (the new index's own arrays included): append 57 (a table), 73 (a file), purge 31.
    stays = tg.synth.generate_city(3000, days=3, seed=5).stays
    old = stays.num_rows * 2 // 3
    index = tg.VenueIndex.from_stays(stays.slice(0, old))
    pq.write_table(stays.slice(old), tmp_path / "day.parquet")
    cutoff = int(np.median(index.end_seconds()))
    for call in (  # (once first: kernels compiled or loaded from the cache)
        lambda: index.append(stays.slice(old)),
        lambda: index.append(tmp_path / "day.parquet"),
        lambda: index.purge(before=cutoff),
    ):
        call()
    assert _peak_bytes(lambda: index.append(stays.slice(old))) / index.n_stays < 48
    assert _peak_bytes(lambda: index.append(tmp_path / "day.parquet")) / index.n_stays < 50
    assert _peak_bytes(lambda: index.purge(before=cutoff)) / index.n_stays < 22


def test_purge_marks_the_ids_still_used_without_sorting_the_stays(monkeypatch):
    # np.unique over the kept stays' person codes took 2.3 s of a 3.3 s purge of 11M
    # stays (longer than building the index from Parquet): the ids are marked instead
    stays = _days(2)[1]
    index = tg.VenueIndex.from_stays(stays)
    cutoff = int(np.median(index.end_seconds()))
    expected = tg.VenueIndex.from_stays(
        stays.filter(pc.greater(pc.cast(stays["end"], pa.int64()), cutoff))
    )

    def refused(*args, **kwargs):
        raise AssertionError("purge sorted a column to find the ids still used")

    monkeypatch.setattr(index_module.np, "unique", refused)
    purged = index.purge(before=cutoff)
    monkeypatch.undo()
    _same_index(purged, expected, [])


def test_a_pseudonymized_index_refuses_raw_person_ids_in_append():
    key = "a long secret key for tests"
    days = _days(1)
    first, second = days[0], days[1]
    for table in (first, second):
        assert pa.types.is_integer(table.schema.field("person").type)

    def keyed(table):
        return table.set_column(0, "person", tg.pseudonymize(table["person"], key))

    index = tg.VenueIndex.from_stays(keyed(first), pseudonymized=True)
    # raw ids beside pseudonyms: other persons to the trace, and personal data kept
    text = second.set_column(0, "person", pc.cast(second["person"], pa.string()))
    for raw in (second, text):
        with pytest.raises(
            tg.SchemaError, match=r"`person`: expected pseudonyms .*tg\.pseudonymize"
        ):
            index.append(raw)
    grown = index.append(keyed(second))
    assert grown.pseudonymized and grown.n_stays == first.num_rows + second.num_rows
    # an index of ids of another shape, declared pseudonymized by its builder, takes its own
    own = first.set_column(0, "person", pc.cast(first["person"], pa.string()))
    declared = tg.VenueIndex.from_stays(own, pseudonymized=True)
    assert declared.append(text).n_stays == first.num_rows + second.num_rows
    # and an index that is not pseudonymized takes any text
    assert tg.VenueIndex.from_stays(own).append(keyed(second)).n_stays == grown.n_stays


def test_append_refuses_to_grow_an_index_past_int32_rows(monkeypatch):
    stays = _days(1)[1]
    index = tg.VenueIndex.from_stays(stays)
    monkeypatch.setattr(index_module, "_MAX_STAYS", index.n_stays + 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tg.DataWarning)  # (the repeats are not the point)
        assert index.append(stays.slice(0, 4)).n_stays == index.n_stays + 4
        with pytest.raises(tg.SchemaError, match=r"expected fewer than \d+ stays in one index"):
            index.append(stays.slice(0, 5))


def test_a_bucket_width_of_zero_is_a_duration_error_as_documented():
    stays = tg.synth.generate_city(20, days=1, seed=1).stays
    for width in (0, "0s", -60):  # (negative ones were a DurationError already)
        with pytest.raises(tg.DurationError, match=r"`bucket_width`: expected a (pos|non-neg)"):
            tg.VenueIndex.from_stays(stays, bucket_width=width)


def test_pseudonymized_takes_numpy_bools_as_progress_does():
    stays = tg.synth.generate_city(20, days=1, seed=1).stays
    index = tg.VenueIndex.from_stays(stays, pseudonymized=np.True_)
    assert index.pseudonymized is True
    assert tg.VenueIndex.from_stays(stays, pseudonymized=np.False_).pseudonymized is False
    with pytest.raises(tg.ArgumentError, match="`pseudonymized`: expected True or False"):
        tg.VenueIndex.from_stays(stays, pseudonymized=1)
