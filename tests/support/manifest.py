"""Edits to a mesh copy's dbt manifest: a dbt source as `dbt parse` would have written it."""

from __future__ import annotations

import copy
import json
from pathlib import Path


def _path(root: Path, domain: str) -> Path:
    return root / "dbt_projects" / domain / "target" / "manifest.json"


def add_source(root: Path, domain: str, name: str, asset_key: list[str]) -> None:
    """A new dbt source in `domain` bound to `asset_key` (a copy of one of its sources, renamed)."""
    path = _path(root, domain)
    manifest = json.loads(path.read_text())
    template = next(s for s in manifest["sources"].values() if s["package_name"] == domain)
    source = copy.deepcopy(template)
    source.update(name=name, identifier=name, unique_id=f"source.{domain}.{source['source_name']}.{name}")
    source["config"]["meta"] = source["meta"] = {"dagster": {"asset_key": asset_key}}
    manifest["sources"][source["unique_id"]] = source
    path.write_text(json.dumps(manifest))


def rebind_source(root: Path, domain: str, old_key: list[str], new_key: list[str]) -> None:
    """Point the dbt source of `domain` that reads `old_key` at `new_key`."""
    path = _path(root, domain)
    manifest = json.loads(path.read_text())
    (source,) = [s for s in manifest["sources"].values() if s["package_name"] == domain and s["config"]["meta"].get("dagster", {}).get("asset_key") == old_key]
    source["config"]["meta"]["dagster"]["asset_key"] = new_key
    source.get("meta", {}).get("dagster", {})["asset_key"] = new_key
    path.write_text(json.dumps(manifest))


def append_raw_code(root: Path, domain: str, model: str, text: str) -> None:
    """`text` added to the SQL of a model of `domain`, as `dbt parse` would have read it."""
    path = _path(root, domain)
    manifest = json.loads(path.read_text())
    manifest["nodes"][f"model.{domain}.{model}"]["raw_code"] += text
    path.write_text(json.dumps(manifest))
