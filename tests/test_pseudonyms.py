"""Pseudonyms: keyed hashes of person ids at ingest, so an index holds no raw ids."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import tracegraph as tg

KEY = b"0123456789abcdef-tracer-secret"
TS = pa.timestamp("s", tz="UTC")


def day_of_scans(people, venue, first_second):
    n = len(people)
    return pa.table(
        {
            "person": pa.array(people),
            "venue": pa.array([venue] * n),
            "time": pa.array([first_second + 60 * i for i in range(n)], pa.int64()).cast(TS),
        }
    )


def test_no_raw_id_survives_in_scans_stays_or_index(tmp_path):
    phones = ["84912345678", "84987654321", "84900000001"]
    scans = tg.read_scans(day_of_scans(phones, "market", 0), pseudonym_key=KEY)
    stays = tg.scans_to_stays(scans, default_dwell="30min")
    index = tg.VenueIndex.from_stays(stays.stays)
    saved = index.save(tmp_path / "city.tgidx")
    for phone in phones:
        assert phone not in scans.table["person"].to_pylist()
        assert phone not in index.persons.to_pylist()
        for file in saved.iterdir():
            assert phone.encode() not in file.read_bytes(), file.name
    assert sorted(index.persons.to_pylist()) == sorted(tg.pseudonymize(phones, KEY).to_pylist())


def test_same_key_links_days_and_traces_cases():
    day1 = tg.read_scans(day_of_scans(["ann-phone", "bob-phone"], "cafe", 0), pseudonym_key=KEY)
    day2 = tg.read_scans(day_of_scans(["bob-phone", "cat-phone"], "gym", 86_400), pseudonym_key=KEY)
    scans = pa.concat_tables([day1.table, day2.table])
    stays = tg.scans_to_stays(tg.read_scans(scans), default_dwell="30min")
    index = tg.VenueIndex.from_stays(stays.stays)
    cases = tg.pseudonymize(["ann-phone"], KEY)
    result = tg.trace(index, cases.to_pylist(), tiers=2)
    expected = tg.pseudonymize(["ann-phone", "bob-phone", "cat-phone"], KEY).to_pylist()
    assert result.contacts["person"].to_pylist() == expected


def test_an_index_says_whether_its_ids_are_pseudonyms():
    # from_scans with a key marks the index; from_stays is told; plain builds are not
    table = day_of_scans(["ann-phone", "bob-phone"], "cafe", 0)
    keyed, _ = tg.VenueIndex.from_scans(table, pseudonym_key=KEY)
    plain, _ = tg.VenueIndex.from_scans(table)
    assert keyed.pseudonymized and not plain.pseudonymized
    stays = tg.scans_to_stays(tg.read_scans(table, pseudonym_key=KEY)).stays
    assert tg.VenueIndex.from_stays(stays, pseudonymized=True).pseudonymized
    assert not tg.VenueIndex.from_stays(stays).pseudonymized
    assert "pseudonyms" in keyed._repr_html_()
    # cases named by their raw ids: the error says the index holds pseudonyms
    with pytest.raises(tg.PersonNotFound, match=r"holds pseudonyms: name the cases by tg\.pse"):
        tg.trace(keyed, ["ann-phone"])
    with pytest.raises(tg.PersonNotFound) as plain_error:
        tg.trace(plain, ["nobody"])
    assert "pseudonyms" not in str(plain_error.value)
    assert tg.trace(keyed, tg.pseudonymize(["ann-phone"], KEY)).tier_counts() == {0: 1, 1: 1}
    with pytest.raises(tg.ArgumentError, match="expected True or False, got 'yes'"):
        tg.VenueIndex.from_stays(stays, pseudonymized="yes")


def test_wrong_key_finds_nobody():
    scans = tg.read_scans(day_of_scans(["ann-phone", "bob-phone"], "cafe", 0), pseudonym_key=KEY)
    index = tg.VenueIndex.from_stays(tg.scans_to_stays(scans).stays)
    wrong = tg.pseudonymize(["ann-phone"], b"not-the-right-key-at-all")
    with pytest.raises(tg.PersonNotFound, match="not found in the index"):
        tg.trace(index, wrong.to_pylist())


def test_rejected_rows_show_pseudonyms_not_raw_ids():
    table = day_of_scans(["ann-phone", "bob-phone"], "cafe", 0)
    table = table.set_column(2, "time", pa.array([0, None], pa.int64()).cast(TS))
    scans = tg.read_scans(table, pseudonym_key=KEY, errors="quarantine")
    assert scans.rejected["person"].to_pylist() == tg.pseudonymize(["bob-phone"], KEY).to_pylist()
    assert scans.report.rejected + scans.report.accepted == 2


def test_integer_ids_hash_like_their_text_and_nulls_stay_null():
    ints = tg.pseudonymize(pa.array([84912345678, None], pa.int64()), KEY)
    text = tg.pseudonymize(pa.array(["84912345678", None]), KEY)
    assert ints.to_pylist() == text.to_pylist()
    assert ints[1].as_py() is None


def test_short_key_is_refused():
    with pytest.raises(tg.SchemaError, match="at least 16 bytes"):
        tg.pseudonymize(["x"], "short")


KEY = "a long secret key for tests!"


@pytest.mark.parametrize("key", [16, [1] * 16, None])
def test_a_key_that_is_not_bytes_or_str_is_refused(key):
    # bytes(16) would be sixteen zero bytes: a public key anyone can try phone numbers with
    with pytest.raises(tg.SchemaError, match="expected the secret as bytes or str"):
        tg.pseudonymize(["84912345678"], key)


def test_pseudonymize_input_forms():
    one = tg.pseudonymize(["84912345678"], KEY)
    with pytest.raises(tg.SchemaError, match="a single str"):
        tg.pseudonymize("84912345678", KEY)  # not 11 one-digit ids
    for single in (84912345678, np.int64(84912345678)):  # once a raw TypeError
        with pytest.raises(tg.SchemaError, match=r"got a single .*; wrap it in a list") as err:
            tg.pseudonymize(single, KEY)
        assert "84912345678" not in str(err.value)
    table = pa.table({"person": ["84912345678"]})
    with pytest.raises(tg.SchemaError, match=r"got a table \(Table\); pass its id column"):
        tg.pseudonymize(table, KEY)
    assert tg.pseudonymize(table["person"], KEY).equals(one)
    with pytest.raises(tg.SchemaError, match="expected a collection of person ids, got float"):
        tg.pseudonymize(3.5, KEY)
    with pytest.raises(tg.SchemaError, match="mixed") as err:
        tg.pseudonymize([5, "+84987654321"], KEY)
    assert "84987654321" not in str(err.value)
    pd = pytest.importorskip("pandas")
    with pytest.raises(tg.SchemaError, match="nullable 'Int64'"):
        tg.pseudonymize(pd.Series([84912345678, None]), KEY)  # float64: 8.4912345678e+10
    assert tg.pseudonymize(np.array([84912345678], ">i8"), KEY).equals(one)  # big-endian
    nullable = tg.pseudonymize(pd.Series([84912345678, None], dtype="Int64"), KEY)
    assert nullable.to_pylist() == [one[0].as_py(), None]
    text = tg.pseudonymize(pd.Series(["84912345678", None]), KEY)
    assert text.to_pylist() == [one[0].as_py(), None]


def _cli(*args, cwd, key):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TG_KEY": key}
    return subprocess.run(
        [sys.executable, "-m", "tracegraph", *args], cwd=cwd, capture_output=True, text=True,
        timeout=300, env=env,
    )  # fmt: skip


def test_cli_build_from_stays_with_a_key_keeps_no_real_id(tmp_path):
    # building from stays (not --scans) with --pseudonym-key-env pseudonymizes the stays'
    # person ids; cases named by real ids, also with leading zeros in a CSV, are found
    (tmp_path / "stays.csv").write_text(
        "person,venue,start,end\n"
        "0900000007,cafe,2021-09-06T08:00:00Z,2021-09-06T09:00:00Z\n"
        "0900000008,cafe,2021-09-06T08:30:00Z,2021-09-06T09:30:00Z\n"
    )
    done = _cli("build", "stays.csv", "--pseudonym-key-env", "TG_KEY", "--out", "city.tgidx",
                cwd=tmp_path, key=KEY)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for file in (tmp_path / "city.tgidx").iterdir():
        assert b"0900000007" not in file.read_bytes() and b"900000007" not in file.read_bytes()
    index = tg.VenueIndex.open(tmp_path / "city.tgidx")
    assert index.pseudonymized  # recorded with the index
    assert index.persons.to_pylist() == sorted(
        tg.pseudonymize(["0900000007", "0900000008"], KEY).to_pylist()
    )
    (tmp_path / "cases.csv").write_text("person\n0900000007\n")
    for how in (["--case", "0900000007"], ["--cases-file", "cases.csv"]):
        done = _cli("trace", "city.tgidx", *how, "--pseudonym-key-env", "TG_KEY", "--json",
                    cwd=tmp_path, key=KEY)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert '"F1": 1' in done.stdout
    # a wrong key finds nobody: the advice is the command line's, not Python's
    done = _cli("trace", "city.tgidx", "--case", "0900000007", "--pseudonym-key-env", "TG_KEY",
                cwd=tmp_path, key=KEY + "x")  # fmt: skip
    assert done.returncode == 2
    assert "--pseudonym-key-env naming the key the scans were read with" in done.stderr
    assert "tg.pseudonymize" not in done.stderr and "0900000007" not in done.stderr
    # no key at all: the advice, once
    done = _cli("trace", "city.tgidx", "--case", "0900000007", cwd=tmp_path, key=KEY)
    assert done.returncode == 2
    assert done.stderr.count("--pseudonym-key-env") == 1, done.stderr
