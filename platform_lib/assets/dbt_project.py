"""The DbtProject of a domain, in its own module so `dagster-dbt project prepare-and-package` can import it."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

from dagster import Failure
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from platform_lib.descriptors.dbt_compile import compile_project, failures, mesh_vars
from platform_lib.descriptors.producers import ProducerIndex
from platform_lib.settings import environment

# dbt's messages that carry a node's result: dagster-dbt turns them into materializations and checks.
RESULT_EVENTS = {"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"}

def dbt_project(project_dir: Path) -> DbtProject:
    return DbtProject(project_dir=project_dir, profiles_dir=project_dir)


class MeshDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, running the dbt installed beside this interpreter, in this process."""

    @cached_property
    def _cli_version(self) -> Version:
        # dagster-dbt asks `dbt --version` on every run: a 3 s subprocess that also queries the
        # package index. The dbt executable is the one of this environment, so its package says it.
        return Version(version("dbt-core"))

    def build(self, context, manifest: Mapping[str, Any], translator, env: Mapping[str, str], engine: str) -> Iterator:
        """`dbt build` of the run's selection in this process, as dagster-dbt's events; dbt runs
        with `env` in the process's environment, where its profile reads it, and only dbt.
        `engine`: the domain's (platform_lib.engines), which decides how products are built.

        A dbt subprocess pays Python's start and dbt's imports (about 2 s of CPU) on every run; in
        the run's own process they are paid once, and `mesh run` forks its domain runs from a
        parent that has imported dbt already. The events are dagster-dbt's own, made from dbt's
        result messages, so a model is materialized and a dbt test checked exactly as with
        `dbt.cli(...).stream()`.
        """
        from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
        from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
        from dbt.cli.main import dbtRunner
        from dbt_common.events.functions import msg_to_dict

        params = get_updated_cli_invocation_params_for_context(context=context, manifest=manifest, dagster_dbt_translator=translator)
        project_dir = Path(params.dbt_project.project_dir if params.dbt_project else self.project_dir)
        # A target folder per run: concurrent runs of a domain never share artifacts; the
        # prepared partial parse (same vars) is copied in, so dbt does not parse again.
        target = Path(self.project_dir) / "target" / "runs" / context.run_id
        target.mkdir(parents=True, exist_ok=True)
        parsed = Path(self.project_dir) / "target" / "partial_parse.msgpack"
        if parsed.exists():
            shutil.copy(parsed, target / parsed.name)
        args = ["build", *mesh_vars(engine), "--project-dir", str(project_dir), "--profiles-dir", str(self.profiles_dir),
                "--target-path", str(target), *params.selection_args]
        if params.indirect_selection:
            args += ["--indirect-selection", params.indirect_selection]
        results = []
        try:
            with environment(env):
                outcome = dbtRunner(callbacks=[lambda event: results.append(event) if event.info.name in RESULT_EVENTS else None]).invoke(args)
            _keep_parse(target / parsed.name, parsed)
            for event in results:
                message = DbtCoreCliEventMessage(raw_event=msg_to_dict(event), event_history_metadata={})
                yield from message.to_default_asset_events(manifest=manifest, dagster_dbt_translator=translator, context=context, target_path=target)
        finally:
            close_dbt_connection()
            shutil.rmtree(target, ignore_errors=True)
        if not outcome.success:
            raise Failure(description="dbt build failed:\n" + "\n".join(failures(outcome) or [str(outcome.exception)]))


def _keep_parse(fresh: Path, kept: Path) -> None:
    """Keep the parse this run made for the next one. dbt re-parses a whole project when the
    profile it renders differs from the parse's (MESH_HOME is in the profile's paths), so a parse
    prepared elsewhere (an image build, another MESH_HOME) is replaced by this environment's."""
    if fresh.exists() and (not kept.exists() or fresh.read_bytes() != kept.read_bytes()):
        staged = kept.with_name(f".{kept.name}.{os.getpid()}")
        shutil.copy(fresh, staged)
        os.replace(staged, kept)


def close_dbt_connection() -> None:
    """dbt-duckdb keeps the domain's database open after an in-process invocation (its connection
    outlives the handles): the port export opens the same file read-only next, which DuckDB refuses
    while a connection with another configuration is open in the process, and another process
    cannot write the file meanwhile."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
    DuckDBConnectionManager.close_all_connections()


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
