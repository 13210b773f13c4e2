"""The command line, run as a user runs it: a subprocess, exit codes, outputs, one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zoneinfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tracegraph as tg


def run(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "tracegraph", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    done = run("generate", "--people", "400", "--days", "2", "--ids", "str", "--out", "city",
               cwd=folder)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = run("build", "city/stays.parquet", "--out", "city.tgidx", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_generate_build_trace_end_to_end(workdir):
    stays = pq.read_table(workdir / "city" / "stays.parquet")
    cases = stays["person"][:2].to_pylist()
    done = run("trace", "city.tgidx", "--case", cases[0], "--case", cases[1], "--tiers", "2",
               "--out", "result", "--edges", "--json", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    # the same answer as the library on the same stays
    expected = tg.trace(tg.VenueIndex.from_stays(stays), cases, tiers=2)
    assert summary["persons_per_tier"] == {f"F{k}": v for k, v in expected.tier_counts().items()}
    assert summary["stay_pairs"] == expected.n_pairs
    contacts = pq.read_table(workdir / "result" / "contacts.parquet")
    assert contacts.equals(expected.contacts)
    assert pq.read_table(workdir / "result" / "edges.parquet").num_rows == expected.n_pairs


def test_trace_cumulative_per_local_day(workdir):
    stays = pq.read_table(workdir / "city" / "stays.parquet")
    cases = stays["person"][:3].to_pylist()
    args = [a for c in cases for a in ("--case", c)]
    done = run("trace", "city.tgidx", *args, "--min-overlap", "15min", "--cumulative",
               "--day-tz", "Asia/Ho_Chi_Minh", "--json", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = tg.trace(
        tg.VenueIndex.from_stays(stays), cases, min_overlap="15min", cumulative=True,
        day_tz="Asia/Ho_Chi_Minh",
    )  # fmt: skip
    summary = json.loads(done.stdout)
    assert summary["persons_per_tier"] == {f"F{k}": v for k, v in expected.tier_counts().items()}
    done = run("trace", "city.tgidx", *args, "--min-overlap", "15min", "--cumulative",
               "--per-source", "--edges", "--out", "apart", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    apart = tg.trace(
        tg.VenueIndex.from_stays(stays), cases, min_overlap="15min", cumulative="per_source"
    )
    assert pq.read_table(workdir / "apart" / "contacts.parquet").equals(apart.contacts)
    summed = tg.trace(tg.VenueIndex.from_stays(stays), cases, min_overlap="15min", cumulative=True)
    assert not apart.contacts.equals(summed.contacts)  # (this city tells the rules apart)
    assert pq.read_table(workdir / "apart" / "edges.parquet").equals(apart.edges)
    done = run("trace", "city.tgidx", *args, "--per-source", cwd=workdir)
    assert done.returncode == 2
    assert "--per-source: only with --cumulative (ignored without it)" in done.stderr
    # without --cumulative the zone's days are those of --risk's score
    done = run("trace", "city.tgidx", *args, "--day-tz", "Asia/Ho_Chi_Minh", "--risk",
               "--out", "hanoi", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    local = tg.trace(tg.VenueIndex.from_stays(stays), cases, day_tz="Asia/Ho_Chi_Minh").risk()
    assert pq.read_table(workdir / "hanoi" / "risk.parquet").equals(local)
    done = run("trace", "city.tgidx", *args, "--day-tz", "Asia/Hanoi", cwd=workdir)
    assert done.returncode == 2 and "--day-tz: expected a valid IANA zone name" in done.stderr


def test_trace_writes_csv(workdir):
    stays = pq.read_table(workdir / "city" / "stays.parquet")
    done = run("trace", "city.tgidx", "--case", stays["person"][0].as_py(), "--out", "csv",
               "--format", "csv", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (workdir / "csv" / "contacts.csv").read_text().startswith('"person","tier"')
    assert "traced in" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("trace", "missing.tgidx", "--case", "x"), "no tracegraph index at"),
        (("trace", "city.tgidx", "--case", "0912345678"), "case id(s) not found in the index"),
        (("trace", "city.tgidx"), "expected cases"),
        (("trace", "city.tgidx", "--case", "x", "--min-overlap=-5min"), "non-negative"),
        (("build", "nothing.parquet", "--out", "x.tgidx"), "no such file or folder"),
        (("build", "city/stays.parquet", "--out", "city.tgidx"), "already exists"),
        (("loi", "city.tgidx", "--case", "0912345678"), "case id(s) not found in the index"),
        (("present", "city.tgidx", "--windows", "none.csv"), "no such file or folder"),
        (("compliance", "city/stays.parquet", "city.tgidx"), "column"),
        (("compliance", "city/registry.parquet", "city.tgidx", "--by", "street"), "street"),
        # refused before tracing, not after it with advice for Python
        (("loi", "city.tgidx", "--case", "x", "--out", "loi.txt"), "ending in .csv or .parquet"),
        (("present", "city.tgidx", "--windows", "none.csv", "--out", "p"), ".csv or .parquet"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(workdir, args, message):
    done = run(*args, cwd=workdir)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "0912345678" not in done.stderr  # ids are personal data


def test_corrupt_index_is_reported(workdir, tmp_path):
    import shutil

    broken = tmp_path / "broken.tgidx"
    shutil.copytree(workdir / "city.tgidx", broken)
    target = broken / "start.arrow"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    done = run("trace", str(broken), "--case", "x", cwd=workdir)
    assert done.returncode == 2
    assert "checksum" in done.stderr


def test_help_and_bad_arguments():
    for command in ("demo", "generate", "build", "trace", "loi", "present", "compliance"):
        done = run(command, "--help", cwd=".")
        assert done.returncode == 0
        assert "usage: tracegraph" in done.stdout
    done = run("trace", cwd=".")
    assert done.returncode == 2  # argparse: missing index
    assert "Traceback" not in done.stderr


def test_trace_with_policy_risk_and_loi(workdir):
    stays = pq.read_table(workdir / "city" / "stays.parquet")
    case = stays["person"][0].as_py()
    done = run("trace", "city.tgidx", "--case", case, "--policy", "cwa", "--risk", "--loi",
               "--out", "cwa", "--json", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = tg.trace(tg.VenueIndex.from_stays(stays), [case], policy="cwa")
    assert json.loads(done.stdout)["persons_per_tier"] == {
        f"F{k}": v for k, v in expected.tier_counts().items()
    }
    assert pq.read_table(workdir / "cwa" / "risk.parquet").equals(expected.risk())
    loi = pq.read_table(workdir / "cwa" / "locations_of_interest.parquet")
    assert loi.equals(expected.locations_of_interest())


def test_loi_then_present_round_trip(workdir):
    stays = pq.read_table(workdir / "city" / "stays.parquet")
    case = stays["person"][0].as_py()
    done = run("loi", "city.tgidx", "--case", case, "--out", "loi.csv", "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    index = tg.VenueIndex.from_stays(stays)
    expected = tg.trace(index, [case]).locations_of_interest()
    assert summary["windows"] == expected.num_rows
    done = run("present", "city.tgidx", "--windows", "loi.csv", "--out", "present.parquet",
               "--json", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = pq.read_table(workdir / "present.parquet")
    assert found.equals(tg.present_at(index, expected))
    # the case is among the people present at their own windows, and so is every F1
    f1 = tg.trace(index, [case]).contacts.to_pydict()["person"]
    assert set(f1) <= set(found["person"].to_pylist())


def test_file_outputs_are_not_replaced_without_overwrite(workdir, tmp_path):
    stays = pq.read_table(workdir / "city" / "stays.parquet")
    case = stays["person"][0].as_py()
    out = str(tmp_path / "loi.csv")
    assert run("loi", "city.tgidx", "--case", case, "--out", out, cwd=workdir).returncode == 0
    before = (tmp_path / "loi.csv").read_text()
    again = run("loi", "city.tgidx", "--case", case, "--out", out, cwd=workdir)
    assert again.returncode == 2
    assert "found one there already; pass --overwrite" in again.stderr
    assert (tmp_path / "loi.csv").read_text() == before
    done = run("loi", "city.tgidx", "--case", case, "--out", out, "--overwrite", cwd=workdir)
    assert done.returncode == 0, done.stderr
    for command in (("present", "city.tgidx", "--windows", out),
                    ("compliance", "city/registry.parquet", "city.tgidx")):  # fmt: skip
        taken = run(*command, "--out", out, cwd=workdir)
        assert taken.returncode == 2 and "pass --overwrite" in taken.stderr, taken.stderr
        bare = run(*command, "--overwrite", cwd=workdir)
        assert bare.returncode == 2 and "--overwrite: only with --out" in bare.stderr


def test_generate_does_not_replace_a_folders_stays_without_overwrite(tmp_path):
    # (a folder holding someone's real stays.parquet was overwritten silently)
    (tmp_path / "city").mkdir()
    (tmp_path / "city" / "stays.parquet").write_bytes(b"theirs")
    small = ("generate", "--people", "50", "--days", "1", "--out")
    assert run(*small, "fresh", cwd=tmp_path).returncode == 0  # (another folder: fine)
    kept = run(*small, "city", cwd=tmp_path)
    assert kept.returncode == 2
    assert "found stays.parquet; pass --overwrite to replace them" in kept.stderr
    assert (tmp_path / "city" / "stays.parquet").read_bytes() == b"theirs"
    done = run(*small, "city", "--overwrite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert pq.read_table(tmp_path / "city" / "stays.parquet").num_rows > 0


def test_compliance_command(workdir):
    done = run("compliance", "city/registry.parquet", "city.tgidx", "--freq", "D", "--by",
               "district", "--tz", "Asia/Ho_Chi_Minh", "--out", "comp.csv", "--json",
               cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    registry = pq.read_table(workdir / "city" / "registry.parquet")
    index = tg.VenueIndex.open(workdir / "city.tgidx")
    expected = tg.compliance(registry, index, freq="D", by=("district",), tz="Asia/Ho_Chi_Minh")
    assert summary["rows"] == expected.num_rows
    assert summary["periods"] == len(set(expected["period"].to_pylist()))
    accounts = summary["scans"]  # every scan read, counted or left out (and why)
    assert accounts == tg.scan_accounts(expected)
    assert accounts["read"] == index.n_stays
    assert accounts["counted"] == sum(expected["scans"].to_pylist())
    assert (workdir / "comp.csv").read_text().startswith('"period","period_end","district"')
    done = run("compliance", "city/registry.parquet", "city/stays.parquet", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "registered venues had scans" in done.stdout
    assert f"of {accounts['read']:,} scans counted" in done.stdout
    # the last period as ISO 8601; area names as written around commas
    last = max(expected["period"].to_pylist())
    assert summary["last_period"] == last.isoformat() and "T" in summary["last_period"]
    done = run("compliance", "city/registry.parquet", "city.tgidx", "--freq", "MS", "--by",
               "district, ward", "--tz", "Asia/Ho_Chi_Minh", "--json", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    by_both = tg.compliance(
        registry, index, freq="MS", by=("district", "ward"), tz="Asia/Ho_Chi_Minh"
    )
    assert json.loads(done.stdout)["rows"] == by_both.num_rows
    done = run("compliance", "city/registry.parquet", "city.tgidx", "--freq", "MS", "--by",
               "district", "--tz", "Asia/Ho_Chi_Minh", cwd=workdir)  # fmt: skip
    periods = len(set(by_both["period"].to_pylist()))
    assert done.stdout.startswith(f"{periods} period{'' if periods == 1 else 's'}; last period")
    # an index is stays, not scan files: --scans is refused, not ignored
    done = run("compliance", "city/registry.parquet", "city.tgidx", "--scans", cwd=workdir)
    assert done.returncode == 2
    assert "--scans: " in done.stderr and "is a saved index (of stays)" in done.stderr


def test_build_from_raw_scans_with_quarantine(workdir, tmp_path):
    stays = pq.read_table(workdir / "city" / "stays.parquet").slice(0, 500)
    bad = pa.table({"person": [None], "venue": [stays["venue"][0].as_py()],
                    "time": pa.array([0], pa.timestamp("s", tz="UTC"))})  # fmt: skip
    scans = pa.concat_tables(
        [stays.select(["person", "venue", "start"]).rename_columns(["person", "venue", "time"]),
         bad.cast(pa.schema([("person", stays["person"].type), ("venue", stays["venue"].type),
                             ("time", stays["start"].type)]))]
    )  # fmt: skip
    pq.write_table(scans, tmp_path / "scans.parquet")
    done = run("build", str(tmp_path / "scans.parquet"), "--scans", "--quarantine", "--out",
               str(tmp_path / "scans.tgidx"), "--json", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["scans_read"] == scans.num_rows
    assert summary["scans_rejected"] == 1
    expected, _ = tg.VenueIndex.from_scans(tmp_path / "scans.parquet", errors="quarantine")
    assert summary["stays"] == expected.n_stays
    assert summary["scans_rejected_by_reason"] == {"null_person": 1}
    # a person reads the same accounts (never an id)
    done = run("build", str(tmp_path / "scans.parquet"), "--scans", "--quarantine", "--out",
               str(tmp_path / "human.tgidx"), cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        f"read {scans.num_rows:,} scans: {summary['scans_accepted']:,} accepted, 1 rejected "
        f"(1 null_person), {summary['scans_duplicates']:,} exact duplicates merged; saved"
    ) in done.stdout
    done = run("build", str(tmp_path / "scans.parquet"), "--scans", "--out",
               str(tmp_path / "strict.tgidx"), cwd=workdir)  # fmt: skip
    assert done.returncode == 2
    assert "rejected" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_cases_files_with_windows_naive_times_and_bad_rows(workdir):
    stays = pq.read_table(workdir / "city" / "stays.parquet")
    case = stays["person"][0].as_py()
    first = stays["start"][0].as_py()
    # a window with a start and no end is an error, not a case infectious for all time
    (workdir / "half.csv").write_text(f"person,start\n{case},{first.isoformat()}\n")
    done = run("trace", "city.tgidx", "--cases-file", "half.csv", cwd=workdir)
    assert done.returncode == 2
    assert "column `end` not found" in done.stderr
    # naive wall-clock times: --tz names their zone (the advice says so, as a flag)
    naive = first.replace(tzinfo=None)
    hanoi = first.astimezone(zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")).replace(tzinfo=None)
    text = f"person,start,end\n{case},{naive:%Y-%m-%dT%H:%M:%S},\n"
    (workdir / "naive.csv").write_text(text)
    done = run("trace", "city.tgidx", "--cases-file", "naive.csv", cwd=workdir)
    assert done.returncode == 2
    assert "pass --tz UTC" in done.stderr and "tz='UTC'" not in done.stderr
    done = run("trace", "city.tgidx", "--cases-file", "naive.csv", "--tz", "UTC", "--json",
               cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    window = pa.table({"person": [case], "start": pa.array([first]), "end": pa.nulls(1)})
    expected = tg.trace(tg.VenueIndex.from_stays(stays), window.cast(
        pa.schema([("person", stays["person"].type), ("start", pa.timestamp("us", tz="UTC")),
                   ("end", pa.timestamp("us", tz="UTC"))])))  # fmt: skip
    assert json.loads(done.stdout)["persons_per_tier"] == {
        f"F{k}": v for k, v in expected.tier_counts().items()
    }
    (workdir / "hanoi.csv").write_text(f"person,start,end\n{case},{hanoi:%Y-%m-%dT%H:%M:%S},\n")
    done = run("trace", "city.tgidx", "--cases-file", "hanoi.csv", "--tz", "Asia/Ho_Chi_Minh",
               "--json", cwd=workdir)  # fmt: skip
    assert json.loads(done.stdout)["persons_per_tier"] == {
        f"F{k}": v for k, v in expected.tier_counts().items()
    }
    # a negative fixed offset as the value of --tz (argparse would take it for an option)
    brasilia = first.astimezone(dt.timezone(dt.timedelta(hours=-3))).replace(tzinfo=None)
    text = f"person,start,end\n{case},{brasilia:%Y-%m-%dT%H:%M:%S},\n"
    (workdir / "minus3.csv").write_text(text)
    done = run("trace", "city.tgidx", "--cases-file", "minus3.csv", "--tz", "-03:00", "--json",
               cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["persons_per_tier"] == {
        f"F{k}": v for k, v in expected.tier_counts().items()
    }
    # a row Arrow cannot parse is named by its problem, never quoted (ids are personal data)
    (workdir / "short.csv").write_text(f"person,start,end\n{case},{first.isoformat()}\n")
    done = run("trace", "city.tgidx", "--cases-file", "short.csv", cwd=workdir)
    assert done.returncode == 2
    assert "Expected 3 columns, got 2" in done.stderr
    assert case not in done.stderr and "Traceback" not in done.stderr


def test_advice_in_messages_is_spelled_as_flags(workdir):
    done = run("trace", "city.tgidx", "--case", "0912345678", cwd=workdir)
    assert "--unknown keep" in done.stderr and "unknown='keep'" not in done.stderr
    done = run("build", "city/stays.parquet", "--out", "city.tgidx", cwd=workdir)
    assert "--overwrite" in done.stderr and "overwrite=True" not in done.stderr


def test_trace_an_index_of_pseudonyms_by_the_cases_real_ids(workdir, tmp_path):
    import os

    stays = pq.read_table(workdir / "city" / "stays.parquet").slice(0, 3000)
    scans = stays.select(["person", "venue", "start"]).rename_columns(["person", "venue", "time"])
    pq.write_table(scans, tmp_path / "scans.parquet")
    env = {**os.environ, "TG_TEST_KEY": "a long secret key for tests"}
    done = run("build", str(tmp_path / "scans.parquet"), "--scans", "--pseudonym-key-env",
               "TG_TEST_KEY", "--out", str(tmp_path / "p.tgidx"), cwd=workdir, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    case = scans["person"][0].as_py()
    args = ("trace", str(tmp_path / "p.tgidx"), "--case", str(case), "--json")
    done = run(*args, "--pseudonym-key-env", "TG_TEST_KEY", cwd=workdir, env=env)
    assert done.returncode == 0, done.stderr
    index = tg.VenueIndex.open(tmp_path / "p.tgidx")
    pseudonym = tg.pseudonymize([case], "a long secret key for tests").to_pylist()
    expected = tg.trace(index, pseudonym).tier_counts()
    assert json.loads(done.stdout)["persons_per_tier"] == {f"F{k}": v for k, v in expected.items()}
    assert expected.get(1, 0) > 0
    done = run(*args, cwd=workdir, env=env)  # without the key the real id is not there
    assert done.returncode == 2 and "not found" in done.stderr and str(case) not in done.stderr


def test_compliance_command_reads_naive_csv_times_in_tz(tmp_path):
    # a registry and scans written as local wall-clock times: read in --tz, as --scans
    # does; an area left blank in the CSV is a missing area (sorted last), not ""
    (tmp_path / "registry.csv").write_text(
        "venue,district,ward,registered_at\n"
        "1,Ba Dinh,Kim Ma,2021-09-01 09:00:00\n"
        "2,Hoan Kiem,,2021-09-05 23:30:00\n"
    )
    (tmp_path / "scans.csv").write_text(
        "venue,time\n1,2021-09-06 07:00:00\n2,2021-09-05 23:45:00\n"
    )
    done = run("compliance", "registry.csv", "scans.csv", "--tz", "Asia/Ho_Chi_Minh", "--freq",
               "D", "--out", "out.parquet", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scans"]["counted"] == 2
    out = pq.read_table(tmp_path / "out.parquet")
    first = out.slice(0, 2).to_pylist()
    assert first[0]["period"].isoformat() == "2021-09-05T00:00:00+07:00"  # the first scan's
    assert [(r["district"], r["ward"]) for r in first] == [
        ("Ba Dinh", "Kim Ma"),
        ("Hoan Kiem", None),
    ]
    # venue 2 registered at 23:30 local on the 5th, and was scanned then: that day counts it
    day5 = [r for r in out.to_pylist() if r["period"].date().isoformat() == "2021-09-05"]
    assert [r["scans"] for r in day5] == [0, 1]


def test_compliance_wants_the_zone_of_naive_times(tmp_path):
    # naive CSV times are not read as UTC behind the user's back (as everywhere else)
    (tmp_path / "registry.csv").write_text("venue,district,registered_at\n1,D1,2021-09-01\n")
    (tmp_path / "scans.csv").write_text("venue,time\n1,2021-09-06 07:00:00\n")
    done = run("compliance", "registry.csv", "scans.csv", cwd=tmp_path)
    assert done.returncode == 2
    assert "expected zone-aware timestamps, got naive" in done.stderr
    assert "--tz Asia/Ho_Chi_Minh" in done.stderr


def test_compliance_reads_raw_scans_from_a_csv_file(tmp_path):
    # --scans with a CSV file: its advice said compliance reads CSV scans, then refused
    # the file (read_scans takes no CSV path); now read as the table it is, strictly
    (tmp_path / "registry.csv").write_text(
        "venue,district,registered_at\nA7,D1,2021-09-01 09:00:00\n1,D1,2021-09-01 09:00:00\n"
    )
    (tmp_path / "scans.csv").write_text(
        "person,venue,time\n"
        "0912345678,1,2021-09-06 07:00:00\n"
        "0912345678,1,2021-09-06 07:00:00\n"  # an exact duplicate: merged, and accounted
        "0987654321,A7,2021-09-12 23:30:00\n"
    )
    done = run("compliance", "registry.csv", "scans.csv", "--scans", "--tz", "+07:00",
               "--by", "district", "--out", "out.parquet", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    accounts = json.loads(done.stdout)["scans"]
    assert (accounts["read"], accounts["counted"], accounts["duplicates"]) == (3, 2, 1)
    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [(r["period"].isoformat(), r["active"]) for r in out] == [
        ("2021-09-06T00:00:00+07:00", 2)
    ]
    # a bad row is named by the file and row, never by its person id
    (tmp_path / "bad.csv").write_text("person,venue,time\n0912345678,1,2021-09-06 07:00\n,1,x\n")
    done = run("compliance", "registry.csv", "bad.csv", "--scans", "--tz", "+07:00",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert "error: bad.csv: row 1: rejected" in done.stderr
    assert "<table" not in done.stderr and "0912345678" not in done.stderr
    # the advice given there works: build --scans --quarantine reads the CSV file too
    assert "tracegraph build --scans --quarantine" in done.stderr
    done = run("build", "bad.csv", "--scans", "--tz", "+07:00", "--out", "bad.tgidx",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert "error: bad.csv: row 1: rejected" in done.stderr and "--quarantine" in done.stderr
    assert "<table" not in done.stderr and "0912345678" not in done.stderr
    done = run("build", "bad.csv", "--scans", "--quarantine", "--tz", "+07:00", "--out",
               "bad.tgidx", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["scans_read"], summary["scans_rejected"], summary["stays"]) == (2, 1, 1)
    index = tg.VenueIndex.open(tmp_path / "bad.tgidx")
    assert index.persons.to_pylist() == ["0912345678"]  # (as written: text, zero kept)


@pytest.mark.parametrize("text_side", ["registry", "scans"])
def test_compliance_csv_venue_ids_are_typed_together(tmp_path, text_side):
    # the registry lists venue A7 besides 1 and 2; only 1 and 2 were scanned: read
    # alone, one file's ids look like integers and the other's like text, and the two
    # must still be compared as the same ids (an integer id's text is the id written)
    ids = {"registry": ["1", "2", "A7"], "scans": ["1", "2"]}
    if text_side == "scans":
        ids = {"registry": ["1", "2", "3"], "scans": ["1", "2", "A7"]}
    (tmp_path / "registry.csv").write_text(
        "venue,district,registered_at\n"
        + "".join(f"{v},D1,2021-09-01 09:00:00\n" for v in ids["registry"])
    )
    (tmp_path / "scans.csv").write_text(
        "venue,time\n" + "".join(f"{v},2021-09-06 07:00:00\n" for v in ids["scans"])
    )
    done = run("compliance", "registry.csv", "scans.csv", "--freq", "W", "--by", "district",
               "--tz", "Asia/Ho_Chi_Minh", "--out", "out.parquet", "--json",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    accounts = json.loads(done.stdout)["scans"]
    unregistered = int(text_side == "scans")  # the scan of A7, which is not registered
    assert accounts["counted"] == 2 and accounts["unregistered_venue"] == unregistered
    assert accounts["read"] == len(ids["scans"])
    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert out[-1]["registered"] == 3 and out[-1]["active"] == 2


def test_csv_ids_keep_leading_zeros(tmp_path):
    # 012 and 12 are two people: a CSV's ids are text unless all are plain integers
    (tmp_path / "stays.csv").write_text(
        "person,venue,start,end\n"
        "012,1,2021-09-06T10:00:00Z,2021-09-06T11:00:00Z\n"
        "12,1,2021-09-06T10:30:00Z,2021-09-06T13:00:00Z\n"
    )
    done = run("build", "stays.csv", "--out", "s.tgidx", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["persons"] == 2
    index = tg.VenueIndex.open(tmp_path / "s.tgidx")
    assert index.persons.to_pylist() == ["012", "12"]
    assert index.venues.type == pa.int64()  # plain integers stay integers
    done = run("trace", "s.tgidx", "--case", "012", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["persons_per_tier"] == {"F0": 1, "F1": 1}


def test_integer_case_ids_must_be_decimal_digits(tmp_path):
    # an index of integer ids 1, 2, 12: "+12", "1_2", " 12", Arabic-Indic digits are
    # not ids (Python's int() reads them all as 12: they traced person 12), and
    # "0x12" is not 18 (as Arrow's cast reads it); "012" is 12, as in a cases file
    (tmp_path / "stays.csv").write_text(
        "person,venue,start,end\n"
        "1,1,2021-09-06T10:00:00Z,2021-09-06T11:00:00Z\n"
        "2,1,2021-09-06T10:30:00Z,2021-09-06T13:00:00Z\n"
        "12,1,2021-09-06T10:30:00Z,2021-09-06T13:00:00Z\n"
        "18,1,2021-09-06T10:30:00Z,2021-09-06T13:00:00Z\n"
    )
    done = run("build", "stays.csv", "--out", "i.tgidx", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for case in ("12", "012"):
        done = run("trace", "i.tgidx", "--case", case, "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["persons_per_tier"] == {"F0": 1, "F1": 3}
    for case in ("+12", "1_2", "\u0661\u0662", " 12", "0x12", "1" * 5000):
        done = run("trace", "i.tgidx", "--case", case, "--unknown", "keep", cwd=tmp_path)
        assert done.returncode == 2, case
        assert "expected integer ids written in decimal digits" in done.stderr
        assert case.strip() not in done.stderr
    (tmp_path / "cases.csv").write_text("person\n0x12\n")
    done = run("trace", "i.tgidx", "--cases-file", "cases.csv", cwd=tmp_path)
    assert done.returncode == 2 and "expected integer ids" in done.stderr
    # an integer beyond the index's int64 ids is an id not in the index, as with --case
    (tmp_path / "big.csv").write_text("person\n12\n9999999999999999999\n")
    for how in (["--cases-file", "big.csv"], ["--case", "12", "--case", "9999999999999999999"]):
        done = run("trace", "i.tgidx", *how, cwd=tmp_path)
        assert done.returncode == 2 and "1 case id(s) not found" in done.stderr, how
        done = run("trace", "i.tgidx", *how, "--unknown", "keep", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["persons_per_tier"] == {"F0": 2, "F1": 3}


def _number_like_index(folder):
    """An index of string ids that look like numbers (phone numbers, venue 1)."""
    ts = pa.timestamp("s", tz="UTC")
    hour = 1_630_922_400  # 2021-09-06T10:00Z
    stays = pa.table(
        {
            "person": ["0900000017", "0900000018", "x"],
            "venue": ["1", "1", "V"],
            "start": pa.array([hour] * 3, ts),
            "end": pa.array([hour + 3600] * 3, ts),
        }
    )
    pq.write_table(stays, folder / "stays.parquet")
    done = run("build", "stays.parquet", "--out", "n.tgidx", cwd=folder)
    assert done.returncode == 0, done.stderr


def test_csv_ids_are_read_as_the_index_has_them(tmp_path):
    _number_like_index(tmp_path)
    (tmp_path / "cases.csv").write_text("person\n0900000017\n")
    done = run("trace", "n.tgidx", "--cases-file", "cases.csv", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["persons_per_tier"] == {"F0": 1, "F1": 1}
    # the README's pipeline: loi writes venue "1" to CSV, present reads it back as text
    done = run("loi", "n.tgidx", "--cases-file", "cases.csv", "--out", "loi.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = run("present", "n.tgidx", "--windows", "loi.csv", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["people"] == 2
    (tmp_path / "reg.csv").write_text("venue,district,registered_at\n1,a,2021-09-01T00:00:00Z\n")
    done = run("compliance", "reg.csv", "n.tgidx", "--by", "district", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scans"]["counted"] == 2
    # and as integers for an index of integer ids; text that is not one is refused
    ints = pa.table({"person": [17, 18], "venue": [1, 1], "start": [0, 0], "end": [60, 60]})
    ints = ints.cast(pa.schema([("person", pa.int64()), ("venue", pa.int64()),
                                ("start", pa.timestamp("s", tz="UTC")),
                                ("end", pa.timestamp("s", tz="UTC"))]))  # fmt: skip
    pq.write_table(ints, tmp_path / "ints.parquet")
    assert run("build", "ints.parquet", "--out", "i.tgidx", cwd=tmp_path).returncode == 0
    (tmp_path / "int_cases.csv").write_text("person\n017\n")
    done = run("trace", "i.tgidx", "--cases-file", "int_cases.csv", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["persons_per_tier"] == {"F0": 1, "F1": 1}
    (tmp_path / "text_cases.csv").write_text("person\nP17\n")
    done = run("trace", "i.tgidx", "--cases-file", "text_cases.csv", cwd=tmp_path)
    assert done.returncode == 2
    assert "expected integer ids (the index holds int64 ids)" in done.stderr
    assert "P17" not in done.stderr


def test_build_with_key_reads_arrow_stays_as_without(workdir, tmp_path):
    import os

    import pyarrow.feather as feather

    stays = pq.read_table(workdir / "city" / "stays.parquet").slice(0, 300)
    (tmp_path / "folder").mkdir()
    feather.write_feather(stays, tmp_path / "folder" / "stays.arrow")  # an Arrow IPC file
    pq.write_table(stays, tmp_path / "parquet.arrow")  # Parquet, whatever its name
    env = {**os.environ, "TG_TEST_KEY": "a long secret key for tests"}
    for source in ("folder", "parquet.arrow"):
        plain = run("build", source, "--out", f"{source}.plain", "--json", cwd=tmp_path)
        assert plain.returncode == 0, plain.stderr
        keyed = run("build", source, "--out", f"{source}.keyed", "--json", "--pseudonym-key-env",
                    "TG_TEST_KEY", cwd=tmp_path, env=env)  # fmt: skip
        assert keyed.returncode == 0, keyed.stderr
        counts = ("stays", "persons", "venues")
        assert [json.loads(keyed.stdout)[c] for c in counts] == [
            json.loads(plain.stdout)[c] for c in counts
        ]
        index = tg.VenueIndex.open(tmp_path / f"{source}.keyed")
        assert stays["person"][0].as_py() not in index.persons.to_pylist()


def test_trace_out_never_mixes_runs(workdir, tmp_path):
    stays = pq.read_table(workdir / "city" / "stays.parquet")
    case = stays["person"][0].as_py()
    out = str(tmp_path / "r")
    done = run("trace", "city.tgidx", "--case", case, "--out", out, "--edges", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (tmp_path / "r" / "notes.txt").write_text("mine")
    done = run("trace", "city.tgidx", "--case", case, "--out", out, cwd=workdir)
    assert done.returncode == 2
    assert "found contacts.parquet, edges.parquet; pass --overwrite" in done.stderr
    done = run("trace", "city.tgidx", "--case", case, "--out", out, "--overwrite", cwd=workdir)
    assert done.returncode == 0, done.stderr
    # the earlier run's edges are gone, files that are not trace's are kept
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["contacts.parquet", "notes.txt"]
    done = run("trace", "city.tgidx", "--case", case, "--out", str(tmp_path / "r" / "notes.txt"),
               cwd=workdir)  # fmt: skip
    assert done.returncode == 2
    assert "--out" in done.stderr and "expected a folder, found a file" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("trace", "city.tgidx", "--case", "x", "--cases-file", "c.csv"), "not allowed with"),
        (("loi", "city.tgidx", "--cases-file", "c.csv", "--case", "x"), "not allowed with"),
        (("trace", "city.tgidx", "--case", "x", "--edges", "--loi"),
         "--edges, --loi: only with --out"),
        (("trace", "city.tgidx", "--case", "x", "--format", "csv"), "--format: only with --out"),
        (("trace", "city.tgidx", "--case", "x", "--risk"), "--risk: only with --out"),
        (("build", "city/stays.parquet", "--out", "q.tgidx", "--quarantine"),
         "--quarantine: only with --scans"),
        (("build", "city/stays.parquet", "--out", "q.tgidx", "--max-stay", "2h",
          "--default-dwell", "1h", "--split-at-midnight", "UTC"),
         "--default-dwell, --max-stay, --split-at-midnight: only with --scans"),
    ],
)  # fmt: skip
def test_options_that_would_be_ignored_are_usage_errors(workdir, args, message):
    done = run(*args, cwd=workdir)
    assert done.returncode == 2
    assert message in done.stderr and "usage: tracegraph" in done.stderr
    assert not (workdir / "q.tgidx").exists()


@pytest.mark.parametrize(
    ("args", "message", "python"),
    [
        (("generate", "--people", "0", "--out", "g"), "--people: expected an integer >= 1",
         "`people`"),
        (("generate", "--days", "2000000000", "--out", "g"), "--days: expected days that end",
         "`start`"),
        (("build", "city/stays.parquet", "--out", "b.tgidx", "--bucket-width", "0s"),
         "--bucket-width: expected a positive duration", "bucket_width"),
        (("trace", "city.tgidx", "--case", "x", "--policy", "nz", "--min-overlap", "15min"),
         "expected --min-overlap 0, got 900 s", "min_overlap"),
        (("trace", "city.tgidx", "--case", "x", "--policy", "cwa", "--linger", "1h"),
         "expected --linger 0, got 3600 s", "linger="),
        (("build", "naive.parquet", "--scans", "--out", "b.tgidx"),
         "(pass --tz with the zone the times were recorded in)", "ScanSchema"),
        (("build", "columns.parquet", "--scans", "--out", "b.tgidx"),
         "rename the file's columns to person, venue and time", "ScanSchema"),
        (("build", "int_stays.parquet", "--out", "b.tgidx"),
         "e.g. 2021-09-06T10:00:00Z in a CSV file", "pandas"),
    ],
)  # fmt: skip
def test_library_messages_speak_in_options(workdir, tmp_path, args, message, python):
    import datetime as dt

    when = dt.datetime(2021, 9, 6, 10)
    scans = {"person": ["1"], "venue": ["2"], "time": pa.array([when], pa.timestamp("s"))}
    pq.write_table(pa.table(scans), tmp_path / "naive.parquet")
    pq.write_table(pa.table(scans).rename_columns(["p", "v", "t"]), tmp_path / "columns.parquet")
    stays = {"person": ["1"], "venue": ["2"], "start": [1_630_922_400], "end": [1_630_922_900]}
    pq.write_table(pa.table(stays), tmp_path / "int_stays.parquet")
    for name in ("city", "city.tgidx"):
        (tmp_path / name).symlink_to(workdir / name)
    case = pq.read_table(workdir / "city" / "stays.parquet")["person"][0].as_py()
    done = run(*[case if a == "x" else a for a in args], cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert python not in done.stderr


def test_trace_tiers_zero_and_short_key_speak_in_options(workdir):
    import os

    case = pq.read_table(workdir / "city" / "stays.parquet")["person"][0].as_py()
    done = run("trace", "city.tgidx", "--case", case, "--tiers", "0", "--loi", "--out", "t0",
               cwd=workdir)  # fmt: skip
    assert done.returncode == 2
    assert "with --tiers 0 skips); trace again with --tiers 1" in done.stderr
    assert "tiers=" not in done.stderr
    env = {**os.environ, "TG_SHORT_KEY": "short"}
    done = run("build", "city/stays.parquet", "--out", "k.tgidx", "--pseudonym-key-env",
               "TG_SHORT_KEY", cwd=workdir, env=env)  # fmt: skip
    assert done.returncode == 2
    assert "--pseudonym-key-env: expected a secret of at least 16 bytes" in done.stderr
    assert "python -c 'import secrets; print(secrets.token_hex(32))'" in done.stderr
    assert "pseudonym_key" not in done.stderr


def test_compliance_advises_what_compliance_can_do(workdir, tmp_path):
    # compliance --scans reads raw scans strictly and has no --quarantine: its advice
    # for a bad row is the build that sets such rows aside
    when = pa.array([1_630_922_400] * 2, pa.timestamp("s", tz="UTC"))
    scans = pa.table({"person": ["1", None], "venue": ["V00001"] * 2, "time": when})
    pq.write_table(scans, tmp_path / "scans.parquet")
    done = run("compliance", "city/registry.parquet", str(tmp_path / "scans.parquet"), "--scans",
               cwd=workdir)  # fmt: skip
    assert done.returncode == 2
    assert "row 1: rejected (null_person)" in done.stderr
    assert "tracegraph build --scans --quarantine" in done.stderr
    assert "pass --quarantine" not in done.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--tiers=0", "argument --tiers: expected an integer from 1 to 127, got 0"),
        ("--cases=-1", "argument --cases: expected an integer >= 1, got -1"),
        ("--min-overlap=15", "argument --min-overlap: expected a duration like '15min'"),
        ("--top=-1", "argument --top: expected an integer >= 1, got -1"),
        ("--tz=Mars/Olympus", "argument --tz: expected a valid IANA zone name"),
    ],
)
def test_demo_checks_every_option_before_its_first_step(tmp_path, option, message):
    done = run("demo", "--people", "200", "--days", "2", option, "--out", "d", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == "" and not (tmp_path / "d").exists()


def test_cases_file_ids_of_another_kind_get_command_line_advice(workdir, tmp_path):
    # the city's ids are text; a Parquet cases file of integers
    pq.write_table(pa.table({"person": [17]}), tmp_path / "int_cases.parquet")
    done = run("trace", "city.tgidx", "--cases-file", tmp_path / "int_cases.parquet",
               cwd=workdir)  # fmt: skip
    assert done.returncode == 2
    assert "write them as text (in a Parquet file: a string column)" in done.stderr
    assert "[str(x)" not in done.stderr


def test_demo_of_a_city_without_stays_runs_to_its_end(tmp_path):
    # one person on one day goes nowhere: every step says so (step 6 once failed
    # with an error about an option the demo does not have)
    done = run("demo", "--people", "1", "--days", "1", "--out", "d", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "0 stays" in done.stdout
    assert "6. QR compliance: no scans in this city" in done.stdout


def test_demo_with_a_fixed_offset_runs_to_its_end(tmp_path):
    # --tz +07:00 passed the option's check and the locations of interest, then step 6
    # (compliance, which read only IANA names) failed after five steps of output
    done = run("demo", "--people", "300", "--days", "2", "--tz", "+07:00", "--out", "d",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "6. QR compliance, week of 2021-09-06 (+07:00)" in done.stdout


def test_out_of_memory_is_one_line(tmp_path):
    import resource

    def small_memory():  # 3 GB of address space: the city of 2e9 people cannot fit
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    done = subprocess.run(
        [sys.executable, "-m", "tracegraph", "generate", "--people", "2000000000", "--out", "g"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, preexec_fn=small_memory,
    )  # fmt: skip
    assert done.returncode == 2
    assert "out of memory" in done.stderr and "smaller --people or --days" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_empty_and_header_only_files(workdir, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("person,start,end\n")
    (tmp_path / "registry.csv").write_text("venue,district,ward,registered_at\n")
    done = run("trace", "city.tgidx", "--cases-file", str(tmp_path / "header.csv"), cwd=workdir)
    assert done.returncode == 2
    assert "expected at least one case, found a file without rows" in done.stderr
    done = run("present", "city.tgidx", "--windows", str(tmp_path / "empty.csv"), cwd=workdir)
    assert done.returncode == 2
    assert "expected a CSV file with a header line, found an empty file" in done.stderr
    # loi writes a header-only file when there is nothing to publish; present reads it
    loi = str(tmp_path / "loi.csv")
    done = run("loi", "city.tgidx", "--case", "0912345678", "--unknown", "keep", "--out", loi,
               "--json", cwd=workdir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["windows"] == 0
    done = run("present", "city.tgidx", "--windows", loi, "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"windows": 0, "matches": 0, "people": 0, "file": None}
    done = run("compliance", str(tmp_path / "registry.csv"), "city.tgidx", "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["registered"] == 0


def test_cases_windows_registry_that_are_not_parquet_or_are_folders(workdir, tmp_path):
    good = (workdir / "city" / "registry.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(good[: len(good) // 2])  # truncated
    (tmp_path / "text.parquet").write_text("person\n0912345678\n")  # another format
    (tmp_path / "folder").mkdir()
    for name in ("cut.parquet", "text.parquet"):
        path = str(tmp_path / name)
        for args in (("trace", "city.tgidx", "--cases-file", path),
                     ("present", "city.tgidx", "--windows", path),
                     ("compliance", path, "city.tgidx")):  # fmt: skip
            done = run(*args, cwd=workdir)
            assert done.returncode == 2
            assert "not a Parquet/CSV file (corrupt, truncated or another format)" in done.stderr
            assert "0912345678" not in done.stderr
    folder = str(tmp_path / "folder")
    for args in (("trace", "city.tgidx", "--cases-file", folder),
                 ("loi", "city.tgidx", "--cases-file", folder),
                 ("present", "city.tgidx", "--windows", folder)):  # fmt: skip
        done = run(*args, cwd=workdir)
        assert done.returncode == 2
        assert f"{args[2]} {folder}: expected a CSV or Parquet file, found a folder" in done.stderr


def test_key_and_index_that_disagree_say_so(workdir, tmp_path):
    import os

    stays = pq.read_table(workdir / "city" / "stays.parquet").slice(0, 2000)
    pq.write_table(stays, tmp_path / "stays.parquet")
    env = {**os.environ, "TG_TEST_KEY": "a long secret key for tests"}
    done = run("build", str(tmp_path / "stays.parquet"), "--pseudonym-key-env", "TG_TEST_KEY",
               "--out", str(tmp_path / "p.tgidx"), cwd=workdir, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    case = stays["person"][0].as_py()
    for command in ("trace", "loi"):
        done = run(command, str(tmp_path / "p.tgidx"), "--case", case, cwd=workdir)
        assert done.returncode == 2
        assert "this index's person ids are pseudonyms (32 hex digits)" in done.stderr
        assert "pass --pseudonym-key-env" in done.stderr and case not in done.stderr
        done = run(command, "city.tgidx", "--case", case, "--pseudonym-key-env", "TG_TEST_KEY",
                   cwd=workdir, env=env)  # fmt: skip
        assert done.returncode == 2
        assert "person ids are not pseudonyms (32 hex digits); drop --pseudonym-key-env" in (
            done.stderr
        )


def test_out_is_checked_and_named(workdir, tmp_path):
    case = pq.read_table(workdir / "city" / "stays.parquet")["person"][0].as_py()
    (tmp_path / "afile").write_text("")
    (tmp_path / "dir.csv").mkdir()
    afile, folder = str(tmp_path / "afile"), str(tmp_path / "dir.csv")
    is_file, is_folder = (
        "expected a folder, found a file",
        "expected a file to write, found a folder",
    )
    for args, message in [
        (("generate", "--people", "100", "--out", afile), is_file),
        (("trace", "city.tgidx", "--case", case, "--out", afile), is_file),
        (("loi", "city.tgidx", "--case", case, "--out", str(tmp_path / "nodir" / "loi.csv")),
         "expected an existing folder to write in"),
        (("loi", "city.tgidx", "--case", case, "--out", folder), is_folder),
        (("build", "city/stays.parquet", "--out", "/proc/x.tgidx"), "cannot write there ("),
        (("present", "city.tgidx", "--windows", "none.csv", "--out", "/proc/p.csv"),
         "cannot write there ("),
    ]:  # fmt: skip
        if args[0] == "present":  # a windows file to get as far as writing
            done = run("loi", "city.tgidx", "--case", case, "--out", str(tmp_path / "w.csv"),
                       cwd=workdir)  # fmt: skip
            args = (*args[:3], str(tmp_path / "w.csv"), *args[4:])
        done = run(*args, cwd=workdir)
        assert done.returncode == 2
        assert f"--out {args[-1]}: {message}" in done.stderr
        assert "Errno" not in done.stderr and ".tmp-" not in done.stderr
        assert "Failed to open" not in done.stderr


def test_options_are_never_abbreviated_and_have_help(workdir):
    done = run("trace", "city.tgidx", "--cases", "P000017", cwd=workdir)  # not --cases-file
    assert done.returncode == 2
    # the option is named, its value (a case id, personal data) is not
    assert "unrecognized arguments: --cases and 1 value (did you mean --case?)" in done.stderr
    assert "P000017" not in done.stderr
    help_text = " ".join(run("trace", "--help", cwd=workdir).stdout.split())
    for words in ("case ids not in the index", "format of the files", "locations_of_interest"):
        assert words in help_text
    help_text = " ".join(run("build", "--help", cwd=workdir).stdout.split())
    assert "Arrow IPC or CSV file, or a folder" in help_text


def test_scans_in_a_text_file_get_the_command_lines_advice(tmp_path):
    # a CSV file of scans is read (build --scans scans.csv); other text files get the
    # command line's advice, not the library's advice for Python
    (tmp_path / "scans.csv").write_text("person,venue,time\n1,2,2021-09-01T00:00:00Z\n")
    done = run("build", "--scans", "scans.csv", "--out", "x.tgidx", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stays"] == 1
    (tmp_path / "scans.tsv").write_text("person\tvenue\ttime\n1\t2\t2021-09-01T00:00:00Z\n")
    done = run("build", "--scans", "scans.tsv", "--out", "y.tgidx", cwd=tmp_path)
    assert done.returncode == 2
    assert "rename the file to *.csv, or convert it to Parquet" in done.stderr
    assert "pyarrow.csv" not in done.stderr  # (the library's advice, for Python)


def test_a_misspelt_option_gets_the_commands_usage_and_the_nearest_option(workdir):
    done = run("trace", "city.tgidx", "--case", "17", "--tier", "2", cwd=workdir)
    assert done.returncode == 2
    assert "usage: tracegraph trace" in done.stderr  # the command's, not the top level's
    assert "error: unrecognized arguments: --tier and 1 value (did you mean --tiers?)" in (
        done.stderr
    )
    done = run("trace", "city.tgidx", "--case", "17", "--foo", "--min-overlp=5", cwd=workdir)
    assert done.stderr.rstrip().endswith(
        "error: unrecognized arguments: --foo --min-overlp (did you mean --min-overlap?)"
    )
    done = run("trace", "city.tgidx", "--case", "17", "--foo", cwd=workdir)
    assert done.stderr.rstrip().endswith("error: unrecognized arguments: --foo")  # none near


@pytest.mark.parametrize(
    "argv, message, expected",
    [
        # Arrow types and paths keep their own `name=value` text
        (["build", "s.parquet", "--out", "i"],
         "expected timestamp[ms, tz=UTC], got timestamp[ms, tz=Asia/Ho_Chi_Minh]",
         "expected timestamp[ms, tz=UTC], got timestamp[ms, tz=Asia/Ho_Chi_Minh]"),
        (["build", "s.parquet", "--out", "i"],
         "/data/tz=UTC/stays.parquet: no such file or folder",
         "/data/tz=UTC/stays.parquet: no such file or folder"),
        (["trace", "a/tiers=2/i.tgidx", "--case", "1"],
         "a/tiers=2/i.tgidx: trace again with tiers=1.",
         "a/tiers=2/i.tgidx: trace again with --tiers 1."),
        # a switch followed by punctuation, a value ending a sentence
        (["build", "s.parquet", "--out", "i"],
         "refusing to replace it, even with overwrite=True: remove it yourself",
         "refusing to replace it, even with --overwrite: remove it yourself"),
        (["build", "s.parquet", "--out", "i"],
         "pass tz='Asia/Ho_Chi_Minh' or bucket_width=60.",
         "pass --tz Asia/Ho_Chi_Minh or --bucket-width 60."),
    ],
)  # fmt: skip
def test_messages_name_options_without_rewriting_types_or_paths(argv, message, expected):
    from tracegraph.__main__ import _as_options, build_parser

    assert _as_options(message, build_parser().parse_args(argv)) == expected


def test_a_tilde_in_a_path_argument_is_the_home_folder(tmp_path, monkeypatch, capsys):
    # `--out=~/city` reaches Python with its ~ (no shell expands it there): the command's
    # checks looked in ./~/city while the library wrote in the home folder, so a second
    # `generate` replaced the first city's files without --overwrite
    from tracegraph.__main__ import main

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--people", "50", "--days", "1", "--out=~/city"]) == 0
    assert (home / "city" / "stays.parquet").is_file()
    first = (home / "city" / "stays.parquet").read_bytes()
    assert main(["generate", "--people", "60", "--days", "1", "--seed", "3", "--out=~/city"]) == 2
    assert "expected a folder without a city's files" in capsys.readouterr().err
    assert (home / "city" / "stays.parquet").read_bytes() == first
    assert main(["build", "~/city/stays.parquet", "--out=~/city.tgidx"]) == 0
    assert (home / "city.tgidx" / "manifest.json").is_file()
    assert not (tmp_path / "~").exists()


def test_a_negative_offset_is_the_value_of_a_zone_option_not_an_option():
    from tracegraph.__main__ import _attach_offsets

    assert _attach_offsets(["trace", "i", "--tz", "-03:00"]) == ["trace", "i", "--tz=-03:00"]
    assert _attach_offsets(["x", "--day-tz", "-0330", "--split-at-midnight", "-05"]) == [
        "x", "--day-tz=-0330", "--split-at-midnight=-05",
    ]  # fmt: skip
    assert _attach_offsets(["x", "--tz", "-h"]) == ["x", "--tz", "-h"]  # (an option)
    assert _attach_offsets(["x", "--out", "-03:00"]) == ["x", "--out", "-03:00"]
    assert _attach_offsets(["x", "--", "--tz", "-03:00"]) == ["x", "--", "--tz", "-03:00"]
