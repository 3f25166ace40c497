"""The DbtProject of a domain, in its own module so `dagster-dbt project prepare-and-package` can import it."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

from dagster import Failure
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from platform_lib.dbt.compile import compile_project, mesh_vars
from platform_lib.dbt.invoke import invoke, target_folder
from platform_lib.descriptors.producers import ProducerIndex


def dbt_project(project_dir: Path) -> DbtProject:
    return DbtProject(project_dir=project_dir, profiles_dir=project_dir)


class MeshDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, running the dbt installed beside this interpreter, in this process."""

    @cached_property
    def _cli_version(self) -> Version:
        # dagster-dbt asks `dbt --version` on every run: a 3 s subprocess that also queries the
        # package index. The dbt executable is the one of this environment, so its package says it.
        return Version(version("dbt-core"))

    def build(self, context, manifest: Mapping[str, Any], translator, env: Mapping[str, str], engine: str,
              models: list[str] | None = None) -> Iterator:
        """`dbt build` of the run's selection in this process (platform_lib.dbt.invoke), as
        dagster-dbt's events: a model is materialized and a dbt test checked exactly as with
        `dbt.cli(...).stream()`. dbt runs with `env` in the process's environment, where its
        profile reads it, and only dbt. `engine`: the domain's (platform_lib.engines), which
        decides how products are built. `models`: the unique ids of the selection's models to
        build, when not all of them."""
        # Private: dagster-dbt's public `cli()` runs dbt as a subprocess; this is how it turns a
        # context into dbt's selection.
        from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
        from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

        params = get_updated_cli_invocation_params_for_context(context=context, manifest=manifest, dagster_dbt_translator=translator)
        project_dir = Path(params.dbt_project.project_dir if params.dbt_project else self.project_dir)
        own = Path(self.project_dir)
        with target_folder(own, own / "target" / "runs" / context.run_id, keep_parse=True) as target:
            # No manifest.json or run_results.json: the run has its manifest, and dbt's result
            # messages say each node's outcome (0.3 s a run, and a file write per node).
            args = ["build", "--no-write-json", *mesh_vars(engine), "--project-dir", str(project_dir), "--profiles-dir", str(self.profiles_dir),
                    "--target-path", str(target)]
            args += ["--select", *(".".join(manifest["nodes"][m]["fqn"]) for m in models)] if models is not None else params.selection_args
            if params.indirect_selection:
                args += ["--indirect-selection", params.indirect_selection]
            outcome = invoke(args, env)
            for raw in outcome.results:
                message = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
                yield from message.to_default_asset_events(manifest=manifest, dagster_dbt_translator=translator, context=context, target_path=target)
        if not outcome.success:
            raise Failure(description="dbt build failed:\n" + "\n".join(outcome.failures))


def dbt_resource(project: DbtProject) -> DbtCliResource:
    # The dbt beside this interpreter, so an unactivated virtualenv still finds it.
    return MeshDbtCliResource(project_dir=project, dbt_executable=str(Path(sys.executable).parent / "dbt"))


def prepare(project_dir: Path, producers: ProducerIndex | None = None) -> DbtProject:
    """Compile the project so its manifest exists, with each model's SQL as dbt renders it:
    definitions are built from the manifest, and `mesh check` judges the SQL from it. `producers`
    give its input ports' sources their contracts' columns.

    dbt runs in this process: a dbt subprocess per project would pay dbt's 3 s start-up each time.
    """
    project = dbt_project(project_dir)
    compile_project(project.project_dir, project.project_dir / "target", producers)
    return project
