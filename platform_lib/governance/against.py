"""`mesh check --against REF`: every contract changed since a git ref, diffed with its version at
the ref. A breaking change without a new major version is a violation that names the consumers
whose dbt models use the affected columns: they are the ones the change would break."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from platform_lib.descriptors.dbt_manifest import load_manifest, models_reading
from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.descriptors.keys import port_key
from platform_lib.descriptors.versions import parse_version
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.governance.evolution import Change, diff_contracts, read_contract_version, semver_violations
from platform_lib.mesh import Mesh

POLICY = "contract-evolution"


def changed_contracts(root: Path, ref: str) -> list[str]:
    """Contract files (relative to root) that differ between the ref and the working tree."""
    result = subprocess.run(
        ["git", "diff", "--name-only", "--relative", ref, "--", "*.odcs.yaml"], cwd=root, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise ValueError(f"git cannot diff {root} against {ref!r}: {result.stderr.strip()}")
    return result.stdout.split()


def _uses(model: dict, column: str | None) -> bool:
    code = model.get("raw_code", "")
    return column is None or re.search(rf"\b{re.escape(column)}\b", code) is not None or re.search(r"select\s+\*", code, re.I) is not None


def affected_consumers(mesh: Mesh, old: dict, breaking: list[Change]) -> list[str]:
    """`domain.product (model uses col, ...)` for each consumer of the old major using an affected column."""
    major = parse_version(old["version"]).major
    key = port_key(old["domain"], old["name"], major)
    found = []
    for domain in mesh.domains:
        readers = [p for p in domain.products if any((i.contract_id, i.major) == (old["id"], major) for i in p.input_ports)]
        if not readers:
            continue
        try:
            models = models_reading(load_manifest(domain), key)
        except DescriptorError:
            models = []
        for product in readers:
            uses = sorted({f"{m['name']} uses {c.column or 'the port'}" for m in models for c in breaking if _uses(m, c.column)})
            if uses or not models:
                found.append(f"{domain.name}.{product.name} ({'; '.join(uses) or 'reads the port'})")
    return found


def against(root: Path, ref: str, mesh: Mesh) -> list[Problem]:
    problems = []
    for relative in changed_contracts(root, ref):
        _, old = read_contract_version(f"{ref}:./{relative}", root)
        path = root / relative
        if old is None:
            continue  # a new contract breaks no one
        written = load_yaml(path) if path.exists() else None
        new = written.data if written is not None else None
        changes = diff_contracts(old, new) if new is not None else [Change(True, "contract", None, "contract removed")]
        violations = semver_violations(old, new, changes) if new is not None else ["the contract was removed while its port may have consumers"]
        if not violations:
            continue
        breaking = [c for c in changes if c.breaking]
        consumers = affected_consumers(mesh, old, breaking) if breaking else []
        message = "; ".join(violations)
        if breaking:
            message += f". Breaking: {', '.join(c.message for c in breaking)}"
            message += f". Affected consumers: {', '.join(consumers)}" if consumers else ". No consumer uses the affected columns"
        problems.append(Problem(path, "version", message, written.line("version") if written is not None else None, policy=POLICY))
    return problems
