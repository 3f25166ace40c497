"""Running the policies on a domain: the global ones at their severity or the one the domain raised
them to, then the domain's own (`domains/<domain>/policies.py`, a list POLICIES)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from platform_lib.descriptors.domain import DOMAIN_FILE, Domain
from platform_lib.descriptors.errors import ERROR, DescriptorError, Problem
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.governance.policies import GLOBAL_POLICIES
from platform_lib.governance.policy import SEVERITIES, Policy, Subject
from platform_lib.mesh import Mesh, survey

DOMAIN_POLICIES_FILE = "policies.py"


def _own_policies(domain: Domain) -> list[Policy]:
    path = domain.folder / DOMAIN_POLICIES_FILE
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"mesh_policies_{domain.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    policies = getattr(module, "POLICIES", None)
    if not isinstance(policies, (list, tuple)) or not all(isinstance(p, Policy) for p in policies):
        raise DescriptorError([Problem(path, "POLICIES", "must be a list of policies made with platform_lib.governance.policy")])
    return list(policies)


def domain_policies(domain: Domain) -> list[Policy]:
    """Every policy the domain is held to, at the severity it is held to."""
    doc = load_yaml(domain.folder / DOMAIN_FILE)
    global_ids = {p.id: p for p in GLOBAL_POLICIES}
    problems = []
    for policy_id, severity in domain.severities.items():
        where = ("governance", "severities", policy_id)
        if policy_id not in global_ids:
            problems.append(doc.problem(f"no global policy {policy_id!r}; known: {', '.join(global_ids)}", *where))
        elif severity not in SEVERITIES:
            problems.append(doc.problem(f"severity must be one of {', '.join(SEVERITIES)}", *where))
        elif SEVERITIES.index(severity) < SEVERITIES.index(global_ids[policy_id].severity):
            problems.append(doc.problem(f"{policy_id} is a global {global_ids[policy_id].severity}; a domain may raise a severity, never lower or waive it", *where))
    own = _own_policies(domain)
    for p in own:
        if p.id in global_ids:
            problems.append(Problem(domain.folder / DOMAIN_POLICIES_FILE, "POLICIES", f"{p.id} is a global policy; a domain cannot redefine it, give its own policy another id"))
    if problems:
        raise DescriptorError(problems)
    return [p.with_severity(domain.severities.get(p.id, p.severity)) for p in GLOBAL_POLICIES] + own


def evaluate(subject: Subject, policies: list[Policy] | None = None) -> list[Problem]:
    """Every finding (errors and warnings) of the domain's policies."""
    policies = domain_policies(subject.domain) if policies is None else policies
    return [finding for p in policies for finding in p.run(subject)]


def errors(findings: list[Problem]) -> list[Problem]:
    return [f for f in findings if f.severity == ERROR]


def gate(domain: Domain, manifest: Mapping[str, Any]) -> list[Problem]:
    """At code location load: the domain against the mesh around it. Raises with the errors (only
    this location fails); returns the warnings."""
    around = survey(domain.folder.parent.parent / "workspace.yaml", loaded=domain)
    # A location loaded outside its workspace is still judged with the mesh around it.
    mesh = around.mesh if domain in around.mesh.domains else Mesh((*around.mesh.domains, domain))
    findings = evaluate(Subject(mesh, domain, around.broken, manifest))
    if errors(findings):
        raise DescriptorError(errors(findings))
    return findings
