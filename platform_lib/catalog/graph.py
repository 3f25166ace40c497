"""The cross-domain lineage as an SVG drawn without any script or network: domains as boxes in
columns (producers left of their consumers), ports as rows in them, one curve per input port."""

from __future__ import annotations

from html import escape

BOX_W, ROW_H, HEAD_H, GAP_X, GAP_Y, PAD = 250, 24, 30, 110, 30, 20


def _depths(facts: dict) -> dict[str, int]:
    upstream = {d["name"]: set() for d in facts["domains"]}
    for p in facts["products"]:
        for i in p["input_ports"]:
            if i["producer"] and i["producer"].split(":")[3] != p["domain"]:
                upstream[p["domain"]].add(i["producer"].split(":")[3])
    depth: dict[str, int] = {}

    def visit(name: str, seen: frozenset = frozenset()) -> int:
        if name not in depth:
            # A cycle is a governance violation; drawing it must still terminate.
            depth[name] = 1 + max((visit(u, seen | {name}) for u in upstream[name] if u not in seen), default=-1)
        return depth[name]

    for name in upstream:
        visit(name)
    return depth


def lineage_svg(facts: dict, link=lambda product_id: "#") -> str:
    depth = _depths(facts)
    ports = {d["name"]: [(p, o) for p in facts["products"] if p["domain"] == d["name"] for o in p["output_ports"]] for d in facts["domains"]}
    column_y = {}
    where, boxes = {}, []
    for d in facts["domains"]:
        x = PAD + depth[d["name"]] * (BOX_W + GAP_X)
        y = column_y.get(x, PAD)
        height = HEAD_H + ROW_H * max(1, len(ports[d["name"]])) + 8
        boxes.append(f'<g class="domain" data-domain="{escape(d["name"])}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{height}" rx="8"/>'
                     f'<text class="domain-name" x="{x + 10}" y="{y + 20}">{escape(d["name"])}</text>')
        for i, (product, port) in enumerate(ports[d["name"]]):
            row_y = y + HEAD_H + i * ROW_H
            where[port["asset_key"]] = (x, row_y + ROW_H / 2)
            label = f'{port["name"]} v{port["major"]}' + (" (deprecated)" if port["status"] == "deprecated" else "")
            boxes.append(f'<a href="{escape(link(product["id"]))}"><text class="port" x="{x + 16}" y="{row_y + 16}">{escape(label)}</text></a>')
        boxes.append("</g>")
        column_y[x] = y + height + GAP_Y
    edges = []
    for product in facts["products"]:
        for port in product["output_ports"]:
            for i in product["input_ports"]:
                if i["asset_key"] in where and port["asset_key"] in where:
                    (x1, y1), (x2, y2) = where[i["asset_key"]], where[port["asset_key"]]
                    x1 += BOX_W
                    mid = (x1 + x2) / 2
                    edges.append(f'<path class="edge" data-from="{escape(i["asset_key"])}" data-to="{escape(port["asset_key"])}" '
                                 f'd="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"/>')
    width = PAD * 2 + (max(depth.values(), default=0) + 1) * (BOX_W + GAP_X)
    height = max(column_y.values(), default=PAD) + PAD
    return (f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            + "".join(edges) + "".join(boxes) + "</svg>")
