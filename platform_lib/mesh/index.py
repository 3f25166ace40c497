"""The mesh's domains indexed: which port publishes a contract, who reads it, and the order domains
run in (producers first)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from graphlib import CycleError, TopologicalSorter

from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.keys import port_key_of_contract
from platform_lib.descriptors.producers import ProducerIndex
from platform_lib.descriptors.product import InputPort, OutputPort, Product


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

    def contract_ids(self) -> set[str]:
        return {cid for cid, _ in self.ports_by_contract}

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
