"""The storage enforces the contracts' grants by itself: on a real SeaweedFS with the identities
rendered from this repository's mesh, a domain reads every port's metadata, only the data it is
granted, and writes only under its own prefix, whichever client it uses (pyarrow or DuckDB SQL); and
no side door of the server (its filer's or volume server's own HTTP API) serves anyone without keys."""

from __future__ import annotations

import json
import stat
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import duckdb_extension_httpfs
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

from platform_lib.mesh import load_mesh
from platform_lib.ports.identities import write_identities
from tests.support.seaweed import create_bucket, s3_filesystem, seaweedfs

# Granted to finance only (role customer_pii_reader), not to marketing.
PII_PORT = "ports/customers/customer_profiles_full_v1"
DATA = f"{PII_PORT}/data/x.parquet"
METADATA = f"{PII_PORT}/metadata/v1.metadata.json"
HTTPFS = Path(duckdb_extension_httpfs.__file__).parent / "extensions" / "v1.5.5" / "httpfs.duckdb_extension"


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    """SeaweedFS with the mesh's identities, a bucket, and one PII port's files written by customers."""
    root = tmp_path_factory.mktemp("seaweed")
    config = write_identities(root / "identities", load_mesh())
    keys = {path.stem: json.loads(path.read_text()) for path in config.parent.glob("*.json") if path != config}
    with seaweedfs(root, config) as server:
        create_bucket(server.endpoint, keys["platform"])
        customers = s3_filesystem(server.endpoint, keys["customers"])
        pq.write_table(pa.table({"customer_key": [1, 2, 3]}), DATA, filesystem=customers)
        with customers.open_output_stream(METADATA) as out:
            out.write(b'{"format-version": 2}')
        yield server.endpoint, keys, server.ports


def as_domain(storage, domain: str):
    endpoint, keys, _ = storage
    return s3_filesystem(endpoint, keys[domain])


def duckdb_as(storage, domain: str) -> duckdb.DuckDBPyConnection:
    endpoint, keys, _ = storage
    # No download of any extension: httpfs comes from its PyPI package.
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    con.execute(f"LOAD '{HTTPFS}'")
    con.execute(
        f"CREATE SECRET (TYPE s3, KEY_ID '{keys[domain]['access_key']}', SECRET '{keys[domain]['secret_key']}', "
        f"ENDPOINT '{endpoint.removeprefix('http://')}', URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')"
    )
    return con


def exists(storage, path: str) -> bool:
    return as_domain(storage, "platform").get_file_info(path).type != fs.FileType.NotFound


def test_rerendering_keeps_the_keys_and_keeps_them_private(tmp_path):
    mesh = load_mesh()
    write_identities(tmp_path, mesh)
    before = (tmp_path / "marketing.json").read_text()
    config = write_identities(tmp_path, mesh)
    assert (tmp_path / "marketing.json").read_text() == before
    assert {i["name"] for i in json.loads(config.read_text())["identities"]} == {"platform", *(d.name for d in mesh.domains)}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.glob("*.json"))


def test_a_domain_reads_any_ports_metadata(storage):
    assert as_domain(storage, "marketing").open_input_file(METADATA).read() == b'{"format-version": 2}'


def test_pyarrow_is_refused_the_data_of_a_port_not_granted(storage):
    with pytest.raises(OSError, match="ACCESS_DENIED"):
        pq.read_table(DATA, filesystem=as_domain(storage, "marketing"))
    # The same read with the granted domain's keys works: the refusal is the grant, not the file.
    assert pq.read_table(DATA, filesystem=as_domain(storage, "finance")).num_rows == 3


def test_duckdb_sql_is_refused_the_data_of_a_port_not_granted(storage):
    with duckdb_as(storage, "marketing") as con, pytest.raises(duckdb.Error, match="403"):
        con.sql(f"select count(*) from read_parquet('s3://{DATA}')").fetchall()


def test_duckdb_sql_reads_the_data_of_a_granted_port(storage):
    with duckdb_as(storage, "finance") as con:
        assert con.sql(f"select count(*) from read_parquet('s3://{DATA}')").fetchall() == [(3,)]


@pytest.mark.parametrize("path", ["ports/sales/orders_v1/data/forged.parquet", f"{PII_PORT}/data/forged.parquet"])
def test_a_domain_cannot_write_under_another_domains_prefix(storage, path):
    with pytest.raises(OSError, match="ACCESS_DENIED"):
        pq.write_table(pa.table({"x": [1]}), path, filesystem=as_domain(storage, "marketing"))
    assert not exists(storage, path)


def test_a_domain_writes_under_its_own_prefix(storage):
    path = "ports/marketing/global_sales_opportunity_v1/data/own.parquet"
    pq.write_table(pa.table({"x": [1]}), path, filesystem=as_domain(storage, "marketing"))
    assert exists(storage, path)


def _status(url: str, method: str = "GET", body: bytes | None = None) -> int:
    """The HTTP status a request without any key gets, as curl from a shell on the machine would."""
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.mark.parametrize("method, path, body", [
    ("GET", f"/buckets/{DATA}", None),
    ("GET", f"/buckets/{PII_PORT}/data/", None),
    ("PUT", "/buckets/ports/sales/orders_v1/data/forged.parquet", b"forged"),
    ("DELETE", f"/buckets/{DATA}", None),
])
def test_the_filers_own_http_port_serves_no_one_without_keys(storage, method, path, body):
    """The attack of issue 19: every customer's name read, and sales' port written, through the
    filer's port, bypassing the S3 gateway and its identities."""
    _, _, ports = storage
    assert _status(f"http://127.0.0.1:{ports['filer']}{path}", method, body) == 401
    assert exists(storage, DATA) and not exists(storage, "ports/sales/orders_v1/data/forged.parquet")


def test_the_volume_servers_take_no_write_without_a_token(storage):
    """A file id from the master, then a write straight to the volume server that holds it."""
    _, _, ports = storage
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['master']}/dir/assign", timeout=10) as response:
        assigned = json.loads(response.read())
    assert "auth" not in assigned, "the master hands out write tokens to anyone"
    assert _status(f"http://{assigned['url']}/{assigned['fid']}", "PUT", b"forged") == 401
