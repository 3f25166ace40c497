"""How a masked column is published: the platform applies the contract's per-column rule when it
stages a port, so no unmasked value of a masked column is ever published."""

from __future__ import annotations

import os

from platform_lib.descriptors.contract import Column, Contract
from platform_lib.ports.storage import sql_identifier, sql_string


def masking_salt() -> str:
    # A hash stays joinable across ports (same input, same digest) only with one salt mesh-wide;
    # deployments set their own secret, the default only keeps the demo reproducible.
    return os.environ.get("MESH_MASKING_SALT") or "mesh-demo-salt"


def masked_expression(column: Column) -> str:
    name = sql_identifier(column.name)
    if column.masking == "hash":
        return f"sha256({sql_string(masking_salt())} || cast({name} as varchar)) as {name}"
    return f"cast(null as {column.physical_type}) as {name}"


def masked_select(contract: Contract, relation: str) -> str:
    """The SQL that reads a port's dbt relation with every masking rule of its contract applied."""
    masked = [masked_expression(c) for c in contract.columns if c.masking]
    replace = f" replace ({', '.join(masked)})" if masked else ""
    return f"select *{replace} from {relation}"
