"""Smoke test of the scan memory benchmark (``benchmarks/scan_memory.py``) on 20k scans."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from benchmarks import scan_memory


def test_parse_count():
    assert scan_memory.parse_count("100M") == 100_000_000
    assert scan_memory.parse_count("20k") == 20_000
    assert scan_memory.parse_count("1_500") == 1_500
    with pytest.raises(Exception, match="expected a count"):
        scan_memory.parse_count("lots")


def test_generated_dataset_and_measurement(tmp_path):
    folder = scan_memory.dataset(20_000, days=3, root=tmp_path)
    files = sorted(folder.rglob("*.parquet"))
    assert [f.parent.name for f in files] == [
        "day=2021-09-06",
        "day=2021-09-07",
        "day=2021-09-08",
    ]
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == 20_000
    assert scan_memory.dataset(20_000, days=3, root=tmp_path) == folder  # cached
    result = scan_memory.measure(folder, "classic")  # in this process: quick, not a measurement
    assert result["scans"] == 20_000 and result["path"] == "classic"
    assert [s["stage"] for s in result["stages"]] == ["read_scans", "scans_to_stays", "from_stays"]
    read = result["stages"][0]
    assert read["rows"] == read["accepted"] + read["duplicates"] + read["rejected"] == 20_000
    assert read["duplicates"] > 0
    stays = result["stages"][1]
    assert stays["repeats"] > 0 and 0.6 * 20_000 < stays["stays"] < 0.8 * 20_000
    assert result["bytes_per_scan"] > 0
    assert "bytes/scan" in scan_memory.report(result)

    lean = scan_memory.measure(folder, "lean")
    assert lean["path"] == "lean" and [s["stage"] for s in lean["stages"]] == ["index_from_scans"]
    one = lean["stages"][0]
    assert one["rows"] == 20_000 and one["duplicates"] == read["duplicates"]
    assert (one["stays"], one["repeats"]) == (stays["stays"], stays["repeats"])
    assert lean["stays"] == result["stays"]
    assert lean["index_bytes_per_stay"] == result["index_bytes_per_stay"]
    table = scan_memory.compare([lean, result])
    assert table.splitlines()[1].startswith("lean") and table.splitlines()[2].startswith("classic")
    with pytest.raises(ValueError, match="`path`: expected one of"):
        scan_memory.measure(folder, "fast")
