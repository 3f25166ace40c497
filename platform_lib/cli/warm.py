"""A warm process: `mesh run` forked from a process that stays up between commands with what a run
imports already imported (Dagster and its storage, pyiceberg, dbt and its schemas), which is most
of a command's start-up (4-8 s on one core) and most of a run with nothing changed.

`mesh warm` serves MESH_HOME's socket until Ctrl-C or an idle timeout; `mesh ui` serves it for its
lifetime. `mesh run` asks it first: the warm process forks a child that takes the command's
standard streams (passed over the socket), working directory, umask, environment and arguments, and
runs the command as `mesh` would, in a process group of its own; the exit status comes back over the
socket, and a Ctrl-C (SIGINT, SIGTERM, SIGHUP) of the command is passed to that group. A command
that ends without waiting (killed) has its child's group stopped. With no warm process, or one that
would run other code (the platform's files changed since it started, another interpreter, mesh root
or home), the command runs in its own process, as it always did; the warm process that finds its
code changed starts again on the new code once its runs are done (the same process, exec'd).

Only the warm process's own user may connect (SO_PEERCRED): a request carries an environment and
arguments, which is code to run as that user. The socket is in a folder of the home only its owner
may enter.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import select
import selectors
import signal
import socket
import struct
import sys
import sysconfig
import time
from pathlib import Path

from platform_lib.settings import MESH_ROOT, mesh_home

# Set in the child that runs a command: it runs it, and never asks a warm process again.
FORKED = False
# A request is JSON of a few kilobytes (mostly the environment); one datagram of a seqpacket socket.
MESSAGE_LIMIT = 1 << 20
# How long a run may take to stop, once signalled (its command interrupted, or gone), before SIGKILL.
GRACE = 10.0
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def socket_path() -> Path:
    return mesh_home() / "warm" / "socket"


def _identity() -> dict[str, str]:
    """What a command and the warm process must share for the warm one to run it: the interpreter,
    the mesh's files, and the home (itself, not another made at the same path since)."""
    home = mesh_home()
    return {"python": f"{sys.prefix} {sys.version}", "root": str(MESH_ROOT), "home": str(home), "home_inode": str(home.stat().st_ino)}


def _code_stamp() -> str:
    """The platform's files and the installed packages as this process imported them: a change to
    either means a run forked from here would not run the code on disk."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\0".encode())
    digest.update(str(Path(sysconfig.get_paths()["purelib"]).stat().st_mtime_ns).encode())
    return digest.hexdigest()


@contextlib.contextmanager
def _address(path: Path):
    """The socket's address through its folder's descriptor: a home deep in a temporary folder would
    pass the 107 bytes an AF_UNIX path may have."""
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


def _send(conn: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(conn, [data], fds)
    else:
        conn.send(data)


# The command's side.

def forward(argv: list[str]) -> int | None:
    """`mesh argv` run by the warm process serving this home: its exit status, or None when none
    serves it (the caller runs the command itself)."""
    path = socket_path()
    if FORKED or not path.exists():
        return None
    # A signal before the run's group is known is held, then passed on: an early Ctrl-C is the run's too.
    group, held = None, []

    def pass_on(signum, frame) -> None:
        held.append(signum)
        if group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signum)

    before = {signum: signal.signal(signum, pass_on) for signum in SIGNALS}
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        with _address(path) as address:
            conn.connect(address)
        mask = os.umask(0o022)
        os.umask(mask)
        request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "umask": mask, "identity": _identity()}
        _send(conn, request, _standard_streams())
        answer = json.loads(conn.recv(MESSAGE_LIMIT) or b"{}")
    except OSError:
        answer = {}  # gone, or going: the socket outlived a warm process killed outright
    if "pid" not in answer:
        conn.close()
        for signum, handler in before.items():
            signal.signal(signum, handler)
        return 128 + held[0] if held else None
    group = answer["pid"]
    for signum in held:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signum)
    with conn:
        ended = _ended(conn, group, held)
    if not ended:
        print(f"mesh: the warm process ({path}) stopped before the command ended", file=sys.stderr)
        return 1
    return json.loads(ended)["exit"]


def _ended(conn: socket.socket, group: int, signalled: list[int]) -> bytes:
    """The warm process's word that the run ended (empty if it went away first). Once a signal
    was passed on (`signalled` grows), the run has GRACE seconds to stop before its group is killed:
    one Ctrl-C stops it, whatever it was doing."""
    since = None
    while not select.select([conn], [], [], 0.5)[0]:
        if signalled and since is None:
            since = time.monotonic()
        elif since is not None and time.monotonic() - since > GRACE:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            since = float("inf")
    return conn.recv(MESSAGE_LIMIT)


def _standard_streams() -> list[int]:
    """This process's stdin, stdout and stderr, /dev/null for any it was started without."""
    streams = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            streams.append(fd)
        except OSError:
            streams.append(os.open(os.devnull, os.O_RDWR))
    return streams


# The warm process's side.

