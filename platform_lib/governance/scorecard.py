"""The governance scorecard: every policy run over every domain, one row of compliance per domain.
Without Dagster: the catalog shows it too; the scheduled asset is the governance code location's."""

from __future__ import annotations

import hashlib
import json

from platform_lib.dbt.manifest import load_manifest
from platform_lib.descriptors.errors import Problem, collect
from platform_lib.descriptors.producers import Layered
from platform_lib.governance.evaluate import domain_policies, errors, evaluate
from platform_lib.governance.policy import Subject
from platform_lib.mesh import Survey, survey
from platform_lib.ports.published import PublishedPorts


def domain_score(name: str, findings: list[Problem], policies: int, products: int) -> dict:
    failing = sorted({f.policy or "descriptors" for f in errors(findings)})
    passed = policies - len(failing)
    return {
        "domain": name, "products": products, "policies": policies, "passed": passed,
        "violations": len(errors(findings)), "warnings": len(findings) - len(errors(findings)),
        "compliance": f"{100 * passed / policies:.0f}%" if policies else "n/a", "failing": ", ".join(failing),
    }


def score(workspace_file, published: PublishedPorts | None = None, around: Survey | None = None) -> tuple[list[dict], dict[str, list[Problem]]]:
    """(one row per domain, findings per domain). A domain whose descriptors do not load scores 0.
    `around`: the workspace's survey, when the caller has it already."""
    around = around or survey(workspace_file)
    # Producers outside this workspace (domains deployed from their own repositories) are judged
    # by what they published.
    producers = Layered(around.mesh, published or PublishedPorts())
    rows, findings = [], {}
    for domain in around.mesh.domains:
        problems: list[Problem] = []
        manifest = collect(problems, load_manifest, domain)
        policies = collect(problems, domain_policies, domain) or []
        problems += evaluate(Subject(producers, domain, around.broken, manifest, mesh=around.mesh), policies)
        findings[domain.name] = list(dict.fromkeys(problems))
        rows.append(domain_score(domain.name, findings[domain.name], len(policies), len(domain.products)))
    for name, problems in around.problems.items():
        findings[name] = problems
        rows.append(domain_score(name, problems, 0, 0))
    return rows, findings


def version_of(rows: list[dict], findings: dict[str, list[Problem]]) -> str:
    """The scorecard's data version: the same rows and findings, the same version."""
    said = {domain: [str(problem) for problem in problems] for domain, problems in sorted(findings.items())}
    return hashlib.sha256(json.dumps([rows, said], sort_keys=True).encode()).hexdigest()[:16]
