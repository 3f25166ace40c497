"""Where the mesh keeps its state: everything lives under $MESH_HOME, ports behind a URI. Read from
the environment when called; written to it only by the commands that start Dagster
(export_environment) and for the length of one dbt invocation (environment). A domain's runs are
given theirs as Dagster resources (assets/resources.py), which default to these."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
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


# This process's own keys on the object store.
S3_ACCESS_KEY_ID = "MESH_S3_ACCESS_KEY_ID"
S3_SECRET_ACCESS_KEY = "MESH_S3_SECRET_ACCESS_KEY"


@dataclass(frozen=True)
class S3:
    """The object store and one identity's keys on it."""

    endpoint: str = ""
    region: str = "us-east-1"
    access_key: str = ""
    secret_key: str = field(default="", repr=False)


def s3_endpoint() -> str:
    return os.environ.get("MESH_S3_ENDPOINT", "")


def s3_region() -> str:
    return os.environ.get("MESH_S3_REGION", "us-east-1")


def s3_credentials_file(identity: str | None) -> Path | None:
    """The identity's keys (`<identity>.json`, see `mesh access render`) when MESH_S3_CREDENTIALS
    holds every identity's: `mesh run` runs every domain on one machine, each as itself."""
    folder = os.environ.get("MESH_S3_CREDENTIALS")
    return Path(folder) / f"{identity}.json" if folder and identity else None


def s3_keys(credentials_file: Path) -> dict[str, str]:
    credentials = json.loads(credentials_file.read_text())
    return {"access_key": credentials["access_key"], "secret_key": credentials["secret_key"]}


def s3_settings(identity: str | None = None) -> S3:
    """The object store and the identity's keys: its file when MESH_S3_CREDENTIALS is set, else this
    process's own (each domain's code server is given only its own)."""
    file = s3_credentials_file(identity)
    keys = s3_keys(file) if file else {"access_key": os.environ.get(S3_ACCESS_KEY_ID, ""), "secret_key": os.environ.get(S3_SECRET_ACCESS_KEY, "")}
    return S3(s3_endpoint(), s3_region(), **keys)


def assume_identity(name: str) -> None:
    """Give this command's process the identity's S3 keys (`mesh catalog`: the platform's), when
    MESH_S3_CREDENTIALS holds every identity's."""
    file = s3_credentials_file(name)
    if file is not None:
        keys = s3_keys(file)
        os.environ[S3_ACCESS_KEY_ID], os.environ[S3_SECRET_ACCESS_KEY] = keys["access_key"], keys["secret_key"]


def staging_dir() -> Path:
    """Local scratch space for port versions being written and audited."""
    return mesh_home() / "staging"


def orphan_grace() -> timedelta:
    """How long a file in a port's data folder that no version uses is spared (MESH_ORPHAN_GRACE,
    seconds; an hour by default): younger, it may be a running publication's upload, about to be
    committed."""
    return timedelta(seconds=float(os.environ.get("MESH_ORPHAN_GRACE") or 3600))


# A deployment's shared secret for hashed columns, in place of the installation's key file.
MASKING_SALT = "MESH_MASKING_SALT"


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


# Where a run's dbt writes the domain's DuckDB file (the profile falls back to MESH_HOME's).
WAREHOUSE_PATH = "MESH_WAREHOUSE_PATH"


def dbt_environment(memory_limit: str, s3: S3, database: Path | None = None) -> dict[str, str]:
    """What a domain's dbt profile reads with env_var(): the mesh's home (the extensions, and the
    domain's DuckDB file unless a run names another: its warehouse resource's), the DuckDB memory
    limit, and the object store with the domain's identity."""
    return {
        "MESH_HOME": str(mesh_home()), "MESH_DUCKDB_MEMORY_LIMIT": memory_limit, **({WAREHOUSE_PATH: str(database)} if database else {}),
        "MESH_S3_ENDPOINT": s3.endpoint, "MESH_S3_REGION": s3.region, S3_ACCESS_KEY_ID: s3.access_key, S3_SECRET_ACCESS_KEY: s3.secret_key,
    }


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in this process's environment while the block runs, the environment as it was after.
    dbt runs in the run's process and reads its profile's env_var() from os.environ; nothing else
    of the process (a code location, the next run in it) may see them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_FIRST_EMBEDDED_INSTANCE = "telemetry:\n  enabled: false\n"
# Dagster's default SQLite storage in DAGSTER_HOME, its event log's databases opened once per process.
EMBEDDED_INSTANCE = _FIRST_EMBEDDED_INSTANCE + """event_log_storage:
  module: platform_lib.runs.event_log
  class: KeptConnectionsEventLogStorage
  config:
    base_dir: {event_logs}
"""


def export_environment() -> None:
    """For the commands that start Dagster or dbt (`mesh run`, `mesh ui`, `mesh check`), never a code
    location: the resolved homes in this process's environment and that of the processes it starts,
    and the instance's dagster.yaml."""
    os.environ["MESH_HOME"] = str(mesh_home())
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    os.environ["MESH_DUCKDB_MEMORY_LIMIT"] = duckdb_memory_limit()
    dagster_home().mkdir(parents=True, exist_ok=True)
    instance_config = dagster_home() / "dagster.yaml"
    # A home made before the event log kept its connections has the first default: same databases.
    if not instance_config.exists() or instance_config.read_text() == _FIRST_EMBEDDED_INSTANCE:
        write_embedded_instance(dagster_home())


def write_embedded_instance(folder: Path) -> None:
    """The embedded instance's dagster.yaml, for an instance in `folder`."""
    (folder / "dagster.yaml").write_text(EMBEDDED_INSTANCE.format(event_logs=folder / "history" / "runs"))
