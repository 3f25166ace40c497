"""Connections to a domain's own DuckDB file, the only database a domain writes."""

from __future__ import annotations

import duckdb

from platform_lib.ports.storage import install_extensions, s3_secret_sql
from platform_lib.settings import duckdb_memory_limit, warehouse_path


def connect_warehouse(domain: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = warehouse_path(domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"memory_limit": duckdb_memory_limit(), "extension_directory": str(install_extensions())}
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    secret = s3_secret_sql()
    if secret:
        con.execute(secret)
    return con
