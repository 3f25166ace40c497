"""The user's main journey in a real browser, in the UI `mesh ui` serves (Dagster's `dg dev`): the
global lineage across every domain, materializing a product from the UI with its checks passing,
then finding it in the built catalog, and following a column there from the port that reads it down
to its operational source."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from platform_lib.assets.ports import check_specs
from platform_lib.assets.sources import operational_group
from platform_lib.mesh import load_mesh
from tests.support.browser import GROUP_EDGES_DRAWN_JS, GROUP_EDGES_JS, LOCATIONS_LOADED_JS, browser_page, screenshot
from tests.support.processes import graphql, mesh, webserver

MESH = load_mesh()
PRODUCT = MESH.domain("sales").products[[p.name for p in MESH.domain("sales").products].index("orders")]
PORT = PRODUCT.output_ports[0]


def group_edges() -> set[tuple[str, str]]:
    """Each consumer's group reads its producers' groups, and each domain's group its own operational sources'."""
    return {
        (MESH.producer_port(i).domain, d.name) for d in MESH.domains for p in d.products for i in p.input_ports
    } | {(operational_group(d.name), d.name) for d in MESH.domains if d.operational_sources}


@pytest.fixture(scope="module")
def ui(seeded_env, tmp_path_factory):
    """`mesh ui` on workspace.yaml with a fresh instance that launches runs itself, once every
    location has loaded: the webserver answers before they have, the lineage is drawn after. It
    prints none of the warning `dagster dev` gives now that dg dev supersedes it."""
    dagster_home = tmp_path_factory.mktemp("browser_instance")
    # No first-visit dialog (join the community): it would cover the page a moment after it loads.
    (dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n"
    )
    env = {**seeded_env, "DAGSTER_HOME": str(dagster_home)}
    with webserver(env, mesh_ui=True) as url, browser_page() as page:
        page.goto(url, timeout=120_000)
        page.wait_for_function(LOCATIONS_LOADED_JS, arg=len(MESH.domains) + 1, polling=1000, timeout=300_000)
        yield env, url, page
        output = (Path(env["MESH_HOME"]) / f"webserver-{url.rsplit(':', 1)[1]}.log").read_text()
        assert "SupersessionWarning" not in output and "dg dev" not in output, output[-3000:]


def test_global_lineage_draws_every_group_and_the_edges_between_them(ui):
    env, url, page = ui
    names = [d.name for d in MESH.domains] + [operational_group(d.name) for d in MESH.domains if d.operational_sources] + ["governance"]
    page.goto(f"{url}/asset-groups", timeout=120_000)
    page.wait_for_function("(n) => [...document.querySelectorAll('foreignObject')].filter(e => n.some(x => (e.textContent||'').startsWith(x))).length >= n.length",
                           arg=names, timeout=120_000)
    page.wait_for_function(GROUP_EDGES_DRAWN_JS, arg=[names, len(group_edges())], timeout=60_000)
    drawn = page.evaluate(GROUP_EDGES_JS, names)
    assert sorted(drawn["groups"]) == sorted(names)
    assert {tuple(e) for e in drawn["edges"]} == group_edges()
    screenshot(page, env["MESH_HOME"], "global-lineage.png")


# The port and what it is made from, in its domain's group alone: the UI draws one group's assets
# (and their checks), but collapses two groups (the domain's and its operational sources') to boxes.
SELECTION = quote(f'+key:"{"/".join(PORT.asset_key)}" and group:"{PORT.domain}"', safe="")


@pytest.fixture(scope="module")
def materialized(ui) -> str:
    """The orders port and the two models it is made from, materialized once from the UI, whichever
    test asks first; the run's id."""
    _, url, page = ui
    page.goto(f"{url}/asset-groups~{SELECTION}/", timeout=120_000)
    page.locator("button", has_text="Materialize all").click(timeout=60_000)
    page.get_by_text("Launched run").wait_for(timeout=60_000)
    page.get_by_text("View", exact=True).click()
    page.wait_for_url("**/runs/**", timeout=60_000)
    run_id = page.url.rstrip("/").split("/runs/")[1].split("?")[0]
    page.get_by_text("Success", exact=True).first.wait_for(timeout=300_000)
    return run_id


