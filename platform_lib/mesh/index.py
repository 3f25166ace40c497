"""The mesh's domains indexed: which port publishes a contract, who reads it, and the one graph of
domains their ports make, which gives the order domains run in (producers first), their cycles and
their columns when drawn."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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

    def domain(self, name: str) -> Domain:
        for d in self.domains:
            if d.name == name:
                return d
        raise KeyError(f"no domain {name!r} in the workspace; known: {', '.join(d.name for d in self.domains)}")

    @cached_property
    def upstream(self) -> Mapping[str, frozenset[str]]:
        """Each domain -> the domains whose ports it reads, by the contract ids' convention rather
        than `producer_of`: a producer is upstream even when its descriptors are not in this
        workspace (a domain deployed from its own repository) or it does not publish the major read."""
        def producers(domain: Domain) -> frozenset[str]:
            keys = (port_key_of_contract(p.contract_id, p.major) for p in domain.input_ports)
            return frozenset(key[0] for key in keys if key is not None) - {domain.name}

        return {d.name: producers(d) for d in self.domains}

    @cached_property
    def _downstream(self) -> dict[str, set[str]]:
        """`upstream` reversed; its keys include producers that did not load."""
        consumers: dict[str, set[str]] = {}
        for name, producers in self.upstream.items():
            for producer in producers:
                consumers.setdefault(producer, set()).add(name)
        return consumers

    def downstream_domains(self, name: str) -> set[str]:
        """The domains that read its ports, directly or through others. `name` need not have
        loaded: its consumers name it in their contract ids."""
        return _reachable(name, self._downstream)

    def upstream_among(self, names: Iterable[str]) -> dict[str, set[str]]:
        """Each of `names` -> those of `names` upstream of it, directly or through any domain."""
        among = set(names)
        return {name: _reachable(name, self.upstream) & among for name in among}

    def cycle_through(self, name: str) -> list[str] | None:
        """A cycle through `name` of domains each reading the next's ports (the last the first's),
        or None. It starts at its smallest name, so every domain on it names the same cycle."""
        stack, seen = [(name, [name])], set()
        while stack:
            node, path = stack.pop()
            for producer in sorted(self.upstream.get(node, ())):
                if producer == name:
                    first = path.index(min(path))
                    return path[first:] + path[:first]
                if producer not in seen:
                    seen.add(producer)
                    stack.append((producer, path + [producer]))
        return None

    @cached_property
    def depths(self) -> dict[str, int]:
        """Each domain's column when drawn: 0 if it reads no domain of the workspace, else one
        right of its deepest producer."""
        depth: dict[str, int] = {}

        def visit(name: str, seen: frozenset[str] = frozenset()) -> int:
            if name not in depth:
                # A cycle is a governance violation (acyclic-domains); drawing it must still terminate.
                producers = (p for p in self.upstream[name] if p in self.upstream and p not in seen)
                depth[name] = 1 + max((visit(p, seen | {name}) for p in producers), default=-1)
            return depth[name]

        for name in self.upstream:
            visit(name)
        return depth

    def run_order(self) -> list[str]:
        """Domains, producers before their consumers."""
        try:
            return list(TopologicalSorter(self.upstream).static_order())
        except CycleError as exc:
            raise ValueError(f"domains depend on each other in a cycle: {' -> '.join(exc.args[1])}") from None


def _reachable(start: str, edges: Mapping[str, Iterable[str]]) -> set[str]:
    """What `edges` lead to from `start`, in one step or more (`start` itself only on a cycle)."""
    found: set[str] = set()
    reached = {start}
    while reached:
        reached = {node for r in reached for node in edges.get(r, ())} - found
        found |= reached
    return found
