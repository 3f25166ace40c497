"""Write, audit, publish: a port version is staged locally, audited, then published atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from platform_lib.descriptors.product import OutputPort
from platform_lib.governance.masking import masked_select
from platform_lib.ports.store import PortStore, PublishedVersion
from platform_lib.ports.warehouse import connect_warehouse
from platform_lib.settings import staging_dir


def staging_folder(port: OutputPort) -> Path:
    return staging_dir().joinpath(*port.asset_key)


def stage(port: OutputPort, relation: str, run_id: str) -> Path:
    """Export the port's dbt relation, masked as its contract says, to a staged Parquet file,
    clearing what killed runs left behind."""
    folder = staging_folder(port)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    target = folder / f"{run_id}.parquet"
    with connect_warehouse(port.domain, read_only=True) as con:
        con.execute(f"COPY ({masked_select(port.contract, relation)}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    return target


def publish(port: OutputPort, staged: Path, run_id: str, checks: list[dict], store: PortStore) -> PublishedVersion:
    """Make an audited staged file the port's current version; prune versions past `retention`."""
    published = store.publish(
        port.asset_key,
        staged,
        {
            "domain": port.domain,
            "product": port.product,
            "port": port.name,
            "contract_id": port.contract.id,
            "contract_version": port.contract.version,
            "run_id": run_id,
            "checks": checks,
        },
    )
    retention = port.contract.sla_duration("retention")
    if retention is not None:
        store.prune(port.asset_key, older_than=retention)
    shutil.rmtree(staging_folder(port), ignore_errors=True)
    return published
