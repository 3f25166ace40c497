"""Connections to a domain's own DuckDB file, the only database a domain writes."""

from __future__ import annotations

import duckdb

from platform_lib.settings import duckdb_memory_limit, warehouse_path


def connect_warehouse(domain: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = warehouse_path(domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only, config={"memory_limit": duckdb_memory_limit()})
