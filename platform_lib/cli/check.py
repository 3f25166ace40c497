"""`mesh check [PATH]`: every descriptor and contract, their agreement with dbt, and every governance
policy, without running anything."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from platform_lib.descriptors.dbt_manifest import load_manifest, model_relation
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import Problem, collect
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.governance.evaluate import domain_policies, errors, evaluate
from platform_lib.governance.policy import Subject
from platform_lib.mesh import survey
from platform_lib.settings import warehouse_path


def _built_model_problems(domain: Domain, port, relation: str) -> list[Problem]:
    """The dbt model as last built in the domain's warehouse, against its contract's columns and
    types. Nothing is run: without a build (or while a run holds the file) there is nothing to read."""
    path = warehouse_path(domain.name)
    if not path.exists():
        return []
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            built = [(name, kind) for name, kind, *_ in con.execute(f"describe select * from {relation}").fetchall()]
    except duckdb.Error:
        return []
    doc = load_yaml(port.contract.file)
    declared = [(c.name, c.physical_type.upper().replace(" ", "")) for c in port.contract.columns]
    if [n for n, _ in built] != [n for n, _ in declared]:
        return [doc.problem(f"dbt model {port.contract.model} (last built) has columns {[n for n, _ in built]}; the contract declares {[n for n, _ in declared]}", "schema", 0, "properties")]
    return [
        doc.problem(f"dbt model {port.contract.model} (last built) makes {name} {kind}; the contract says {want}", "schema", 0, "properties", i, "physicalType")
        for i, ((name, kind), (_, want)) in enumerate(zip(built, declared))
        if kind.upper().replace(" ", "") != want
    ]


def _contract_model_problems(domain: Domain, manifest) -> list[Problem]:
    problems: list[Problem] = []
    for port in domain.output_ports:
        relation = collect(problems, model_relation, port, manifest)
        if relation is not None:
            problems += _built_model_problems(domain, port, relation)
    return problems


def check(root: Path) -> list[Problem]:
    """Every problem and policy finding of the mesh rooted at `root` (the folder of workspace.yaml)."""
    around = survey(root / "workspace.yaml")
    problems = [p for location in around.problems.values() for p in location]
    for domain in around.mesh.domains:
        manifest = collect(problems, load_manifest, domain)
        if manifest is not None:
            problems += _contract_model_problems(domain, manifest)
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
