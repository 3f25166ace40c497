"""The port catalog: every published output port is an Apache Iceberg table, `<domain>.<port>_v<major>`,
in pyiceberg's SQL catalog (a SQLite file by default, PostgreSQL in production), so any engine that
reads Iceberg (DuckDB, Spark, Trino, pyiceberg, Polars) reads a port by its catalog name.

A version is one snapshot. Its summary carries the publication's facts (contract, run, checks,
schema fingerprint, row count, its file's content digest); the table's properties carry the contract and its grants as last
published, which is all a consumer needs to bind to the port without the producer's files.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.io.pyarrow import pyarrow_to_schema
from pyiceberg.table import Table, TableProperties, _parquet_files_to_data_files
from pyiceberg.table.snapshots import Snapshot
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from platform_lib.descriptors.keys import table_name
from platform_lib.ports.published import CATALOG_NAME
from platform_lib.ports.storage import CatalogUnreachable, PortStorage, path_of
from platform_lib.ports.version import PortVersion


def schema_fingerprint(schema) -> str:
    return hashlib.sha256(schema.to_string(show_schema_metadata=False).encode()).hexdigest()[:16]


class PublishConflict(RuntimeError):
    """Another run published the port between this run's start and its commit."""


def overwrite(tx, table: Table, base: Snapshot | None, files: list, summary: dict[str, str]) -> None:
    """In transaction `tx`: one snapshot whose content is `files` (Iceberg data files) instead of
    `base`'s, its summary `summary`."""
    with tx.update_snapshot(snapshot_properties=summary).overwrite() as snapshot:
        if base is not None:
            for task in table.scan(snapshot_id=base.snapshot_id).plan_files():
                snapshot.delete_data_file(task.file)
        for data_file in files:
            snapshot.append_data_file(data_file)


