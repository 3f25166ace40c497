"""Where the mesh keeps its state: everything lives under $MESH_HOME, ports behind a URI."""

from __future__ import annotations

import json
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


def port_catalog_uri() -> str:
    """The Iceberg SQL catalog of every published port: a SQLite file by default, a PostgreSQL
    database in production (any SQLAlchemy URI)."""
    return os.environ.get("MESH_PORT_CATALOG") or f"sqlite:///{mesh_home() / 'ports' / 'catalog.db'}"


def port_warehouse() -> str:
    """Where port tables keep their files: a local folder by default, or s3://bucket."""
    # Not Path.as_uri(): its percent-encoding is decoded by neither pyiceberg nor pyarrow, so a home
    # such as "it's a mesh" would put the ports beside it, in "it%27s%20a%20mesh".
    return (os.environ.get("MESH_PORT_WAREHOUSE") or f"file://{mesh_home() / 'ports' / 'warehouse'}").rstrip("/")


def s3_settings() -> dict[str, str]:
    """The object store and this process's own identity on it (each domain runs with its own)."""
    return {
        "endpoint": os.environ.get("MESH_S3_ENDPOINT", ""),
        "access_key": os.environ.get("MESH_S3_ACCESS_KEY_ID", ""),
        "secret_key": os.environ.get("MESH_S3_SECRET_ACCESS_KEY", ""),
        "region": os.environ.get("MESH_S3_REGION", "us-east-1"),
    }


def s3_credentials_dir() -> Path | None:
    """Per-domain credentials (`<domain>.json`) for `mesh run`, which runs every domain on one
    machine: each domain's run takes its own identity from here (see `mesh access render`)."""
    value = os.environ.get("MESH_S3_CREDENTIALS")
    return Path(value) if value else None


def assume_identity(name: str) -> None:
    """Give this process (one domain's run, or the platform's) that identity's S3 credentials, when
    `MESH_S3_CREDENTIALS` holds every identity's (one machine running the whole mesh)."""
    folder = s3_credentials_dir()
    if folder is not None:
        credentials = json.loads((folder / f"{name}.json").read_text())
        os.environ["MESH_S3_ACCESS_KEY_ID"] = credentials["access_key"]
        os.environ["MESH_S3_SECRET_ACCESS_KEY"] = credentials["secret_key"]


def staging_dir() -> Path:
    """Local scratch space for port versions being written and audited."""
    return mesh_home() / "staging"


def masking_key_file() -> Path:
    """The installation's secret key for hashed columns (ports/masking.py), created on first use."""
    return mesh_home() / "secrets" / "masking.key"


def duckdb_extensions_dir() -> Path:
    """DuckDB extensions installed from their PyPI packages (nothing is downloaded at run time):
    every DuckDB session of the mesh, dbt's included, autoloads httpfs and iceberg from here."""
    return mesh_home() / "duckdb_extensions"


def operational_source_file(domain: str, table: str) -> Path:
    """Where `mesh seed` lands an operational table, and where a run binds it from."""
    return mesh_home() / "sources" / domain / f"{table}.parquet"


def warehouse_path(domain: str) -> Path:
    return mesh_home() / "warehouse" / f"{domain}.duckdb"


def duckdb_memory_limit() -> str:
    """Per DuckDB process; a domain run holds at most one writer and one reader at a time."""
    return os.environ.get("MESH_DUCKDB_MEMORY_LIMIT") or "1GB"


def audit_memory_limit() -> str:
    """The audit's DuckDB session: one scan and its aggregates, which DuckDB spills to disk past the
    limit. A tighter limit made the audit of 6 M line items smaller and faster (1 GB: +330 MB and
    1.0 s; 256 MB: about +200 MB and 0.7 s), and it runs beside the rest of a domain run."""
    return os.environ.get("MESH_AUDIT_MEMORY_LIMIT") or "256MB"


def export_environment() -> None:
    """Make the resolved homes visible to child processes (dbt reads MESH_HOME from its profile)."""
    os.environ["MESH_HOME"] = str(mesh_home())
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    os.environ["MESH_DUCKDB_MEMORY_LIMIT"] = duckdb_memory_limit()
    dagster_home().mkdir(parents=True, exist_ok=True)
    instance_config = dagster_home() / "dagster.yaml"
    if not instance_config.exists():
        instance_config.write_text("telemetry:\n  enabled: false\n")
