"""The storage enforces the contracts' grants by itself: on a real SeaweedFS with the identities
rendered from this repository's mesh, a domain reads every port's metadata, only the data it is
granted, and writes only under its own prefix, whichever client it uses (pyarrow or DuckDB SQL); and
no side door of the server (its master's, filer's or volume servers' own HTTP and gRPC APIs) serves
anyone without the store's own certificate."""

from __future__ import annotations

import json
import ssl
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import duckdb_extension_httpfs
import grpc
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


def _answer(url: str, method: str = "GET", body: bytes | None = None) -> int | str:
    """What a request without any key or certificate gets, as curl from a shell on the machine would:
    an HTTP status, or why no HTTP exchange took place."""
    request = urllib.request.Request(url, data=body, method=method)
    # No server check either: the attacker trusts whatever answers.
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code
    except OSError as refused:  # URLError, or the TLS alert itself
        # An SSLError comes bare, or as a URLError's reason.
        error = refused if isinstance(refused, ssl.SSLError) else getattr(refused, "reason", refused)
        return f"TLS handshake refused: {error}" if isinstance(error, ssl.SSLError) else str(error)


@pytest.mark.parametrize("server, method, path, body", [
    ("filer", "GET", f"/buckets/{DATA}", None),
    ("filer", "GET", f"/buckets/{PII_PORT}/data/", None),
    ("filer", "PUT", "/buckets/ports/sales/orders_v1/data/forged.parquet", b"forged"),
    ("filer", "DELETE", f"/buckets/{DATA}", None),
    ("master", "GET", "/dir/assign", None),
    ("master", "POST", "/col/delete?collection=ports", None),
    ("volume", "GET", "/status", None),
])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_stores_own_http_ports_serve_no_one_without_its_certificate(storage, server, method, path, body, scheme):
    """The attacks of issue 19: every customer's name read, sales' port written, and every port's data
    dropped at once (the master's /col/delete), through the store's own ports, bypassing the S3
    gateway and its identities. Plain HTTP is turned away, and TLS without the store's client
    certificate fails at the handshake."""
    _, _, ports = storage
    answer = _answer(f"{scheme}://127.0.0.1:{ports[server]}{path}", method, body)
    # Plain HTTP gets "Client sent an HTTP request to an HTTPS server" (400) or, with a body, a closed connection.
    # Over TLS the server ends the handshake: its "certificate required" alert, or, with a request body
    # already on its way, a bare close (EOF in violation of protocol).
    refused = answer == 400 or "closed connection" in str(answer) if scheme == "http" else str(answer).startswith("TLS handshake refused")
    assert refused, answer
    time.sleep(0.5)  # a collection delete, were it accepted, completes in the background
    assert exists(storage, DATA) and not exists(storage, "ports/sales/orders_v1/data/forged.parquet")


def _protobuf_strings(*fields: str) -> bytes:
    """A protobuf message of string fields 1, 2, ... (all these requests need), without generated code."""
    return b"".join(bytes([(number << 3) | 2, len(value)]) + value.encode() for number, value in enumerate(fields, start=1))


@pytest.mark.parametrize("server, method, request_fields", [
    ("master.port.grpc", "/master_pb.Seaweed/CollectionDelete", ("ports",)),
    ("filer.port.grpc", "/filer_pb.SeaweedFiler/DeleteEntry", (f"/buckets/{PII_PORT}/data", "x.parquet")),
    ("filer.port.grpc", "/filer_pb.SeaweedFiler/LookupDirectoryEntry", (f"/buckets/{PII_PORT}/data", "x.parquet")),
])
def test_the_stores_own_grpc_ports_serve_no_one_without_its_certificate(storage, server, method, request_fields):
    """What `weed shell` does (fs.rm, collection.delete), as a raw gRPC call from any process."""
    _, _, ports = storage
    with grpc.insecure_channel(f"127.0.0.1:{ports[server]}") as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as refused:
            call(_protobuf_strings(*request_fields), timeout=5)
    assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), refused.value
    time.sleep(0.5)
    assert exists(storage, DATA)
