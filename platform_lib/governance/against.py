"""`mesh check --against REF`: every contract changed since a git ref, diffed with its version at
the ref. A breaking change without a new major version is a violation that names what it would
break, by the mesh's column lineage: each consumer port column derived from a changed column (the
consumers reading the port directly, then further downstream through other domains), and each
consumer port whose rows are filtered or joined on it. A change to the whole port (a grant
withdrawn, the contract removed) names every consumer port reading it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from platform_lib.dbt.compile import compiled_manifest
from platform_lib.descriptors.contract import Contract, load_contract
from platform_lib.descriptors.errors import Problem, collect
from platform_lib.descriptors.keys import port_key, port_key_of_contract, table_name
from platform_lib.descriptors.product import OutputPort
from platform_lib.governance.evolution import Change, diff_contracts, read_contract_version, semver_violations
from platform_lib.lineage.columns import Dep
from platform_lib.lineage.graph import ColumnGraph, column_graph
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


@dataclass(frozen=True)
class Judged:
    """A contract changed since the ref: its version at the ref, its version now (None: removed),
    the changes and the version rules they break."""

    path: Path
    old: Contract
    new: Contract | None
    changes: list[Change]
    violations: list[str]

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]


def _judged(root: Path, ref: str, relative: str) -> Judged | None:
    """The contract file's changes since the ref; None for a contract new since."""
    _, old = read_contract_version(f"{ref}:./{relative}", root)
    if old is None:
        return None  # a new contract breaks no one
    path = root / relative
    if not path.exists():
        return Judged(path, old, None, [Change(True, "contract", None, "contract removed")],
                      ["the contract was removed while its port may have consumers"])
    new = load_contract(path)
    changes = diff_contracts(old, new)
    return Judged(path, old, new, changes, semver_violations(old.version, new.version, changes))


@dataclass(frozen=True)
class Reading:
    """The mesh as its consumers read it today: each changed port with its contract as at the ref,
    the version their SQL was written against, so a column removed since is one they still read
    (typed by the working tree's contract, their SQL would not even trace)."""

    mesh: Mesh
    # The mesh as the working tree has it: what the generated dbt sources are written from.
    working: Mesh

    @cached_property
    def graph(self) -> ColumnGraph:
        # Each domain's manifest is compiled with its sources as the working tree writes them: with
        # the ref's contracts they would be rewritten, and every prepared manifest made stale.
        return column_graph(self.mesh, lambda domain: compiled_manifest(domain.dbt_project_dir, self.working))


def reading(mesh: Mesh, judged: list[Judged]) -> Reading:
    """The working tree's mesh, each judged contract's port as at the ref."""
    at_ref = {(j.old.id, j.old.major): j.old for j in judged}

    def product(p):
        return replace(p, output_ports=tuple(replace(o, contract=at_ref.get((o.contract.id, o.contract.major), o.contract)) for o in p.output_ports))

    return Reading(Mesh(tuple(replace(d, products=tuple(map(product, d.products))) for d in mesh.domains)), mesh)


def _consumer_ports(mesh: Mesh, key: tuple[str, str]) -> list[OutputPort]:
    """The output ports of every product reading the port."""
    readers = [p for d in mesh.domains for p in d.products if any(port_key_of_contract(i.contract_id, i.major) == key for i in p.input_ports)]
    return sorted((port for product in readers for port in product.output_ports), key=lambda port: port.asset_key)


def _named(dep: Dep) -> str:
    return f"{table_name(dep.key)}.{dep.column} ({dep.kind})"


def _column_consumers(read: Reading, key: tuple[str, str], column: str) -> str | None:
    """What a change to one column hits: the consumer port columns derived from it, the consumer
    ports whose rows are selected by it, and those whose lineage is not known; then the port
    columns derived from those, further downstream."""
    graph = read.graph
    direct = graph.readers((key, column))
    hit = [_named(dep) for dep in direct]
    hit += [f"{table_name(port)} (rows {kind})" for port, kind in graph.row_readers((key, column))]
    hit += [f"{table_name(port.asset_key)} (column lineage unknown)" for port in _consumer_ports(read.mesh, key) if port.asset_key in graph.errors]
    if not hit:
        return None
    further = list(dict.fromkeys(_named(step.dep) for step in graph.downstream((key, column)) if step.depth > 1 and step.dep not in direct))
    return f"Affected consumers of {column}: {', '.join(hit)}" + (f"; further downstream: {', '.join(further)}" if further else "")


def affected_consumers(read: Reading, old: Contract, breaking: list[Change]) -> list[str]:
    """Sentences naming what the breaking changes of a contract (its version at the ref) hit: one
    per column they hit, each consumer named `domain.port_vN.column (kind)`; for a change to the
    whole port, one naming each consumer port reading it."""
    key = port_key(old.domain, old.name, old.major)
    if any(c.column is None for c in breaking):
        consumers = _consumer_ports(read.mesh, key)
        return [f"Affected consumers of the port: {', '.join(table_name(p.asset_key) for p in consumers)}" if consumers else "No consumer reads the port"]
    found = [sentence for column in sorted({c.column for c in breaking}) if (sentence := _column_consumers(read, key, column))]
    return found or ["No consumer uses the affected columns"]


def _problem(judged: Judged, read: Reading) -> Problem:
    message = "; ".join(judged.violations)
    if judged.breaking:
        message += f". Breaking: {', '.join(c.message for c in judged.breaking)}"
        message += "".join(f". {sentence}" for sentence in affected_consumers(read, judged.old, judged.breaking))
    found = Problem(judged.path, "version", message) if judged.new is None else judged.new.problem(message, "version")
    return replace(found, policy=POLICY)


def against(root: Path, ref: str, mesh: Mesh) -> list[Problem]:
    """The version rules each contract changed since the ref breaks. A version that does not load is
    not compared: what refuses it is reported instead (a contract as at the ref too, by the rules of now)."""
    problems: list[Problem] = []
    judged = [j for relative in changed_contracts(root, ref) if (j := collect(problems, _judged, root, ref, relative)) is not None and j.violations]
    read = reading(mesh, judged)
    return problems + [_problem(j, read) for j in judged]
