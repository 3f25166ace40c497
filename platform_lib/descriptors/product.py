"""ODPS v1 product descriptors: a product's identity, team, and its input and output ports. Like a
contract's, the product and each input port know where they were written (yaml_file.Located)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platform_lib.descriptors.contract import Contract, load_contract
from platform_lib.descriptors.fields import custom_property, field, major_of, name_field
from platform_lib.descriptors.keys import port_key
from platform_lib.descriptors.standards import validate_odps
from platform_lib.descriptors.yaml_file import Located, Place, load_yaml

DESCRIPTOR_FILE = "product.odps.yaml"


@dataclass(frozen=True)
class InputPort(Located):
    name: str
    contract_id: str
    major: int
    # The role of the producer's contract this port reads with (product customProperties inputRoles).
    role: str | None


@dataclass(frozen=True)
class OutputPort:
    domain: str
    product: str
    name: str
    contract: Contract

    @property
    def asset_key(self) -> tuple[str, str]:
        """Each major version is its own asset: consumers bind to one, and two can live side by side."""
        return port_key(self.domain, self.name, self.contract.major)


@dataclass(frozen=True)
class Product(Located):
    id: str
    name: str
    domain: str
    version: str
    status: str
    description: str
    owner: str | None
    support: tuple[str, ...]
    input_ports: tuple[InputPort, ...]
    output_ports: tuple[OutputPort, ...]
    file: Path


def _owner(doc) -> str | None:
    """Missing owners are a governance finding (policy product-ownership), not a load error."""
    for i, member in enumerate(field(doc, "team", kind=list, default=[])):
        if member.get("role") == "owner":
            return field(doc, "team", i, "username")
    return None


def contract_file(folder: Path, port: str, major: int) -> Path:
    """`<port>.odcs.yaml`, or `<port>.v<major>.odcs.yaml` for a major kept live beside a newer one."""
    versioned = folder / f"{port}.v{major}.odcs.yaml"
    return versioned if versioned.exists() else folder / f"{port}.odcs.yaml"


def _input_roles(doc, input_names: list[str]) -> dict[str, str]:
    where, roles = custom_property(doc, name="inputRoles", default={})
    if not isinstance(roles, dict):
        raise doc.fail("inputRoles maps each input port name to the producer's role it reads with", *where)
    for name in roles:
        if name not in input_names:
            raise doc.fail(f"{name!r} is not an input port of this product ({', '.join(input_names) or 'none'})", *where, name)
    return roles


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
    roles = _input_roles(doc, [name_field(doc, "inputPorts", i, "name") for i in range(len(inputs))])
    outputs = field(doc, "outputPorts", kind=list)
    output_ports = []
    for i in range(len(outputs)):
        port_name = name_field(doc, "outputPorts", i, "name")
        major = major_of(doc, "outputPorts", i, "version")
        contract_path = contract_file(folder, port_name, major)
        if not contract_path.exists():
            raise doc.fail(f"no contract {contract_path.name} next to the descriptor: every output port needs one", "outputPorts", i, "name")
        contract = load_contract(contract_path)
        if contract.id != field(doc, "outputPorts", i, "contractId"):
            raise doc.fail(f"names contract {field(doc, 'outputPorts', i, 'contractId')!r} but {contract_path.name} has id {contract.id!r}", "outputPorts", i, "contractId")
        if contract.major != major:
            raise doc.fail(f"declares major version {major} but {contract_path.name} is version {contract.version}; "
                           f"keep an older major in {port_name}.v{major}.odcs.yaml", "outputPorts", i, "version")
        output_ports.append(OutputPort(domain, name, port_name, contract))
    return Product(
        id=field(doc, "id"),
        name=name,
        domain=domain,
        version=str(field(doc, "version")),
        status=field(doc, "status"),
        description=field(doc, "description", "purpose"),
        owner=_owner(doc),
        support=tuple(s["channel"] for s in field(doc, "support", kind=list, default=[])),
        input_ports=tuple(
            InputPort(
                name=name_field(doc, "inputPorts", i, "name"),
                contract_id=field(doc, "inputPorts", i, "contractId"),
                major=major_of(doc, "inputPorts", i, "version"),
                role=roles.get(field(doc, "inputPorts", i, "name")),
                place=Place(doc, ("inputPorts", i)),
            )
            for i in range(len(inputs))
        ),
        output_ports=tuple(output_ports),
        file=path,
        place=Place(doc),
    )
