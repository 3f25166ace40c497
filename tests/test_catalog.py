"""`mesh catalog` in the terminal: list, search by name, owner and column, show by product or
contract URN, and the JSON the site is built from; the site itself shows what teams wrote as text
and names each port once in its lineage."""

from __future__ import annotations

import json
import re

import pytest

from platform_lib.catalog.graph import layout
from platform_lib.mesh import load_mesh
from platform_lib.mesh.lineage import lineage, mermaid
from tests.conftest import mesh_env
from tests.support.mesh_copy import edit, mesh_copy
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


def test_the_site_escapes_what_a_domain_team_wrote(tmp_path):
    """Descriptions come from every team's repository: markup in them is shown, never run."""
    root = mesh_copy(tmp_path)
    script = "<script>alert(1)</script>"
    orders = root / "domains/sales/products/orders"
    edit(orders / "product.odps.yaml", "purpose: Every customer order", f"purpose: Every {script} customer order")
    edit(orders / "orders.odcs.yaml", "description: Clerk", f"description: Clerk {script}")
    catalog({**mesh_env(tmp_path / "home"), "MESH_ROOT": str(root)}, "build", str(tmp_path / "site"))
    for page in ("index.html", "products/sales.orders.html"):
        html = (tmp_path / "site" / page).read_text()
        assert script not in html and "<script>alert" not in html, page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, page
    assert "Clerk &lt;script&gt;" in (tmp_path / "site/products/sales.orders.html").read_text()


def test_the_lineage_names_each_port_of_a_domain_once(seeded_env, tmp_path):
    catalog(seeded_env, "build", str(tmp_path))
    page = (tmp_path / "index.html").read_text()
    drawn = {domain: re.findall(r'<text class="port"[^>]*>([^<]*)</text>', box)
             for domain, box in re.findall(r'<g class="domain" data-domain="([^"]+)">(.*?)</g>', page)}
    assert {domain: sorted(labels) for domain, labels in drawn.items()} == {
        d.name: sorted(f"{p.name} v{p.contract.major}" + (" (deprecated)" if p.contract.status == "deprecated" else "") for p in d.output_ports)
        for d in MESH.domains
    }
    assert all(len(set(labels)) == len(labels) for labels in drawn.values())


@pytest.mark.unit
def test_the_site_and_the_readme_draw_the_same_edges():
    """One lineage, two pictures: the site's curves are the Mermaid flowchart's arrows."""
    curves = [(edge.source, edge.target) for edge in layout(lineage(MESH)).edges]
    arrows = [line.strip().split(" --> ") for line in mermaid(MESH).splitlines() if " --> " in line]
    assert len(set(curves)) == len(curves) == len(arrows) > 0
    assert {(a.replace("__", "/"), b.replace("__", "/")) for a, b in arrows} == set(curves)
