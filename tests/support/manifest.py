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
    relation = source["relation_name"].rsplit(".", 1)[0] + f'."{name}"'
    source.update(name=name, identifier=name, unique_id=f"source.{domain}.{source['source_name']}.{name}", relation_name=relation)
    source["config"]["meta"] = source["meta"] = {"dagster": {"asset_key": asset_key}}
    manifest["sources"][source["unique_id"]] = source
    path.write_text(json.dumps(manifest))

