"""`mesh catalog list | search TEXT | show URN | build OUT/`: the catalog in the terminal and as a site."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

from platform_lib.catalog.facts import catalog, search
from platform_lib.catalog.site import build
from platform_lib.mesh import Mesh, load_mesh
from platform_lib.mesh.lineage import lineage
from platform_lib.ports.catalog import PortCatalog
from platform_lib.settings import WORKSPACE_FILE, dagster_home, export_environment


def facts(mesh: Mesh, ui_url: str) -> dict:
    from dagster import DagsterInstance

    export_environment()
    # The instance is read only if the mesh has run: a catalog of an unrun mesh shows no history.
    has_instance = (dagster_home() / "storage").exists()
    with DagsterInstance.get() if has_instance else nullcontext() as instance:
        return catalog(mesh, WORKSPACE_FILE, PortCatalog(), instance, ui_url)


def _lines(products: list[dict]) -> str:
    # Each port as `mesh new product --from-port` takes it: its contract id @ its major.
    rows = [(p["id"], p["status"], p["owner"] or "-", ", ".join(f"{o['contract_id']}@{o['major']}" for o in p["output_ports"])) for p in products]
    headers = ("product", "status", "owner", "ports (contract@major)")
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    return "\n".join(lines + ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows])


def show(all_facts: dict, urn: str) -> dict:
    """A product by its product id, or by the contract id of one of its ports."""
    for product in all_facts["products"]:
        if urn == product["id"] or any(urn == p["contract_id"] for p in product["output_ports"]):
            return product
    raise KeyError(f"no product or contract {urn!r} in the mesh; `mesh catalog list` shows them")


def _describe(product: dict) -> str:
    out = [f"{product['id']}  ({product['status']}, version {product['version']})", product["description"],
           f"owner {product['owner']}, team {product['team']}, support {', '.join(product['support']) or '-'}"]
    out += [f"reads {i['contract_id']} v{i['major']} as {i['role']} (from {i['producer']})" for i in product["input_ports"]]
    out += [f"read by {c}" for c in product["consumers"]]
    for port in product["output_ports"]:
        fresh = port["freshness"]
        out.append(f"\nport {port['name']} v{port['major']}  contract {port['contract_id']} {port['contract_version']} ({port['status']})"
                   f"  freshness: {fresh['status']}  {port['dagster_url']}")
        out += [f"  who may read: role {role}, {granted if isinstance(granted, str) else 'granted to ' + (', '.join(granted) or 'no domain yet')}"
                f"{'' if isinstance(granted, str) else '; ask ' + product['whom_to_ask']}" for role, granted in port["roles"].items()]
        out += [f"  {c['name']:<24} {c['physical_type']:<16} {c['classification']}{' masked:' + c['masking'] if c['masking'] else ''}" for c in port["columns"]]
    return "\n".join(out)


def run(args) -> int:
    mesh = load_mesh(WORKSPACE_FILE)
    all_facts = facts(mesh, args.ui_url)
    if args.action == "list":
        print(json.dumps(all_facts["products"], indent=2) if args.json else _lines(all_facts["products"]))
    elif args.action == "search":
        found = search(all_facts, " ".join(args.terms))
        print(json.dumps(found, indent=2) if args.json else (_lines(found) if found else "no product matches"))
        return 0 if found else 1
    elif args.action == "show":
        product = show(all_facts, args.terms[0])
        print(json.dumps(product, indent=2) if args.json else _describe(product))
    else:
        written = build(all_facts, lineage(mesh), Path(args.terms[0]))
        print(f"catalog: {len(all_facts['products'])} product pages in {args.terms[0]} ({len(written)} files); open {Path(args.terms[0]) / 'index.html'}")
    return 0
