"""The peers of ``benchmarks.compare``: DuckDB SQL and Polars, each in a worker process.

A worker is started as ``python -m benchmarks._peers PEER SOURCE --threads N`` and
reads one JSON request per line on stdin; it answers each with one line on stdout,
``@@ {json}``, after the work is done. The time it reports is measured inside the
worker around the query alone (the result materialised as an Arrow table or a
DataFrame); writing the result to the Arrow IPC file the parent checks comes after.
Running peers in their own process lets the parent stop a query that exceeds the
timeout or a memory budget (by killing the worker) without waiting for it.

Requests: ``{"op": "build"}`` loads the stays (DuckDB ``CREATE TABLE AS SELECT *
FROM read_parquet(...)``, Polars ``pl.read_parquet``); ``{"op": "trace", "cases":
file, "tiers": k, "min_overlap": s, "linger": s, "plan": name, "out": file}`` answers
F1 (``tiers`` 1) or F1 -> Fk, and ``{"op": "pairs", "min_overlap": s, "plan": name}``
counts the whole city's co-present stay pairs (DuckDB only).

The rule, as tracegraph's (``policy="tracegraph"``, latency 0, infectious forever):
tier 0 are the cases, infectious at all times. A tier-k person infected at ``w``
(exposed_at) is infectious from ``w`` on: each own stay [s, e) with e > max(s, w)
gives the exposure interval [max(s, w), e + linger). A stay [ts, te) at the same venue
of a person in no tier yet qualifies when ``min(te, xe) - max(ts, xs)`` is > 0 and
>= ``min_overlap``; the person joins tier k+1 with exposed_at the earliest
``max(ts, xs)`` over the tier-k intervals only (breadth first, as tracegraph).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from typing import Any

PLANS = {
    "default": "SET prefer_range_joins = false",
    "prefer_range_joins": "SET prefer_range_joins = true",
}


# --------------------------------------------------------------------------- SQL


def _conditions(min_overlap: int, x: str, t: str) -> tuple[str, str, str]:
    """(join predicate, filter on the stay, filter on the interval) for a qualifying pair.

    ``min(te, xe) - max(ts, xs) >= m`` (with m >= 1) holds exactly when ``xe - ts``,
    ``te - xs``, ``te - ts`` and ``xe - xs`` are all >= m: two range predicates the
    planner can join on, and two filters on either side.
    """
    if min_overlap <= 0:
        return (
            f'{t}.start < {x}.xe AND {t}."end" > {x}.xs',
            f'{t}."end" > {t}.start',
            f"{x}.xe > {x}.xs",
        )
    m = f"to_seconds({int(min_overlap)})"
    return (
        f'{t}.start <= {x}.xe - {m} AND {t}."end" >= {x}.xs + {m}',
        f'{t}."end" >= {t}.start + {m}',
        f"{x}.xe >= {x}.xs + {m}",
    )


def trace_sql(tiers: int, min_overlap: int, linger: int) -> str:
    """DuckDB SQL: tiers 1..``tiers`` of the persons in table ``cases`` over ``stays``.

    One self-join of ``stays`` per tier, chained through materialised CTEs: tier k's
    exposure intervals ``x{k}`` come from its persons' stays clipped to their
    exposed_at; the candidate stays ``c{k}`` are those of everybody not in tiers
    0..k-1 (an anti-join *before* the range join, as Polars and tracegraph do, so that
    late tiers join only the few people left). Returns ``person``, ``tier``,
    ``exposed_at``.
    """
    join, stay_ok, interval_ok = _conditions(min_overlap, "x", "t")
    lg = f"to_seconds({int(linger)})"
    ctes = ["t0 AS MATERIALIZED (SELECT DISTINCT person FROM cases)"]
    for k in range(1, tiers + 1):
        if k == 1:
            source = "FROM stays AS s SEMI JOIN t0 AS p ON s.person = p.person"
            xs, clip = "s.start", ""
        else:
            source = f"FROM stays AS s JOIN t{k - 1} AS p ON s.person = p.person"
            xs, clip = "greatest(s.start, p.exposed_at)", ' AND s."end" > p.exposed_at'
        ctes.append(
            f"x{k} AS (SELECT * FROM (\n"
            f'            SELECT s.venue, {xs} AS xs, s."end" + {lg} AS xe\n'
            f"            {source}\n"
            f'            WHERE s."end" > s.start{clip}) AS x\n'
            f"        WHERE {interval_ok})"
        )
        reached = " UNION ALL ".join(f"SELECT person FROM t{j}" for j in range(k))
        ctes.append(
            f"c{k} AS (SELECT t.* FROM stays AS t ANTI JOIN ({reached}) AS r\n"
            f"        ON t.person = r.person WHERE {stay_ok})"
        )
        ctes.append(
            f"t{k} AS MATERIALIZED (\n"
            f"        SELECT t.person, min(greatest(t.start, x.xs)) AS exposed_at\n"
            f"        FROM x{k} AS x JOIN c{k} AS t ON t.venue = x.venue AND {join}\n"
            f"        GROUP BY t.person)"
        )
    union = "\nUNION ALL ".join(
        f"SELECT person, {k}::TINYINT AS tier, exposed_at FROM t{k}" for k in range(1, tiers + 1)
    )
    return "WITH " + ",\n".join(ctes) + "\n" + union


def pairs_sql(min_overlap: int, form: str = "rowid") -> str:
    """DuckDB SQL counting the stay pairs by different people co-present at one venue.

    ``form="rowid"`` counts each unordered pair once with ``a.rowid < b.rowid``;
    ``form="ordered"`` counts ordered pairs and halves the count (the rule is symmetric).
    """
    join, a_ok, _ = _conditions(min_overlap, "b", "a")
    # _conditions names the interval side xs/xe: spell them as b's start/end
    join = join.replace("b.xe", 'b."end"').replace("b.xs", "b.start")
    b_ok = a_ok.replace("a.", "b.")
    if form == "rowid":
        return textwrap.dedent(
            f"""\
            SELECT count(*) FROM stays AS a JOIN stays AS b
              ON a.venue = b.venue AND a.person <> b.person AND {join}
             AND a.rowid < b.rowid
            WHERE {a_ok} AND {b_ok}"""
        )
    return textwrap.dedent(
        f"""\
        SELECT count(*) // 2 FROM stays AS a JOIN stays AS b
          ON a.venue = b.venue AND a.person <> b.person AND {join}
        WHERE {a_ok} AND {b_ok}"""
    )


# --------------------------------------------------------------------------- Polars


def polars_trace(stays: Any, cases: Any, tiers: int, min_overlap: int, linger: int) -> Any:
    """The same tiers with Polars: per tier, an equi-join on venue, then a filter."""
    import polars as pl

    m = max(int(min_overlap), 1)
    mdur = pl.duration(seconds=m)
    lg = pl.duration(seconds=int(linger))
    lazy = stays.lazy()
    seen = cases.lazy().select("person").unique()
    results = []
    frontier: Any = None
    for k in range(1, tiers + 1):
        if k == 1:
            x = lazy.join(seen, on="person", how="semi").filter(pl.col("end") > pl.col("start"))
            x = x.select("venue", xs=pl.col("start"), xe=pl.col("end") + lg)
        else:
            x = lazy.join(frontier.lazy(), on="person", how="inner").filter(
                (pl.col("end") > pl.col("start")) & (pl.col("end") > pl.col("exposed_at"))
            )
            x = x.select(
                "venue", xs=pl.max_horizontal("start", "exposed_at"), xe=pl.col("end") + lg
            )
        x = x.filter(pl.col("xe") - pl.col("xs") >= mdur)
        targets = lazy.join(seen, on="person", how="anti").filter(
            pl.col("end") - pl.col("start") >= mdur
        )
        hit = (
            x.join(targets, on="venue", how="inner")
            .filter(pl.min_horizontal("end", "xe") - pl.max_horizontal("start", "xs") >= mdur)
            .group_by("person")
            .agg(exposed_at=pl.max_horizontal("start", "xs").min())
        )
        frontier = hit.collect(engine="streaming")
        results.append(frontier.with_columns(tier=pl.lit(k, pl.Int8)))
        if frontier.height == 0:
            break
        seen = pl.concat([seen, frontier.lazy().select("person")])
    return pl.concat(results).select("person", "tier", "exposed_at")


# --------------------------------------------------------------------------- worker


class _DuckDB:
    def __init__(self, source: str, threads: int, memory_mib: int | None) -> None:
        import duckdb

        config: dict[str, Any] = {"threads": threads}
        if memory_mib:
            config["memory_limit"] = f"{memory_mib}MB"
        self.con = duckdb.connect(config=config)
        self.con.execute("SET TimeZone = 'UTC'")
        self.source = source.replace("'", "''")

    def version(self) -> str:
        import duckdb

        return str(duckdb.__version__)

    def build(self, req: dict[str, Any]) -> dict[str, Any]:
        self.con.execute("DROP TABLE IF EXISTS stays")
        t0 = time.perf_counter()
        self.con.execute(f"CREATE TABLE stays AS SELECT * FROM read_parquet('{self.source}')")
        dt = time.perf_counter() - t0
        return {
            "seconds": dt,
            "rows": self.con.execute("SELECT count(*) FROM stays").fetchall()[0][0],
        }

    def trace(self, req: dict[str, Any]) -> dict[str, Any]:
        import pyarrow.feather as feather

        cases = req["cases"].replace("'", "''")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE cases AS SELECT * FROM '{cases}'")
        self.con.execute(PLANS[req.get("plan", "default")])
        sql = trace_sql(req["tiers"], req["min_overlap"], req["linger"])
        t0 = time.perf_counter()
        table = self.con.sql(sql).to_arrow_table()
        dt = time.perf_counter() - t0
        feather.write_feather(table, req["out"], compression="uncompressed")
        return {"seconds": dt, "rows": table.num_rows, "joins": self.join_operators(sql)}

    def pairs(self, req: dict[str, Any]) -> dict[str, Any]:
        self.con.execute(PLANS[req.get("plan", "default")])
        sql = pairs_sql(req["min_overlap"], req.get("form", "rowid"))
        t0 = time.perf_counter()
        count = self.con.execute(sql).fetchall()[0][0]
        dt = time.perf_counter() - t0
        return {"seconds": dt, "count": int(count), "joins": self.join_operators(sql)}

    def join_operators(self, sql: str) -> list[str]:
        """The join operators of the physical plan, e.g. ``["Hash Join INNER", "IE Join"]``."""
        import re

        text = "\n".join(str(row[-1]) for row in self.con.sql("EXPLAIN " + sql).fetchall())
        ops: list[str] = []
        for match in re.finditer(r"─ ([A-Za-z][A-Za-z_ ]*?Join) ─", text):
            kind = re.match(r"[^\n]*\n[^\n]*Join Type: (\w+)", text[match.end() :])
            name = match.group(1) + (f" {kind.group(1)}" if kind else "")
            if name not in ops:
                ops.append(name)
        return ops


class _Polars:
    def __init__(self, source: str, threads: int, memory_mib: int | None) -> None:
        self.source = source
        self.stays: Any = None

    def version(self) -> str:
        import polars as pl

        return str(pl.__version__)

    def build(self, req: dict[str, Any]) -> dict[str, Any]:
        import polars as pl

        self.stays = None
        t0 = time.perf_counter()
        self.stays = pl.read_parquet(self.source)
        dt = time.perf_counter() - t0
        return {"seconds": dt, "rows": self.stays.height}

    def trace(self, req: dict[str, Any]) -> dict[str, Any]:
        import polars as pl
        import pyarrow.feather as feather

        cases = pl.read_parquet(req["cases"])
        t0 = time.perf_counter()
        result = polars_trace(self.stays, cases, req["tiers"], req["min_overlap"], req["linger"])
        dt = time.perf_counter() - t0
        feather.write_feather(result.to_arrow(), req["out"], compression="uncompressed")
        return {"seconds": dt, "rows": result.height}

    def pairs(self, req: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError("pairs: not implemented for polars")


def worker(peer: str, source: str, threads: int, memory_mib: int | None) -> int:
    """Serve requests from stdin until it closes."""
    engine: _DuckDB | _Polars = (_DuckDB if peer == "duckdb" else _Polars)(
        source, threads, memory_mib
    )
    out = sys.stdout
    out.write("@@ " + json.dumps({"ready": True, "version": engine.version()}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            answer = getattr(engine, req["op"])(req)
            answer["ok"] = True
        except Exception as exc:  # reported to the parent, which decides
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write("@@ " + json.dumps(answer) + "\n")
        out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks._peers")
    p.add_argument("peer", choices=["duckdb", "polars"])
    p.add_argument("source", help="Parquet file or glob")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--memory-mib", type=int, default=None)
    args = p.parse_args(argv)
    if args.peer == "polars":
        os.environ.setdefault("POLARS_MAX_THREADS", str(args.threads))
    return worker(args.peer, args.source, args.threads, args.memory_mib)


if __name__ == "__main__":
    raise SystemExit(main())
