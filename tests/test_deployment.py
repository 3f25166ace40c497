"""The production topology, really run (`mesh up`): PostgreSQL instance and port catalog, SeaweedFS,
a code server per location, the daemon and the webserver, and a Spark cluster for marketing, moved
to Spark. A sales publication launched through GraphQL makes the daemon run finance and
marketing by itself; one domain's runs queue one at a time;
a schedule fires; a killed code server, a killed daemon and a restarted PostgreSQL lose nothing and
publish nothing half-done.

The tests share one deployment (it takes a minute to start) and run in any order, each alone too: a
test publishes the ports it reads (`Deployment.published`), waits for the runs earlier tests left
(`Deployment.quiet`) where they would meet its own, and puts back what it changes."""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import signal
import stat
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import psycopg2
import pytest

from platform_lib.assets.automation import INCREMENTAL
from platform_lib.deploy.catalog_authority import drop_roles
from platform_lib.deploy.pairing import pair
from platform_lib.deploy.processes import Supervisor
from platform_lib.deploy.separation import drop_users, unreachable, user_name
from platform_lib.deploy.sockets import gone, listeners, pids
from platform_lib.deploy.topology import Plan, identity_environment, service_ports, services
from platform_lib.mesh import load_mesh
from tests.conftest import TEST_SCALE_FACTOR, mesh_env
from tests.support.free_ports import reserve_block, reserve_ports
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.ports import current, port_catalog
from tests.support.processes import graphql, mesh, other_server
from tests.support.tpch import TPCH_PRODUCTS, differences

POSTGRES = "postgres@127.0.0.1:5432"
# The ports of `mesh up --base-port B`: code servers from B, SeaweedFS from B + 50, a Spark cluster from B + 60.
BLOCK = 66
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
RUNS = """{ runsOrError(limit: 100) { ... on Runs { results {
  runId jobName status creationTime startTime endTime tags { key value } } } } }"""
