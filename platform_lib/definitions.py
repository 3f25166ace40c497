"""The one call a domain's definitions.py makes: descriptors and dbt project in, Dagster definitions out.

Building them reads the domain's folders and what its producers published, and nothing else: no
environment variable is set and no file written (a missing manifest aside, compiled into the dbt
project), so any process may load a location. What a run needs of the outside are its resources."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from dagster import ConfigurableResource, Definitions, in_process_executor

from platform_lib.assets.automation import automation_condition, domain_automation_sensor, domain_job, domain_schedule
from platform_lib.assets.dbt import domain_dbt_assets
from platform_lib.assets.dbt_project import dbt_project, dbt_resource, prepare
from platform_lib.assets.ports import domain_port_assets
from platform_lib.assets.resources import domain_resources
from platform_lib.assets.sources import operational_source_specs
from platform_lib.descriptors.domain import load_domain
from platform_lib.governance.evaluate import gate
from platform_lib.ports.published import PublishedPorts


def domain_definitions(definitions_file: str | Path, resources: Mapping[str, ConfigurableResource] | None = None) -> Definitions:
    """`resources` replace the platform's by key ("ports", "warehouse", "masking", "dbt"): a test's
    port catalog, say."""
    domain = load_domain(Path(definitions_file).resolve().parent)
    resources = {**domain_resources(domain.name), **(resources or {})}
    # What the producers published, as the domain's runs will read it (its ports resource, its
    # identity): the input ports' columns of a manifest prepared here, and what the policies judge.
    published = PublishedPorts(resources["ports"].process_config_and_initialize().storage())
    project = dbt_project(domain.dbt_project_dir)
    if not project.manifest_path.exists():
        project = prepare(domain.dbt_project_dir, published)
    manifest = json.loads(project.manifest_path.read_text())
    resources = {"dbt": dbt_resource(project), **resources}
    # Global and domain policies: an error fails this code location only, naming the policy.
    for warning in gate(domain, manifest, published):
        logging.getLogger("mesh.governance").warning("%s", warning)
    if not domain.products:
        return Definitions()  # a new domain before its first product: it loads, with nothing to run
    condition = automation_condition(domain)
    models = domain_dbt_assets(domain, project, manifest, condition)
    ports = domain_port_assets(domain, manifest, condition)
    job = domain_job(domain, [models, ports])
    return Definitions(
        assets=[*operational_source_specs(domain, manifest), models, ports],
        jobs=[job],
        schedules=[domain_schedule(domain, job)],
        sensors=[domain_automation_sensor(domain)],
        resources=resources,
        # One process per run: a domain run is one dbt invocation plus Parquet exports, and a
        # subprocess per step would cost more than the steps themselves.
        executor=in_process_executor,
    )
