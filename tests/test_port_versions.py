"""Port versions as Iceberg snapshots: a consumer run reads one pinned snapshot whatever a producer
publishes meanwhile, two runs racing to publish one port leave exactly one new version and tell the
loser, a tampered data file stops a consumer before it reads it, and retention expires snapshots."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import duckdb
import pytest

from platform_lib.mesh import load_mesh
from platform_lib.ports.binding import Binding, UnboundSource, bind_sources
from platform_lib.ports.catalog import PortCatalog
from platform_lib.ports.data_versions import held_version
from platform_lib.ports.integrity import CorruptPort
from platform_lib.ports.storage import PortStorage
from platform_lib.ports.warehouse import Warehouse
from platform_lib.settings import duckdb_memory_limit, warehouse_path
from tests.conftest import mesh_env
from tests.support import ports
from tests.support.processes import REPO, mesh

ORDERS = ("sales", "orders_v1")
FINANCE = load_mesh().domain("finance")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The producers finance reads, published once at SF 0.01."""
    env = mesh_env(tmp_path_factory.mktemp("port_versions"))
    mesh("seed", "--sf", "0.01", env=env)
    mesh("run", "--domain", "sales", "--domain", "customers", "--domain", "supply", env=env)
    return env


def bind_finance(env) -> Binding:
    """finance's sources bound as its run binds them, by this process as a process of the mesh at
    `env` (its settings come from the environment)."""
    with mock.patch.dict(os.environ, {"MESH_HOME": env["MESH_HOME"]}):
        storage = PortStorage.from_settings()
        return bind_sources(FINANCE, _manifest(), PortCatalog(storage), Warehouse(warehouse_path("finance"), duckdb_memory_limit(), storage))


def finance_reads(env, view: str) -> int:
    with duckdb.connect(str(Path(env["MESH_HOME"]) / "warehouse" / "finance.duckdb")) as con:
        return con.execute(f"select count(*) from ports.{view}").fetchone()[0]


# Publishes a version of sales/orders_v1 with the first ROWS orders, through the platform's own
# write-audit-publish; with a READY file and a GO file it waits after its audit for the other racer.
PUBLISHER = textwrap.dedent("""
    import sys, time, uuid
    from pathlib import Path
    from platform_lib.mesh import load_mesh
    from platform_lib.ports.catalog import PortCatalog, PublishConflict
    from platform_lib.ports.masking import masking_key
    from platform_lib.ports.publish import Export, begin, publish, stage
    from platform_lib.ports.warehouse import Warehouse
    from platform_lib.quality.audit import audit
    from platform_lib.settings import duckdb_memory_limit, masking_key_file, warehouse_path

    rows, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    sales = load_mesh().domain("sales")
    product = next(p for p in sales.products if p.name == "orders")
    (port,) = product.output_ports
    run_id = uuid.uuid4().hex
    catalog = PortCatalog()
    warehouse = Warehouse(warehouse_path("sales"), duckdb_memory_limit(), catalog.storage)
    staged = stage(port, Export(f"(select * from main.orders order by order_key limit {rows})"), run_id, warehouse, masking_key(masking_key_file()))
    table = begin(port, staged, catalog)
    outcomes = audit(staged, port.contract)
    assert all(o.passed for o in outcomes), outcomes
    Path(ready).write_text(run_id)
    while not Path(go).exists():
        time.sleep(0.01)
    try:
        version = publish(port, product, table, staged, run_id, [o.to_dict() for o in outcomes], catalog)
        print("published", version.snapshot_id, run_id)
    except PublishConflict as exc:
        print("refused", exc)
""")


