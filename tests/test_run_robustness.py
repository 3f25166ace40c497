"""Runs that collide, die or meet broken input: a MESH_HOME whose path needs quoting in SQL, domains
that do not load or crash at load (the others still run), two runs of one domain at once (the
second is refused, naming the first), and a run killed mid-way (the next run marks it failed)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from platform_lib.mesh import load_mesh
from tests.conftest import TEST_SCALE_FACTOR, mesh_env
from tests.support import ports
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.processes import BIN, REPO, mesh

MESH = load_mesh()
# One line per domain on stderr: its number as it finished (not for a warning), name, outcome, then the details.
DOMAIN_LINE = re.compile(r"^(?:\[\d+/\d+\] )?(\w+)\s+(ok|FAILED|SKIPPED|WARNING)\b(.*)$", re.MULTILINE)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """Operational sources seeded once; each test lands a copy in its own MESH_HOME."""
    home = tmp_path_factory.mktemp("seeded")
    mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=mesh_env(home))
    return home / "sources"


@pytest.fixture
def env(sources, tmp_path) -> dict:
    home = tmp_path / "home"
    shutil.copytree(sources, home / "sources")
    return mesh_env(home)


def published(env) -> dict[str, int]:
    """Asset key -> row count of every published port."""
    return {p["asset_key"]: p["row_count"] for p in json.loads(mesh("ports", "--json", env=env).stdout)}


def ports_of(*domains: str) -> set[str]:
    return {"/".join(port.asset_key) for name in domains for port in MESH.domain(name).output_ports}


def outcomes(stderr: str) -> dict[str, tuple[str, str]]:
    """Domain -> (outcome, the rest of its line) from `mesh run`'s report."""
    return {name: (outcome, rest.strip()) for name, outcome, rest in DOMAIN_LINE.findall(stderr)}


def instance(env) -> DagsterInstance:
    return DagsterInstance.from_config(str(Path(env["MESH_HOME"]) / "dagster"))


@contextlib.contextmanager
def started(env, *args: str) -> Iterator[subprocess.Popen]:
    """`mesh *args` in its own session, its stderr in `proc.log`; stopped as a whole group (SIGKILL)
    if still running at the end."""
    log = Path(env["MESH_HOME"]) / f"mesh-{time.monotonic_ns()}.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([str(BIN / "mesh"), *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)
    proc.log = log
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def tail(proc: subprocess.Popen) -> str:
    return proc.log.read_text()[-3000:]


def wait(condition, proc: subprocess.Popen, what: str, timeout: float = 300):
    """condition()'s first truthy value, polled while `proc` runs."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert proc.poll() is None, f"`mesh run` ended (exit {proc.returncode}) before {what}:\n{tail(proc)}"
        assert time.monotonic() < deadline, f"not {what} after {timeout} s"
        time.sleep(0.01)
    return value


def lock_holder(env, domain: str) -> dict | None:
    """What the domain's run lock file says of its holder (None until a run has written it)."""
    try:
        return json.loads((Path(env["MESH_HOME"]) / "warehouse" / f"{domain}.run.lock").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def test_a_mesh_home_with_a_quote_and_a_space(tmp_path):
    env = mesh_env(tmp_path / "it's a mesh")
    mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=env)
    # Two producers and a consumer reading both: sources, staging, the audit and input binding.
    mesh("run", "--domain", "sales", "--domain", "customers", "--domain", "marketing", env=env)
    rows = published(env)
    assert set(rows) == ports_of("sales", "customers", "marketing") and all(rows.values()), rows
    # The ports' files are inside that home, not in a percent-encoded namesake beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["it's a mesh"]
    assert len(list((tmp_path / "it's a mesh" / "ports" / "warehouse").glob("*/*/data/*.parquet"))) == len(rows)


def test_a_domain_that_does_not_load_is_skipped_with_its_consumers(env, tmp_path):
    root = mesh_copy(tmp_path)
    descriptor = root / "domains" / "sales" / "products" / "orders" / "product.odps.yaml"
    edit(descriptor, "  contractId: urn:mesh:contract:sales:orders\n", "")
    line = descriptor.read_text().splitlines().index("- name: orders") + 1
    problem = f"{descriptor}:{line}: outputPorts[0].contractId: required field is missing"
    result = mesh("run", env={**env, "MESH_ROOT": str(root)}, check=False)
    assert result.returncode == 1, result.stderr[-3000:]
    report = outcomes(result.stderr)
    assert report["sales"] == ("SKIPPED", "does not load:") and f"\n    {problem}\n" in result.stderr, result.stderr[-3000:]
    # finance and marketing read sales' ports; customers and supply do not, and run.
    for consumer in ("finance", "marketing"):
        assert report[consumer] == ("SKIPPED", f"downstream of sales, which does not load: {problem}")
    assert report["customers"][0] == report["supply"][0] == "ok"
    assert set(published(env)) == ports_of("customers", "supply")


