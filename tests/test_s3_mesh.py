"""The production shape of the port storage, end to end: the whole mesh runs with its port catalog in
PostgreSQL and its port tables on a real S3 server (SeaweedFS), every domain with its own identity
rendered from the contracts' grants (`mesh access render`). Ports publish there and equal the official
TPC-H answers, consumers read them from S3, and the storage itself refuses what the grants refuse."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import duckdb
import duckdb_extension_httpfs
import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

from platform_lib.mesh import load_mesh
from platform_lib.ports.binding import pin
from platform_lib.ports.catalog import PortCatalog
from platform_lib.ports.integrity import CorruptPort
from platform_lib.ports.storage import path_of
from tests.conftest import TEST_SCALE_FACTOR, mesh_env
from tests.support.processes import mesh
from tests.support.seaweed import create_bucket, s3_filesystem, seaweedfs
from tests.support.tpch import TPCH_PRODUCTS, differences
from tests.test_port_versions import FORGED_PRICE, rewrite_to_size

MESH = load_mesh()
POSTGRES = "postgres@127.0.0.1:5432"
# Granted to finance (role customer_pii_reader), not to marketing.
RESTRICTED = ("customers", "customer_profiles_full_v1")
EXTENSIONS = Path(duckdb_extension_httpfs.__file__).parent.parent
# What a process of the mesh reads its storage settings from; none may leak in from the caller.
SETTINGS = ("MESH_PORT_CATALOG", "MESH_PORT_WAREHOUSE", "MESH_S3_ENDPOINT", "MESH_S3_ACCESS_KEY_ID", "MESH_S3_SECRET_ACCESS_KEY", "MESH_S3_CREDENTIALS")


@dataclass(frozen=True)
class S3Mesh:
    env: dict
    endpoint: str
    keys: dict[str, dict]


@contextmanager
def port_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session's port catalog, dropped afterwards."""
    name = f"mesh_ports_{secrets.token_hex(6)}"
    admin = psycopg2.connect(f"postgresql://{POSTGRES}/postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'create database "{name}"')
        try:
            yield f"postgresql+psycopg2://{POSTGRES}/{name}"
        finally:
            with admin.cursor() as cur:
                # FORCE: a connection pool of this test process may still hold a session.
                cur.execute(f'drop database if exists "{name}" with (force)')
    finally:
        admin.close()


@pytest.fixture(scope="module")
def s3_mesh(tmp_path_factory) -> Iterator[S3Mesh]:
    root = tmp_path_factory.mktemp("s3_mesh")
    env = {k: v for k, v in mesh_env(root / "home").items() if k not in SETTINGS}
    access = root / "access"
    mesh("access", "render", "--out", str(access), env=env)
    keys = {path.stem: json.loads(path.read_text()) for path in access.glob("*.json") if path.name != "s3.json"}
    with port_database() as catalog_uri, seaweedfs(root / "seaweed", access / "s3.json") as server:
        endpoint = server.endpoint
        create_bucket(endpoint, keys["platform"])
        # Every process of the run takes its own identity from MESH_S3_CREDENTIALS; the parent has none.
        env |= {
            "MESH_PORT_CATALOG": catalog_uri, "MESH_PORT_WAREHOUSE": "s3://ports",
            "MESH_S3_ENDPOINT": endpoint, "MESH_S3_CREDENTIALS": str(access),
        }
        mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=env)
        mesh("run", env=env)
        yield S3Mesh(env, endpoint, keys)


@contextmanager
def port_catalog(s3: S3Mesh, identity: str = "platform") -> Iterator[PortCatalog]:
    """The port catalog as a process of that mesh holding `identity`'s keys sees it."""
    settings = {k: s3.env[k] for k in ("MESH_HOME", "MESH_PORT_CATALOG", "MESH_PORT_WAREHOUSE", "MESH_S3_ENDPOINT")}
    settings |= {"MESH_S3_ACCESS_KEY_ID": s3.keys[identity]["access_key"], "MESH_S3_SECRET_ACCESS_KEY": s3.keys[identity]["secret_key"]}
    with mock.patch.dict(os.environ, settings):
        catalog = PortCatalog()
        try:
            yield catalog
        finally:
            catalog.catalog.engine.dispose()


