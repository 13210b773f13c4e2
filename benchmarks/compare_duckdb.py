"""Former name of :mod:`benchmarks.compare`, kept so that old commands still run.

``python -m benchmarks.compare_duckdb ARGS`` is ``python -m benchmarks.compare
--peers duckdb ARGS`` (unless ``--peers`` is given). The options of the old script
are accepted (``--duckdb-timeout`` is ``--timeout``); ``--min-overlap`` now applies
to every trace instead of adding a second F1 row.
"""

from __future__ import annotations

import sys

from benchmarks import compare


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--peers" or a.startswith("--peers=") for a in args):
        args = ["--peers", "duckdb", *args]
    return compare.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
