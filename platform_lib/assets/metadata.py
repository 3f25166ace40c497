"""How descriptors show in Dagster: owners, tags, column schemas. One place, shared by every asset kind."""

from __future__ import annotations

from dagster import TableColumn, TableColumnConstraints, TableSchema

from platform_lib.descriptors.contract import Contract
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.product import OutputPort


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