def duckdb_as(s3: S3Mesh, identity: str) -> duckdb.DuckDBPyConnection:
    """A hand-written DuckDB session with `identity`'s keys; extensions from their PyPI packages only."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    for name in ("httpfs", "avro", "iceberg"):  # avro before iceberg, or iceberg tries to download it
        con.execute(f"LOAD '{EXTENSIONS / f'duckdb_extension_{name}' / 'extensions' / 'v1.5.5' / f'{name}.duckdb_extension'}'")
    keys = s3.keys[identity]
    con.execute(
        f"CREATE SECRET (TYPE s3, KEY_ID '{keys['access_key']}', SECRET '{keys['secret_key']}', "
        f"ENDPOINT '{s3.endpoint.removeprefix('http://')}', URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')"
    )
    return con


def test_every_port_is_published_on_s3_and_the_tpch_products_are_right(s3_mesh):
    expected = sorted(p.asset_key for d in MESH.domains for p in d.output_ports)
    with port_catalog(s3_mesh) as catalog:
        assert catalog.ports() == expected
        for key in expected:
            table = catalog.table(key)
            assert table.metadata_location.startswith(f"s3://ports/{key[0]}/{key[1]}/metadata/"), table.metadata_location
            assert all(path.startswith(f"s3://ports/{key[0]}/{key[1]}/data/") for path in catalog.data_files(table, table.current_snapshot().snapshot_id))
            assert catalog.current(key).facts["row-count"] > 0
        for (domain, product), query in TPCH_PRODUCTS.items():
            data = catalog.table((domain, f"{product}_v1")).scan().to_arrow()
            assert differences(data, query, TEST_SCALE_FACTOR) == [], f"{domain}.{product} (Q{query})"


def test_consumers_read_the_ports_from_s3(s3_mesh):
    with duckdb.connect(str(Path(s3_mesh.env["MESH_HOME"]) / "warehouse" / "finance.duckdb"), read_only=True) as con:
        views = con.execute("select view_name, sql from duckdb_views() where not internal and schema_name = 'ports'").fetchall()
    # (finance's own models, views in `main`, read these.)
    assert views
    for view, sql in views:
        assert "'s3://ports/" in sql and "/ports/warehouse/" not in sql, (view, sql)


def restricted_port(s3_mesh) -> tuple[str, str]:
    """(metadata location, one data file) of the restricted port's current version."""
    with port_catalog(s3_mesh) as catalog:
        table = catalog.table(RESTRICTED)
        (data_file,) = catalog.data_files(table, table.current_snapshot().snapshot_id)
        return table.metadata_location, data_file


# Rows, not count(*): DuckDB answers an Iceberg count(*) from the manifests' record counts, which
# every domain may read (metadata is public), without opening a data file.
@pytest.mark.parametrize("query", ["select * from iceberg_scan('{metadata}')", "select * from read_parquet('{data}')"])
def test_the_storage_refuses_a_restricted_port_to_a_domain_not_granted(s3_mesh, query):
    metadata, data = restricted_port(s3_mesh)
    sql = query.format(metadata=metadata, data=data)
    with duckdb_as(s3_mesh, "marketing") as con, pytest.raises(duckdb.Error, match="403"):
        con.sql(sql).fetchall()
    # The same SQL with the granted domain's keys reads it: the refusal is the grant, not the file.
    with port_catalog(s3_mesh) as catalog:
        rows = catalog.current(RESTRICTED).facts["row-count"]
    with duckdb_as(s3_mesh, "finance") as con:
        assert len(con.sql(sql).fetchall()) == rows > 0


def test_a_domain_cannot_write_under_another_domains_prefix(s3_mesh):
    path = "ports/sales/orders_v1/data/forged.parquet"
    with pytest.raises(OSError, match="ACCESS_DENIED"):
        pq.write_table(pa.table({"x": [1]}), path, filesystem=s3_filesystem(s3_mesh.endpoint, s3_mesh.keys["marketing"]))
    assert s3_filesystem(s3_mesh.endpoint, s3_mesh.keys["platform"]).get_file_info(path).type == fs.FileType.NotFound


