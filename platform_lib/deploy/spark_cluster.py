"""A Spark standalone cluster on this machine: a master and its workers, each a JVM of its own on
127.0.0.1, in the configuration that spans hosts (a worker only needs the master's URL). pyspark's
wheel carries the whole Spark build but not `sbin/start-master.sh`, so each process is started by
`spark-class` with its class, and supervised like every other server of a deployment (its own
session, a log, stopped as a process group).

The cluster runs what a Spark domain's dbt computes; Java (Debian's openjdk-17) is its one need
beyond the Python packages, and only a domain whose `domain.yaml` names `engine: spark` needs it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from platform_lib.deploy.processes import Service, Supervisor, http_answers

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


@dataclass(frozen=True)
class ClusterPlan:
    """Where the cluster listens and keeps its files: each worker takes two of `worker_ports` (its own,
    its UI's), so there are as many workers as pairs."""

    folder: Path
    master_port: int
    master_ui_port: int
    worker_ports: tuple[int, ...]
    cores: int = 1
    memory: str = "1g"
    # Its services' names: `spark-<domain>` in a deployment, where each Spark domain has its own.
    name: str = "spark"

    @property
    def workers(self) -> int:
        return len(self.worker_ports) // 2

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.master_ui_port}"


def environment(plan: ClusterPlan) -> dict[str, str]:
    return {
        "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(plan.folder / "logs"), "SPARK_WORKER_DIR": str(plan.folder / "work"),
    }


def services(plan: ClusterPlan, user: str | None = None) -> list[Service]:
    """The master, then its workers, in start order; run by `user` when given (a domain's own cluster)."""
    spark_class = str(spark_home() / "bin" / "spark-class")
    env = environment(plan)
    master = Service(
        f"{plan.name}-master", [spark_class, MASTER_CLASS, "--host", "127.0.0.1", "--port", str(plan.master_port), "--webui-port", str(plan.master_ui_port)],
        http_answers(f"{plan.ui_url}/json"), env, plan.folder, listens=(plan.master_port,), user=user, launcher=True,
    )
    workers = []
    for i in range(plan.workers):
        port, ui = plan.worker_ports[2 * i], plan.worker_ports[2 * i + 1]
        argv = [spark_class, WORKER_CLASS, plan.master_url, "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui),
                "--cores", str(plan.cores), "--memory", plan.memory, "--work-dir", str(plan.folder / "work" / f"worker-{i}")]
        workers.append(Service(f"{plan.name}-worker-{i}", argv, http_answers(f"http://127.0.0.1:{ui}/json"), env, plan.folder, listens=(port,), user=user, launcher=True))
    return [master, *workers]


def status(plan: ClusterPlan) -> dict | None:
    """The master's own account (`/json`): workers, active and completed applications; None if it does not answer."""
    try:
        with urllib.request.urlopen(f"{plan.ui_url}/json", timeout=5) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def alive_workers(plan: ClusterPlan) -> int:
    found = status(plan)
    return sum(worker["state"] == "ALIVE" for worker in found["workers"]) if found else 0


def start(plan: ClusterPlan, supervisor: Supervisor, user: str | None = None, timeout: float = 120) -> float:
    """Start the cluster (what of it is not running yet) and wait until every worker has registered
    with the master; the seconds that took."""
    started = time.monotonic()
    for service in services(plan, user):
        supervisor.start(service, timeout=timeout)
    while alive_workers(plan) < plan.workers:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the Spark workers did not register with the master at {plan.master_url} within {timeout:.0f} s: "
                               f"see {supervisor.logs}/{plan.name}-worker-*.log")
        time.sleep(0.25)
    return time.monotonic() - started


def stop(plan: ClusterPlan, supervisor: Supervisor) -> list[str]:
    """Stop the master and workers (process groups); the names of those that were running."""
    return supervisor.stop_all([service.name for service in reversed(services(plan))], grace=5)
