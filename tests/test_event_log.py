"""The embedded instance's event log (platform_lib/runs/event_log.py): Dagster's own SQLite databases,
each opened once per process. What Dagster's stock storage reads back, from processes writing at
the same time and from a fork of a process that wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from platform_lib.settings import EMBEDDED_INSTANCE, export_environment
from tests.support.processes import REPO

# Writes N runless materializations of keys <name>/<i>, and tells the SQLite connections it opened
# after the first; with "fork", half before a fork, then half in the child, then the parent's last.
WRITER = """
import os, sqlite3.dbapi2, sys
from dagster import AssetKey, AssetMaterialization, DagsterInstance
opened = 0
connect = sqlite3.dbapi2.connect
def counted(*args, **kwargs):
    global opened
    opened += 1
    return connect(*args, **kwargs)
sqlite3.dbapi2.connect = counted  # what SQLAlchemy's SQLite dialect calls
name, n, fork = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "fork"
with DagsterInstance.from_config(sys.argv[4]) as instance:
    def write(first, last):
        for i in range(first, last):
            instance.report_runless_asset_event(AssetMaterialization(AssetKey([name, str(i)]), metadata={"i": i}))
    write(0, 1)
    opened = 0  # the instance's own set-up (its databases, their migrations) aside
    write(1, n // 2)
    if fork:
        child = os.fork()
        if child == 0:
            write(n // 2, n)
            os._exit(0)
        assert os.waitpid(child, 0)[1] == 0
        write(n, n + 1)
    else:
        write(n // 2, n)
print(opened)
"""


def _home(tmp_path: Path, monkeypatch) -> Path:
    # What export_environment sets, restored after the test (an empty value means unset to it).
    for name in ("DAGSTER_HOME", "MESH_DUCKDB_MEMORY_LIMIT"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    export_environment()
    return tmp_path / "home" / "dagster"


def _write(home: Path, name: str, n: int, fork: bool = False) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, name, str(n), "fork" if fork else "-", str(home)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(process: subprocess.Popen) -> int:
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, err
    return int(out.split()[-1])


def _stock(home: Path, tmp_path: Path) -> DagsterInstance:
    """The same databases read by Dagster's own SqliteEventLogStorage."""
    stock = tmp_path / "stock"
    stock.mkdir()
    (stock / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nevent_log_storage:\n  module: dagster._core.storage.event_log\n"
        f"  class: SqliteEventLogStorage\n  config:\n    base_dir: {home / 'history' / 'runs'}\n")
    return DagsterInstance.from_config(str(stock))


def test_a_new_home_and_a_home_of_the_first_default_keep_their_connections(tmp_path, monkeypatch):
    home = _home(tmp_path, monkeypatch)
    written = (home / "dagster.yaml").read_text()
    assert written == EMBEDDED_INSTANCE.format(event_logs=home / "history" / "runs")
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage).__name__ == "KeptConnectionsEventLogStorage"
    # A home made before: upgraded. A dagster.yaml of the user's own: kept as it is.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    export_environment()
    assert (home / "dagster.yaml").read_text() == written
    own = "telemetry:\n  enabled: false\n# mine\n"
    (home / "dagster.yaml").write_text(own)
    export_environment()
    assert (home / "dagster.yaml").read_text() == own


def test_concurrent_writers_and_a_fork_lose_nothing_and_open_each_database_once(tmp_path, monkeypatch):
    home = _home(tmp_path, monkeypatch)
    # The instance made first, as `mesh run` makes it before its forks: two processes making a new
    # instance's databases at once race in Dagster's own schema creation ("table run_tags already
    # exists", seen in CI), which is not what this test is about.
    DagsterInstance.from_config(str(home)).dispose()
    # Two processes at once (the mesh's forked domain runs), one of them forking after it wrote.
    first, second = _write(home, "a", 150), _write(home, "b", 150, fork=True)
    opened = _finished(first)
    _finished(second)
    # Dagster's stock storage opened about five connections per event.
    assert opened < 10, f"{opened} SQLite connections for 149 events"
    with _stock(home, tmp_path) as instance:
        for name, n in (("a", 150), ("b", 151)):
            keys = [AssetKey([name, str(i)]) for i in range(n)]
            latest = instance.get_latest_materialization_events(keys)
            assert all(latest[key] is not None for key in keys), f"{name}: {sum(v is None for v in latest.values())} events lost"
            assert {latest[key].asset_materialization.metadata["i"].value for key in keys} == set(range(n))
