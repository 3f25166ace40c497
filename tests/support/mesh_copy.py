"""A copy of the repository's mesh (workspace, domains, dbt projects with manifests) to break in a test."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.processes import REPO


def mesh_copy(tmp_path: Path) -> Path:
    root = tmp_path / "mesh"
    root.mkdir()
    shutil.copy(REPO / "workspace.yaml", root)
    shutil.copytree(REPO / "domains", root / "domains", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "dbt_projects", root / "dbt_projects", ignore=shutil.ignore_patterns("logs", "*.duckdb"))
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, line: str) -> int:
    """The number of the first line of the file that reads exactly `line`: where a problem is reported."""
    return path.read_text().splitlines().index(line) + 1
