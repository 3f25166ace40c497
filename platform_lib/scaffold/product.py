"""`mesh new product DOMAIN NAME --from-port URN ...`: a product reading other domains' ports.

The contract skeleton is derived from the upstream contracts: the first port's columns, then each
further port's columns joined on a key they share (the further port's primary key). Columns that
arrive masked are left out (a hash or a null is no use downstream); personal columns that arrive
unmasked (from a port granted to this domain) are published hashed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from platform_lib.assets.dbt_project import prepare
from platform_lib.descriptors.contract import Column
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.product import DESCRIPTOR_FILE, OutputPort
from platform_lib.descriptors.contract import PUBLIC_ROLE
from platform_lib.descriptors.keys import contract_id as contract_urn
from platform_lib.descriptors.keys import product_id
from platform_lib.mesh import Mesh
from platform_lib.ports.binding import port_source_identifier
from platform_lib.scaffold.files import ScaffoldError, check_name, dump, refuse_existing, write

PORTS_FILE = "models/_ports.yml"


@dataclass(frozen=True)
class Upstream:
    port: OutputPort
    role: str
    source: str  # dbt source name (the producer domain)
    table: str  # dbt source table name

    @property
    def input_name(self) -> str:
        return f"{self.port.domain}_{self.port.name}"

    @property
    def alias(self) -> str:
        return f"{self.port.domain}_{self.port.name}"


def resolve_port(mesh: Mesh, spec: str) -> OutputPort:
    """`urn:mesh:contract:<domain>:<port>` (its newest live major) or `...@<major>`."""
    contract_id, _, major = spec.partition("@")
    live = sorted((m, p) for (cid, m), p in mesh.ports_by_contract.items() if cid == contract_id)
    if not live:
        raise ScaffoldError(f"--from-port {spec}: no port publishes contract {contract_id}; `mesh catalog list` shows them")
    if major:
        chosen = [p for m, p in live if str(m) == major]
        if not chosen:
            raise ScaffoldError(f"--from-port {spec}: live majors of {contract_id} are {', '.join(str(m) for m, _ in live)}")
        return chosen[0]
    return live[-1][1]


def role_for(mesh: Mesh, port: OutputPort, domain: str) -> str:
    roles = [PUBLIC_ROLE] if port.contract.is_public else [r for r in port.contract.roles if port.contract.grants(r, domain)]
    if not roles:
        raise ScaffoldError(
            f"domain {domain} is not granted any role on {port.contract.id}: request one of "
            f"{', '.join(port.contract.roles) or 'its roles'} from {mesh.whom_to_ask(port)}")
    return roles[0]


def _property(column: Column, joined: bool) -> dict:
    prop = {
        "name": column.name, "logicalType": column.logical_type, "physicalType": column.physical_type,
        "description": column.description,
    }
    # A left join may leave joined columns empty: only the first port's keys keep their promises.
    if not joined:
        prop |= {k: True for k, v in (("required", column.required), ("unique", column.unique), ("primaryKey", column.primary_key)) if v}
    prop["classification"] = column.classification
    if column.classification == "pii":
        masking = "hash" if column.physical_type.upper() == "VARCHAR" else "redact"
        prop["customProperties"] = [{"property": "masking", "value": masking}]
    return prop


def plan_columns(upstream: list[Upstream]) -> tuple[list[tuple[Upstream, Column]], dict[str, str]]:
    """(column, the port it comes from) in publication order, and per further port its join key."""
    chosen, names, keys = [], set(), {}
    for i, up in enumerate(upstream):
        usable = [c for c in up.port.contract.columns if c.masking is None]
        if i:
            key = next((c.name for c in usable if c.primary_key and c.name in names), None)
            if key is None:
                continue  # no shared key: the model reads the port in a CTE for the team to join
            keys[up.alias] = key
        for column in usable:
            if column.name not in names:
                names.add(column.name)
                chosen.append((up, column))
    return chosen, keys


def model_sql(upstream: list[Upstream], columns: list[tuple[Upstream, Column]], keys: dict[str, str]) -> str:
    first = upstream[0]
    ctes = [u for u in upstream[1:] if u.alias not in keys]
    lines = ["-- Scaffolded by `mesh new product`: edit freely; the contract next to the descriptor must follow."]
    if ctes:
        lines.append("-- These ports share no key with the first one: join them yourself, or drop their input ports.")
        lines.append("with " + ",\n".join(f"{u.alias} as (select * from {{{{ source('{u.source}', '{u.table}') }}}})" for u in ctes))
    lines.append("select")
    lines.append(",\n".join(f"    {u.alias}.{c.name}" for u, c in columns))
    lines.append(f"from {{{{ source('{first.source}', '{first.table}') }}}} as {first.alias}")
    for u in upstream[1:]:
        if u.alias in keys:
            key = keys[u.alias]
            lines.append(f"left join {{{{ source('{u.source}', '{u.table}') }}}} as {u.alias} on {u.alias}.{key} = {first.alias}.{key}")
    return "\n".join(lines) + "\n"


def add_sources(path: Path, upstream: list[Upstream]) -> None:
    """Merge the input ports' dbt sources into the domain's _ports.yml (rewritten as plain YAML)."""
    doc = yaml.safe_load(path.read_text()) if path.exists() else None
    doc = doc or {"version": 2, "sources": []}
    sources = doc.setdefault("sources", [])
    for up in upstream:
        source = next((s for s in sources if s["name"] == up.source), None)
        if source is None:
            source = {"name": up.source, "schema": "ports", "tables": []}
            sources.append(source)
        if not any(t["name"] == up.table for t in source["tables"]):
            source["tables"].append({
                "name": up.table, "identifier": port_source_identifier(up.port.asset_key),
                "config": {"meta": {"dagster": {"asset_key": list(up.port.asset_key)}}},
            })
    write(path, "# Input ports: other domains' published output ports, bound by the platform as views.\n" + dump(doc))


def _table_name(path: Path, port: OutputPort) -> str:
    """The port's name, or `<port>_v<major>` when the domain already reads another major under it."""
    doc = yaml.safe_load(path.read_text()) if path.exists() else None
    for source in (doc or {}).get("sources", []):
        for table in source.get("tables", []) if source["name"] == port.domain else []:
            if table["name"] == port.name and table.get("identifier") != port_source_identifier(port.asset_key):
                return f"{port.name}_v{port.contract.major}"
    return port.name


