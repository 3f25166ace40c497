"""Operational sources for the demo: TPC-H dbgen, one Parquet file per table, in the owning domain's folder."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from platform_lib.descriptors.errors import DescriptorError
from platform_lib.mesh import Mesh
from platform_lib.settings import mesh_home, operational_source_file
from platform_lib.sql import sql_identifier, sql_string
from platform_lib.tpch import connect

SEED_FILE = "seed.json"


def seed(mesh: Mesh, scale_factor: float) -> dict[str, int]:
    """Generate TPC-H at a scale factor and land each domain's operational tables; returns rows per table."""
    rows = {}
    mesh_home().mkdir(parents=True, exist_ok=True)
    # dbgen into a scratch database file, not memory, so SF 1 and above stay within a bounded footprint.
    with tempfile.TemporaryDirectory(dir=mesh_home()) as scratch, connect() as con:
        con.execute(f"ATTACH {sql_string(Path(scratch) / 'dbgen.duckdb')} AS gen")
        con.execute("USE gen")
        con.execute("CALL dbgen(sf = ?)", [scale_factor])
        tables = {row[0] for row in con.execute("select table_name from information_schema.tables where table_catalog = 'gen'").fetchall()}
        for domain in mesh.domains:
            for i, table in enumerate(domain.operational_sources):
                if table not in tables:
                    raise DescriptorError([domain.problem(f"{table!r} is not a TPC-H table ({', '.join(sorted(tables))})", "operationalSources", i, "name")])
                target = operational_source_file(domain.name, table)
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(".parquet.tmp")
                con.execute(f"COPY {sql_identifier(table)} TO {sql_string(tmp)} (FORMAT parquet, COMPRESSION zstd)")
                tmp.replace(target)
                rows[f"{domain.name}.{table}"] = con.execute(f"select count(*) from {sql_identifier(table)}").fetchone()[0]
        con.execute("USE memory")
    (mesh_home() / "sources" / SEED_FILE).write_text(json.dumps({"scale_factor": scale_factor, "rows": rows}, indent=2))
    return rows


def seeded_scale_factor() -> float | None:
    path = mesh_home() / "sources" / SEED_FILE
    return json.loads(path.read_text())["scale_factor"] if path.exists() else None
