"""`mesh ports`: every published port with its current version."""

from __future__ import annotations

import json

from platform_lib.ports.store import PortStore

FIELDS = ("domain", "product", "port", "contract_version", "version_id", "data_uri", "row_count", "published_at")


def published_ports(store: PortStore | None = None) -> list[dict]:
    """The current version of every port, with every version the store still retains."""
    store = store or PortStore()
    return [
        {
            **{f: v.manifest[f] for f in FIELDS},
            "versions": [old.version_id for old in store.versions(tuple(v.manifest["asset_key"].split("/")))],
        }
        for v in store.published()
    ]


def render(ports: list[dict], as_json: bool) -> str:
    if as_json:
        return json.dumps(ports, indent=2)
    lines = [f"{'port':<42} {'version':<9} {'rows':>10}  published_at"]
    for p in ports:
        lines.append(f"{p['domain'] + '/' + p['port'] + '@' + p['version_id'][:15]:<42} {p['contract_version']:<9} {p['row_count']:>10}  {p['published_at']}")
    return "\n".join(lines)