def publisher(env, rows: int, ready: Path, go: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PUBLISHER, str(rows), str(ready), str(go)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def publish_orders(env, rows: int, tmp_path: Path) -> str:
    go = tmp_path / f"go-{rows}"
    go.touch()
    out, err = publisher(env, rows, tmp_path / f"ready-{rows}", go).communicate(timeout=300)
    assert out.startswith("published"), err[-3000:]
    return out


def test_a_consumer_reads_its_pinned_snapshot_while_the_producer_publishes(env, tmp_path):
    before = ports.current(env, ORDERS)
    bound = bind_finance(env)
    assert bound["sales/orders_v1"] == f"snapshot {before.snapshot_id}"
    publish_orders(env, 100, tmp_path)
    assert ports.current(env, ORDERS).facts["row-count"] == 100
    # The run that bound before the publication still reads the whole version it pinned.
    assert finance_reads(env, "sales__orders_v1") == before.facts["row-count"] == 15000
    bind_finance(env)
    assert finance_reads(env, "sales__orders_v1") == 100
    mesh("run", "--domain", "sales", env=env)  # the whole orders again, for the tests after this one


def test_two_runs_publishing_one_port_at_once_leave_one_new_version(env, tmp_path):
    before = ports.current(env, ORDERS)
    go = tmp_path / "go"
    racers = {rows: publisher(env, rows, tmp_path / f"ready-{rows}", go) for rows in (200, 300)}
    for rows, proc in racers.items():
        while not (tmp_path / f"ready-{rows}").exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
    # Both audited, both hold the same base snapshot: now both commit.
    go.touch()
    results = {rows: proc.communicate(timeout=300)[0] for rows, proc in racers.items()}
    outcomes = sorted(out.split()[0] for out in results.values())
    assert outcomes == ["published", "refused"], results
    (winner,) = [rows for rows, out in results.items() if out.startswith("published")]
    (loser,) = [out for out in results.values() if out.startswith("refused")]
    winning_run = results[winner].split()[2]
    assert f"port sales.orders_v1: run {winning_run} published snapshot" in loser and "this version was not published" in loser
    with ports.port_catalog(env) as catalog:
        versions = catalog.versions(ORDERS)
        new = [v for v in versions if v.published_at > before.published_at]
        assert len(new) == 1 and new[0].facts["row-count"] == winner
        assert catalog.current(ORDERS).snapshot_id == new[0].snapshot_id
        # The loser's file was never committed, and removed.
        data = Path(catalog.table(ORDERS).location().removeprefix("file://")) / "data"
        referenced = {Path(f.removeprefix("file://")).name for v in versions for f in catalog.data_files(catalog.table(ORDERS), v.snapshot_id)}
        assert {p.name for p in data.glob("*.parquet")} == referenced
    assert ports.read_port(env, ORDERS).num_rows == winner
    mesh("run", "--domain", "sales", env=env)


@pytest.fixture
def orders_file(env):
    """The data file of the current orders version, restored after the test tampers with it."""
    with ports.port_catalog(env) as catalog:
        current = catalog.current(ORDERS)
        (uri,) = catalog.data_files(catalog.table(ORDERS), current.snapshot_id)
    path = Path(uri.removeprefix("file://"))
    good = path.read_bytes()
    yield path, current.snapshot_id
    path.write_bytes(good)


def test_a_truncated_data_file_stops_the_consumer_naming_port_and_snapshot(env, orders_file):
    path, snapshot = orders_file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptPort) as refused:
        bind_finance(env)
    assert str(refused.value).startswith(f"port sales.orders_v1 snapshot {snapshot}: data file {path.as_uri()} is ")
    assert "truncated or replaced after publication" in str(refused.value)
    result = mesh("run", "--domain", "finance", env=env, check=False)
    assert result.returncode == 1
    assert f"input binding refused, dbt did not run: port sales.orders_v1 snapshot {snapshot}" in result.stderr


def rewrite_to_size(path: Path, select: str) -> None:
    """`path` replaced by `select` (of its own rows) in a file of exactly its size: the rewrite is made
    smaller (zstd's top level), then a key-value entry of its footer takes up the difference."""
    size, new, pad = path.stat().st_size, path.with_suffix(".new"), 0
    with duckdb.connect() as con:
        for _ in range(3):  # the entry's length is a varint: a second write settles it
            con.execute(f"copy ({select.format(src=f'read_parquet({str(path)!r})')}) to '{new}' "
                        f"(format parquet, compression zstd, compression_level 22, kv_metadata {{pad: '{'x' * pad}'}})")
            if new.stat().st_size == size:
                break
            pad += size - new.stat().st_size
    assert new.stat().st_size == size, f"could not write {size} bytes (pad {pad})"
    new.replace(path)


def test_a_replaced_data_file_of_the_same_size_is_detected(env, orders_file):
    path, snapshot = orders_file
    # Same rows, same size, one price changed: only the recorded statistics tell (the size check,
    # which comes first, must not be what refuses it).
    rewrite_to_size(path, "select * replace (cast(case when order_key = 1 then total_price + 1000000 else total_price end "
                          "as decimal(15, 2)) as total_price) from {src}")
    expected = f"port sales.orders_v1 snapshot {snapshot}: data file {path.as_uri()} differs from what the catalog recorded (upper_bounds)"
    with pytest.raises(CorruptPort, match=f"^{re.escape(expected)}: replaced after publication"):
        bind_finance(env)


# One order's price set between the lowest and the highest: same rows, null counts and bounds.
FORGED_PRICE = ("select * replace (cast(case when order_key = 1 then (select (min(total_price) + max(total_price)) / 2 from {src}) "
                "else total_price end as decimal(15, 2)) as total_price) from {src}")


