"""What a descriptor need not say, because its folder and its domain.yaml say it already.

A product's folder names the product, and the folder two above it the domain; a contract's file
name names its port (`<port>.odcs.yaml`, or `<port>.v<major>.odcs.yaml` for an older major kept
live); domain.yaml names the team and its support channels. From these the platform derives ids,
URNs, names, team, support, servers and a product's output ports, and fills them into the document
before the standard's schema judges it: what is published stays complete ODCS. A descriptor may
still state them; the naming policy then holds what it states to what its folder says.

domain.yaml may also say once what every port of the domain promises (`contractDefaults`: its
slaProperties, and table quality rules): a contract that states its own slaProperties keeps them,
and gets each default rule whose name it does not use.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_lib.descriptors.errors import Problem
from platform_lib.descriptors.keys import DOMAIN_FILE, contract_id, contract_parts, port_key, product_id, table_name
from platform_lib.descriptors.versions import parse_version
from platform_lib.descriptors.yaml_file import YamlDocument, load_yaml

CONTRACT_SUFFIX = ".odcs.yaml"
_CONTRACT_FILE = re.compile(r"(?P<port>[^.]+)(\.v(?P<major>[0-9]+))?" + re.escape(CONTRACT_SUFFIX))
# What a contract's folder and domain.yaml say of it: a contract brought from elsewhere leaves them to the folder.
FOLDER_SAYS = ("id", "name", "domain", "dataProduct", "team", "support", "servers")
# The standards' versions a descriptor that does not say is written in.
ODCS_VERSION, ODPS_VERSION = "v3.1.0", "v1.0.0"


@dataclass(frozen=True)
class Home:
    """What a product folder says: the domain and product it belongs to, and domain.yaml's team."""

    domain: str
    product: str
    team: str | None = None
    email: str | None = None
    support: tuple[dict, ...] = ()
    # domain.yaml contractDefaults: what every port promises unless its contract says otherwise.
    slas: tuple[dict, ...] = ()
    quality: tuple[dict, ...] = ()

    @classmethod
    def of_domain(cls, doc: YamlDocument, product: str) -> Home:
        """The home of a product of the domain whose domain.yaml is `doc`, read leniently: the
        domain's own load reports what is wrong with it."""
        team = _mapping(doc.data.get("team"))
        defaults = _mapping(doc.data.get("contractDefaults"))
        return cls(
            domain=doc.path.parent.name, product=product,
            team=team.get("name") if isinstance(team.get("name"), str) else None,
            email=team.get("email") if isinstance(team.get("email"), str) else None,
            support=_mappings(doc.data.get("support")),
            slas=_mappings(defaults.get("slaProperties")),
            quality=_mappings(defaults.get("quality")),
        )


def home_of(path: Path) -> Home | None:
    """The home of a descriptor laid out as domains/<domain>/products/<product>/<file>; None for one
    anywhere else (a contract brought from elsewhere is read as it is written)."""
    products = path.parent.parent
    domain_file = products.parent / DOMAIN_FILE
    if products.name != "products" or not domain_file.is_file():
        return None
    return Home.of_domain(load_yaml(domain_file), path.parent.name)


def as_published(doc: YamlDocument, where: Path) -> YamlDocument:
    """A contract document completed as its port would publish it, had it been written at `where`
    (a contract at another git ref is completed from the working tree's folder)."""
    home = home_of(where)
    if home is not None:
        complete_contract(doc, home)
    return doc


def port_of(path: Path) -> tuple[str, int | None] | None:
    """(port, major named in the file name or None) of a contract file; None for another name."""
    match = _CONTRACT_FILE.fullmatch(path.name)
    return None if match is None else (match["port"], int(match["major"]) if match["major"] else None)


def contract_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob(f"*{CONTRACT_SUFFIX}") if port_of(p))


def input_port_name(contract: str) -> str | None:
    """An input port's name by convention, `<producer domain>_<port>`, from the contract id it binds."""
    parts = contract_parts(contract)
    return None if parts is None else "_".join(parts)