def test_a_selected_domain_runs_beside_a_broken_one_it_does_not_read(env, tmp_path):
    root = mesh_copy(tmp_path)
    descriptor = root / "domains" / "marketing" / "domain.yaml"
    edit(descriptor, "team:\n", "team: [\n")
    env = {**env, "MESH_ROOT": str(root)}
    result = mesh("run", "--domain", "customers", env=env, check=False)
    # The work asked for was done: success, and a warning that names the broken file and line.
    assert result.returncode == 0, result.stderr[-3000:]
    report = outcomes(result.stderr)
    assert report["customers"][0] == "ok" and report["marketing"] == ("WARNING", "not selected, and does not load:")
    assert f"\n    {descriptor}:5: <document>: malformed YAML: " in result.stderr
    assert set(published(env)) == ports_of("customers")
    # Asked for the broken domain itself: nothing to run, and a failure.
    result = mesh("run", "--domain", "marketing", env=env, check=False)
    assert result.returncode == 1 and outcomes(result.stderr)["marketing"] == ("SKIPPED", "does not load:")


def test_a_domain_that_crashes_at_load_skips_only_its_consumers(env, tmp_path):
    root = mesh_copy(tmp_path)
    edit(root / "domains" / "supply" / "definitions.py", "defs = ", "raise RuntimeError('supply cannot load')\ndefs = ")
    # Three at once: supply crashes at once, before sales and customers finish and marketing,
    # which does not read supply, becomes ready.
    result = mesh("run", "--parallelism", "3", env={**env, "MESH_ROOT": str(root)}, check=False)
    assert result.returncode == 1, result.stderr[-3000:]
    report = outcomes(result.stderr)
    independent = {name: report.get(name, ("not run",))[0] for name in ("sales", "customers", "marketing")}
    assert independent == dict.fromkeys(independent, "ok"), result.stderr[-3000:]
    assert report["supply"] == ("FAILED", "RuntimeError: supply cannot load")
    assert report["finance"] == ("SKIPPED", "downstream of supply, which failed")
    assert set(published(env)) == ports_of("sales", "customers", "marketing")


def test_a_second_run_of_a_domain_in_progress_is_refused_naming_the_first(env):
    home = Path(env["MESH_HOME"])
    with started(env, "run", "--domain", "sales") as first:
        holder = wait(lambda: lock_holder(env, "sales"), first, "the first run held the sales run lock")
        # Frozen while it holds the lock, so the second run surely meets it.
        os.killpg(first.pid, signal.SIGSTOP)
        try:
            second = mesh("run", "--domain", "sales", env=env, check=False)
        finally:
            os.killpg(first.pid, signal.SIGCONT)
        assert first.wait(timeout=600) == 0, tail(first)
    since = datetime.fromisoformat(holder["started"]).astimezone().strftime("%H:%M:%S")
    expected = f"domain sales: run {holder['run_id']} (pid {holder['pid']}, started {since}) is in progress; wait for it or stop it"
    # Under the domain's line, as the reason its dbt step, the run's first, failed.
    assert second.returncode == 1 and f"\n    sales_dbt_models: {expected}\n" in second.stderr, second.stderr[-3000:]
    (second_run,) = re.findall(r"^\[\d+/\d+\] sales\s+FAILED\s.*\brun (\S+)$", second.stderr, re.MULTILINE)
    with instance(env) as dagster:
        assert dagster.get_run_by_id(second_run).status == DagsterRunStatus.FAILURE
        assert not dagster.get_records_for_run(second_run, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    # Nothing half-done: nothing staged, every port's current version is the first run's.
    assert not list((home / "staging").glob(f"*/*/{second_run}"))
    assert {ports.current(env, tuple(key.split("/"))).facts["run-id"] for key in ports_of("sales")} == {holder["run_id"]}


def test_a_killed_run_is_marked_failed_by_the_next_run_of_its_domain(env):
    # The instance's storage made before the run starts, so this process can watch it.
    (Path(env["MESH_HOME"]) / "dagster").mkdir()
    with instance(env) as dagster, started(env, "run", "--domain", "sales") as first:
        def materializing() -> str | None:
            """The run's id once it has materialized an asset: mid-run, its ports still to publish."""
            for run in dagster.get_runs(RunsFilter(job_name="sales_products", statuses=[DagsterRunStatus.STARTED])):
                if dagster.get_records_for_run(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=1).records:
                    return run.run_id
            return None

        killed = wait(materializing, first, "the run materialized an asset")
        os.killpg(first.pid, signal.SIGKILL)
    with instance(env) as dagster:
        assert dagster.get_run_by_id(killed).status == DagsterRunStatus.STARTED, "what a killed run leaves"
    result = mesh("run", "--domain", "sales", env=env)
    (next_run,) = re.findall(r"^\[\d+/\d+\] sales\s+ok\s.*\brun (\S+)$", result.stderr, re.MULTILINE)
    with instance(env) as dagster:
        assert dagster.get_run_by_id(killed).status == DagsterRunStatus.FAILURE
        (failure,) = dagster.all_logs(killed, of_type=DagsterEventType.RUN_FAILURE)
    assert f"its process ended before the run did (killed?); marked failed by run {next_run}" in failure.message