def test_a_forged_data_file_of_the_same_size_and_statistics_is_refused(env, orders_file):
    path, snapshot = orders_file
    rewrite_to_size(path, FORGED_PRICE)
    where = f"port sales.orders_v1 snapshot {snapshot}: data file {path.as_uri()}"
    with pytest.raises(CorruptPort, match=f"^{re.escape(where)} differs from what the catalog recorded \\(content: SHA-256 [0-9a-f]{{64}}, "
                                          "published [0-9a-f]{64}\\): replaced after publication"):
        bind_finance(env)


def test_retention_expires_old_snapshots_and_their_files(env):
    key = ("sales", "pricing_summary_v1")
    (port,) = [p for p in load_mesh().domain("sales").output_ports if p.asset_key == key]
    assert port.contract.sla_duration("retention") < timedelta(days=400)
    with ports.port_catalog(env) as catalog:
        current = catalog.current(key)
        (current_file,) = catalog.data_files(catalog.table(key), current.snapshot_id)
        # A version published as if 400 days ago (a copy of the current file, committed as the platform does).
        aged_file = current_file.replace(".parquet", "-aged.parquet")
        Path(aged_file.removeprefix("file://")).write_bytes(Path(current_file.removeprefix("file://")).read_bytes())
        aged_at = (datetime.now(UTC) - timedelta(days=400)).isoformat()
        aged = catalog.commit(catalog.table(key), aged_file, {"run-id": "aged", "published-at": aged_at, "checks": "[]"}, {})
    # The next publication makes it past, and past the retention window.
    mesh("run", "--domain", "sales", env=env)
    with ports.port_catalog(env) as catalog:
        remaining = {v.snapshot_id for v in catalog.versions(key)}
        assert aged.snapshot_id not in remaining and current.snapshot_id in remaining
        assert catalog.current(key).snapshot_id in remaining
    assert not Path(aged_file.removeprefix("file://")).exists(), "the expired snapshot's data file is deleted"
    assert Path(current_file.removeprefix("file://")).exists(), "a retained snapshot's data file is kept"


def _manifest():
    from platform_lib.dbt.manifest import load_manifest

    return load_manifest(FINANCE)


def move_back(env, key: tuple[str, str]) -> None:
    """The attack of issue 19: the catalog's row pointed at the table's previous metadata file, one
    SQL UPDATE by anyone who can write the catalog's database."""
    with sqlite3.connect(Path(env["MESH_HOME"]) / "ports" / "catalog.db") as con:
        changed = con.execute("update iceberg_tables set metadata_location = previous_metadata_location "
                              "where table_namespace = ? and table_name = ?", key).rowcount
    assert changed == 1


def test_a_consumer_refuses_history_moved_back_and_accepts_a_recorded_rollback(env, tmp_path):
    full = ports.current(env, ORDERS)
    publish_orders(env, 100, tmp_path)
    bound = ports.current(env, ORDERS)
    assert bind_finance(env)["sales/orders_v1"] == f"snapshot {bound.snapshot_id}"
    move_back(env, ORDERS)
    with pytest.raises(UnboundSource, match=f"^port sales.orders_v1: domain finance last bound snapshot {bound.snapshot_id} .*the catalog now offers "
                                            f"snapshot {full.snapshot_id} .*which does not descend from it"):
        bind_finance(env)
    assert re.search(r"^WARNING sales.orders_v1: the catalog points at \S+, older than \S+ in the table's folder", mesh("ports", env=env).stdout, re.M)
    refused = mesh("ports", "rollback", "sales.orders_v1", "--to", str(full.snapshot_id), "--reason", "x", env=env, check=False)
    assert refused.returncode == 1 and "moved back without a publication" in refused.stderr
    # The producer's next publication starts from its newest metadata again: consumers follow it.
    publish_orders(env, 200, tmp_path)
    assert "WARNING" not in mesh("ports", env=env).stdout
    bind_finance(env)
    assert finance_reads(env, "sales__orders_v1") == 200
    # A deliberate rollback to the full version is a new version that says why; consumers accept it.
    mesh("ports", "rollback", "sales.orders_v1", "--to", str(full.snapshot_id), "--reason", "the partial loads were a mistake", env=env)
    with ports.port_catalog(env) as catalog:
        table = catalog.table(ORDERS)
    summary = table.current_snapshot().summary
    assert summary["mesh.rollback-reason"] == "the partial loads were a mistake" and summary["mesh.run-id"] == full.facts["run-id"]
    # It holds the data version of the content it restores, not of the content it replaced (issue 23).
    assert held_version(table) == table.snapshot_by_id(full.snapshot_id).summary["mesh.data-version"]
    bind_finance(env)
    assert finance_reads(env, "sales__orders_v1") == full.facts["row-count"] == 15000
