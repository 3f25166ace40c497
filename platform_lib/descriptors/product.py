"""ODPS v1 product descriptors: a product's identity, team, and its input and output ports. Like a
contract's, the product and each input port know where they were written (yaml_file.Located).

What the product's folder says need not be written (descriptors.derived): its id, name, domain,
team, support, and its output ports, one per contract file of the folder."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

from platform_lib.descriptors.contract import Contract, load_contract
from platform_lib.descriptors.derived import Home, complete_product, contract_files, port_of
from platform_lib.descriptors.errors import DescriptorError, Problem, collect
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
    # What it states that its folder or domain.yaml say otherwise (descriptors.derived): the naming policy's.
    restated: tuple[Problem, ...] = dataclass_field(default=(), compare=False)


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


def _folder_contracts(folder: Path, home: Home) -> dict[Path, Contract]:
    """Every contract file of the product's folder, loaded; all their problems at once."""
    problems: list[Problem] = []
    loaded = {path: collect(problems, load_contract, path, None, home) for path in contract_files(folder)}
    if problems:
        raise DescriptorError(problems)
    return loaded


def load_product(folder: Path, home: Home) -> Product:
    path = folder / DESCRIPTOR_FILE
    doc = load_yaml(path)
    contracts = _folder_contracts(folder, home)
    # The newest major of a port first: a product of one port is described by its current contract.
    newest_first = sorted(contracts.items(), key=lambda item: (port_of(item[0])[0], port_of(item[0])[1] is not None))
    restated = complete_product(doc, home, [(port_of(p)[0], c) for p, c in newest_first])
    validate_odps(doc)
    name = name_field(doc, "name")
    if name != folder.name:
        raise doc.fail(f"must equal the product's folder name {folder.name!r}", "name")
    domain = home.domain
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
        if contract_path not in contracts:
            raise doc.fail(f"no contract {contract_path.name} next to the descriptor: every output port needs one", "outputPorts", i, "name")
        contract = contracts[contract_path]
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
        restated=restated,
        place=Place(doc),
    )
