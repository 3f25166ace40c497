"""DuckDB's TPC-H extension, loaded from the pip-installed file (it cannot be downloaded here)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import duckdb_extension_tpch

from platform_lib.sql import sql_string


def extension_path() -> Path:
    version = duckdb.__version__
    path = Path(duckdb_extension_tpch.__file__).parent / "extensions" / f"v{version}" / "tpch.duckdb_extension"
    if not path.exists():
        raise FileNotFoundError(f"{path}: duckdb-extension-tpch does not match duckdb {version}; pin both to the same version")
    return path


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the tpch extension loaded."""
    con = duckdb.connect()
    con.execute(f"LOAD {sql_string(extension_path())}")
    return con


def official_answer(query_nr: int, scale_factor: float) -> tuple[list[str], list[list[str]]]:
    """The official answer of a TPC-H query as (header, rows of strings), from tpch_answers()."""
    with connect() as con:
        row = con.execute(
            "select answer from tpch_answers() where query_nr = ? and scale_factor = ?", [query_nr, scale_factor]
        ).fetchone()
    if row is None:
        raise LookupError(f"tpch_answers() has no answer for query {query_nr} at scale factor {scale_factor}")
    lines = row[0].strip("\n").split("\n")
    return lines[0].split("|"), [line.split("|") for line in lines[1:]]
