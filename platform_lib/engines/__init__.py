"""The engines a domain's dbt models run on, and what the platform needs from each.

A domain names its engine in `domain.yaml` (`engine: duckdb`, the default, or `spark`); its
descriptors, contracts and SQL are written the same way for both. The platform keeps the
interfaces and asks three things of an engine:

- read the files binding pinned (an input port's snapshot, an operational source), as the dbt
  sources' relations, after the platform verified them;
- enforce the dbt model contracts the platform generates from the port contracts, in its own types;
- leave the product models' rows as Parquet the platform can read: the export, its masking, the
  audit and the publication then run in DuckDB, the same for every engine, so a value hashed by
  a domain on one engine equals the same value hashed on another.

DuckDB does all three in the domain's own file. Spark (spark.py) runs the models on a cluster, as
tables of Parquet files in the domain's own Spark warehouse folder.
"""

from __future__ import annotations

DUCKDB = "duckdb"
SPARK = "spark"
ENGINES = (DUCKDB, SPARK)
# The SQL dialect sqlglot reads each engine's compiled models in (column lineage).
DIALECTS = {DUCKDB: "duckdb", SPARK: "spark"}
