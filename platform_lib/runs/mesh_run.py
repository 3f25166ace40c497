"""What `mesh run` does: materialize every product, domain by domain, producers before their consumers.

One Dagster run cannot span code locations, so the mesh runs each domain's job, against the
persistent instance at $DAGSTER_HOME so the UI shows every run. Domains whose producers have all
published run concurrently, up to one per core, each in a process forked from this one: Dagster's
in-process execution is not thread-safe (its logging setup deadlocks across threads), and a fork
inherits the imported Dagster and dbt modules instead of paying their seconds of import again.
One broken domain stops only itself and what is downstream of it: every domain gets a numbered line
on stderr as it finishes (ok, FAILED, SKIPPED with the reason), with its ports' outcomes and first
causes under it (runs.report), told to the caller (cli.run prints them). `--product` runs only
those products' assets in their domains.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import multiprocessing.pool
import os
import queue
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetKey, AssetSelection, DagsterInstance, Definitions, JobDefinition, build_reconstructable_job, execute_job

from platform_lib.assets.automation import DOMAIN_TAG, INCREMENTAL
from platform_lib.assets.metadata import up_to_date
from platform_lib.assets.ports import reconcile
from platform_lib.dbt.compile import ensure_prepared
from platform_lib.dbt.invoke import warm_up
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.mesh import Mesh, Survey
from platform_lib.ports.data_versions import ProductPlan
from platform_lib.ports.version import PortVersion
from platform_lib.runs.report import PortOutcome, RunReport, run_report
from platform_lib.runs.unchanged import Checking, MeshCheck, catalog_of, plans
from platform_lib.settings import export_environment, write_embedded_instance


@dataclass(frozen=True)
class DomainRun:
    domain: str
    success: bool
    seconds: float = 0.0
    run_id: str = ""
    # Of `seconds`, the part spent building the location's definitions before the run started.
    load_seconds: float = 0.0
    # Why the domain has no Dagster run: "SKIPPED  <why>", or "FAILED  <what its definitions raised>".
    no_run: str = ""
    # The lines under the domain's: the run's ports and first causes (runs.report).
    details: tuple[str, ...] = ()

    def outcome(self) -> str:
        """The domain's line after its name."""
        if not self.run_id:
            return self.no_run
        return f"{'ok' if self.success else 'FAILED'}  {self.seconds:6.1f}s  (definitions {self.load_seconds:.1f}s)  run {self.run_id}"


@dataclass(frozen=True)
class Selection:
    """What a `mesh run` runs of one domain: its whole job, or only some of its products' assets."""

    domain: str
    folder: Path
    dbt_project_dir: Path
    # Each port the run is to publish, with its product.
    ports: dict[AssetKey, str]
    whole: bool
    # Recompute every selected product, changed or not (`mesh run --force`).
    force: bool = False


Tell = Callable[[DomainRun], None]


def load_definitions(folder: Path) -> Definitions:
    """A domain's code location, loaded as Dagster would: by running its definitions.py."""
    spec = importlib.util.spec_from_file_location(f"mesh_domains.{folder.name}.definitions", folder / "definitions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.defs


@contextlib.contextmanager
def _off_the_terminal(verbose: bool) -> Iterator[None]:
    """Dagster's log stream (every event of the run, on stderr) and dbt's (stdout) kept off the
    terminal, where the report says what matters: Dagster captures a run's stdout and stderr into its
    compute logs, which the UI shows, and tails them to the terminal, here to /dev/null."""
    if verbose:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


# The definitions of the runs this process executes. execute_job takes a job it could rebuild by
# reference in another process; the location's executor runs it in this one, which finds it here
# rather than loading the location again. (execute_in_process would replace the location's
# executor, and with it the rule that a product's ports step runs when another product failed.)
_RUNNING: dict[str, Definitions] = {}


def running_job(name: str, job_name: str) -> JobDefinition:
    return _RUNNING[name].resolve_job_def(job_name)


def _execute(name: str, defs: Definitions, job_name: str, started: float, ports: dict[AssetKey, str],
             verbose: bool, assets: list[AssetKey] | None = None, incremental: bool = False) -> DomainRun:
    loaded = time.perf_counter()
    _RUNNING[name] = defs
    job = build_reconstructable_job(__name__, running_job.__name__, (name, job_name))
    try:
        with DagsterInstance.get() as instance, _off_the_terminal(verbose):
            tags = {DOMAIN_TAG: name} | (INCREMENTAL if incremental else {})
            result = execute_job(job, instance, tags=tags, asset_selection=assets, raise_on_error=False)
    finally:
        # A Dagster run leaves SIGTERM raising KeyboardInterrupt in its process (Dagster maps it to
        # SIGINT's handler, for Kubernetes): the pool ends a worker still exiting with SIGTERM,
        # which would print a worker's traceback in the middle of a good run.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return DomainRun(name, result.success, time.perf_counter() - started, result.run_id, loaded - started,
                     details=tuple(run_report(result, ports).lines()))


