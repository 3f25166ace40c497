"""`mesh catalog build OUT/`: the catalog as a static site, with the same facts as JSON beside the
pages. No server and no network: pages link to each other and to the Dagster UI, and the search
runs in the browser over an index embedded in the mesh page."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from platform_lib.catalog.facts import search_text
from platform_lib.catalog.graph import lineage_svg

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
header{background:#1d2433;color:#fff;padding:14px 28px}header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:20px 28px;max-width:1200px}h1{margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #d8dce3}
table{border-collapse:collapse;background:#fff;margin:.5em 0}th,td{border:1px solid #d8dce3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4}.tag{display:inline-block;border-radius:4px;padding:0 6px;font-size:.85em;background:#e6e9ef;margin-right:4px}
.pii{background:#fde2e1}.ok,.SUCCEEDED,.fresh{color:#12734a;font-weight:600}.FAILED,.late,.bad{color:#b3261e;font-weight:600}
#search{font-size:1.1em;padding:6px 10px;width:420px}.card{background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:8px 12px;margin:6px 0}
.card[hidden]{display:none}svg.lineage rect{fill:#fff;stroke:#8a93a6}svg.lineage .edge{fill:none;stroke:#5b6b8c;stroke-width:1.4;opacity:.7}
svg.lineage .domain-name{font-weight:700;font-size:14px}svg.lineage .port{font-size:13px;fill:#1d4ed8}
"""

SEARCH = """
const input = document.getElementById('search');
function filter() {
  const terms = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const card of document.querySelectorAll('.card')) {
    const hit = terms.every(t => card.dataset.search.includes(t));
    card.hidden = !hit; shown += hit;
  }
  document.getElementById('count').textContent = shown + ' product' + (shown === 1 ? '' : 's');
}
input.addEventListener('input', filter);
const q = new URLSearchParams(location.search).get('q'); if (q) { input.value = q; } filter();
"""


def page_name(product_id: str) -> str:
    _, _, _, domain, name = product_id.split(":")
    return f"{domain}.{name}"


def _page(title: str, body: str, root: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<style>{STYLE}</style></head><body><header><a href="{root}index.html">Data mesh catalog</a></header>'
            f"<main>{body}</main></body></html>")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><tr>{head}</tr>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</table>"


def _link(product_id: str | None, prefix: str = "") -> str:
    return f'<a href="{prefix}{page_name(product_id)}.html">{escape(product_id)}</a>' if product_id else "(unknown)"


def _port_section(port: dict) -> str:
    columns = _table(
        ["column", "logical", "physical", "classification", "constraints", "description"],
        [[f"<code>{escape(c['name'])}</code>", escape(c["logical_type"]), escape(c["physical_type"]),
          f'<span class="tag {"pii" if c["classification"] == "pii" else ""}">{escape(c["classification"])}</span>'
          + (f'<span class="tag">masked: {escape(c["masking"])}</span>' if c["masking"] else ""),
          " ".join(k for k in ("required", "unique", "primary_key") if c[k]), escape(c["description"])]
         for c in port["columns"]])
    fresh = port["freshness"]
    checks = _table(["check", "latest", "history (newest first)"], [
        [escape(c["name"]), f'<span class="{c["history"][0]["status"] if c["history"] else ""}">{c["history"][0]["status"] if c["history"] else "never run"}</span>',
         " ".join(f'<span class="{h["status"]}" title="{escape(h["at"] or "")}">{"✔" if h["status"] == "SUCCEEDED" else "✘"}</span>' for h in c["history"])]
        for c in port["observed"]["checks"]])
    versions = _table(["snapshot", "contract", "published at", "rows", "checks"], [
        [escape(str(v["snapshot_id"])), escape(str(v["contract_version"])), escape(str(v["published_at"])), str(v["row_count"]),
         '<span class="ok">passed</span>' if v["checks_passed"] else '<span class="bad">failed</span>']
        for v in port["published_versions"]]) if port["published_versions"] else "<p>No version published yet.</p>"
    roles = ", ".join(f"<code>{escape(r)}</code> → {escape(g if isinstance(g, str) else ', '.join(g) or 'no domain')}" for r, g in port["roles"].items())
    sla = ", ".join(f"{escape(k)} {v['value']} {escape(str(v.get('unit', '')))}" for k, v in port["sla"].items())
    eos = f" until {escape(port['end_of_support'])}" if port["end_of_support"] else ""
    return f"""
<h2 id="port-{escape(port['name'])}-v{port['major']}">Output port {escape(port['name'])} v{port['major']}</h2>
<p>{escape(port['description'])}</p>
<p>Contract <code>{escape(port['contract_id'])}</code> version {escape(port['contract_version'])},
status <b>{escape(port['status'])}</b>{eos}. Asset <code>{escape(port['asset_key'])}</code>:
<a class="dagster" href="{escape(port['dagster_url'])}">open in the Dagster UI</a>.</p>
<p>Access: {roles}. SLOs: {sla or 'none'}.</p>
<p>Freshness: <span class="{escape(fresh['status'].split()[0])}">{escape(fresh['status'])}</span>
{('(published ' + escape(fresh['published_at']) + ')') if fresh['published_at'] else ''}</p>
<h3>Schema</h3>{columns}
<h3>Quality: checks run by the producer before each publication</h3>{checks}
<h3>Published versions</h3>{versions}
<p>Materializations recorded: {len(port['observed']['materializations'])} (latest {escape(str((port['observed']['materializations'] or [{'at': None}])[0]['at']))}).</p>
"""


