"""Meshes of many domains for benchmarks, written into a folder. Two generators:

`generate_synthetic_mesh(root, domains, products)`: D domains of P products each, one output port per
product, in the shapes of the real domains (ODPS descriptors, ODCS contracts, dbt projects, a
workspace.yaml with the platform's governance location). Domain 0 is source-aligned: it owns five
TPC-H operational tables and publishes slices of them. Every later domain is consumer-aligned: each
product reads 1-3 output ports of earlier domains (its first from the three domains just before it,
so lineage runs the whole depth of the mesh), keeps the first port's columns and adds one row count
per further port. About one port in eight is restricted: its role is granted to exactly the domains
that read it, and its personal data travels unmasked, to be hashed by the next public port. Every
fifth consumer domain holds itself to finance's decimal-money policy. Deterministic for a given
size; `prepare_manifests` then parses every dbt project (`mesh prepare`).

    python bench/generated_mesh.py OUT [--domains 20] [--products 25]

`generate_mesh(root, n)`: the repository's three source-aligned producers (sales, customers, supply;
descriptors only, their ports are expected in a port catalog) and N consumer domains `finance_000`,
`finance_001`, ... copied from domains/finance and dbt_projects/finance under their own names.

The copies leave out finance's returned_item_report: it reads customers' customer_profiles_full,
whose contract grants its role to the domain `finance` alone, so a copy under another name would
(rightly) fail the port-access policy. Each copy keeps revenue_by_nation and shipping_priority.

    python bench/generated_mesh.py OUT --finance-copies N
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from platform_lib.dbt.files import MODEL_CONTRACTS, PROFILE, SOURCES, write_dbt_files
from platform_lib.descriptors.keys import COMPONENT_FILE, DEFS_PACKAGE
from platform_lib.scaffold.domain import COMPONENT, DEFINITIONS

REPO = Path(__file__).resolve().parents[1]
# The files the platform writes from a domain's descriptors: a copy gets its own.
GENERATED = [Path(name).name for name in (PROFILE, SOURCES, MODEL_CONTRACTS)]
TEMPLATE = "finance"
PRODUCERS = ("sales", "customers", "supply")
DROPPED_PRODUCT = "returned_item_report"


def consumer_names(n: int) -> list[str]:
    return [f"{TEMPLATE}_{i:03d}" for i in range(n)]


def _rename_domain(folder: Path, name: str) -> None:
    """domain.yaml's name; product and contract ids, `domain:` fields and port paths."""
    for path in folder.rglob("*.yaml"):
        text = re.sub(rf"^(name|domain): {TEMPLATE}$", rf"\1: {name}", path.read_text(), flags=re.MULTILINE)
        for prefix in ("urn:mesh:product:", "urn:mesh:contract:", "ports/"):
            text = text.replace(f"{prefix}{TEMPLATE}:", f"{prefix}{name}:").replace(f"{prefix}{TEMPLATE}/", f"{prefix}{name}/")
        path.write_text(text)


def _rename_dbt_project(folder: Path, name: str) -> None:
    project = folder / "dbt_project.yml"
    project.write_text(re.sub(rf"^(name: |profile: |  ){TEMPLATE}(:?)$", rf"\g<1>{name}\2", project.read_text(), flags=re.MULTILINE))


def generate_mesh(root: Path, n: int) -> list[str]:
    """Write workspace.yaml, domains/ and dbt_projects/ under root; returns the consumer names.
    The consumers' dbt manifests are written by `write_manifests`."""
    names = consumer_names(n)
    for producer in PRODUCERS:
        shutil.copytree(REPO / "domains" / producer, root / "domains" / producer, ignore=shutil.ignore_patterns("__pycache__"))
    for name in names:
        shutil.copytree(REPO / "domains" / TEMPLATE, root / "domains" / name, ignore=shutil.ignore_patterns("__pycache__", DROPPED_PRODUCT))
        _rename_domain(root / "domains" / name, name)
        shutil.copytree(
            REPO / "dbt_projects" / TEMPLATE, root / "dbt_projects" / name,
            ignore=shutil.ignore_patterns("target", "logs", ".user.yml", f"{DROPPED_PRODUCT}.sql", *GENERATED),
        )
        _rename_dbt_project(root / "dbt_projects" / name, name)
        # The profile and sources of the copy's own descriptors (returned_item_report's inputs left out).
        write_dbt_files(root / "dbt_projects" / name)
        # returned_item_report was the last reader of geography v1: v2, read alone, takes the port's name.
        q5 = root / "dbt_projects" / name / "models" / "products" / "revenue_by_nation.sql"
        q5.write_text(q5.read_text().replace("source('customers', 'geography_v2')", "source('customers', 'geography')"))
    locations = [
        {"python_file": {"relative_path": f"domains/{d}/definitions.py", "location_name": d, "working_directory": "."}}
        for d in (*PRODUCERS, *names)
    ]
    (root / "workspace.yaml").write_text(yaml.safe_dump({"load_from": locations}, sort_keys=False))
    return names


