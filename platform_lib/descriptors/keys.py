"""The mesh's naming conventions in one place: ids, asset keys and catalog names are derived here
and nowhere else, so a producer's port can be found from a consumer's contract id alone."""

from __future__ import annotations

import re

_CONTRACT_ID = re.compile(r"^urn:mesh:contract:([a-z][a-z0-9_]*):([a-z][a-z0-9_]*)$")


def product_id(domain: str, product: str) -> str:
    return f"urn:mesh:product:{domain}:{product}"


def contract_id(domain: str, port: str) -> str:
    return f"urn:mesh:contract:{domain}:{port}"


def port_key(domain: str, port: str, major: int) -> tuple[str, str]:
    """A port's asset key and Iceberg table (`<domain>.<port>_v<major>`): one per live major."""
    return (domain, f"{port}_v{major}")


def port_key_of_contract(contract: str, major: int) -> tuple[str, str] | None:
    """Where the port publishing a contract id at a major lives, by convention (policy naming)."""
    match = _CONTRACT_ID.fullmatch(contract)
    return port_key(match.group(1), match.group(2), major) if match else None
