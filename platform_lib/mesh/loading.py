"""Reading the mesh from workspace.yaml: every domain or an error (`load_mesh`), or as far as it
loads, with the problems of the domains that do not (`survey`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from platform_lib.descriptors.domain import Domain, load_domain
from platform_lib.descriptors.errors import Problem, collect
from platform_lib.descriptors.keys import port_key_of_contract
from platform_lib.descriptors.product import InputPort
from platform_lib.mesh.broken import declared_contracts
from platform_lib.mesh.index import Mesh
from platform_lib.mesh.workspace import domain_folders
from platform_lib.settings import WORKSPACE_FILE


def load_mesh(workspace_file: Path = WORKSPACE_FILE) -> Mesh:
    return Mesh(tuple(load_domain(folder) for folder in domain_folders(workspace_file).values()))


@dataclass(frozen=True)
class Survey:
    """The mesh as far as it loads: the domains that do, and the problems of those that do not."""

    mesh: Mesh
    # Per domain that failed to load (by code location name), or under "workspace".
    problems: dict[str, list[Problem]]
    # Contract ids declared by domains that failed to load: their consumers' references to them are
    # not reported again (the error is where the producer broke).
    broken: frozenset[str]

    def unbound(self, ports: Iterable[InputPort]) -> list[Problem]:
        """Each port to a contract that a domain of the workspace should publish and does not (a
        mistyped id, a major never published), with a "did you mean". A producer outside the
        workspace, or one that does not load, is not judged here."""
        names = {d.name for d in self.mesh.domains} | set(self.problems)
        problems: list[Problem] = []
        for port in ports:
            key = port_key_of_contract(port.contract_id, port.major)
            if key is not None and key[0] in names and port.contract_id not in self.broken:
                collect(problems, self.mesh.producer_port, port)
        return problems


def survey(workspace_file: Path = WORKSPACE_FILE, loaded: Domain | None = None) -> Survey:
    """`loaded`: a domain the caller already loaded, used as is rather than read again."""
    problems: dict[str, list[Problem]] = {"workspace": []}
    folders = collect(problems["workspace"], domain_folders, workspace_file)
    domains, broken = [], set()
    for location, folder in (folders or {}).items():
        problems[location] = []
        domain = loaded if loaded is not None and loaded.folder == folder else collect(problems[location], load_domain, folder)
        if domain is None:
            broken |= declared_contracts(folder)
        else:
            domains.append(domain)
    return Survey(Mesh(tuple(domains)), {k: v for k, v in problems.items() if v}, frozenset(broken))
