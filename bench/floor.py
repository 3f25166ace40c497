"""The engine's floor: the mesh's dbt-compiled SQL run by DuckDB alone, no dbt and no Dagster.

One Python process per domain, in the mesh's run order, each executing one SQL script: the domain's
sources as views over the landed files and over the floor's own outputs of upstream ports, every
model as dbt would create it (the platform's vars: products are views), and each port written once
to Parquet, masked as its contract says. What `mesh run` does beyond this is the price of the
platform: dbt, Dagster, the checks, the catalog.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from graphlib import TopologicalSorter
from pathlib import Path

from platform_lib.dbt.compile import compiled_manifest
from platform_lib.dbt.invoke import close_dbt_connection
from platform_lib.dbt.manifest import domain_sources, source_asset_key
from platform_lib.descriptors.keys import operational_table, port_source_identifier
from platform_lib.mesh import Mesh
from platform_lib.ports.masking import masked_select, masking_key, masking_macro
from platform_lib.settings import duckdb_memory_limit, masking_key_file, operational_source_file, warehouse_path
from platform_lib.sql import sql_identifier, sql_string

# The port export's own settings (ports/publish.py), so the floor writes the same files the same way.
RUN_SCRIPT = (
    "import duckdb, sys; "
    "duckdb.connect(config={'memory_limit': sys.argv[2], 'preserve_insertion_order': False}).execute(open(sys.argv[1]).read())"
)


def port_file(out: Path, asset_key: tuple[str, ...]) -> Path:
    return out / f"{port_source_identifier(asset_key)}.parquet"


def domain_script(domain, manifest: dict, out: Path, scratch: Path) -> str:
    statements = [f"attach {sql_string(scratch / f'{domain.name}.duckdb')} as {sql_identifier(domain.name)}", f"use {sql_identifier(domain.name)}"]
    for source in domain_sources(domain, manifest):
        key = source_asset_key(source)
        operational = operational_table(domain.name, key)
        if operational is not None:
            path = operational_source_file(domain.name, operational)
        else:
            path = port_file(out, key)
        statements.append(f"create schema if not exists {sql_identifier(source['schema'])}")
        statements.append(f"create view {source['relation_name']} as select * from read_parquet({sql_string(path)})")
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model" and n["package_name"] == domain.name}
    order = TopologicalSorter({uid: [d for d in n["depends_on"]["nodes"] if d in models] for uid, n in models.items()}).static_order()
    for uid in order:
        node = models[uid]
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        statements.append(f"create schema if not exists {sql_identifier(node['schema'])}")
        statements.append(f"create {kind} {node['relation_name']} as {node['compiled_code']}")
    statements.append(masking_macro(masking_key(masking_key_file())))
    for port in domain.output_ports:
        relation = models[f"model.{domain.name}.{port.contract.model}"]["relation_name"]
        statements.append(f"copy ({masked_select(port.contract, relation)}) to {sql_string(port_file(out, port.asset_key))} (format parquet, compression zstd)")
    return ";\n".join(statements) + ";\n"


def prepare_scripts(mesh: Mesh, out: Path) -> list[Path]:
    """One SQL script per domain, in run order (compiling is not part of the floor's time)."""
    scratch = Path(tempfile.mkdtemp(prefix="floor-", dir=out))
    scripts = []
    for name in mesh.run_order():
        domain = mesh.domain(name)
        warehouse_path(name).parent.mkdir(parents=True, exist_ok=True)  # dbt opens it to compile
        manifest = compiled_manifest(domain.dbt_project_dir, mesh)
        close_dbt_connection()  # `mesh run`, in other processes, writes the same file next
        script = scratch / f"{name}.sql"
        script.write_text(domain_script(domain, manifest, out, scratch))
        scripts.append(script)
    return scripts


def run_scripts(scripts: list[Path]) -> None:
    for script in scripts:
        subprocess.run([sys.executable, "-c", RUN_SCRIPT, str(script), duckdb_memory_limit()], check=True)


if __name__ == "__main__":
    run_scripts([Path(p) for p in sys.argv[1:]])
