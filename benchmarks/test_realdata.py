"""``python -m benchmarks.realdata``: stays of the shared real check-ins, for ``--stays``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks import realdata


def test_an_absent_folder_says_where_it_looked(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRACEGRAPH_SHARED_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"nowhere.*TRACEGRAPH_SHARED_DATA"):
        realdata.real_stays_parquet("gowalla_nyc")
    assert realdata.main(["gowalla_nyc"]) == 2
    assert "not found" in capsys.readouterr().err


def test_an_unknown_dataset_is_refused() -> None:
    with pytest.raises(KeyError, match="expected one of"):
        realdata.real_stays_parquet("gowalla_paris")
    with pytest.raises(SystemExit):
        realdata.main(["gowalla_paris"])


@pytest.mark.realdata
def test_stays_are_written_once_to_the_cache(tmp_path, monkeypatch) -> None:
    source = realdata.real_data_folder() / realdata.DATASETS["gowalla_nyc"]
    if not source.is_file():
        pytest.skip(f"real data file not found: {source}")
    monkeypatch.setenv("TRACEGRAPH_BENCH_CACHE", str(tmp_path))
    path = realdata.real_stays_parquet("gowalla_nyc")
    assert path == tmp_path / "real-gowalla_nyc" / "stays.parquet"
    table = pq.read_table(path)
    assert table.column_names == ["person", "venue", "start", "end"]
    assert table.schema.field("start").type.tz == "UTC"
    # one stay per check-in, less the 6 exact duplicates and the repeats merged
    n_scans = pq.ParquetFile(source).metadata.num_rows
    assert 0.9 * n_scans < table.num_rows < n_scans
    per_s = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[table.schema.field("start").type.unit]
    duration = pa.compute.subtract(table["end"], table["start"]).cast(pa.int64())
    longest = pa.compute.max(duration).as_py() / per_s
    assert pa.compute.min(duration).as_py() >= 0 and 3600 <= longest <= 12 * 3600
    written = path.stat().st_mtime_ns
    assert realdata.real_stays_parquet("gowalla_nyc") == path  # reused, not rewritten
    assert path.stat().st_mtime_ns == written
    assert realdata.main(["gowalla_nyc"]) == 0
