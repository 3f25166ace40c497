"""The mesh's naming conventions in one place: ids, asset keys, catalog names and a domain's
folders are derived here and nowhere else, so a producer's port can be found from a consumer's
contract id alone, and a domain's dbt project from its folder."""

from __future__ import annotations

import re
from pathlib import Path

_CONTRACT_ID = re.compile(r"^urn:mesh:contract:([a-z][a-z0-9_]*):([a-z][a-z0-9_]*)$")
# A domain folder's own descriptor: its team, schedule and operational sources.
DOMAIN_FILE = "domain.yaml"
# The middle part of an operational table's asset key: `<domain>/operational/<table>`.
OPERATIONAL = "operational"


def product_id(domain: str, product: str) -> str:
    return f"urn:mesh:product:{domain}:{product}"


def contract_id(domain: str, port: str) -> str:
    return f"urn:mesh:contract:{domain}:{port}"


def port_key(domain: str, port: str, major: int) -> tuple[str, str]:
    """A port's asset key and Iceberg table (`<domain>.<port>_v<major>`): one per live major."""
    return (domain, f"{port}_v{major}")


def contract_parts(contract: object) -> tuple[str, str] | None:
    """(producer domain, port) a contract id names by convention; None for any other value."""
    match = _CONTRACT_ID.fullmatch(contract) if isinstance(contract, str) else None
    return (match.group(1), match.group(2)) if match else None


def port_key_of_contract(contract: str, major: int) -> tuple[str, str] | None:
    """Where the port publishing a contract id at a major lives, by convention (policy naming)."""
    parts = contract_parts(contract)
    return port_key(*parts, major) if parts else None


def table_name(key: tuple[str, str]) -> str:
    """A port's Iceberg table, `<domain>.<port>_v<major>`: its asset key, namespaced by domain."""
    return f"{key[0]}.{key[1]}"


def port_source_identifier(key: tuple[str, ...]) -> str:
    """The view a consumer's dbt source reads for a port: `<producer>__<port>_v<major>` in schema ports."""
    return "__".join(key)


def model_key(domain: str, model: str) -> tuple[str, str]:
    """A dbt model's asset key: beside the domain's ports, so a model must not take a port's name."""
    return (domain, model)


def operational_source_key(domain: str, table: str) -> tuple[str, str, str]:
    return (domain, OPERATIONAL, table)


def operational_table(domain: str, key: tuple[str, ...]) -> str | None:
    """The table an asset key names when it is one of `domain`'s operational sources."""
    return key[2] if len(key) == 3 and key[:2] == (domain, OPERATIONAL) else None


def dbt_project(domain: str) -> Path:
    """A domain's dbt project, from the mesh's root: `dbt_projects/<domain>`, the twin of `domains/<domain>`."""
    return Path("dbt_projects", domain)


# A domain folder's component (platform_lib.definitions.DataMeshDomain), in its defs package, which
# `dg` calls its defs module: in a folder of the package, as `dg check yaml` reads those, not its root.
COMPONENT_FILE = Path("defs", "domain", "defs.yaml")
DEFS_PACKAGE = COMPONENT_FILE.parts[0]