def write_manifests(root: Path, names: list[str], env: dict) -> None:
    """`dbt parse` of the first consumer; every other consumer gets that manifest under its own
    name (the projects differ only by name; dbt's project_id is the md5 of the name)."""
    first = root / "dbt_projects" / names[0]
    subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "parse", "--quiet", "--project-dir", str(first), "--profiles-dir", str(first)],
        env=env, check=True, capture_output=True,
    )
    template = (first / "target" / "manifest.json").read_text()
    first_id = hashlib.md5(names[0].encode()).hexdigest()
    for name in names[1:]:
        target = root / "dbt_projects" / name / "target"
        target.mkdir()
        text = template.replace(names[0], name).replace(first_id, hashlib.md5(name.encode()).hexdigest())
        (target / "manifest.json").write_text(text)


# --- The synthetic mesh: D domains x P products ------------------------------------------------

# TPC-H tables domain 0 owns: (operational column, mesh column, dbt data_type, description, promises).
# Promises are what the real contracts declare on such a column: pii, valid values, bounds.
SOURCE_TABLES: dict[str, dict] = {
    "orders": {
        "description": "Orders as captured by the order system (TPC-H ORDERS).",
        "keys": ("order_key",),
        "columns": [
            ("o_orderkey", "order_key", "bigint", "Order identifier.", {}),
            ("o_custkey", "customer_key", "bigint", "Customer identifier.", {}),
            ("o_orderstatus", "order_status", "varchar", "F (fulfilled), O (open) or P (partially shipped).", {"values": ["F", "O", "P"]}),
            ("o_totalprice", "total_price", "decimal(15,2)", "Order total in USD.", {"minimum": 0}),
            ("o_orderdate", "order_date", "date", "Date the order was placed.", {}),
            ("o_orderpriority", "order_priority", "varchar", "Priority class, 1-URGENT to 5-LOW.",
             {"values": ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]}),
            ("o_clerk", "clerk", "varchar", "Clerk who took the order.", {}),
            ("o_shippriority", "ship_priority", "integer", "Shipping priority (0 for all orders in TPC-H).", {}),
            ("o_comment", "comment", "varchar", "Free-text comment.", {}),
        ],
    },
    "lineitem": {
        "description": "Order lines with pricing and shipping facts (TPC-H LINEITEM).",
        "keys": ("order_key", "line_number"),
        "columns": [
            ("l_orderkey", "order_key", "bigint", "Order identifier.", {}),
            ("l_partkey", "part_key", "bigint", "Part identifier.", {}),
            ("l_suppkey", "supplier_key", "bigint", "Supplier identifier.", {}),
            ("l_linenumber", "line_number", "bigint", "Line number within the order.", {}),
            ("l_quantity", "quantity", "decimal(15,2)", "Units ordered.", {"minimum": 1, "maximum": 50}),
            ("l_extendedprice", "extended_price", "decimal(15,2)", "Quantity times the part's retail price, in USD.", {}),
            ("l_discount", "discount", "decimal(15,2)", "Discount rate, 0.00 to 0.10.", {"minimum": 0, "maximum": 0.1}),
            ("l_tax", "tax", "decimal(15,2)", "Tax rate, 0.00 to 0.08.", {"minimum": 0, "maximum": 0.08}),
            ("l_returnflag", "return_flag", "varchar", "R (returned), A (accepted) or N (not yet known).", {"values": ["A", "N", "R"]}),
            ("l_linestatus", "line_status", "varchar", "O (open) or F (fulfilled).", {"values": ["F", "O"]}),
            ("l_shipdate", "ship_date", "date", "Date the line shipped.", {}),
            ("l_commitdate", "commit_date", "date", "Date the line was committed to ship.", {}),
            ("l_receiptdate", "receipt_date", "date", "Date the customer received the line.", {}),
            ("l_shipinstruct", "ship_instructions", "varchar", "Delivery instructions.", {}),
            ("l_shipmode", "ship_mode", "varchar", "Transport mode.", {}),
            ("l_comment", "comment", "varchar", "Free-text comment.", {}),
        ],
    },
    "customer": {
        "description": "Customer master records (TPC-H CUSTOMER).",
        "keys": ("customer_key",),
        "columns": [
            ("c_custkey", "customer_key", "bigint", "Customer identifier.", {}),
            ("c_name", "name", "varchar", "Name.", {"pii": True}),
            # Address and phone stay in the operational table: no port of this mesh publishes them.
            ("c_address", "address", "varchar", "Postal address.", {"pii": True, "unpublished": True}),
            ("c_nationkey", "nation_key", "integer", "Nation identifier.", {}),
            ("c_phone", "phone", "varchar", "Phone number; its first two digits are the country code.", {"pii": True, "unpublished": True}),
            ("c_acctbal", "account_balance", "decimal(15,2)", "Account balance in USD.", {"minimum": -1000, "maximum": 10000}),
            ("c_mktsegment", "market_segment", "varchar", "Market segment the customer belongs to.",
             {"values": ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]}),
            ("c_comment", "comment", "varchar", "Free-text comment.", {}),
        ],
    },
    "part": {
        "description": "The parts catalogue (TPC-H PART).",
        "keys": ("part_key",),
        "columns": [
            ("p_partkey", "part_key", "bigint", "Part identifier.", {}),
            ("p_name", "name", "varchar", "Name.", {}),
            ("p_mfgr", "manufacturer", "varchar", "Manufacturer.", {}),
            ("p_brand", "brand", "varchar", "Brand.", {}),
            ("p_type", "part_type", "varchar", "Part type (finish, material).", {}),
            ("p_size", "size", "integer", "Size.", {"minimum": 1, "maximum": 50}),
            ("p_container", "container", "varchar", "Container type.", {}),
            ("p_retailprice", "retail_price", "decimal(15,2)", "Retail price in USD.", {"minimum": 0}),
            ("p_comment", "comment", "varchar", "Free-text comment.", {}),
        ],
    },
    "partsupp": {
        "description": "Which supplier offers which part, stock and cost (TPC-H PARTSUPP).",
        "keys": ("part_key", "supplier_key"),
        "columns": [
            ("ps_partkey", "part_key", "bigint", "Part identifier.", {}),
            ("ps_suppkey", "supplier_key", "bigint", "Supplier identifier.", {}),
            ("ps_availqty", "available_quantity", "bigint", "Units the supplier has available.", {"minimum": 0}),
            ("ps_supplycost", "supply_cost", "decimal(15,2)", "Supplier's cost per unit in USD.", {"minimum": 0}),
            ("ps_comment", "comment", "varchar", "Free-text comment.", {}),
        ],
    },
}
TENANT = "tpch-mesh"
MAX_COLUMNS = 10
PUBLIC_ROLE = "mesh_reader"  # platform_lib's: every domain may read a port offering it


