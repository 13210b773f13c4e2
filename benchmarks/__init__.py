"""Benchmarks of tracegraph: named synthetic cities, a DuckDB comparison, micro-benchmarks.

* ``python -m benchmarks.cities M`` generates (once) and caches a named city as Parquet.
* ``python -m benchmarks.compare_duckdb --size M --cases 1000`` builds + traces F1 with
  tracegraph and answers the same question with DuckDB SQL on the same Parquet file.
* ``pytest benchmarks/ --benchmark-enable`` runs the micro-benchmarks on an XS city.
"""
