"""What other domains have published, read the way a code location needs it at load: the contract
(with its grants) each producer's port published last, straight from the catalog's table row and the
table's Iceberg metadata file. A location reads only the ports it binds, so its load time does not
grow with the mesh, and it never opens another domain's folder.

pyiceberg is not imported here: it costs about half a second, and this runs at every load.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from platform_lib.descriptors.contract import load_contract
from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.descriptors.keys import port_key_of_contract
from platform_lib.descriptors.producers import ProducerIndex
from platform_lib.descriptors.product import InputPort, OutputPort
from platform_lib.ports.storage import CatalogUnreachable, PortStorage, path_of

CATALOG_NAME = "mesh"
# Table properties every version carries: the contract as published (schema, rules, SLOs, roles
# and their grants), and the producing product's id, owner and support channels.
CONTRACT = "mesh.contract"
PRODUCT = "mesh.product"

# The catalog table pyiceberg's SQL catalog shares with Iceberg's JDBC catalog.
_TABLES = "select table_name, metadata_location from iceberg_tables where catalog_name = {} and table_namespace = {}"


def _catalog_rows(uri: str, namespace: str | None = None) -> list[tuple[str, str]] | None:
    """(table, metadata location) of one namespace, or merely whether the catalog exists (`namespace`
    None: [] if it does); None when nothing was ever published there. Read only: nothing is created.
    SQLite through the standard library, so a location's load pays no SQLAlchemy import; any other
    database through SQLAlchemy."""
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.exists():
            return None
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as con:
            try:
                return [] if namespace is None else con.execute(_TABLES.format("?", "?"), (CATALOG_NAME, namespace)).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
                return None
    import sqlalchemy as sa

    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        if not sa.inspect(engine).has_table("iceberg_tables"):
            return None
        if namespace is None:
            return []
        with engine.connect() as con:
            query = sa.text(_TABLES.format(":catalog", ":namespace"))
            return [tuple(row) for row in con.execute(query, {"catalog": CATALOG_NAME, "namespace": namespace})]
    except sa.exc.OperationalError as exc:
        raise CatalogUnreachable(uri, exc) from None
    finally:
        engine.dispose()


def catalog_exists(uri: str) -> bool:
    """Whether the port catalog at `uri` was ever created (a port was published), asked without creating it."""
    return _catalog_rows(uri) is not None


@dataclass(frozen=True)
class PublishedPort:
    port: OutputPort
    metadata_location: str
    product: dict


class PublishedPorts(ProducerIndex):
    """The producers a domain binds to, as the port catalog publishes them."""

    WHERE = "in the port catalog"

    def __init__(self, storage: PortStorage | None = None):
        """The ports of `storage`, by default the one the settings name, read as this process."""
        self.storage = storage or PortStorage.from_settings()
        self._namespaces: dict[str, dict[str, str]] = {}
        self._ports: dict[tuple[str, str], PublishedPort | None] = {}
        # Ports the catalog lists whose metadata cannot be read, and why: to a consumer they are not
        # published (a warning at its load), not a reason for its location to fail.
        self.unreadable: dict[tuple[str, str], str] = {}

    def _tables(self, namespace: str) -> dict[str, str]:
        """Table name -> current metadata location, for one producer domain."""
        if namespace not in self._namespaces:
            self._namespaces[namespace] = dict(_catalog_rows(self.storage.catalog_uri, namespace) or [])
        return self._namespaces[namespace]

    def published(self, key: tuple[str, str]) -> PublishedPort | None:
        if key not in self._ports:
            location = self._tables(key[0]).get(key[1])
            try:
                self._ports[key] = None if location is None else _read(key, location, self.storage)
            except (OSError, json.JSONDecodeError) as exc:
                reason = os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc).splitlines()[0]
                self.unreadable[key] = f"its metadata {location} cannot be read ({reason})"
                self._ports[key] = None
        return self._ports[key]

    def producer_of(self, port: InputPort) -> OutputPort | None:
        key = port_key_of_contract(port.contract_id, port.major)
        published = self.published(key) if key else None
        return published.port if published and published.port.contract.id == port.contract_id else None

    def live_majors(self, contract_id: str) -> list[int]:
        key = port_key_of_contract(contract_id, 0)
        if key is None:
            return []
        prefix = key[1].removesuffix("0")
        return sorted(int(name[len(prefix):]) for name in self._tables(key[0]) if name.startswith(prefix) and name[len(prefix):].isdigit())

    def contacts(self, port: OutputPort) -> list[str]:
        published = self.published(port.asset_key)
        product = published.product if published else {}
        return [c for c in (product.get("owner"), *product.get("support", ())) if c]


def _read(key: tuple[str, str], metadata_location: str, storage: PortStorage) -> PublishedPort | None:
    with storage.filesystem(metadata_location).open_input_stream(path_of(metadata_location)) as f:
        metadata = json.loads(f.read())
    # A table is created before its first version is audited; until a snapshot lands, nothing is published.
    if metadata.get("current-snapshot-id") in (None, -1):
        return None
    return published_port(key, metadata_location, metadata.get("properties", {}), storage)


def published_port(key: tuple[str, str], metadata_location: str, properties: dict[str, str], storage: PortStorage) -> PublishedPort:
    """The port as its producer last published it, from its table's metadata."""
    where = Path(f"port catalog {key[0]}.{key[1]}")
    # A table whose metadata lies outside its producer's prefix was not written by its producer.
    location = storage.table_location(key)
    if not PurePosixPath(path_of(metadata_location)).is_relative_to(path_of(location)):
        raise DescriptorError([Problem(where, "metadata_location", f"{metadata_location} is outside the table's location {location}; refusing to bind")])
    if CONTRACT not in properties:
        raise DescriptorError([Problem(where, "properties", f"no published contract ({CONTRACT}); was it published by the mesh?")])
    contract = load_contract(where, properties[CONTRACT])
    port = OutputPort(key[0], contract.data_product or "", key[1].rsplit("_v", 1)[0], contract)
    return PublishedPort(port, metadata_location, json.loads(properties.get(PRODUCT, "{}")))
