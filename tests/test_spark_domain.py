"""A domain on Spark (issue 20): a mesh copy where sales runs on a Spark standalone cluster and every
other domain on DuckDB. The same descriptors, contracts and SQL; the same ports, audit, masking and
publication; the master's own status shows the run's application with an executor on each worker.
The cluster (a master and two workers, each its own JVM) is started and stopped as the deployment's
other servers are (deploy.spark_cluster)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from platform_lib.deploy.processes import Supervisor
from platform_lib.deploy.spark_cluster import services, start
from platform_lib.mesh import load_mesh
from tests.conftest import TEST_SCALE_FACTOR
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.ports import current, read_port
from tests.support.processes import mesh
from tests.support.spark import watched
from tests.support.tpch import TPCH_PRODUCTS, differences
from tests.test_cli_run import block, fresh_home, ports, published

RUN = re.compile(r"\] sales +\w+ .* run ([0-9a-f-]{36})")


def on_spark(tmp: Path) -> Path:
    """A mesh copy whose sales domain names Spark as its engine: one line of domain.yaml."""
    root = mesh_copy(tmp)
    edit(root / "domains" / "sales" / "domain.yaml", "name: sales\n", "name: sales\nengine: spark\n")
    return root


def spark_env(seeded_env, tmp: Path, root: Path, spark) -> dict:
    return {**fresh_home(seeded_env, tmp, root), "MESH_SPARK_MASTER": spark.master_url}


@pytest.fixture(scope="module")
def spark_mesh(seeded_env, spark, tmp_path_factory):
    """The whole mesh run once, sales on the cluster: the environment, `mesh run`'s result, and
    what the master said while it ran."""
    tmp = tmp_path_factory.mktemp("spark_mesh")
    env = spark_env(seeded_env, tmp, on_spark(tmp), spark)
    with watched(spark) as seen:
        result = mesh("run", env=env, check=False)
    return env, result, seen


def test_sales_runs_as_a_spark_application_with_an_executor_on_each_worker(spark_mesh):
    env, result, seen = spark_mesh
    assert result.returncode == 0, result.stderr[-5000:]
    (run_id,) = RUN.findall(result.stderr)
    name = f"mesh-sales-{run_id}"
    running = [s for s in seen if any(a["name"] == name for a in s["activeapps"])]
    assert running, f"the master never listed {name} as active: {[a['name'] for s in seen for a in s['activeapps']]}"
    # One executor on each of the two one-core workers, while the application ran.
    assert any([w["coresused"] for w in s["workers"]] == [1, 1] for s in running), [s["workers"] for s in running]
    assert any(a["name"] == name and a["state"] == "FINISHED" for a in seen[-1]["completedapps"])
    # The models are Spark's tables, in the domain's own Spark warehouse; DuckDB's file holds none of them.
    tables = Path(env["MESH_HOME"]) / "warehouse" / "sales.spark" / "sales.db"
    assert sorted(p.name for p in tables.iterdir()) == ["line_items", "orders", "pricing_summary"]
    with duckdb.connect(str(Path(env["MESH_HOME"]) / "warehouse" / "sales.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_views() where not internal and schema_name = 'main'").fetchone() == (0,)


def test_every_tpch_product_equals_the_official_answers(spark_mesh):
    env, result, _ = spark_mesh
    assert result.returncode == 0, result.stderr[-5000:]
    assert published(env) == {"/".join(port.asset_key) for domain in load_mesh().domains for port in domain.output_ports}
    for (domain, product), query in TPCH_PRODUCTS.items():
        assert differences(read_port(env, (domain, f"{product}_v1")), query, TEST_SCALE_FACTOR) == [], f"{domain}.{product} (Q{query})"


def test_a_key_hashed_on_spark_joins_the_same_key_hashed_on_duckdb(seeded_env, spark, tmp_path):
    """Customer keys hashed in sales' orders (Spark) and in customers' profiles (DuckDB): marketing
    (DuckDB) joins them and still answers TPC-H Q13 exactly, and the keys match one for one."""
    root = on_spark(tmp_path)
    for contract in (root / "domains" / "sales" / "products" / "orders" / "orders.odcs.yaml",
                     root / "domains" / "customers" / "products" / "customer_profiles" / "customer_profiles.odcs.yaml"):
        edit(contract, "  - name: customer_key\n    logicalType: integer\n    physicalType: BIGINT\n",
             "  - name: customer_key\n    logicalType: string\n    physicalType: VARCHAR\n"
             "    customProperties:\n    - property: masking\n      value: hash\n")
    env = spark_env(seeded_env, tmp_path, root, spark)
    mesh("run", "--domain", "sales", "--domain", "customers", "--domain", "marketing", env=env)
    orders = read_port(env, ("sales", "orders_v1")).column("customer_key").to_pylist()
    customers = set(read_port(env, ("customers", "customer_profiles_v1")).column("customer_key").to_pylist())
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in orders[:100]), orders[:3]
    assert set(orders) <= customers and len(set(orders)) > 100
    assert differences(read_port(env, ("marketing", "customer_order_distribution_v1")), 13, TEST_SCALE_FACTOR) == []


def test_a_model_drifting_from_its_contract_is_refused_by_dbt_on_spark(spark_mesh, tmp_path):
    """As on DuckDB (test_dbt_contracts): dbt's enforced model contract, in Spark's types, stops the
    build; the port keeps its last good version."""
    env, _, _ = spark_mesh
    root = Path(env["MESH_ROOT"])
    before = current(env, ("sales", "pricing_summary_v1")).snapshot_id
    edit(root / "dbt_projects" / "sales" / "models" / "products" / "pricing_summary.sql", "count(*) as count_order",
         "cast(count(*) as string) as count_order")
    try:
        result = mesh("run", "--product", "urn:mesh:product:sales:pricing_summary", "--verbose", env=env, check=False)
    finally:
        edit(root / "dbt_projects" / "sales" / "models" / "products" / "pricing_summary.sql", "cast(count(*) as string) as count_order",
             "count(*) as count_order")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "This model has an enforced contract that failed" in output, output[-5000:]
    assert re.search(r"\| count_order +\| string +\| bigint +\| data type mismatch \|", output), output[-5000:]
    assert ports(block(result.stderr, "sales"))["pricing_summary_v1"][1] == "not run"
    assert current(env, ("sales", "pricing_summary_v1")).snapshot_id == before


def test_starting_the_cluster_again_finds_it_running(spark):
    """`mesh up` again starts only what is not running: spark-class execs java, and the running JVM
    is still known as the service it started (else the second start fails on its own port)."""
    supervisor = Supervisor(spark.folder)
    before = {service.name: supervisor.pid_of(service) for service in services(spark)}
    assert None not in before.values(), before
    start(spark, supervisor)
    assert {service.name: supervisor.pid_of(service) for service in services(spark)} == before
