"""A domain as a Dagster component: descriptors and dbt project in, Dagster definitions out.

Each domain folder is a project of Dagster's `dg` CLI (its dg.toml): its `defs/domain/defs.yaml` declares
one `DataMeshDomain`, and its definitions.py, the code location workspace.yaml loads, builds that
folder's component tree, as `dg list defs`, `dg check defs` and `dg dev` do.

Building the definitions reads the domain's folders and what its producers published, and nothing else: no
environment variable is set and no file written (a missing manifest aside, compiled into the dbt
project), so any process may load a location. What a run needs of the outside are its resources."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path

from dagster import Component, ComponentLoadContext, ComponentTree, ConfigurableResource, Definitions, Model, Resolvable, in_process_executor

from platform_lib.assets.automation import automation_condition, domain_automation_sensor, domain_job, domain_schedule
from platform_lib.assets.beta import beta_accepted
from platform_lib.assets.dbt import domain_dbt_assets
from platform_lib.assets.dbt_project import dbt_project, dbt_resource, prepare
from platform_lib.assets.ports import domain_port_assets
from platform_lib.assets.resources import domain_resources
from platform_lib.assets.sources import operational_source_specs
from platform_lib.descriptors.domain import load_domain
from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.descriptors.keys import COMPONENT_FILE, DEFS_PACKAGE
from platform_lib.governance.evaluate import gate
from platform_lib.ports.published import PublishedPorts


class DataMeshDomain(Component, Resolvable, Model):
    """A domain of the mesh: its operational sources, dbt models, ports with their checks, one job,
    its schedule and its automation sensor. It takes no attributes: everything it builds is what the
    domain folder it sits in (the dg project's root) and that domain's dbt project say."""

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        return build_domain(context.project_root)


def domain_definitions(definitions_file: str | Path) -> Definitions:
    """The definitions of the domain folder holding `definitions_file`: its component tree, built.
    Its defs package is imported under a name of its own (not `defs`), so that any process, a test's
    or `mesh run`'s, may build several domains' definitions side by side."""
    folder = Path(definitions_file).resolve().parent
    package = folder / DEFS_PACKAGE / "__init__.py"
    if not (folder / COMPONENT_FILE).exists() or not package.exists():
        raise DescriptorError([Problem(folder / COMPONENT_FILE, "", f"not found: a domain folder holds its component ({COMPONENT_FILE} "
                                       f"and an empty {DEFS_PACKAGE}/__init__.py, as `mesh new domain` writes them)")])
    name = f"mesh_domain_{folder.name}_{DEFS_PACKAGE}"
    spec = importlib.util.spec_from_file_location(name, package, submodule_search_locations=[str(package.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    try:
        with beta_accepted():
            # The domain's own component, not the project's root: the root would add a catalog of
            # every component type installed (a quarter of a second per load, for the UI's library).
            return ComponentTree.from_module(module, folder).build_defs(folder / COMPONENT_FILE.parent)
    except Exception as exc:
        # Dagster wraps a component's error in its own, naming the component's place in its tree;
        # the platform's own already names the file, the field and the line to fix.
        cause = exc
        while cause is not None and not isinstance(cause, DescriptorError):
            cause = cause.__cause__
        if cause is None:
            raise
        raise cause from None


def build_domain(folder: Path, resources: Mapping[str, ConfigurableResource] | None = None) -> Definitions:
    """`resources` replace the platform's by key ("ports", "warehouse", "masking", "dbt"): a test's
    port catalog, say."""
    domain = load_domain(folder)
    resources = {**domain_resources(domain.name), **(resources or {})}
    # What the producers published, as the domain's runs will read it (its ports resource, its
    # identity): the input ports' columns of a manifest prepared here, and what the policies judge.
    published = PublishedPorts(resources["ports"].storage())
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
    job = domain_job(domain, [models, *ports])
    return Definitions(
        assets=[*operational_source_specs(domain, manifest), models, *ports],
        jobs=[job],
        schedules=[domain_schedule(domain, job)],
        sensors=[domain_automation_sensor(domain)],
        resources=resources,
        # One process per run: a domain run is one dbt invocation plus Parquet exports, and a
        # subprocess per step would cost more than the steps themselves. A product's ports step
        # runs once its models are built, even when dbt failed another product's.
        executor=in_process_executor.configured({"step_dependency_config": {"require_upstream_step_success": False}}),
    )
