"""How a masked column is published: the platform applies the contract's per-column rule when it
stages a port, so no unmasked value of a masked column is ever published.

`hash` is HMAC-SHA256 under a secret key: a plain or publicly salted SHA-256 of a name is reversed by
hashing candidate names (every customer name of TPC-H in seconds), a keyed hash only by whoever holds
the key. One key per installation keeps a hashed column joinable across ports (same value, same
digest). The key is created on first use under $MESH_HOME; a deployment whose domains run on
machines of their own gives them all one secret instead, MESH_MASKING_SALT. A run is given both by
its masking resource (assets/resources.py)."""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from platform_lib.descriptors.contract import Column, Contract
from platform_lib.sql import sql_identifier

KEY_BYTES = 32
# SHA-256's block size: HMAC pads its key to it (RFC 2104).
BLOCK = 64
HASH_MACRO = "mesh_masking_hmac"


def _create_key(path: Path) -> None:
    """Written in full under a scratch name, then linked into place: the key file never exists half
    written, and the link fails if a concurrent first use created it first, whose key then stands."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
            file.flush()
            os.fsync(file.fileno())
        os.link(scratch, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(scratch)


def installation_key(path: Path) -> bytes:
    if not path.exists():
        _create_key(path)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(
            f"{path}: the masking key is {len(key)} bytes, expected {KEY_BYTES} random bytes; restore the installation's "
            "key (a new one changes every hashed value already published), or set MESH_MASKING_SALT"
        )
    return key


def masking_key(key_file: Path, shared_secret: str = "") -> bytes:
    """The deployment's shared secret if it gives one, else the installation's key in `key_file`."""
    return shared_secret.encode() if shared_secret else installation_key(key_file)


def _pads(key: bytes) -> tuple[str, str]:
    """HMAC's inner and outer keys, in hex."""
    key = (hashlib.sha256(key).digest() if len(key) > BLOCK else key).ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def masking_macro(key: bytes) -> str:
    """The SQL that defines `hash` under `key` in a DuckDB session, to run before `masked_select`'s:
    the key stays in the session's macro, out of the export's SQL, which DuckDB quotes in its errors."""
    inner, outer = _pads(key)
    return (
        f"create or replace temp macro {HASH_MACRO}(value) as "
        f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || encode(cast(value as varchar)))))"
    )


def masked_expression(column: Column) -> str:
    name = sql_identifier(column.name)
    if column.masking == "hash":
        return f"{HASH_MACRO}({name}) as {name}"
    return f"cast(null as {column.physical_type}) as {name}"


def masked_select(contract: Contract, relation: str) -> str:
    """The SQL that reads a port's dbt relation with every masking rule of its contract applied."""
    masked = [masked_expression(c) for c in contract.columns if c.masking]
    replace = f" replace ({', '.join(masked)})" if masked else ""
    return f"select *{replace} from {relation}"