def _products_assets(defs: Definitions, ports: dict[AssetKey, str]) -> list[AssetKey]:
    """The ports and what the domain's job makes upstream of them: their dbt models, the domain's
    models those read, and the domain's operational sources they read, which the job observes (not
    other domains' ports, which the job never makes)."""
    graph = defs.resolve_asset_graph()
    made = AssetSelection.assets(*ports).upstream()
    return sorted((made | made.upstream_source_assets()).resolve(graph) & graph.executable_asset_keys)


def _run_domain(selection: Selection, mesh: Mesh, verbose: bool) -> DomainRun:
    started = time.perf_counter()
    # A run builds from the prepared manifest and the files generated from the descriptors (its
    # producers' contracts in the workspace included): prepare again a domain changed since. Here,
    # in the domain's forked run: dbt run in the parent would leave its threads' locks held in
    # every child forked after it.
    ensure_prepared(selection.dbt_project_dir, mesh)
    # Checked now that its producers are done: one that published makes it run.
    unchanged = _unchanged(selection, mesh)
    if unchanged is not None:
        from platform_lib.ports.publish import clear_dead_staging

        domain = mesh.domain(selection.domain)
        clear_dead_staging(domain)
        with DagsterInstance.get() as instance:
            return _told_unchanged(domain, unchanged, started, instance, catalog_of(domain.name).current)
    defs = load_definitions(selection.folder)
    assets = None if selection.whole else _products_assets(defs, selection.ports)
    return _execute(selection.domain, defs, f"{selection.domain}_products", started, selection.ports, verbose, assets,
                    incremental=not selection.force)


def _unchanged(selection: Selection, mesh: Mesh) -> list[ProductPlan] | None:
    """Each selected product's plan, when none needs recomputing: the domain's project is compiled
    as written and every data version is the one its tables hold (ports.data_versions); None
    when the domain must run."""
    if selection.force:
        return None
    domain = mesh.domain(selection.domain)
    selected = [product for product in domain.products if product.name in selection.ports.values()]
    found = plans(domain, selected, mesh, catalog_of(domain.name))
    return None if found is None or any(product.stale for product in found) else found


def _told_unchanged(domain: Domain, unchanged: list[ProductPlan], started: float, instance: DagsterInstance,
                    current: Callable[[tuple[str, str]], PortVersion | None]) -> DomainRun:
    """The domain's run told without one, doing what a run's would besides (its staging cleared
    first by the caller): a version a killed run committed is recorded (`current`: a port's
    current version in the catalog), each port records the check."""
    kept = []
    reconciled = reconcile(instance, [port for product in unchanged for port in product.product.output_ports], current)
    for product in unchanged:
        for port in product.product.output_ports:
            said = f"data version {product.versions[port.asset_key]} unchanged"
            instance.report_runless_asset_event(up_to_date(port.asset_key, f"{said}, checked by `mesh run`"))
            note = reconciled.get(port.asset_key)
            kept.append(PortOutcome(product.product.name, port.asset_key[1], "up to date", said + (f"; {note}" if note else "")))
    return DomainRun(domain.name, True, time.perf_counter() - started, no_run="up to date  no run: no product's inputs or code changed",
                     details=tuple(RunReport(ports=tuple(kept)).lines()))


