"""The columns and types a domain's dbt models make, judged from their SQL before anything runs.

dbt compiles the project (dbt.compile); an in-memory DuckDB gets each
dbt source as an empty table typed as a run will bind it (an input port by its producer's
contract, an operational source by its landed file) and each model as a view of its compiled
SQL, producers first. DuckDB binds every view as it is created, so a port's model then describes
exactly the columns and types its SQL will make: `mesh check` holds them against the contract
before a run, instead of judging the last build.
"""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import TopologicalSorter
from typing import Any

import duckdb

from platform_lib.dbt.manifest import domain_sources, source_asset_key
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.keys import operational_table
from platform_lib.settings import operational_source_file
from platform_lib.sql import fence, sql_identifier, sql_string


def _relation_parts(relation: str) -> list[str]:
    return [part.strip('"') for part in relation.split(".")]


def _create_schemas(con: duckdb.DuckDBPyConnection, relations: list[str]) -> None:
    """The databases and schemas of every relation, in memory, before the session is fenced."""
    for database in dict.fromkeys(_relation_parts(r)[0] for r in relations):
        con.execute(f"attach ':memory:' as {sql_identifier(database)}")
    for database, schema in dict.fromkeys(tuple(_relation_parts(r)[:2]) for r in relations):
        con.execute(f"create schema if not exists {sql_identifier(database)}.{sql_identifier(schema)}")


def _source_table(domain: Domain, key: tuple[str, ...], ports: Mapping[tuple, Any]) -> str | None:
    """The body of an empty table typed as the source will be bound, or None when unknown."""
    operational = operational_table(domain.name, key)
    if operational is not None:
        landed = operational_source_file(domain.name, operational)
        return f"as select * from read_parquet({sql_string(landed)}) limit 0" if landed.exists() else None
    port = ports.get(tuple(key))
    if port is None:
        return None
    return "(" + ", ".join(f"{sql_identifier(c.name)} {c.physical_type}" for c in port.contract.columns) + ")"


def model_columns(domain: Domain, manifest: Mapping[str, Any], ports: Mapping[tuple, Any]) -> dict[str, list[tuple[str, str]] | str]:
    """For each model whose inputs can all be typed: its (column, type) list, or the error DuckDB
    gives binding its SQL (a column its inputs do not have, say). `ports`: asset key -> output port."""
    sources = domain_sources(domain, manifest)
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model" and n.get("relation_name")}
    con = duckdb.connect()
    _create_schemas(con, [s["relation_name"] for s in sources] + [n["relation_name"] for n in models.values()])
    typed: set[str] = set()
    for source in sources:
        body = _source_table(domain, source_asset_key(source) or (), ports)
        if body is None:
            continue
        try:
            con.execute(f"create table {source['relation_name']} {body}")
        except duckdb.Error:
            continue  # a landed file DuckDB cannot read, a relation named twice: the runs report those
        typed.add(source["unique_id"])
    # The models' SQL is a domain team's: binding it must reach no file (a read_csv would show the
    # file's columns in this check's report), as their runs reach only what they bound.
    fence(con.execute, [])
    order = TopologicalSorter({uid: [d for d in n["depends_on"]["nodes"] if d in models] for uid, n in models.items()}).static_order()
    columns: dict[str, list[tuple[str, str]] | str] = {}
    for uid in order:
        node = models[uid]
        if not all(d in typed for d in node["depends_on"]["nodes"]):
            continue
        try:
            con.execute(f"create view {node['relation_name']} as {node['compiled_code']}")
        except duckdb.Error as exc:
            columns[node["name"]] = str(exc).splitlines()[0]
            continue
        typed.add(uid)
        columns[node["name"]] = [(row[0], row[1]) for row in con.execute(f"describe {node['relation_name']}").fetchall()]
    con.close()
    return columns
