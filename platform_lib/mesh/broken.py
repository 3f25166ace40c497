"""What a domain that failed to load still declares: its contract ids, so that its consumers'
references to them are not reported a second time."""

from __future__ import annotations

from pathlib import Path

from platform_lib.descriptors.derived import contract_files, port_of
from platform_lib.descriptors.keys import contract_id


def declared_contracts(folder: Path) -> set[str]:
    """Contract ids of a domain that failed to load: one per contract file of its product folders,
    named by convention (descriptors.derived), none of them read."""
    return {contract_id(folder.name, port_of(path)[0]) for product in folder.glob("products/*/") for path in contract_files(product)}
