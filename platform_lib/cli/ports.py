"""`mesh ports`: every published port (an Iceberg table) with its current and retained snapshots."""

from __future__ import annotations

import json
import sys

from platform_lib.ports import history
from platform_lib.ports.catalog import PortCatalog, table_name
from platform_lib.ports.identities import PLATFORM
from platform_lib.ports.published import catalog_exists
from platform_lib.ports.storage import PortStorage
from platform_lib.settings import assume_identity


def published_ports() -> list[dict]:
    """Every published port, read as the platform; a catalog never created is not created here."""
    assume_identity(PLATFORM)
    storage = PortStorage.from_settings(PLATFORM)
    if not catalog_exists(storage.catalog_uri):
        return []
    catalog = PortCatalog(storage)
    ports = []
    for key in catalog.ports():
        versions = catalog.versions(key)
        if not versions:
            continue
        current = catalog.current(key)
        ports.append({
            "table": table_name(key), "asset_key": "/".join(key),
            "snapshot_id": current.snapshot_id, "contract_version": current.facts["contract-version"],
            "row_count": current.facts["row-count"], "published_at": current.facts["published-at"],
            "run_id": current.facts["run-id"], "metadata_location": catalog.table(key).metadata_location,
            "moved_back": str(moved) if (moved := history.moved_back(catalog, key)) else None,
            "snapshots": [{"snapshot_id": v.snapshot_id, "published_at": v.facts["published-at"], "run_id": v.facts["run-id"],
                           "contract_version": v.facts["contract-version"], "row_count": v.facts["row-count"]} for v in versions],
        })
    return ports


def render(ports: list[dict], as_json: bool) -> str:
    if as_json:
        return json.dumps(ports, indent=2)
    width = max([len("port"), *(len(p["table"]) for p in ports)])
    lines = [f"{'port':<{width}} {'snapshot':>20} {'contract':<9} {'rows':>10}  {'snapshots':>9}  published_at"]
    lines += [
        f"{p['table']:<{width}} {p['snapshot_id']:>20} {p['contract_version']:<9} {p['row_count']:>10}  {len(p['snapshots']):>9}  {p['published_at']}"
        for p in ports
    ]
    lines += [f"WARNING {p['table']}: {p['moved_back']}" for p in ports if p["moved_back"]]
    return "\n".join(lines)


def rollback(port: str, snapshot_id: int, reason: str) -> int:
    """As the port's producer: its identity is the only one the storage and the catalog let write it."""
    domain, _, table = port.partition(".")
    if not table:
        print(f"mesh ports rollback: {port!r} is not DOMAIN.PORT_vN (as `mesh ports` lists it)", file=sys.stderr)
        return 2
    assume_identity(domain)
    try:
        version = history.rollback(PortCatalog(PortStorage.from_settings(domain)), (domain, table), snapshot_id, reason)
    except history.RollbackRefused as exc:
        print(f"mesh ports rollback: {exc}", file=sys.stderr)
        return 1
    print(f"{port}: snapshot {version.snapshot_id} now holds snapshot {snapshot_id}'s content ({version.facts['row-count']} rows); reason recorded")
    return 0
