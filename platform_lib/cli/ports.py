"""`mesh ports`: every published port with its current version."""

from __future__ import annotations

import json

from platform_lib.ports.store import PortStore

FIELDS = ("domain", "product", "port", "asset_key", "contract_version", "version_id", "data_uri", "row_count", "published_at")


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
    # The asset key names the major: two majors of one port are two lines.
    names = [f"{p['asset_key']}@{p['version_id'][:15]}" for p in ports]
    width = max([len("port"), *map(len, names)])
    lines = [f"{'port':<{width}} {'contract':<9} {'rows':>10}  published_at"]
    lines += [f"{n:<{width}} {p['contract_version']:<9} {p['row_count']:>10}  {p['published_at']}" for n, p in zip(names, ports)]
    return "\n".join(lines)