STEPS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { stepStats { stepKey status } } } }"""
ERRORS = """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
  ... on MessageEvent { level stepKey message } ... on ExecutionStepFailureEvent { error { message } }
  ... on RunFailureEvent { error { message } } } } } }"""
TICKS = """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor { sensorState {
  ticks(limit: 10) { timestamp status } } } } }"""
LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


class Deployment:
    def __init__(self, root: Path, env: dict, plan: Plan):
        self.root, self.env, self.plan = root, env, plan
        self.said = ""  # what `mesh up` printed
        self.args = ["--port", str(plan.webserver_port), "--base-port", str(plan.base_port), "--name", plan.name]
        self.url = plan.webserver_url

    def as_platform(self) -> dict:
        """The settings a process of this deployment reads, with the platform's S3 keys and catalog role."""
        return {**self.plan.environment(), **identity_environment(self.plan, "platform")}

    def environ(self, service: str) -> dict[str, str]:
        """What a running process holds in its environment, read as a shell on the machine would."""
        raw = (Path("/proc") / str(self.pid(service)) / "environ").read_bytes()
        return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)

    def mesh(self, *command: str, check: bool = True):
        return mesh(*command, *self.args, env=self.env, check=check, timeout=600)

    def launch(self, domain: str, attempts: int = 1, tags: dict[str, str] | None = None) -> str:
        """Launch the domain's job as the UI does (`tags`: as its schedule does, with the schedule's
        tags); with attempts > 1, retry what the webserver failed (HTTP 500) as a client would."""
        variables = {"p": {"selector": {"repositoryLocationName": domain, "repositoryName": "__repository__", "jobName": f"{domain}_products"},
                           "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}}}
        for attempt in range(attempts):
            try:
                result = graphql(self.url, LAUNCH, variables)
                break
            except urllib.error.HTTPError as exc:
                if exc.code != 500 or attempt == attempts - 1:
                    raise
                time.sleep(2)
        assert result["launchRun"]["__typename"] == "LaunchRunSuccess", result
        return result["launchRun"]["run"]["runId"]

    def runs(self) -> list[dict]:
        runs = graphql(self.url, RUNS)["runsOrError"]["results"]
        for run in runs:
            run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        return runs

    def run(self, run_id: str) -> dict:
        return next(r for r in self.runs() if r["runId"] == run_id)

    def wait(self, condition, timeout: float = 300, what: str = "condition"):
        """Poll as a client would: a request the webserver fails while PostgreSQL restarts is retried."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = condition()
            except urllib.error.HTTPError as exc:
                if exc.code != 500:
                    raise
                found = None
            if found:
                return found
            time.sleep(2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; runs: {[(r['jobName'], r['status']) for r in self.runs()]}")

    def steps(self, run_id: str) -> dict[str, str]:
        """Step key -> status (IN_PROGRESS, SUCCESS...) of each step the run has started."""
        return {s["stepKey"]: s["status"] for s in graphql(self.url, STEPS, {"id": run_id})["runOrError"]["stepStats"]}

    def finished(self, run_id: str, timeout: float = 300) -> dict:
        return self.wait(lambda: (r := self.run(run_id))["status"] in FINISHED and r, timeout, f"run {run_id}")

    def succeeded(self, run_id: str, timeout: float = 300) -> dict:
        """The run, once it ended; fails the test with the run's errors, as its log in the UI shows
        them, unless it succeeded."""
        run = self.finished(run_id, timeout)
        if run["status"] != "SUCCESS":
            events = graphql(self.url, ERRORS, {"id": run_id})["logsForRun"]["events"]
            errors = [f"{e.get('stepKey') or 'run'}: {e['message']} {(e.get('error') or {}).get('message', '')}".strip()
                      for e in events if e.get("level") == "ERROR"]
            raise AssertionError(f"run {run_id} of {run['tags'].get('mesh/domain')} ended {run['status']}:\n" + "\n".join(errors))
        return run

    def quiet(self, *domains: str, timeout: float = 600) -> None:
        """Returns once no run (of `domains`, or of any domain) is queued or running: what earlier tests
        launched, and the automation runs their publications set off, are done."""
        self.wait(lambda: not [r for r in self.runs() if r["status"] not in FINISHED and (not domains or r["tags"].get("mesh/domain") in domains)],
                  timeout, f"no run of {', '.join(domains) or 'any domain'} in progress")

    def published(self, *domains: str) -> None:
        """Each domain's ports published, in the order given: a domain is run only if one of its ports has
        no version yet, so a test reads its producers' ports whichever tests ran before it, and a
        publication that sets consumers' automation off happens only where there was none."""
        for domain in domains:
            with port_catalog(self.as_platform()) as catalog:
                missing = [port for port in load_mesh().domain(domain).output_ports if catalog.current(port.asset_key) is None]
            if missing:
                self.succeeded(self.launch(domain))

    def ticked_since(self, domain: str, since: float, ticks: int = 2) -> bool:
        """Whether the domain's automation sensor has evaluated `ticks` times since `since`."""
        found = graphql(self.url, TICKS, {"s": {"repositoryLocationName": domain, "repositoryName": "__repository__",
                                                "sensorName": f"{domain}_automation"}})
        return sum(t["timestamp"] > since for t in found["sensorOrError"]["sensorState"]["ticks"]) >= ticks

    def pid(self, service: str) -> int:
        return int((Path(self.env["MESH_HOME"]) / "run" / f"{service}.pid").read_text())

    def kill(self, service: str, timeout: float = 30) -> None:
        """SIGKILL to the service's process group; returns once no process of the group is left."""
        group = self.pid(service)
        os.killpg(group, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while [pid for pid in pids() if _in_group(pid, group) and not gone(pid)]:
            assert time.monotonic() < deadline, f"{service}'s processes outlived SIGKILL by {timeout}s"
            time.sleep(0.1)

    def locations(self) -> dict[str, dict]:
        return {e["name"]: e for e in graphql(self.url, LOCATIONS)["workspaceOrError"]["locationEntries"]}


def _in_group(pid: int, group: int) -> bool:
    with suppress(ProcessLookupError):
        return os.getpgid(pid) == group
    return False


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = mesh_copy(tmp_path_factory.mktemp("deployment"))
    env = {**mesh_env(root / ".mesh"), "MESH_ROOT": str(root), "MESH_POSTGRES": POSTGRES}
    name = f"mesh_test_{secrets.token_hex(4)}"
    with ExitStack() as stack:
        # Held until after `mesh down`: every server of the deployment binds its port anyway (tests.support.free_ports).
        (webserver,), block = stack.enter_context(reserve_ports()), stack.enter_context(reserve_block(BLOCK))
        plan = Plan(home=root / ".mesh", name=name, postgres=POSTGRES, webserver_port=webserver, base_port=block.ports[0])
        deployment = Deployment(root, env, plan)
        mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=env)
        # Each domain runs as its own OS user (the tests run as root), which must reach the interpreter and the code.
        for needed in (Path(sys.executable), root):
            stack.enter_context(entered_by_anyone(needed))
        try:
            deployment.said = deployment.mesh("up").stdout
            yield deployment
        finally:
            deployment.mesh("down", check=False)
            _drop(plan)
            cluster = marketing_cluster(plan)
            assert not [port for port in (cluster.master_port, *cluster.worker_ports) if listeners(port)], "mesh down left the Spark cluster running"


def marketing_cluster(plan: Plan):
    """Marketing's cluster where Plan puts the first Spark domain's: base + 60 on (the test's own
    process reads the repository's workspace, where no domain is on Spark)."""
    from platform_lib.deploy.spark_cluster import ClusterPlan

    base = plan.base_port + 60
    return ClusterPlan(plan.home / "deployment" / "homes" / "marketing" / "spark-cluster", base, base + 1, tuple(range(base + 2, base + 6)), name="spark-marketing")


@contextmanager
def entered_by_anyone(path: Path) -> Iterator[None]:
    """The folders on the way to `path` that only their owner may enter are opened to others (to enter,
    not to list) for the deployment's life, as an operator who installed Python under /root must."""
    changed = []
    while (blocked := unreachable(path)) is not None:
        changed.append((blocked, blocked.stat().st_mode))
        blocked.chmod(blocked.stat().st_mode | stat.S_IXOTH)
    try:
        yield
    finally:
        for folder, mode in reversed(changed):
            folder.chmod(mode)


def _drop(plan: Plan) -> None:
    """What a deployment keeps on the machine after `mesh down`: its databases, and its roles and OS
    users (one per identity)."""
    con = psycopg2.connect(f"postgresql://{POSTGRES}/postgres")
    con.autocommit = True  # DROP DATABASE cannot run in a transaction
    with con.cursor() as cur:
        for database in (f"{plan.name}_dagster", f"{plan.name}_ports"):
            cur.execute(f'drop database if exists "{database}" with (force)')
    con.close()
    identities = [path.stem for path in plan.access.glob("*.json") if path.name != "s3.json"]
    # Roles outlive databases.
    drop_roles(POSTGRES, plan.name, identities)
    drop_users([user_name(plan.name, identity) for identity in identities])


def postgres_cluster() -> tuple[str, str]:
    """The Debian cluster (version, name) of the server at POSTGRES, for pg_ctlcluster: the one whose
    data directory the server names as its own."""
    con = psycopg2.connect(f"postgresql://{POSTGRES}/postgres")
    try:
        with con.cursor() as cur:
            cur.execute("show data_directory")
            (data,) = cur.fetchone()
    finally:
        con.close()
    clusters = json.loads(subprocess.run(["pg_lsclusters", "--json"], capture_output=True, text=True, check=True).stdout)
    found = [c for c in clusters if Path(c["pgdata"]).resolve() == Path(data).resolve()]
    assert len(found) == 1, f"not one cluster of pg_lsclusters with the data directory {data}: {clusters}"
    return str(found[0]["version"]), found[0]["cluster"]


def test_every_location_is_served_by_its_own_code_server(deployment):
    entries = deployment.wait(lambda: (e := deployment.locations()) and all(x["loadStatus"] == "LOADED" for x in e.values()) and e,
                              180, "every location loaded")
    assert set(entries) == {"sales", "customers", "supply", "finance", "marketing", "governance"}
    assert all(entry["locationOrLoadError"]["__typename"] == "RepositoryLocation" for entry in entries.values())
    assert len({deployment.pid(f"code-server-{name}") for name in entries}) == 6


def test_a_sales_publication_makes_the_daemon_run_finance_and_marketing(deployment):
    # Sales' fellow producers published, but not again: a new version of theirs sets finance's and
    # marketing's automation off before sales publishes. And none of their runs still in progress:
    # one in progress when sales publishes would be the materialization after it, and none would follow.
    deployment.published("customers", "supply")
    deployment.quiet()
    sales = deployment.succeeded(deployment.launch("sales"))
    automated = lambda: [r for r in deployment.runs() if r["tags"].get("dagster/from_automation_condition") and r["creationTime"] >= sales["startTime"]]  # noqa: E731
    deployment.wait(lambda: {r["tags"]["mesh/domain"] for r in automated()} >= {"finance", "marketing"}, 240, "automation runs of finance and marketing")
    for run in automated():
        deployment.succeeded(run["runId"])
    with port_catalog(deployment.as_platform()) as catalog:
        for (domain, product), query in TPCH_PRODUCTS.items():
            table = catalog.table((domain, f"{product}_v1"))
            assert table.metadata_location.startswith(f"s3://ports/{domain}/")
            assert differences(table.scan().to_arrow(), query, TEST_SCALE_FACTOR) == [], f"{domain}.{product}"


def test_a_scheduled_run_of_sales_that_finds_nothing_changed_wakes_no_consumer(deployment):
    """Issue 23: a run of sales as its schedule launches it, with nothing changed since sales last
    published, commits no snapshot and materializes nothing, so finance's and marketing's
    automation (eager on sales' ports) start no run. The test above is its twin: a publication
    does start them."""
    deployment.published("customers", "supply", "sales")
    deployment.quiet()
    before = {port.asset_key: current(deployment.as_platform(), port.asset_key) for port in load_mesh().domain("sales").output_ports}
    consumers = ("finance", "marketing")
    # Whatever an earlier publication set off has been evaluated, and its runs are done.
    settled = time.time()
    deployment.wait(lambda: all(deployment.ticked_since(d, settled) for d in consumers), 240, "the consumers' automation evaluated")
    deployment.quiet()
    sales = deployment.succeeded(deployment.launch("sales", tags=INCREMENTAL))
    assert {key: current(deployment.as_platform(), key) for key in before} == before, "a run with nothing changed committed a snapshot"
    deployment.wait(lambda: all(deployment.ticked_since(d, sales["endTime"]) for d in consumers), 240, "the consumers' automation evaluated")
    woken = [r for r in deployment.runs() if r["tags"].get("mesh/domain") in consumers and r["creationTime"] >= sales["startTime"]]
    assert not woken, woken


def test_marketing_cannot_repoint_sales_port_with_its_own_catalog_credentials(deployment):
    """Issue 19's attack, with what marketing's code server holds: one SQL UPDATE to roll sales'
    port back to an older metadata file. The catalog's database refuses it (no row changes)."""
    deployment.published("sales")  # rows for the UPDATE to meet: with none it changes none, whatever the grants
    uri = deployment.environ("code-server-marketing")["MESH_PORT_CATALOG"]
    assert uri.startswith(f"postgresql+psycopg2://{deployment.plan.name}_marketing:")
    con = psycopg2.connect(uri.replace("postgresql+psycopg2", "postgresql"))
    try:
        with con.cursor() as cur:
            cur.execute("select count(*) from iceberg_tables where table_namespace = 'sales'")
            assert cur.fetchone()[0] > 0, "marketing's role does not see sales' rows of the port catalog"
            cur.execute("update iceberg_tables set metadata_location = previous_metadata_location where table_namespace = 'sales'")
            assert cur.rowcount == 0, "marketing's role changed sales' rows of the port catalog"
    finally:
        con.rollback()
        con.close()


def test_one_domain_cannot_act_as_another(deployment):
    """Issue 19: every code server ran as one OS user with one MESH_HOME, so marketing's could read
    the platform's admin keys. Tried as a shell running as marketing's code server's user would."""
    plan = deployment.plan
    uid = Path(f"/proc/{deployment.pid('code-server-marketing')}").stat().st_uid
    assert pwd.getpwuid(uid).pw_name == f"{plan.name}-marketing", "marketing's code server runs as a user others share"
    finance = deployment.pid("code-server-finance")
    for what in (plan.access / "platform.json", plan.access / "finance.json", Path(f"/proc/{finance}/environ"),
                 plan.home / "deployment" / "homes" / "finance", plan.home / "sources" / "customers", plan.home / "deployment" / "s3"):
        tried = subprocess.run(["ls", "-la", str(what)] if what.is_dir() else ["cat", str(what)], user=uid, extra_groups=[], capture_output=True, text=True)
        assert tried.returncode != 0 and "Permission denied" in tried.stderr, (what, tried.stdout[:200])
    # It holds its own keys, and no one else's.
    held = deployment.environ("code-server-marketing")
    own = json.loads((plan.access / "marketing.json").read_text())
    assert held["MESH_S3_ACCESS_KEY_ID"] == own["access_key"] and own["catalog_password"] in held["MESH_PORT_CATALOG"]
    others = [json.loads(p.read_text()) for p in plan.access.glob("*.json") if p.stem not in ("marketing", "s3")]
    assert not [v for keys in others for v in keys.values() if any(v in value for value in held.values())]


def test_two_launches_of_one_domain_queue_one_behind_the_other(deployment):
    first, second = deployment.launch("supply"), deployment.launch("supply")
    a, b = deployment.succeeded(first), deployment.succeeded(second)
    assert b["startTime"] >= a["endTime"], "the second run of a domain started before the first ended"


def test_a_killed_code_server_fails_its_run_clearly_and_a_restart_recovers(deployment):
    # No other supply run to publish between `before` and the check, and a version of the port for
    # the killed run to leave alone, whichever tests ran before this one.
    deployment.quiet("supply")
    deployment.succeeded(deployment.launch("supply"))
    others = {name: deployment.pid(f"code-server-{name}") for name in ("customers", "finance", "marketing")}
    with port_catalog(deployment.as_platform()) as catalog:
        before = catalog.current(("supply", "part_supply_v1"))
    run_id = deployment.launch("supply")
    try:
        # Killed while its dbt step runs: its ports step, the only one that publishes, has not started.
        deployment.wait(lambda: deployment.steps(run_id).get("supply_dbt_models") == "IN_PROGRESS", 120, "the supply run's dbt step")
        deployment.kill("code-server-supply")
        failed = deployment.finished(run_id, 180)
        assert failed["status"] == "FAILURE"
        entries = deployment.wait(lambda: (e := deployment.locations())["supply"]["locationOrLoadError"]["__typename"] == "PythonError" and e,
                                  120, "the webserver to show supply's error")
        assert all(entries[name]["locationOrLoadError"]["__typename"] == "RepositoryLocation" for name in others)
        assert {name: deployment.pid(f"code-server-{name}") for name in others} == others
        with port_catalog(deployment.as_platform()) as catalog:
            assert catalog.current(("supply", "part_supply_v1")) == before, "the killed run published nothing"
            assert catalog.table(("supply", "part_supply_v1")).scan().to_arrow().num_rows == before.facts["row-count"]
    finally:
        deployment.mesh("restart", "supply")  # the recovery under test, and supply served again for the tests after this one
    deployment.succeeded(deployment.launch("supply"))
    with port_catalog(deployment.as_platform()) as catalog:
        assert catalog.current(("supply", "part_supply_v1")).snapshot_id != before.snapshot_id


def test_a_killed_daemon_resumes_its_queue_without_duplicates(deployment):
    # Killed at rest, before this test's launches: a kill that lands while the daemon is handing a run
    # (any test's) to its code server leaves that run STARTING until run monitoring fails it (Dagster's
    # start timeout), which is not this test's point.
    deployment.quiet()
    started = time.time()
    try:
        deployment.kill("daemon")  # returns once no process of it is left: no run leaves the queue from here on
        first, second = deployment.launch("customers"), deployment.launch("customers")
        assert deployment.run(first)["status"] == deployment.run(second)["status"] == "QUEUED"
    finally:
        deployment.mesh("up")  # starts only what is not running: the daemon
    for run in (first, second):
        deployment.succeeded(run)
    new_customer_runs = [r for r in deployment.runs() if r["creationTime"] >= started and r["tags"].get("mesh/domain") == "customers"]
    assert sorted(r["runId"] for r in new_customer_runs) == sorted([first, second]), "a queued run was launched twice"


def test_a_restarted_postgres_leaves_runs_resumed_or_failed_and_no_port_half_published(deployment):
    version, cluster = postgres_cluster()
    # The restart meets this test's runs alone, and versions of sales' ports, whichever tests ran before this one.
    deployment.quiet()
    deployment.succeeded(deployment.launch("sales"))
    run_id = deployment.launch("sales")
    queued = deployment.launch("sales")
    subprocess.run(["pg_ctlcluster", version, cluster, "restart"], check=True, timeout=120)
    for run in (run_id, queued):
        assert deployment.finished(run, 400)["status"] in ("SUCCESS", "FAILURE")
    with port_catalog(deployment.as_platform()) as catalog:
        keys = catalog.ports()
        assert {port.asset_key for port in load_mesh().domain("sales").output_ports} <= set(keys), keys
        for key in keys:
            current = catalog.current(key)
            assert catalog.table(key).scan().to_arrow().num_rows == current.facts["row-count"], key
    # The webserver's pooled connections died with the server: its first writes fail (HTTP 500,
    # "server closed the connection unexpectedly"), then it reconnects; a client retries.
    deployment.succeeded(deployment.launch("sales", attempts=5))


def test_a_schedule_fires_after_its_domain_alone_is_restarted_with_new_code(deployment):
    others = {name: deployment.pid(f"code-server-{name}") for name in ("sales", "customers", "finance", "marketing")}
    descriptor = deployment.root / "domains" / "supply" / "domain.yaml"
    original = descriptor.read_text()
    started = time.time()
    edit(descriptor, "cron: ", "cron: '* * * * *'  # was: ")
    try:
        deployment.mesh("restart", "supply")
        assert {name: deployment.pid(f"code-server-{name}") for name in others} == others
        scheduled = deployment.wait(lambda: [r for r in deployment.runs() if r["tags"].get("dagster/schedule_name") == "supply_schedule"
                                             and r["creationTime"] >= started], 150, "a tick of supply_schedule")
        deployment.succeeded(scheduled[0]["runId"])
    finally:
        # Supply back on its daily schedule, and the runs its ticks queued done: none runs into the tests after this one.
        descriptor.write_text(original)
        deployment.mesh("restart", "supply")
        deployment.quiet("supply")


def test_mesh_up_without_postgres_says_so_and_starts_nothing(tmp_path):
    env = {**mesh_env(tmp_path / "home"), "MESH_POSTGRES": "postgres@127.0.0.1:1"}
    with reserve_ports() as (port,), reserve_block(BLOCK) as block:
        result = mesh("up", "--port", str(port), "--base-port", str(block.ports[0]), env=env, check=False)
    assert result.returncode == 1
    assert "PostgreSQL is not reachable at postgres@127.0.0.1:1" in result.stderr and "apt-get install postgresql" in result.stderr
    assert not (tmp_path / "home" / "run").exists() or not any((tmp_path / "home" / "run").iterdir())


def test_mesh_up_again_reports_what_already_runs(deployment):
    result = deployment.mesh("up")
    for service in ["s3", *(f"code-server-{name}" for name in deployment.plan.code_servers), "daemon", "webserver"]:
        assert re.search(rf"^{service} +already running \(pid {deployment.pid(service)}\)$", result.stdout, re.M), result.stdout


def test_the_ports_checked_before_mesh_up_changes_anything_are_those_its_services_listen_on(deployment):
    listen = {service.name: set(service.ports) for service in services(deployment.plan) if service.ports}
    assert {name: set(ports) for name, ports in service_ports(deployment.plan).items()} == listen


def test_mesh_up_refuses_a_port_another_server_holds_and_starts_nothing(tmp_path):
    with reserve_ports() as (port,), reserve_block(BLOCK) as block:
        plan = Plan(home=tmp_path / "home", name=f"mesh_test_{secrets.token_hex(4)}", postgres=POSTGRES,
                    webserver_port=port, base_port=block.ports[0])
        env = {**mesh_env(plan.home), "MESH_POSTGRES": POSTGRES}
        args = ["--port", str(plan.webserver_port), "--base-port", str(plan.base_port), "--name", plan.name]
        try:
            with other_server(plan.webserver_port) as other:
                result = mesh("up", *args, env=env, check=False)
        finally:
            mesh("down", *args, env=env, check=False)
            _drop(plan)
    assert result.returncode == 1, result.stdout
    assert f"webserver: port {plan.webserver_port} is taken by pid {other.pid}" in result.stderr, result.stderr
    assert "http.server" in result.stderr and "answering HTTP as 'SimpleHTTP/" in result.stderr
    assert " up " not in result.stdout, "started services although a port was taken"


def test_a_new_home_is_refused_the_catalog_of_a_deployment_whose_store_is_elsewhere(deployment, tmp_path):
    """The catalog's ports point at the first home's store: served with a new one, every consumer
    would load ports whose metadata is missing."""
    home = tmp_path / "home"
    env = {**deployment.env, "MESH_HOME": str(home)}
    with reserve_ports() as (port,), reserve_block(BLOCK) as block:
        args = ["--port", str(port), "--base-port", str(block.ports[0]), "--name", deployment.plan.name]
        try:
            result = mesh("up", *args, env=env, check=False)
        finally:
            mesh("down", *args, env=env, check=False)
    assert result.returncode == 1, result.stdout
    assert (f"the port catalog postgresql+psycopg2://{POSTGRES}/{deployment.plan.name}_ports and the object store in "
            f"{home / 'deployment' / 's3'} (http://127.0.0.1:") in result.stderr, result.stderr
    assert f"paired with the object store in {deployment.plan.store}" in result.stderr
    assert f"Point MESH_HOME at {deployment.plan.home}" in result.stderr and "mesh up --name NEW" in result.stderr
    assert not (home / "run").exists()


def test_the_store_of_a_deployment_is_refused_another_catalog(deployment):
    other = Plan(home=deployment.plan.home, name=f"{deployment.plan.name}_other", postgres=POSTGRES)
    instance = (deployment.plan.dagster_home / "dagster.yaml").read_text()
    try:
        with reserve_ports() as (port,), reserve_block(BLOCK) as block:
            result = mesh("up", "--port", str(port), "--base-port", str(block.ports[0]), "--name", other.name, env=deployment.env, check=False)
    finally:
        _drop(other)
    assert result.returncode == 1, result.stdout
    assert (f"this store was paired with the port catalog postgresql+psycopg2://{POSTGRES}/{deployment.plan.name}_ports"
            in result.stderr), result.stderr
    assert f"Run mesh up --name {deployment.plan.name}" in result.stderr
    assert (deployment.plan.dagster_home / "dagster.yaml").read_text() == instance, "the running deployment's instance was rewritten"


def test_pairing_a_catalog_and_a_store(tmp_path):
    """Besides the two refusals above: a store pairs again with its catalog's database made anew
    (empty, it points at nothing), two stores paired in turn with one catalog are both named, and a
    catalog listing ports from before pairing was recorded is refused a new store."""
    name = f"mesh_test_{secrets.token_hex(4)}"
    first, second, third = (Plan(home=tmp_path / home, name=name, postgres=POSTGRES) for home in ("first", "second", "third"))

    def new_catalog(*statements: str) -> None:
        """The catalog's database dropped and made anew, with what `statements` put in it."""
        _drop(first)
        con = psycopg2.connect(f"postgresql://{POSTGRES}/postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'create database "{first.port_catalog}"')
        con.close()
        con = psycopg2.connect(f"postgresql://{POSTGRES}/{first.port_catalog}")
        with con, con.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        con.close()

    try:
        new_catalog()
        paired = pair(second)
        assert pair(second) == paired
        new_catalog()
        assert pair(second) == paired
        new_catalog()
        pair(first)
        with pytest.raises(RuntimeError) as refused:
            pair(second)
        assert (f"the catalog was paired with the object store in {first.store}" in str(refused.value)
                and f"and this store with the port catalog postgresql+psycopg2://{POSTGRES}/{name}_ports (deployment {paired})"
                in str(refused.value)), refused.value
        new_catalog("create table iceberg_tables (catalog_name text, table_namespace text, table_name text, "
                    "metadata_location text, previous_metadata_location text)",
                    "insert into iceberg_tables values ('mesh', 'sales', 'orders_v1', 's3://ports/sales/orders_v1/metadata/1.metadata.json', null)")
        with pytest.raises(RuntimeError) as refused:
            pair(third)
        assert "the catalog lists 1 published port(s), and this store is new" in str(refused.value), refused.value
    finally:
        _drop(first)


def test_a_domain_moved_to_spark_gets_its_own_cluster_run_as_itself(deployment):
    """Marketing moves to Spark (one line of domain.yaml, then `mesh prepare` as its image build
    would); `mesh up` starts its cluster (a master, two workers) as marketing's own OS user, its
    restarted code server names that master, and its run reads the other domains' ports on S3 from
    its own copies and publishes the official answers. Then marketing moves back to DuckDB."""
    from platform_lib.deploy.spark_cluster import status, stop

    deployment.published("customers", "sales")  # what marketing reads
    deployment.quiet("marketing")  # no run of marketing's on DuckDB when its code server restarts
    descriptor = deployment.root / "domains" / "marketing" / "domain.yaml"
    original = descriptor.read_text()
    cluster = marketing_cluster(deployment.plan)
    edit(descriptor, "name: marketing\n", "name: marketing\nengine: spark\n")
    try:
        mesh("prepare", env=deployment.env)
        deployment.mesh("up")
        deployment.mesh("restart", "marketing")
        for service in ("spark-marketing-master", "spark-marketing-worker-0", "spark-marketing-worker-1"):
            assert pwd.getpwuid(Path(f"/proc/{deployment.pid(service)}").stat().st_uid).pw_name == f"{deployment.plan.name}-marketing"
        assert deployment.environ("code-server-marketing")["MESH_SPARK_MASTER"] == cluster.master_url
        assert "MESH_SPARK_MASTER" not in deployment.environ("code-server-finance")
        deployment.succeeded(deployment.launch("marketing"), 400)
        found = status(cluster)
        assert [w["state"] for w in found["workers"]] == ["ALIVE", "ALIVE"], found
        assert [a for a in found["completedapps"] if a["name"].startswith("mesh-marketing-") and a["cores"] == 2], found["completedapps"]
        # Copies of the ports it is granted (sales' orders, customers' profiles), and of nothing else.
        inputs = deployment.plan.home / "deployment" / "homes" / "marketing" / "warehouse" / "marketing.spark" / "inputs"
        assert sorted(str(p.relative_to(inputs)) for p in inputs.glob("*/*")) == ["customers/customer_profiles_v1", "sales/orders_v1"]
        with port_catalog(deployment.as_platform()) as catalog:
            for (domain, product), query in TPCH_PRODUCTS.items():
                if domain == "marketing":
                    assert differences(catalog.table((domain, f"{product}_v1")).scan().to_arrow(), query, TEST_SCALE_FACTOR) == [], product
    finally:
        # Back on DuckDB as its image build and `mesh up` would make it (`mesh up` hands the files
        # `mesh prepare` wrote to marketing's user), its code server restarted on it, its runs on
        # Spark done, and its cluster stopped: `mesh down` stops only the clusters of Spark domains.
        deployment.quiet("marketing")
        descriptor.write_text(original)
        mesh("prepare", env=deployment.env)
        deployment.mesh("up")
        deployment.mesh("restart", "marketing")
        supervisor = Supervisor(deployment.plan.home)
        if any(name.startswith(f"{cluster.name}-") for name in supervisor.running()):
            stop(cluster, supervisor)


def test_mesh_up_says_which_domains_to_run_first(deployment):
    """Issue 22, stumble 7: after `mesh up` the port catalog is empty and a consumer's first run is
    refused; nothing said to run the source-aligned domains first."""
    assert ("First run the source-aligned domains customers, sales, supply: launch customers_products, sales_products, "
            "supply_products in the UI (Jobs), or wait for their schedules.") in deployment.said, deployment.said
