"""A deployment's port catalog and its object store belong together: each catalog row points at a
metadata file in the store, so a catalog served with another store's files is a mesh of ports whose
metadata is missing. The first `mesh up` pairs them under a random id recorded on both sides: a row in
the catalog's database (`mesh_deployment`, the platform's own table beside pyiceberg's) and a file in
the store's folder, read before any server starts. Every later `mesh up` compares the two.

A side without a record is new, or older than the pairing. A store's record names its catalog, so a
catalog without one whose store names it is paired (its first `mesh up` stopped halfway, or its
database was dropped and made anew: an empty catalog points at nothing). A catalog that lists ports
while neither side has a record is trusted to its store only if that store holds data (a deployment
from before pairing was recorded); against a new store those ports' files are surely elsewhere."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from platform_lib.deploy.instance import postgres_url

if TYPE_CHECKING:
    from platform_lib.deploy.topology import Plan

TABLE = "mesh_deployment"
STORE_FILE = "deployment.json"


def pair(plan: Plan) -> str:
    """The deployment's id, recorded on the side that lacks it; RuntimeError, naming both, when the
    catalog and the store do not belong together."""
    import psycopg2

    catalog = make_url(postgres_url(plan.postgres, plan.port_catalog)).render_as_string(hide_password=True)
    path = plan.store / STORE_FILE
    stored = json.loads(path.read_text()) if path.exists() else None
    con = psycopg2.connect(f"postgresql://{plan.postgres}/{plan.port_catalog}", connect_timeout=5)
    try:
        with con, con.cursor() as cur:
            cur.execute(f"create table if not exists {TABLE} (id text not null, home text not null, store text not null, "
                        "paired_at timestamptz not null default now())")
            cur.execute(f"select id, home, store from {TABLE}")
            row = cur.fetchone()
            cur.execute("select to_regclass('iceberg_tables') is not null")
            listed = 0
            if cur.fetchone()[0]:
                cur.execute("select count(*) from iceberg_tables")
                (listed,) = cur.fetchone()
            _judge(plan, catalog, row, stored, listed)
            if row is not None:
                return row[0]
            if stored is None:
                stored = {"id": secrets.token_hex(8), "catalog": catalog, "name": plan.name}
                plan.store.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(stored, indent=2) + "\n")
            cur.execute(f"insert into {TABLE} (id, home, store) values (%s, %s, %s)", (stored["id"], str(plan.home), str(plan.store)))
            return stored["id"]
    finally:
        con.close()


def _judge(plan: Plan, catalog: str, row: tuple | None, stored: dict | None, listed: int) -> None:
    here = f"the object store in {plan.store} ({plan.s3_endpoint})"
    new_name = "or give this deployment a name of its own (mesh up --name NEW: a new catalog and instance)"
    if row is not None and stored is not None and row[0] == stored["id"]:
        return
    if row is not None and stored is not None:
        why = (f"the catalog was paired with the object store in {row[2]} (deployment {row[0]}), and this store with the port "
               f"catalog {stored['catalog']} (deployment {stored['id']})")
        todo = f"Point MESH_HOME at {row[1]} to serve this catalog, {new_name}"
    elif row is not None:
        why = f"the catalog was paired with the object store in {row[2]} (deployment {row[0]}): its ports' files are there, not in this store"
        todo = f"Point MESH_HOME at {row[1]}, where that store lives, {new_name}"
    elif stored is not None and stored["catalog"] != catalog:
        why = f"this store was paired with the port catalog {stored['catalog']} (deployment {stored['id']})"
        todo = f"Run mesh up --name {stored['name']} to serve it with its own catalog, or use another MESH_HOME for a new deployment"
    elif stored is None and listed and not _holds_data(plan.store):
        why = f"the catalog lists {listed} published port(s), and this store is new: their files are in another store"
        todo = f"Point MESH_HOME at the home whose object store holds them, {new_name}"
    else:
        return
    raise RuntimeError(f"the port catalog {catalog} and {here} do not belong together: {why}. {todo}.")


def _holds_data(store: Path) -> bool:
    data = store / "data"
    return data.is_dir() and any(data.iterdir())
