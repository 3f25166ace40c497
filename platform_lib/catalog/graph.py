"""The cross-domain lineage laid out for an SVG drawn without any script or network: domains as
boxes in columns (producers left of their consumers), ports as rows in them, one curve per input
port. templates/lineage.svg draws it."""

from __future__ import annotations

from dataclasses import dataclass

BOX_W, ROW_H, HEAD_H, GAP_X, GAP_Y, PAD = 250, 24, 30, 110, 30, 20


@dataclass(frozen=True)
class Row:
    product_id: str
    label: str
    y: int  # the row's top


@dataclass(frozen=True)
class Box:
    domain: str
    x: int
    y: int
    height: int
    rows: tuple[Row, ...]
    width: int = BOX_W


@dataclass(frozen=True)
class Edge:
    source: str  # asset key of the producer's port
    target: str  # asset key of the consumer's port
    x1: int
    y1: float
    x2: int
    y2: float

    @property
    def mid(self) -> float:
        return (self.x1 + self.x2) / 2


@dataclass(frozen=True)
class Lineage:
    width: int
    height: int
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]


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


def port_label(port: dict) -> str:
    """A port's row in its domain's box. Unique in the box: a domain publishes each (port, major)
    once, as the asset `<domain>/<port>_v<major>`."""
    return f'{port["name"]} v{port["major"]}' + (" (deprecated)" if port["status"] == "deprecated" else "")


def lineage(facts: dict) -> Lineage:
    depth = _depths(facts)
    column_y: dict[int, int] = {}
    where: dict[str, tuple[int, float]] = {}  # port asset key -> the middle of its row's left edge
    boxes = []
    for d in facts["domains"]:
        ports = [(p, o) for p in facts["products"] if p["domain"] == d["name"] for o in p["output_ports"]]
        x = PAD + depth[d["name"]] * (BOX_W + GAP_X)
        y = column_y.get(x, PAD)
        rows = tuple(Row(product["id"], port_label(port), y + HEAD_H + i * ROW_H) for i, (product, port) in enumerate(ports))
        where |= {port["asset_key"]: (x, row.y + ROW_H / 2) for (_, port), row in zip(ports, rows)}
        boxes.append(Box(d["name"], x, y, HEAD_H + ROW_H * max(1, len(rows)) + 8, rows))
        column_y[x] = y + boxes[-1].height + GAP_Y
    edges = []
    for product in facts["products"]:
        for port in product["output_ports"]:
            for i in product["input_ports"]:
                if i["asset_key"] in where and port["asset_key"] in where:
                    (x1, y1), (x2, y2) = where[i["asset_key"]], where[port["asset_key"]]
                    edges.append(Edge(i["asset_key"], port["asset_key"], x1 + BOX_W, y1, x2, y2))
    width = PAD * 2 + (max(depth.values(), default=0) + 1) * (BOX_W + GAP_X)
    return Lineage(width, max(column_y.values(), default=PAD) + PAD, tuple(boxes), tuple(edges))
