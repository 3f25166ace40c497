"""A Spark standalone cluster for a test (a master and two one-core workers, each its own JVM), and
a watch on the master's own JSON status while something runs on it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from platform_lib.deploy.processes import Supervisor
from platform_lib.deploy.spark_cluster import ClusterPlan, start, status, stop
from tests.support.seaweed import free_ports


@contextmanager
def spark_cluster(folder: Path) -> Iterator[ClusterPlan]:
    master, ui, *workers = free_ports(6)
    plan = ClusterPlan(folder, master, ui, tuple(workers))
    supervisor = Supervisor(folder)
    try:
        start(plan, supervisor)
        yield plan
    finally:
        stop(plan, supervisor)


@contextmanager
def watched(plan: ClusterPlan, every: float = 0.5) -> Iterator[list[dict]]:
    """The master's status (`/json`), read every `every` seconds while the block runs."""
    seen: list[dict] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(every):
            found = status(plan)
            if found is not None:
                seen.append(found)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        thread.join()
