"""Output ports as Dagster assets: one multi-asset per product writes, audits and publishes the
selected ports. Every contract rule is a blocking asset check: a version that fails one is never
published, and its consumers keep reading the last good version. Every selected port of a product
is audited before any is published, and a refused port holds back the other ports of its product. A version
the catalog holds but Dagster never recorded (its run was killed between the two) is recorded first."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    AutomationCondition,
    DagsterInstance,
    DataVersion,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from platform_lib.assets.automation import incremental
from platform_lib.assets.metadata import column_lineage, column_schema, port_tags, up_to_date
from platform_lib.assets.resources import MaskingResource, PortsResource, WarehouseResource
from platform_lib.assets.run_lock import hold_domain
from platform_lib.dbt.manifest import model_relation
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.keys import model_key, table_name
from platform_lib.descriptors.product import OutputPort, Product
from platform_lib.lineage.classification import CHECK as CLASSIFICATION_CHECK
from platform_lib.lineage.classification import CHECK_DESCRIPTION as CLASSIFICATION_DESCRIPTION
from platform_lib.lineage.classification import PortClassification, classify, input_ports, violations
from platform_lib.lineage.columns import ModelLineage
from platform_lib.ports.data_versions import code_version, plan
from platform_lib.quality.rules import SCHEMA_CHECK, contract_rules

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from platform_lib.ports.version import PortVersion
    from platform_lib.quality.audit import CheckOutcome


class Stopwatch:
    """Seconds per phase of one port's publication."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def time(self, phase: str, call, *args, **kwargs):
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.seconds[phase] = round(time.perf_counter() - started, 3)


def freshness_policy(port: OutputPort) -> FreshnessPolicy | None:
    """`frequency` is how often a new version is due; `latency` how late it may be on top of that."""
    frequency, latency = port.contract.sla_duration("frequency"), port.contract.sla_duration("latency")
    late_after = port.contract.late_after()
    if late_after is None:
        return None
    return FreshnessPolicy.time_window(fail_window=late_after, warn_window=frequency if frequency and latency else None)


