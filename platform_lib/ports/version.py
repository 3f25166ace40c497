"""One published version of a port, as the catalog's snapshot summary states it: light enough for a
process that never opens the catalog (runs.unchanged hands versions to one) to hold."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.table.snapshots import Snapshot

# Snapshot summary keys: the facts of one published version.
FACTS = ("contract-id", "contract-version", "run-id", "schema-fingerprint", "row-count", "published-at", "checks")


@dataclass(frozen=True)
class PortVersion:
    """One published version of a port: an Iceberg snapshot and the facts in its summary."""

    key: tuple[str, str]
    snapshot_id: int
    facts: dict

    @classmethod
    def of(cls, key: tuple[str, str], snapshot: Snapshot) -> PortVersion:
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        facts = {name: summary.get(f"mesh.{name}") for name in FACTS}
        facts["checks"] = json.loads(facts["checks"] or "[]")
        facts["row-count"] = int(summary.get("total-records", 0))
        return cls(key, snapshot.snapshot_id, facts)

    @property
    def published_at(self) -> datetime:
        return datetime.fromisoformat(self.facts["published-at"])
