"""Operational sources: external assets owned by a source-aligned domain, described by its dbt sources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey, AssetSpec, TableColumn, TableSchema

from platform_lib.assets.metadata import domain_tags
from platform_lib.descriptors.dbt_manifest import source_asset_key
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.keys import operational_source_key


def operational_source_specs(domain: Domain, manifest: Mapping[str, Any]) -> list[AssetSpec]:
    owned = {operational_source_key(domain.name, table) for table in domain.operational_sources}
    return [
        AssetSpec(
            key=AssetKey(list(source_asset_key(source))),
            description=source["description"] or f"Operational table {source['name']} of domain {domain.name}.",
            group_name=domain.name,
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
        for source in manifest["sources"].values()
        if source_asset_key(source) in owned
    ]
