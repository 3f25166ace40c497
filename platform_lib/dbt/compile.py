"""dbt's compile of a domain's project, as the platform invokes it: the manifest every code location
is built from (`mesh prepare`), and the models' SQL that `mesh check` judges. Every compile first
writes the project's files its descriptors decide (dbt_files: profile, input ports' sources, model
contracts), so every path into dbt finds them as the descriptors now say. A caller that knows the
domain's producers (the workspace's mesh, the port catalog) passes them, so its input ports' sources
carry their contracts' columns; every caller with one must, or two callers would rewrite the sources
back and forth, each time making the prepared manifest stale. No Dagster here: `mesh check` must
not pay for importing it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from platform_lib.dbt.files import project_domain, write_dbt_files
from platform_lib.dbt.invoke import invoke, target_folder
from platform_lib.dbt.manifest import MANIFEST, compiled_as_written
from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.descriptors.producers import ProducerIndex
from platform_lib.engines import DUCKDB, SPARK
from platform_lib.settings import S3, dbt_environment, duckdb_memory_limit

# How the platform's dbt invocations build a product model, per engine. On DuckDB a view: its port's
# Parquet file, exported from that view, is the product's one write (a table would be a second). On
# Spark a table: its Parquet files are what the platform's export reads.
PRODUCT_MATERIALIZATION = {DUCKDB: "view", SPARK: "table"}


def mesh_vars(engine: str) -> list[str]:
    """dbt's --vars flag; parse and build pass the same, so partial parsing stays warm."""
    return ["--vars", json.dumps({"mesh_product_materialization": PRODUCT_MATERIALIZATION[engine]})]


def prepared_manifest(project: Path, producers: ProducerIndex | None) -> dict | None:
    """The prepared manifest while nothing of the project changed since it was compiled. A
    descriptor changed since rewrites a generated file first, which makes it stale."""
    write_dbt_files(project, producers)
    prepared = project / MANIFEST
    if prepared.exists():
        manifest = json.loads(prepared.read_text())
        if compiled_as_written(project, manifest, prepared.stat().st_mtime):
            return manifest
    return None


def ensure_prepared(project: Path, producers: ProducerIndex | None = None) -> None:
    """Prepare the project again when it or its descriptors changed since (`mesh run`, before any
    domain runs: a run builds from the prepared manifest and the generated files)."""
    if prepared_manifest(project, producers) is None:
        compile_project(project, project / "target", producers)


def compiled_manifest(project: Path, producers: ProducerIndex | None = None) -> dict:
    """The manifest with each model's SQL compiled from the project as it is now: the prepared one
    while nothing of the project changed since, else a compile into a scratch target folder."""
    manifest = prepared_manifest(project, producers)
    if manifest is not None:
        return manifest
    with tempfile.TemporaryDirectory(prefix="mesh-compile-") as scratch, target_folder(project, Path(scratch) / "target") as target:
        compile_project(project, target, producers)
        return json.loads((target / Path(MANIFEST).name).read_text())


def compile_project(project: Path, target: Path, producers: ProducerIndex | None = None) -> None:
    write_dbt_files(project, producers)
    # No adapter cache: compiling the models' Jinja needs no connection, and the domain's database
    # may be held by a run (or not exist yet).
    engine = project_domain(project).engine
    args = ["compile", "--quiet", "--no-populate-cache", *mesh_vars(engine), "--project-dir", str(project),
            "--profiles-dir", str(project), "--target-path", str(target)]
    # The profile reads MESH_HOME and the memory limit; compiling opens no connection, so it is
    # rendered without any S3 identity.
    result = invoke(args, dbt_environment(duckdb_memory_limit(), S3()))
    if not result.success:
        raise DescriptorError([Problem(project, "", f"dbt compile failed: {'; '.join(result.failures)}")])
