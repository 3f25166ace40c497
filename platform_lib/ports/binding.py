"""Input binding: before a domain's dbt run, every dbt source becomes a view in the domain's own DuckDB.

Operational sources bind to the domain's landed files; input ports bind to the current published
version of the producer's port. The view pins that version for the whole run, so a producer that
publishes mid-run never changes what a consumer reads halfway through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_lib.descriptors.dbt_manifest import domain_sources, source_asset_key
from platform_lib.descriptors.domain import Domain
from platform_lib.ports.store import PortStore, local_path
from platform_lib.ports.warehouse import connect_warehouse
from platform_lib.settings import operational_sources_dir

OPERATIONAL = "operational"


def operational_source_key(domain: str, table: str) -> tuple[str, str, str]:
    return (domain, OPERATIONAL, table)


def port_source_identifier(asset_key: tuple[str, ...]) -> str:
    """The view a consumer's dbt source reads for a port: `<producer>__<port>_v<major>` in schema ports."""
    return "__".join(asset_key)


class UnboundSource(Exception):
    pass


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _identifier(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def resolve(domain: Domain, source: Mapping[str, Any], store: PortStore) -> tuple[str, str]:
    """(what the view reads, which version that is) for one dbt source."""
    key = source_asset_key(source)
    where = f"{source['original_file_path']}: source {source['source_name']}.{source['name']}"
    if key is None:
        raise UnboundSource(f"{where}: set config.meta.dagster.asset_key to the operational source or the port it reads")
    if key[:2] == (domain.name, OPERATIONAL):
        path = operational_sources_dir(domain.name) / f"{key[2]}.parquet"
        if not path.exists():
            raise UnboundSource(f"{where}: operational source {path} is missing; run `mesh seed` first")
        return str(path), "operational"
    published = store.current(key)
    if published is None:
        raise UnboundSource(
            f"{where}: port {'/'.join(key)} has no published version yet; materialize it in domain {key[0]} first"
        )
    return local_path(published.data_uri), published.version_id


def bind_sources(domain: Domain, manifest: Mapping[str, Any], store: PortStore) -> dict[str, str]:
    """Create or replace the views behind every dbt source; returns asset key -> bound version."""
    sources = domain_sources(domain, manifest)
    bound, statements = {}, []
    for source in sources:
        path, version = resolve(domain, source, store)
        schema, table = _identifier(source["schema"]), _identifier(source["identifier"])
        statements.append(f"create schema if not exists {schema}")
        statements.append(f"create or replace view {schema}.{table} as select * from read_parquet({_sql_string(path)})")
        bound["/".join(source_asset_key(source))] = version
    with connect_warehouse(domain.name) as con:
        for statement in statements:
            con.execute(statement)
    return bound
