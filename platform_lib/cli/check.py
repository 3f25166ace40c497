"""`mesh check [PATH]`: every descriptor and contract, their agreement with dbt, and every governance
policy, without running anything; or, when PATH is one descriptor file, that file on its own."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from platform_lib.cli.junit import write_junit
from platform_lib.dbt.compile import compiled_manifest
from platform_lib.dbt.manifest import load_manifest, model_relation
from platform_lib.descriptors.contract import load_contract
from platform_lib.descriptors.derived import CONTRACT_SUFFIX, Home, complete_contract, home_of
from platform_lib.descriptors.domain import DOMAIN_FILE, Domain, load_domain
from platform_lib.descriptors.errors import DescriptorError, Problem, collect
from platform_lib.descriptors.fields import field
from platform_lib.descriptors.product import DESCRIPTOR_FILE, load_product
from platform_lib.descriptors.standards import validate_odcs
from platform_lib.descriptors.types import same_type
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.engines import DUCKDB
from platform_lib.governance.against import POLICY, against
from platform_lib.governance.evaluate import domain_policies, errors, evaluate
from platform_lib.governance.policy import Subject
from platform_lib.mesh import Survey, survey
from platform_lib.quality.model_types import model_columns
from platform_lib.settings import MESH_ROOT

# The case of a domain's descriptors loading; the other cases of a domain are its dbt models' and
# one per policy it is held to.
DESCRIPTORS = "descriptors"
DBT_MODELS = "dbt models"
# A contract file on its own is judged twice: by the standard's JSON schema alone, then by what the
# mesh needs of a port's contract on top (its profile).
ODCS = "ODCS"
PROFILE = "mesh profile"


@dataclass(frozen=True)
class Case:
    """One thing `mesh check` judged and the problems it found: a testcase of the JUnit report."""

    suite: str
    name: str
    problems: tuple[Problem, ...] = ()
    # Set when the case is one file's.
    file: Path | None = None
    # What a reader is told first, beside the problems: "valid ODCS (...)".
    verdict: str = ""


def _made_at(sql: Path, column: str) -> str:
    """Where the model's SQL makes the column: `file:line` of the last select item that names it
    (the outermost select comes last), or the file alone."""
    try:
        lines = sql.read_text().splitlines()
    except OSError:
        return str(sql)
    named = re.compile(rf"(\bas\s+{re.escape(column)}\b|\.{re.escape(column)}\b|^\s*{re.escape(column)}\b)", re.IGNORECASE)
    found = [i for i, line in enumerate(lines, 1) if named.search(line)]
    return f"{sql}:{found[-1]}" if found else str(sql)


def _model_problems(port, made: list[tuple[str, str]] | str, sql: Path) -> list[Problem]:
    """What the port's model makes (judged from its SQL), against its contract's columns and types;
    a type that differs is told where the SQL makes it, with the two ways to agree."""
    contract = port.contract
    model = f"dbt model {contract.model}"
    if isinstance(made, str):
        return [contract.schema_problem(f"{model} does not bind over its inputs as they are promised: {made}", "physicalName")]
    declared = [(c.name, c.physical_type) for c in contract.columns]
    if [n for n, _ in made] != [n for n, _ in declared]:
        return [contract.schema_problem(f"{model} makes columns {[n for n, _ in made]}; the contract declares {[n for n, _ in declared]}", "properties")]
    return [
        column.problem(f"{model} makes {name} {kind} ({_made_at(sql, name)}); the contract says {want}: cast it in the SQL "
                       f"(cast(... as {want}) as {name}), or, if the model is right, write physicalType: {kind} here"
                       f"{' (`mesh contract sync` does, for a draft)' if contract.status == 'draft' else ''}", "physicalType")
        for (name, kind), (_, want), column in zip(made, declared, contract.columns)
        # A masked column is published as its contract types it, whatever the model makes.
        if not same_type(kind, want) and column.masking is None
    ]


def _contract_model_problems(domain: Domain, manifest, compiled, mesh) -> list[Problem]:
    """Each port's model as its SQL makes it, over its inputs as they are promised: nothing runs,
    so a drift is caught before a build (dbt compiles the project; DuckDB types it, empty)."""
    problems: list[Problem] = []
    if None in [collect(problems, model_relation, port, manifest) for port in domain.output_ports] or compiled is None:
        return problems
    if domain.engine != DUCKDB:
        # Typed by the engine that runs the SQL, or not at all: DuckDB's types of Spark SQL differ
        # (a sum of decimals, say). dbt's model contract holds a Spark model to its port's types
        # on the cluster, before the port is exported (docs/contracts.md).
        return problems
    ports = {p.asset_key: p for d in mesh.domains for p in d.output_ports}
    made = model_columns(domain, compiled, ports)
    for port in domain.output_ports:
        if port.contract.model in made:
            node = manifest["nodes"][f"model.{domain.name}.{port.contract.model}"]
            problems += _model_problems(port, made[port.contract.model], domain.dbt_project_dir / node["original_file_path"])
    return problems


def _domain_cases(domain: Domain, around: Survey) -> list[Case]:
    dbt: list[Problem] = []
    manifest = collect(dbt, load_manifest, domain)
    # The project as it is now (the prepared manifest while nothing changed): the policies judge
    # the models' SQL as written, not as last prepared.
    compiled = collect(dbt, compiled_manifest, domain.dbt_project_dir, around.mesh) if manifest is not None else None
    if manifest is not None:
        dbt += _contract_model_problems(domain, manifest, compiled, around.mesh)
    # The domain's governance settings and own policies: a domain.yaml or policies.py problem.
    settings: list[Problem] = []
    policies = collect(settings, domain_policies, domain)
    found = [Case(domain.name, DBT_MODELS, tuple(dbt)), Case(domain.name, DESCRIPTORS, tuple(settings))]
    if policies is not None:
        findings = evaluate(Subject(around.mesh, domain, around.broken, compiled or manifest, mesh=around.mesh), policies)
        found += [Case(domain.name, p.id, tuple(f for f in findings if f.policy == p.id)) for p in policies]
    return found


def cases(root: Path) -> list[Case]:
    """What `mesh check` judges in the mesh rooted at `root` (the folder of workspace.yaml): per
    domain, its descriptors, their agreement with its dbt models, and each policy it is held to. A
    domain that does not load is judged no further than its descriptors."""
    around = survey(root / "workspace.yaml")
    found = [Case(location, DESCRIPTORS, tuple(problems)) for location, problems in around.problems.items()]
    for domain in around.mesh.domains:
        found += _domain_cases(domain, around)
    return found


def problems_of(found: list[Case]) -> list[Problem]:
    # A finding shared by several domains (a cycle between them) is reported once.
    return list(dict.fromkeys(p for case in found for p in case.problems))


def check(root: Path) -> list[Problem]:
    """Every problem and policy finding of the mesh rooted at `root` (the folder of workspace.yaml)."""
    return problems_of(cases(root))


def _load_product(descriptor: Path) -> None:
    # Outside a domain's folder the descriptor's own domain is taken at its word.
    home = home_of(descriptor)
    product = load_product(descriptor.parent, home or Home(field(load_yaml(descriptor), "domain"), descriptor.parent.name))
    if home is not None:
        _bind_in_workspace(descriptor, product)


def _bind_in_workspace(descriptor: Path, product) -> None:
    """A product of a workspace's domain: its input ports bound as the mesh binds them, so a
    mistyped contract id is found in the file that has it."""
    workspace = descriptor.parents[4] / "workspace.yaml"  # <root>/domains/<domain>/products/<product>/
    if not workspace.is_file():
        return
    problems = survey(workspace).unbound(product.input_ports)
    if problems:
        raise DescriptorError(problems)


def _load_domain(domain_file: Path) -> None:
    domain_policies(load_domain(domain_file.parent))


def linter(path: Path) -> Callable[[Path], object] | None:
    """How the file is loaded on its own, told by its name; None for a file that is no descriptor."""
    if path.name.endswith(CONTRACT_SUFFIX):
        return load_contract
    return {DESCRIPTOR_FILE: _load_product, DOMAIN_FILE: _load_domain}.get(path.name)


def lint(path: Path) -> list[Case]:
    """One descriptor file as its loader reads it: the standard's schema (ODCS, ODPS) and the
    platform's rules. A product descriptor is read with the contracts it names, a domain.yaml with
    its products and governance settings; no workspace, dbt project or other domain is needed."""
    if path.name.endswith(CONTRACT_SUFFIX):
        return _lint_contract(path)
    problems: list[Problem] = []
    collect(problems, linter(path), path)
    return [Case("mesh check", str(path), tuple(problems), path)]


def _lint_contract(path: Path) -> list[Case]:
    """Whether the file is valid ODCS (the standard's own schema, nothing more: a contract written by
    other tools is judged as they would be) and, if it is, what the mesh's profile still needs. A
    contract in a domain's product folder is judged as it is published: with what its folder says
    filled in (descriptors.derived)."""
    standard: list[Problem] = []
    doc = collect(standard, load_yaml, path)
    home = collect(standard, home_of, path)
    restated = complete_contract(doc, home) if doc is not None and home is not None else ()
    version = collect(standard, validate_odcs, doc) if doc is not None else None
    if version is None:
        return [Case(ODCS, str(path), tuple(standard), path, verdict=f"{path}: not valid ODCS")]
    profile: list[Problem] = [*restated]
    collect(profile, load_contract, path)
    # Not counted: within one column the profile reports its first finding only.
    needs = "and the mesh's profile needs what is below" if profile else "and meets the mesh's profile"
    filled = ", with what its folder says filled in" if home is not None else ""
    return [Case(ODCS, str(path), (), path, verdict=f"{path}: valid ODCS (the standard's schema {version}{filled}), {needs}"),
            Case(PROFILE, str(path), tuple(replace(p, policy=PROFILE) for p in profile), path)]


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


def _refusal(path: Path, against_ref: str | None) -> str | None:
    """Why the command line cannot be checked, if it cannot."""
    if path.is_file():
        if linter(path) is None:
            return f"{path} is no contract (*{CONTRACT_SUFFIX}), product descriptor ({DESCRIPTOR_FILE}) or {DOMAIN_FILE}"
        return "--against diffs the mesh's contracts: give the folder of the mesh" if against_ref else None
    return None if (path / "workspace.yaml").is_file() else f"{path} has no workspace.yaml; give the folder of a mesh, or one descriptor file"


def _judge(path: Path, against_ref: str | None) -> list[Case]:
    if path.is_file():
        return lint(path)
    found = cases(path)
    if against_ref:
        found.append(Case(f"against {against_ref}", POLICY, tuple(against(path, against_ref, survey(path / "workspace.yaml").mesh))))
    return found


def run(args) -> int:
    path = Path(args.path or MESH_ROOT).resolve()
    refused = _refusal(path, args.against)
    if refused:
        print(f"mesh check: {refused}", file=sys.stderr)
        return 2
    found = _judge(path, args.against)
    problems = problems_of(found)
    for case in found:
        if case.verdict and not args.json:
            print(case.verdict)
    print(render(problems, args.json))
    if args.junit:
        write_junit(found, Path(args.junit))
    return exit_code(problems)