@dataclass
class PlannedPort:
    """One product and its single output port, planned before anything is written: grants need to
    know every reader first."""

    domain: str
    name: str
    entity: str  # the TPC-H table its rows come from
    columns: list[dict]  # ODCS properties, in publication order
    restricted: bool
    inputs: list[PlannedPort] = field(default_factory=list)
    readers: set[str] = field(default_factory=set)

    @property
    def alias(self) -> str:
        """Input port name (producer domain _ port), also its SQL alias in consumers' models."""
        return f"{self.domain}_{self.name}"

    @property
    def role(self) -> str:
        return f"{self.name}_reader" if self.restricted else PUBLIC_ROLE

    @property
    def key(self) -> tuple[str, str]:
        return (self.domain, f"{self.name}_v1")


def domain_names(domains: int) -> list[str]:
    width = max(2, len(str(domains - 1)))
    return [f"domain_{d:0{width}d}" for d in range(domains)]


def _team(domain: str) -> tuple[str, str, str]:
    """(team name, owner email, slack channel) of a domain."""
    slug = domain.replace("_", "-")
    return f"{domain}_team", f"{slug}@mesh.example", f"#{slug}-data"


def _restricted(d: int, k: int) -> bool:
    return (7 * d + k) % 8 == 7  # one port in eight; domain 0's customer_07 among them


