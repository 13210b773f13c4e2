"""Benchmarks of tracegraph: named synthetic cities, peer comparisons, micro-benchmarks.

* ``python -m benchmarks.cities M S-crowd`` generates (once) and caches named cities
  as Parquet (XS, S, M, L and the skewed S-crowd, S-long, S-stadium).
* ``python -m benchmarks.compare --size M`` builds, traces F1 and F1 -> F3 for 1, 100,
  1,000 and 10,000 cases, counts the city's co-present pairs and times a cold start
  with tracegraph, and answers the same questions with DuckDB SQL and Polars on the
  same Parquet file, checking that every answer is identical.
* ``pytest benchmarks/ --benchmark-enable`` runs the micro-benchmarks (XS city).
"""
