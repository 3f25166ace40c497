"""The production instance: Dagster's run, event-log and schedule storage and the port catalog in
PostgreSQL (two databases of one server), runs queued one per domain, and a workspace of gRPC code
servers."""

from __future__ import annotations

from pathlib import Path

import yaml

from platform_lib.assets.automation import DOMAIN_TAG
from platform_lib.mesh import domain_folders
from platform_lib.settings import WORKSPACE_FILE
from platform_lib.sql import sql_identifier


def postgres_url(server: str, database: str) -> str:
    return f"postgresql+psycopg2://{server}/{database}"


def ensure_databases(server: str, names: list[str]) -> None:
    """Create the deployment's databases if missing; a clear error if PostgreSQL does not answer."""
    import psycopg2

    try:
        con = psycopg2.connect(f"postgresql://{server}/postgres", connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {server} ({str(exc).strip().splitlines()[0]}). Start it, or on a fresh Debian "
            "machine: apt-get install postgresql, allow 127.0.0.1 in pg_hba.conf, then set MESH_POSTGRES=user@host:port"
        ) from None
    con.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        with con.cursor() as cur:
            for name in names:
                cur.execute("select 1 from pg_database where datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(f"create database {sql_identifier(name)}")
    finally:
        con.close()


def instance_config(server: str, database: str) -> dict:
    return {
        "telemetry": {"enabled": False},
        "storage": {"postgres": {"postgres_url": postgres_url(server, database)}},
        # Overlapping ticks of one domain (its schedule, its automation, a click) queue instead of
        # colliding on the domain's DuckDB file.
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"tag_concurrency_limits": [{"key": DOMAIN_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]},
        },
        "run_launcher": {"module": "platform_lib.deploy.run_launcher", "class": "MonitoredRunLauncher"},
        # A run whose process died (its code server killed) is marked failed, not left STARTED.
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 5, "start_timeout_seconds": 180, "max_resume_run_attempts": 0},
    }


def write_instance(dagster_home: Path, server: str, database: str) -> Path:
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(yaml.safe_dump(instance_config(server, database), sort_keys=False))
    return path


def locations(workspace: Path = WORKSPACE_FILE) -> list[tuple[str, list[str]]]:
    """(location name, what `dagster code-server start` loads it from), in workspace order."""
    doc = yaml.safe_load(workspace.read_text())
    found = []
    for entry in doc["load_from"]:
        if "python_module" in entry:
            found.append((entry["python_module"]["location_name"], ["-m", entry["python_module"]["module_name"]]))
    folders = domain_folders(workspace)
    return [(name, ["-f", str(folder / "definitions.py")]) for name, folder in folders.items()] + found


def write_workspace(path: Path, ports: dict[str, int]) -> Path:
    """The webserver's and the daemon's workspace: every location served by its own code server."""
    entries = [{"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": name}} for name, port in ports.items()]
    path.write_text(yaml.safe_dump({"load_from": entries}, sort_keys=False))
    return path
