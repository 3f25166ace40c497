"""One run of a domain at a time, taken inside the run however it was launched (`mesh run`, a
schedule, the automation sensor, the UI).

DuckDB lets one process write a database file: a second run of a domain would meet a raw lock
error half-way through its work. The run lock is an flock'ed file beside the domain's database,
`<domain>.run.lock`, naming its holder (run id, pid, start), taken by the run's first step that writes (its
dbt models, assets/dbt.py, or its ports when only they are selected; observing the operational
sources before it writes nothing): a second run fails before it
touches anything. A run's process holds it until it ends (a run is one process: `mesh run` forks
one per domain run, the run launcher starts one per run), and the kernel releases it however the
process ends, SIGKILL included: a free lock whose file still names a run that is STARTED names a run that
died, which the next run marks failed.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from dagster import AssetExecutionContext, DagsterRunStatus, Failure

from platform_lib.descriptors.domain import Domain

# Domain -> the lock file's descriptor, open (so held) for the life of this process.
_HELD: dict[str, int] = {}


@dataclass(frozen=True)
class Holder:
    run_id: str
    pid: int
    started: str  # ISO 8601, UTC

    def __str__(self) -> str:
        since = datetime.fromisoformat(self.started).astimezone().strftime("%H:%M:%S")
        return f"run {self.run_id} (pid {self.pid}, started {since})"


def hold_domain(context: AssetExecutionContext, domain: Domain, database: Path) -> None:
    """Make this run the domain's only one before it writes anything to its database; raises Failure
    naming the run in progress. What killed runs of the domain left staged is cleared, and a previous
    holder that died is marked failed here: nothing else would, and a run left STARTED for ever
    counts against the domain's one-run-at-a-time queue."""
    from platform_lib.ports.publish import clear_dead_staging  # pyarrow: imported by runs, not at location load

    previous = _take(domain.name, database.with_suffix(".run.lock"), Holder(context.run_id, os.getpid(), datetime.now(UTC).isoformat()))
    if previous is not None and previous.run_id == context.run_id:
        return
    for folder in clear_dead_staging(domain):
        context.log.info(f"cleared {folder}, staged by a run that died")
    if previous is None:
        return
    run = context.instance.get_run_by_id(previous.run_id)
    if run is not None and run.status in (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED):
        message = (f"{previous} of domain {domain.name} held the domain's run lock until its process ended before "
                   f"the run did (killed?); marked failed by run {context.run_id}, the domain's next run")
        context.instance.report_run_failed(run, message)
        context.log.warning(message)


def _take(domain: str, path: Path, holder: Holder) -> Holder | None:
    """Hold the domain's lock for this process, naming `holder`; returns the holder named before."""
    fd = _HELD.get(domain)
    if fd is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            running = _read(path.read_bytes())
            raise Failure(description=f"domain {domain}: {running or 'another run'} is in progress; wait for it or stop it") from None
        _HELD[domain] = fd
    previous = _read(os.pread(fd, 4096, 0))
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
    return previous


def _read(record: bytes) -> Holder | None:
    """The holder a lock file names; None before the first run, or while a new holder writes it."""
    try:
        return Holder(**json.loads(record))
    except (ValueError, TypeError):
        return None
