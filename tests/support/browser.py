"""Debian's Chromium driven by Playwright (a tool's own browser download does not work here)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = os.environ.get("MESH_CHROMIUM", "/usr/bin/chromium")

# The edges Dagster draws between collapsed groups, mapped to the groups at their ends. A group's
# box is named by the longest name its text starts with: `sales_operational`'s starts with `sales` too.
GROUP_EDGES_JS = """(names) => {
  const boxes = [...document.querySelectorAll('foreignObject')].map(el => {
    const r = el.getBoundingClientRect();
    const name = names.filter(n => (el.textContent || '').startsWith(n)).sort((a, b) => b.length - a.length)[0];
    return {name, r};
  }).filter(b => b.name);
  const at = (x, y) => boxes.find(b => x >= b.r.left - 12 && x <= b.r.right + 12 && y >= b.r.top && y <= b.r.bottom);
  const edges = [];
  for (const p of document.querySelectorAll('svg path[stroke="var(--color-lineage-edge)"]')) {
    const m = p.getScreenCTM(), len = p.getTotalLength();
    const a = new DOMPoint(p.getPointAtLength(0).x, p.getPointAtLength(0).y).matrixTransform(m);
    const z = new DOMPoint(p.getPointAtLength(len).x, p.getPointAtLength(len).y).matrixTransform(m);
    const from = at(a.x, a.y), to = at(z.x, z.y);
    edges.push([from ? from.name : null, to ? to.name : null]);
  }
  return {groups: boxes.map(b => b.name), edges};
}"""
# True once the lineage has drawn `count` distinct edges between the named groups: edges are laid
# out after the nodes.
GROUP_EDGES_DRAWN_JS = f"""([names, count]) => new Set(({GROUP_EDGES_JS})(names).edges
  .filter(([from, to]) => from && to).map(edge => edge.join(' -> '))).size >= count"""
# True once the webserver has loaded `count` code locations. A synchronous request: wait_for_function
# polls a predicate's value, and would take a pending promise for a true one.
LOCATIONS_LOADED_JS = """(count) => {
  const request = new XMLHttpRequest();
  request.open('POST', '/graphql', false);
  request.setRequestHeader('Content-Type', 'application/json');
  request.send(JSON.stringify({query: '{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }'}));
  if (request.status !== 200) return false;
  const entries = JSON.parse(request.responseText).data.workspaceOrError.locationEntries;
  return entries.length === count && entries.every(entry => entry.loadStatus === 'LOADED');
}"""


@contextmanager
def browser_page(width: int = 1600, height: int = 1000):
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def screenshot(page: Page, home: str, name: str) -> Path:
    """Into $MESH_HOME/screenshots, and into $MESH_SCREENSHOTS (e.g. docs/images) when set."""
    path = Path(home) / "screenshots" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    if os.environ.get("MESH_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["MESH_SCREENSHOTS"]) / name)
    return path
