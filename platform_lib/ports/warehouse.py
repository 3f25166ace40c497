"""Connections to a domain's own DuckDB file, the only database a domain writes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from platform_lib.ports.storage import PortStorage, install_extensions


@dataclass(frozen=True)
class Warehouse:
    """The domain's DuckDB file, and the identity its views read other domains' ports with."""

    path: Path
    memory_limit: str
    storage: PortStorage

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        config = {"memory_limit": self.memory_limit, "extension_directory": str(install_extensions())}
        con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        secret = self.storage.secret_sql()
        if secret:
            con.execute(secret)
        return con