def complete_contract(doc: YamlDocument, home: Home) -> tuple[Problem, ...]:
    """Fill in the contract what its folder and domain.yaml say; the problems are what it states
    otherwise."""
    port, major = port_of(doc.path) or (doc.path.name.removesuffix(CONTRACT_SUFFIX), None)
    data = doc.data
    major = major if major is not None else _major(data.get("version"))
    derived = {"id": contract_id(home.domain, port), "name": port, "domain": home.domain, "dataProduct": home.product}
    owned = _owned(home, contract=True)
    if major is not None:
        key = port_key(home.domain, port, major)
        owned["servers"] = [{
            "server": "port_catalog", "type": "local", "format": "iceberg", "path": f"$MESH_HOME/ports/warehouse/{key[0]}/{key[1]}",
            "description": f"The Iceberg table {table_name(key)} of the mesh's port catalog; each published version is a snapshot.",
        }]
    restated = _restated(doc, {**derived, **owned})
    promised = {"slaProperties": copy.deepcopy(list(home.slas))} if home.slas else {}
    _fill(data, {"apiVersion": ODCS_VERSION, "kind": "DataContract", **derived}, {**promised, **owned})
    schema = data.get("schema")
    if isinstance(schema, list) and schema and isinstance(schema[0], dict):
        table = schema[0]
        purpose = data["description"].get("purpose") if isinstance(data.get("description"), dict) else None
        defaults = {"name": port, "physicalName": port, "physicalType": "table", "logicalType": "object"}
        _fill(table, {**defaults, **({} if purpose is None else {"description": purpose})}, {})
        rules = table.get("quality") if isinstance(table.get("quality"), list) else []
        named = {rule.get("name") for rule in rules if isinstance(rule, dict) and isinstance(rule.get("name"), str)}
        added = [copy.deepcopy(rule) for rule in home.quality if not (isinstance(rule.get("name"), str) and rule["name"] in named)]
        if added and (rules or "quality" not in table):
            table["quality"] = [*rules, *added]
    return restated


def complete_product(doc: YamlDocument, home: Home, outputs: list[tuple[str, Any]]) -> tuple[Problem, ...]:
    """Fill in the product descriptor what its folder, domain.yaml and its contracts say.
    `outputs`: (port, contract) of each contract file of the folder that loaded, the newest major
    first; a product of one port takes its version, status and purpose from that port's contract."""
    data = doc.data
    derived = {"id": product_id(home.domain, home.product), "name": home.product, "domain": home.domain}
    owned = _owned(home, contract=False)
    restated = _restated(doc, {**derived, **owned})
    head = {"apiVersion": ODPS_VERSION, "kind": "DataProduct", **derived}
    if outputs and len({port for port, _ in outputs}) == 1:
        contract = outputs[0][1]
        head.update(version=contract.version, status=contract.status, description={"purpose": contract.description})
    support = home.support[0].get("url") if home.support else None
    owned["managementPorts"] = [
        {"name": "observability", "content": "observability", "type": "rest", "url": f"iceberg:mesh.{home.domain}",
         "description": "The domain's namespace of the port catalog: each port's table's snapshot summaries hold the contract version, "
                        "run id, every check result, schema fingerprint and row count (`mesh ports`)."},
        *([{"name": "control", "content": "control", "type": "rest", "url": support,
            "description": "Request access, or report a problem, to the owning team."}] if support else []),
    ]
    owned["outputPorts"] = [
        {"name": port, "description": f"{port} as an Iceberg table in the port catalog.", "type": "iceberg",
         "version": contract.version, "contractId": contract.id}
        for port, contract in outputs
    ]
    _fill(data, head, owned)
    for port in data.get("inputPorts") or ():
        if isinstance(port, dict) and "name" not in port and input_port_name(port.get("contractId")):
            port["name"] = input_port_name(port["contractId"])
    return restated


def _owned(home: Home, contract: bool) -> dict[str, Any]:
    """Whose it is, as domain.yaml says: ODCS's team is one object with members, ODPS's a list."""
    owned: dict[str, Any] = {}
    if home.team and home.email:
        owner = {"username": home.email, "role": "owner"}
        owned["team"] = {"name": home.team, "members": [owner]} if contract else [{"username": home.email, "name": home.team, "role": "owner"}]
    if home.support:
        owned["support"] = [dict(s) for s in home.support]
    return owned


def _restated(doc: YamlDocument, derived: dict[str, Any]) -> tuple[Problem, ...]:
    return tuple(
        doc.problem(f"must be {_shown(want)}, as its folder and domain.yaml say (or be left out: the platform fills it in)", key)
        for key, want in derived.items() if key in doc.data and doc.data[key] != want
    )


def _fill(data: dict, head: dict, tail: dict) -> None:
    """Add what is not written: `head` before the written fields, `tail` after them."""
    merged = {**{k: v for k, v in head.items() if k not in data}, **data, **{k: v for k, v in tail.items() if k not in data}}
    data.clear()
    data.update(merged)


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _mappings(value: Any) -> tuple[dict, ...]:
    return tuple(item for item in value if isinstance(item, dict)) if isinstance(value, list) else ()


def _major(version: Any) -> int | None:
    try:
        return parse_version(version).major
    except (TypeError, ValueError):
        return None


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    text = json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= 160 else text[:157] + "..."
