"""`mesh run`: materialize every product, domain by domain, producers before their consumers.

One Dagster run cannot span code locations, so the mesh runs each domain's job, against the
persistent instance at $DAGSTER_HOME so the UI shows every run. Domains whose producers have all
published run concurrently, up to one per core, each in a process forked from this one: Dagster's
in-process execution is not thread-safe (its logging setup deadlocks across threads), and a fork
inherits the imported Dagster and dbt modules instead of paying their seconds of import again.
One broken domain stops only itself and what is downstream of it: every domain gets a line on
stderr (ok, FAILED, SKIPPED with the reason), and any of them not ok fails the command.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import queue
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance, Definitions

from platform_lib.assets.automation import DOMAIN_TAG
from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.mesh import Mesh, Survey
from platform_lib.settings import export_environment


@dataclass(frozen=True)
class DomainRun:
    domain: str
    success: bool
    seconds: float
    run_id: str
    # Of `seconds`, the part spent building the location's definitions before the run started.
    load_seconds: float = 0.0


def load_definitions(folder: Path) -> Definitions:
    """A domain's code location, loaded as Dagster would: by running its definitions.py."""
    spec = importlib.util.spec_from_file_location(f"mesh_domains.{folder.name}.definitions", folder / "definitions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.defs


def _execute(name: str, defs: Definitions, job_name: str, started: float) -> DomainRun:
    loaded = time.perf_counter()
    job = defs.resolve_job_def(job_name)
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, tags={DOMAIN_TAG: name})
    run = DomainRun(name, result.success, time.perf_counter() - started, result.run_id, loaded - started)
    print(
        f"{name:<12} {'ok' if run.success else 'FAILED'}  {run.seconds:6.1f}s  (definitions {run.load_seconds:.1f}s)  run {run.run_id}"
        + _why(result),
        file=sys.stderr,
    )
    return run


def _why(result) -> str:
    """Why each failed step failed, indented under the domain's line: Dagster's log above has it
    too, but among every event and traceback of the run."""
    reasons = []
    for event in result.get_step_failure_events():
        failure = event.step_failure_data
        # A Failure raised by the platform says it all; any other exception by its message.
        reason = (failure.user_failure_data and failure.user_failure_data.description) or failure.error.message
        reasons.append(f"{event.step_key}: {reason.strip()}")
    return "".join(f"\n    {line}" for reason in reasons for line in reason.splitlines())


def _run_domain(name: str, folder: Path) -> DomainRun:
    started = time.perf_counter()
    return _execute(name, load_definitions(folder), f"{name}_products", started)


def _crashed(name: str, exc: BaseException) -> DomainRun:
    """A domain run that raised before Dagster could record it (its definitions did not load)."""
    print(f"{name:<12} FAILED  {type(exc).__name__}: {exc}", file=sys.stderr)
    return DomainRun(name, False, 0.0, "")


def run_governance() -> DomainRun:
    """The governance scorecard over the mesh as it now stands (its location's scheduled job)."""
    started = time.perf_counter()
    from platform_lib.governance.definitions import defs, governance_job

    return _execute("governance", defs, governance_job.name, started)


def run_domains(survey: Survey, domains: list[str] | None = None, parallelism: int | None = None) -> list[DomainRun]:
    """Run the selected domains' jobs, each after the selected domains upstream of it, then the
    governance scorecard. A domain that does not load, or whose run fails, is skipped with every
    domain downstream of it; the domains independent of it still run."""
    if "workspace" in survey.problems:
        raise DescriptorError(survey.problems["workspace"])
    export_environment()
    mesh, broken = survey.mesh, survey.problems  # per domain, now that the workspace loaded
    selected = _selection(mesh, broken, domains)
    mesh.run_order()  # fails with the cycle before anything runs
    skipped = _skip_broken(mesh, broken, selected)
    _prepare_forks()
    return skipped + _run_in_order(mesh, selected - {run.domain for run in skipped}, parallelism) + [run_governance()]


def _selection(mesh: Mesh, broken: dict[str, list[Problem]], domains: list[str] | None) -> set[str]:
    known = [d.name for d in mesh.domains] + list(broken)
    unknown = set(domains or []) - set(known)
    if unknown:
        raise KeyError(f"unknown domain(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    return set(domains or known)


def _skip_broken(mesh: Mesh, broken: dict[str, list[Problem]], selected: set[str]) -> list[DomainRun]:
    """The selected domains that do not load, and the selected ones downstream of any domain that
    does not, selected or not (while its descriptors are broken, what its consumers may bind to is
    unknown); a warning for the others that do not load."""
    skipped = {}
    for name, problems in broken.items():
        listed = "".join(f"\n    {problem}" for problem in problems)
        if name in selected:
            skipped[name] = f"does not load:{listed}"
        else:
            print(f"{name:<12} WARNING  not selected, and does not load:{listed}", file=sys.stderr)
        for consumer in sorted(mesh.downstream_domains(name) & selected):
            skipped.setdefault(consumer, f"downstream of {name}, which does not load: {problems[0]}")
    return [_skipped(name, reason) for name, reason in skipped.items()]


def _skipped(name: str, reason: str) -> DomainRun:
    print(f"{name:<12} SKIPPED  {reason}", file=sys.stderr)
    return DomainRun(name, False, 0.0, "")


def _prepare_forks() -> None:
    """What every forked domain run would otherwise do again, or race to do, done once here."""
    # The instance's databases: forked runs creating them at the same time race in their schema
    # migrations.
    with DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
    # The port catalog's tables likewise, and pyiceberg imported once for every forked run.
    from platform_lib.ports.catalog import PortCatalog

    PortCatalog().catalog
    # dbt and its DuckDB adapter take about 2 s to import, which each run would pay again. (GX is
    # imported only by an audit that needs it: quality.audit.)
    for module in ("dbt.cli.main", "dbt.adapters.duckdb"):
        importlib.import_module(module)


def _run_in_order(mesh: Mesh, names: set[str], parallelism: int | None) -> list[DomainRun]:
    """Each domain once every one of `names` upstream of it, directly or not, has succeeded; a
    failed run skips the domains downstream of it, and the others go on."""
    downstream = {name: mesh.downstream_domains(name) for name in names}
    after = {name: {up for up in names if name in downstream[up]} for name in names}
    waiting, pending, succeeded, runs = set(names), set(), set(), []
    finished: queue.Queue[DomainRun] = queue.Queue()
    # A fresh fork per domain run (maxtasksperchild=1): a worker that ran a big domain keeps its
    # allocator's high-water mark, which the next domain run in it would carry on top of its own.
    with multiprocessing.get_context("fork").Pool(parallelism or os.cpu_count() or 1, maxtasksperchild=1) as pool:
        while True:
            for name in sorted(name for name in waiting if after[name] <= succeeded):
                pool.apply_async(_run_domain, (name, mesh.domain(name).folder), callback=finished.put,
                                 error_callback=lambda exc, name=name: finished.put(_crashed(name, exc)))
                waiting.discard(name)
                pending.add(name)
            if not pending:
                return runs
            run = finished.get()
            pending.discard(run.domain)
            runs.append(run)
            if run.success:
                succeeded.add(run.domain)
            else:
                runs += [_skipped(name, f"downstream of {run.domain}, which failed") for name in sorted(downstream[run.domain] & waiting)]
                waiting -= downstream[run.domain]
