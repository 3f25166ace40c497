"""Dagster's event log for the embedded default: Dagster's own SQLite databases and schema (one per
run, and the index of asset events), each opened once per process instead of once per statement.

Dagster's SqliteEventLogStorage builds an engine, opens the database and closes it again for every
transaction: about five per event. Closing the last connection to a WAL database checkpoints it, and
every commit syncs the file, so one asset event cost about 6 ms and a domain run's bookkeeping
seconds. Here each database keeps one connection. In WAL mode with synchronous=NORMAL, a commit
writes to the log and is not synced: a crash of the process loses nothing, and a power cut can lose
only the last events and never corrupts the database. (The port catalog is a database of its own,
synced as before: what a port published does not depend on this log.) Deployments keep their
event log in PostgreSQL (deploy.instance).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

# The index and the runs being written or read now; a webserver reads many runs' databases, one
# after another.
KEPT_DATABASES = 8


def _unsynced_commits(connection, _record) -> None:
    connection.execute("PRAGMA synchronous=NORMAL")


class KeptConnectionsEventLogStorage(SqliteEventLogStorage):
    """`event_log_storage` of the embedded instance's dagster.yaml (settings.export_environment)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._pid = os.getpid()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> KeptConnectionsEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        if self._pid != os.getpid():
            # A forked process must not use its parent's open connections: it drops them unclosed.
            self._engines.clear()
            self._pid = os.getpid()
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = db.create_engine(self.conn_string_for_shard(shard), pool_size=1,
                                      connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            db.event.listen(engine, "connect", _unsynced_commits)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > KEPT_DATABASES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's lock: one transaction at a time per storage, so one connection per database.
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        # Asked before most asset writes, within a transaction that holds the lock: Dagster's own
        # answer (a connection of its own), kept once the table is there, as it then stays.
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def dispose(self) -> None:
        super().dispose()
        if self._pid == os.getpid():
            for engine in self._engines.values():
                engine.dispose()
        self._engines.clear()
