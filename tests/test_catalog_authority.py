"""The port catalog on PostgreSQL answers to each domain for its own namespace only: tried as a
domain's role would, with plain SQL on the catalog's tables (the attack of issue 19: repoint sales'
port to an older metadata file with marketing's credentials), and through pyiceberg as the platform
uses it."""

from __future__ import annotations

import secrets

import psycopg2
import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from platform_lib.deploy.catalog_authority import catalog_uri, drop_roles, grant_authority
from platform_lib.deploy.instance import ensure_databases

SERVER = "postgres@127.0.0.1:5432"
ROW = "select metadata_location from iceberg_tables where table_namespace = 'sales' and table_name = 'orders_v1'"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """A catalog database with roles for the platform, sales and marketing, and sales' port
    published twice (so an older metadata file exists to roll back to)."""
    deployment = f"mesh_authority_{secrets.token_hex(4)}"
    database = f"{deployment}_ports"
    passwords = {identity: secrets.token_hex(12) for identity in ("platform", "sales", "marketing")}
    ensure_databases(SERVER, [database])
    try:
        grant_authority(SERVER, database, deployment, passwords)
        uris = {identity: catalog_uri(SERVER, database, deployment, identity, password) for identity, password in passwords.items()}
        warehouse = tmp_path_factory.mktemp("warehouse").as_uri()
        sales = SqlCatalog("mesh", uri=uris["sales"], warehouse=warehouse)
        sales.create_namespace("sales")
        table = sales.create_table("sales.orders_v1", pa.schema([("order_key", pa.int64())]))
        for batch in ([1], [1, 2]):
            table.append(pa.table({"order_key": pa.array(batch, pa.int64())}))
        yield uris, warehouse
    finally:
        con = psycopg2.connect(f"postgresql://{SERVER}/postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'drop database if exists "{database}" with (force)')
        con.close()
        drop_roles(SERVER, deployment, list(passwords))


def connect(uri: str):
    return psycopg2.connect(uri.replace("postgresql+psycopg2", "postgresql"))


def test_marketing_cannot_repoint_sales_port_to_an_older_version(catalog):
    uris, _ = catalog
    with connect(uris["marketing"]) as con, con.cursor() as cur:
        cur.execute(ROW)
        before = cur.fetchall()
        cur.execute("update iceberg_tables set metadata_location = previous_metadata_location where table_namespace = 'sales'")
        assert cur.rowcount == 0, "marketing's role changed a row of sales' namespace"
        cur.execute("delete from iceberg_tables where table_namespace = 'sales'")
        assert cur.rowcount == 0
        cur.execute(ROW)
        assert cur.fetchall() == before and before


def test_marketing_cannot_register_a_table_in_sales_namespace(catalog):
    uris, _ = catalog
    with connect(uris["marketing"]) as con, con.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
        cur.execute("insert into iceberg_tables (catalog_name, table_namespace, table_name, metadata_location) "
                    "values ('mesh', 'sales', 'forged_v1', 's3://ports/marketing/forged/metadata/1.json')")


def test_the_refusal_is_the_namespace_not_a_missing_grant(catalog):
    """Sales' own role may repoint its own table (the change is rolled back)."""
    uris, _ = catalog
    con = connect(uris["sales"])
    try:
        with con.cursor() as cur:
            cur.execute("update iceberg_tables set metadata_location = previous_metadata_location where table_namespace = 'sales'")
            assert cur.rowcount == 1
    finally:
        con.rollback()
        con.close()


def test_a_domain_reads_every_port_and_publishes_in_its_own_namespace(catalog):
    uris, warehouse = catalog
    marketing = SqlCatalog("mesh", uri=uris["marketing"], warehouse=warehouse)
    assert marketing.load_table("sales.orders_v1").scan().to_arrow().num_rows == 3
    marketing.create_namespace("marketing")
    marketing.create_table("marketing.opportunities_v1", pa.schema([("order_key", pa.int64())]))
    with pytest.raises(Exception, match="row-level security"):
        marketing.create_table("sales.forged_v1", pa.schema([("order_key", pa.int64())]))
