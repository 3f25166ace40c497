"""Operational sources are observed, not materialized: each domain's job observes them first, and an
observation reads the landed file's footer only, never its data."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, Failure

from platform_lib.assets.sources import observe, operational_group
from platform_lib.mesh import load_mesh
from platform_lib.runs.mesh_run import load_definitions
from tests.conftest import mesh_env

pytestmark = pytest.mark.unit

MESH = load_mesh()
ORDERS = AssetKey(["sales", "operational", "orders"])


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(tmp_path))
    return tmp_path


def land(home, rows: int):
    path = home / "sources" / "sales" / "orders.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"o_orderkey": list(range(rows))}), path)
    return path


def bytes_read() -> int:
    """What this process has read so far, by any means (Linux)."""
    return int(dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())["rchar"])


def test_an_observation_reads_the_footer_only(home):
    path = land(home, 1_000_000)
    # Everything between the leading magic bytes and the footer overwritten: any read of the data fails.
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    data[4:-footer] = b"\xff" * (len(data) - footer - 4)
    path.write_bytes(data)
    with pytest.raises(OSError):
        pq.read_table(path)
    before = bytes_read()
    observed = observe("sales", ORDERS)
    # pyarrow fetches the file's last 64 KiB, where the footer is (and reading /proc/self/io reads a little).
    assert bytes_read() - before <= 65 * 1024 < len(data) / 50
    assert observed.asset_key == ORDERS and observed.metadata["dagster/row_count"] == 1_000_000


def test_a_rewritten_file_is_a_new_version(home):
    path = land(home, 10)
    first = observe("sales", ORDERS).data_version
    assert observe("sales", ORDERS).data_version == first
    land(home, 11)
    os.utime(path, ns=(1, 1))  # another time, whatever the clock's resolution
    assert observe("sales", ORDERS).data_version != first


def test_a_missing_file_fails_the_observation_naming_it(home):
    with pytest.raises(Failure, match=r"orders\.parquet is missing; run `mesh seed` first"):
        observe("sales", ORDERS)


def test_the_domain_job_observes_its_operational_sources(tmp_path):
    sales = MESH.domain("sales")
    with mock.patch.dict(os.environ, mesh_env(tmp_path), clear=True):
        defs = load_definitions(sales.folder)
    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def("sales_products")
    observed = {key for key in job.asset_layer.executable_asset_keys if graph.get(key).is_observable}
    assert observed == {AssetKey(["sales", "operational", table]) for table in sales.operational_sources}
    assert {graph.get(key).group_name for key in observed} == {operational_group("sales")}
