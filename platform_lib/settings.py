"""Where the mesh keeps its state: everything lives under $MESH_HOME, ports behind a URI."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The mesh the `mesh` command works on (workspace.yaml, domains/, dbt_projects/): this repository,
# or another checkout of a mesh (MESH_ROOT), such as a test's copy.
MESH_ROOT = Path(os.environ.get("MESH_ROOT") or REPO_ROOT).resolve()
DOMAINS_DIR = MESH_ROOT / "domains"
WORKSPACE_FILE = MESH_ROOT / "workspace.yaml"


def mesh_home() -> Path:
    return Path(os.environ.get("MESH_HOME") or MESH_ROOT / ".mesh").resolve()


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or mesh_home() / "dagster").resolve()


def port_store_uri() -> str:
    """The port store's root. Defaults to a local folder; any pyarrow filesystem URI works."""
    return os.environ.get("MESH_PORT_STORE") or (mesh_home() / "ports").as_uri()


def staging_dir() -> Path:
    """Local scratch space for port versions being written and audited."""
    return mesh_home() / "staging"


def operational_sources_dir(domain: str) -> Path:
    return mesh_home() / "sources" / domain


def warehouse_path(domain: str) -> Path:
    return mesh_home() / "warehouse" / f"{domain}.duckdb"


def duckdb_memory_limit() -> str:
    """Per DuckDB process; a domain run holds at most one writer and one reader at a time."""
    return os.environ.get("MESH_DUCKDB_MEMORY_LIMIT") or "1GB"


def export_environment() -> None:
    """Make the resolved homes visible to child processes (dbt reads MESH_HOME from its profile)."""
    os.environ["MESH_HOME"] = str(mesh_home())
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    os.environ["MESH_DUCKDB_MEMORY_LIMIT"] = duckdb_memory_limit()
    dagster_home().mkdir(parents=True, exist_ok=True)
    instance_config = dagster_home() / "dagster.yaml"
    if not instance_config.exists():
        instance_config.write_text("telemetry:\n  enabled: false\n")
