"""`mesh diff OLD NEW`: what changed between two versions of a contract, which changes break its
consumers, and whether the new version number says so. Exits 1 when it does not (semver
violations), else 0: breaking changes under a new major version are allowed."""

from __future__ import annotations

import json
from pathlib import Path

from platform_lib.governance.evolution import Change, diff_contracts, read_contract_version, semver_violations


def diff(old_spec: str, new_spec: str, cwd: Path) -> tuple[list[Change], list[str]]:
    """Specs are file paths or GITREF:path, e.g. `origin/main:domains/sales/products/orders/orders.odcs.yaml`."""
    old_label, old = read_contract_version(old_spec, cwd)
    new_label, new = read_contract_version(new_spec, cwd)
    # A contract missing on one side has no version to compare: report what happened, judge nothing.
    if old is None:
        return [Change(False, "contract", None, f"new contract ({old_label} does not exist)")], []
    if new is None:
        return [Change(True, "contract", None, f"contract removed ({new_label} does not exist)")], []
    changes = diff_contracts(old, new)
    return changes, semver_violations(old.version, new.version, changes)


def render(changes: list[Change], violations: list[str], as_json: bool) -> str:
    if as_json:
        return json.dumps({
            "changes": [{"breaking": c.breaking, "field": c.field, "column": c.column, "message": c.message} for c in changes],
            "semver": violations,
        }, indent=2)
    width = max((len(c.field) for c in changes), default=5)
    lines = [f"{'class':<10}  {'field':<{width}}  change"] if changes else ["no changes"]
    lines += [f"{'BREAKING' if c.breaking else 'compatible':<10}  {c.field:<{width}}  {c.message}" for c in changes]
    return "\n".join(lines + [f"semver: {v}" for v in violations])
