"""Operational sources: external assets owned by a source-aligned domain, landed outside Dagster."""

from __future__ import annotations

from dagster import AssetKey, AssetSpec

from platform_lib.assets.metadata import domain_tags
from platform_lib.descriptors.domain import Domain
from platform_lib.ports.binding import operational_source_key


def operational_source_specs(domain: Domain) -> list[AssetSpec]:
    return [
        AssetSpec(
            key=AssetKey(list(operational_source_key(domain.name, table))),
            description=description,
            group_name=domain.name,
            owners=domain.owners,
            kinds={"parquet", "source"},
            tags=domain_tags(domain),
        )
        for table, description in domain.operational_sources.items()
    ]
