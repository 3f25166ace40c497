"""A real S3 server for the tests: the platform's own SeaweedFS service (what `mesh up` runs), on
free loopback ports, stopped as a whole process group, always."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from platform_lib.deploy import object_store
from platform_lib.deploy.object_store import create_bucket, s3_filesystem  # noqa: F401  (the tests' API)
from platform_lib.deploy.processes import Supervisor
from tests.support.free_ports import free_ports, reserve_ports  # noqa: F401  (free_ports: callers not moved to reserve_ports yet)


@dataclass(frozen=True)
class Seaweed:
    endpoint: str  # the S3 gateway's
    ports: dict[str, int]  # every server's, the side doors included


@contextmanager
def seaweedfs(folder: Path, s3_config: Path, timeout: float = 60) -> Iterator[Seaweed]:
    """SeaweedFS with the identities of `s3_config`, its data under `folder`."""
    # Held while it starts and serves: SeaweedFS binds them anyway (tests.support.free_ports).
    with reserve_ports(len(object_store.PORTS)) as held:
        ports = dict(zip(object_store.PORTS, held))
        supervisor = Supervisor(folder)
        try:
            supervisor.start(object_store.seaweedfs(folder, s3_config, ports), timeout)
            yield Seaweed(f"http://127.0.0.1:{ports['s3']}", ports)
        finally:
            # A graceful stop takes 15 s (the filer waits for the S3 gateway's open gRPC stream), and
            # the data is thrown away: a short grace, then SIGKILL to the whole group.
            supervisor.stop("s3", grace=3)
            for path in object_store.leftover_sockets(ports):
                path.unlink(missing_ok=True)
