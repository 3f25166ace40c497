"""The port store on a local folder: atomic current pointer, versions, retention."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from platform_lib.ports.store import PortStore, local_path

KEY = ("sales", "orders_v1")


def staged(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / f"staged-{rows}.parquet"
    duckdb.sql(f"COPY (select range as id from range({rows})) TO '{path}' (FORMAT parquet)")
    return path


def test_publish_makes_the_newest_version_current(tmp_path):
    store = PortStore((tmp_path / "store").as_uri())
    assert store.current(KEY) is None
    first = store.publish(KEY, staged(tmp_path, 3), {"run_id": "run-one-0000"})
    second = store.publish(KEY, staged(tmp_path, 5), {"run_id": "run-two-0000"})
    assert store.current(KEY).version_id == second.version_id != first.version_id
    assert [v.version_id for v in store.versions(KEY)] == [first.version_id, second.version_id]
    assert duckdb.sql(f"select count(*) from read_parquet('{local_path(store.current(KEY).data_uri)}')").fetchone() == (5,)
    assert store.current(KEY).manifest["row_count"] == 5 and len(store.current(KEY).manifest["schema_fingerprint"]) == 16


def test_retention_prunes_old_versions_but_never_the_current_one(tmp_path):
    store = PortStore((tmp_path / "store").as_uri())
    old = store.publish(KEY, staged(tmp_path, 1), {"run_id": "run-old-0000"})
    current = store.publish(KEY, staged(tmp_path, 2), {"run_id": "run-new-0000"})
    long_ago = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat()
    for version in (old, current):
        manifest = Path(local_path(version.data_uri)).parent / "manifest.json"
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "published_at": long_ago}))
    assert store.prune(KEY, older_than=timedelta(days=30)) == [old.version_id]
    assert [v.version_id for v in store.versions(KEY)] == [current.version_id]
    assert store.current(KEY).version_id == current.version_id
