"""Self-serve: a domain and a product made only with `mesh new` load, pass `mesh check`,
materialize, and draw their cross-domain edges in the UI, with no edit to platform_lib."""

from __future__ import annotations

import json

import pytest
import yaml

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
    assert "mesh check: 0 violations" in mesh("check", env=env).stdout
    locations = [e["python_file"]["location_name"] for e in yaml.safe_load((root / "workspace.yaml").read_text())["load_from"] if "python_file" in e]
    assert locations[-1] == "loyalty"

    mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=env)
    mesh("run", "--domain", "sales", "--domain", "customers", "--domain", "loyalty", env=env)
    published = {p["table"]: p for p in json.loads(mesh("ports", "--json", env=env).stdout)}
    assert published["loyalty.customer_orders_v1"]["row_count"] > 0

    with webserver(env, root=root) as url:
        node = graphql(url, """{ assetNodeOrError(assetKey: {path: ["loyalty", "customer_orders"]}) {
            ... on AssetNode { dependencyKeys { path } repository { location { name } } } } }""")["assetNodeOrError"]
    assert node["repository"]["location"]["name"] == "loyalty"
    assert {"/".join(k["path"]) for k in node["dependencyKeys"]} == {"sales/orders_v1", "customers/customer_profiles_v1"}
