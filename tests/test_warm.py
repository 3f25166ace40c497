"""A warm process (cli.warm): `mesh run` forked from a process that keeps what a run imports, tried
from the outside: what the command publishes and imports, its Ctrl-C, its death, code changed under
the warm process, and another user at its socket."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from platform_lib.cli import warm as warm_module
from platform_lib.deploy.processes import stop_group
from platform_lib.deploy.separation import drop_users, ensure_user, separates_users
from platform_lib.deploy.sockets import gone, parent_of, pids
from tests.conftest import mesh_env
from tests.support.processes import BIN, REPO, mesh

DOMAINS = ["customers", "finance", "governance", "marketing", "sales", "supply"]
# What a command's own process imported, printed after `mesh run` ran in it.
IMPORTED = ("import sys\nfrom platform_lib.cli.main import main\nrc = main(['run'{flags}])\n"
            "print(rc, sorted(m for m in ('dagster', 'pyiceberg', 'dbt') if m in sys.modules))")


@contextmanager
def warm(env: dict) -> Iterator[subprocess.Popen]:
    """`mesh warm` on the home of `env`, once it serves; stopped with its whole group after."""
    proc = subprocess.Popen([str(BIN / "mesh"), "warm"], env=env, cwd=REPO, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        said = line_within(proc, 180)
        assert "forks from here" in said, said
        yield proc
    finally:
        stop_group(proc, signal.SIGINT, grace=15)
        proc.stderr.close()


def line_within(proc: subprocess.Popen, seconds: float) -> str:
    """The next line `proc` writes to its stderr, or what is known after `seconds` without one."""
    ready, _, _ = select.select([proc.stderr], [], [], seconds)
    return proc.stderr.readline() if ready else f"no line in {seconds} s (exit status {proc.poll()})"


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`."""
    parents = {p: parent_of(p) for p in pids()}
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if not gone(p)}


def wait_for(what, timeout: float, why: str):
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, why
        time.sleep(0.1)
    return found


def imported_by_the_command(env: dict, *flags: str) -> tuple[int, list[str], str]:
    """`mesh run` with `flags` in a fresh interpreter: its exit status, the libraries its own process
    imported, and its report."""
    code = IMPORTED.format(flags="".join(f", {flag!r}" for flag in flags))
    said = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    rc, imported = said.stdout.strip().split("\n")[-1].split(" ", 1)
    return int(rc), json.loads(imported.replace("'", '"')), said.stderr