def serve(idle_minutes: float | None = None, ready=None) -> int:
    """Serve this home's socket until SIGINT or SIGTERM, or until `idle_minutes` pass without a
    command. `ready()`: called once it serves."""
    from platform_lib.runs.mesh_run import preload

    path = socket_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    if _serving(path):
        raise RuntimeError(f"a warm process already serves {mesh_home()} ({path})")
    try:
        preload()
    except KeyboardInterrupt:  # stopped while starting (`mesh ui` stopped at once): nothing to tell
        return 128 + signal.SIGINT
    stamp, identity = _code_stamp(), _identity()
    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, frame: stopping.append(signum))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    path.unlink(missing_ok=True)
    with _address(path) as address:
        listener.bind(address)
    listener.listen(16)
    inode = path.stat().st_ino
    runs: dict[int, _Run] = {}
    # The platform's code changed on disk: requests are refused (run cold) until this process starts again.
    stale = False
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    if ready:
        ready()
    last = time.monotonic()
    try:
        while not stopping:
            for key, _ in selector.select(timeout=0.2):
                if key.fileobj is listener:
                    run = _accept(listener, stamp, identity, [selector, *(run.conn for run in runs.values())])
                    stale = stale or run is False
                    if run:
                        runs[run.pid] = run
                        selector.register(run.conn, selectors.EVENT_READ)
                else:
                    # A command sends nothing after its request: readable means it went away.
                    next(run for run in runs.values() if run.conn is key.fileobj).abandon()
                    selector.unregister(key.fileobj)
            for run in _reap(runs):
                if run.conn in (key.fileobj for key in selector.get_map().values()):
                    selector.unregister(run.conn)
                run.conn.close()
            if runs:
                last = time.monotonic()
            elif stale:
                break
            elif idle_minutes is not None and time.monotonic() - last > idle_minutes * 60:
                return 0
    finally:
        for run in runs.values():
            run.abandon()
        listener.close()
        # Only our own socket: a warm process started since (after ours stopped serving) owns the path now.
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_ino == inode:
                path.unlink()
    if stale:
        # The same process on the code now on disk (once none of its runs is left to report on: exec
        # closes their connections), in the same place under `mesh ui`.
        os.execv(sys.executable, [sys.executable, "-m", "platform_lib.cli.main", "warm", *(["--idle", str(idle_minutes)] if idle_minutes else [])])
    return 0


def _serving(path: Path) -> bool:
    """Whether a process listens on the socket at `path`."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe, _address(path) as address:
        try:
            probe.connect(address)
            return True
        except OSError:
            return False


class _Run:
    """A command's child: its process (group) and the command's connection, told how it ended."""

    def __init__(self, pid: int, conn: socket.socket):
        self.pid, self.conn, self.stop_by = pid, conn, None

    def abandon(self) -> None:
        """The command went away (killed, or this process is stopping): the run is stopped."""
        if self.stop_by is None:
            self.stop_by = time.monotonic() + GRACE
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
        elif time.monotonic() > self.stop_by:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)

    def tell(self, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(OSError):
            _send(self.conn, {"exit": code if code >= 0 else 128 - code})


def _reap(runs: dict[int, _Run]) -> list[_Run]:
    """The runs that ended, each told to its command; the others stopped further if abandoned."""
    ended = []
    for pid, run in list(runs.items()):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            run.tell(status)
            ended.append(runs.pop(pid))
        elif run.stop_by is not None:
            run.abandon()
    return ended


def _accept(listener: socket.socket, stamp: str, identity: dict, others: list) -> _Run | bool | None:
    """A command's request: its run (forked), None when refused (the command runs itself), False
    when this process's code is no longer the code on disk. `others`: what the child closes (the
    selector, other commands' connections), so none of them waits on it."""
    conn, _ = listener.accept()
    _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    if uid != os.getuid():
        conn.close()
        return None
    fds = []
    try:
        conn.settimeout(5.0)  # a request is sent at once, and one that is not must not hold up the others
        data, fds, _, _ = socket.recv_fds(conn, MESSAGE_LIMIT, 3)
        conn.settimeout(None)
        request = json.loads(data)
    except (OSError, ValueError):
        request = {}
    code_changed = _code_stamp() != stamp
    if len(fds) != 3 or request.get("identity") != identity or code_changed:
        for fd in fds:
            os.close(fd)
        conn.close()
        return False if code_changed else None
    pid = os.fork()
    if pid == 0:
        for held in (listener, conn, *others):
            held.close()
        _run_command(request, fds)
    # Its own group from now, whichever of the two gets there first: the command signals the group.
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    for fd in fds:
        os.close(fd)
    _send(conn, {"pid": pid})
    return _Run(pid, conn)


def _run_command(request: dict, fds: list[int]) -> None:
    """In the forked child: the command, as `mesh` run in the command's own process would run it."""
    global FORKED
    FORKED = True
    code = 1
    try:
        os.setpgid(0, 0)
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115  (the process's own streams, never closed)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.umask(request["umask"])
        os.environ.clear()
        os.environ.update(request["env"])
        from platform_lib.cli.main import main

        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        # What a process's normal exit does (multiprocessing's daemons stopped, logs flushed), and
        # nothing of the warm process's own frames above this one, which an exception would unwind.
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
