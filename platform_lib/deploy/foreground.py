"""A program run in the foreground with everything it starts, stopped together on one Ctrl-C.

`mesh ui` runs dg dev, which starts a webserver, a daemon, and per location a code server, its gRPC
server and a resource tracker. A newcomer who ran it as a shell's background job found all of them
alive minutes after a Ctrl-C: such a job starts with SIGINT ignored, and every process inherits the
ignore. Here the program runs in a session of its own with SIGINT at its default, this process
adopts whatever it leaves behind (a child subreaper), passes the interrupt on once to the program
alone (dg dev stops its services on it), and kills what still runs after a grace period.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from contextlib import suppress

from platform_lib.deploy.sockets import gone, parent_of, pids

# prctl(2): orphans of our descendants become our children, not init's, so none escapes the sweep.
_PR_SET_CHILD_SUBREAPER = 36


def run_in_foreground(argv: list[str], grace: float = 6.0, beside: tuple[list[str], ...] = ()) -> int:
    """Run `argv` until it exits or this process is interrupted (SIGINT, SIGTERM); then stop it and
    every process it started, within `grace` seconds and a second or two more. Its exit code.
    `beside`: programs that serve while it runs, started and stopped with it."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    asked: list[float] = []
    started: list[subprocess.Popen] = []

    def stop(signum, frame) -> None:
        if not asked:
            asked.append(time.monotonic())
            for child in started:
                with suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGINT)

    # Handled before the start, because exec resets a handled signal to its default but keeps an
    # ignored one ignored: a shell's background job (`make demo &`) starts with SIGINT ignored, and
    # dg dev with all it starts would inherit the ignore and outlive every Ctrl-C.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    child = subprocess.Popen(argv, start_new_session=True)
    started.append(child)  # interrupted before this line: the grace runs out and the sweep stops it
    started.extend(subprocess.Popen(other, start_new_session=True) for other in beside)
    while child.poll() is None and not (asked and time.monotonic() - asked[0] > grace):
        time.sleep(0.2)
    _sweep(grace=1.5)
    return child.wait()


def _descendants() -> set[int]:
    """Every live process below this one (adopted orphans included: we are their subreaper)."""
    parents = {pid: parent_of(pid) for pid in pids()}
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _sweep(grace: float) -> None:
    """SIGTERM to every descendant, SIGKILL to those still alive after `grace`, and reap them all."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        for pid in _descendants():
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while _reap() and time.monotonic() < deadline:
            time.sleep(0.1)
    while _reap():
        time.sleep(0.05)


def _reap() -> bool:
    """Reap what exited; whether any descendant still runs."""
    with suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    return not all(map(gone, _descendants()))

