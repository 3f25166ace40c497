"""ODPS v1 product descriptors: a product's identity, team, and its input and output ports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platform_lib.descriptors.contract import Contract, load_contract
from platform_lib.descriptors.fields import field, major_of, name_field
from platform_lib.descriptors.standards import validate_odps
from platform_lib.descriptors.yaml_file import load_yaml

DESCRIPTOR_FILE = "product.odps.yaml"


@dataclass(frozen=True)
class InputPort:
    name: str
    contract_id: str
    major: int


@dataclass(frozen=True)
class OutputPort:
    domain: str
    product: str
    name: str
    contract: Contract

    @property
    def asset_key(self) -> tuple[str, str]:
        """Each major version is its own asset: consumers bind to one, and two can live side by side."""
        return (self.domain, f"{self.name}_v{self.contract.major}")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    domain: str
    version: str
    status: str
    description: str
    team: str
    input_ports: tuple[InputPort, ...]
    output_ports: tuple[OutputPort, ...]
    file: Path


def _owner(doc) -> str:
    members = field(doc, "team", kind=list)
    for i, member in enumerate(members):
        if member.get("role") == "owner":
            return field(doc, "team", i, "username")
    raise doc.fail("no team member has role: owner; every product needs an owner", "team")


def load_product(folder: Path, domain: str) -> Product:
    path = folder / DESCRIPTOR_FILE
    doc = load_yaml(path)
    validate_odps(doc)
    name = name_field(doc, "name")
    if name != folder.name:
        raise doc.fail(f"must equal the product's folder name {folder.name!r}", "name")
    if field(doc, "domain") != domain:
        raise doc.fail(f"must equal the domain that owns the folder, {domain!r}", "domain")
    inputs = field(doc, "inputPorts", kind=list, default=[])
    outputs = field(doc, "outputPorts", kind=list)
    output_ports = []
    for i in range(len(outputs)):
        port_name = name_field(doc, "outputPorts", i, "name")
        contract_file = folder / f"{port_name}.odcs.yaml"
        if not contract_file.exists():
            raise doc.fail(f"no contract {contract_file.name} next to the descriptor: every output port needs one", "outputPorts", i, "name")
        contract = load_contract(contract_file)
        if contract.id != field(doc, "outputPorts", i, "contractId"):
            raise doc.fail(f"names contract {field(doc, 'outputPorts', i, 'contractId')!r} but {contract_file.name} has id {contract.id!r}", "outputPorts", i, "contractId")
        output_ports.append(OutputPort(domain, name, port_name, contract))
    return Product(
        id=field(doc, "id"),
        name=name,
        domain=domain,
        version=str(field(doc, "version")),
        status=field(doc, "status"),
        description=field(doc, "description", "purpose"),
        team=_owner(doc),
        input_ports=tuple(
            InputPort(
                name=name_field(doc, "inputPorts", i, "name"),
                contract_id=field(doc, "inputPorts", i, "contractId"),
                major=major_of(doc, "inputPorts", i, "version"),
            )
            for i in range(len(inputs))
        ),
        output_ports=tuple(output_ports),
        file=path,
    )
