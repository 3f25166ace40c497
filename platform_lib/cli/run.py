"""`mesh run`: materialize every product, domain by domain, producers before consumers.

One Dagster run cannot span code locations, so the mesh runs each domain's job in turn, against the
persistent instance at $DAGSTER_HOME so the UI shows every run.
"""

from __future__ import annotations

import importlib.util
import sys
import time

from dagster import DagsterInstance, Definitions

from platform_lib.mesh import Mesh
from platform_lib.settings import export_environment


def load_definitions(mesh: Mesh, domain: str) -> Definitions:
    path = mesh.domain(domain).folder / "definitions.py"
    spec = importlib.util.spec_from_file_location(f"mesh_domains.{domain}.definitions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.defs


def run_domains(mesh: Mesh, domains: list[str] | None = None) -> list[tuple[str, bool, float]]:
    """Run each selected domain's job in dependency order; stop at the first failure."""
    export_environment()
    unknown = set(domains or []) - {d.name for d in mesh.domains}
    if unknown:
        raise KeyError(f"unknown domain(s) {', '.join(sorted(unknown))}; known: {', '.join(d.name for d in mesh.domains)}")
    results = []
    with DagsterInstance.get() as instance:
        for name in mesh.run_order():
            if domains and name not in domains:
                continue
            started = time.perf_counter()
            job = load_definitions(mesh, name).resolve_job_def(f"{name}_products")
            result = job.execute_in_process(instance=instance, raise_on_error=False, tags={"mesh/domain": name})
            results.append((name, result.success, time.perf_counter() - started))
            print(f"{name:<12} {'ok' if result.success else 'FAILED'}  {results[-1][2]:6.1f}s  run {result.run_id}", file=sys.stderr)
            if not result.success:
                break
    return results
