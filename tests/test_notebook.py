"""The example notebook runs top to bottom, as committed, and says what it should.

``examples/trace_a_city.ipynb`` is stored without outputs. This test executes a copy with
nbclient in a fresh kernel that runs *this* interpreter (a kernelspec written to a
temporary folder, so a venv's or the system's ``python3`` kernelspec cannot pick another
Python), in a temporary working directory, and checks facts from the outputs.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs nbformat: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="needs nbclient: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="needs ipykernel: pip install -e '.[test]'")
pytest.importorskip("matplotlib", reason="the notebook draws plots: pip install -e '.[test]'")
pytest.importorskip("pandas", reason="the notebook uses pandas: pip install -e '.[test]'")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "trace_a_city.ipynb"
KERNEL = "tracegraph-notebook-test"
CELL_TIMEOUT = 300  # seconds per cell; the whole notebook takes a few seconds


def _kernel_env(tmp: pathlib.Path) -> dict[str, str]:
    """Environment of the test's jupyter client and kernel, everything under ``tmp``."""
    spec_dir = tmp / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python {sys.version_info.major}.{sys.version_info.minor} (test)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    for name in ("runtime", "config", "ipython", "tmp", "work"):
        (tmp / name).mkdir()
    pythonpath = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        "JUPYTER_PATH": str(tmp / "jupyter"),  # finds KERNEL before any other kernelspec
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),  # connection files
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),  # no user configuration
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(tmp / "ipython"),  # no user profile or startup files
        "TMPDIR": str(tmp / "tmp"),  # the notebook's exports land here
        "PYTHONPATH": os.pathsep.join(pythonpath),  # this checkout's tracegraph
        # figures as PNG outputs, whatever MPLBACKEND the CI machine sets
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, pathlib.Path]:
    tmp = tmp_path_factory.mktemp("notebook")
    env = _kernel_env(tmp)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        startup_timeout=120,
        resources={"metadata": {"path": str(tmp / "work")}},
    )
    with pytest.MonkeyPatch.context() as mp:
        # the jupyter client in this process finds the kernelspec and writes the
        # connection file by these; the rest (TMPDIR above all) is for the kernel only
        for key, value in env.items():
            if key.startswith("JUPYTER_"):
                mp.setenv(key, value)
        # raises nbclient.exceptions.CellExecutionError, with the cell and traceback
        client.execute(env={**os.environ, **env})
    return nb, tmp


def _code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _stdout(nb: Any) -> str:
    return "".join(
        out.get("text", "")
        for cell in _code_cells(nb)
        for out in cell.outputs
        if out.output_type == "stream" and out.name == "stdout"
    )


def test_notebook_is_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"cells {dirty} of {NOTEBOOK.name} have stored outputs or execution counts; "
        f"clear them before committing (e.g. jupyter nbconvert --clear-output --inplace)"
    )


def test_notebook_runs_clean(executed: tuple[Any, pathlib.Path]) -> None:
    nb, _ = executed
    cells = _code_cells(nb)
    assert all(cell.execution_count is not None for cell in cells)
    # nothing on stderr: no warnings, no progress bars, no tracebacks
    noisy = {
        i: out.get("text", "")[:300]
        for i, cell in enumerate(cells)
        for out in cell.outputs
        if out.output_type == "error" or (out.output_type == "stream" and out.name == "stderr")
    }
    assert not noisy, f"code cells wrote to stderr: {noisy}"


def test_notebook_traces_to_tier_3(executed: tuple[Any, pathlib.Path]) -> None:
    nb, _ = executed
    text = _stdout(nb)
    counts = {
        int(tier): int(n.replace(",", ""))
        for tier, n in re.findall(r"^F(\d): ([\d,]+)$", text, flags=re.MULTILINE)
    }
    assert counts[0] == 5
    assert set(counts) == {0, 1, 2, 3}
    assert all(n > 0 for n in counts.values())
    # the graph's BFS layers equal the tiers; the published list finds every F1
    assert "same as the tiers: True" in text
    assert "every F1 is on it: True" in text


def test_notebook_exports_and_plots(executed: tuple[Any, pathlib.Path]) -> None:
    nb, tmp = executed
    written = [pathlib.Path(p) for p in re.findall(r"^wrote (\S+) \(", _stdout(nb), re.MULTILINE)]
    assert [p.name for p in written] == ["locations_of_interest.csv", "contacts.parquet"]
    for path in written:
        assert path.is_relative_to(tmp / "tmp"), path  # into a temporary folder, not the repo
        assert path.stat().st_size > 0
    header = written[0].read_text().splitlines()[0]
    assert header == '"venue","start","end","cases","exposed"'
    pngs = [
        out
        for cell in _code_cells(nb)
        for out in cell.outputs
        if "image/png" in out.get("data", {})
    ]
    # timeline, tiers summary, small tier graph, compliance roll-out, daily compliance
    assert len(pngs) == 5
    # the HTML reprs of the index and the trace are shown, not their fallbacks
    html = [
        out["data"]["text/html"]
        for cell in _code_cells(nb)
        for out in cell.outputs
        if "text/html" in out.get("data", {})
    ]
    assert any("VenueIndex" in h and "bucket width" in h for h in html)
    assert any("Trace to tier 3" in h for h in html)
    assert not [h for h in html if " object at 0x" in h]
