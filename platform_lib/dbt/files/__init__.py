"""The files of a domain's dbt project that its descriptors decide, written by the platform before
every dbt compile it runs (dbt.compile: `mesh prepare`, `mesh check`, `mesh new`, a code
location's first load), so they exist before dbt parses the project and never drift from the
descriptors. A team edits the descriptors, never these files (git ignores them):

- `profiles.yml`: the domain's own DuckDB file and the platform's fence, or its Spark session (profile.py);
- `models/_ports.yml`: each input port as a dbt source bound to its producer's port asset, with the
  producer's contract columns when the caller knows the producer (sources.py);
- `models/_contracts.yml`: each output port's columns and types as an enforced dbt model contract on
  the model behind it, so dbt itself refuses to build a model that drifted from its contract
  (model_contracts.py).
"""

from __future__ import annotations

from pathlib import Path

from platform_lib.dbt.files.generated import write_if_changed
from platform_lib.dbt.files.model_contracts import model_contracts
from platform_lib.dbt.files.profile import profile
from platform_lib.dbt.files.sources import SourceTable, source_tables, sources, table_names
from platform_lib.descriptors.domain import Domain, load_domain
from platform_lib.descriptors.producers import ProducerIndex

PROFILE = "profiles.yml"
SOURCES = "models/_ports.yml"
MODEL_CONTRACTS = "models/_contracts.yml"


def dbt_files(domain: Domain, producers: ProducerIndex | None = None) -> dict[str, str | None]:
    """Each file's path in the dbt project -> its text; None for a file the domain has no use for
    (no input port, no output port). `producers`: where the input ports' contracts are read (the
    workspace's mesh, the port catalog); without it, the sources carry no columns."""
    return {PROFILE: profile(domain), SOURCES: sources(domain, producers), MODEL_CONTRACTS: model_contracts(domain)}


def project_domain(project: Path) -> Domain:
    """The domain of a dbt project: the twin folders of keys.dbt_project, dbt_projects/<domain> and domains/<domain>."""
    return load_domain(project.parent.parent / "domains" / project.name)


def write_dbt_files(project: Path, producers: ProducerIndex | None = None) -> list[Path]:
    """Write the dbt project's files from its domain's descriptors (and its producers' contracts);
    the paths that changed. A file already as it should be is left alone: its modification time is
    how `compiled_manifest` and dbt's partial parse tell that nothing changed (a producer's contract
    changed since rewrites its consumers' sources: their manifests are stale)."""
    domain = project_domain(project)
    return [project / name for name, text in dbt_files(domain, producers).items() if write_if_changed(project / name, text)]


__all__ = ["MODEL_CONTRACTS", "PROFILE", "SOURCES", "SourceTable", "dbt_files", "project_domain", "source_tables", "table_names", "write_dbt_files"]
