"""Tests of the synthetic city generator, tracegraph.synth."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tracegraph as tg
import tracegraph.synth
from tracegraph.errors import SchemaError, TimezoneError, TracegraphError
from tracegraph.synth import City, generate_city

HCM = 7 * 3600  # Asia/Ho_Chi_Minh is UTC+7 all year
START = dt.date(2021, 9, 6)  # a Monday


@pytest.fixture(scope="module")
def city() -> City:
    return generate_city(3_000, days=7, seed=11)


def columns(city: City) -> dict[str, np.ndarray]:
    s = city.stays
    return {
        "person": s["person"].to_numpy(),
        "venue": s["venue"].to_numpy(),
        "start": s["start"].cast(pa.int64()).to_numpy(),
        "end": s["end"].cast(pa.int64()).to_numpy(),
    }


def midnight(day: dt.date, tz: str = "Asia/Ho_Chi_Minh") -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(tz)).timestamp())


# --- determinism and schema ----------------------------------------------------------------


def test_same_seed_same_city() -> None:
    a = generate_city(500, days=3, seed=7)
    b = generate_city(500, days=3, seed=7)
    assert a.stays.equals(b.stays)
    assert a.people.equals(b.people)
    assert a.venues.equals(b.venues)
    assert a.registry.equals(b.registry)


def test_different_seed_different_city() -> None:
    a = generate_city(500, days=3, seed=7)
    b = generate_city(500, days=3, seed=8)
    assert not a.stays.equals(b.stays)
    assert not a.people.equals(b.people)
    assert not a.venues.equals(b.venues)
    assert not a.registry.equals(b.registry)


def test_int_schema(city: City) -> None:
    ts = pa.timestamp("s", tz="UTC")
    assert city.stays.schema == pa.schema(
        [("person", pa.int64()), ("venue", pa.int64()), ("start", ts), ("end", ts)]
    )
    assert city.people.schema == pa.schema(
        [("person", pa.int64()), ("district", pa.string()), ("ward", pa.string())]
    )
    assert city.venues.schema == pa.schema(
        [
            ("venue", pa.int64()),
            ("kind", pa.string()),
            ("district", pa.string()),
            ("ward", pa.string()),
            ("opens", pa.int8()),
            ("closes", pa.int8()),
            ("popularity", pa.float64()),
        ]
    )
    assert city.people["person"].to_numpy().tolist() == list(range(3_000))
    assert city.venues["venue"].to_numpy().tolist() == list(range(100))
    assert city.registry.schema == pa.schema(
        [
            ("venue", pa.int64()),
            ("name", pa.string()),
            ("district", pa.string()),
            ("ward", pa.string()),
            ("registered_at", ts),
            ("category", pa.string()),
        ]
    )
    for table in (city.stays, city.people, city.venues, city.registry):
        assert all(col.null_count == 0 for col in table.columns)


def test_str_ids_match_int_ids() -> None:
    ints = generate_city(400, days=2, seed=5)
    strs = generate_city(400, days=2, seed=5, ids="str")
    assert strs.stays.schema.field("person").type == pa.string()
    assert strs.stays.schema.field("venue").type == pa.string()
    assert strs.people.schema.field("person").type == pa.string()
    assert strs.venues.schema.field("venue").type == pa.string()
    assert strs.people["person"][:3].to_pylist() == ["P000000", "P000001", "P000002"]
    assert strs.venues["venue"][-1].as_py() == f"V{ints.venues.num_rows - 1:05d}"
    expected_p = [f"P{i:06d}" for i in ints.stays["person"].to_pylist()]
    expected_v = [f"V{i:05d}" for i in ints.stays["venue"].to_pylist()]
    assert strs.stays["person"].to_pylist() == expected_p
    assert strs.stays["venue"].to_pylist() == expected_v
    assert strs.stays.select(["start", "end"]).equals(ints.stays.select(["start", "end"]))
    assert strs.registry.schema.field("venue").type == pa.string()
    expected_r = [f"V{i:05d}" for i in ints.registry["venue"].to_pylist()]
    assert strs.registry["venue"].to_pylist() == expected_r
    assert strs.registry.drop_columns(["venue", "name"]).equals(
        ints.registry.drop_columns(["venue", "name"])
    )


def test_wide_str_ids() -> None:
    city = generate_city(20, venues=123_456, days=1, ids="str")
    assert city.venues["venue"][-1].as_py() == "V123455"
    assert city.registry["venue"][123_456].as_py() == "V123456"


def test_default_venue_count() -> None:
    assert generate_city(9_000, days=1).venues.num_rows == 300
    assert generate_city(10, days=1).venues.num_rows == 12


def test_repr_is_short(city: City) -> None:
    text = repr(city)
    assert text.startswith("City(people=3_000, venues=100, stays=")
    assert "2021-09-06..2021-09-12" in text
    assert "Asia/Ho_Chi_Minh" in text
    assert len(text) < 120


def test_start_accepts_date_and_datetime() -> None:
    a = generate_city(100, days=1, start="2021-09-08", seed=2)
    b = generate_city(100, days=1, start=dt.date(2021, 9, 8), seed=2)
    c = generate_city(100, days=1, start=dt.datetime(2021, 9, 8, 13, 30), seed=2)
    assert a.stays.equals(b.stays)
    assert a.stays.equals(c.stays)
    assert b.start == dt.date(2021, 9, 8)


# --- the stays --------------------------------------------------------------------------


def test_end_not_before_start_and_sorted(city: City) -> None:
    c = columns(city)
    assert (c["end"] >= c["start"]).all()
    assert (np.diff(c["start"]) >= 0).all()
    assert len(c["start"]) > 3_000 * 7 * 2


def test_stays_within_simulated_days(city: City) -> None:
    c = columns(city)
    first, after = midnight(START), midnight(START + dt.timedelta(days=7))
    assert c["start"].min() >= first
    assert c["start"].max() < after
    # Only night shifts go on after the last day, until the next morning.
    assert c["end"].max() < after + 12 * 3600
    assert (c["end"] > after).sum() < 0.01 * len(c["end"])


def test_every_person_and_venue_is_known(city: City) -> None:
    c = columns(city)
    assert c["person"].min() >= 0
    assert c["person"].max() < city.people.num_rows
    assert c["venue"].min() >= 0
    assert c["venue"].max() < city.venues.num_rows


def test_stays_per_person_day_near_visits_per_day() -> None:
    for rate in (1.5, 3.0, 5.0):
        city = generate_city(2_000, days=7, visits_per_day=rate, seed=4)
        mean = city.stays.num_rows / (2_000 * 7)
        assert 0.85 * rate < mean <= 1.02 * rate, (rate, mean)


def test_zero_visits_means_only_work_and_school() -> None:
    city = generate_city(1_000, days=2, visits_per_day=0, seed=3)
    assert city.stays.num_rows > 0
    c = columns(city)
    # Everybody has at most one stay a day: the shift.
    day = (c["start"] + HCM) // 86_400
    _, counts = np.unique(c["person"] * 10 + day, return_counts=True)
    assert counts.max() == 1


def test_no_overlap_for_a_person(city: City) -> None:
    c = columns(city)
    order = np.lexsort((c["start"], c["person"]))
    person, start, end = c["person"][order], c["start"][order], c["end"][order]
    same = person[1:] == person[:-1]
    assert same.sum() > 10_000
    assert (start[1:][same] >= end[:-1][same]).all()


def test_heavy_tail() -> None:
    city = generate_city(20_000, days=2, seed=2)
    counts = np.bincount(columns(city)["venue"], minlength=city.venues.num_rows)
    top = np.sort(counts)[::-1][: city.venues.num_rows // 100]
    # Uniform popularity would give the top 1 % of venues about 1 % of the stays.
    assert top.sum() > 0.10 * counts.sum()
    assert np.median(counts) < 0.55 * counts.mean()
    popularity = city.venues["popularity"].to_numpy()
    assert (popularity > 0).all()
    assert popularity.max() > 20 * np.median(popularity)


def test_long_stays_exist(city: City) -> None:
    c = columns(city)
    hours = (c["end"] - c["start"]) / 3600
    assert (hours >= 12).sum() > 100
    assert hours.max() <= 18
    # Mostly short visits all the same.
    assert np.median(hours) < 1.5


def test_co_presence(city: City) -> None:
    c = columns(city)
    order = np.lexsort((c["start"], c["venue"]))
    venue, person = c["venue"][order], c["person"][order]
    start, end = c["start"][order], c["end"][order]
    together = (venue[1:] == venue[:-1]) & (start[1:] < end[:-1]) & (person[1:] != person[:-1])
    # Consecutive check-ins at a venue overlapping in time, by different people.
    assert together.sum() > 0.3 * len(venue)


def test_within_opening_hours(city: City) -> None:
    c = columns(city)
    venues = city.venues
    opens = venues["opens"].to_numpy().astype(np.int64)[c["venue"]] * 3600
    closes = venues["closes"].to_numpy().astype(np.int64)[c["venue"]] * 3600
    always = (opens == 0) & (closes == 24 * 3600)
    local_midnight = (c["start"] + HCM) // 86_400 * 86_400 - HCM
    assert (c["start"] - local_midnight >= opens)[~always].all()
    assert (c["end"] - local_midnight <= closes)[~always].all()
    assert (venues["opens"].to_numpy() < venues["closes"].to_numpy()).all()


def test_people_and_venues_tables(city: City) -> None:
    districts = set(city.people["district"].to_pylist())
    assert len(districts) == 12
    wards = city.people["ward"].to_pylist()
    homes = city.people["district"].to_pylist()
    assert all(w.startswith(d + "-W") for w, d in zip(wards, homes, strict=True))
    assert len(set(wards)) > 100
    kinds = set(city.venues["kind"].to_pylist())
    assert {"office", "factory", "school", "market", "shop", "restaurant", "hospital"} <= kinds


def test_weekend_differs(city: City) -> None:
    c = columns(city)
    kind = np.asarray(city.venues["kind"].to_pylist())[c["venue"]]
    day = (c["start"] + HCM) // 86_400 - (midnight(START) + HCM) // 86_400
    monday, sunday = day == 0, day == 6
    office_monday = (kind[monday] == "office").sum()
    assert office_monday > 500
    assert (kind[sunday] == "office").sum() < 0.05 * office_monday
    assert (kind[sunday] == "school").sum() == 0
    assert (kind[sunday] == "mall").sum() > 1.5 * (kind[monday] == "mall").sum()


def test_markets_at_dawn(city: City) -> None:
    c = columns(city)
    kind = np.asarray(city.venues["kind"].to_pylist())[c["venue"]]
    hour = (c["start"] + HCM) % 86_400 / 3600
    market = hour[kind == "market"]
    assert np.median(market) < 10
    minutes = (c["end"] - c["start"])[kind == "market"] / 60
    assert 20 < np.median(minutes) < 60


def test_tiny_cities() -> None:
    one = generate_city(1, days=1)
    assert one.people.num_rows == 1
    few = generate_city(50, venues=3, days=2)
    assert few.venues.num_rows == 3
    assert few.stays.num_rows > 0
    assert set(few.venues["kind"].to_pylist()) == {"shop", "restaurant", "market"}


@pytest.mark.parametrize(
    ("tz", "start"),
    [
        ("Europe/Berlin", "2021-03-27"),  # a 23-hour day
        ("Europe/Berlin", "2021-10-30"),  # a 25-hour day
        ("America/Santiago", "2021-09-03"),  # midnight skipped on 2021-09-05
        ("Pacific/Apia", "2011-12-29"),  # 2011-12-30 never happened in Samoa
        ("UTC", "2021-09-06"),
    ],
)
def test_other_time_zones(tz: str, start: str) -> None:
    city = generate_city(800, days=3, start=start, tz=tz, seed=9)
    c = columns(city)
    first = dt.date.fromisoformat(start)
    assert (c["end"] >= c["start"]).all()
    assert (np.diff(c["start"]) >= 0).all()
    assert c["start"].min() >= midnight(first, tz)
    assert c["start"].max() < midnight(first + dt.timedelta(days=3), tz)
    order = np.lexsort((c["start"], c["person"]))
    same = c["person"][order][1:] == c["person"][order][:-1]
    assert (c["start"][order][1:][same] >= c["end"][order][:-1][same]).all()


# --- Parquet ------------------------------------------------------------------------------


@pytest.mark.parametrize("ids", ["int", "str"])
def test_parquet_round_trip(tmp_path, ids: str) -> None:
    city = generate_city(300, days=2, ids=ids, seed=1)
    paths = city.write_parquet(tmp_path / "out")
    assert set(paths) == {"stays", "people", "venues", "registry"}
    tables = {
        "stays": city.stays,
        "people": city.people,
        "venues": city.venues,
        "registry": city.registry,
    }
    for name, table in tables.items():
        assert paths[name] == tmp_path / "out" / f"{name}.parquet"
        # Plain readers get milliseconds (Parquet has no seconds), the same instants.
        back = pq.read_table(paths[name], schema=table.schema)
        assert back.equals(table)
    again = City.read_parquet(tmp_path / "out")
    assert again.stays.schema == city.stays.schema
    assert again.stays.equals(city.stays)
    assert again.people.equals(city.people)
    assert again.venues.equals(city.venues)
    assert again.registry.schema == city.registry.schema
    assert again.registry.equals(city.registry)
    assert (again.start, again.days, again.tz) == (city.start, city.days, city.tz)
    assert repr(again) == repr(city)
    meta = pq.ParquetFile(paths["stays"]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_read_parquet_needs_our_metadata(tmp_path) -> None:
    city = generate_city(50, days=1)
    city.write_parquet(tmp_path)
    pq.write_table(city.stays, tmp_path / "stays.parquet")
    with pytest.raises(ValueError, match=r"expected a file written by City\.write_parquet"):
        City.read_parquet(tmp_path)


def test_read_parquet_needs_the_registry(tmp_path) -> None:
    generate_city(50, days=1).write_parquet(tmp_path)
    (tmp_path / "registry.parquet").unlink()
    with pytest.raises(SchemaError, match=r"expected registry\.parquet .* generate it again"):
        City.read_parquet(tmp_path)


# --- bad arguments ------------------------------------------------------------------------


BAD_ZONE = "`tz`: expected a valid IANA zone name or a fixed offset such as '+07:00', got "


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"people": 0}, "`people`: expected an integer >= 1, got 0"),
        ({"people": -5}, "`people`: expected an integer >= 1, got -5"),
        ({"people": 2.5}, "`people`: expected an integer >= 1, got 2.5"),
        ({"people": True}, "`people`: expected an integer >= 1, got True"),
        # (numpy's raw "repeats may not contain negative values" before)
        ({"people": 2**70}, f"`people`: expected fewer than 2**31 people, got {2**70}"),
        ({"venues": 2**40}, f"`venues`: expected fewer than 2**31 venues, got {2**40}"),
        ({"days": 0}, "`days`: expected an integer >= 1, got 0"),
        ({"venues": 0}, "`venues`: expected None or an integer >= 1, got 0"),
        ({"ids": "uuid"}, "`ids`: expected 'int' or 'str', got 'uuid'"),
        (
            {"tz": "Mars/Olympus"},
            BAD_ZONE + "'Mars/Olympus'",
        ),
        (
            {"tz": "../etc"},
            BAD_ZONE + "'../etc'",
        ),
        # zones Python reads but Arrow (so the rest of tracegraph) does not
        (
            {"tz": "right/UTC"},
            BAD_ZONE + "'right/UTC'",
        ),
        (
            {"tz": "Factory"},
            BAD_ZONE + "'Factory'",
        ),
        (
            {"start": "0001-01-01"},
            "`start`: expected a date from 0001-02-28 on (venues register up to 56 days "
            "before it, within the calendar), got 0001-01-01",
        ),
        ({"visits_per_day": -1.0}, "`visits_per_day`: expected a finite number >= 0, got -1.0"),
        (
            {"visits_per_day": float("nan")},
            "`visits_per_day`: expected a finite number >= 0, got nan",
        ),
        ({"start": "6/9/2021"}, "`start`: expected a date such as '2021-09-06', got '6/9/2021'"),
        ({"start": 20210906}, "`start`: expected a str or datetime.date, got 20210906"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    args = {"people": 10, "days": 1} | kwargs
    people = args.pop("people")
    with pytest.raises(ValueError, match="expected") as info:
        generate_city(people, **args)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert isinstance(info.value, TracegraphError)


def test_a_fixed_offset_zone_makes_the_city_of_the_named_zone(tmp_path) -> None:
    # Vietnam has kept +07:00 since 1975: the same local midnights, the same city
    fixed = generate_city(300, days=3, seed=4, tz="+07:00")
    named = generate_city(300, days=3, seed=4, tz="Asia/Ho_Chi_Minh")
    assert fixed.tz == "+07:00"
    assert fixed.stays.equals(named.stays) and fixed.registry.equals(named.registry)
    fixed.write_parquet(tmp_path / "city")
    assert City.read_parquet(tmp_path / "city").tz == "+07:00"
    # (a zone object, as zoneinfo gives it: told to pass its name)
    with pytest.raises(TimezoneError, match=r"got ZoneInfo; pass its name, 'Asia/Ho_Chi_Minh'$"):
        generate_city(10, days=1, tz=zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh"))  # type: ignore[arg-type]


def test_extreme_but_valid_arguments_make_a_usable_city() -> None:
    # (1e20 visits a day was numpy's raw "lam value too large"; a day holds <= 10)
    busy = generate_city(10, days=1, seed=1, visits_per_day=1e20)
    assert busy.stays.num_rows > 0
    early = generate_city(10, days=1, seed=1, start="0001-02-28")
    assert tg.VenueIndex.from_stays(early.stays).n_stays == early.stays.num_rows
    assert tg.compliance(early.registry, early.stays, by=(), tz=early.tz).num_rows > 0


def test_text_venue_ids_have_one_width_for_the_city_and_the_registry() -> None:
    # 99,000 venues and 1,980 registry-only ones: V000000 .. V100979, in id order
    city = generate_city(20, venues=99_000, days=1, seed=1, ids="str")
    ids = city.registry["venue"].to_pylist()
    assert ids == sorted(ids) and ids[0] == "V000000" and ids[-1] == "V100979"
    assert {len(v) for v in city.stays["venue"].to_pylist()} == {7}


def test_people_return_to_favourite_venues():
    """Preferential return: most discretionary visits (under 3 h) go to a venue the
    person has visited before. Independent draws by popularity give about 0.44 here;
    the habit model gives about 0.56."""
    city = generate_city(3000, days=14, seed=4)
    t = city.stays
    length = t["end"].to_numpy().astype("int64") - t["start"].to_numpy().astype("int64")
    short = length < 3 * 3600
    pairs = t["person"].to_numpy()[short] * 10**7 + t["venue"].to_numpy()[short]
    repeat_share = 1 - np.unique(pairs).size / pairs.size
    assert repeat_share > 0.5


# --- the QR registry ----------------------------------------------------------------------


def test_registry_lists_every_venue_and_a_few_more(city: City) -> None:
    reg = city.registry
    ids = reg["venue"].to_numpy()
    assert ids.tolist() == list(range(reg.num_rows))  # id order, fresh ids after the venues
    m = city.venues.num_rows
    assert reg.num_rows == m + 2  # max(2, round(0.02 * 100))
    head = reg.slice(0, m)
    for ours, theirs in (("venue", "venue"), ("category", "kind"), ("district", "district")):
        assert head[ours].equals(city.venues[theirs])
    assert head["ward"].equals(city.venues["ward"])
    assert reg["name"][5].as_py() == f"{reg['category'][5].as_py().capitalize()} 5"
    assert len(set(reg["name"].to_pylist())) == reg.num_rows
    # the registry-only venues are never scanned, and have real places and kinds
    assert not np.isin(ids[m:], city.stays["venue"].to_numpy()).any()
    assert set(reg["category"].to_pylist()) <= set(tracegraph.synth._KIND_NAMES)
    wards = reg["ward"].to_pylist()
    assert all(
        w.startswith(d + "-W") for d, w in zip(reg["district"].to_pylist(), wards, strict=True)
    )


def test_registry_times(city: City) -> None:
    reg = city.registry
    at = reg["registered_at"].cast(pa.int64()).to_numpy()
    first = midnight(START)
    second = midnight(START + dt.timedelta(days=1))
    end = midnight(START + dt.timedelta(days=7))
    early = at < first
    assert (at[early] >= first - 56 * 86_400).all()
    assert 0.8 < early.mean() < 0.98  # about 10 % late
    assert (at < end).all()
    m = city.venues.num_rows
    # a late venue registered after the first midnight, before its first check-in
    c = columns(city)
    order = np.argsort(c["start"], kind="stable")
    seen, where = np.unique(c["venue"][order], return_index=True)
    first_stay = dict(zip(seen.tolist(), c["start"][order][where].tolist(), strict=True))
    late = np.flatnonzero(~early[:m])
    assert late.size >= 3
    assert all(at[v] <= first_stay.get(v, end) for v in late.tolist())
    # the first registry-only venue registered after the first day
    assert at[m] >= second


def test_registry_of_one_day_city_has_a_late_venue() -> None:
    city = generate_city(40, days=1, seed=3)
    at = city.registry["registered_at"].cast(pa.int64()).to_numpy()
    first = midnight(START)
    assert ((at >= first) & (at < midnight(START + dt.timedelta(days=1)))).any()


def test_registry_does_not_change_the_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry draws from its own stream: drawing more there leaves the stays alone."""
    plain = generate_city(600, days=2, seed=21)
    real = tracegraph.synth._registry

    def greedy(rng: np.random.Generator, *args: object) -> pa.Table:
        rng.random(10_000)
        return real(rng, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(tracegraph.synth, "_registry", greedy)
    other = generate_city(600, days=2, seed=21)
    assert other.stays.equals(plain.stays)
    assert other.venues.equals(plain.venues)
    assert not other.registry.equals(plain.registry)


@pytest.mark.parametrize("seed", [-1, "abc", 1.5, True])
def test_seed_must_be_none_or_a_non_negative_integer(seed) -> None:
    with pytest.raises(SchemaError, match="`seed`: expected None or an integer >= 0"):
        generate_city(50, days=1, seed=seed)


@pytest.mark.parametrize("start, days", [("9999-12-25", 10), ("9999-12-31", 1)])
def test_days_past_the_calendar_are_refused_before_simulating(start, days) -> None:
    with pytest.raises(SchemaError, match="end before 9999-12-31"):
        generate_city(50, days=days, start=start)


def test_read_parquet_errors_are_schema_errors(tmp_path) -> None:
    city = generate_city(50, days=1, seed=1)
    folder = tmp_path / "city"
    city.write_parquet(folder)
    assert City.read_parquet(folder).stays.equals(city.stays)
    (folder / "people.parquet").unlink()
    with pytest.raises(SchemaError, match=r"expected people\.parquet"):
        City.read_parquet(folder)
    city.write_parquet(folder)
    (folder / "stays.parquet").write_bytes(b"not parquet")
    with pytest.raises(SchemaError, match="not a readable Parquet file"):
        City.read_parquet(folder)
    city.write_parquet(folder)
    stays = pq.read_table(folder / "stays.parquet")
    pq.write_table(
        stays.replace_schema_metadata({"tracegraph.synth": "{}"}), folder / "stays.parquet"
    )
    with pytest.raises(SchemaError, match="holding start, days and tz"):
        City.read_parquet(folder)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # (an array of one "str" passed `in ("int", "str")` and gave integer ids)
        ({"ids": np.array(["str"])}, r"`ids`: expected 'int' or 'str', got array\(\['str'\]"),
        # (numpy's "truth value of an array ... is ambiguous")
        ({"ids": np.array(["int", "str"])}, r"`ids`: expected 'int' or 'str', got array"),
        # (Python's "int too large to convert to float", as 10**400 visits below)
        ({"visits_per_day": -(10**400)}, r"`visits_per_day`: expected a finite number >= 0"),
    ],
)
def test_arguments_that_slipped_through(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        generate_city(10, days=1, **kwargs)  # type: ignore[arg-type]


def test_visits_per_day_beyond_floats_is_a_full_day() -> None:
    # (Python's "int too large to convert to float" before; 1e20 was already a full day)
    huge = generate_city(10, days=1, seed=1, visits_per_day=10**400)
    assert huge.stays.equals(generate_city(10, days=1, seed=1, visits_per_day=1e300).stays)


# --- what the docstring says, measured ----------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "low", "high"),
    [(0, 0.5, 0.75), (0.5, 0.7, 0.95), (6, 4.8, 5.5), (10, 6.5, 7.5), (1e6, 7.0, 8.0)],
)
def test_stays_per_person_day_outside_one_to_five(rate: float, low: float, high: float) -> None:
    # (the docstring said only "mean number of stays per person and day": work days keep
    # small rates above it, and a day holds no more than about 8 stays on average)
    city = generate_city(2_000, days=7, visits_per_day=rate, seed=4)
    assert low < city.stays.num_rows / (2_000 * 7) < high


