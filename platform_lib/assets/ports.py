"""Output ports as Dagster assets: one multi-asset per domain writes, audits and publishes the
selected ports. Every contract rule is a blocking asset check: a version that fails one is never
published, and its consumers keep reading the last good version."""

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    AutomationCondition,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from platform_lib.assets.metadata import column_schema, port_tags
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.dbt_manifest import model_relation
from platform_lib.descriptors.product import OutputPort
from platform_lib.quality.rules import SCHEMA_CHECK, contract_rules

if TYPE_CHECKING:
    from platform_lib.quality.audit import CheckOutcome


class Stopwatch:
    """Seconds per phase of one port's publication."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def time(self, phase: str, call, *args):
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.seconds[phase] = round(time.perf_counter() - started, 3)


def freshness_policy(port: OutputPort) -> FreshnessPolicy | None:
    """`frequency` is how often a new version is due; `latency` how late it may be on top of that."""
    frequency, latency = port.contract.sla_duration("frequency"), port.contract.sla_duration("latency")
    late_after = port.contract.late_after()
    if late_after is None:
        return None
    return FreshnessPolicy.time_window(fail_window=late_after, warn_window=frequency if frequency and latency else None)


def port_spec(domain: Domain, port: OutputPort, automation_condition: AutomationCondition | None) -> AssetSpec:
    return AssetSpec(
        key=AssetKey(list(port.asset_key)),
        deps=[AssetKey([domain.name, port.contract.model])],
        description=f"Output port {port.name} v{port.contract.major} of product {port.product}: {port.contract.description}",
        group_name=domain.name,
        owners=domain.owners,
        kinds={"iceberg", "port"},
        tags=port_tags(port),
        code_version=port.contract.version,
        automation_condition=automation_condition,
        freshness_policy=freshness_policy(port),
        metadata={
            "dagster/column_schema": column_schema(port.contract),
            "mesh/contract_id": port.contract.id,
            "mesh/contract_version": port.contract.version,
            "mesh/contract_file": str(port.contract.file),
        },
    )


def check_specs(port: OutputPort) -> list[AssetCheckSpec]:
    key = AssetKey(list(port.asset_key))
    schema = AssetCheckSpec(SCHEMA_CHECK, asset=key, blocking=True, description="Columns, types and required values match the contract (pyarrow).")
    return [schema] + [AssetCheckSpec(r.name, asset=key, blocking=True, description=r.description) for r in contract_rules(port.contract)]


def check_result(key: AssetKey, outcome: "CheckOutcome", version: str) -> AssetCheckResult:
    metadata = {"mesh/audited_version": version}
    if outcome.observed is not None:
        metadata["observed"] = MetadataValue.text(str(outcome.observed))
    if outcome.unexpected_count is not None:
        metadata["unexpected_count"] = outcome.unexpected_count
    if outcome.sample:
        metadata["failing_sample"] = MetadataValue.json([str(v) for v in outcome.sample])
    if outcome.error:
        metadata["error"] = MetadataValue.text(outcome.error)
    return AssetCheckResult(asset_key=key, check_name=outcome.name, passed=outcome.passed, metadata=metadata, description=outcome.description)


def domain_port_assets(
    domain: Domain, manifest: Mapping[str, Any], automation_condition: AutomationCondition | None
) -> AssetsDefinition:
    ports = {AssetKey(list(p.asset_key)): p for p in domain.output_ports}
    products = {port.asset_key: product for product in domain.products for port in product.output_ports}
    relations = {key: model_relation(port, manifest) for key, port in ports.items()}

    @multi_asset(
        name=f"{domain.name}_ports",
        specs=[port_spec(domain, port, automation_condition) for port in ports.values()],
        check_specs=[spec for port in ports.values() for spec in check_specs(port)],
        can_subset=True,
    )
    def _publish(context: AssetExecutionContext):
        # pyiceberg and pyarrow are imported by runs only: they would add most of a second to every
        # location load.
        from platform_lib.ports.catalog import PortCatalog, PublishConflict
        from platform_lib.ports.publish import begin, discard, publish, stage
        from platform_lib.quality.audit import audit

        catalog = PortCatalog()
        refused = []
        for key in sorted(context.selected_asset_keys):
            port = ports[key]
            clock = Stopwatch()
            staged = clock.time("stage", stage, port, relations[key], context.run_id)
            table = begin(port, staged, catalog)
            outcomes = clock.time("audit", audit, staged, port.contract)
            if not all(o.passed for o in outcomes):
                discard(staged)
                refused.append(f"{key.to_user_string()}: " + ", ".join(o.name for o in outcomes if not o.passed))
                for outcome in outcomes:
                    yield check_result(key, outcome, f"staged by run {context.run_id}")
                continue
            try:
                published = clock.time("publish", publish, port, products[port.asset_key], table, staged, context.run_id, [o.to_dict() for o in outcomes], catalog)
            except PublishConflict as exc:
                refused.append(f"{key.to_user_string()}: {exc}")
                continue
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "dagster/row_count": published.facts["row-count"],
                    "mesh/snapshot_id": str(published.snapshot_id),
                    "mesh/table": ".".join(port.asset_key),
                    "mesh/schema_fingerprint": published.facts["schema-fingerprint"],
                    # Where this version's time went: the export of the model, the checks, the commit.
                    "mesh/seconds": clock.seconds,
                },
                check_results=[check_result(key, o, f"snapshot {published.snapshot_id}") for o in outcomes],
            )
        if refused:
            raise Failure(
                description="These port versions were not published; consumers keep the last good version:\n"
                + "\n".join(refused)
            )

    return _publish
