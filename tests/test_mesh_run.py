"""A full mesh run on a fresh MESH_HOME: every port published, TPC-H products equal the official answers."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from platform_lib.lineage.classification import CHECK as CLASSIFICATION_CHECK
from platform_lib.mesh import load_mesh
from platform_lib.quality.rules import SCHEMA_CHECK, contract_rules
from tests.conftest import TEST_SCALE_FACTOR
from tests.support.ports import port_catalog, read_port
from tests.support.processes import mesh
from tests.support.tpch import TPCH_PRODUCTS, differences

MESH = load_mesh()
PORTS = {"/".join(p.asset_key): p for d in MESH.domains for p in d.output_ports}


def ports_json(env) -> list[dict]:
    return json.loads(mesh("ports", "--json", env=env).stdout)


def test_every_port_is_published_and_listed(mesh_run):
    listed = ports_json(mesh_run)
    assert sorted(p["asset_key"] for p in listed) == sorted(PORTS)
    with port_catalog(mesh_run) as catalog:
        for port in listed:
            key = tuple(port["asset_key"].split("/"))
            assert port["table"] == ".".join(key) and port["snapshots"][-1]["snapshot_id"] == port["snapshot_id"]
            (path,) = catalog.data_files(catalog.table(key), port["snapshot_id"])
            assert Path(path.removeprefix("file://")).is_relative_to(Path(mesh_run["MESH_HOME"]) / "ports" / "warehouse" / key[0] / key[1] / "data")
            assert pq.read_metadata(path.removeprefix("file://")).num_rows == port["row_count"] > 0
            # Every check of the port's contract ran on the published version, and passed.
            checks = catalog.current(key).facts["checks"]
            rules = [SCHEMA_CHECK, CLASSIFICATION_CHECK, *(r.name for r in contract_rules(PORTS[port["asset_key"]].contract))]
            assert sorted(c["name"] for c in checks) == sorted(rules) and all(c["passed"] for c in checks), port["table"]


def test_tpch_products_equal_the_official_answers(mesh_run):
    for (domain, product), query in TPCH_PRODUCTS.items():
        published = read_port(mesh_run, (domain, f"{product}_v1"))
        assert differences(published, query, TEST_SCALE_FACTOR) == [], f"{domain}.{product} (Q{query})"


def test_runs_are_recorded_in_the_instance(mesh_run):
    home = Path(mesh_run["MESH_HOME"]) / "dagster"
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
        assert sorted(r.job_name for r in runs) == sorted([*(f"{d.name}_products" for d in MESH.domains), "governance_job"])


def test_consumers_read_ports_not_sources(mesh_run):
    """A consumer-aligned domain's warehouse holds only bound ports, never a producer's operational tables."""
    import duckdb

    consumers = [domain for domain in MESH.domains if not domain.operational_sources]
    assert consumers, "the mesh has consumer-aligned domains"
    for domain in consumers:
        with duckdb.connect(str(Path(mesh_run["MESH_HOME"]) / "warehouse" / f"{domain.name}.duckdb"), read_only=True) as con:
            views = con.execute("select schema_name, view_name, sql from duckdb_views() where not internal").fetchall()
        bound = [sql for schema, _, sql in views if schema == "ports"]
        # The domain's models are views too (products are exported from them), over the bound ports.
        assert bound and all("/ports/warehouse/" in sql for sql in bound)
        assert not [name for _, name, sql in views if "/sources/" in sql]


def test_ports_text_listing(mesh_run):
    text = mesh("ports", env=mesh_run).stdout
    assert len(text.strip().splitlines()) == 1 + sum(len(d.output_ports) for d in MESH.domains)


def test_mesh_check_compares_contracts_with_the_models_sql(mesh_run, tmp_path):
    from tests.support.mesh_copy import edit, line_of, mesh_copy

    assert mesh("check", env=mesh_run).returncode == 0
    root = mesh_copy(tmp_path)
    contract = root / "domains" / "sales" / "products" / "orders" / "orders.odcs.yaml"
    edit(contract, "    physicalType: DECIMAL(15,2)\n", "    physicalType: DOUBLE\n")
    result = mesh("check", str(root), env=mesh_run, check=False)
    assert result.returncode == 1
    line = line_of(contract, "    physicalType: DOUBLE")
    lines = result.stdout.strip().splitlines()
    assert lines[0] == (
        f"{contract}:{line}: schema[0].properties[3].physicalType: "
        f"dbt model orders makes total_price DECIMAL(15,2) ({root / 'dbt_projects' / 'sales' / 'models' / 'products' / 'orders.sql'}); "
        "the contract says DOUBLE: cast it in the SQL (cast(... as DOUBLE) as total_price), or, if the model is right, write physicalType: DECIMAL(15,2) here"
    )
    # The other line is the repository's one warning, unchanged by the violation: geography v1
    # still read by finance.
    geography_v1 = root / "domains" / "customers" / "products" / "geography" / "geography.v1.odcs.yaml"
    assert lines[1:] == [
        (f"{geography_v1}:{line_of(geography_v1, 'status: deprecated')}: status: [deprecated-consumers warning] geography v1 is deprecated until 2027-03-31; "
         "still read by finance.returned_item_report (input port customers_geography); they should move to v2"),
        "mesh check: 1 violation, 1 warning",
    ]