@contextmanager
def forged_orders(s3_mesh, tmp_path: Path) -> Iterator[tuple[int, str]]:
    """Sales' orders' current data file on S3 replaced by a forgery of the same size, counts and
    bounds while the block runs: (snapshot id, data file URI)."""
    key = ("sales", "orders_v1")
    with port_catalog(s3_mesh) as catalog:
        snapshot = catalog.table(key).current_snapshot()
        (uri,) = catalog.data_files(catalog.table(key), snapshot.snapshot_id)
        store, path = catalog.storage.filesystem(uri), path_of(uri)
        # The store's own checksum is recorded: an untouched file is checked without being read.
        recorded = json.loads(snapshot.summary.additional_properties["mesh.content"])[uri]
        assert recorded["etag"] == store.open_input_file(path).metadata()["ETag"].decode()
        good, forged = store.open_input_file(path).read(), tmp_path / "forged.parquet"
    forged.write_bytes(good)
    rewrite_to_size(forged, FORGED_PRICE)
    try:
        with store.open_output_stream(path) as out:
            out.write(forged.read_bytes())
        yield snapshot.snapshot_id, uri
    finally:
        with store.open_output_stream(path) as out:
            out.write(good)


def test_a_forged_data_file_on_s3_is_refused_at_binding(s3_mesh, tmp_path):
    with forged_orders(s3_mesh, tmp_path) as (snapshot_id, uri):
        where = f"port sales.orders_v1 snapshot {snapshot_id}: data file {uri}"
        with port_catalog(s3_mesh, "finance") as catalog, pytest.raises(CorruptPort, match=f"^{re.escape(where)} differs from what the catalog recorded \\(content: "):
            pin(MESH.domain("finance"), ("sales", "orders_v1"), catalog)


def test_mesh_ports_lists_the_s3_tables_as_the_platform(s3_mesh):
    listed = json.loads(mesh("ports", "--json", env=s3_mesh.env).stdout)
    assert sorted(tuple(p["asset_key"].split("/")) for p in listed) == sorted(p.asset_key for d in MESH.domains for p in d.output_ports)
    assert all(p["metadata_location"].startswith("s3://ports/") for p in listed)


def test_a_spark_domain_binds_its_own_copies_of_what_it_may_read_and_nothing_forged(s3_mesh, tmp_path):
    """Spark reads no S3 here (hadoop-aws is not among pyspark's jars): a Spark domain's binding checks
    each port as any domain's does, with its own identity, then copies the files into its own Spark
    folder, where its views read them. A forged file is refused before anything of that port is copied."""
    from dataclasses import replace

    from platform_lib.dbt.files.profile import profile
    from platform_lib.dbt.manifest import load_manifest
    from platform_lib.ports.binding import bind_sources
    from platform_lib.ports.warehouse import Warehouse

    manifest = load_manifest(MESH.domain("marketing"))
    # The domain as `mesh prepare` leaves it after its move to Spark: its own generated profile.
    marketing = replace(MESH.domain("marketing"), engine="spark", folder=tmp_path / "mesh" / "domains" / "marketing")
    marketing.dbt_project_dir.mkdir(parents=True)
    (marketing.dbt_project_dir / "profiles.yml").write_text(profile(marketing))

    def bind(home: Path):
        with port_catalog(s3_mesh, "marketing") as catalog, mock.patch.dict(os.environ, {"MESH_HOME": str(home)}):
            return catalog, bind_sources(marketing, manifest, catalog, Warehouse(home / "marketing.duckdb", "256MB", catalog.storage))

    catalog, bound = bind(tmp_path / "first")
    inputs = tmp_path / "first" / "warehouse" / "marketing.spark" / "inputs"
    assert sorted(str(p.relative_to(inputs)) for p in inputs.glob("*/*")) == ["customers/customer_profiles_v1", "sales/orders_v1"]
    for _, _, files in bound.views:
        for copy in map(Path, files):
            assert copy.is_relative_to(inputs)
            (uri,) = [u for u in catalog.data_files(catalog.table(tuple(copy.relative_to(inputs).parts[:2])), int(copy.parent.name))
                      if u.endswith(copy.name)]
            with catalog.storage.filesystem(uri).open_input_file(path_of(uri)) as original:
                assert copy.read_bytes() == original.read()

    with forged_orders(s3_mesh, tmp_path):
        with pytest.raises(CorruptPort, match="^port sales.orders_v1 snapshot "):
            bind(tmp_path / "second")
        assert not (tmp_path / "second" / "warehouse" / "marketing.spark" / "inputs" / "sales").exists()
