"""The mesh's product-level lineage, from the descriptors, in one place: each domain's output ports,
and an edge from each port a product reads to each port it publishes. The README's Mermaid picture
(`mesh lineage`) and the catalog's SVG (catalog/graph.py) both draw it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from platform_lib.descriptors.product import OutputPort
from platform_lib.mesh.index import Mesh

PortKey = tuple[str, str]


@dataclass(frozen=True)
class Lineage:
    # Each domain's name and output ports, in the workspace's order.
    domains: tuple[tuple[str, tuple[OutputPort, ...]], ...]
    # (producer's port, consumer's port), each once, in the order the consumers' descriptors list them.
    edges: tuple[tuple[PortKey, PortKey], ...]
    # Each domain's column, producers left of their consumers: the mesh's (Mesh.depths).
    depths: Mapping[str, int]


def lineage(mesh: Mesh) -> Lineage:
    """An input port whose producer is not in the mesh draws no edge: `mesh check` names it."""
    edges = (
        (producer.asset_key, out.asset_key)
        for domain in mesh.domains
        for product in domain.products
        for out in product.output_ports
        for port in product.input_ports
        if (producer := mesh.producer_of(port)) is not None
    )
    return Lineage(tuple((d.name, tuple(d.output_ports)) for d in mesh.domains), tuple(dict.fromkeys(edges)), mesh.depths)


def port_label(port: OutputPort) -> str:
    """Unique in its domain: a domain publishes each (port, major) once, as `<domain>/<port>_v<major>`."""
    return f"{port.name} v{port.contract.major}"


def mermaid(mesh: Mesh) -> str:
    """A Mermaid flowchart: one box per domain, one node per output port, one edge per input port."""
    drawn = lineage(mesh)
    lines = ["flowchart LR"]
    for domain, ports in drawn.domains:
        lines.append(f"  subgraph {domain}")
        lines += [f"    {_node(port.asset_key)}[\"{port_label(port)}\"]" for port in ports]
        lines.append("  end")
    lines += [f"  {a} --> {b}" for a, b in sorted((_node(a), _node(b)) for a, b in drawn.edges)]
    return "\n".join(lines)


def _node(key: PortKey) -> str:
    return "__".join(key)