@pytest.fixture(scope="module")
def home(seeded_env, tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("warm")
    shutil.copytree(Path(seeded_env["MESH_HOME"]) / "sources", home / "sources")
    return mesh_env(home)


def test_a_run_forked_from_the_warm_process_publishes_as_a_cold_one_while_the_command_imports_no_library(home):
    with warm(home) as server:
        rc, imported, report = imported_by_the_command(home)
        assert rc == 0 and imported == [], report
        for domain in DOMAINS:
            assert f" {domain} " in report, report
        assert report.count(" published ") >= 12, report
        # The run was the warm process's child: none of its processes outlive it.
        assert wait_for(lambda: not descendants(server.pid), 10, "the run's processes outlived it")
    # The same data versions a cold run finds: nothing left to do.
    cold = mesh("run", "--cold", env=home)
    assert cold.stderr.count("up to date  no run") == len(DOMAINS), cold.stderr


def test_ctrl_c_on_the_command_stops_its_run_and_the_warm_process_serves_on(home, tmp_path):
    with warm(home) as server, open(tmp_path / "stderr", "w") as stderr:
        # Into a file: the interrupted processes' tracebacks could fill a pipe no one reads yet.
        command = subprocess.Popen([str(BIN / "mesh"), "run", "--force"], env=home, cwd=REPO, stderr=stderr, start_new_session=True)
        # A domain's run under way: the command's child and a forked domain run below it.
        wait_for(lambda: len(descendants(server.pid)) >= 2, 120, "no run started in the warm process")
        # A terminal's Ctrl-C: to the command's process group, which holds the command alone. The
        # run stops on it, or is killed GRACE seconds later.
        os.killpg(command.pid, signal.SIGINT)
        assert command.wait(timeout=warm_module.GRACE + 30) in (128 + signal.SIGINT, 128 + signal.SIGKILL)
        wait_for(lambda: not descendants(server.pid), 30, f"the run went on after Ctrl-C: {descendants(server.pid)}")
        assert server.poll() is None
        rc, imported, report = imported_by_the_command(home)
        assert rc == 0 and imported == [], report


def test_a_command_killed_outright_has_its_run_stopped(home):
    with warm(home) as server:
        command = subprocess.Popen([str(BIN / "mesh"), "run", "--force"], env=home, cwd=REPO, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        wait_for(lambda: len(descendants(server.pid)) >= 2, 120, "no run started in the warm process")
        os.killpg(command.pid, signal.SIGKILL)
        command.wait()
        wait_for(lambda: not descendants(server.pid), warm_module.GRACE + 15, f"the run outlived its command: {descendants(server.pid)}")
        assert server.poll() is None


def test_a_warm_process_whose_platform_code_changed_runs_nothing_and_starts_again_on_the_new_code(home):
    """A run forked from it would run the code it imported, not the code on disk."""
    source = Path(warm_module.__file__).resolve().parents[1] / "runs" / "report.py"
    stat = source.stat()
    with warm(home) as server:
        try:
            os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
            rc, imported, report = imported_by_the_command(home)
            # Run in the command's own process, as with no warm process.
            assert rc == 0 and "dagster" in imported, report
            # The same process (where `mesh ui` watches it) serves again, on the code now on disk.
            said = line_within(server, 120)
            assert "forks from here" in said and server.poll() is None, said
            rc, imported, report = imported_by_the_command(home)
            assert rc == 0 and imported == [], report
        finally:
            os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))


STRANGER = """
import json, socket, sys
path, request = sys.argv[1], json.loads(sys.argv[2])
conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    conn.connect(path)
except OSError as exc:
    print("refused at connect:", exc)
    sys.exit(0)
try:
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
    print("answer:", conn.recv(4096))
except OSError as exc:
    print("closed:", exc)
"""


@pytest.mark.skipif(not separates_users(), reason="only root can run a process as another user")
def test_another_user_at_the_socket_runs_nothing(monkeypatch):
    """A request is an environment and arguments to run as the warm process's user. Another user
    (a shell on the same machine) cannot reach the socket; and where a careless chmod let them,
    the warm process refuses them."""
    # A home other users could traverse to, were the socket's folder open.
    root = Path(tempfile.mkdtemp(prefix="warm-", dir="/tmp"))
    root.chmod(0o755)
    stranger = "mesh-warm-stranger"
    uid = ensure_user(stranger)
    try:
        env = mesh_env(root / "home")
        (root / "home").mkdir()
        (root / "home").chmod(0o755)
        with warm(env) as server:
            socket_path = root / "home" / "warm" / "socket"
            monkeypatch.setenv("MESH_HOME", env["MESH_HOME"])
            # The owner's own request, word for word: only who sends it differs.
            request = json.dumps({"argv": ["run"], "env": env, "cwd": str(REPO), "identity": warm_module._identity()})

            def attack() -> str:
                tried = subprocess.run(["/usr/bin/python3", "-c", STRANGER, str(socket_path), request], user=uid, extra_groups=[],
                                       cwd="/", capture_output=True, text=True, timeout=60)
                return tried.stdout + tried.stderr

            assert "refused at connect: [Errno 13] Permission denied" in attack()
            socket_path.parent.chmod(0o755)
            socket_path.chmod(0o777)
            said = attack()
            assert "answer: b''" in said or "closed:" in said, said
            assert not descendants(server.pid) and server.poll() is None
    finally:
        drop_users([stranger])
        shutil.rmtree(root, ignore_errors=True)
