"""What a domain's runs reach outside Dagster, as its resources: where ports are published (the port
catalog and the storage of its tables, as the domain's S3 identity), the domain's own DuckDB file,
and the key masked columns are hashed with. Each shows in the UI with its configuration, a secret
only by the name of the environment variable or the file that holds it, and a test or a deployment
replaces one by its key (`domain_definitions(..., resources=...)`). Defaults come from settings.

The resources hand ports/ and quality/ plain objects (PortStorage, Warehouse, a key): those stay
without Dagster."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from platform_lib.ports.masking import masking_key
from platform_lib.ports.storage import PortStorage
from platform_lib.ports.warehouse import Warehouse
from platform_lib.settings import (
    MASKING_SALT,
    S3,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    audit_memory_limit,
    duckdb_memory_limit,
    masking_key_file,
    port_catalog_uri,
    port_warehouse,
    s3_credentials_file,
    s3_endpoint,
    s3_keys,
    s3_region,
    warehouse_path,
)

# Masked in the UI whatever the value (Dagster's flag for a secret field), should one be given as a value.
SECRET = {"dagster__is_secret": True}


def _secret(variable: str) -> str:
    """A secret the environment holds, as configuration: the UI shows the variable's name and the run
    reads its value when it starts. Empty when the variable is not set, which EnvVar would refuse."""
    return EnvVar(variable) if os.environ.get(variable) else ""


def _value(field: str) -> str:
    """A field's value, also before Dagster processed the configuration (a location's load, `mesh
    run`'s up-to-date check), when a secret is still the EnvVar naming the variable that holds it."""
    return (field.get_value() or "") if isinstance(field, EnvVar) else field


class PortsResource(ConfigurableResource):
    """The port catalog and the storage of the port tables, reached as one S3 identity."""

    catalog_uri: str = Field(description="The Iceberg SQL catalog of every port (SQLAlchemy URI): SQLite under $MESH_HOME by default, "
                                         "PostgreSQL in production (MESH_PORT_CATALOG).")
    warehouse_uri: str = Field(description="Where the port tables keep their files: a file:// folder, or s3://bucket (MESH_PORT_WAREHOUSE).")
    s3_endpoint: str = Field(default="", description="The S3 server, when the ports are on S3 (MESH_S3_ENDPOINT).")
    s3_region: str = Field(default="us-east-1")
    s3_credentials_file: str = Field(default="", description="The identity's keys as `mesh access render` writes them, when one machine "
                                                            "holds every identity's (MESH_S3_CREDENTIALS).")
    s3_access_key_id: str = Field(default="", description="Otherwise the identity's keys, given by the environment.")
    s3_secret_access_key: str = Field(default="", description="Given by the environment, never as a value.", json_schema_extra=SECRET)

    @classmethod
    def from_settings(cls, identity: str) -> PortsResource:
        """The settings' ports, reached as `identity` (a domain, or the platform)."""
        file = s3_credentials_file(identity)
        keys = {"s3_credentials_file": str(file)} if file else {
            "s3_access_key_id": _secret(S3_ACCESS_KEY_ID), "s3_secret_access_key": _secret(S3_SECRET_ACCESS_KEY),
        }
        return cls(catalog_uri=port_catalog_uri(), warehouse_uri=port_warehouse(), s3_endpoint=s3_endpoint(), s3_region=s3_region(), **keys)

    def storage(self) -> PortStorage:
        keys = s3_keys(Path(self.s3_credentials_file)) if self.s3_credentials_file else {
            "access_key": _value(self.s3_access_key_id), "secret_key": _value(self.s3_secret_access_key),
        }
        return PortStorage(self.catalog_uri, self.warehouse_uri, S3(self.s3_endpoint, self.s3_region, **keys))


class WarehouseResource(ConfigurableResource):
    """The domain's own DuckDB file, which only its runs write, and the memory of DuckDB's sessions."""

    path: str = Field(description="The domain's DuckDB file; dbt's profile names the same one, $MESH_HOME/warehouse/<domain>.duckdb.")
    memory_limit: str = Field(description="Of each session on the file: dbt's, the input binding's, the ports' export (MESH_DUCKDB_MEMORY_LIMIT).")
    audit_memory_limit: str = Field(description="Of the audit's session over a staged port version (MESH_AUDIT_MEMORY_LIMIT).")

    @classmethod
    def from_settings(cls, domain: str) -> WarehouseResource:
        return cls(path=str(warehouse_path(domain)), memory_limit=duckdb_memory_limit(), audit_memory_limit=audit_memory_limit())

    def warehouse(self, storage: PortStorage) -> Warehouse:
        """The file, its views reading other domains' ports from `storage`."""
        return Warehouse(Path(self.path), self.memory_limit, storage)


class MaskingResource(ConfigurableResource):
    """The key hashed columns are masked with (HMAC-SHA256)."""

    key_file: str = Field(description="The installation's key: created on first use, readable by its owner only.")
    shared_secret: str = Field(default="", description="A deployment's one secret for every domain, in place of the key file "
                                                       "(MESH_MASKING_SALT); given by the environment, never as a value.", json_schema_extra=SECRET)

    @classmethod
    def from_settings(cls) -> MaskingResource:
        return cls(key_file=str(masking_key_file()), shared_secret=_secret(MASKING_SALT))

    def key(self) -> bytes:
        return masking_key(Path(self.key_file), self.shared_secret)


def domain_resources(domain: str) -> dict[str, ConfigurableResource]:
    """A domain's resources as the settings say: its runs and its location read ports as the domain."""
    return {
        "ports": PortsResource.from_settings(domain),
        "warehouse": WarehouseResource.from_settings(domain),
        "masking": MaskingResource.from_settings(),
    }
