"""Operational sources: the tables a source-aligned domain owns, described by its dbt sources and
observed from the files `mesh seed` lands, so the UI shows when each last changed and how many rows
it has."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    DataVersion,
    Failure,
    MetadataValue,
    ObserveResult,
    TableColumn,
    TableSchema,
    multi_observable_source_asset,
)

from platform_lib.assets.beta import beta_accepted
from platform_lib.assets.metadata import domain_tags
from platform_lib.dbt.manifest import source_asset_key
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.keys import operational_source_key, operational_table
from platform_lib.ports.data_versions import file_version
from platform_lib.settings import operational_source_file


def operational_group(domain: str) -> str:
    """A group of their own: in the domain's group, the table `orders` and the model `orders` would
    be two nodes of one name."""
    return f"{domain}_operational"


def operational_source_specs(domain: Domain, manifest: Mapping[str, Any]) -> list[AssetsDefinition]:
    """The domain's operational sources as one observable definition (none for a domain without any)."""
    owned = {operational_source_key(domain.name, table) for table in domain.operational_sources}
    specs = [_spec(domain, source) for source in manifest["sources"].values() if source_asset_key(source) in owned]
    if not specs:
        return []
    with beta_accepted():
        @multi_observable_source_asset(specs=specs, name=f"{domain.name}_operational_sources", can_subset=True)
        def observe_sources(context):
            for key in sorted(context.selected_asset_keys):
                yield observe(domain.name, key)

    return [observe_sources]


def observed_first(domain: Domain) -> AssetSelection:
    """The domain's operational sources, for its job: a run observes them before its models read them."""
    with beta_accepted():
        return AssetSelection.groups(operational_group(domain.name), include_sources=True)


def observe(domain: str, key: AssetKey) -> ObserveResult:
    """The landed file's footer and size, never its data: cheap at any scale factor. Its version is
    the one a port's data version reads (ports.data_versions)."""
    import pyarrow.parquet as pq  # at run time: location load stays without pyarrow

    path = operational_source_file(domain, operational_table(domain, tuple(key.path)))
    if not path.exists():
        raise Failure(f"operational source {path} is missing; run `mesh seed` first")
    with path.open("rb") as file:
        stat = os.fstat(file.fileno())  # of the file whose footer is read, even if replaced meanwhile
        rows = pq.read_metadata(file).num_rows
    return ObserveResult(
        asset_key=key,
        data_version=DataVersion(file_version(stat)),
        metadata={
            "dagster/row_count": rows,
            "path": MetadataValue.path(str(path)),
            "size_bytes": stat.st_size,
            "modified_at": MetadataValue.timestamp(stat.st_mtime),
        },
    )


def _spec(domain: Domain, source: Mapping[str, Any]) -> AssetSpec:
    return AssetSpec(
        key=AssetKey(list(source_asset_key(source))),
        description=source["description"] or f"Operational table {source['name']} of domain {domain.name}.",
        group_name=operational_group(domain.name),
        owners=domain.owners,
        kinds={"parquet", "source"},
        tags=domain_tags(domain),
        metadata={
            "dagster/column_schema": TableSchema(
                columns=[
                    TableColumn(name=c["name"], type=c.get("data_type") or "?", description=c.get("description"))
                    for c in source["columns"].values()
                ]
            )
        },
    )
