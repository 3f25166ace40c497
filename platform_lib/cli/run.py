"""`mesh run`: the whole mesh, or some domains or products of it (runs.mesh_run), a numbered report
per domain on stderr as it finishes; any domain not ok fails the command."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from platform_lib.mesh import survey
from platform_lib.runs.unchanged import Checking
from platform_lib.settings import export_environment

if TYPE_CHECKING:
    from platform_lib.runs.mesh_run import DomainRun, Tell


def progress(total: int) -> Tell:
    """Prints each domain's report as it finishes, numbered against every domain the command runs."""
    done = 0

    def tell(run: DomainRun) -> None:
        nonlocal done
        done += 1
        print("\n".join([f"[{done}/{total}] {run.domain:<12} {run.outcome()}", *run.details]), file=sys.stderr, flush=True)

    return tell


def run(args) -> int:
    # The mesh as far as it loads: a broken domain is reported and skipped, not fatal to the others.
    around = survey()
    export_environment()
    # Whether anything changed is asked in a fork (runs.unchanged) while this process imports Dagster.
    checking = None if args.force or "workspace" in around.problems else Checking(around.mesh)
    from platform_lib.runs.mesh_run import run_domains

    runs = run_domains(around, progress, args.domain, args.parallelism, args.product, args.verbose, args.force, checking)
    return 0 if all(r.success for r in runs) else 1
