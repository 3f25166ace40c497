"""`mesh run`: materialize every product, domain by domain, producers before their consumers.

One Dagster run cannot span code locations, so the mesh runs each domain's job, against the
persistent instance at $DAGSTER_HOME so the UI shows every run. Domains whose producers have all
published run concurrently, up to one per core, each in a process forked from this one: Dagster's
in-process execution is not thread-safe (its logging setup deadlocks across threads), and a fork
inherits the imported Dagster and dbt modules instead of paying their seconds of import again.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import queue
import sys
import time
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

from dagster import DagsterInstance, Definitions

from platform_lib.assets.automation import DOMAIN_TAG
from platform_lib.mesh import Mesh
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
        f"{name:<12} {'ok' if run.success else 'FAILED'}  {run.seconds:6.1f}s  (definitions {run.load_seconds:.1f}s)  run {run.run_id}",
        file=sys.stderr,
    )
    return run


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


def run_domains(mesh: Mesh, domains: list[str] | None = None, parallelism: int | None = None) -> list[DomainRun]:
    """Run the selected domains' jobs in dependency order; after a failure, start nothing new."""
    export_environment()
    selected = set(domains or [d.name for d in mesh.domains])
    unknown = selected - {d.name for d in mesh.domains}
    if unknown:
        raise KeyError(f"unknown domain(s) {', '.join(sorted(unknown))}; known: {', '.join(d.name for d in mesh.domains)}")
    mesh.run_order()  # fails with the cycle before anything runs
    sorter = TopologicalSorter({name: mesh.upstream_domains(mesh.domain(name)) & selected for name in selected})
    sorter.prepare()
    runs: list[DomainRun] = []
    # Create the instance's databases here, once: forked runs creating them at the same time race
    # in their schema migrations.
    with DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
    # The port catalog's tables likewise, and pyiceberg imported once for every forked run.
    from platform_lib.ports.catalog import PortCatalog

    PortCatalog().catalog
    # Imported once here so every forked domain run inherits them: dbt and its DuckDB adapter take
    # about 2 s to import, which each run would pay again. (GX is imported only by an audit that
    # needs it: quality.audit.)
    for module in ("dbt.cli.main", "dbt.adapters.duckdb"):
        importlib.import_module(module)
    finished: queue.Queue[DomainRun] = queue.Queue()
    # A fresh fork per domain run (maxtasksperchild=1): a worker that ran a big domain keeps its
    # allocator's high-water mark, which the next domain run in it would carry on top of its own.
    with multiprocessing.get_context("fork").Pool(parallelism or os.cpu_count() or 1, maxtasksperchild=1) as pool:
        pending: set[str] = set()
        while sorter.is_active():
            if not any(not r.success for r in runs):
                for name in sorted(sorter.get_ready()):
                    pool.apply_async(_run_domain, (name, mesh.domain(name).folder), callback=finished.put,
                                     error_callback=lambda exc, name=name: finished.put(_crashed(name, exc)))
                    pending.add(name)
            if not pending:
                break
            run = finished.get()
            pending.discard(run.domain)
            runs.append(run)
            if run.success:
                sorter.done(run.domain)
    return runs + [run_governance()]
