"""Write, audit, publish on a real instance: a broken version is never published, consumers keep
reading the last good one, and a run killed mid-publication leaves the port intact."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance

from platform_lib.mesh import load_mesh
from platform_lib.ports.version import PortVersion
from tests.conftest import mesh_env
from tests.support import ports
from tests.support.processes import BIN, REPO, mesh

PROFILES = ("customers", "customer_profiles_v1")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A mesh published once at SF 0.01, whose customers source each test may break and restores."""
    env = mesh_env(tmp_path_factory.mktemp("publication"))
    mesh("seed", "--sf", "0.01", env=env)
    mesh("run", env=env)
    return env


@pytest.fixture
def customer_source(env):
    path = Path(env["MESH_HOME"]) / "sources" / "customers" / "customer.parquet"
    backup = path.with_suffix(".good")
    shutil.copy(path, backup)
    yield path
    shutil.move(backup, path)


def current(env, key=PROFILES) -> PortVersion:
    return ports.current(env, key)


def view_sql(env, domain: str, view: str) -> str:
    with duckdb.connect(str(Path(env["MESH_HOME"]) / "warehouse" / f"{domain}.duckdb"), read_only=True) as con:
        (sql,) = con.execute("select sql from duckdb_views() where view_name = ?", [view]).fetchone()
    return sql


def rewrite(path: Path, select: str) -> None:
    with duckdb.connect() as con:
        con.execute(f"COPY ({select.format(src=f'read_parquet({str(path)!r})')}) TO '{path}.new' (FORMAT parquet)")
    os.replace(f"{path}.new", path)


def latest_check(env, name: str, key=PROFILES):
    with DagsterInstance.from_config(str(Path(env["MESH_HOME"]) / "dagster")) as instance:
        (record,) = instance.event_log_storage.get_asset_check_execution_history(AssetCheckKey(AssetKey(list(key)), name), limit=1)
        return record.event.dagster_event.event_specific_data


def assert_refused_and_consumers_unaffected(env, before: dict, result) -> None:
    assert result.returncode == 1, result.stderr[-2000:]
    assert current(env) == before, "a failed audit must not move the current version"
    assert ports.read_port(env, PROFILES).num_rows == before.facts["row-count"]
    # The consumer still runs, bound to the last good version (its run's log, which says so, shows
    # only with --verbose); forced, as nothing it reads changed.
    result = mesh("run", "--domain", "finance", "--force", "--verbose", env=env)
    assert f"'customers/customer_profiles_v1': 'snapshot {before.snapshot_id}'" in result.stderr
    with ports.port_catalog(env) as catalog:
        (data_file,) = catalog.data_files(catalog.table(PROFILES), before.snapshot_id)
    assert data_file.removeprefix("file://") in view_sql(env, "finance", "customers__customer_profiles_v1")


def test_type_drift_is_refused_with_the_exact_mismatch(env, customer_source):
    before = current(env)
    rewrite(customer_source, "select * replace (cast(c_acctbal as double) as c_acctbal) from {src}")
    result = mesh("run", "--domain", "customers", env=env, check=False)
    # dbt refuses the model first: its contract is generated from the port's (mesh prepare).
    assert "customers_dbt_models: dbt build failed:" in result.stderr, result.stderr[-3000:]
    assert re.search(r"\|\s*account_balance\s*\|\s*DOUBLE\s*\|\s*DECIMAL\(15,\s*2\)\s*\|\s*data type mismatch", result.stderr), result.stderr[-3000:]
    assert_refused_and_consumers_unaffected(env, before, result)


