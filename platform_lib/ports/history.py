"""A port's history moves forward: each publication is a new snapshot in a new metadata file, and
consumers refuse a version that does not descend from the one they bound last (ports.binding). Two
things follow here: a producer's deliberate rollback, which is a new snapshot holding an older
version's files (so it moves forward too, and says why), and the sign of a rollback that is not one,
a catalog row pointing at an older metadata file than the newest in the table's own folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pyarrow.fs import FileSelector

from platform_lib.descriptors.keys import table_name
from platform_lib.ports.catalog import PortCatalog, overwrite
from platform_lib.ports.storage import path_of
from platform_lib.ports.version import PortVersion

# Iceberg names a table's metadata files <number>-<uuid>.metadata.json, the number growing by one per commit.
METADATA_FILE = re.compile(r"^(\d+)-[0-9a-f-]+\.metadata\.json$")
ROLLBACK_OF, REASON = "mesh.rollback-of", "mesh.rollback-reason"


class RollbackRefused(RuntimeError):
    pass


def rollback(catalog: PortCatalog, key: tuple[str, str], snapshot_id: int, reason: str) -> PortVersion:
    """A new version of the port whose content is retained snapshot `snapshot_id`'s, with that
    version's facts, and why (`reason`) and from where it was rolled back."""
    from platform_lib.ports.integrity import verify

    name = table_name(key)
    table = catalog.table(key)
    target = table.snapshot_by_id(snapshot_id) if table else None
    if target is None:
        retained = [v.snapshot_id for v in catalog.versions(key)]
        raise RollbackRefused(f"port {name}: no retained snapshot {snapshot_id} to roll back to (retained: {retained or 'none'})")
    if not reason.strip():
        raise RollbackRefused(f"port {name}: a rollback needs a reason (--reason), which its consumers read in the snapshot's facts")
    moved = moved_back(catalog, key)
    if moved is not None:
        raise RollbackRefused(f"port {name}: {moved}; a rollback on top of it would be one too. Publish the port again first")
    current = table.current_snapshot()
    if current.snapshot_id == snapshot_id:
        raise RollbackRefused(f"port {name}: snapshot {snapshot_id} is already the current version")
    # Its files must still be what was published: a rollback does not republish a forged file.
    verify(table, target, catalog.storage)
    summary = target.summary.additional_properties if target.summary else {}
    facts = {k: v for k, v in summary.items() if k.startswith("mesh.")}
    facts |= {"mesh.published-at": datetime.now(UTC).isoformat(), ROLLBACK_OF: str(current.snapshot_id), REASON: reason.strip()}
    files = [task.file for task in table.scan(snapshot_id=snapshot_id).plan_files()]
    with table.transaction() as tx:
        overwrite(tx, table, current, files, facts)
    return catalog.current(key)


@dataclass(frozen=True)
class MovedBack:
    """The catalog points at metadata file `current` while the table's folder holds a newer one."""

    current: str
    newest: str

    def __str__(self) -> str:
        return (f"the catalog points at {self.current}, older than {self.newest} in the table's folder: moved back without a "
                "publication (consumers refuse it; the producer republishes or runs `mesh ports rollback`)")


def restore_newest(catalog: PortCatalog, key: tuple[str, str]) -> MovedBack | None:
    """Before the producer publishes: a catalog row moved back is pointed again at the newest metadata
    its producer wrote, so the new version descends from what consumers last bound (and they accept it)."""
    moved = moved_back(catalog, key)
    if moved is None:
        return None
    from sqlalchemy import text

    location = catalog.table(key).metadata_location
    newest = f"{location.rsplit('/', 1)[0]}/{moved.newest}"
    with catalog.catalog.engine.begin() as con:
        con.execute(text("update iceberg_tables set metadata_location = :newest, previous_metadata_location = :current "
                         "where catalog_name = :catalog and table_namespace = :namespace and table_name = :table and metadata_location = :current"),
                    {"newest": newest, "current": location, "catalog": catalog.catalog.name, "namespace": key[0], "table": key[1]})
    return moved


def moved_back(catalog: PortCatalog, key: tuple[str, str]) -> MovedBack | None:
    """Whether the port's current metadata file is older than the newest its producer wrote."""
    table = catalog.table(key)
    if table is None:
        return None
    location = table.metadata_location
    folder = location.rsplit("/", 1)[0]
    infos = catalog.storage.filesystem(folder).get_file_info(FileSelector(path_of(folder), allow_not_found=True))
    numbered = {int(m.group(1)): info.base_name for info in infos if (m := METADATA_FILE.match(info.base_name))}
    current = location.rsplit("/", 1)[-1]
    match = METADATA_FILE.match(current)
    if not numbered or match is None or int(match.group(1)) >= max(numbered):
        return None
    return MovedBack(current, numbered[max(numbered)])
