"""Running the policies on a domain: the global ones at their severity or the one the domain raised
them to, then the domain's own (`domains/<domain>/policies.py`, a list POLICIES)."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Mapping
from typing import Any

from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import ERROR, WARNING, DescriptorError, Problem
from platform_lib.descriptors.keys import port_key_of_contract
from platform_lib.descriptors.product import InputPort
from platform_lib.governance.policies import GLOBAL_POLICIES
from platform_lib.governance.policy import SEVERITIES, Policy, Subject
from platform_lib.ports.published import PublishedPorts

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
    global_ids = {p.id: p for p in GLOBAL_POLICIES}
    problems = []
    for policy_id, severity in domain.severities.items():
        where = ("governance", "severities", policy_id)
        if policy_id not in global_ids:
            problems.append(domain.problem(f"no global policy {policy_id!r}; known: {', '.join(global_ids)}", *where))
        elif severity not in SEVERITIES:
            problems.append(domain.problem(f"severity must be one of {', '.join(SEVERITIES)}", *where))
        elif SEVERITIES.index(severity) < SEVERITIES.index(global_ids[policy_id].severity):
            problems.append(domain.problem(f"{policy_id} is a global {global_ids[policy_id].severity}; a domain may raise a severity, never lower or waive it", *where))
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


def gate(domain: Domain, manifest: Mapping[str, Any], published: PublishedPorts) -> list[Problem]:
    """At code location load: the domain against what its producers `published`. Raises with the
    errors (only this location fails); returns the warnings. Whole-mesh policies are left to
    `mesh check` and the scorecard: a location reads no other domain's files.

    A producer that has not published yet is a warning, not an error: the location loads, and its
    runs refuse to bind that port until it is published (`mesh check` judges the declaration)."""
    policies = [p for p in domain_policies(domain) if not p.whole_mesh]
    waiting = [port for port in domain.input_ports if published.producer_of(port) is None]
    findings = evaluate(Subject(published, domain, frozenset(port.contract_id for port in waiting), manifest), policies)
    if errors(findings):
        raise DescriptorError(errors(findings))
    return findings + [
        dataclasses.replace(port.problem(_not_bound(port, published), "contractId"), policy="port-binding", severity=WARNING)
        for port in waiting
    ]


def _not_bound(port: InputPort, published: PublishedPorts) -> str:
    key = port_key_of_contract(port.contract_id, port.major)
    unreadable = published.unreadable.get(key) if key else None
    if unreadable:
        return (f"{port.contract_id} v{port.major}: the port catalog lists {key[0]}.{key[1]}, but {unreadable}: "
                "runs cannot bind it until its producer publishes it again")
    return f"{port.contract_id} v{port.major} is not published yet: runs cannot bind it until its producer publishes"
