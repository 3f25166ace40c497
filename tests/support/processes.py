"""Processes the tests start: in their own session, stopped as a whole group, always."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from platform_lib.deploy.processes import port_open, stop_group
from tests.support.free_ports import reserve_ports

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def mesh(*args: str, env: dict, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / "mesh"), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"mesh {' '.join(args)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


@contextmanager
def webserver(env: dict, timeout: float = 180, root: Path = REPO, mesh_ui: bool = False):
    """dagster-webserver on the workspace.yaml of `root`, on a free loopback port; yields its base URL.
    `mesh_ui`: started as a user does, with `mesh ui` (dg dev: the webserver and a daemon). Its
    output is MESH_HOME/webserver-<port>.log."""
    # Held while the webserver starts and serves: uvicorn binds it anyway (tests.support.free_ports).
    with reserve_ports() as (port,):
        log = open(Path(env["MESH_HOME"]) / f"webserver-{port}.log", "w")
        # The mesh's instance, as `mesh ui` serves it: runs and materializations of `mesh run` show.
        # Made here if no command made it yet, as `mesh ui` does: loading a location writes nothing.
        env = {"DAGSTER_HOME": str(Path(env["MESH_HOME"]) / "dagster"), **env}
        Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        argv = ([str(BIN / "mesh"), "ui", "--host", "127.0.0.1", "--port", str(port)] if mesh_ui else
                [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)])
        proc = subprocess.Popen(argv, cwd=root, env={**env, "MESH_ROOT": str(root)}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"webserver exited {proc.returncode}; see {log.name}")
                try:
                    urllib.request.urlopen(f"{url}/server_info", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"webserver not up after {timeout}s; see {log.name}") from None
                    time.sleep(0.5)
            yield url
        finally:
            # dg dev stops what it started (code servers in sessions of their own) on an interrupt to
            # itself; an interrupt to its whole group leaves them to their heartbeat's timeout.
            stop_group(proc, signal.SIGINT if mesh_ui else signal.SIGTERM, leader_only=mesh_ui)
            log.close()


@contextmanager
def other_server(port: int):
    """Another program's server on `port`: Python's http.server, in its own process group, stopped
    with it. Yields its process."""
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if port_open(port)():
                break
            assert proc.poll() is None and time.monotonic() < deadline, f"http.server on port {port} did not start"
            time.sleep(0.1)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    # Posted by hand: DagsterGraphQLClient runs only its own operations (any other query is its private _execute).
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise AssertionError(f"GraphQL errors: {body['errors']}")
    return body["data"]
