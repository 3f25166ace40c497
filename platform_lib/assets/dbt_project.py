"""The DbtProject of a domain, in its own module so `dagster-dbt project prepare-and-package` can import it."""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from platform_lib.settings import DBT_PROJECTS_DIR


def dbt_project(domain: str) -> DbtProject:
    project_dir = DBT_PROJECTS_DIR / domain
    return DbtProject(project_dir=project_dir, profiles_dir=project_dir)


def dbt_resource(project: DbtProject) -> DbtCliResource:
    # The dbt installed beside this interpreter, so an unactivated virtualenv still finds it.
    return DbtCliResource(project_dir=project, dbt_executable=str(Path(sys.executable).parent / "dbt"))


def prepare(domain: str) -> DbtProject:
    """Parse the project so its manifest exists; definitions are built from the manifest.

    dbt runs in this process: a dbt subprocess per project would pay dbt's 3 s start-up each time.
    """
    from dbt.cli.main import dbtRunner

    project = dbt_project(domain)
    args = ["parse", "--quiet", "--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir)]
    result = dbtRunner().invoke(args)
    if not result.success:
        raise RuntimeError(f"dbt parse of {project.project_dir} failed: {result.exception}")
    return project