def new_product(mesh: Mesh, domain: Domain, name: str, from_ports: list[str], force: bool) -> list[Path]:
    check_name("product", name)
    if not from_ports:
        raise ScaffoldError("give at least one --from-port URN: a product is built from other domains' ports")
    folder = domain.folder / "products" / name
    model = domain.dbt_project_dir / "models" / f"{name}.sql"
    refuse_existing([folder / DESCRIPTOR_FILE, folder / f"{name}.odcs.yaml", model], force)
    ports_file = domain.dbt_project_dir / PORTS_FILE
    upstream = []
    for spec in from_ports:
        port = resolve_port(mesh, spec)
        if port.domain == domain.name:
            raise ScaffoldError(f"--from-port {spec} is this domain's own port: read your own models with ref()")
        upstream.append(Upstream(port, role_for(mesh, port, domain.name), port.domain, _table_name(ports_file, port)))
    columns, keys = plan_columns(upstream)
    contract_id, email = contract_urn(domain.name, name), domain.email
    support = [{"channel": "email", "tool": "email", "url": f"mailto:{email}"}]
    sources = ", ".join(f"{u.port.domain}.{u.port.name} v{u.port.contract.major}" for u in upstream)
    contract = {
        "apiVersion": "v3.1.0", "kind": "DataContract", "id": contract_id, "name": name, "version": "1.0.0",
        "status": "draft", "domain": domain.name, "dataProduct": name,
        "description": {"purpose": f"{name}, built from {sources}. Describe what it is for."},
        "schema": [{
            "name": name, "physicalName": name, "physicalType": "table", "logicalType": "object",
            "description": f"{name}, built from {sources}.",
            "properties": [_property(c, joined=u is not upstream[0]) for u, c in columns],
            "quality": [{"name": "not_empty", "description": "A published version is never empty.", "type": "library",
                         "metric": "rowCount", "mustBeGreaterThan": 0, "dimension": "completeness"}],
        }],
        "slaProperties": [{"property": "frequency", "value": 1, "unit": "d"}, {"property": "latency", "value": 4, "unit": "h"},
                          {"property": "retention", "value": 30, "unit": "d"}],
        "roles": [{"role": PUBLIC_ROLE, "access": "read", "description": "Any domain of the mesh may read this port."}],
        "team": {"name": domain.team, "members": [{"username": email, "role": "owner"}]},
        "support": support,
    }
    descriptor = {
        "apiVersion": "v1.0.0", "kind": "DataProduct", "id": product_id(domain.name, name), "name": name,
        "version": "0.1.0", "status": "draft", "domain": domain.name,
        "description": {"purpose": f"{name}, built from {sources}. Describe what it is for."},
        "team": [{"username": email, "name": domain.team, "role": "owner"}],
        "support": support,
        "inputPorts": [{"name": u.input_name, "version": u.port.contract.version, "contractId": u.port.contract.id} for u in upstream],
        "customProperties": [{"property": "inputRoles", "value": {u.input_name: u.role for u in upstream}}],
        "outputPorts": [{"name": name, "description": f"{name} as an Iceberg table in the port catalog.", "type": "iceberg",
                         "version": "1.0.0", "contractId": contract_id}],
    }
    written = [
        write(folder / DESCRIPTOR_FILE, dump(descriptor)),
        write(folder / f"{name}.odcs.yaml", dump(contract)),
        write(model, model_sql(upstream, columns, keys)),
    ]
    add_sources(ports_file, upstream)
    prepare(domain.dbt_project_dir)
    return written + [ports_file]
