"""Who may change which rows of the port catalog on PostgreSQL: one database role per domain and one
for the platform, and row-level security on the catalog's two tables, so a domain's role reads every
row (discovery, binding) but inserts, updates and deletes only the rows of its own namespace. A
domain that repoints another's table to an older metadata file, or registers a table in its
namespace, is stopped by the database itself, whatever client it uses.

The platform's role owns the tables (an owner is not subject to row-level security): it creates
them, and the governance location reads everything through it. PostgreSQL reports an UPDATE or
DELETE of rows a policy hides as touching no row; an INSERT outside the namespace is an error."""

from __future__ import annotations

from urllib.parse import quote

from platform_lib.ports.identities import PLATFORM
from platform_lib.sql import sql_identifier, sql_string

# The catalog's tables (pyiceberg's SQL catalog, shared with Iceberg's JDBC catalog) and the column
# naming the namespace in each.
NAMESPACE_COLUMN = {"iceberg_tables": "table_namespace", "iceberg_namespace_properties": "namespace"}


def role(deployment: str, identity: str) -> str:
    """Roles are the server's, not one database's: the deployment's name keeps two deployments apart."""
    return f"{deployment}_{identity}"


def catalog_uri(server: str, database: str, deployment: str, identity: str, password: str) -> str:
    """The catalog as `identity` reaches it: its own role on the server `server` (user@host:port)."""
    host = server.rsplit("@", 1)[-1]
    return f"postgresql+psycopg2://{role(deployment, identity)}:{quote(password, safe='')}@{host}/{database}"


def statements(deployment: str, passwords: dict[str, str]) -> list[str]:
    """What makes the catalog's tables (already created) answer to the identities in `passwords`
    (identity -> password, the platform's included); safe to run again after domains were added."""
    platform = sql_identifier(role(deployment, PLATFORM))
    sql = []
    for identity, password in passwords.items():
        name = role(deployment, identity)
        sql.append(f"do $$ begin create role {sql_identifier(name)} login; exception when duplicate_object then null; end $$")
        sql.append(f"alter role {sql_identifier(name)} with login nosuperuser nocreatedb nocreaterole noinherit password {sql_string(password)}")
    for table, column in NAMESPACE_COLUMN.items():
        sql += [f"alter table {table} owner to {platform}", f"alter table {table} enable row level security"]
        for identity in passwords:
            if identity == PLATFORM:
                continue
            grantee = sql_identifier(role(deployment, identity))
            reads, writes = (sql_identifier(f"{table}_{identity}_{what}") for what in ("reads", "writes"))
            sql += [
                f"grant select, insert, update, delete on {table} to {grantee}",
                f"drop policy if exists {reads} on {table}",
                f"create policy {reads} on {table} for select to {grantee} using (true)",
                f"drop policy if exists {writes} on {table}",
                f"create policy {writes} on {table} for all to {grantee} using ({column} = {sql_string(identity)}) "
                f"with check ({column} = {sql_string(identity)})",
            ]
    return sql


def grant_authority(server: str, database: str, deployment: str, passwords: dict[str, str]) -> None:
    """As the server's administrator (`server` is user@host:port): the catalog's tables, created if
    missing, made the platform's, with a role and a namespace policy for each identity."""
    import psycopg2
    from pyiceberg.catalog.sql import SqlCatalog

    # The catalog's own tables, exactly as pyiceberg creates them on first use.
    SqlCatalog("mesh", uri=f"postgresql+psycopg2://{server}/{database}").engine.dispose()
    con = psycopg2.connect(f"postgresql://{server}/{database}", connect_timeout=5)
    try:
        with con, con.cursor() as cur:
            for statement in statements(deployment, passwords):
                cur.execute(statement)
    finally:
        con.close()


def drop_roles(server: str, deployment: str, identities: list[str]) -> None:
    """The deployment's roles, once its databases are dropped (roles outlive databases)."""
    import psycopg2

    con = psycopg2.connect(f"postgresql://{server}/postgres", connect_timeout=5)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            for identity in identities:
                cur.execute(f"drop role if exists {sql_identifier(role(deployment, identity))}")
    finally:
        con.close()
