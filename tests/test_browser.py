"""The user's main journey in a real browser: the global lineage across every domain, materializing
a product from the UI with its checks passing, then finding it in the built catalog."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from platform_lib.mesh import load_mesh
from platform_lib.quality.rules import contract_rules
from tests.support.browser import GROUP_EDGES_JS, browser_page, dismiss_welcome, screenshot
from tests.support.processes import graphql, mesh, webserver

MESH = load_mesh()
PRODUCT = MESH.domain("sales").products[[p.name for p in MESH.domain("sales").products].index("orders")]
PORT = PRODUCT.output_ports[0]


def domain_edges() -> set[tuple[str, str]]:
    return {
        (MESH.producer_port(p, i).domain, d.name) for d in MESH.domains for p in d.products for i in p.input_ports
    }


@pytest.fixture(scope="module")
def ui(seeded_env, tmp_path_factory):
    """The webserver on workspace.yaml with a fresh instance that launches runs itself (no daemon)."""
    dagster_home = tmp_path_factory.mktemp("browser_instance")
    (dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n"
    )
    env = {**seeded_env, "DAGSTER_HOME": str(dagster_home)}
    with webserver(env) as url, browser_page() as page:
        wait_until_loaded(url)
        yield env, url, page


def wait_until_loaded(url: str, timeout: float = 300) -> None:
    """The webserver answers before its code locations have loaded; the lineage is drawn only after."""
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    deadline = time.monotonic() + timeout
    while True:
        entries = graphql(url, query)["workspaceOrError"]["locationEntries"]
        if len(entries) == len(MESH.domains) + 1 and all(e["loadStatus"] == "LOADED" for e in entries):
            return
        assert time.monotonic() < deadline, f"locations not loaded after {timeout}s: {entries}"
        time.sleep(1)


def test_global_lineage_draws_every_domain_and_cross_domain_edge(ui):
    env, url, page = ui
    names = [d.name for d in MESH.domains] + ["governance"]
    page.goto(f"{url}/asset-groups", timeout=120_000)
    dismiss_welcome(page)
    page.wait_for_function("(n) => [...document.querySelectorAll('foreignObject')].filter(e => n.some(x => (e.textContent||'').startsWith(x))).length >= n.length", arg=names, timeout=120_000)
    page.wait_for_timeout(1000)  # edges are laid out after the nodes
    drawn = page.evaluate(GROUP_EDGES_JS, names)
    assert sorted(drawn["groups"]) == sorted(names)
    assert {tuple(e) for e in drawn["edges"]} == domain_edges()
    screenshot(page, env["MESH_HOME"], "global-lineage.png")


def test_materialize_a_product_from_the_ui_with_its_checks_passing(ui):
    env, url, page = ui
    selection = quote(f'+key:"{"/".join(PORT.asset_key)}"', safe="")
    page.goto(f"{url}/asset-groups~{selection}/", timeout=120_000)
    dismiss_welcome(page)
    page.locator("button", has_text="Materialize all (3)").click(timeout=60_000)
    page.get_by_text("Launched run").wait_for(timeout=60_000)
    page.get_by_text("View", exact=True).click()
    page.wait_for_url("**/runs/**", timeout=60_000)
    run_id = page.url.rstrip("/").split("/runs/")[1].split("?")[0]
    page.get_by_text("Success", exact=True).first.wait_for(timeout=300_000)
    status = graphql(url, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": run_id})
    assert status["runOrError"]["status"] == "SUCCESS"
    checks = 1 + len(contract_rules(PORT.contract))
    page.goto(f"{url}/asset-groups~{selection}/", timeout=120_000)
    page.get_by_text(f"{checks} / {checks} Passed").wait_for(timeout=60_000)
    screenshot(page, env["MESH_HOME"], "materialized-product.png")


def test_the_catalog_finds_the_product_by_name_owner_and_column(ui, tmp_path):
    env, url, page = ui
    mesh("catalog", "build", str(tmp_path / "site"), "--ui-url", url, env=env)
    for product in (p for d in MESH.domains for p in d.products):
        assert (tmp_path / "site" / "products" / f"{product.domain}.{product.name}.html").exists(), product.id
    page.goto((tmp_path / "site" / "index.html").as_uri())
    drawn = page.locator("svg.lineage g.domain").evaluate_all("gs => gs.map(g => g.dataset.domain)")
    assert sorted(drawn) == sorted(d.name for d in MESH.domains)
    assert page.locator("svg.lineage path.edge").count() == len({
        (MESH.producer_port(p, i).asset_key, o.asset_key) for d in MESH.domains for p in d.products for i in p.input_ports for o in p.output_ports
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
    # The checks run from the UI a moment ago are the product page's quality history.
    assert page.locator("span.SUCCEEDED").count() >= 1 + len(contract_rules(PORT.contract))
    assert page.locator("a.dagster").first.get_attribute("href") == f"{url}/assets/{'/'.join(PORT.asset_key)}"
    screenshot(page, env["MESH_HOME"], "catalog-product.png")
    page.goto((tmp_path / "site" / "index.html").as_uri())
    page.locator("svg.lineage").scroll_into_view_if_needed()
    screenshot(page, env["MESH_HOME"], "catalog-mesh.png")
