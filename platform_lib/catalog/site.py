"""`mesh catalog build OUT/`: the catalog as a static site, with the same facts as JSON beside the
pages. No server and no network: pages link to each other and to the Dagster UI, and the search
runs in the browser over an index embedded in the mesh page.

The pages are the jinja2 templates in templates/, autoescaped: what a domain team wrote in its
descriptors and contracts is shown as text, never run as markup."""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from platform_lib.catalog.facts import search_text
from platform_lib.catalog.graph import layout
from platform_lib.mesh.lineage import Lineage


def page_name(product_id: str) -> str:
    _, _, _, domain, name = product_id.split(":")
    return f"{domain}.{name}"


_TEMPLATES = Environment(
    loader=PackageLoader("platform_lib.catalog"),
    autoescape=True,
    # A tag on a line of its own leaves no blank line in the page.
    trim_blocks=True,
    lstrip_blocks=True,
    # A fact a template names but the facts lack fails the build rather than showing as nothing.
    undefined=StrictUndefined,
)
_TEMPLATES.filters.update(page_name=page_name, search_text=search_text)


def product_page(product: dict) -> str:
    return _TEMPLATES.get_template("product.html").render(product=product)


def mesh_page(facts: dict, lineage: Lineage) -> str:
    return _TEMPLATES.get_template("mesh.html").render(facts=facts, lineage=layout(lineage))


def build(facts: dict, lineage: Lineage, out: Path) -> list[Path]:
    (out / "products").mkdir(parents=True, exist_ok=True)
    written = [out / "index.html", out / "catalog.json"]
    written[0].write_text(mesh_page(facts, lineage))
    written[1].write_text(json.dumps(facts, indent=2))
    for product in facts["products"]:
        name = page_name(product["id"])
        (out / "products" / f"{name}.html").write_text(product_page(product))
        (out / "products" / f"{name}.json").write_text(json.dumps(product, indent=2))
        written += [out / "products" / f"{name}.html", out / "products" / f"{name}.json"]
    return written
