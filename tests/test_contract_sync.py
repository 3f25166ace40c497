"""`mesh contract sync`: a draft contract's columns follow what its dbt model makes, typed by DuckDB,
so a team edits SQL and descriptions and never types a column list or a physical type."""

from __future__ import annotations

import pytest
import yaml

from platform_lib.dbt.files import MODEL_CONTRACTS
from tests.conftest import mesh_env
from tests.support.mesh_copy import edit, line_of, mesh_copy
from tests.support.processes import mesh

UPSTREAM = ["--from-port", "urn:mesh:contract:sales:orders", "--from-port", "urn:mesh:contract:customers:customer_profiles"]


@pytest.fixture
def loyalty(tmp_path):
    """A copy of the mesh with a domain and a draft product, as `mesh new` scaffolds them."""
    root = mesh_copy(tmp_path)
    env = {**mesh_env(tmp_path / "home"), "MESH_ROOT": str(root)}
    mesh("new", "domain", "loyalty", env=env)
    mesh("new", "product", "loyalty", "customer_orders", *UPSTREAM, env=env)
    return root, env


def contract_file(root, domain="loyalty", product="customer_orders"):
    return root / "domains" / domain / "products" / product / f"{product}.odcs.yaml"


def test_sync_writes_new_columns_with_their_types_and_keeps_what_was_written(loyalty):
    root, env = loyalty
    contract = contract_file(root)
    edit(contract, "description: Order total in USD.", "description: What the customer paid, in USD.")
    before = yaml.safe_load(contract.read_text())
    model = root / "dbt_projects" / "loyalty" / "models" / "customer_orders.sql"
    edit(model, "    sales_orders.total_price,\n", "    cast(sales_orders.total_price as double) as total_price,\n")
    edit(model, "    sales_orders.clerk,\n", "")
    edit(model, "    customers_customer_profiles.market_segment\n",
         "    customers_customer_profiles.market_segment,\n    count(*) over (partition by sales_orders.customer_key) as customer_order_count\n")

    out = mesh("contract", "sync", str(contract), env=env).stdout
    assert "+ customer_order_count BIGINT" in out and "~ total_price DECIMAL(15,2) -> DOUBLE" in out and "- clerk" in out, out

    after = yaml.safe_load(contract.read_text())
    old = {p["name"]: p for p in before["schema"][0]["properties"]}
    new = {p["name"]: p for p in after["schema"][0]["properties"]}
    assert list(new) == [n for n in old if n != "clerk"] + ["customer_order_count"]
    assert new["customer_order_count"] == {"name": "customer_order_count", "logicalType": "integer", "physicalType": "BIGINT",
                                           "description": "TODO: describe customer_order_count", "classification": "internal"}
    # A changed type is the model's; the rest of the column, its description first, is the team's.
    assert new["total_price"] == {**old["total_price"], "physicalType": "DOUBLE"}
    assert new["total_price"]["description"].startswith("What the customer paid")
    assert all(new[n] == old[n] for n in new if n not in ("total_price", "customer_order_count"))
    # Nothing but the columns changed.
    del before["schema"][0]["properties"], after["schema"][0]["properties"]
    assert after == before

    # The dbt model contract followed, and the model, the contract and dbt agree.
    generated = yaml.safe_load((root / "dbt_projects" / "loyalty" / MODEL_CONTRACTS).read_text())
    (columns,) = [m["columns"] for m in generated["models"] if m["name"] == "customer_orders"]
    assert {"name": "customer_order_count", "data_type": "BIGINT"} in columns
    assert "mesh check: 0 violations" in mesh("check", env=env).stdout


def test_sync_takes_a_contract_id_and_is_a_no_op_when_they_agree(loyalty):
    root, env = loyalty
    text = contract_file(root).read_text()
    out = mesh("contract", "sync", "urn:mesh:contract:loyalty:customer_orders", env=env).stdout
    assert "already what dbt model customer_orders makes" in out, out
    assert contract_file(root).read_text() == text


def test_sync_refuses_a_contract_that_is_not_a_draft_naming_the_file(loyalty):
    root, env = loyalty
    orders = contract_file(root, "sales", "orders")
    text = orders.read_text()
    refused = mesh("contract", "sync", str(orders), env=env, check=False)
    assert refused.returncode == 1
    assert f"{orders}:{line_of(orders, 'status: active')}: status: " in refused.stderr, refused.stderr
    assert "only a draft contract's columns are synced" in refused.stderr
    assert orders.read_text() == text


@pytest.mark.parametrize("target, message", [
    ("urn:mesh:contract:loyalty:nothing", "no port of the mesh publishes contract urn:mesh:contract:loyalty:nothing"),
    ("no/such.odcs.yaml", "no/such.odcs.yaml: no such file"),
    ("workspace.yaml", "is no output port's contract of the mesh"),
])
def test_sync_names_what_it_cannot_find(loyalty, target, message):
    root, env = loyalty
    refused = mesh("contract", "sync", target, env=env, check=False)
    assert refused.returncode == 1 and message in refused.stderr, refused.stderr


def test_sync_names_the_models_error_when_its_sql_does_not_bind(loyalty):
    root, env = loyalty
    edit(root / "dbt_projects" / "loyalty" / "models" / "customer_orders.sql", "    sales_orders.clerk,\n", "    sales_orders.no_such_column,\n")
    refused = mesh("contract", "sync", str(contract_file(root)), env=env, check=False)
    assert refused.returncode == 1
    assert "schema[0].physicalName: dbt model customer_orders does not bind over its inputs as they are promised" in refused.stderr
    assert "no_such_column" in refused.stderr