def product_page(product: dict) -> str:
    inputs = _table(["input port", "contract", "major", "role", "producer"], [
        [escape(i["name"]), f"<code>{escape(i['contract_id'])}</code>", str(i["major"]), escape(i["role"] or ""), _link(i["producer"])]
        for i in product["input_ports"]]) if product["input_ports"] else "<p>None: a source-aligned product.</p>"
    consumers = "".join(f"<li>{_link(c)}</li>" for c in product["consumers"]) or "<li>none yet</li>"
    support = ", ".join(escape(s) for s in product["support"]) or "none"
    body = f"""
<h1>{escape(product['name'])}</h1>
<p><code>{escape(product['id'])}</code> · domain <b>{escape(product['domain'])}</b> · version {escape(product['version'])} · status <b>{escape(product['status'])}</b></p>
<p>{escape(product['description'])}</p>
<p>Owner: <b class="owner">{escape(product['owner'] or 'none')}</b> (team {escape(product['team'])}). Support: {support}.</p>
<h2>Input ports (producers)</h2>{inputs}
<h2>Consumers</h2><ul>{consumers}</ul>
{''.join(_port_section(p) for p in product['output_ports'])}
<p><a href="{page_name(product['id'])}.json">These facts as JSON</a></p>
"""
    return _page(product["name"], body, "../")


def mesh_page(facts: dict) -> str:
    cards = "".join(
        f'<div class="card" data-search="{escape(search_text(p))}"><a href="products/{page_name(p["id"])}.html"><b>{escape(p["name"])}</b></a>'
        f' <span class="tag">{escape(p["domain"])}</span> <span class="tag">{escape(p["status"])}</span> owner {escape(p["owner"] or "none")}'
        f'<br><small>{escape(p["description"])}</small></div>'
        for p in facts["products"])
    domains = _table(["domain", "team", "description", "products"], [
        [f"<b>{escape(d['name'])}</b>", f"{escape(d['team'])}<br>{escape(d['email'])}", escape(d["description"]),
         "<br>".join(_link(p, "products/") for p in d["products"])]
        for d in facts["domains"]])
    keys = ["domain", "products", "policies", "passed", "violations", "warnings", "compliance", "failing"]
    scorecard = _table(keys, [[escape(str(r[k])) for k in keys] for r in facts["scorecard"]])
    svg = lineage_svg(facts, lambda pid: f"products/{page_name(pid)}.html")
    body = f"""
<h1>The mesh</h1>
<p>{len(facts['domains'])} domains, {len(facts['products'])} products. Generated {escape(facts['generated_at'])};
<a href="{escape(facts['dagster_url'])}">Dagster UI</a> · <a href="catalog.json">catalog.json</a></p>
<h2>Find a product</h2>
<input id="search" type="search" placeholder="name, owner, column, domain…" autofocus> <span id="count"></span>
<div id="products">{cards}</div>
<h2>Lineage between domains</h2>{svg}
<h2>Domains</h2>{domains}
<h2>Governance scorecard</h2>{scorecard}
<script>{SEARCH}</script>
"""
    return _page("Data mesh catalog", body, "")


def build(facts: dict, out: Path) -> list[Path]:
    (out / "products").mkdir(parents=True, exist_ok=True)
    written = [out / "index.html", out / "catalog.json"]
    written[0].write_text(mesh_page(facts))
    written[1].write_text(json.dumps(facts, indent=2))
    for product in facts["products"]:
        name = page_name(product["id"])
        (out / "products" / f"{name}.html").write_text(product_page(product))
        (out / "products" / f"{name}.json").write_text(json.dumps(product, indent=2))
        written += [out / "products" / f"{name}.html", out / "products" / f"{name}.json"]
    return written