class PortCatalog:
    def __init__(self, storage: PortStorage | None = None):
        """The catalog of `storage`, by default the one the settings name, reached as this process."""
        self.storage = storage or PortStorage.from_settings()

    @cached_property
    def catalog(self) -> SqlCatalog:
        """Connects, creating the catalog's tables on first use (and the SQLite file's folder)."""
        uri = self.storage.catalog_uri
        url = make_url(uri)
        if url.get_backend_name() == "sqlite" and url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            return SqlCatalog(CATALOG_NAME, uri=uri, warehouse=self.storage.warehouse_uri, **self.storage.iceberg_properties())
        except OperationalError as exc:
            raise CatalogUnreachable(uri, exc) from None

    def table(self, key: tuple[str, str]) -> Table | None:
        try:
            return self.catalog.load_table(table_name(key))
        except NoSuchTableError:
            return None

    def current(self, key: tuple[str, str]) -> PortVersion | None:
        table = self.table(key)
        snapshot = table.current_snapshot() if table else None
        return PortVersion.of(key, snapshot) if snapshot else None

    def versions(self, key: tuple[str, str]) -> list[PortVersion]:
        """Every version still retained, oldest first."""
        table = self.table(key)
        return [PortVersion.of(key, s) for s in table.snapshots()] if table else []

    def ports(self) -> list[tuple[str, str]]:
        return sorted(tuple(identifier) for ns in self.catalog.list_namespaces() for identifier in self.catalog.list_tables(ns))

    def start(self, key: tuple[str, str], staged_schema, properties: dict[str, str]) -> Table:
        """The port's table as this run found it; created on first publication. The commit of this
        run's version succeeds only if nobody published since (optimistic concurrency)."""
        existing = self.table(key)
        if existing is not None:
            return existing
        self.catalog.create_namespace_if_not_exists(key[0])
        try:
            return self.catalog.create_table(
                table_name(key), schema=staged_schema, location=self.storage.table_location(key),
                properties={
                    "write.data.path": self.storage.data_location(key),
                    # A loser must learn it lost, not silently overwrite the winner's version.
                    TableProperties.COMMIT_NUM_RETRIES: "0",
                    # Each commit writes a metadata file; keep a few, not one per version ever published.
                    TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED: "true",
                    TableProperties.METADATA_PREVIOUS_VERSIONS_MAX: "10",
                    **properties,
                },
            )
        except TableAlreadyExistsError:  # another run's first publication created it meanwhile
            return self.catalog.load_table(table_name(key))

    def commit(self, table: Table, data_uri: str, facts: dict[str, str], properties: dict[str, str]) -> PortVersion:
        """Make one registered Parquet file the whole content of the port, in one snapshot."""
        key = tuple(table.name()[-2:])
        base = table.current_snapshot()
        try:
            with table.transaction() as tx:
                tx.set_properties(**properties)
                if tx.table_metadata.name_mapping() is None:
                    # Files written by DuckDB carry no Iceberg field ids: columns map by name.
                    tx.set_properties(**{TableProperties.DEFAULT_NAME_MAPPING: tx.table_metadata.schema().name_mapping.model_dump_json()})
                staged = pq.read_schema(self.storage.filesystem(data_uri).open_input_file(path_of(data_uri)))
                current = tx.table_metadata.schema()
                if pyarrow_to_schema(staged, name_mapping=current.name_mapping).as_struct() != current.as_struct():
                    with tx.update_schema() as update:
                        update.union_by_name(staged)
                # Private: the public `add_files` appends; a version replaces the port's content in
                # one snapshot, which needs the data file's entry for `overwrite`.
                added = list(_parquet_files_to_data_files(tx.table_metadata, [data_uri], table.io))
                overwrite(tx, table, base, added, {f"mesh.{k}": v for k, v in facts.items()})
        except CommitFailedException:
            winner = self.current(key)
            raise PublishConflict(
                f"port {table_name(key)}: run {winner.facts['run-id'] if winner else '?'} published snapshot "
                f"{winner.snapshot_id if winner else '?'} while this run was auditing its version; this version was "
                "not published and the other run's stays current. Run again to publish from the newer inputs."
            ) from None
        return self.current(key)

    def note(self, table: Table, properties: dict[str, str]) -> None:
        """Set table properties without a snapshot: what consumers pin does not move."""
        with table.transaction() as tx:
            tx.set_properties(**properties)

    def expire(self, key: tuple[str, str], older_than: timedelta) -> list[int]:
        """Retention: drop snapshots published before the window (never the current one) and the
        data files no retained snapshot references any more."""
        table = self.table(key)
        current = table.current_snapshot() if table else None
        if current is None:
            return []
        cutoff = datetime.now(UTC) - older_than
        expired = [s for s in table.snapshots() if s.snapshot_id != current.snapshot_id and PortVersion.of(key, s).published_at < cutoff]
        if not expired:
            return []
        files = {s.snapshot_id: self.data_files(table, s.snapshot_id) for s in table.snapshots()}
        table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in expired]).commit()
        kept = {f for sid, fs in files.items() if sid not in {s.snapshot_id for s in expired} for f in fs}
        fs = self.storage.filesystem()
        for path in {f for s in expired for f in files[s.snapshot_id]} - kept:
            fs.delete_file(path_of(path))
        return [s.snapshot_id for s in expired]

    def remove_orphans(self, key: tuple[str, str], older_than: timedelta) -> list[str]:
        """Delete the files of the table's data folder that no retained snapshot uses (the upload of a
        run killed before its commit, a delete that failed), as Iceberg's remove-orphan-files does:
        one listing, and only files last modified before `older_than` ago, since a younger one may be
        a running publication's upload that its commit is about to register."""
        import pyarrow.fs as pafs

        fs, cutoff = self.storage.filesystem(), datetime.now(UTC) - older_than
        listed = fs.get_file_info(pafs.FileSelector(path_of(self.storage.data_location(key)), allow_not_found=True, recursive=True))
        aged = {info.path for info in listed if info.type == pafs.FileType.File and info.mtime < cutoff}
        # Loaded after the listing: a file listed was registered by then, or is older than the grace.
        table = self.table(key) if aged else None
        if table is None:
            return []
        used = {path_of(f) for s in table.snapshots() for f in self.data_files(table, s.snapshot_id)}
        orphans = sorted(aged - used)
        for path in orphans:
            fs.delete_file(path)
        return orphans

    @staticmethod
    def data_files(table: Table, snapshot_id: int) -> list[str]:
        return [task.file.file_path for task in table.scan(snapshot_id=snapshot_id).plan_files()]
