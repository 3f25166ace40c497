"""`mesh up` / `mesh down`: the whole topology of a multi-team deployment, on this machine.

    PostgreSQL  <name>_dagster (runs, events, schedules)   <name>_ports (the port catalog)
    SeaweedFS   s3://ports, one identity per domain, rendered from the contracts' grants
    Spark       a standalone cluster (master, two workers) per domain on `engine: spark`, run as that domain
    a code server per location (gRPC), each with its own S3 identity; runs launch inside it
    dagster-daemon (queued runs one per domain, schedules, automation sensors)
    dagster-webserver on 127.0.0.1:<port>
"""

from __future__ import annotations

import getpass
import json
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from platform_lib.deploy.catalog_authority import catalog_uri, grant_authority
from platform_lib.deploy.instance import ensure_databases, locations, write_instance, write_workspace
from platform_lib.deploy.object_store import BUCKET, PORTS, create_bucket, leftover_sockets, seaweedfs
from platform_lib.deploy.pairing import pair
from platform_lib.deploy.processes import Service, Supervisor, http_answers, port_open, refuse_taken
from platform_lib.deploy.separation import HOMES, ensure_user, hand_over, let_through, own_home, separates_users, unreachable, user_name
from platform_lib.deploy.spark_cluster import ClusterPlan
from platform_lib.deploy.spark_cluster import services as spark_services
from platform_lib.engines.spark import MASTER, require_java
from platform_lib.ports.identities import PLATFORM, catalog_passwords, write_identities
from platform_lib.settings import MESH_ROOT, WORKSPACE_FILE, masking_key_file, mesh_home

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Plan:
    """Where everything of one deployment lives: names, ports, folders."""

    home: Path
    name: str = "mesh"
    postgres: str = "postgres@127.0.0.1:5432"
    webserver_port: int = 3000
    # Code servers take base, base+1, ...; SeaweedFS base+50 ... base+57; Spark clusters base+60 on, six ports each.
    base_port: int = 4100

    @property
    def dagster_home(self) -> Path:
        return self.home / "deployment" / "dagster"

    @property
    def workspace(self) -> Path:
        return self.home / "deployment" / "workspace.yaml"

    @property
    def access(self) -> Path:
        return self.home / "deployment" / "access"

    @property
    def store(self) -> Path:
        """The object store's folder: its data, and the record pairing it with its catalog."""
        return self.home / "deployment" / "s3"

    @property
    def code_servers(self) -> dict[str, int]:
        return {name: self.base_port + i for i, (name, _) in enumerate(locations(WORKSPACE_FILE))}

    @property
    def weed_ports(self) -> dict[str, int]:
        return {key: self.base_port + 50 + i for i, key in enumerate(PORTS)}

    @cached_property
    def spark_clusters(self) -> dict[str, ClusterPlan]:
        """Domain -> its own Spark cluster, for each domain whose engine is Spark, in its own home."""
        from platform_lib.engines import SPARK
        from platform_lib.mesh import load_mesh

        spark = [domain.name for domain in load_mesh(WORKSPACE_FILE).domains if domain.engine == SPARK]
        clusters = {}
        for i, name in enumerate(spark):
            master, ui, *workers = range(self.base_port + 60 + 6 * i, self.base_port + 66 + 6 * i)
            clusters[name] = ClusterPlan(self.home / "deployment" / HOMES / name / "spark-cluster", master, ui, tuple(workers), name=f"spark-{name}")
        return clusters

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.weed_ports['s3']}"

    @property
    def webserver_url(self) -> str:
        return f"http://127.0.0.1:{self.webserver_port}"

    @property
    def port_catalog(self) -> str:
        return f"{self.name}_ports"

    def environment(self) -> dict[str, str]:
        """What every process of the deployment shares; identities (S3 keys, catalog role) are added
        per process, and only to those that read ports."""
        return {
            "MESH_HOME": str(self.home), "MESH_ROOT": str(MESH_ROOT), "DAGSTER_HOME": str(self.dagster_home),
            "MESH_PORT_WAREHOUSE": f"s3://{BUCKET}", "MESH_S3_ENDPOINT": self.s3_endpoint,
        }


