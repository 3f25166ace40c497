"""Which folders are domains: the code locations workspace.yaml loads from a file."""

from __future__ import annotations

from pathlib import Path

from platform_lib.descriptors.fields import field
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.settings import WORKSPACE_FILE


def domain_folders(workspace_file: Path = WORKSPACE_FILE) -> dict[str, Path]:
    """Code location name -> domain folder, in workspace order. Domains are the `python_file`
    entries; the platform's own locations (governance) load a `python_module`."""
    doc = load_yaml(workspace_file)
    entries = field(doc, "load_from", kind=list)
    folders = {}
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and "python_module" in entry:
            continue
        location = field(doc, "load_from", i, "python_file", "location_name")
        relative = field(doc, "load_from", i, "python_file", "relative_path")
        folders[location] = (workspace_file.parent / relative).parent
    return folders
