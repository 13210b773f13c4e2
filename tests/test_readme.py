"""The README's Python examples run, in order, on a generated city laid out as they assume.

The examples name their inputs as a user's would be: a folder ``stays/`` of Parquet
files (person, venue, start, end), a folder ``scans/`` of raw entry scans with the
columns ``phone``, ``qr``, ``ts``, and ``city/registry.parquet``. This test makes them
from a synthetic city with text ids (``P000017`` ... as the examples use), runs every
``python`` block of README.md in one namespace, and checks what they produced.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tracegraph as tg

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    """The ``python`` fenced blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture
def user_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    city = tg.synth.generate_city(5_000, days=3, ids="str", seed=3)
    city.write_parquet(tmp_path / "city")
    (tmp_path / "stays").mkdir()
    pq.write_table(city.stays, tmp_path / "stays" / "part-0.parquet")
    (tmp_path / "new_stays").mkdir()  # (a day's stays to append)
    pq.write_table(city.stays.slice(0, 100), tmp_path / "new_stays" / "part-0.parquet")
    (tmp_path / "scans").mkdir()
    stays = city.stays
    scans = pa.table({"phone": stays["person"], "qr": stays["venue"], "ts": stays["start"]})
    pq.write_table(scans, tmp_path / "scans" / "day-0.parquet")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_has_the_examples_this_test_runs() -> None:
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) == 3
    assert 'tg.VenueIndex.from_stays("stays/")' in blocks[0]
    assert 'tg.read_scans("scans/"' in blocks[1]
    assert "locations_of_interest(" in blocks[2]


def test_readme_python_examples_run(user_files: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in python_blocks(README.read_text(encoding="utf-8")):
        exec(compile(block, str(README), "exec"), namespace)  # our own README
    import matplotlib.pyplot as plt

    plt.close("all")  # the figures of plot_timeline / plot_tiers
    # the quickstart's graph of its two cases' contacts; the last block's trace
    assert namespace["graph"].number_of_nodes() > 2
    assert isinstance(namespace["result"], tg.Trace)
    explained = str(namespace["result"].explain(namespace["contact"]))
    assert "was reached in 1 hop(s)" in explained  # a contact, not a case
    # scans -> stays -> index, saved, and the one-call path
    assert (user_files / "city.tgidx").is_dir()
    # with the day appended (nothing is older than the purge's cut-off)
    saved = tg.VenueIndex.open(user_files / "city.tgidx")
    assert saved.n_stays == namespace["stays"].stays.num_rows + 100
    report = namespace["report"]
    n_scans = pq.read_metadata(user_files / "scans" / "day-0.parquet").num_rows
    assert report.scans.read == n_scans
    assert namespace["index"].n_stays > 0.9 * n_scans
    # the outputs of the last block
    loi = namespace["loi"]
    assert isinstance(loi, pa.Table) and loi.num_rows > 0
    lines = (user_files / "loi.csv").read_text().splitlines()
    assert lines[0].startswith('"venue"') and len(lines) == loi.num_rows + 1
    assert (user_files / "contacts.graphml").stat().st_size > 0
    weekly = namespace["weekly"]
    assert tg.scan_accounts(weekly)["counted"] == sum(weekly["scans"].to_pylist()) > 0
