"""The README's lineage picture is the mesh's, not a drawing that drifts from it."""

from __future__ import annotations

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
