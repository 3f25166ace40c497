"""Self-serve: a domain and a product made only with `mesh new` load, pass `mesh check`,
materialize, and draw their cross-domain edges in the UI, with no edit to platform_lib."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from platform_lib.mesh import load_mesh
from tests.conftest import TEST_SCALE_FACTOR, mesh_env
from tests.support.mesh_copy import mesh_copy
from tests.support.processes import graphql, mesh, webserver

UPSTREAM = ["urn:mesh:contract:sales:orders", "urn:mesh:contract:customers:customer_profiles"]


@pytest.fixture
def copy_env(tmp_path):
    root = mesh_copy(tmp_path)
    return root, {**mesh_env(tmp_path / "home"), "MESH_ROOT": str(root)}


def new(env, *args, check=True):
    return mesh("new", *args, env=env, check=check)


def test_names_are_validated_and_nothing_is_overwritten(copy_env):
    root, env = copy_env
    bad = new(env, "domain", "Loyalty-Team", check=False)
    assert bad.returncode == 1 and "'Loyalty-Team' is not a safe name" in bad.stderr
    taken = new(env, "domain", "sales", check=False)
    assert taken.returncode == 1 and "would overwrite" in taken.stderr and "--force" in taken.stderr
    before = (root / "domains" / "sales" / "domain.yaml").read_text()
    clash = new(env, "product", "sales", "orders", "--from-port", UPSTREAM[1], check=False)
    assert clash.returncode == 1 and "would overwrite" in clash.stderr
    assert (root / "domains" / "sales" / "domain.yaml").read_text() == before
    unknown = new(env, "product", "sales", "x", "--from-port", "urn:mesh:contract:sales:nope", check=False)
    assert unknown.returncode == 1 and "no port publishes contract urn:mesh:contract:sales:nope" in unknown.stderr
    restricted = new(env, "product", "sales", "x", "--from-port", "urn:mesh:contract:customers:customer_profiles_full", check=False)
    assert restricted.returncode == 1 and "request one of customer_pii_reader from the customers domain" in restricted.stderr


def test_a_scaffolded_domain_loads_checks_materializes_and_shows_its_edges(copy_env):
    root, env = copy_env
    new(env, "domain", "loyalty", "--team", "loyalty_team", "--email", "loyalty@mesh.example")
    new(env, "product", "loyalty", "customer_orders", *(a for urn in UPSTREAM for a in ("--from-port", urn)))
    # A fan-out join: published only if its contract's key (order, line) holds.
    new(env, "product", "loyalty", "order_lines", "--from-port", UPSTREAM[0], "--from-port", "urn:mesh:contract:sales:line_items")
    assert "mesh check: 0 violations" in mesh("check", env=env).stdout
    locations = [e["python_file"]["location_name"] for e in yaml.safe_load((root / "workspace.yaml").read_text())["load_from"] if "python_file" in e]
    assert locations[-1] == "loyalty"

    mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=env)
    mesh("run", "--domain", "sales", "--domain", "customers", "--domain", "loyalty", env=env)
    published = {p["table"]: p for p in json.loads(mesh("ports", "--json", env=env).stdout)}
    assert published["loyalty.customer_orders_v1"]["row_count"] > 0
    assert published["loyalty.order_lines_v1"]["row_count"] > published["sales.orders_v1"]["row_count"]

    with webserver(env, root=root) as url:
        node = graphql(url, """{ assetNodeOrError(assetKey: {path: ["loyalty", "customer_orders"]}) {
            ... on AssetNode { dependencyKeys { path } repository { location { name } } } } }""")["assetNodeOrError"]
    assert node["repository"]["location"]["name"] == "loyalty"
    assert {"/".join(k["path"]) for k in node["dependencyKeys"]} == {"sales/orders_v1", "customers/customer_profiles_v1"}


def _properties(root, domain, product):
    contract = yaml.safe_load((root / "domains" / domain / "products" / product / f"{product}.odcs.yaml").read_text())
    return {p["name"]: p for p in contract["schema"][0]["properties"]}


def _keys(properties):
    """(column, primaryKeyPosition) of the primary key, and the columns promised unique."""
    key = sorted(((n, p.get("primaryKeyPosition")) for n, p in properties.items() if p.get("primaryKey")), key=lambda k: k[1] or 0)
    return key, sorted(n for n, p in properties.items() if p.get("unique"))


def test_the_contract_keys_follow_the_join(copy_env):
    """Orders joined to their line items fan out: an order is no longer one row, (order, line) is.
    Line items joined to their order do not: the line items' key stays. A port joined through a
    column another joined port brought is joined on that port's column."""
    root, env = copy_env
    orders, line_items = "urn:mesh:contract:sales:orders", "urn:mesh:contract:sales:line_items"
    new(env, "domain", "loyalty")
    new(env, "product", "loyalty", "order_lines", "--from-port", orders, "--from-port", line_items)
    new(env, "product", "loyalty", "line_orders", "--from-port", line_items, "--from-port", orders)
    new(env, "product", "loyalty", "order_nations", "--from-port", orders, "--from-port", UPSTREAM[1], "--from-port", "urn:mesh:contract:customers:geography")

    fanned = _properties(root, "loyalty", "order_lines")
    assert _keys(fanned) == ([("order_key", 1), ("line_number", 2)], [])
    assert fanned["order_key"]["required"] and "required" not in fanned["line_number"]
    assert _keys(_properties(root, "loyalty", "line_orders")) == ([("order_key", 1), ("line_number", 2)], [])
    assert _keys(_properties(root, "loyalty", "order_nations")) == ([("order_key", None)], ["order_key"])

    models = root / "dbt_projects" / "loyalty" / "models"
    assert "as sales_line_items on sales_line_items.order_key = sales_orders.order_key\n" in (models / "order_lines.sql").read_text()
    assert "as customers_geography on customers_geography.nation_key = customers_customer_profiles.nation_key\n" in (models / "order_nations.sql").read_text()


def test_a_mistyped_contract_id_points_at_a_list_of_contract_ids(copy_env):
    root, env = copy_env
    typo = new(env, "product", "sales", "x", "--from-port", "urn:mesh:contract:sales:order", check=False)
    assert typo.returncode == 1 and "did you mean urn:mesh:contract:sales:orders?" in typo.stderr
    (command,) = re.findall(r"`mesh ([^`]+)`", typo.stderr)
    listed = mesh(*command.split(), env=env).stdout
    contracts = {p.contract.id for d in load_mesh(root / "workspace.yaml").domains for p in d.output_ports}
    assert {c for c in contracts if c not in listed} == set()