def port_spec(domain: Domain, port: OutputPort, manifest: Mapping[str, Any], automation_condition: AutomationCondition | None) -> AssetSpec:
    return AssetSpec(
        key=AssetKey(list(port.asset_key)),
        deps=[AssetKey(list(model_key(domain.name, port.contract.model)))],
        description=f"Output port {port.name} v{port.contract.major} of product {port.product}: {port.contract.description}",
        group_name=domain.name,
        owners=domain.owners,
        kinds={"iceberg", "port"},
        tags=port_tags(port),
        code_version=code_version(domain, port, manifest),
        # Not materialized when the run finds it up to date (ports.data_versions).
        skippable=True,
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
    classification = AssetCheckSpec(CLASSIFICATION_CHECK, asset=key, blocking=True, description=CLASSIFICATION_DESCRIPTION)
    return [schema, classification] + [AssetCheckSpec(r.name, asset=key, blocking=True, description=r.description) for r in contract_rules(port.contract)]


def classification_outcome(port: OutputPort, classified: PortClassification, inputs: Mapping) -> "CheckOutcome":
    """The port's columns against what they inherit from the ports this run's producers publish:
    the location's load judged them against what was published then, and a producer may have
    classified a column higher since."""
    from platform_lib.quality.audit import CheckOutcome

    problems = violations(port, classified, inputs)
    observed = "; ".join(f"{p.field}: {p.message}" for p in problems) or "every column is classified at least as what it inherits"
    return CheckOutcome(CLASSIFICATION_CHECK, not problems, CLASSIFICATION_DESCRIPTION, observed=observed)


def check_result(key: AssetKey, outcome: "CheckOutcome", version: str, not_published: str | None = None) -> AssetCheckResult:
    metadata = {"mesh/audited_version": version}
    if not_published:
        metadata["mesh/not_published"] = not_published
    if outcome.observed is not None:
        metadata["observed"] = MetadataValue.text(str(outcome.observed))
    if outcome.unexpected_count is not None:
        metadata["unexpected_count"] = outcome.unexpected_count
    if outcome.sample:
        metadata["failing_sample"] = MetadataValue.json([str(v) for v in outcome.sample])
    if outcome.error:
        metadata["error"] = MetadataValue.text(outcome.error)
    return AssetCheckResult(asset_key=key, check_name=outcome.name, passed=outcome.passed, metadata=metadata, description=outcome.description)


def version_metadata(port: OutputPort, version: "PortVersion") -> dict[str, Any]:
    """What Dagster records of a published version, from the facts in its snapshot."""
    return {
        "dagster/row_count": version.facts["row-count"],
        "mesh/snapshot_id": str(version.snapshot_id),
        "mesh/table": table_name(port.asset_key),
        "mesh/schema_fingerprint": version.facts["schema-fingerprint"],
    }


def reconcile(instance: DagsterInstance, ports: list[OutputPort], current: Callable[[tuple[str, str]], "PortVersion | None"]) -> dict[tuple[str, ...], str]:
    """A run killed between its catalog commit and its materialization event leaves a current
    version Dagster never recorded. Consumers read what the catalog says (`current`: a port's
    current version there, `PortCatalog.current`), so whenever Dagster's last materialization
    differs from it, the catalog's version is recorded, reported by the platform rather than by a
    run (the one that published it is gone). Returns what was recorded, by port."""
    # Dagster's last materializations of all the ports in one query: one per port cost a few
    # hundredths of a second each.
    latest = instance.get_latest_materialization_events([AssetKey(list(port.asset_key)) for port in ports])
    notes = {}
    for port in ports:
        key = AssetKey(list(port.asset_key))
        event = latest.get(key)
        recorded = event.asset_materialization.metadata.get("mesh/snapshot_id") if event else None
        recorded = recorded.value if recorded else None
        version = current(port.asset_key)
        if version is None or str(version.snapshot_id) == recorded:
            continue
        notes[port.asset_key] = note = (
            f"snapshot {version.snapshot_id} is current in the port catalog, published by run {version.facts['run-id']} "
            f"at {version.facts['published-at']}, but Dagster's last materialization of the port recorded "
            f"{f'snapshot {recorded}' if recorded else 'none'}; recorded here from the catalog")
        instance.report_runless_asset_event(AssetMaterialization(
            asset_key=key,
            description=note,
            metadata={**version_metadata(port, version), "mesh/run_id": version.facts["run-id"], "mesh/reconciled": note},
        ))
    return notes


@dataclass(frozen=True)
class Audited:
    """A port version this run staged and audited, not yet published."""

    key: AssetKey
    port: OutputPort
    staged: Path
    table: "Table"  # the port's table as the run found it before the audit
    outcomes: list["CheckOutcome"]
    clock: Stopwatch

    @property
    def failed(self) -> list[str]:
        return [o.name for o in self.outcomes if not o.passed]


def held_back(versions: list[Audited]) -> dict[AssetKey, str]:
    """The versions that passed their checks but are not published, and why: a refused port of
    their product. A product's ports are published from one run or not at all, so no consumer joins
    one port's new version with its twin's old one; other products are versions of their own, with
    consumers of their own, and go ahead."""
    held = {}
    for version in (v for v in versions if not v.failed):
        refused = [r.key.to_user_string() for r in versions if r.failed and r.port.product == version.port.product]
        if refused:
            held[version.key] = f"sibling port {', '.join(refused)} was refused"
    return held


def published_result(version: Audited, published: "PortVersion", lineage: ModelLineage, data_version: str) -> MaterializeResult:
    """`lineage`: the port's columns traced down to the domain's inputs, other domains' ports first;
    `data_version`: its code's and inputs' (ports.data_versions), which the UI compares."""
    return MaterializeResult(
        asset_key=version.key,
        data_version=DataVersion(data_version),
        # Where this version's time went: the export of the model, the checks, the commit.
        metadata={**version_metadata(version.port, published), "mesh/seconds": version.clock.seconds, **column_lineage(lineage)},
        check_results=[check_result(version.key, o, f"snapshot {published.snapshot_id}") for o in version.outcomes],
    )


def domain_port_assets(
    domain: Domain, manifest: Mapping[str, Any], automation_condition: AutomationCondition | None
) -> list[AssetsDefinition]:
    """A step per product: a product whose model dbt did not build is not published, and the
    domain's other products are (the run still fails, with dbt's error)."""
    return [product_port_assets(domain, product, manifest, automation_condition) for product in domain.products if product.output_ports]


def product_port_assets(
    domain: Domain, product: Product, manifest: Mapping[str, Any], automation_condition: AutomationCondition | None
) -> AssetsDefinition:
    by_key = {AssetKey(list(p.asset_key)): p for p in product.output_ports}
    # Known at load: a contract naming no model fails the location's load, not its first run.
    for port in by_key.values():
        model_relation(port, manifest)

    @multi_asset(
        name=f"{domain.name}_{product.name}_ports",
        specs=[port_spec(domain, port, manifest, automation_condition) for port in by_key.values()],
        check_specs=[spec for port in by_key.values() for spec in check_specs(port)],
        can_subset=True,
    )
    def _publish(context: AssetExecutionContext, ports: PortsResource, warehouse: WarehouseResource, masking: MaskingResource):
        # pyiceberg and pyarrow are imported by runs only: they would add most of a second to every
        # location load.
        from platform_lib.ports.binding import last_bound
        from platform_lib.ports.catalog import PortCatalog, PublishConflict
        from platform_lib.ports.publish import begin, discard_run, export_of, publish, stage
        from platform_lib.ports.published import PublishedPorts
        from platform_lib.quality.audit import audit

        catalog = PortCatalog(ports.storage())
        database, masking_key = warehouse.warehouse(catalog.storage), masking.key()
        hold_domain(context, domain, database.path)  # held already when the run's dbt models ran first
        selected = [by_key[key] for key in sorted(context.selected_asset_keys)]
        for key, note in reconcile(context.instance, selected, catalog.current).items():
            context.log.warning(f"{'/'.join(key)}: {note}")
        with database.connect(read_only=True) as con:
            pinned = last_bound(con)  # what this run's binding pinned
        (product_plan,) = plan(domain, [product], manifest, pinned, catalog)
        if incremental(context) and product_plan.stale is None:
            # dbt built a model this product shares with a product that changed.
            for port in selected:
                yield up_to_date(port.asset_key, f"data version {product_plan.versions[port.asset_key]} unchanged")
            return
        inputs = input_ports(domain, PublishedPorts(catalog.storage).producer_of)
        # The product's own models only: each product of the domain is a step of its own.
        classified = classify(domain, manifest, inputs, product.output_ports)

        def audited(port: OutputPort) -> Audited:
            key, clock = AssetKey(list(port.asset_key)), Stopwatch()
            staged = clock.time("stage", stage, port, export_of(domain, port, manifest), context.run_id, database, masking_key)
            table = begin(port, staged, catalog)
            outcomes = clock.time("audit", audit, staged, port.contract, memory_limit=warehouse.audit_memory_limit)
            outcomes.insert(1, classification_outcome(port, classified[port.asset_key], inputs))
            return Audited(key, port, staged, table, outcomes, clock)

        # Every selected port is audited before any is published: a refused port must be known
        # before its siblings' versions go out.
        versions: list[Audited] = []
        not_published: dict[AssetKey, str] = {}
        try:
            for port in selected:
                versions.append(audited(port))
            held = held_back(versions)
            for version in versions:
                if version.failed or version.key in held:
                    not_published[version.key] = ", ".join(version.failed) or f"not published: {held[version.key]}"
                    yield from (check_result(version.key, o, f"staged by run {context.run_id}", held.get(version.key)) for o in version.outcomes)
                    continue
                try:
                    published = version.clock.time("publish", publish, version.port, product, version.table,
                                                   version.staged, context.run_id, [o.to_dict() for o in version.outcomes], catalog,
                                                   product_plan.versions[version.port.asset_key], keep_same=incremental(context))
                except PublishConflict as exc:
                    not_published[version.key] = str(exc)
                    continue
                if published is None:
                    current = version.table.current_snapshot().snapshot_id
                    yield from (check_result(version.key, o, f"snapshot {current}") for o in version.outcomes)
                    yield up_to_date(version.port.asset_key, f"recomputed, the same content as snapshot {current}: no snapshot committed",
                                     version.clock.seconds)
                    continue
                yield published_result(version, published, classified[version.port.asset_key].lineage, product_plan.versions[version.port.asset_key])
        finally:
            # Whatever failed, and wherever: a version staged but not yet audited included.
            discard_run(context.run_id)
        if not_published:
            raise Failure(
                description="These port versions were not published; consumers keep the last good version:\n"
                + "\n".join(f"{key.to_user_string()}: {reason}" for key, reason in not_published.items())
            )

    return _publish
