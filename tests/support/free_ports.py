"""Free loopback ports for the servers the tests (and bench/) start, held until those servers bind them.

A port found free and let go is anyone's again: another test's server, or any process's outgoing
connection (the kernel hands those ports from ip_local_port_range), may take it before ours binds. So
a reservation keeps a socket bound on each of its ports, never listening, until it is released:

    with reserve_ports(2) as (http, grpc):
        start_servers(http, grpc)       # inside the block: the ports are ours until the servers bind them

Each socket binds without SO_REUSEADDR, so the bind fails on a port that any other socket holds (another
reservation's included), then sets SO_REUSEADDR. Linux then lets a server that sets it too bind and listen
on the port while the reservation still holds it: every server the tests start does (uvicorn, gRPC,
http.server, SeaweedFS's Go, Spark's JVMs). A server that does not must be started right after
`release()`. A held socket does not listen, so `mesh up`'s check that a port is free (its listeners,
/proc/net/tcp) finds it free."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from pathlib import Path

# Blocks are sought from here up, outside the ephemeral range, where no outgoing connection takes a port.
BLOCKS_FROM = 20000


class Reservation:
    """Ports held by this process; a context manager that releases them on exit."""

    def __init__(self, ports: Iterable[int] = ()):
        self._sockets: list[socket.socket] = []
        try:
            for port in ports:
                self._sockets.append(_hold(port))
        except OSError:
            self.release()
            raise
        self.ports = tuple(s.getsockname()[1] for s in self._sockets)

    def release(self) -> None:
        """Let the ports go (again: a no-op)."""
        for s in self._sockets:
            s.close()

    def __iter__(self) -> Iterator[int]:
        return iter(self.ports)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _hold(port: int) -> socket.socket:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        raise
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s


def reserve_ports(count: int = 1) -> Reservation:
    """`count` distinct free ports, chosen by the kernel."""
    return Reservation([0] * count)


def reserve_block(size: int) -> Reservation:
    """`size` consecutive free ports (`mesh up --base-port` takes a block from its base); the base is `ports[0]`."""
    low, high = ephemeral_range()
    for base in range(BLOCKS_FROM, 65536 - size, size):
        if base <= high and base + size > low:
            continue
        try:
            return Reservation(range(base, base + size))
        except OSError:
            continue
    raise AssertionError(f"no {size} consecutive free ports from {BLOCKS_FROM} on")


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel picks for outgoing connections and for bind to port 0."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except OSError:
        return 32768, 60999


# Ports reserved by free_ports(), held until this process exits.
_HELD: list[Reservation] = []


def free_ports(count: int) -> list[int]:
    """Distinct free ports, held until this process exits: for a caller that cannot keep a
    reservation's block open while its server starts (see the module's docstring for which servers
    may bind a held port). Prefer `reserve_ports`."""
    _HELD.append(reserve_ports(count))
    return list(_HELD[-1].ports)


def free_port() -> int:
    return free_ports(1)[0]
