"""The mesh's lineage (mesh/lineage.py) laid out for an SVG drawn without any script or network:
domains as boxes in columns (producers left of their consumers), ports as rows in them, one curve
per edge. templates/lineage.svg draws it."""

from __future__ import annotations

from dataclasses import dataclass

from platform_lib.descriptors.keys import product_id
from platform_lib.descriptors.product import OutputPort
from platform_lib.mesh.lineage import Lineage, PortKey, port_label

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
class Layout:
    width: int
    height: int
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]


def _label(port: OutputPort) -> str:
    return port_label(port) + (" (deprecated)" if port.contract.status == "deprecated" else "")


def layout(drawn: Lineage) -> Layout:
    depth = drawn.depths
    column_y: dict[int, int] = {}
    where: dict[PortKey, tuple[int, float]] = {}  # port -> the middle of its row's left edge
    boxes = []
    for domain, ports in drawn.domains:
        x = PAD + depth[domain] * (BOX_W + GAP_X)
        y = column_y.get(x, PAD)
        rows = tuple(Row(product_id(port.domain, port.product), _label(port), y + HEAD_H + i * ROW_H) for i, port in enumerate(ports))
        where |= {port.asset_key: (x, row.y + ROW_H / 2) for port, row in zip(ports, rows)}
        boxes.append(Box(domain, x, y, HEAD_H + ROW_H * max(1, len(rows)) + 8, rows))
        column_y[x] = y + boxes[-1].height + GAP_Y
    edges = tuple(
        Edge("/".join(source), "/".join(target), where[source][0] + BOX_W, where[source][1], *where[target])
        for source, target in drawn.edges
    )
    width = PAD * 2 + (max(depth.values(), default=0) + 1) * (BOX_W + GAP_X)
    return Layout(width, max(column_y.values(), default=PAD) + PAD, tuple(boxes), edges)