def _masked(column: dict) -> bool:
    return any(c.get("property") == "masking" for c in column.get("customProperties", []))


def _source_column(table: str, spec: tuple, public: bool) -> dict:
    _, name, data_type, description, promises = spec
    keys = SOURCE_TABLES[table]["keys"]
    logical = {"bigint": "integer", "integer": "integer", "date": "date", "varchar": "string"}.get(data_type, "number")
    column = {"name": name, "logicalType": logical, "physicalType": data_type.upper(), "description": description}
    if name in keys:
        column |= {"required": True, "primaryKey": True, "primaryKeyPosition": keys.index(name) + 1}
        if len(keys) == 1:
            column["unique"] = True
    bounds = {k: promises[k] for k in ("minimum", "maximum") if k in promises}
    if bounds:
        column["logicalTypeOptions"] = bounds
    if "values" in promises:
        column["quality"] = [{
            "name": f"{name}_values", "description": f"{name} is one of {', '.join(promises['values'])}.", "type": "library",
            "metric": "invalidValues", "arguments": {"validValues": promises["values"]}, "mustBe": 0, "dimension": "conformity",
        }]
    column["classification"] = "pii" if promises.get("pii") else "internal"
    if promises.get("pii") and public:
        # A public port publishes personal data hashed: still joinable, never readable.
        column["description"] = f"{description.rstrip('.')}, hashed (HMAC-SHA256 under the mesh's secret key)."
        column["customProperties"] = [{"property": "masking", "value": "hash"}]
    return column


