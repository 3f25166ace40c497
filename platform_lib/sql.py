"""SQL text made from values, and the fence that closes a DuckDB session to all but some files.

Below every package: ports, quality, tpch and the deployment all write SQL for DuckDB, and none of
them should need another to quote a name."""

from __future__ import annotations


def sql_string(value: str) -> str:
    """A SQL string literal for a path or a name: the one place such literals are made."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_identifier(value: str) -> str:
    return '"' + str(value).replace('"', '""') + '"'


def fence(execute, readable: list[str]) -> None:
    """Close a DuckDB session to every file but `readable`, for good: reading or writing any other
    path, ATTACH, COPY elsewhere and LOAD are refused, and the fence cannot be reopened. DuckDB takes
    the two settings only in this order, after connecting; its own files (the database, its WAL and
    spill files) stay reachable. `execute` runs one statement on the session."""
    execute(f"SET allowed_paths = [{', '.join(map(sql_string, readable))}]")
    execute("SET enable_external_access = false")
