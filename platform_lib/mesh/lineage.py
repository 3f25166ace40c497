"""The mesh's product-level lineage, drawn from the descriptors (the README's picture comes from here)."""

from __future__ import annotations

from platform_lib.mesh.index import Mesh


def mermaid(mesh: Mesh) -> str:
    """A Mermaid flowchart: one box per domain, one node per output port, one edge per input port."""
    lines = ["flowchart LR"]
    for domain in mesh.domains:
        lines.append(f"  subgraph {domain.name}")
        for port in domain.output_ports:
            lines.append(f"    {'__'.join(port.asset_key)}[\"{port.name} v{port.contract.major}\"]")
        lines.append("  end")
    edges = sorted(
        {
            ("__".join(mesh.producer_port(product, inp).asset_key), "__".join(out.asset_key))
            for domain in mesh.domains
            for product in domain.products
            for inp in product.input_ports
            for out in product.output_ports
        }
    )
    lines += [f"  {a} --> {b}" for a, b in edges]
    return "\n".join(lines)