def _plan_source_port(domain: str, d: int, k: int) -> PlannedPort:
    """Domain 0: a slice of one operational table, keys first, 5-8 columns."""
    table = list(SOURCE_TABLES)[k % len(SOURCE_TABLES)]
    spec = SOURCE_TABLES[table]
    public = not _restricted(d, k)
    publishable = [c for c in spec["columns"] if not c[4].get("unpublished")]
    keys = [c for c in publishable if c[1] in spec["keys"]]
    others = [c for c in publishable if c[1] not in spec["keys"]]
    start = (k // len(SOURCE_TABLES)) % len(others)
    rotated = others[start:] + others[:start]
    chosen = keys + rotated[: max(0, 6 + k % 3 - len(keys))]
    # Publication order follows the table's, as a team would write the select.
    chosen.sort(key=publishable.index)
    return PlannedPort(domain, f"{table}_{k:02d}", table, [_source_column(table, c, public) for c in chosen], not public)


def _plan_consumer_port(domain: str, d: int, k: int, earlier: list[list[PlannedPort]], rng: random.Random) -> PlannedPort:
    """A product reading 1-3 earlier ports: the first one's columns, one row count per further port."""
    recent = [p for ports in earlier[-3:] for p in ports]
    first = rng.choice(recent)
    pool = [p for ports in earlier for p in ports if p is not first]
    others = rng.sample(pool, min(len(pool), rng.choice((0, 1, 1, 2))))
    public = not _restricted(d, k)
    counts = [f"{p.alias}_rows" for p in others]
    # Masked columns arrive as hashes or nulls, of no use downstream (as `mesh new product` does).
    carried = [c for c in first.columns if not _masked(c) and c["name"] not in counts][: MAX_COLUMNS - len(others)]
    columns = []
    for column in carried:
        column = copy.deepcopy(column)
        if column["classification"] == "pii" and public:
            column["description"] = f"{column['description'].split(',')[0].rstrip('.')}, hashed (HMAC-SHA256 under the mesh's secret key)."
            column["customProperties"] = [{"property": "masking", "value": "hash"}]
        columns.append(column)
    for p, name in zip(others, counts):
        columns.append({
            "name": name, "logicalType": "integer", "physicalType": "BIGINT",
            "description": f"Rows of port {p.domain}.{p.name} v1 in the version this one was built from.",
            "logicalTypeOptions": {"minimum": 0}, "classification": "internal",
        })
    port = PlannedPort(domain, f"{first.entity}_{k:02d}", first.entity, columns, not public, [first, *others])
    for p in port.inputs:
        p.readers.add(domain)
    return port


def plan_mesh(domains: int, products: int, seed: int = 0) -> list[list[PlannedPort]]:
    """Every domain's ports, domain 0 first; consumers' inputs and producers' readers filled in."""
    planned: list[list[PlannedPort]] = []
    for d, domain in enumerate(domain_names(domains)):
        if d == 0:
            planned.append([_plan_source_port(domain, d, k) for k in range(products)])
        else:
            planned.append([_plan_consumer_port(domain, d, k, planned, random.Random(f"{seed}:{d}:{k}")) for k in range(products)])
    return planned


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _purpose(port: PlannedPort) -> str:
    if not port.inputs:
        return f"{port.entity} records of the operational system, {len(port.columns)} columns, for every domain to build on."
    reads = ", ".join(f"{p.domain}.{p.name} v1" for p in port.inputs)
    return f"{port.entity} rows as {port.domain} reports them, built from {reads}."


def _contract(port: PlannedPort) -> dict:
    team, email, channel = _team(port.domain)
    keys = [c["name"] for c in port.columns if c.get("primaryKey")]
    if port.restricted:
        roles = [{
            "role": port.role, "access": "read",
            "description": f"Reads {port.name}, personal data included where it has any; granted per domain by {team}.",
            "firstLevelApprovers": email,
            "customProperties": [{"property": "grantedTo", "value": sorted(port.readers)}],
        }]
    else:
        roles = [{"role": PUBLIC_ROLE, "access": "read", "description": "Any domain of the mesh may read this port."}]
    return {
        "apiVersion": "v3.1.0", "kind": "DataContract", "id": f"urn:mesh:contract:{port.domain}:{port.name}", "name": port.name,
        "version": "1.0.0", "status": "active", "domain": port.domain, "dataProduct": port.name,
        "description": {"purpose": _purpose(port)},
        "schema": [{
            "name": port.name, "physicalName": port.name, "physicalType": "table", "logicalType": "object",
            "description": _purpose(port), "properties": port.columns,
            "quality": [
                {"name": "keys_present", "description": f"Every row has its key ({', '.join(keys)}).", "type": "sql",
                 "query": f"select count(*) from {{object}} where {' or '.join(f'{k} is null' for k in keys)}", "mustBe": 0,
                 "dimension": "completeness"},
                {"name": "not_empty", "description": "A published version is never empty.", "type": "library",
                 "metric": "rowCount", "mustBeGreaterThan": 0, "dimension": "completeness"},
            ],
        }],
        "slaProperties": [{"property": "frequency", "value": 1, "unit": "d"}, {"property": "latency", "value": 4, "unit": "h"},
                          {"property": "retention", "value": 30, "unit": "d"}],
        "roles": roles,
        "team": {"name": team, "members": [{"username": email, "role": "owner"}]},
        "support": [{"channel": channel, "tool": "slack", "url": f"https://chat.mesh.example/channels/{channel[1:]}"}],
        "servers": [{
            "server": "port_catalog", "type": "local", "format": "iceberg", "path": f"$MESH_HOME/ports/warehouse/{port.domain}/{port.name}_v1",
            "description": f"The Iceberg table {port.domain}.{port.name}_v1 of the mesh's port catalog; each published version is a snapshot.",
        }],
    }


def _descriptor(port: PlannedPort) -> dict:
    team, email, channel = _team(port.domain)
    support_url = f"https://chat.mesh.example/channels/{channel[1:]}"
    doc = {
        "apiVersion": "v1.0.0", "kind": "DataProduct", "id": f"urn:mesh:product:{port.domain}:{port.name}", "name": port.name,
        "version": "1.0.0", "status": "active", "domain": port.domain, "description": {"purpose": _purpose(port)}, "tenant": TENANT,
        "team": [{"username": email, "name": team, "role": "owner"}],
        "support": [{"channel": channel, "tool": "slack", "url": support_url}],
    }
    if port.inputs:
        doc["inputPorts"] = [{"name": p.alias, "version": "1.0.0", "contractId": f"urn:mesh:contract:{p.domain}:{p.name}"} for p in port.inputs]
        doc["customProperties"] = [{"property": "inputRoles", "value": {p.alias: p.role for p in port.inputs}}]
    doc["managementPorts"] = [
        {"name": "observability", "content": "observability", "type": "rest", "url": f"iceberg:mesh.{port.domain}.{port.name}_v1",
         "description": "The port's Iceberg table: each snapshot's summary holds the contract version, run id, every check result, "
                        "schema fingerprint and row count (`mesh ports`)."},
        {"name": "control", "content": "control", "type": "rest", "url": support_url,
         "description": "Request access, or report a problem, to the owning team."},
    ]
    doc["outputPorts"] = [{"name": port.name, "description": f"{port.name} as an Iceberg table in the port catalog.", "type": "iceberg",
                           "version": "1.0.0", "contractId": f"urn:mesh:contract:{port.domain}:{port.name}"}]
    return doc


def _write_domain_folder(root: Path, d: int, ports: list[PlannedPort]) -> None:
    domain = ports[0].domain
    team, email, _ = _team(domain)
    folder = root / "domains" / domain
    doc = {
        "name": domain,
        "description": ("Source-aligned: owns the order, customer and parts systems' tables and publishes them as ports." if d == 0
                        else "Consumer-aligned reporting, built only from other domains' ports."),
        "team": {"name": team, "email": email},
        "schedule": {"cron": f"{(7 * d) % 60} {(1 + d) % 24} * * *", "timezone": "UTC"},
    }
    if d == 0:
        doc["operationalSources"] = list(SOURCE_TABLES)
    _write(folder / "domain.yaml", _dump(doc))
    _write(folder / "definitions.py", DEFINITIONS)
    _write(folder / COMPONENT_FILE, COMPONENT)
    _write(folder / DEFS_PACKAGE / "__init__.py", "")
    if d % 5 == 4:
        # Finance's own policy, under this domain's name: domain policies load with the location.
        text = (REPO / "domains" / TEMPLATE / "policies.py").read_text()
        for old, new in (("Finance's", f"{domain}'s"), ("finance-", f"{domain.replace('_', '-')}-"), ("finance ", f"{domain} ")):
            text = text.replace(old, new)
        _write(folder / "policies.py", text)
    for port in ports:
        product = folder / "products" / port.name
        _write(product / "product.odps.yaml", _dump(_descriptor(port)))
        _write(product / f"{port.name}.odcs.yaml", _dump(_contract(port)))


def _dbt_project_yml(domain: str, source_aligned: bool) -> str:
    staging = "    staging:\n      +materialized: view\n" if source_aligned else ""
    return (f'name: {domain}\nversion: "1.0.0"\nprofile: {domain}\nmodel-paths: ["models"]\n\nmodels:\n  {domain}:\n'
            f"{staging}    products:\n      +materialized: table\n")


def _write_staging(models: Path, domain: str) -> None:
    """Domain 0's operational sources and the staging views renaming their columns."""
    sources, staging = [], []
    for table, spec in SOURCE_TABLES.items():
        sources.append({
            "name": table, "config": {"meta": {"dagster": {"asset_key": [domain, "operational", table]}}}, "description": spec["description"],
            "columns": [{"name": c[0], "data_type": c[2], "description": c[3]} for c in spec["columns"]],
        })
        staging.append({
            "name": f"stg_{table}", "description": f"The operational {table} table with mesh column names.",
            "columns": [{"name": c[1], "data_type": c[2], "description": c[3]} for c in spec["columns"]],
        })
        renames = ",\n".join(f"    {c[0]} as {c[1]}" for c in spec["columns"])
        _write(models / "staging" / f"stg_{table}.sql", f"select\n{renames}\nfrom {{{{ source('operational', '{table}') }}}}\n")
    operational = {"name": "operational", "description": "Tables of the operational systems, landed by `mesh seed`.", "schema": "operational", "tables": sources}
    _write(models / "staging" / "_sources.yml", _dump({"version": 2, "sources": [operational]}))
    _write(models / "staging" / "_staging.yml", _dump({"version": 2, "models": staging}))


def _consumer_sql(port: PlannedPort) -> str:
    first, others = port.inputs[0], port.inputs[1:]
    counts = {f"{p.alias}_rows": p for p in others}
    select = [f"    {counts[c['name']].alias}_stats.row_count as {c['name']}" if c["name"] in counts else f"    {first.alias}.{c['name']}"
              for c in port.columns]
    lines = [f"-- {port.name}: {_purpose(port)}", "select", ",\n".join(select),
             f"from {{{{ source('{first.domain}', '{first.name}') }}}} as {first.alias}"]
    lines += [f"cross join (select count(*) as row_count from {{{{ source('{p.domain}', '{p.name}') }}}}) as {p.alias}_stats" for p in others]
    return "\n".join(lines) + "\n"


def _write_dbt_project(root: Path, d: int, ports: list[PlannedPort]) -> None:
    domain = ports[0].domain
    project = root / "dbt_projects" / domain
    # Its profile and input ports' sources are written from the descriptors by `mesh prepare`.
    _write(project / "dbt_project.yml", _dbt_project_yml(domain, d == 0))
    models = project / "models"
    if d == 0:
        _write_staging(models, domain)
        for port in ports:
            columns = ",\n".join(f"    {c['name']}" for c in port.columns)
            _write(models / "products" / f"{port.name}.sql", f"select\n{columns}\nfrom {{{{ ref('stg_{port.entity}') }}}}\n")
    else:
        for port in ports:
            _write(models / "products" / f"{port.name}.sql", _consumer_sql(port))


def _write_workspace(root: Path, names: list[str]) -> None:
    entries = "".join(
        f"  - python_file:\n      relative_path: domains/{n}/definitions.py\n      location_name: {n}\n      working_directory: .\n" for n in names
    )
    _write(root / "workspace.yaml", (
        "# One code location per domain: each team deploys and reloads its own.\nload_from:\n" + entries +
        "  # The platform's own location: the mesh-wide governance job and its scorecard.\n"
        "  - python_module:\n      module_name: platform_lib.governance.definitions\n      location_name: governance\n      working_directory: .\n"
    ))


def generate_synthetic_mesh(root: Path, domains: int = 20, products: int = 25, seed: int = 0) -> list[list[PlannedPort]]:
    """Write workspace.yaml, domains/, dbt_projects/ and a platform_lib link under root; returns the
    plan (each domain's ports, producers first). Manifests are written by `prepare_manifests`."""
    if domains < 2 or products < 1:
        raise ValueError("a mesh needs a source-aligned domain and at least one consumer domain, each with a product")
    planned = plan_mesh(domains, products, seed)
    for d, ports in enumerate(planned):
        _write_domain_folder(root, d, ports)
        _write_dbt_project(root, d, ports)
    _write_workspace(root, [ports[0].domain for ports in planned])
    # The workspace's working directory is this folder: the code locations import the platform from it.
    (root / "platform_lib").symlink_to(REPO / "platform_lib", target_is_directory=True)
    return planned


def prepare_manifests(root: Path, env: dict) -> None:
    """`mesh prepare` on the generated mesh: dbt parses every project in one process."""
    env = {**env, "MESH_ROOT": str(root)}
    out = subprocess.run([str(Path(sys.executable).parent / "mesh"), "prepare"], env=env, cwd=root, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"mesh prepare of {root} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def clean_env(root: Path, home: Path) -> dict:
    """This environment without any inherited MESH_* or DAGSTER_HOME, on the mesh at root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_") and k not in ("DAGSTER_HOME", "PYTHONPATH")}
    return {**env, "MESH_ROOT": str(root), "MESH_HOME": str(home)}


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a generated mesh into an empty folder, to look at or to benchmark.")
    parser.add_argument("out")
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--products", type=int, default=25)
    parser.add_argument("--finance-copies", type=int, help="instead: the three real producers and N copies of finance")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    if args.finance_copies is not None:
        env = {**os.environ, "MESH_HOME": str(out / ".mesh"), "MESH_DUCKDB_MEMORY_LIMIT": "1GB"}
        write_manifests(out, generate_mesh(out, args.finance_copies), env)
        return
    generate_synthetic_mesh(out, args.domains, args.products)
    prepare_manifests(out, clean_env(out, out / ".mesh"))


if __name__ == "__main__":
    main()
