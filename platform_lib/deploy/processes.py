"""Long-running processes of a deployment: started in their own session with a log file and a pid
file under $MESH_HOME, health-checked, and stopped as a whole process group (SIGKILL after a grace
period: some servers ignore SIGTERM for a while)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    # When it is ready: a check such as a port answering, or a line its log writes once started.
    ready: Callable[[], bool] | str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    # Run just before the process starts (not when it already runs): files it reads at start.
    before_start: Callable[[], object] | None = None


def port_open(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    def check() -> bool:
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex((host, port)) == 0

    return check


def http_answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            urllib.request.urlopen(url, timeout=2)
        except urllib.error.HTTPError:
            return True  # an error page is an answer: the server is up
        except OSError:
            return False
        return True

    return check


class Supervisor:
    """Starts and stops the services of one deployment; state lives in `run/` and `logs/` of home."""

    def __init__(self, home: Path):
        self.logs = home / "logs"
        self.pids = home / "run"

    def pid(self, name: str) -> int | None:
        path = self.pids / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink()
            return None
        return pid

    def start(self, service: Service, timeout: float = 120) -> int:
        """Start the service unless it runs already; return once it is ready."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        pid = self.pid(service.name)
        path = self.logs / f"{service.name}.log"
        start = path.stat().st_size if path.exists() else 0
        ready = service.ready if callable(service.ready) else lambda: service.ready in _read_from(path, start)
        if pid is None:
            if service.before_start is not None:
                service.before_start()
            log = open(path, "ab")
            proc = subprocess.Popen(service.argv, env={**os.environ, **service.env}, cwd=service.cwd,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            (self.pids / f"{service.name}.pid").write_text(str(proc.pid))
            pid = proc.pid
        deadline = time.monotonic() + timeout
        while not ready():
            if self.pid(service.name) is None:
                raise RuntimeError(f"{service.name} exited during start; see {self.logs / service.name}.log:\n{self.tail(service.name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} not ready after {timeout:.0f}s; see {self.logs / service.name}.log:\n{self.tail(service.name)}")
            time.sleep(0.3)
        return pid

    def stop(self, name: str, grace: float = 10) -> bool:
        """Stop the service's whole process group; False if it was not running."""
        pid = self.pid(name)
        if pid is None:
            return False
        try:
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.2)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        (self.pids / f"{name}.pid").unlink(missing_ok=True)
        return True

    def running(self) -> list[str]:
        return sorted(p.stem for p in self.pids.glob("*.pid") if self.pid(p.stem) is not None) if self.pids.exists() else []

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _read_from(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie group leader (our child, not yet reaped) counts as gone.
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True
