"""What a domain's dbt manifest says about its ports: the model behind each, the sources it reads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.descriptors.keys import dbt_project
from platform_lib.descriptors.product import OutputPort

MANIFEST = "target/manifest.json"


def load_manifest(domain) -> dict:
    path = domain.dbt_project_dir / MANIFEST
    if not path.exists():
        raise DescriptorError([Problem(path, "", "no dbt manifest: run `mesh prepare` (or `make setup`) first")])
    return json.loads(path.read_text())


def model_relation(port: OutputPort, manifest: Mapping[str, Any]) -> str:
    """The DuckDB relation of the dbt model behind a port; an unknown model is an error in the contract."""
    node = manifest["nodes"].get(f"model.{port.domain}.{port.contract.model}")
    if node is None:
        raise DescriptorError([port.contract.schema_problem(f"no dbt model {port.contract.model!r} in {dbt_project(port.domain)}: create it or fix physicalName", "physicalName")])
    return node["relation_name"]


def source_asset_key(source: Mapping[str, Any]) -> tuple[str, ...] | None:
    meta = source.get("config", {}).get("meta") or source.get("meta") or {}
    key = meta.get("dagster", {}).get("asset_key")
    return tuple(key) if key else None


def domain_sources(domain, manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in manifest["sources"].values() if s["package_name"] == domain.name]


def models_reading(manifest: Mapping[str, Any], asset_key: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """The dbt models that read the source bound to an asset key (a port of another domain)."""
    sources = {uid for uid, s in manifest["sources"].items() if source_asset_key(s) == tuple(asset_key)}
    return [n for n in manifest["nodes"].values() if n.get("resource_type") == "model" and sources & set(n["depends_on"]["nodes"])]


def compiled_as_written(project: Path, manifest: Mapping[str, Any], compiled_at: float) -> bool:
    """Whether a manifest's compiled SQL is the project's as it is on disk: the same models, each
    compiled from its file as it now reads, and no other file of the project changed since."""
    models = {n["original_file_path"]: n for n in manifest["nodes"].values() if n.get("resource_type") == "model"}
    files = [project / "dbt_project.yml", *(project / "models").rglob("*"), *(project / "macros").rglob("*")]
    written = {str(f.relative_to(project)) for f in files if f.suffix == ".sql" and f.relative_to(project).parts[0] == "models"}
    if written != set(models):
        return False
    # dbt keeps a file's SQL without its surrounding white space.
    if any(n.get("compiled_code") is None or (project / path).read_text().strip() != n["raw_code"].strip() for path, n in models.items()):
        return False
    return all(f.stat().st_mtime <= compiled_at for f in files if f.is_file() and str(f.relative_to(project)) not in models)


def lineage_of(manifest: Mapping[str, Any], model: str) -> tuple[dict[str, str], list[Mapping[str, Any]]]:
    """What a model is computed from, transitively: each model's SQL as dbt compiled it (its raw SQL
    where it was not compiled), by unique id, and the sources read on the way."""
    nodes, sources = manifest["nodes"], manifest["sources"]
    code, read, todo = {}, {}, [model]
    while todo:
        uid = todo.pop()
        if uid in code or uid in read:
            continue
        if uid in sources:
            read[uid] = sources[uid]
            continue
        node = nodes.get(uid)
        if node is None or node.get("resource_type") != "model":
            continue
        code[uid] = node.get("compiled_code") or node["raw_code"]
        todo += node["depends_on"]["nodes"]
    return code, list(read.values())
