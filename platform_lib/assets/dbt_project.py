"""The DbtProject of a domain, in its own module so `dagster-dbt project prepare-and-package` can import it."""

from __future__ import annotations

import json
import sys
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from platform_lib.settings import export_environment


# What the platform's dbt invocations set: a product model is built as a view, and its port's
# Parquet file, exported from that view, is the product's one write (a table would be a second).
MESH_VARS = {"mesh_product_materialization": "view"}


def mesh_vars() -> list[str]:
    """dbt's --vars flag; parse and build pass the same, so partial parsing stays warm."""
    return ["--vars", json.dumps(MESH_VARS)]


def dbt_project(project_dir: Path) -> DbtProject:
    return DbtProject(project_dir=project_dir, profiles_dir=project_dir)


class MeshDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, running the dbt installed beside this interpreter."""

    @cached_property
    def _cli_version(self) -> Version:
        # dagster-dbt asks `dbt --version` on every run: a 3 s subprocess that also queries the
        # package index. The dbt executable is the one of this environment, so its package says it.
        return Version(version("dbt-core"))


def dbt_resource(project: DbtProject) -> DbtCliResource:
    # The dbt beside this interpreter, so an unactivated virtualenv still finds it.
    return MeshDbtCliResource(project_dir=project, dbt_executable=str(Path(sys.executable).parent / "dbt"))


def prepare(project_dir: Path) -> DbtProject:
    """Parse the project so its manifest exists; definitions are built from the manifest.

    dbt runs in this process: a dbt subprocess per project would pay dbt's 3 s start-up each time.
    """
    from dbt.cli.main import dbtRunner

    export_environment()
    project = dbt_project(project_dir)
    args = ["parse", "--quiet", *mesh_vars(), "--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir)]
    result = dbtRunner().invoke(args)
    if not result.success:
        raise RuntimeError(f"dbt parse of {project.project_dir} failed: {result.exception}")
    return project
