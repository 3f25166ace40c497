"""What a domain that failed to load still declares: its contract ids, so that its consumers'
references to them are not reported a second time."""

from __future__ import annotations

from pathlib import Path

from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.product import DESCRIPTOR_FILE
from platform_lib.descriptors.yaml_file import load_yaml


def declared_contracts(folder: Path) -> set[str]:
    """Contract ids a domain's descriptors declare, read leniently (the domain failed to load)."""
    ids = set()
    for path in folder.glob(f"products/*/{DESCRIPTOR_FILE}"):
        try:
            document = load_yaml(path).data
        except DescriptorError:
            continue  # reported by the domain's own load
        # Any list but inputPorts: the list holding the output ports may be the misspelled field.
        lists = [v for k, v in document.items() if k != "inputPorts" and isinstance(v, list)]
        ids |= {p.get("contractId") for items in lists for p in items if isinstance(p, dict)}
    return ids