def test_materialize_a_product_from_the_ui_with_its_checks_passing(ui, materialized):
    env, url, page = ui
    status = graphql(url, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": materialized})
    assert status["runOrError"]["status"] == "SUCCESS"
    checks = len(check_specs(PORT))
    page.goto(f"{url}/asset-groups~{SELECTION}/", timeout=120_000)
    page.get_by_text(f"{checks} / {checks} Passed").wait_for(timeout=60_000)
    screenshot(page, env["MESH_HOME"], "materialized-product.png")


@pytest.fixture(scope="module")
def site(ui, materialized, tmp_path_factory) -> Path:
    """The catalog built once the product has been materialized from the UI: its pages show that run."""
    env, url, _ = ui
    out = tmp_path_factory.mktemp("site")
    mesh("catalog", "build", str(out), "--ui-url", url, env=env)
    return out


def test_the_catalog_finds_the_product_by_name_owner_and_column(ui, site):
    env, url, page = ui
    for product in (p for d in MESH.domains for p in d.products):
        assert (site / "products" / f"{product.domain}.{product.name}.html").exists(), product.id
    page.goto((site / "index.html").as_uri())
    drawn = page.locator("svg.lineage g.domain").evaluate_all("gs => gs.map(g => g.dataset.domain)")
    assert sorted(drawn) == sorted(d.name for d in MESH.domains)
    assert page.locator("svg.lineage path.edge").count() == len({
        (MESH.producer_port(i).asset_key, o.asset_key) for d in MESH.domains for p in d.products for i in p.input_ports for o in p.output_ports
    })
    cards = page.locator(".card:not([hidden])")
    assert "order_priority" in [c.name for c in PORT.contract.columns]
    for text in (PRODUCT.name, PRODUCT.owner, "order_priority"):
        page.fill("#search", text)
        shown = cards.locator("b").all_inner_texts()
        assert PRODUCT.name in shown, (text, shown)
        assert len(shown) < sum(len(d.products) for d in MESH.domains), (text, shown)
    page.fill("#search", PRODUCT.name)
    cards.locator("a", has_text=PRODUCT.name).first.click()
    page.wait_for_url(f"**/products/sales.{PRODUCT.name}.html")
    # The checks run from the UI are the product page's quality history: one passed execution of each
    # (a mark of the history, titled with its time), none failed.
    assert page.locator("span.SUCCEEDED[title]").count() == len(check_specs(PORT))
    assert page.locator("span.FAILED").count() == 0
    assert page.locator("a.dagster").first.get_attribute("href") == f"{url}/assets/{'/'.join(PORT.asset_key)}"
    screenshot(page, env["MESH_HOME"], "catalog-product.png")
    page.goto((site / "index.html").as_uri())
    page.locator("svg.lineage").scroll_into_view_if_needed()
    screenshot(page, env["MESH_HOME"], "catalog-mesh.png")


def test_the_catalog_shows_where_a_column_comes_from_and_who_reads_it(ui, site):
    """From a column of sales to the finance column that reads it, and from there down, domain by
    domain, to the operational source it was taken from."""
    env, _, page = ui
    page.goto((site / "products" / "sales.line_items.html").as_uri())
    discount = page.locator('tr[id="sales.line_items_v1.discount"]')
    discount.get_by_role("link", name="finance/revenue_by_nation_v1.revenue", exact=True).click()
    page.wait_for_url("**/products/finance.revenue_by_nation.html#finance.revenue_by_nation_v1.revenue")
    section = page.locator("table.column-lineage")
    assert section.locator("th").all_inner_texts() == ["column", "comes from, domain by domain down to the operational source", "read by"]
    revenue = section.locator('tr[id="finance.revenue_by_nation_v1.revenue"]')
    assert revenue.locator("td").nth(1).locator(".step").all_inner_texts() == [
        "sales/line_items_v1.discount aggregated", "↳ sales/operational/lineitem.l_discount copied",
        "sales/line_items_v1.extended_price aggregated", "↳ sales/operational/lineitem.l_extendedprice copied",
    ]
    page.locator("h2", has_text="Output port revenue_by_nation v1").evaluate("heading => heading.scrollIntoView()")
    screenshot(page, env["MESH_HOME"], "catalog-column-lineage.png")
