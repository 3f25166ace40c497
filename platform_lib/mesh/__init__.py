"""The whole mesh: every domain listed in workspace.yaml, and how their ports connect."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from graphlib import CycleError, TopologicalSorter
from pathlib import Path


from platform_lib.descriptors.domain import Domain, load_domain
from platform_lib.descriptors.errors import DescriptorError, Problem, collect
from platform_lib.descriptors.fields import field
from platform_lib.descriptors.keys import port_key_of_contract
from platform_lib.descriptors.producers import ProducerIndex
from platform_lib.descriptors.product import DESCRIPTOR_FILE, InputPort, OutputPort, Product
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.settings import WORKSPACE_FILE


def domain_folders(workspace_file: Path = WORKSPACE_FILE) -> dict[str, Path]:
    """Code location name -> domain folder, in workspace order. Domains are the `python_file`
    entries; the platform's own locations (governance) load a `python_module`."""
    doc = load_yaml(workspace_file)
    entries = field(doc, "load_from", kind=list)
    folders = {}
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and "python_module" in entry:
            continue
        location = field(doc, "load_from", i, "python_file", "location_name")
        relative = field(doc, "load_from", i, "python_file", "relative_path")
        folders[location] = (workspace_file.parent / relative).parent
    return folders


@dataclass(frozen=True)
class Mesh(ProducerIndex):
    domains: tuple[Domain, ...]

    @cached_property
    def ports_by_contract(self) -> dict[tuple[str, int], OutputPort]:
        """(contract id, major) -> port: each live major of a contract is its own port."""
        return {(port.contract.id, port.contract.major): port for d in self.domains for port in d.output_ports}

    def producer_of(self, port: InputPort) -> OutputPort | None:
        return self.ports_by_contract.get((port.contract_id, port.major))

    def consumers_of(self, port: OutputPort) -> list[tuple[Product, InputPort]]:
        key = (port.contract.id, port.contract.major)
        return [(p, i) for d in self.domains for p in d.products for i in p.input_ports if (i.contract_id, i.major) == key]

    def live_majors(self, contract_id: str) -> list[int]:
        return sorted(major for (cid, major) in self.ports_by_contract if cid == contract_id)

    def contacts(self, port: OutputPort) -> list[str]:
        products = [p for d in self.domains if d.name == port.domain for p in d.products if p.name == port.product]
        return [c for product in products for c in (product.owner, *product.support) if c]

    def upstream_domains(self, domain: Domain) -> set[str]:
        """The domains whose ports it reads, by the contract ids' convention: their descriptors
        need not be in this workspace (a domain deployed from its own repository)."""
        keys = (port_key_of_contract(p.contract_id, p.major) for p in domain.input_ports)
        return {key[0] for key in keys if key is not None} - {domain.name}

    def downstream_domains(self, name: str) -> set[str]:
        """The domains that read its ports, directly or through others. `name` need not have
        loaded: its consumers name it in their contract ids."""
        found: set[str] = set()
        reached = {name}
        while reached:
            reached = {d.name for d in self.domains if self.upstream_domains(d) & reached} - found
            found |= reached
        return found

    def domain(self, name: str) -> Domain:
        for d in self.domains:
            if d.name == name:
                return d
        raise KeyError(f"no domain {name!r} in the workspace; known: {', '.join(d.name for d in self.domains)}")

    def run_order(self) -> list[str]:
        """Domains, producers before their consumers."""
        graph = {d.name: self.upstream_domains(d) for d in self.domains}
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise ValueError(f"domains depend on each other in a cycle: {' -> '.join(exc.args[1])}") from None


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


def survey(workspace_file: Path = WORKSPACE_FILE, loaded: Domain | None = None) -> Survey:
    """`loaded`: a domain the caller already loaded, used as is rather than read again."""
    problems: dict[str, list[Problem]] = {"workspace": []}
    folders = collect(problems["workspace"], domain_folders, workspace_file)
    domains, broken = [], set()
    for location, folder in (folders or {}).items():
        problems[location] = []
        domain = loaded if loaded is not None and loaded.folder == folder else collect(problems[location], load_domain, folder)
        if domain is None:
            broken |= _declared_contracts(folder)
        else:
            domains.append(domain)
    return Survey(Mesh(tuple(domains)), {k: v for k, v in problems.items() if v}, frozenset(broken))


def _declared_contracts(folder: Path) -> set[str]:
    """Contract ids a domain's descriptors declare, read leniently (the domain failed to load)."""
    ids = set()
    for path in folder.glob(f"products/*/{DESCRIPTOR_FILE}"):
        try:
            document = load_yaml(path).data
        except DescriptorError:
            continue  # reported by the domain's own load
        # Any list but inputPorts: the list holding the output ports may be the misspelled field.
        lists = [v for k, v in document.items() if k != "inputPorts" and isinstance(v, list)]
        ids |= {p.get("contractId") for items in lists for p in items if isinstance(p, dict)}
    return ids