def _crashed(name: str, exc: BaseException) -> DomainRun:
    """A domain run that raised before Dagster could record it (its definitions did not load)."""
    return DomainRun(name, False, no_run=f"FAILED  {type(exc).__name__}: {exc}")


def run_governance(verbose: bool, around: Survey, incremental: bool = False, instance: DagsterInstance | None = None) -> DomainRun:
    """The governance scorecard over the mesh as it now stands (its location's scheduled job);
    `incremental`: without a run when the last one recorded the scorecard as it stands (`around`:
    the workspace's survey, whose descriptors a run does not change), checked on `instance` when
    the caller has one open."""
    started = time.perf_counter()
    from platform_lib.governance.definitions import SCORECARD, defs, governance_job, recorded_as_is

    if incremental:
        with contextlib.nullcontext(instance) if instance else DagsterInstance.get() as instance:
            try:
                recorded = recorded_as_is(instance, around)
            except Exception:  # the scorecard's run meets it too, and reports it as its failure
                recorded = None
            if recorded:
                said = f"the scorecard is the one run {recorded} recorded"
                instance.report_runless_asset_event(up_to_date(SCORECARD.path, f"{said}, checked by `mesh run`"))
                return DomainRun("governance", True, time.perf_counter() - started, no_run=f"up to date  no run: {said}")
    return _execute("governance", defs, governance_job.name, started, {}, verbose)


def run_domains(survey: Survey, announce: Callable[[int], Tell], domains: list[str] | None = None, parallelism: int | None = None,
                products: list[str] | None = None, verbose: bool = False, force: bool = False,
                checking: Checking | None = None) -> list[DomainRun]:
    """Run the selected domains' jobs (of some, only the products named), each after the selected
    domains upstream of it, then the governance scorecard. A run recomputes only the products whose
    data version changed (ports.data_versions), every selected one with `force`. A domain that does not load, or whose run
    fails, is skipped with every domain downstream of it; the domains independent of it still run.
    `announce(n)`: what to tell of each of the n runs as it finishes; `checking`: the check of the
    mesh already under way (runs.unchanged), else started here."""
    if "workspace" in survey.problems:
        raise DescriptorError(survey.problems["workspace"])
    export_environment()
    checking = checking or (None if force else Checking(survey.mesh))
    # Per domain, now that the workspace loaded: what does not load, and what binds no port.
    unbound = _unbound(survey)
    mesh, broken = survey.mesh, survey.problems | unbound
    selected = _selection(mesh, broken, domains, products)
    mesh.run_order()  # fails with the cycle before anything runs
    tell = announce(len(selected) + 1)  # and the governance scorecard
    skipped = _skip_broken(mesh, broken, set(selected), tell, set(unbound))
    for run in skipped:
        del selected[run.domain]
    selections = {name: _selected(mesh.domain(name), ids, force) for name, ids in selected.items()}
    # One instance for what this process does before any fork: each costs a fifth of a second.
    with DagsterInstance.get() as instance:
        _prepare_instance(instance)
        told = _all_unchanged(mesh, selections, tell, instance, checking.result() if checking else None)
        # With no run, the scorecard is checked on the same instance: another costs a tenth of a second.
        governance = run_governance(verbose, survey, incremental=True, instance=instance) if told else None
    runs = skipped + (told or _run_in_order(mesh, selections, parallelism, verbose, tell))
    governance = governance or run_governance(verbose, survey, incremental=not force)
    tell(governance)
    return runs + [governance]


def _refuse_unknown(kind: str, asked: list[str] | None, known: list[str]) -> None:
    unknown = sorted(set(asked or []) - set(known))
    if unknown:
        raise ValueError(f"unknown {kind}{'s' * (len(unknown) > 1)} {', '.join(unknown)}; known: {', '.join(known)}")


