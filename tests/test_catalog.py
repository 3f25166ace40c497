"""`mesh catalog` in the terminal: list, search by name, owner and column, show by product or
contract URN, and the JSON the site is built from; the site itself shows what teams wrote as text
and names each port once in its lineage; each port column's lineage across domains, known or not."""

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



def port(domain, name, product):
    """A port as the catalog's column lineage names it."""
    return {"domain": domain, "port": name, "operational_source": None, "product": f"urn:mesh:product:{domain}:{product}"}


def port_column(domain, name, product, column, kind):
    return port(domain, name, product) | {"column": column, "kind": kind}


def source_column(domain, table, column, kind):
    """An operational source's column: no product page to link to."""
    return {"domain": domain, "port": None, "operational_source": table, "product": None, "column": column, "kind": kind}


def column_lineage(products: list[dict], product: str, port_key: str) -> dict:
    found = next(p for p in products if p["id"] == f"urn:mesh:product:{product}")
    return next(p for p in found["output_ports"] if p["asset_key"] == port_key)["column_lineage"]


def columns_of(lineage: dict) -> dict[str, dict]:
    return {c["name"]: c for c in lineage["columns"]}


# The finance ports that read sales' line items, each its own product.
FINANCE_PORTS = [port("finance", f"{p}_v1", p) for p in ("returned_item_report", "revenue_by_nation", "shipping_priority")]


def test_each_port_column_comes_from_other_domains_down_to_the_operational_source_and_names_its_readers(seeded_env):
    products = json.loads(catalog(seeded_env, "list", "--json").stdout)
    revenue_by_nation = column_lineage(products, "finance:revenue_by_nation", "finance/revenue_by_nation_v1")
    assert revenue_by_nation["unknown"] is None and revenue_by_nation["unknown_readers"] == []
    assert columns_of(revenue_by_nation)["revenue"] == {"name": "revenue", "read_by": [], "selects_rows_of": [], "comes_from": [
        {"depth": 1, **port_column("sales", "line_items_v1", "line_items", "discount", "aggregated")},
        {"depth": 2, **source_column("sales", "lineitem", "l_discount", "copied")},
        {"depth": 1, **port_column("sales", "line_items_v1", "line_items", "extended_price", "aggregated")},
        {"depth": 2, **source_column("sales", "lineitem", "l_extendedprice", "copied")},
    ]}
    # Q5's rows: of ASIA (the region) in 1994 (the order date).
    assert [r for r in revenue_by_nation["rows"] if r["kind"] == "filtered"] == [
        port_column("customers", "geography_v2", "geography", "region", "filtered"),
        port_column("sales", "orders_v1", "orders", "order_date", "filtered"),
    ]
    line_items = column_lineage(products, "sales:line_items", "sales/line_items_v1")
    finance_revenue = [p | {"column": "revenue", "kind": "aggregated"} for p in FINANCE_PORTS]
    assert columns_of(line_items)["discount"] == {"name": "discount", "read_by": finance_revenue, "selects_rows_of": [],
                                                  "comes_from": [{"depth": 1, **source_column("sales", "lineitem", "l_discount", "copied")}]}
    # An order's date selects the rows of finance's three ports (each keeps the orders of a period).
    orders = column_lineage(products, "sales:orders", "sales/orders_v1")
    assert columns_of(orders)["order_date"]["selects_rows_of"] == [
        p | {"kind": "filtered"} for p in FINANCE_PORTS]
    assert line_items["rows"] == [] and line_items["unknown_readers"] == []


def test_a_domain_without_a_manifest_has_its_column_lineage_unknown_on_its_pages_and_its_producers(tmp_path):
    root = mesh_copy(tmp_path)
    manifest = root / "dbt_projects/finance/target/manifest.json"
    manifest.unlink()
    catalog({**mesh_env(tmp_path / "home"), "MESH_ROOT": str(root)}, "build", str(tmp_path / "site"))
    pages = tmp_path / "site/products"
    products = [json.loads((pages / f"{domain}.{name}.json").read_text())
                for domain, name in (("finance", "revenue_by_nation"), ("sales", "line_items"))]
    revenue_by_nation = column_lineage(products, "finance:revenue_by_nation", "finance/revenue_by_nation_v1")
    assert revenue_by_nation["unknown"].startswith(f"{manifest}: ") and "no dbt manifest" in revenue_by_nation["unknown"]
    assert revenue_by_nation["rows"] == [] and all(c["comes_from"] == [] for c in revenue_by_nation["columns"])
    # Its producers' columns are read by none that is known, and the page says which ports may read them.
    line_items = column_lineage(products, "sales:line_items", "sales/line_items_v1")
    assert columns_of(line_items)["discount"]["read_by"] == []
    assert line_items["unknown_readers"] == FINANCE_PORTS
    assert "Read as well by ports whose column lineage is unknown:" in (pages / "sales.line_items.html").read_text()
    assert '<tr id="finance.revenue_by_nation_v1.revenue"><td><code>revenue</code></td><td>unknown</td>' in (pages / "finance.revenue_by_nation.html").read_text()
