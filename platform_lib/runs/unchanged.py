"""Whether a `mesh run` has anything to do, asked before Dagster is needed.

A product's plan (ports.data_versions) reads the port catalog, and so needs pyiceberg; a mesh with
nothing changed needs Dagster only to record that it checked. Each is a second or more of imports,
most of what such a run costs, so `Checking` asks in a process forked before either is imported,
while the command's own process imports Dagster and opens its instance: on two cores the halves
overlap. A domain whose producers publish during the run asks again in its own run (`plans`).

Dagster is never imported here, and what only the check needs is imported in its process.
"""

from __future__ import annotations

import multiprocessing
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.product import Product
from platform_lib.mesh import Mesh
from platform_lib.ports.version import PortVersion

if TYPE_CHECKING:
    from platform_lib.ports.data_versions import ProductPlan


@dataclass(frozen=True)
class MeshCheck:
    """Each domain's products' plans by product name, or None for a domain that must run (its
    project not prepared as written, an input port unbound, or its check raised, which its run meets
    and reports); and each port's current version in the catalog, None for a port never published."""

    plans: dict[str, dict[str, ProductPlan] | None]
    current: dict[tuple[str, str], PortVersion | None]


def catalog_of(domain: str):
    """The port catalog as the domain's runs reach it: with its own identity."""
    from platform_lib.ports.catalog import PortCatalog
    from platform_lib.ports.storage import PortStorage

    return PortCatalog(PortStorage.from_settings(domain))


def plans(domain: Domain, products: list[Product], mesh: Mesh, catalog) -> list[ProductPlan] | None:
    """Each of the products' plan, None when the domain's project is not compiled as written or an
    input port is unbound (the run refuses it, and tells why)."""
    from platform_lib.dbt.compile import prepared_manifest
    from platform_lib.ports.binding import UnboundSource
    from platform_lib.ports.data_versions import current_pins, plan

    manifest = prepared_manifest(domain.dbt_project_dir, mesh)
    if manifest is None:
        return None
    try:
        pins = current_pins(domain, manifest, catalog)
    except UnboundSource:
        return None
    return plan(domain, products, manifest, pins, catalog)


def check(mesh: Mesh) -> MeshCheck:
    """Every product of the mesh planned, and what a run of each domain clears first cleared: the
    staging its killed runs left (any run may clear it, at any time: ports.publish)."""
    from platform_lib.ports.publish import clear_dead_staging

    found, current = {}, {}
    for domain in mesh.domains:
        found[domain.name] = None
        try:
            clear_dead_staging(domain)
            catalog = catalog_of(domain.name)
            planned = plans(domain, domain.products, mesh, catalog)
            current |= {port.asset_key: catalog.current(port.asset_key) for port in domain.output_ports}
        except Exception:  # the domain's run meets it too, and reports it as its failure
            continue
        if planned is not None:
            found[domain.name] = {product.product.name: product for product in planned}
    return MeshCheck(found, current)


class Checking:
    """`check(mesh)` in a forked process, started now; `result()` waits for it."""

    def __init__(self, mesh: Mesh):
        context = multiprocessing.get_context("fork")
        self._answer, writer = context.Pipe(duplex=False)
        self._process = context.Process(target=_check_into, args=(mesh, writer), name="mesh-check", daemon=True)
        self._process.start()
        writer.close()

    def result(self) -> MeshCheck | None:
        """The check, or None when it died without one (every domain then checks in its own run)."""
        try:
            answer = self._answer.recv()
        except EOFError:
            answer = None
        self._process.join()
        self._answer.close()
        return answer


def _check_into(mesh: Mesh, writer) -> None:
    # Ctrl-C is the command's to handle: this process is ended with it, as a daemon of the command's.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        answer = check(mesh)
    except Exception:
        answer = None
    writer.send(answer)
    writer.close()
