"""A mesh of many domains for benchmarks, written into a folder: the repository's three
source-aligned producers (sales, customers, supply; descriptors only, their ports are expected in
a port catalog) and N consumer domains `finance_000`, `finance_001`, ... copied from
domains/finance and dbt_projects/finance under their own names.

The copies leave out finance's returned_item_report: it reads customers' customer_profiles_full,
whose contract grants its role to the domain `finance` alone, so a copy under another name would
(rightly) fail the port-access policy. Each copy keeps revenue_by_nation and shipping_priority.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = "finance"
PRODUCERS = ("sales", "customers", "supply")
DROPPED_PRODUCT = "returned_item_report"
DROPPED_SOURCES = {("customers", "customer_profiles_full"), ("customers", "geography_v1")}  # read by it alone


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
    profiles = folder / "profiles.yml"
    text = re.sub(rf"^{TEMPLATE}:$", f"{name}:", profiles.read_text(), flags=re.MULTILINE)
    profiles.write_text(text.replace(f"/warehouse/{TEMPLATE}.duckdb", f"/warehouse/{name}.duckdb"))
    ports = folder / "models" / "_ports.yml"
    doc = yaml.safe_load(ports.read_text())
    for source in doc["sources"]:
        source["tables"] = [t for t in source["tables"] if (source["name"], t["name"]) not in DROPPED_SOURCES]
    ports.write_text(yaml.safe_dump(doc, sort_keys=False))


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
            ignore=shutil.ignore_patterns("target", "logs", ".user.yml", f"{DROPPED_PRODUCT}.sql"),
        )
        _rename_dbt_project(root / "dbt_projects" / name, name)
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


if __name__ == "__main__":  # python bench/generated_mesh.py <empty folder> <n>: to look at one
    out = Path(sys.argv[1])
    env = {**os.environ, "MESH_HOME": str(out / ".mesh"), "MESH_DUCKDB_MEMORY_LIMIT": "1GB"}
    write_manifests(out, generate_mesh(out, int(sys.argv[2])), env)