def test_top_venues_share_of_stays() -> None:
    # (the docstring said 13-21 % for every city; it grows with the city)
    city = generate_city(20_000, days=7, seed=2)
    counts = np.bincount(columns(city)["venue"], minlength=city.venues.num_rows)
    top = np.sort(counts)[::-1][: city.venues.num_rows // 100]
    assert 0.12 < top.sum() / counts.sum() < 0.19


def test_stays_start_before_23_and_end_by_16_30_the_next_day(city: City) -> None:
    c = columns(city)
    seconds = (c["start"] + HCM) % 86_400
    assert seconds.max() < 23 * 3600
    day_of_start = (c["start"] + HCM) // 86_400 * 86_400 - HCM
    assert (c["end"] - day_of_start).max() <= (24 + 16.5) * 3600


@pytest.mark.parametrize("directory", [None, 3, b"city", ["city"]])
def test_parquet_folder_must_be_a_path(directory: object) -> None:
    # (pathlib's TypeError before; the rest of tracegraph says this as an ArgumentError)
    city = generate_city(10, days=1)
    message = r"`directory`: expected a path \(str or os\.PathLike\), got "
    with pytest.raises(tg.ArgumentError, match=message + type(directory).__name__):
        city.write_parquet(directory)  # type: ignore[arg-type]
    with pytest.raises(tg.ArgumentError, match=message + type(directory).__name__):
        City.read_parquet(directory)  # type: ignore[arg-type]


def test_numpy_integers_and_a_datetimes_own_date_are_taken_as_documented() -> None:
    plain = generate_city(300, venues=20, days=2, seed=6, start="2021-09-08")
    numpy = generate_city(
        np.int32(300),
        venues=np.uint64(20),
        days=np.int16(2),
        seed=np.int64(6),
        start=dt.datetime(2021, 9, 8, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    )  # type: ignore[arg-type]
    assert numpy.stays.equals(plain.stays) and numpy.registry.equals(plain.registry)
    assert (numpy.days, numpy.start) == (2, dt.date(2021, 9, 8))
    assert type(numpy.days) is int


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"people": 1e5}, "`people`: expected an integer >= 1, got 100000.0 (write 100_000)"),
        (
            {"venues": np.float64(300)},
            "`venues`: expected None or an integer >= 1, got np.float64(300.0) (write 300)",
        ),
        ({"days": 7.0}, "`days`: expected an integer >= 1, got 7.0 (write 7)"),
    ],
)
def test_whole_floats_get_a_hint(kwargs: dict[str, object], message: str) -> None:
    # (1e5 people is a natural thing to type in a notebook)
    args = {"people": 10, "days": 1} | kwargs
    people = args.pop("people")
    with pytest.raises(SchemaError) as info:
        generate_city(people, **args)  # type: ignore[arg-type]
    assert str(info.value) == message
