"""The whole mesh: every domain listed in workspace.yaml, and how their ports connect."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from platform_lib.descriptors.domain import Domain, load_domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.fields import field
from platform_lib.descriptors.product import InputPort, OutputPort, Product
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.settings import WORKSPACE_FILE


def domain_folders(workspace_file: Path = WORKSPACE_FILE) -> dict[str, Path]:
    """Code location name -> domain folder, in workspace order."""
    doc = load_yaml(workspace_file)
    entries = field(doc, "load_from", kind=list)
    folders = {}
    for i in range(len(entries)):
        location = field(doc, "load_from", i, "python_file", "location_name")
        relative = field(doc, "load_from", i, "python_file", "relative_path")
        folders[location] = (workspace_file.parent / relative).parent
    return folders


@dataclass(frozen=True)
class Mesh:
    domains: tuple[Domain, ...]

    @cached_property
    def ports_by_contract(self) -> dict[str, OutputPort]:
        return {port.contract.id: port for d in self.domains for port in d.output_ports}

    def producer_port(self, product: Product, port: InputPort) -> OutputPort:
        producer = self.ports_by_contract.get(port.contract_id)
        if producer is None or producer.contract.major != port.major:
            raise DescriptorError(
                [load_yaml(product.file).problem(
                    f"no output port in the mesh publishes contract {port.contract_id!r} at major version {port.major}",
                    "inputPorts", product.input_ports.index(port), "contractId",
                )]
            )
        return producer

    def upstream_domains(self, domain: Domain) -> set[str]:
        return {self.producer_port(product, p).domain for product in domain.products for p in product.input_ports} - {domain.name}

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
