"""Smoke test of the first-touch memory benchmark (``benchmarks/first_touch.py``)."""

from __future__ import annotations

import json

import pytest

from benchmarks import first_touch


@pytest.mark.parametrize("pages", ["numpy", "small"])
def test_rounds_report_positive_costs_per_gib(pages):
    rows = first_touch.measure(0.01, 2, pages)
    assert len(rows) == 2
    assert all(r["first_touch_s_per_gib"] > 0 and r["write_s_per_gib"] > 0 for r in rows)


def test_cli_prints_json_and_rejects_bad_sizes(capsys):
    assert first_touch.main(["--gib", "0.005", "--rounds", "1", "--json", "--pages", "small"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["gib"] == 0.005 and len(out["rounds"]) == 1 and out["pages"] == "small"
    with pytest.raises(SystemExit):
        first_touch.main(["--gib", "0"])
