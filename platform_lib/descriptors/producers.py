"""Where a consumer's input ports find their producers. Two answers to one question: the whole
mesh's descriptors (`mesh check`, the repository's CI gate) or the port catalog, which holds what
producers published (a code location at load, which sees no other domain's files)."""

from __future__ import annotations

from difflib import get_close_matches

from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.product import InputPort, OutputPort


class ProducerIndex:
    def producer_of(self, port: InputPort) -> OutputPort | None:
        raise NotImplementedError

    def live_majors(self, contract_id: str) -> list[int]:
        raise NotImplementedError

    def contacts(self, port: OutputPort) -> list[str]:
        """The producing product's owner and support channels (none if it is not known here)."""
        raise NotImplementedError

    def contract_ids(self) -> set[str]:
        """Every contract id this index knows, to suggest one for a mistyped id; none by default (a
        code location reads only the ports it binds, never a list of all)."""
        return set()

    def closest_contract(self, contract_id: str) -> str | None:
        """A known contract id close to a mistyped one. Contract ids share a long prefix: only a
        near-identical one is likely what was meant."""
        near = get_close_matches(contract_id, sorted(self.contract_ids()), n=1, cutoff=0.9)
        return near[0] if near else None

    def producer_port(self, port: InputPort) -> OutputPort:
        producer = self.producer_of(port)
        if producer is None:
            live = self.live_majors(port.contract_id)
            near = None if live else self.closest_contract(port.contract_id)
            also = f" (live majors: {', '.join(map(str, live))})" if live else f" (did you mean {near!r}?)" if near else ""
            raise DescriptorError([port.problem(f"no output port {self.WHERE} publishes contract {port.contract_id!r} at major version {port.major}{also}", "contractId")])
        return producer

    def whom_to_ask(self, port: OutputPort) -> str:
        contacts = self.contacts(port)
        return f"the {port.domain} domain ({', '.join(contacts)})" if contacts else f"the {port.domain} domain"

    WHERE = "in the mesh"


class Layered(ProducerIndex):
    """The first index that knows a producer answers: the workspace's own domains, then what
    the port catalog publishes for producers deployed elsewhere (the governance location)."""

    def __init__(self, *indexes: ProducerIndex):
        self.indexes = indexes

    def producer_of(self, port: InputPort) -> OutputPort | None:
        return next((found for index in self.indexes if (found := index.producer_of(port)) is not None), None)

    def live_majors(self, contract_id: str) -> list[int]:
        return sorted({major for index in self.indexes for major in index.live_majors(contract_id)})

    def contacts(self, port: OutputPort) -> list[str]:
        return next((found for index in self.indexes if (found := index.contacts(port))), [])

    def contract_ids(self) -> set[str]:
        return set().union(*(index.contract_ids() for index in self.indexes))
