"""`mesh catalog` in the terminal: list, search by name, owner and column, show by product or
contract URN, and the JSON the site is built from."""

from __future__ import annotations

import json

from platform_lib.mesh import load_mesh
from tests.support.processes import mesh

MESH = load_mesh()


def catalog(env, *args, check=True):
    return mesh("catalog", *args, env=env, check=check)


def test_list_has_every_product(seeded_env):
    listed = json.loads(catalog(seeded_env, "list", "--json").stdout)
    assert [p["id"] for p in listed] == [p.id for d in MESH.domains for p in d.products]


def test_search_by_name_owner_and_column(seeded_env):
    def found(text):
        return {p["id"] for p in json.loads(catalog(seeded_env, "search", text, "--json").stdout)}

    assert found("pricing_summary") == {"urn:mesh:product:sales:pricing_summary"}
    assert found("supply-chain@mesh.example") == {p.id for p in MESH.domain("supply").products}
    assert "urn:mesh:product:customers:customer_profiles" in found("phone_country_code")
    missing = catalog(seeded_env, "search", "no-such-thing", check=False)
    assert missing.returncode == 1 and missing.stdout.strip() == "no product matches"


def test_show_by_contract_urn_names_the_product_and_its_access(seeded_env):
    shown = json.loads(catalog(seeded_env, "show", "urn:mesh:contract:customers:customer_profiles_full", "--json").stdout)
    assert shown["id"] == "urn:mesh:product:customers:customer_profiles"
    full = next(p for p in shown["output_ports"] if p["name"] == "customer_profiles_full")
    assert full["roles"] == {"customer_pii_reader": ["finance"]} and full["freshness"]["status"] in ("never published", "fresh")
    consumers = set(shown["consumers"])
    assert "urn:mesh:product:finance:returned_item_report" in consumers and "urn:mesh:product:marketing:global_sales_opportunity" in consumers
    unknown = catalog(seeded_env, "show", "urn:mesh:product:nope:nope", check=False)
    assert unknown.returncode == 1 and "no product or contract" in unknown.stderr
