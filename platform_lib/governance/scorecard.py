"""The governance scorecard: every policy run over every domain on a schedule, as one asset with a
per-domain compliance table and one asset check per domain (passing when it has no violation)."""

from __future__ import annotations

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
)

from platform_lib.descriptors.dbt_manifest import load_manifest
from platform_lib.descriptors.errors import Problem, collect
from platform_lib.descriptors.producers import Layered
from platform_lib.governance.evaluate import domain_policies, errors, evaluate
from platform_lib.governance.policy import Subject
from platform_lib.mesh import survey
from platform_lib.ports.published import PublishedPorts

SCORECARD = AssetKey(["governance", "scorecard"])

COLUMNS = TableSchema(columns=[
    TableColumn("domain", "string"),
    TableColumn("products", "int"),
    TableColumn("policies", "int", description="policies the domain is held to (global and its own)"),
    TableColumn("passed", "int", description="policies with no violation"),
    TableColumn("violations", "int"),
    TableColumn("warnings", "int"),
    TableColumn("compliance", "string", description="passed / policies"),
    TableColumn("failing", "string", description="ids of the policies with violations"),
])


def domain_score(name: str, findings: list[Problem], policies: int, products: int) -> dict:
    failing = sorted({f.policy or "descriptors" for f in errors(findings)})
    passed = policies - len(failing)
    return {
        "domain": name, "products": products, "policies": policies, "passed": passed,
        "violations": len(errors(findings)), "warnings": len(findings) - len(errors(findings)),
        "compliance": f"{100 * passed / policies:.0f}%" if policies else "n/a", "failing": ", ".join(failing),
    }


def score(workspace_file) -> tuple[list[dict], dict[str, list[Problem]]]:
    """(one row per domain, findings per domain). A domain whose descriptors do not load scores 0."""
    around = survey(workspace_file)
    # Producers outside this workspace (domains deployed from their own repositories) are judged
    # by what they published.
    producers = Layered(around.mesh, PublishedPorts())
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


def scorecard_asset(workspace_file, domains: list[str]):
    @asset(
        key=SCORECARD,
        group_name="governance",
        owners=["team:platform"],
        kinds={"governance"},
        description="Every global and domain policy run over the whole mesh: per-domain compliance.",
        check_specs=[
            AssetCheckSpec(f"{d}_compliant", asset=SCORECARD, description=f"Domain {d} violates no policy.") for d in domains
        ],
    )
    def scorecard() -> MaterializeResult:
        rows, findings = score(workspace_file)
        return MaterializeResult(
            metadata={
                "compliance": MetadataValue.table([TableRecord(r) for r in rows], schema=COLUMNS),
                "violations": sum(r["violations"] for r in rows),
                "warnings": sum(r["warnings"] for r in rows),
            },
            check_results=[
                AssetCheckResult(
                    check_name=f"{d}_compliant",
                    passed=not errors(findings.get(d, [])),
                    severity=AssetCheckSeverity.ERROR,
                    metadata={"findings": MetadataValue.md("\n".join(f"- {p}" for p in findings.get(d, [])) or "none")},
                )
                for d in domains
            ],
        )

    return scorecard
