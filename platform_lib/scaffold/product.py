"""`mesh new product DOMAIN NAME --from-port URN ... [--from-contract FILE]`: a product reading other
domains' ports.

The contract skeleton is derived from the upstream contracts: the first port's columns, then each
further port's columns, left-joined on the columns of its primary key that the ports before it
already bring. The product's key follows the joins: a port joined on its whole key adds at most one
row to each, a port joined on part of it (orders to their line items) fans out, and the rest of its
key joins the product's. Columns that arrive masked are left out (a hash or a null is no use
downstream); personal columns that arrive unmasked (from a port granted to this domain) are
published hashed.

With `--from-contract`, the contract is one the team already has (from datacontract-cli, another
team's tooling): valid ODCS is required, the mesh's ids are filled in, and the model selects its
columns from the ports that bring them, a typed null for each the ports do not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platform_lib.assets.dbt_project import prepare
from platform_lib.dbt.files import table_names
from platform_lib.descriptors.contract import PUBLIC_ROLE, Column
from platform_lib.descriptors.derived import FOLDER_SAYS, home_of
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.product import DESCRIPTOR_FILE, OutputPort
from platform_lib.descriptors.standards import validate_odcs
from platform_lib.descriptors.types import same_type
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.mesh import Mesh
from platform_lib.scaffold.domain import PROMISES
from platform_lib.scaffold.files import ScaffoldError, check_name, dump, refuse_existing, write


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
        """The port's name in the model's SQL: its input port's."""
        return self.input_name


def resolve_port(mesh: Mesh, spec: str) -> OutputPort:
    """`urn:mesh:contract:<domain>:<port>` (its newest live major) or `...@<major>`."""
    contract_id, _, major = spec.partition("@")
    live = sorted((m, p) for (cid, m), p in mesh.ports_by_contract.items() if cid == contract_id)
    if not live:
        near = mesh.closest_contract(contract_id)
        guess = f" (did you mean {near}?)" if near else ""
        raise ScaffoldError(f"--from-port {spec}: no port publishes contract {contract_id}{guess}; "
                            "`mesh catalog list` shows every port's contract id")
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


@dataclass(frozen=True)
class Join:
    port: Upstream
    on: tuple[tuple[str, Upstream], ...]  # (key column, the port before it that brings the column)


@dataclass(frozen=True)
class Plan:
    columns: tuple[tuple[Upstream, Column], ...]  # in publication order, each from the port that brings it
    joins: tuple[Join, ...]
    unjoined: tuple[Upstream, ...]  # share no key column with the ports before them
    key: tuple[str, ...]  # the product's primary key; empty when one of its columns arrives masked
    fans_out: bool  # a join repeats rows of the first port: none of its columns stays unique


def plan_product(upstream: list[Upstream]) -> Plan:
    brought: dict[str, Upstream] = {}
    columns, joins, unjoined = [], [], []
    key, fans_out = upstream[0].port.contract.primary_key, False
    for up in upstream:
        if up is not upstream[0]:
            port_key = up.port.contract.primary_key
            on = tuple((name, brought[name]) for name in port_key if name in brought) or _referencing(up, upstream, brought)
            if not on:
                unjoined.append(up)
                continue  # the model reads the port in a CTE for the team to join
            joins.append(Join(up, on))
            # Joined on part of its key, the port matches many rows to each: the rest of its key
            # joins the product's.
            rest = tuple(name for name in port_key if name not in brought)
            key, fans_out = key + rest, fans_out or bool(rest)
        for column in up.port.contract.columns:
            if column.masking is None and column.name not in brought:
                brought[column.name] = up
                columns.append((up, column))
    # A key column that arrives masked is not published: then no key can be promised.
    if not all(name in brought for name in key):
        key = ()
    return Plan(tuple(columns), tuple(joins), tuple(unjoined), key, fans_out)


def _referencing(up: Upstream, upstream: list[Upstream], brought: dict[str, Upstream]) -> tuple[tuple[str, Upstream], ...]:
    """The join of a port that holds an earlier port's whole key among its columns (orders hold the
    customer_key of customer profiles): the earlier ports' order must not decide whether they join."""
    columns = {column.name for column in up.port.contract.columns}
    for before in upstream[:upstream.index(up)]:
        key = before.port.contract.primary_key
        if key and all(name in columns and brought.get(name) is before for name in key):
            return tuple((name, before) for name in key)
    return ()


def _property(column: Column, first: bool, plan: Plan) -> dict:
    prop = {
        "name": column.name, "logicalType": column.logical_type, "physicalType": column.physical_type,
        "description": column.description,
    }
    # A left join keeps every row of the first port and may leave the joined columns empty.
    if first and column.required:
        prop["required"] = True
    if first and column.unique and not plan.fans_out:
        prop["unique"] = True
    if column.name in plan.key:
        prop["primaryKey"] = True
        if len(plan.key) > 1:
            prop["primaryKeyPosition"] = plan.key.index(column.name) + 1
    prop["classification"] = column.classification
    if column.classification == "pii":
        masking = "hash" if same_type(column.physical_type, "VARCHAR") else "redact"
        prop["customProperties"] = [{"property": "masking", "value": masking}]
    return prop


def _source(up: Upstream) -> str:
    return f"{{{{ source('{up.source}', '{up.table}') }}}}"


