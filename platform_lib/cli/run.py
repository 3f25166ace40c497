"""`mesh run`: the whole mesh, or some domains or products of it (runs.mesh_run), a numbered report
per domain on stderr as it finishes; any domain not ok fails the command."""

from __future__ import annotations

import sys

from platform_lib.mesh import survey
from platform_lib.runs.mesh_run import DomainRun, Tell, run_domains


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
    runs = run_domains(survey(), progress, args.domain, args.parallelism, args.product, args.verbose, args.force)
    return 0 if all(r.success for r in runs) else 1