def _selection(mesh: Mesh, broken: dict[str, list[Problem]], domains: list[str] | None,
               products: list[str] | None) -> dict[str, set[str] | None]:
    """Domain -> the ids of its products to run, None for all of them: each domain named, and the
    domain of each product named with that product; every domain when neither is named."""
    known = [d.name for d in mesh.domains] + list(broken)
    owners = {product.id: d.name for d in mesh.domains for product in d.products}
    _refuse_unknown("domain", domains, known)
    _refuse_unknown("product", products, sorted(owners))
    if not domains and not products:
        return dict.fromkeys(known)
    partly: dict[str, set[str]] = {}
    for urn in products or []:
        partly.setdefault(owners[urn], set()).add(urn)
    # A domain named runs whole, whichever of its products are named too.
    return partly | dict.fromkeys(domains or [])


def _selected(domain: Domain, ids: set[str] | None, force: bool = False) -> Selection:
    products = [product for product in domain.products if ids is None or product.id in ids]
    ports = {AssetKey(list(port.asset_key)): product.name for product in products for port in product.output_ports}
    return Selection(domain.name, domain.folder, domain.dbt_project_dir, ports, whole=ids is None, force=force)


def _skip_broken(mesh: Mesh, broken: dict[str, list[Problem]], selected: set[str], tell: Tell, unbound: set[str]) -> list[DomainRun]:
    """The selected domains that do not load or bind no port (`unbound`), and the selected ones
    downstream of any of them, selected or not (while its descriptors are broken, what its consumers
    may bind to is unknown); a warning for the others."""
    skipped = {}
    for name, problems in broken.items():
        state = "reads a port no domain publishes" if name in unbound else "does not load"
        listed = "".join(f"\n    {problem}" for problem in problems)
        if name in selected:
            skipped[name] = f"{state}:{listed}"
        else:
            print(f"{name:<12} WARNING  not selected, and {state}:{listed}", file=sys.stderr)
        for consumer in sorted(mesh.downstream_domains(name) & selected):
            skipped.setdefault(consumer, f"downstream of {name}, which {state}: {problems[0]}")
    return [_skipped(name, reason, tell) for name, reason in skipped.items()]


def _unbound(survey: Survey) -> dict[str, list[Problem]]:
    """Domains with an input port to a contract that a domain of the workspace should publish and
    does not (a mistyped id, a major never published): the workspace knows it before any run, which
    would only find its dbt source missing."""
    unbound = {domain.name: survey.unbound(domain.input_ports) for domain in survey.mesh.domains}
    return {name: problems for name, problems in unbound.items() if problems}


def _skipped(name: str, reason: str, tell: Tell) -> DomainRun:
    run = DomainRun(name, False, no_run=f"SKIPPED  {reason}")
    tell(run)
    return run


def _all_unchanged(mesh: Mesh, selections: dict[str, Selection], tell: Tell, instance: DagsterInstance,
                   checked: MeshCheck | None) -> list[DomainRun]:
    """Every domain told without a run when the check of the mesh (runs.unchanged, no dbt imported)
    found nothing to recompute in any selected product: then no producer publishes, and no consumer
    has more to do than it has now. Empty when some domain must run (or there was no check): each
    then checks for itself in its forked run."""
    started = time.perf_counter()
    if checked is None:
        return []
    unchanged = {}
    for name in (name for name in mesh.run_order() if name in selections):
        by_product = checked.plans.get(name)
        if by_product is None:
            return []
        selected = set(selections[name].ports.values())
        unchanged[name] = [by_product[product.name] for product in mesh.domain(name).products if product.name in selected]
        if any(product.stale for product in unchanged[name]):
            return []
    runs = [_told_unchanged(mesh.domain(name), plans, started, instance, checked.current.get) for name, plans in unchanged.items()]
    for run in runs:
        tell(run)
    return runs


