"""`mesh check [PATH]`: every descriptor and contract, and their agreement with dbt, without running anything."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import yaml

from platform_lib.descriptors.dbt_manifest import domain_sources, load_manifest, model_relation, source_asset_key
from platform_lib.descriptors.domain import Domain, load_domain
from platform_lib.descriptors.product import DESCRIPTOR_FILE
from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.mesh import Mesh, domain_folders
from platform_lib.ports.binding import operational_source_key
from platform_lib.settings import warehouse_path


def _collect(problems: list[Problem], fn, *args):
    try:
        return fn(*args)
    except DescriptorError as exc:
        problems += exc.problems
        return None


def _declared_contracts(folder: Path) -> set[str]:
    """Contract ids a domain's descriptors declare, read leniently: when a domain fails to load, its
    consumers' references to these are not reported again (the error is where the producer broke)."""
    ids = set()
    for path in folder.glob(f"products/*/{DESCRIPTOR_FILE}"):
        try:
            document = yaml.safe_load(path.read_text()) or {}
            # Any list but inputPorts: the list holding the output ports may be the misspelled field.
            lists = [v for k, v in document.items() if k != "inputPorts" and isinstance(v, list)]
            ids |= {p.get("contractId") for items in lists for p in items if isinstance(p, dict)}
        except (yaml.YAMLError, AttributeError):
            continue
    return ids


def _input_port_problems(mesh: Mesh, domain: Domain, broken: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for product in domain.products:
        for i, port in enumerate(product.input_ports):
            if port.contract_id in broken:
                continue
            producer = _collect(problems, mesh.producer_port, product, port)
            if producer is not None and producer.domain == domain.name:
                problems.append(load_yaml(product.file).problem(
                    f"{port.contract_id} is this domain's own port; read your own models with ref(), not an input port",
                    "inputPorts", i, "contractId"))
    return problems


def _built_model_problems(domain: Domain, port, relation: str) -> list[Problem]:
    """The dbt model as last built in the domain's warehouse, against its contract's columns and
    types. Nothing is run: without a build (or while a run holds the file) there is nothing to read."""
    path = warehouse_path(domain.name)
    if not path.exists():
        return []
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            built = [(name, kind) for name, kind, *_ in con.execute(f"describe select * from {relation}").fetchall()]
    except duckdb.Error:
        return []
    doc = load_yaml(port.contract.file)
    declared = [(c.name, c.physical_type.upper().replace(" ", "")) for c in port.contract.columns]
    if [n for n, _ in built] != [n for n, _ in declared]:
        return [doc.problem(f"dbt model {port.contract.model} (last built) has columns {[n for n, _ in built]}; the contract declares {[n for n, _ in declared]}", "schema", 0, "properties")]
    return [
        doc.problem(f"dbt model {port.contract.model} (last built) makes {name} {kind}; the contract says {want}", "schema", 0, "properties", i, "physicalType")
        for i, ((name, kind), (_, want)) in enumerate(zip(built, declared))
        if kind.upper().replace(" ", "") != want
    ]


def _dbt_problems(mesh: Mesh, domain: Domain, broken: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    manifest = _collect(problems, load_manifest, domain)
    if manifest is None:
        return problems
    for port in domain.output_ports:
        relation = _collect(problems, model_relation, port, manifest)
        if relation is not None:
            problems += _built_model_problems(domain, port, relation)
    bound = {}
    for product in domain.products:
        for port in product.input_ports:
            producer = mesh.ports_by_contract.get(port.contract_id)
            if producer is not None:
                bound[producer.asset_key] = (product, port)
    if any(port.contract_id in broken for port in domain.input_ports):
        return problems  # which source reads which port is unknowable while a producer is broken
    operational = {operational_source_key(domain.name, t) for t in domain.operational_sources}
    read = set()
    for source in domain_sources(domain, manifest):
        key = source_asset_key(source)
        where = domain.dbt_project_dir / source["original_file_path"]
        field = f"sources.{source['source_name']}.tables.{source['name']}"
        if key is None:
            problems.append(Problem(where, field, "set config.meta.dagster.asset_key to the port or operational source it reads"))
        elif key not in operational and key not in bound:
            problems.append(Problem(where, field, f"reads {'/'.join(key)}, which no input port of domain {domain.name} binds: add an input port for its contract, or read an operational source of this domain"))
        read.add(key)
    for key, (product, port) in bound.items():
        if key not in read:
            problems.append(load_yaml(product.file).problem(
                f"input port {port.name} binds {'/'.join(key)} but no dbt source of dbt_projects/{domain.name} reads it",
                "inputPorts", product.input_ports.index(port), "name"))
    for key in operational - read:
        problems.append(Problem(domain.folder / "domain.yaml", "operationalSources", f"{key[2]} has no dbt source in dbt_projects/{domain.name}"))
    return problems


def check(root: Path) -> list[Problem]:
    """Every problem of the mesh rooted at `root` (the folder of workspace.yaml)."""
    problems: list[Problem] = []
    folders = _collect(problems, domain_folders, root / "workspace.yaml")
    if folders is None:
        return problems
    domains, broken = [], set()
    for folder in folders.values():
        domain = _collect(problems, load_domain, folder)
        if domain is None:
            broken |= _declared_contracts(folder)
        else:
            domains.append(domain)
    mesh = Mesh(tuple(domains))
    for domain in domains:
        problems += _input_port_problems(mesh, domain, broken)
        problems += _dbt_problems(mesh, domain, broken)
    return problems


def render(problems: list[Problem], as_json: bool) -> str:
    if as_json:
        return json.dumps([{"file": str(p.file), "line": p.line, "field": p.field, "message": p.message} for p in problems], indent=2)
    return "\n".join(str(p) for p in problems) if problems else "mesh check: no problems"
