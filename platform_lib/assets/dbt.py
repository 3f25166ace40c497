"""A domain's dbt project as Dagster assets: keys namespaced by domain, sources bound before each run
and the run's dbt fenced to what they bound."""

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, AssetsDefinition, AutomationCondition, Failure, Output
from dagster_dbt import DagsterDbtTranslator, DbtProject, dbt_assets

from platform_lib.assets.automation import incremental
from platform_lib.assets.dbt_project import MeshDbtCliResource
from platform_lib.assets.metadata import column_lineage, column_schema, domain_tags, port_tags, up_to_date
from platform_lib.assets.ports import reconcile
from platform_lib.assets.resources import PortsResource, WarehouseResource
from platform_lib.assets.run_lock import hold_domain
from platform_lib.dbt.manifest import lineage_of, source_asset_key
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.keys import model_key
from platform_lib.engines import SPARK
from platform_lib.lineage.classification import input_ports, traced
from platform_lib.lineage.columns import ModelLineage
from platform_lib.ports.binding import UnboundSource, bind_sources
from platform_lib.ports.data_versions import plan
from platform_lib.settings import dbt_environment


class MeshTranslator(DagsterDbtTranslator):
    """Models are keyed [domain, model]; sources keep the key their meta declares (an operational
    source of this domain, or another domain's port), which draws the cross-domain edges."""

    def __init__(self, domain: Domain, automation_condition: AutomationCondition | None):
        super().__init__()
        self.domain = domain
        self.automation_condition = automation_condition
        self.ports_by_model = {port.contract.model: port for port in domain.output_ports}

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            key = source_asset_key(dbt_resource_props)
            if key is None:
                raise UnboundSource(
                    f"{dbt_resource_props['original_file_path']}: source {dbt_resource_props['source_name']}."
                    f"{dbt_resource_props['name']}: set config.meta.dagster.asset_key"
                )
            return AssetKey(list(key))
        return AssetKey(list(model_key(self.domain.name, dbt_resource_props["name"])))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return self.domain.name

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return self.domain.owners

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        port = self.ports_by_model.get(dbt_resource_props["name"])
        if port is not None:
            return f"Internal table behind port {port.name}: {port.contract.description}"
        return dbt_resource_props.get("description") or f"dbt model {dbt_resource_props['name']} of domain {self.domain.name}"

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        metadata = dict(super().get_metadata(dbt_resource_props))
        port = self.ports_by_model.get(dbt_resource_props["name"])
        if port is not None:
            metadata["dagster/column_schema"] = column_schema(port.contract)
        return metadata

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        port = self.ports_by_model.get(dbt_resource_props["name"])
        tags = port_tags(port) if port is not None else domain_tags(self.domain)
        return {k: v for k, v in tags.items() if k in ("mesh/domain", "mesh/product")}

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> AutomationCondition | None:
        return self.automation_condition


def with_column_lineage(context: AssetExecutionContext, event, lineage: dict[str, ModelLineage]):
    """A model's materialization with its columns traced to its parents' (models, sources)."""
    if isinstance(event, Output):
        key = context.asset_key_for_output(event.output_name)
    elif isinstance(event, AssetMaterialization):
        key = event.asset_key
    else:
        return event
    traced_model = lineage.get(key.path[-1])
    return event if traced_model is None else event.with_metadata({**event.metadata, **column_lineage(traced_model)})


def spark_build(context: AssetExecutionContext, domain: Domain, dbt: MeshDbtCliResource, manifest, translator, env, bound, models):
    """dbt on Spark: the run's own application, its sources the views over what was bound; stopped
    when dbt is done, so the cluster's executors are free for the next run (the export reads the
    tables' files without Spark)."""
    from platform_lib.engines import spark

    try:
        session = spark.session(domain.name, f"mesh-{domain.name}-{context.run_id}")
    except spark.SparkUnavailable as exc:
        raise Failure(description=str(exc)) from None
    try:
        context.log.info(f"Spark application {session.sparkContext.applicationId} on {session.sparkContext.master}")
        for schema, table, files in bound.views:
            for statement in spark.view_statements(schema, table, files):
                session.sql(statement)
        yield from dbt.build(context, manifest, translator, env, domain.engine, models)
    finally:
        session.stop()


def changed_models(context: AssetExecutionContext, domain: Domain, manifest, pinned, catalog) -> list[str]:
    """The selected models a product whose data version changed is computed from (unique ids);
    each port of the other selected products is observed up to date."""
    selected = {f"model.{domain.name}.{key.path[-1]}" for key in context.selected_asset_keys if key.path[0] == domain.name}
    models = {product.name: {f"model.{domain.name}.{port.contract.model}" for port in product.output_ports} for product in domain.products}
    needed = set()
    for product_plan in plan(domain, [p for p in domain.products if models[p.name] & selected], manifest, pinned, catalog):
        if product_plan.stale is None:
            for key, note in reconcile(context.instance, product_plan.product.output_ports, catalog.current).items():
                context.log.warning(f"{'/'.join(key)}: {note}")
            for port in product_plan.product.output_ports:
                context.log_event(up_to_date(port.asset_key, f"data version {product_plan.versions[port.asset_key]} unchanged"))
            continue
        context.log.info(f"product {product_plan.product.name} is recomputed: {product_plan.stale}")
        for model in models[product_plan.product.name]:
            needed |= set(lineage_of(manifest, model)[0])
    return sorted(needed & selected)


def domain_dbt_assets(
    domain: Domain, project: DbtProject, manifest: Mapping[str, Any], automation_condition: AutomationCondition | None
) -> AssetsDefinition:
    translator = MeshTranslator(domain, automation_condition)

    @dbt_assets(manifest=manifest, project=project, name=f"{domain.name}_dbt_models", dagster_dbt_translator=translator)
    def _models(context: AssetExecutionContext, dbt: MeshDbtCliResource, ports: PortsResource, warehouse: WarehouseResource):
        # pyiceberg and dbt's adapter: imported by runs, not at location load.
        from platform_lib.ports.catalog import PortCatalog
        from platform_lib.ports.dbt_fence import fenced
        from platform_lib.ports.integrity import CorruptPort
        from platform_lib.ports.published import PublishedPorts

        storage = ports.storage()
        database = warehouse.warehouse(storage)
        hold_domain(context, domain, database.path)
        try:
            bound = bind_sources(domain, manifest, PortCatalog(storage), database)
        except (UnboundSource, CorruptPort) as exc:
            raise Failure(description=f"input binding refused, dbt did not run: {exc}") from None
        context.log.info(f"bound sources: {bound}")
        models = None
        if incremental(context):
            models = changed_models(context, domain, manifest, bound.pinned, PortCatalog(storage))
            if not models:
                context.log.info("every selected product is up to date: dbt did not run")
                return
        lineage = traced(domain, manifest, input_ports(domain, PublishedPorts(storage).producer_of))
        env = dbt_environment(database.memory_limit, storage.s3, database.path)
        if domain.engine == SPARK:
            events = spark_build(context, domain, dbt, manifest, translator, env, bound, models)
        else:
            # dbt reads the domain's file, as the domain's identity, fenced to what was bound.
            events = dbt.build(context, manifest, translator, env | fenced(bound.files), domain.engine, models)
        for event in events:
            yield with_column_lineage(context, event, lineage)

    return _models