def test_a_lost_column_is_refused(env, customer_source):
    before = current(env)
    rewrite(customer_source, "select * exclude (c_comment) from {src}")
    result = mesh("run", "--domain", "customers", env=env, check=False)
    # The cause, where the run reports it under the domain's line: the staging model that reads the
    # column fails to build, so nothing downstream of it is exported or audited.
    assert (
        "\n    customers_dbt_models: dbt build failed:\n"
        "    model.customers.stg_customer: Runtime Error in model stg_customer (models/staging/stg_customer.sql)\n"
        '      Binder Error: Referenced column "c_comment" not found in FROM clause!\n'
    ) in result.stderr, result.stderr[-3000:]
    assert_refused_and_consumers_unaffected(env, before, result)


def test_duplicate_primary_keys_are_refused(env, customer_source):
    before = current(env)
    rewrite(customer_source, "select * from {src} union all (select * from {src} order by c_custkey limit 3)")
    result = mesh("run", "--domain", "customers", env=env, check=False)
    evaluation = latest_check(env, "customer_key_unique")
    assert not evaluation.passed and evaluation.metadata["unexpected_count"].value == 6
    assert sorted(evaluation.metadata["failing_sample"].value)[:2] == ["1", "1"]
    assert_refused_and_consumers_unaffected(env, before, result)


def test_nulls_in_a_required_column_are_refused(env, customer_source):
    before = current(env)
    rewrite(customer_source, "select * replace (case when c_custkey <= 2 then null else c_custkey end as c_custkey) from {src}")
    result = mesh("run", "--domain", "customers", env=env, check=False)
    assert latest_check(env, "schema").metadata["observed"].value == "customer_key: 2 null value(s) in a required column"
    assert_refused_and_consumers_unaffected(env, before, result)


def test_pii_is_redacted_from_failing_samples(env, customer_source):
    rewrite(customer_source, "select * replace ('not-a-phone' as c_phone) from {src}")
    mesh("run", "--domain", "customers", env=env, check=False)
    # Phones are published only in the restricted port (the public one redacts them).
    evaluation = latest_check(env, "phone_pattern", ("customers", "customer_profiles_full_v1"))
    assert not evaluation.passed and evaluation.metadata["unexpected_count"].value == 1500
    assert set(evaluation.metadata["failing_sample"].value) == {"<redacted: pii>"}


def killed_at(env, domain: str, point: str) -> tuple[str, str]:
    """Runs the domain with the fault hook MESH_FAULT=<point> (platform_lib/ports/publish.py), kills
    the whole run, SIGKILL, once it has stopped there, and returns the port it stopped at."""
    marker = Path(env["MESH_HOME"]) / f"fault-{point}"
    marker.unlink(missing_ok=True)
    # Forced: the point is reached by a run that publishes, whether or not anything changed.
    proc = subprocess.Popen([str(BIN / "mesh"), "run", "--domain", domain, "--force"], cwd=REPO, env={**env, "MESH_FAULT": point},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None, f"the run ended (exit {proc.returncode}) without reaching {point}"
            assert time.monotonic() < deadline, f"the run did not reach {point} in 300 s"
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return tuple(marker.read_text().split("."))


def test_a_run_killed_during_publication_leaves_every_port_readable(env):
    # customers: its first product has two ports, so the kill finds its twin audited and staged.
    keys = [port.asset_key for port in load_mesh().domain("customers").output_ports]
    before = {key: current(env, key) for key in keys}
    stopped = killed_at(env, "customers", "after-commit")
    for key in keys:
        after = current(env, key)
        # The port whose commit the kill followed has its new version; every other its last one.
        assert (after.snapshot_id != before[key].snapshot_id) == (key == stopped), key
        assert ports.read_port(env, key).num_rows == after.facts["row-count"]
    staging = Path(env["MESH_HOME"]) / "staging" / "customers"
    assert any(staging.glob("*/*/data.parquet")), "the killed run left the versions it audited staged"
    mesh("run", "--domain", "customers", "--force", env=env)
    assert all(current(env, key).snapshot_id != before[key].snapshot_id for key in keys)
    assert not any(staging.glob("*/*/data.parquet")), "the next run clears what the killed run staged"
