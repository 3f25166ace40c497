"""A published file is what the catalog says it is: Iceberg records each data file's size, record
count and column statistics when it is committed. Before a consumer reads a snapshot, each file's
footer is read again and compared, so a truncated or replaced file stops the run with the port's
name and snapshot instead of failing somewhere inside DuckDB, or worse, being read."""

from __future__ import annotations

from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from platform_lib.ports.storage import PortStorage, path_of

# What Iceberg recorded per file, compared with what the file's footer says now.
RECORDED = ("record_count", "file_size_in_bytes", "value_counts", "null_value_counts", "lower_bounds", "upper_bounds")


class CorruptPort(Exception):
    pass


def verify(table: Table, snapshot: Snapshot, storage: PortStorage) -> list[str]:
    """The snapshot's data files, each checked against the catalog's record of it."""
    name = ".".join(table.name()[-2:])
    files = []
    for task in table.scan(snapshot_id=snapshot.snapshot_id).plan_files():
        recorded, path = task.file, task.file.file_path
        where = f"port {name} snapshot {snapshot.snapshot_id}: data file {path}"
        info = storage.filesystem(path).get_file_info(path_of(path))
        if info.size is None:
            raise CorruptPort(f"{where} is missing; the producer {table.name()[-2]} must republish the port")
        if info.size != recorded.file_size_in_bytes:
            raise CorruptPort(f"{where} is {info.size} bytes, the catalog recorded {recorded.file_size_in_bytes}: truncated or replaced after "
                              f"publication; the producer {table.name()[-2]} must republish the port")
        try:
            found = parquet_file_to_data_file(table.io, table.metadata, path)
        except Exception as exc:  # noqa: BLE001  (any unreadable footer is the same finding)
            raise CorruptPort(f"{where} is no longer a readable Parquet file ({exc}); the producer {table.name()[-2]} must republish the port") from None
        changed = [f for f in RECORDED if getattr(found, f) != getattr(recorded, f)]
        if changed:
            raise CorruptPort(f"{where} differs from what the catalog recorded ({', '.join(changed)}): replaced after publication; "
                              f"the producer {table.name()[-2]} must republish the port")
        files.append(path)
    return files