def plan_from_environment(**overrides) -> Plan:
    import os

    return Plan(home=mesh_home(), postgres=os.environ.get("MESH_POSTGRES", Plan.postgres), **overrides)


def identity_environment(plan: Plan, identity: str) -> dict[str, str]:
    """What one identity holds: its S3 keys and its own role in the port catalog."""
    credentials = json.loads((plan.access / f"{identity}.json").read_text())
    return {
        "MESH_S3_ACCESS_KEY_ID": credentials["access_key"], "MESH_S3_SECRET_ACCESS_KEY": credentials["secret_key"],
        "MESH_PORT_CATALOG": catalog_uri(plan.postgres, plan.port_catalog, plan.name, identity, credentials["catalog_password"]),
    }


def code_server(plan: Plan, name: str) -> Service:
    """A location's server, and the runs it launches: as its identity, in that identity's own home."""
    target = dict(locations(WORKSPACE_FILE))[name]
    port = plan.code_servers[name]
    identity = PLATFORM if target[0] == "-m" else name
    argv = [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port), *target, "--location-name", name]
    home = plan.home / "deployment" / HOMES / identity
    env = {**plan.environment(), "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "HOME": str(home), **identity_environment(plan, identity)}
    cluster = plan.spark_clusters.get(name)
    if cluster is not None:
        env[MASTER] = cluster.master_url
    return Service(f"code-server-{name}", argv, port_open(port), env, MESH_ROOT, user=user_name(plan.name, identity) if separates_users() else None)


def prepare_homes(plan: Plan, mesh, say) -> None:
    """Each identity's own home (deploy.separation), handed to its own OS user where `mesh up` runs as root."""
    from platform_lib.ports.masking import installation_key
    from platform_lib.ports.storage import install_extensions

    key = masking_key_file()
    installation_key(key)  # created on first use, before the homes copy it
    install_extensions()  # by the operator, once: the domains only read them
    projects = {domain.name: domain.dbt_project_dir for domain in mesh.domains}
    if separates_users():
        for needed in (Path(sys.executable), MESH_ROOT):
            blocked = unreachable(needed)
            if blocked is not None:
                raise RuntimeError(f"mesh up runs each domain as its own OS user, and such a user cannot enter {blocked} on the way to {needed}: "
                                   f"let other users through it (chmod o+x {blocked}), or install Python and the repository where they can")
    for identity in [PLATFORM, *projects]:
        home = own_home(plan.home / "deployment", identity, key, plan.home)
        if identity in plan.spark_clusters:
            plan.spark_clusters[identity].folder.mkdir(exist_ok=True)
        write_instance(home / "dagster", plan.postgres, f"{plan.name}_dagster")
        if separates_users():
            dbt = projects.get(identity)
            owned = [home, plan.home / "sources" / identity, *((dbt / "target", dbt / "logs") if dbt else ())]
            for folder in owned[2:]:
                folder.mkdir(exist_ok=True)
            hand_over(ensure_user(user_name(plan.name, identity)), owned)
    if separates_users():
        let_through([plan.home, plan.home / "deployment", plan.home / "deployment" / HOMES, plan.home / "sources", plan.dagster_home])
        plan.access.chmod(0o700)
        # Runs keep their captured output under the instance's storage, which the webserver reads: every
        # domain may add its runs' folders there (sticky: none removes another's), none may list or read them.
        (plan.dagster_home / "storage").mkdir(exist_ok=True)
        (plan.dagster_home / "storage").chmod(0o1733)
    else:
        say(f"warning: not root, so every domain runs as {getpass.getuser()}: each has a home of its own, but one domain's processes "
            "can read another's files and secrets (docs/deployment.md, One domain cannot act as another)")


def clusters(plan: Plan) -> list[Service]:
    """Each Spark domain's cluster, run by the domain's own user: its executors read the inputs the
    domain's runs staged and write its tables, in its home, and no other domain's."""
    user = (lambda name: user_name(plan.name, name)) if separates_users() else (lambda name: None)
    return [service for name, cluster in plan.spark_clusters.items() for service in spark_services(cluster, user(name))]


def services(plan: Plan) -> list[Service]:
    """In start order; `down` stops them in reverse."""
    env = plan.environment()
    workspace = ["-w", str(plan.workspace)]
    return [
        seaweedfs(plan.store, plan.access / "s3.json", plan.weed_ports),
        *clusters(plan),
        *(code_server(plan, name) for name in plan.code_servers),
        Service("daemon", [str(BIN / "dagster-daemon"), "run", *workspace], "Instance is configured with the following daemons", env, MESH_ROOT),
        Service("webserver", [str(BIN / "dagster-webserver"), *workspace, "-h", "127.0.0.1", "-p", str(plan.webserver_port)],
                http_answers(f"{plan.webserver_url}/server_info"), env, MESH_ROOT),
    ]


def service_ports(plan: Plan) -> dict[str, list[int]]:
    """The ports each service of `services` listens on, known before its settings are written."""
    spark = {f"{c.name}-{part}": ports for c in plan.spark_clusters.values()
             for part, ports in [("master", [c.master_port, c.master_ui_port]), *((f"worker-{i}", list(c.worker_ports[2 * i:2 * i + 2])) for i in range(c.workers))]}
    return {"s3": list(plan.weed_ports.values()), **spark, **{f"code-server-{name}": [port] for name, port in plan.code_servers.items()},
            "webserver": [plan.webserver_port]}


def up(plan: Plan, say=print) -> None:
    from platform_lib.mesh import load_mesh

    supervisor = Supervisor(plan.home)
    # Before anything is created or started: a port another program holds stops `mesh up` here.
    for name, ports in service_ports(plan).items():
        if supervisor.pid(name) is None:
            refuse_taken(name, ports)
    for domain in plan.spark_clusters:
        require_java(f"domain {domain}")
    ensure_databases(plan.postgres, [f"{plan.name}_dagster", plan.port_catalog])
    # Before anything is written into the home: it may be another deployment's.
    pair(plan)
    write_instance(plan.dagster_home, plan.postgres, f"{plan.name}_dagster")
    write_identities(plan.access, load_mesh(WORKSPACE_FILE))
    grant_authority(plan.postgres, plan.port_catalog, plan.name, catalog_passwords(plan.access))
    prepare_homes(plan, load_mesh(WORKSPACE_FILE), say)
    write_workspace(plan.workspace, plan.code_servers)
    for service in services(plan):
        running = supervisor.pid_of(service)
        pid = supervisor.start(service)
        if service.name == "s3":
            try:
                create_bucket(plan.s3_endpoint, json.loads((plan.access / f"{PLATFORM}.json").read_text()))
            except OSError as exc:
                if "already" not in str(exc).lower():
                    raise
        say(f"{service.name:<26} already running (pid {pid})" if running else f"{service.name:<26} up   (pid {pid}, log {supervisor.logs / service.name}.log)")
    say(f"Dagster UI: {plan.webserver_url}")
    say(first_runs(load_mesh(WORKSPACE_FILE)))


def first_runs(mesh) -> str:
    """What to run first: a consumer's run is refused until its producers have published."""
    sources = sorted(d.name for d in mesh.domains if not d.input_ports)
    jobs = ", ".join(f"{name}_products" for name in sources)
    return (f"Consumers run as their producers publish (automation). First run the source-aligned domains "
            f"{', '.join(sources)}: launch {jobs} in the UI (Jobs), or wait for their schedules.")


def down(plan: Plan, say=print) -> None:
    supervisor = Supervisor(plan.home)
    for name in supervisor.stop_all([service.name for service in reversed(services(plan))]):
        say(f"{name:<26} stopped")
    for path in leftover_sockets(plan.weed_ports):
        path.unlink(missing_ok=True)


def restart(plan: Plan, location: str, say=print) -> None:
    """New code for one domain: its code server restarts, the others keep serving."""
    supervisor = Supervisor(plan.home)
    supervisor.stop(f"code-server-{location}")
    supervisor.start(code_server(plan, location))
    reload_location(plan, location)
    say(f"code-server-{location} restarted")


def reload_location(plan: Plan, location: str) -> None:
    from dagster_graphql import DagsterGraphQLClient

    DagsterGraphQLClient("127.0.0.1", port_number=plan.webserver_port, timeout=120).reload_repository_location(location)
