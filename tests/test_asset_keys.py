"""Every asset key and asset check of the mesh, as its code locations define them, is the committed
list tests/snapshots/asset_keys.txt: a key or check renamed, dropped or added by a change to the
platform or a descriptor shows in review as a diff of that file, not only in the UI after a deploy."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from tests.support.locations import defined_keys
from tests.support.processes import REPO

pytestmark = pytest.mark.unit

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_keys.txt"
UPDATE = "MESH_UPDATE_SNAPSHOTS"


def mesh_keys(location_graphs) -> list[str]:
    """One line per asset key (sales/orders_v1) and per check (sales/orders_v1:schema), sorted."""
    lines = set()
    for location, graph in location_graphs.items():
        lines |= {key.to_user_string() for key in defined_keys(location, graph)}
        lines |= {check.to_user_string() for check in graph.asset_check_keys}
    return sorted(lines)


def test_asset_keys_and_checks_match_the_snapshot(location_graphs):
    current = mesh_keys(location_graphs)
    if os.environ.get(UPDATE) == "1":
        SNAPSHOT.write_text("".join(f"{line}\n" for line in current))
    committed = SNAPSHOT.read_text().splitlines()
    diff = "\n".join(difflib.unified_diff(committed, current, str(SNAPSHOT), "the code", lineterm=""))
    assert current == committed, (
        f"the mesh's asset keys and checks are not {SNAPSHOT.name}:\n{diff}\n"
        f"If the change is intended, {UPDATE}=1 pytest {Path(__file__).relative_to(REPO)} rewrites it: commit it with the change."
    )
