"""How descriptors show in Dagster: owners, tags, column schemas. One place, shared by every asset kind."""

from __future__ import annotations

from typing import Any

from dagster import AssetKey, AssetObservation, MetadataValue, TableColumn, TableColumnConstraints, TableColumnDep, TableColumnLineage, TableSchema

from platform_lib.descriptors.contract import Contract
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.product import OutputPort
from platform_lib.lineage.columns import ModelLineage


def column_schema(contract: Contract) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(
                name=column.name,
                type=f"{column.logical_type} ({column.physical_type})",
                description=column.description,
                constraints=TableColumnConstraints(
                    nullable=not column.required,
                    unique=column.unique or column.primary_key,
                ),
                tags={"classification": column.classification},
            )
            for column in contract.columns
        ]
    )


def domain_tags(domain: Domain) -> dict[str, str]:
    return {"mesh/domain": domain.name}


def port_tags(port: OutputPort) -> dict[str, str]:
    classifications = sorted({c.classification for c in port.contract.columns})
    return {
        "mesh/domain": port.domain,
        "mesh/product": port.product,
        "mesh/port": port.name,
        "mesh/version": port.contract.version,
        "mesh/classification": "_".join(classifications),
    }


def column_lineage(lineage: ModelLineage) -> dict[str, Any]:
    """Where each column comes from, as Dagster stores it (`dagster/column_lineage`, which Dagster+
    draws and GraphQL serves) and with what the platform knows besides: each input column's kind of
    derivation, and the columns the rows are filtered or joined on (`mesh/column_lineage`)."""
    if lineage.error:
        return {"mesh/column_lineage": MetadataValue.json({"error": lineage.error})}
    return {
        "dagster/column_lineage": TableColumnLineage(deps_by_column={
            column: [TableColumnDep(asset_key=AssetKey(list(d.key)), column_name=d.column) for d in deps]
            for column, deps in lineage.columns.items()
        }),
        "mesh/column_lineage": MetadataValue.json({
            "columns": {column: [{"from": "/".join(d.key), "column": d.column, "kind": d.kind} for d in deps]
                        for column, deps in lineage.columns.items()},
            "rows": [{"from": "/".join(d.key), "column": d.column, "kind": d.kind} for d in lineage.rows],
        }),
    }


# A port a run checked and left as it was: its observation says why, and wakes no consumer (an
# eager condition waits for a materialization).
UP_TO_DATE = "mesh/up_to_date"


def up_to_date(key: tuple[str, ...], why: str, seconds: dict[str, float] | None = None) -> AssetObservation:
    """`seconds`: where the time of a version recomputed to the same content went, as a published
    version's `mesh/seconds` says it."""
    return AssetObservation(asset_key=AssetKey(list(key)), metadata={UP_TO_DATE: why} | ({"mesh/seconds": seconds} if seconds else {}))
