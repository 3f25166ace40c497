"""`mesh up` / `mesh down`: the whole topology of a multi-team deployment, on this machine.

    PostgreSQL  <name>_dagster (runs, events, schedules)   <name>_ports (the port catalog)
    SeaweedFS   s3://ports, one identity per domain, rendered from the contracts' grants
    a code server per location (gRPC), each with its own S3 identity; runs launch inside it
    dagster-daemon (queued runs one per domain, schedules, automation sensors)
    dagster-webserver on 127.0.0.1:<port>
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from platform_lib.deploy.instance import ensure_databases, locations, write_instance, write_workspace
from platform_lib.deploy.object_store import BUCKET, PORTS, create_bucket, leftover_sockets, seaweedfs
from platform_lib.deploy.processes import Service, Supervisor, http_answers, port_open
from platform_lib.ports.identities import PLATFORM, write_identities
from platform_lib.settings import MESH_ROOT, WORKSPACE_FILE, mesh_home

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Plan:
    """Where everything of one deployment lives: names, ports, folders."""

    home: Path
    name: str = "mesh"
    postgres: str = "postgres@127.0.0.1:5432"
    webserver_port: int = 3000
    # Code servers take base, base+1, ...; SeaweedFS base+50 ... base+57.
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
    def code_servers(self) -> dict[str, int]:
        return {name: self.base_port + i for i, (name, _) in enumerate(locations(WORKSPACE_FILE))}

    @property
    def weed_ports(self) -> dict[str, int]:
        return {key: self.base_port + 50 + i for i, key in enumerate(PORTS)}

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.weed_ports['s3']}"

    @property
    def webserver_url(self) -> str:
        return f"http://127.0.0.1:{self.webserver_port}"

    def environment(self) -> dict[str, str]:
        """What every process of the deployment shares; identities are added per process."""
        return {
            "MESH_HOME": str(self.home), "MESH_ROOT": str(MESH_ROOT), "DAGSTER_HOME": str(self.dagster_home),
            "MESH_PORT_CATALOG": f"postgresql+psycopg2://{self.postgres}/{self.name}_ports",
            "MESH_PORT_WAREHOUSE": f"s3://{BUCKET}", "MESH_S3_ENDPOINT": self.s3_endpoint,
        }


def plan_from_environment(**overrides) -> Plan:
    import os

    return Plan(home=mesh_home(), postgres=os.environ.get("MESH_POSTGRES", Plan.postgres), **overrides)


def keys(plan: Plan, identity: str) -> dict[str, str]:
    credentials = json.loads((plan.access / f"{identity}.json").read_text())
    return {"MESH_S3_ACCESS_KEY_ID": credentials["access_key"], "MESH_S3_SECRET_ACCESS_KEY": credentials["secret_key"]}


def code_server(plan: Plan, name: str) -> Service:
    target = dict(locations(WORKSPACE_FILE))[name]
    port = plan.code_servers[name]
    identity = PLATFORM if target[0] == "-m" else name
    argv = [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port), *target, "--location-name", name]
    return Service(f"code-server-{name}", argv, port_open(port), {**plan.environment(), **keys(plan, identity)}, MESH_ROOT)


def services(plan: Plan) -> list[Service]:
    """In start order; `down` stops them in reverse."""
    env = plan.environment()
    workspace = ["-w", str(plan.workspace)]
    return [
        seaweedfs(plan.home / "deployment" / "s3", plan.access / "s3.json", plan.weed_ports),
        *(code_server(plan, name) for name in plan.code_servers),
        Service("daemon", [str(BIN / "dagster-daemon"), "run", *workspace], "Instance is configured with the following daemons", env, MESH_ROOT),
        Service("webserver", [str(BIN / "dagster-webserver"), *workspace, "-h", "127.0.0.1", "-p", str(plan.webserver_port)],
                http_answers(f"{plan.webserver_url}/server_info"), env, MESH_ROOT),
    ]


def up(plan: Plan, say=print) -> None:
    from platform_lib.mesh import load_mesh

    ensure_databases(plan.postgres, [f"{plan.name}_dagster", f"{plan.name}_ports"])
    write_instance(plan.dagster_home, plan.postgres, f"{plan.name}_dagster")
    write_identities(plan.access, load_mesh(WORKSPACE_FILE))
    write_workspace(plan.workspace, plan.code_servers)
    supervisor = Supervisor(plan.home)
    for service in services(plan):
        supervisor.start(service)
        if service.name == "s3":
            try:
                create_bucket(plan.s3_endpoint, json.loads((plan.access / f"{PLATFORM}.json").read_text()))
            except OSError as exc:
                if "already" not in str(exc).lower():
                    raise
        say(f"{service.name:<26} up   (log {supervisor.logs / service.name}.log)")
    say(f"Dagster UI: {plan.webserver_url}")


def down(plan: Plan, say=print) -> None:
    supervisor = Supervisor(plan.home)
    for service in reversed(services(plan)):
        if supervisor.stop(service.name):
            say(f"{service.name:<26} stopped")
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
    query = "mutation($l: String!) { reloadRepositoryLocation(repositoryLocationName: $l) { __typename } }"
    request = urllib.request.Request(f"{plan.webserver_url}/graphql", data=json.dumps({"query": query, "variables": {"l": location}}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=120).read()
