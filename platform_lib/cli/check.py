"""`mesh check [PATH]`: every descriptor and contract, their agreement with dbt, and every governance
policy, without running anything."""

from __future__ import annotations

import json
from pathlib import Path

from platform_lib.descriptors.dbt_manifest import load_manifest, model_relation
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import Problem, collect
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.governance.evaluate import domain_policies, errors, evaluate
from platform_lib.governance.policy import Subject
from platform_lib.mesh import survey
from platform_lib.descriptors.dbt_compile import compiled_manifest
from platform_lib.quality.model_types import model_columns


def _model_problems(port, made: list[tuple[str, str]] | str) -> list[Problem]:
    """What the port's model makes (judged from its SQL), against its contract's columns and types."""
    doc = load_yaml(port.contract.file)
    model = f"dbt model {port.contract.model}"
    if isinstance(made, str):
        return [doc.problem(f"{model} does not bind over its inputs as they are promised: {made}", "schema", 0, "physicalName")]
    declared = [(c.name, c.physical_type.upper().replace(" ", "")) for c in port.contract.columns]
    if [n for n, _ in made] != [n for n, _ in declared]:
        return [doc.problem(f"{model} makes columns {[n for n, _ in made]}; the contract declares {[n for n, _ in declared]}", "schema", 0, "properties")]
    return [
        doc.problem(f"{model} makes {name} {kind}; the contract says {want}", "schema", 0, "properties", i, "physicalType")
        for i, ((name, kind), (_, want)) in enumerate(zip(made, declared))
        if kind.upper().replace(" ", "") != want
    ]


def _contract_model_problems(domain: Domain, manifest, mesh) -> list[Problem]:
    """Each port's model as its SQL makes it, over its inputs as they are promised: nothing runs,
    so a drift is caught before a build (dbt compiles the project; DuckDB types it, empty)."""
    problems: list[Problem] = []
    if None in [collect(problems, model_relation, port, manifest) for port in domain.output_ports]:
        return problems
    compiled = collect(problems, compiled_manifest, domain.dbt_project_dir)
    if compiled is None:
        return problems
    ports = {p.asset_key: p for d in mesh.domains for p in d.output_ports}
    made = model_columns(domain, compiled, ports)
    for port in domain.output_ports:
        if port.contract.model in made:
            problems += _model_problems(port, made[port.contract.model])
    return problems


def check(root: Path) -> list[Problem]:
    """Every problem and policy finding of the mesh rooted at `root` (the folder of workspace.yaml)."""
    around = survey(root / "workspace.yaml")
    problems = [p for location in around.problems.values() for p in location]
    for domain in around.mesh.domains:
        manifest = collect(problems, load_manifest, domain)
        if manifest is not None:
            problems += _contract_model_problems(domain, manifest, around.mesh)
        policies = collect(problems, domain_policies, domain)
        if policies is not None:
            problems += evaluate(Subject(around.mesh, domain, around.broken, manifest, mesh=around.mesh), policies)
    # A finding shared by several domains (a cycle between them) is reported once.
    return list(dict.fromkeys(problems))


def exit_code(problems: list[Problem]) -> int:
    return 1 if errors(problems) else 0


def render(problems: list[Problem], as_json: bool) -> str:
    if as_json:
        return json.dumps([
            {"file": str(p.file), "line": p.line, "field": p.field, "message": p.message, "policy": p.policy or None, "severity": p.severity}
            for p in problems
        ], indent=2)
    if not problems:
        return "mesh check: no problems"
    failing, warnings = len(errors(problems)), len(problems) - len(errors(problems))
    summary = f"mesh check: {failing} violation{'s' * (failing != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    return "\n".join([*map(str, problems), summary])