def model_sql(upstream: list[Upstream], plan: Plan, wanted: list[tuple[str, str]] | None = None) -> str:
    """The model's SQL: the plan's columns, or the `wanted` ones (name, physical type) of a contract
    the team brought, each from the port that brings it or, where none does, a typed null to replace."""
    first = upstream[0]
    lines = ["-- Scaffolded by `mesh new product`: edit freely; the contract next to the descriptor must follow."]
    if plan.unjoined:
        lines.append("-- These ports share no key with the ones before them: join them yourself, or drop their input ports.")
        lines.append("with " + ",\n".join(f"{u.alias} as (select * from {_source(u)})" for u in plan.unjoined))
    lines.append("select")
    if wanted is None:
        lines.append(",\n".join(f"    {u.alias}.{c.name}" for u, c in plan.columns))
    else:
        brought = {c.name: u for u, c in plan.columns}
        lines.append(",\n".join(f"    {brought[name].alias}.{name}" if name in brought else f"    cast(null as {kind}) as {name}  -- no port brings it: make it"
                                for name, kind in wanted))
    lines.append(f"from {_source(first)} as {first.alias}")
    for join in plan.joins:
        on = " and ".join(f"{join.port.alias}.{name} = {by.alias}.{name}" for name, by in join.on)
        lines.append(f"left join {_source(join.port)} as {join.port.alias} on {on}")
    return "\n".join(lines) + "\n"


def _table_name(domain: Domain, port: OutputPort) -> str:
    """What the product's SQL reads the port as: the name the generated _ports.yml gives it beside
    the ports the domain already reads."""
    reads = {(p.contract_id, p.major) for p in domain.input_ports} | {(port.contract.id, port.contract.major)}
    return table_names(reads)[port.contract.id, port.contract.major].name


def brought_contract(path: Path, name: str) -> dict:
    """A contract written elsewhere, as the new product's: it must be valid ODCS. What the product's
    folder says (its ids, names, team, support, servers: descriptors.derived) is left to the folder,
    and the model behind its one schema object is the product's; the rest is kept."""
    doc = load_yaml(path)
    try:
        validate_odcs(doc)
    except DescriptorError as exc:
        raise ScaffoldError(f"--from-contract {path} is not valid ODCS:\n{exc}") from None
    contract = {key: value for key, value in doc.data.items() if key not in FOLDER_SAYS}
    if len(contract.get("schema") or []) == 1:
        contract["schema"] = [{**contract["schema"][0], "physicalName": name}]
    return contract


def _wanted(contract: dict) -> list[tuple[str, str]]:
    """The columns (name, physical type) of the contract's first schema object."""
    properties = (contract.get("schema") or [{}])[0].get("properties") or []
    return [(p["name"], p.get("physicalType") or "VARCHAR") for p in properties]


def new_product(mesh: Mesh, domain: Domain, name: str, from_ports: list[str], force: bool, from_contract: Path | None = None) -> list[Path]:
    check_name("product", name)
    if not from_ports:
        raise ScaffoldError("give at least one --from-port URN: a product is built from other domains' ports")
    folder = domain.folder / "products" / name
    model = domain.dbt_project_dir / "models" / f"{name}.sql"
    refuse_existing([folder / DESCRIPTOR_FILE, folder / f"{name}.odcs.yaml", model], force)
    upstream = []
    for spec in from_ports:
        port = resolve_port(mesh, spec)
        if port.domain == domain.name:
            raise ScaffoldError(f"--from-port {spec} is this domain's own port: read your own models with ref()")
        upstream.append(Upstream(port, role_for(mesh, port, domain.name), port.domain, _table_name(domain, port)))
    planned = plan_product(upstream)
    sources = ", ".join(f"{u.port.domain}.{u.port.name} v{u.port.contract.major}" for u in upstream)
    brought = brought_contract(from_contract, name) if from_contract else None
    # What the folder and domain.yaml say is not written (descriptors.derived): ids, names, team,
    # support, servers, and the promises domain.yaml makes for every port; the product's version,
    # status, purpose and output port are its contract's.
    home = home_of(folder / DESCRIPTOR_FILE)
    contract = brought or {
        "version": "1.0.0", "status": "draft",
        "description": {"purpose": f"{name}, built from {sources}. Describe what it is for."},
        "schema": [{
            "properties": [_property(c, u is upstream[0], planned) for u, c in planned.columns],
            **({} if home.quality else {"quality": PROMISES["quality"]}),
        }],
        **({} if home.slas else {"slaProperties": PROMISES["slaProperties"]}),
        "roles": [{"role": PUBLIC_ROLE, "access": "read", "description": "Any domain of the mesh may read this port."}],
    }
    descriptor = {
        "inputPorts": [{"contractId": u.port.contract.id, "version": u.port.contract.version} for u in upstream],
        "customProperties": [{"property": "inputRoles", "value": {u.input_name: u.role for u in upstream}}],
    }
    written = [
        write(folder / DESCRIPTOR_FILE, dump(descriptor)),
        write(folder / f"{name}.odcs.yaml", dump(contract)),
        write(model, model_sql(upstream, planned, _wanted(brought) if brought else None)),
    ]
    # prepare writes the domain's dbt sources from the descriptors, the new product's input ports included.
    try:
        prepare(domain.dbt_project_dir, mesh)
    except DescriptorError:
        # A brought contract may not meet the mesh's profile yet: `mesh new` says what it needs,
        # and `mesh prepare` follows once it does.
        if brought is None:
            raise
    return written
