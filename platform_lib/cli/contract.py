"""`mesh contract sync CONTRACT`: a draft contract's columns rewritten from what its dbt model makes,
so a team writes SQL and descriptions, never a column list or a physical type.

The model is typed, not built (an enforced dbt model contract would refuse to build the very drift
this command is for): dbt compiles the project and DuckDB binds the model's SQL over its inputs typed
as a run binds them (quality.model_types, as `mesh check` judges it), which gives the columns and
types the build makes. The contract's columns become the model's, in its order: a new column comes
with its physical type, the logical type of that, and a description to write; a column the model no
longer makes goes; a kept column keeps all that was written about it but its types, which follow the
model's (a hashed column stays VARCHAR, what its masking publishes). A column's classification is
at least the one it inherits through column lineage from the ports the model reads (a renamed PII
column is still PII): a new column is written with it, a kept one raised to it, never lowered. Only a draft is synced: a
published contract's columns change with a new version (`mesh check --against`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from platform_lib.dbt.compile import compile_project, compiled_manifest
from platform_lib.dbt.files.generated import write_if_changed
from platform_lib.dbt.manifest import model_relation
from platform_lib.descriptors.contract import Contract, rank
from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.descriptors.product import OutputPort
from platform_lib.descriptors.types import logical_type, same_type, written_as_double
from platform_lib.descriptors.yaml_file import dump
from platform_lib.lineage.classification import input_ports, model_classification, traced
from platform_lib.mesh import Mesh, survey
from platform_lib.quality.model_types import model_columns
from platform_lib.settings import WORKSPACE_FILE


class SyncError(ValueError):
    pass


def output_port(mesh: Mesh, target: str) -> OutputPort:
    """The port of a contract file, or of a contract id (its newest live major, or `<id>@<major>`)."""
    if target.startswith("urn:"):
        contract_id, _, major = target.partition("@")
        majors = mesh.live_majors(contract_id)
        if not majors:
            raise SyncError(f"no port of the mesh publishes contract {contract_id}; `mesh catalog list` shows every contract id")
        if major and major not in map(str, majors):
            raise SyncError(f"{target}: live majors of {contract_id} are {', '.join(map(str, majors))}")
        return mesh.ports_by_contract[contract_id, int(major) if major else majors[-1]]
    path = Path(target).resolve()
    if not path.is_file():
        raise SyncError(f"{target}: no such file")
    for port in (p for d in mesh.domains for p in d.output_ports):
        if port.contract.file.resolve() == path:
            return port
    raise SyncError(f"{path} is no output port's contract of the mesh of {WORKSPACE_FILE} (or its domain does not load: `mesh check`)")


def _made(mesh: Mesh, port: OutputPort, manifest: dict) -> list[tuple[str, str]]:
    """The model's columns and types, as DuckDB binds its compiled SQL over its inputs as promised."""
    domain, contract = mesh.domain(port.domain), port.contract
    model_relation(port, manifest)  # refuses a physicalName that names no model
    made = model_columns(domain, manifest, {p.asset_key: p for d in mesh.domains for p in d.output_ports}).get(contract.model)
    if made is None:
        raise DescriptorError([contract.schema_problem(
            f"dbt model {contract.model} reads an input whose types are unknown here: an operational source not landed yet "
            "(`mesh seed`), or a port whose producer is not in this workspace", "physicalName")])
    if isinstance(made, str):
        raise DescriptorError([contract.schema_problem(f"dbt model {contract.model} does not bind over its inputs as they are promised: {made}", "physicalName")])
    node = manifest["nodes"][f"model.{domain.name}.{contract.model}"]
    huge = [Problem(domain.dbt_project_dir / node["original_file_path"], f"model {contract.model}",
                    f"{name} is {kind}, which the port's Parquet file stores as a DOUBLE: cast it, cast(sum(...) as bigint)")
            for name, kind in made if written_as_double(kind)]
    if huge:
        raise DescriptorError(huge)
    return made


def inherited_classifications(mesh: Mesh, port: OutputPort, manifest: dict) -> dict[str, str]:
    """Column -> the classification it inherits unmasked from the ports the model reads (lineage)."""
    domain = mesh.domain(port.domain)
    inputs = input_ports(domain, mesh.producer_of)
    columns = model_classification(domain, manifest, traced(domain, manifest, inputs), port.contract.model, inputs).columns
    return {name: inherited.classification for name, inherited in columns.items() if inherited.classification}


def synced(contract: Contract, written: list[dict], made: list[tuple[str, str]], inherited: dict[str, str]) -> tuple[list[dict], list[str]]:
    """The contract's properties as the model makes them, and each change (`+ name TYPE`, `~ name
    OLD -> NEW`, `- name`). A column's classification is at least what it inherits (never lowered)."""
    kept = {p["name"]: p for p in written}
    masking = {c.name: c.masking for c in contract.columns}
    properties, changes = [], []
    for name, kind in made:
        logical = logical_type(kind)
        if logical is None:
            raise SyncError(f"dbt model {contract.model} makes {name} {kind}, a DuckDB type with no ODCS logical type the platform "
                            "knows: cast it in the model (to VARCHAR, say)")
        prop = kept.get(name)
        floor = inherited.get(name, "internal")
        if prop is None:
            properties.append({"name": name, "logicalType": logical, "physicalType": kind, "description": f"TODO: describe {name}",
                               "classification": floor})
            changes.append(f"+ {name} {kind}" + (f" {floor} (inherited)" if floor != "internal" else ""))
            continue
        if not (masking[name] == "hash" or same_type(prop["physicalType"], kind)):
            prop = {**prop, "logicalType": logical, "physicalType": kind}
            changes.append(f"~ {name} {kept[name]['physicalType']} -> {kind}")
        declared = prop.get("classification", "internal")
        if masking[name] is None and rank(declared.lower()) < rank(floor):
            prop = {**prop, "classification": floor}
            changes.append(f"~ {name} classification {declared} -> {floor} (inherited)")
        properties.append(prop)
    made_names = {name for name, _ in made}
    return properties, changes + [f"- {name}" for name in kept if name not in made_names]


def sync(mesh: Mesh, port: OutputPort) -> list[str]:
    """Rewrite the port's draft contract from its model; the changes made."""
    contract = port.contract
    if contract.status != "draft":
        raise DescriptorError([contract.problem(
            f"is {contract.status}: only a draft contract's columns are synced from its model; a published contract's columns "
            "change with a new version (see `mesh check --against`)", "status")])
    manifest = compiled_manifest(mesh.domain(port.domain).dbt_project_dir, mesh)
    made = _made(mesh, port, manifest)
    doc = yaml.safe_load(contract.file.read_text())
    properties, changes = synced(contract, doc["schema"][0]["properties"], made, inherited_classifications(mesh, port, manifest))
    if changes:
        doc["schema"][0]["properties"] = properties
        write_if_changed(contract.file, dump(doc))
        # The dbt model contract follows, and the prepared manifest with it.
        project = mesh.domain(port.domain).dbt_project_dir
        compile_project(project, project / "target", mesh)
    return changes


def run(args) -> int:
    mesh = survey().mesh
    port = output_port(mesh, args.contract)
    changes = sync(mesh, port)
    model = f"dbt model {port.contract.model}"
    if not changes:
        print(f"{port.contract.file}: its columns are already what {model} makes")
        return 0
    print(f"{port.contract.file}: columns synced from {model}:")
    print("\n".join(f"  {change}" for change in changes))
    if any(change.startswith("+") for change in changes):
        print("next: describe the new columns (each description says TODO), then `mesh check`")
    return 0