def _prepare_instance(instance: DagsterInstance) -> None:
    """The instance's databases, created once here: forked runs creating them at the same time race
    in their schema migrations."""
    instance.get_runs(limit=1)


def preload() -> None:
    """What a warm process (cli.warm) holds for the commands it forks: everything `mesh run`
    imports, nothing of the home made or open. The UI starting beside it may be making the home's
    instance at this moment, and two processes making an instance's databases at once race in their
    schema migrations: its storage is imported on a scratch instance."""
    export_environment()
    with tempfile.TemporaryDirectory(prefix="mesh-warm-") as scratch:
        write_embedded_instance(Path(scratch))
        with DagsterInstance.from_config(scratch) as instance:
            _prepare_instance(instance)
    _import_for_runs()


def _prepare_forks() -> None:
    """What each forked domain run would otherwise pay again, or race to do, paid once before the
    forks (and not by a mesh with nothing changed, which forks none)."""
    from platform_lib.ports.catalog import PortCatalog
    from platform_lib.ports.storage import install_extensions

    # The port catalog's tables.
    _ = PortCatalog().catalog
    # DuckDB's extensions, which every run's first session would otherwise install at once.
    install_extensions()
    _import_for_runs()


def _import_for_runs() -> None:
    """pyiceberg, dbt's imports and schemas, and dagster-dbt's, which each forked run would pay
    again. (GX is imported only by an audit that needs it: quality.audit.)"""
    import pyiceberg.catalog.sql  # noqa: F401

    import platform_lib.assets.dbt  # noqa: F401
    import platform_lib.ports.catalog  # noqa: F401

    warm_up()
    # What this process built so far is every fork's, unchanged: out of the garbage collector's
    # reach, a fork's collections neither walk it nor copy the pages they would touch.
    gc.freeze()


@contextlib.contextmanager
def _forks(processes: int) -> Iterator[multiprocessing.pool.Pool]:
    """A pool forking a fresh process per domain run (maxtasksperchild=1): a worker that ran a big
    domain keeps its allocator's high-water mark, which the next domain run in it would carry on
    top of its own. Stopped after; a Ctrl-C reaches the workers too, and one interrupted while it
    read its next task can leave half a message in the pool's queue, so the pool's own drain of it
    raises EOFError over the interrupt (seen in CI: `mesh run` exited 1 instead of 130) before it
    stops the workers. The interrupt is what the caller sees, and no worker outlives the pool."""
    pool = multiprocessing.get_context("fork").Pool(processes, maxtasksperchild=1)
    try:
        yield pool
    finally:
        try:
            pool.terminate()
        except (EOFError, OSError):
            for worker in multiprocessing.active_children():
                worker.terminate()
                worker.join(5)


def _run_in_order(mesh: Mesh, selections: dict[str, Selection], parallelism: int | None, verbose: bool, tell: Tell) -> list[DomainRun]:
    """Each domain once every selected one upstream of it, directly or not, has succeeded; a failed
    run skips the domains downstream of it, and the others go on."""
    downstream = {name: mesh.downstream_domains(name) for name in selections}
    after = mesh.upstream_among(selections)
    waiting, pending, succeeded, runs = set(selections), set(), set(), []
    finished: queue.Queue[DomainRun] = queue.Queue()
    _prepare_forks()
    with _forks(parallelism or os.cpu_count() or 1) as pool:
        while True:
            for name in sorted(name for name in waiting if after[name] <= succeeded):
                pool.apply_async(_run_domain, (selections[name], mesh, verbose), callback=finished.put,
                                 error_callback=lambda exc, name=name: finished.put(_crashed(name, exc)))
                waiting.discard(name)
                pending.add(name)
            if not pending:
                return runs
            run = finished.get()
            tell(run)
            pending.discard(run.domain)
            runs.append(run)
            if run.success:
                succeeded.add(run.domain)
            else:
                runs += [_skipped(name, f"downstream of {run.domain}, which failed", tell) for name in sorted(downstream[run.domain] & waiting)]
                waiting -= downstream[run.domain]
