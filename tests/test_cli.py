"""The command line, run as a user runs it: a subprocess, exit codes, outputs, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

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
    for command in ("demo", "generate", "build", "trace"):
        done = run(command, "--help", cwd=".")
        assert done.returncode == 0
        assert "usage: tracegraph" in done.stdout
    done = run("trace", cwd=".")
    assert done.returncode == 2  # argparse: missing index
    assert "Traceback" not in done.stderr
