"""The SQL a port is staged with, run in an in-memory DuckDB: each masked column of the contract hashed
(HMAC-SHA256 under the installation's key) or redacted (a null of its own type), every other column
as the model holds it, in the model's order; and the installation's key made once, private."""

from __future__ import annotations

import hashlib
import hmac
import stat
from decimal import Decimal

import duckdb
import pytest

from platform_lib.mesh import load_mesh
from platform_lib.ports.masking import installation_key, masked_select, masking_key, masking_macro

pytestmark = pytest.mark.unit

# Customers' public port: name hashed, address and phone redacted, six columns published as they are.
PROFILES = next(p.contract for p in load_mesh().domain("customers").output_ports if p.asset_key == ("customers", "customer_profiles_v1"))
ROWS = [
    (1, "Customer#000000001", "an address", 7, "25-989-741-2988", "25", Decimal("711.56"), "BUILDING", "a comment"),
    (2, "Zoë Ørsted 日本", None, 9, None, "33", Decimal("-12.50"), "MACHINERY", None),
]


@pytest.fixture
def key_file(tmp_path):
    """Where the test's installation keeps its key."""
    return tmp_path / "secrets" / "masking.key"


def staged(contract, rows, key: bytes) -> tuple[list[tuple], list[str], list[str]]:
    """(rows, column names, column types) of the masked select over a table of the contract's columns."""
    columns = ", ".join(f"{c.name} {c.physical_type}" for c in contract.columns)
    with duckdb.connect() as con:
        con.execute(f"create table model ({columns})")
        con.executemany(f"insert into model values ({', '.join('?' * len(contract.columns))})", rows)
        con.execute(masking_macro(key))
        relation = con.sql(masked_select(contract, "model"))
        return relation.fetchall(), relation.columns, [str(t) for t in relation.types]


def test_masked_columns_are_hashed_or_redacted_and_the_others_kept(key_file):
    assert {c.name: c.masking for c in PROFILES.columns if c.masking} == {"name": "hash", "address": "redact", "phone": "redact"}
    key = masking_key(key_file)
    rows, names, types = staged(PROFILES, ROWS, key)
    assert names == [c.name for c in PROFILES.columns]
    assert types == [c.physical_type for c in PROFILES.columns]
    assert key == installation_key(key_file)
    expected = [
        (customer, hmac.new(key, name.encode(), hashlib.sha256).hexdigest(), None, nation, None, code, balance, segment, comment)
        for customer, name, _, nation, _, code, balance, segment, comment in ROWS
    ]
    assert rows == expected


@pytest.mark.parametrize("secret", ["s", "x" * 64, "a shared secret longer than SHA-256's block " * 3])
def test_a_shared_secret_keys_the_hash_instead_of_the_installation_key(key_file, secret):
    names = ["Customer#000000001", "Zoë Ørsted 日本", "", None]
    key = masking_key(key_file, secret)
    rows, _, _ = staged(PROFILES, [(i, name, "an address", 7, "a phone", "25", Decimal(0), "BUILDING", "a comment") for i, name in enumerate(names)], key)
    expected = [hmac.new(secret.encode(), name.encode(), hashlib.sha256).hexdigest() if name is not None else None for name in names]
    assert [(row[1], row[2], row[4]) for row in rows] == [(digest, None, None) for digest in expected]
    assert not key_file.parent.exists(), "a shared secret replaces the installation's key"


def test_the_installation_key_is_made_once_and_private(key_file):
    key = installation_key(key_file)
    assert len(key) == 32 and key_file.read_bytes() == key and installation_key(key_file) == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700


def test_a_damaged_key_is_refused_not_replaced(key_file):
    key_file.parent.mkdir(mode=0o700)
    key_file.write_bytes(b"short")
    with pytest.raises(ValueError, match=f"{key_file}: the masking key is 5 bytes, expected 32"):
        installation_key(key_file)
    assert key_file.read_bytes() == b"short"
