"""Who may touch which objects of the port storage, rendered from the contracts.

The governance checks grant or refuse a read when a consumer binds a port, but a domain's code
that holds storage keys could still read any file behind the platform's back. So the grants are
also enforced by the storage itself: each domain gets its own S3 identity, and SeaweedFS refuses
any object the domain's contracts do not grant it.

Ports live in bucket `ports` at `ports/<domain>/<port>_v<major>/`, Iceberg metadata under
`metadata/`, Parquet data under `data/`. A domain writes only its own prefix; it reads every
port's metadata (contracts and snapshot facts are public: discovery and the grant check at load
time need them) and the data of the ports granted to it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from platform_lib.descriptors.product import OutputPort
from platform_lib.mesh import Mesh

BUCKET = "ports"
# Creates the bucket and runs the governance reads across every domain.
PLATFORM = "platform"
CONFIG_FILE = "s3.json"


def table_prefix(port: OutputPort) -> str:
    domain, table = port.asset_key
    return f"{BUCKET}/{domain}/{table}"


def readable_ports(mesh: Mesh, domain: str) -> list[OutputPort]:
    """Ports whose data `domain` may read: its own, the public ones and those a role grants it."""
    return [
        port
        for d in mesh.domains
        for port in d.output_ports
        if port.domain == domain or any(port.contract.grants(role, domain) for role in port.contract.roles)
    ]


def domain_actions(mesh: Mesh, domain: str) -> list[str]:
    # SeaweedFS matches `Action:bucket/prefix*` as a plain string prefix: every rule ends in "/*" so
    # that `sales/*` does not also cover `sales_eu/`. A bare `Read:ports` would read the whole bucket.
    own = f"{BUCKET}/{domain}/*"
    every_port = [port for d in mesh.domains for port in d.output_ports]
    return [
        *(f"{action}:{own}" for action in ("Read", "Write", "List", "Tagging")),
        # Listing shows key names only, which the public metadata lists anyway; DuckDB globs need it.
        f"List:{BUCKET}",
        *(f"Read:{table_prefix(port)}/metadata/*" for port in every_port if port.domain != domain),
        *(f"Read:{table_prefix(port)}/data/*" for port in readable_ports(mesh, domain) if port.domain != domain),
    ]


def new_keys() -> dict[str, str]:
    """An identity's secrets: its S3 key pair and its password as the port catalog's role (`mesh up`)."""
    return {"access_key": secrets.token_hex(10), "secret_key": secrets.token_hex(20), "catalog_password": secrets.token_hex(20)}


def catalog_passwords(folder: Path) -> dict[str, str]:
    """Identity -> its catalog role's password, from the keys `write_identities` wrote."""
    return {path.stem: json.loads(path.read_text())["catalog_password"] for path in folder.glob("*.json") if path.name != CONFIG_FILE}


def render_identities(mesh: Mesh, credentials: dict[str, dict]) -> tuple[dict, dict[str, dict]]:
    """The SeaweedFS `-s3.config` document and the keys of each identity. Keys in `credentials`
    are kept, so re-rendering after a contract change does not invalidate running domains."""
    actions = {PLATFORM: ["Admin", "Read", "Write", "List", "Tagging"]}
    actions |= {d.name: domain_actions(mesh, d.name) for d in mesh.domains}
    # Kept keys stay; a key kind added since (the catalog role's password) is made for old holders too.
    keys = {name: {**new_keys(), **credentials.get(name, {})} for name in actions}
    config = {
        "identities": [
            {
                "name": name,
                "credentials": [{"accessKey": keys[name]["access_key"], "secretKey": keys[name]["secret_key"]}],
                "actions": actions[name],
            }
            for name in actions
        ]
    }
    return config, keys


def write_identities(folder: Path, mesh: Mesh) -> Path:
    """`<folder>/s3.json` for the storage and `<folder>/<identity>.json` for each holder of keys."""
    folder.mkdir(parents=True, exist_ok=True)
    existing = {path.stem: json.loads(path.read_text()) for path in folder.glob("*.json") if path.name != CONFIG_FILE}
    config, keys = render_identities(mesh, existing)
    for name, document in [(Path(CONFIG_FILE).stem, config), *keys.items()]:
        path = folder / f"{name}.json"
        # Secrets: created unreadable to others before anything is written into them.
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(document, indent=2) + "\n")
    return folder / CONFIG_FILE
