"""Reading what a mesh published, from a test: the port catalog of the mesh at `env`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pyarrow as pa

from platform_lib.ports.catalog import PortCatalog
from platform_lib.ports.version import PortVersion

SETTINGS = ("MESH_HOME", "MESH_PORT_CATALOG", "MESH_PORT_WAREHOUSE", "MESH_S3_ENDPOINT", "MESH_S3_ACCESS_KEY_ID", "MESH_S3_SECRET_ACCESS_KEY")


@contextmanager
def port_catalog(env: dict) -> Iterator[PortCatalog]:
    """The catalog as a process of that mesh sees it (its settings are read from the environment)."""
    with mock.patch.dict(os.environ, {k: env[k] for k in SETTINGS if k in env}):
        yield PortCatalog()


def read_port(env: dict, key: tuple[str, str], snapshot_id: int | None = None) -> pa.Table:
    with port_catalog(env) as catalog:
        return catalog.table(key).scan(snapshot_id=snapshot_id).to_arrow()


def current(env: dict, key: tuple[str, str]) -> PortVersion | None:
    with port_catalog(env) as catalog:
        return catalog.current(key)
