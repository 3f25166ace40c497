"""`mesh new domain NAME`: a code location, its dbt project, its descriptor folder, and its entry in
workspace.yaml. Its defs/domain/defs.yaml declares the domain's component, and its dg.toml makes the folder a
project of Dagster's `dg` CLI. The project's profile is the platform's, written from domain.yaml (dbt_files)."""

from __future__ import annotations

from pathlib import Path

from platform_lib.dbt.files import write_dbt_files
from platform_lib.descriptors.domain import DOMAIN_FILE
from platform_lib.descriptors.keys import COMPONENT_FILE, DEFS_PACKAGE
from platform_lib.mesh import domain_folders
from platform_lib.scaffold.files import ScaffoldError, check_name, dump, refuse_existing, write

DEFINITIONS = "from platform_lib import domain_definitions\n\ndefs = domain_definitions(__file__)\n"

DG_PROJECT = """# dg (dagster-dg-cli) reads the domain as a project: `dg list defs`, `dg check defs`, `dg check yaml`
# in this folder. Its defs package declares the domain's component (defs/domain/defs.yaml); definitions.py,
# the code location workspace.yaml loads, builds the same component tree.
directory_type = "project"

[project]
root_module = "defs"
defs_module = "defs"
code_location_target_module = "definitions"
"""

COMPONENT = """# This folder is one domain of the mesh, as a Dagster component: its products, ports and checks,
# its job, schedule and automation sensor, all built from domain.yaml, products/ and its dbt project.
type: platform_lib.DataMeshDomain
"""

# What a new domain's ports promise unless a contract says otherwise (domain.yaml contractDefaults).
PROMISES = {
    "slaProperties": [{"property": "frequency", "value": 1, "unit": "d"}, {"property": "latency", "value": 4, "unit": "h"},
                      {"property": "retention", "value": 30, "unit": "d"}],
    "quality": [{"name": "not_empty", "description": "A published version is never empty.", "type": "library",
                 "metric": "rowCount", "mustBeGreaterThan": 0, "dimension": "completeness"}],
}

PROJECT = """name: {name}
version: "1.0.0"
profile: {name}
model-paths: ["models"]

models:
  {name}:
    # The platform writes each port once, straight from its model's query: `mesh run` builds
    # models as views (var mesh_product_materialization); a plain `dbt build` makes tables.
    +materialized: "{{{{ var('mesh_product_materialization', 'table') }}}}"
"""

WORKSPACE_ENTRY = """  - python_file:
      relative_path: domains/{name}/definitions.py
      location_name: {name}
      working_directory: .
"""


def register(workspace_file: Path, name: str) -> None:
    """Add the domain's code location after the last domain entry, keeping the file's comments."""
    lines = workspace_file.read_text().splitlines(keepends=True)
    entry = WORKSPACE_ENTRY.format(name=name)
    # Before the platform's own locations (python_module entries and the comment above them).
    at = next((i for i, line in enumerate(lines) if line.strip().startswith("- python_module:")), len(lines))
    while at > 0 and lines[at - 1].strip().startswith("#"):
        at -= 1
    workspace_file.write_text("".join(lines[:at] + [entry] + lines[at:]))


def new_domain(root: Path, name: str, team: str | None, email: str | None, description: str | None, cron: str, force: bool) -> list[Path]:
    check_name("domain", name)
    workspace = root / "workspace.yaml"
    registered = name in domain_folders(workspace)
    folder, project = root / "domains" / name, root / "dbt_projects" / name
    files = [folder / DOMAIN_FILE, folder / "definitions.py", folder / "dg.toml", folder / COMPONENT_FILE, project / "dbt_project.yml"]
    refuse_existing(files, force)
    if registered and not force:
        raise ScaffoldError(f"{workspace} already has a code location {name!r}: pass --force to rewrite the domain")
    team, email = check_name("team", team or f"{name}_team"), email or f"{name}@mesh.example"
    domain = {
        "name": name,
        "description": description or f"The {name} domain.",
        "team": {"name": team, "email": email},
        # Every product and contract of the domain names it (descriptors.derived): a chat channel, say, once there is one.
        "support": [{"channel": "email", "tool": "email", "url": f"mailto:{email}"}],
        "schedule": {"cron": cron, "timezone": "UTC"},
        "contractDefaults": PROMISES,
    }
    written = [
        write(folder / DOMAIN_FILE, dump(domain)),
        write(folder / "definitions.py", DEFINITIONS),
        write(folder / "dg.toml", DG_PROJECT),
        write(folder / COMPONENT_FILE, COMPONENT),
        write(folder / DEFS_PACKAGE / "__init__.py", ""),
        write(project / "dbt_project.yml", PROJECT.format(name=name)),
    ]
    (folder / "products").mkdir(exist_ok=True)
    (project / "models").mkdir(exist_ok=True)
    written += write_dbt_files(project)
    if not registered:
        register(workspace, name)
        written.append(workspace)
    return written


__all__ = ["ScaffoldError", "new_domain"]
