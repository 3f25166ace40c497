"""A published file is what the catalog says it is: Iceberg records each data file's size, record
count and column statistics when it is committed, and the publication records its content's SHA-256
beside them. Before a consumer reads a snapshot, each file's footer is read again and compared, then
its content, so a truncated or replaced file stops the run with the port's name and snapshot instead
of failing somewhere inside DuckDB, or worse, being read: statistics alone let through a file forged
to the same size, counts and bounds with one value changed between them."""

from __future__ import annotations

import hashlib
import json

from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from platform_lib.ports.storage import PortStorage, path_of

# What Iceberg recorded per file, compared with what the file's footer says now.
RECORDED = ("record_count", "file_size_in_bytes", "value_counts", "null_value_counts", "lower_bounds", "upper_bounds")
# The publication's fact (snapshot summary `mesh.content`): JSON {data file URI: {"sha256": hex, "etag":
# the store's ETag}}. In the summary because the commit that registers the files writes it, it stays
# with the snapshot unchanged, and any Iceberg reader can check it; Iceberg's data file entries have no
# field for a digest. Keyed by URI, so a file the publication did not hash is found out.
CONTENT = "content"
_READ = 8 << 20


class CorruptPort(Exception):
    pass


def sha256(fs, path: str) -> str:
    """Of a file's bytes, read through `fs` in pieces (a port's file can be gigabytes)."""
    digest = hashlib.sha256()
    with fs.open_input_stream(path) as stream:
        while chunk := stream.read(_READ):
            digest.update(chunk)
    return digest.hexdigest()


def etag(fs, path: str) -> str | None:
    """The store's own checksum of an object, from one HEAD request: S3's ETag, which the store computes
    from the bytes it receives, so any rewrite of the object changes it. None on a local disk."""
    with fs.open_input_file(path) as file:
        return file.metadata().get("ETag", b"").decode() or None


def content_fact(fs, data_uri: str, digest: str) -> str:
    """The `CONTENT` fact of a publication's one file, once uploaded: `digest` (the staged file's
    SHA-256) and the store's ETag of the upload, read back at once, which binding compares instead of
    reading the file again."""
    tag = etag(fs, path_of(data_uri))
    return json.dumps({data_uri: {"sha256": digest, **({"etag": tag} if tag else {})}})


def _replaced(where: str, what: str, producer: str) -> CorruptPort:
    return CorruptPort(f"{where} differs from what the catalog recorded ({what}): replaced after publication; "
                       f"the producer {producer} must republish the port")


def _check_content(where: str, recorded: dict | None, fs, path: str, producer: str) -> None:
    if recorded is None:
        raise CorruptPort(f"{where} is not a file its publication recorded: the snapshot was altered after publication; "
                          f"the producer {producer} must republish the port")
    # The ETag is the store's word for the bytes it serves, recomputed by any write through its API;
    # a change behind the API (its volume files on disk) is for the store's own access control to stop.
    if "etag" in recorded and etag(fs, path) == recorded["etag"]:
        return  # the object is as the store held it at publication: not read again
    # No ETag, or another one (the object rewritten, perhaps with the same bytes): the bytes decide.
    found = sha256(fs, path)
    if found != recorded["sha256"]:
        raise _replaced(where, f"content: SHA-256 {found}, published {recorded['sha256']}", producer)


def verify(table: Table, snapshot: Snapshot, storage: PortStorage) -> list[str]:
    """The snapshot's data files, each checked against the catalog's record of it."""
    name, producer = ".".join(table.name()[-2:]), table.name()[-2]
    summary = snapshot.summary.additional_properties if snapshot.summary else {}
    # Snapshots published before contents were recorded have none: their files are held to their
    # statistics only, until the port's next publication.
    content = json.loads(summary[f"mesh.{CONTENT}"]) if f"mesh.{CONTENT}" in summary else None
    files = []
    for task in table.scan(snapshot_id=snapshot.snapshot_id).plan_files():
        recorded, path = task.file, task.file.file_path
        where = f"port {name} snapshot {snapshot.snapshot_id}: data file {path}"
        fs = storage.filesystem(path)
        info = fs.get_file_info(path_of(path))
        if info.size is None:
            raise CorruptPort(f"{where} is missing; the producer {producer} must republish the port")
        if info.size != recorded.file_size_in_bytes:
            raise CorruptPort(f"{where} is {info.size} bytes, the catalog recorded {recorded.file_size_in_bytes}: truncated or replaced after "
                              f"publication; the producer {producer} must republish the port")
        try:
            found = parquet_file_to_data_file(table.io, table.metadata, path)
        except Exception as exc:  # noqa: BLE001  (any unreadable footer is the same finding)
            raise CorruptPort(f"{where} is no longer a readable Parquet file ({exc}); the producer {producer} must republish the port") from None
        changed = [f for f in RECORDED if getattr(found, f) != getattr(recorded, f)]
        if changed:
            raise _replaced(where, ", ".join(changed), producer)
        if content is not None:
            _check_content(where, content.get(path), fs, path_of(path), producer)
        files.append(path)
    return files
