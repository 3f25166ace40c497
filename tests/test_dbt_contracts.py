"""The contract and the model agree before anything runs: `mesh prepare` writes each port's contract
into the dbt project as an enforced dbt model contract, so dbt itself refuses to build a model whose
SQL drifted from it, and the port's audit never sees the drift."""

from __future__ import annotations

import json

import yaml

from platform_lib.dbt.files import SOURCES
from tests.conftest import mesh_env
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.processes import mesh
from tests.test_cli_run import block, fresh_home, ports, published


def test_a_model_drifting_from_its_contract_is_refused_by_dbt_at_build(seeded_env, tmp_path):
    root = mesh_copy(tmp_path)
    # The SQL makes total_price a DOUBLE; the contract promises DECIMAL(15,2).
    edit(root / "dbt_projects" / "sales" / "models" / "products" / "orders.sql", "select * from",
         "select * replace (cast(total_price as double) as total_price) from")
    env = fresh_home(seeded_env, tmp_path, root)
    mesh("prepare", env=env)
    result = mesh("run", "--domain", "sales", "--verbose", env=env, check=False)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "This model has an enforced contract that failed" in output, output[-5000:]
    assert "| total_price | DOUBLE          | DECIMAL(15,2) | data type mismatch |" in output, output[-5000:]
    # Refused by dbt: no version of the port was staged, audited or published.
    assert ports(block(result.stderr, "sales"))["orders_v1"][1] == "not run"
    assert "sales/orders_v1" not in published(env)
    assert not list((tmp_path / "home" / "staging").glob("sales/orders_v1/*/data.parquet"))


def test_prepare_rewrites_the_sources_when_an_input_port_is_added(tmp_path):
    root = mesh_copy(tmp_path)
    product = root / "domains" / "marketing" / "products" / "global_sales_opportunity" / "product.odps.yaml"
    edit(product, "inputPorts:\n", "inputPorts:\n- name: supply_suppliers\n  version: 1.0.0\n  contractId: urn:mesh:contract:supply:suppliers\n")
    edit(product, "    customers_customer_profiles: mesh_reader\n", "    customers_customer_profiles: mesh_reader\n    supply_suppliers: mesh_reader\n")
    env = {**mesh_env(tmp_path / "home"), "MESH_ROOT": str(root)}
    mesh("prepare", env=env)
    sources = yaml.safe_load((root / "dbt_projects" / "marketing" / SOURCES).read_text())
    assert {t["identifier"] for s in sources["sources"] for t in s["tables"]} == {
        "sales__orders_v1", "customers__customer_profiles_v1", "supply__suppliers_v1"}
    manifest = json.loads((root / "dbt_projects" / "marketing" / "target" / "manifest.json").read_text())
    assert "source.marketing.supply.suppliers" in manifest["sources"]

