"""The one call a domain's definitions.py makes: descriptors and dbt project in, Dagster definitions out."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from dagster import Definitions, in_process_executor

from platform_lib.assets.automation import automation_condition, domain_automation_sensor, domain_job, domain_schedule
from platform_lib.assets.dbt import domain_dbt_assets
from platform_lib.assets.dbt_project import dbt_project, dbt_resource, prepare
from platform_lib.assets.ports import domain_port_assets
from platform_lib.assets.sources import operational_source_specs
from platform_lib.descriptors.domain import load_domain
from platform_lib.governance.evaluate import gate
from platform_lib.settings import assume_identity, export_environment


def domain_definitions(definitions_file: str | Path) -> Definitions:
    export_environment()
    domain = load_domain(Path(definitions_file).resolve().parent)
    # The location's process is the domain's: it reads published ports, and runs publish, as the domain.
    assume_identity(domain.name)
    project = dbt_project(domain.dbt_project_dir)
    if not project.manifest_path.exists():
        project = prepare(domain.dbt_project_dir)
    manifest = json.loads(project.manifest_path.read_text())
    # Global and domain policies: an error fails this code location only, naming the policy.
    for warning in gate(domain, manifest):
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
        resources={"dbt": dbt_resource(project)},
        # One process per run: a domain run is one dbt invocation plus Parquet exports, and a
        # subprocess per step would cost more than the steps themselves.
        executor=in_process_executor,
    )
