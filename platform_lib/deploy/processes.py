"""Long-running processes of a deployment: started in their own session with a log file and a pid
file under $MESH_HOME, health-checked, and stopped as a whole process group (SIGKILL after a grace
period: some servers ignore SIGTERM for a while).

A port is anyone's: another server may hold one of ours, answer our health check and be taken for
ours. So a service's ports must be free before it starts, and it is ready only once every listener on
them belongs to its own session (the kernel's socket tables, /proc/net/tcp, against the sockets its
processes hold, /proc/<pid>/fd); otherwise the error names the port and what holds it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from platform_lib.deploy import sockets


@dataclass(frozen=True)
class Answers:
    """Ready when something answers on a port of this machine: a connection accepted or, given a
    URL, any HTTP response (an error page too). The port is the service's: see `Supervisor`."""

    port: int
    url: str | None = None

    def __call__(self) -> bool:
        if self.url is None:
            with socket.socket() as s:
                s.settimeout(1)
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        try:
            urllib.request.urlopen(self.url, timeout=2)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True


def port_open(port: int) -> Answers:
    return Answers(port)


def http_answers(url: str) -> Answers:
    return Answers(urlparse(url).port, url)


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
    # The ports it listens on besides its ready check's.
    listens: tuple[int, ...] = ()
    # The OS user it runs as (this process's own if None; another needs root).
    user: str | None = None
    # Its first word is a launcher that execs the program that runs (Spark's spark-class execs java):
    # the running process shows the arguments after it, not the launcher.
    launcher: bool = False

    @property
    def ports(self) -> list[int]:
        own = (self.ready.port,) if isinstance(self.ready, Answers) else ()
        return sorted({*own, *self.listens})


# Secrets the starting shell may hold (every identity's keys, an admin's catalog URI): a service gets
# the ones its own `env` gives it, never these.
SECRET_SETTINGS = ("MESH_S3_CREDENTIALS", "MESH_S3_ACCESS_KEY_ID", "MESH_S3_SECRET_ACCESS_KEY", "MESH_PORT_CATALOG", "MESH_MASKING_SALT", "PGPASSWORD")


def inherited(environ) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in SECRET_SETTINGS and not k.startswith("AWS_")}


class PortTaken(RuntimeError):
    def __init__(self, service: str, port: int, holder: str):
        super().__init__(f"{service}: port {port} is taken by {holder}; stop it, or choose other ports (mesh up --port, --base-port)")


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

    def pid_of(self, service: Service) -> int | None:
        """The service's pid if it runs: its pid file names a live process that runs its command."""
        pid = self.pid(service.name)
        if pid is not None and not _runs(pid, service.argv[1:] if service.launcher else service.argv):
            # A pid outlives its process: after a crash or a reboot the number may name another one.
            (self.pids / f"{service.name}.pid").unlink(missing_ok=True)
            return None
        return pid

    def start(self, service: Service, timeout: float = 120) -> int:
        """Start the service unless it runs already; return once it is ready, its ports its own."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        pid = self.pid_of(service)
        path = self.logs / f"{service.name}.log"
        answers = service.ready if callable(service.ready) else lambda: True  # its start line was written when it started
        if pid is None:
            refuse_taken(service.name, service.ports)
            start = path.stat().st_size if path.exists() else 0
            if not callable(service.ready):
                answers = lambda: service.ready in _read_from(path, start)  # noqa: E731
            if service.before_start is not None:
                service.before_start()
            log = open(path, "ab")
            # Another user's files are created readable by it alone (umask), wherever it writes.
            as_user = {"user": service.user, "group": service.user, "extra_groups": [], "umask": 0o077} if service.user else {}
            proc = subprocess.Popen(service.argv, env={**inherited(os.environ), **service.env}, cwd=service.cwd, **as_user,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            (self.pids / f"{service.name}.pid").write_text(str(proc.pid))
            pid = proc.pid
        deadline = time.monotonic() + timeout
        while not (_listening(service, pid) and answers()):
            if self.pid(service.name) is None:
                raise RuntimeError(f"{service.name} exited during start; see {self.logs / service.name}.log:\n{self.tail(service.name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} not ready after {timeout:.0f}s; see {self.logs / service.name}.log:\n{self.tail(service.name)}")
            time.sleep(0.3)
        return pid

    def stop(self, name: str, grace: float = 10) -> bool:
        """Stop the service's whole process group; False if it was not running."""
        return bool(self.stop_all([name], grace))

    def stop_all(self, names: Iterable[str], grace: float = 10) -> list[str]:
        """Stop the services' process groups together, then the names of those that were running.
        One grace period for all: a deployment's dozen services would otherwise wait out their
        shutdowns one after another."""
        running = {name: pid for name in names if (pid := self.pid(name)) is not None}
        for pid in running.values():
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(map(_alive, running.values())):
            time.sleep(0.2)
        for name, pid in running.items():
            if _alive(pid):
                with suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            (self.pids / f"{name}.pid").unlink(missing_ok=True)
        return list(running)

    def running(self) -> list[str]:
        return sorted(p.stem for p in self.pids.glob("*.pid") if self.pid(p.stem) is not None) if self.pids.exists() else []

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def stop_group(proc: subprocess.Popen, signum: int = signal.SIGTERM, grace: float = 20, leader_only: bool = False) -> None:
    """Stop a program started in a session of its own, with its process group: `signum` to the
    group (or to the program alone: dg dev stops what it started only on an interrupt to itself),
    SIGKILL to the group after `grace` seconds, and to whatever of the group outlived its leader."""
    with suppress(ProcessLookupError):
        (os.kill if leader_only else os.killpg)(proc.pid, signum)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def refuse_taken(service: str, ports: Iterable[int]) -> None:
    """Raises PortTaken when a process listens on one of the ports the service is to listen on."""
    for port in ports:
        if sockets.listeners(port):
            raise PortTaken(service, port, sockets.holder(port))


def _listening(service: Service, session: int) -> bool:
    """Whether the service listens on each of its ports and nothing else does there; PortTaken when
    another process does (it answers in our stead)."""
    wanted = {port: sockets.listeners(port) for port in service.ports}
    if not wanted:
        return True
    if not all(wanted.values()):
        return False
    ours = set().union(*(sockets.sockets_of(pid) for pid in sockets.pids() if sockets.session_of(pid) == session))
    for port, inodes in wanted.items():
        if not inodes <= ours:
            raise PortTaken(service.name, port, sockets.holder(port))
    return True


def _runs(pid: int, argv: list[str]) -> bool:
    """Whether the process runs `argv`; a script's interpreter (its #! line), or what a launcher
    exec'd, may come first."""
    return sockets.argv_of(pid)[-len(argv):] == argv


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
