"""`mesh lineage`: the product-level lineage as Mermaid; with `--column PORT_COLUMN`, one column's
walk both ways, across domains: what it is derived from, down to the operational sources, and every
port column of any domain derived from it."""

from __future__ import annotations

import sys

from platform_lib.dbt.compile import compiled_manifest
from platform_lib.lineage.columns import Dep
from platform_lib.lineage.graph import ColumnGraph, Step, column_graph, parse_column
from platform_lib.mesh import Mesh, load_mesh
from platform_lib.mesh.lineage import mermaid


def dotted(dep: Dep) -> str:
    """`sales.line_items_v1.discount`, `sales.operational.lineitem.l_discount`."""
    return ".".join([*dep.key, dep.column])


def _walk(steps: list[Step]) -> list[str]:
    return [f"{'  ' * step.depth}{dotted(step.dep)} ({step.dep.kind})" for step in steps] or ["  (nothing)"]


def column_walk(mesh: Mesh, graph: ColumnGraph, text: str) -> str:
    key, column = parse_column(text)
    port = next((p for d in mesh.domains for p in d.output_ports if p.asset_key == key), None)
    if port is None:
        raise ValueError(f"no output port {'.'.join(key)} in the mesh; `mesh ports` or `mesh catalog list` lists them")
    names = [c.name for c in port.contract.columns]
    if column not in names:
        raise ValueError(f"{'.'.join(key)} has no column {column!r}; its columns: {', '.join(names)}")
    if key in graph.errors:
        raise ValueError(f"the column lineage of {'.'.join(key)} is unknown: {graph.errors[key]}")
    selects = [f"  {'.'.join(port)} ({kind})" for port, kind in graph.row_readers((key, column))]
    return "\n".join([
        text, "derived from:", *_walk(list(graph.upstream((key, column)))),
        "read by:", *_walk(list(graph.downstream((key, column)))),
        "rows selected by it:", *(selects or ["  (nothing)"]),
    ])


def run(args) -> int:
    mesh = load_mesh()
    if not args.column:
        print(mermaid(mesh))
        return 0
    graph = column_graph(mesh, lambda domain: compiled_manifest(domain.dbt_project_dir, mesh))
    try:
        print(column_walk(mesh, graph, args.column))
    except ValueError as exc:
        print(f"mesh lineage: {exc}", file=sys.stderr)
        return 2
    return 0
