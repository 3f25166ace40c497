"""The docs show the mesh as it is: the README's lineage picture and the documented column walks are generated, not drawings that drift."""

from __future__ import annotations

import re

from platform_lib.mesh import load_mesh
from platform_lib.mesh.lineage import mermaid
from tests.support.processes import REPO


def test_readme_lineage_is_generated_from_the_descriptors():
    readme = (REPO / "README.md").read_text()
    assert f"```mermaid\n{mermaid(load_mesh())}\n```" in readme, "README lineage is stale: paste `mesh lineage` into it"


def test_governance_doc_lists_every_global_policy_with_its_rationale():
    from platform_lib.governance.policies import GLOBAL_POLICIES

    doc = (REPO / "docs" / "governance.md").read_text()
    for p in GLOBAL_POLICIES:
        assert f"| `{p.id}` | {p.severity} | {p.title} | {p.rationale} |" in doc, f"docs/governance.md: {p.id} is stale"


def test_the_documented_column_walks_are_what_mesh_lineage_prints():
    from platform_lib.cli.lineage import column_walk
    from platform_lib.dbt.manifest import load_manifest
    from platform_lib.lineage.graph import column_graph

    doc = (REPO / "docs" / "governance.md").read_text()
    walks = re.findall(r"^\$ mesh lineage --column (\S+)\n(.*?)(?=^\$ |^```)", doc, re.M | re.S)
    assert len(walks) == 2
    mesh = load_mesh()
    graph = column_graph(mesh, load_manifest)
    for column, printed in walks:
        assert printed.rstrip("\n") == column_walk(mesh, graph, column), f"docs/governance.md: the walk of {column} is stale"
