"""Who listens on a port of this machine, read from the kernel (/proc/net/tcp and each process's
open sockets), so a server is told apart from another that happens to answer on its port."""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path


def listeners(port: int) -> set[int]:
    """The socket inodes listening on `port` of this machine, any address, IPv4 or IPv6."""
    found = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        # Fields: slot, local address:port (hex), remote, state (0A: LISTEN), ..., inode.
        for fields in (line.split() for line in table.read_text().splitlines()[1:]) if table.exists() else ():
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(int(fields[9]))
    return found


def holder(port: int) -> str:
    """Who listens on `port`, as far as this user can tell: its processes, and its HTTP Server header."""
    inodes = listeners(port)
    holding = [pid for pid in pids() if sockets_of(pid) & inodes]
    who = ", ".join(f"pid {pid} ({command_of(pid)})" for pid in holding[:3]) or "a process this user cannot see"
    server = server_header(port)
    return f"{who}, answering HTTP as {server!r}" if server else who


def pids() -> list[int]:
    return sorted(int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit())


def sockets_of(pid: int) -> set[int]:
    """Inodes of the sockets the process holds; none if it is gone or not ours to see."""
    found = set()
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue
            if target.startswith("socket:["):
                found.add(int(target[len("socket:["):-1]))
    except OSError:
        pass
    return found


def _stat(pid: int) -> list[str]:
    """What /proc says of the process after "(command)": state, ppid, pgrp, session...; [] when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def session_of(pid: int) -> int | None:
    stat = _stat(pid)
    return int(stat[3]) if stat else None


def parent_of(pid: int) -> int | None:
    stat = _stat(pid)
    return int(stat[1]) if stat else None


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie not reaped yet."""
    stat = _stat(pid)
    return not stat or stat[0] == "Z"


def argv_of(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").rstrip("\0").split("\0")
    except OSError:
        return []


def command_of(pid: int) -> str:
    return " ".join(argv_of(pid))[:160] or "?"


def server_header(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.headers.get("Server")
    except urllib.error.HTTPError as error:
        return error.headers.get("Server")
    except (OSError, http.client.HTTPException):
        return None
