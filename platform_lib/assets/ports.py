"""Output ports as Dagster assets: one multi-asset per domain publishes the selected ports."""

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, AssetSpec, AutomationCondition, MaterializeResult, MetadataValue, multi_asset

from platform_lib.assets.metadata import column_schema, port_tags
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.product import OutputPort
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.ports.publish import publish, stage
from platform_lib.ports.store import PortStore


def model_relation(port: OutputPort, manifest: Mapping[str, Any]) -> str:
    """The DuckDB relation of the dbt model behind a port; an unknown model is an error in the contract."""
    node = manifest["nodes"].get(f"model.{port.domain}.{port.contract.model}")
    if node is None:
        doc = load_yaml(port.contract.file)
        raise DescriptorError([doc.problem(f"no dbt model {port.contract.model!r} in dbt_projects/{port.domain}", "schema", 0, "physicalName")])
    return node["relation_name"]


def port_spec(domain: Domain, port: OutputPort, automation_condition: AutomationCondition | None) -> AssetSpec:
    return AssetSpec(
        key=AssetKey(list(port.asset_key)),
        deps=[AssetKey([domain.name, port.contract.model])],
        description=f"Output port {port.name} v{port.contract.major} of product {port.product}: {port.contract.description}",
        group_name=domain.name,
        owners=domain.owners,
        kinds={"parquet", "port"},
        tags=port_tags(port),
        code_version=port.contract.version,
        automation_condition=automation_condition,
        metadata={
            "dagster/column_schema": column_schema(port.contract),
            "mesh/contract_id": port.contract.id,
            "mesh/contract_version": port.contract.version,
        },
    )


def domain_port_assets(
    domain: Domain, manifest: Mapping[str, Any], automation_condition: AutomationCondition | None
) -> AssetsDefinition:
    ports = {AssetKey(list(p.asset_key)): p for p in domain.output_ports}
    relations = {key: model_relation(port, manifest) for key, port in ports.items()}

    @multi_asset(
        name=f"{domain.name}_ports",
        specs=[port_spec(domain, port, automation_condition) for port in ports.values()],
        can_subset=True,
    )
    def _publish(context: AssetExecutionContext):
        store = PortStore()
        for key in sorted(context.selected_asset_keys):
            port = ports[key]
            staged = stage(port, relations[key], context.run_id)
            published = publish(port, staged, context.run_id, store)
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "dagster/row_count": published.manifest["row_count"],
                    "mesh/version_id": published.version_id,
                    "mesh/uri": MetadataValue.url(published.data_uri),
                    "mesh/schema_fingerprint": published.manifest["schema_fingerprint"],
                },
            )

    return _publish
