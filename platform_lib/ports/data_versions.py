"""A port's data version, as Dagster's data versions are meant: derived from its code and its inputs'
versions, so a run can tell, before any dbt model runs, whether a new version could differ from
the current one.

- Code: the SQL of the port's model and of every model it is computed from (as dbt compiled it),
  the export's SQL (the contract's masking), the contract as published, the domain's engine and
  the platform's release.
- Inputs: each operational source's file version (size and modification time, what its
  observation records) and each input port's snapshot, the one binding pinned for the run.

The version is a fact of each snapshot the platform publishes (`PROPERTY` in its summary). When a
recomputed version's content is the current snapshot's, no snapshot is committed (no consumer is
woken): the table's property `PROPERTY` then names the snapshot and the version it holds now. A
snapshot committed any other way holds no version, and its port is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version as release
from typing import TYPE_CHECKING, Any

from platform_lib.dbt.manifest import lineage_of, model_relation, source_asset_key
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.keys import operational_table
from platform_lib.descriptors.product import OutputPort, Product
from platform_lib.descriptors.yaml_file import dump
from platform_lib.ports.binding import granted
from platform_lib.ports.masking import masked_select
from platform_lib.settings import operational_source_file

if TYPE_CHECKING:
    from platform_lib.ports.catalog import PortCatalog

# The snapshot's fact (summary key `mesh.data-version`), and the table property of the same name.
FACT = "data-version"
PROPERTY = f"mesh.{FACT}"
# The platform's own release: how it exports, masks and audits.
_PLATFORM = release("tpch-mesh")


def file_version(stat: os.stat_result) -> str:
    """An operational source's version: a rewrite is a new version, whatever its rows."""
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def input_versions(domain: Domain, manifest: Mapping[str, Any], pinned: Mapping[str, tuple[int, int]]) -> dict[str, str]:
    """Source asset key ("/"-joined) -> its version now: an operational source's file version (or
    "missing"), an input port's pinned snapshot (or "unbound")."""
    versions = {}
    for source in manifest["sources"].values():
        key = source_asset_key(source)
        if key is None:
            continue
        table = operational_table(domain.name, key)
        if table is not None:
            path = operational_source_file(domain.name, table)
            versions["/".join(key)] = file_version(path.stat()) if path.exists() else "missing"
        else:
            snapshot = pinned.get(".".join(key))
            versions["/".join(key)] = f"snapshot {snapshot[0]}" if snapshot else "unbound"
    return versions


def current_pins(domain: Domain, manifest: Mapping[str, Any], catalog: PortCatalog) -> dict[str, tuple[int, int]]:
    """What binding would pin now, as `Binding.pinned` says it: each input port's current snapshot
    (snapshot id, sequence number), for a check made without binding (`mesh run`'s, before a run).
    A port binding would refuse (not granted, not published) raises UnboundSource, as binding would."""
    pins = {}
    for source in manifest["sources"].values():
        key = source_asset_key(source)
        if key is None or operational_table(domain.name, key) is not None:
            continue
        snapshot = granted(domain, key, catalog.table(key), catalog.storage)
        pins[".".join(key)] = (snapshot.snapshot_id, snapshot.sequence_number)
    return pins


def _digest(facts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def code_version(domain: Domain, port: OutputPort, manifest: Mapping[str, Any]) -> str:
    """The code part of the port's version, which is also its Dagster code version: the UI shows a
    port whose code changed as stale before any run."""
    code, _ = lineage_of(manifest, f"model.{domain.name}.{port.contract.model}")
    return _digest({
        "platform": _PLATFORM,
        "engine": domain.engine,
        "contract": dump(port.contract.data),
        "export": masked_select(port.contract, model_relation(port, manifest)),
        "models": dict(sorted(code.items())),
    })


def port_version(domain: Domain, port: OutputPort, manifest: Mapping[str, Any], inputs: Mapping[str, str]) -> str:
    _, sources = lineage_of(manifest, f"model.{domain.name}.{port.contract.model}")
    read = sorted("/".join(source_asset_key(s) or (s["unique_id"],)) for s in sources)
    return _digest({"code": code_version(domain, port, manifest), "inputs": {key: inputs.get(key, "unknown") for key in read}})


@dataclass(frozen=True)
class ProductPlan:
    """What a run should do for one product: `versions` of its ports as they would now be, and
    whether any differs from the version its table holds (`stale`, with the first reason)."""

    product: Product
    versions: dict[tuple[str, str], str]
    stale: str | None


def plan(domain: Domain, products: list[Product], manifest: Mapping[str, Any], pinned: Mapping[str, tuple[int, int]],
         catalog: PortCatalog) -> list[ProductPlan]:
    """Each product's plan, its input ports at the snapshots `pinned` (as `Binding.pinned` says them)."""
    inputs = input_versions(domain, manifest, pinned)
    return [_plan_product(domain, product, manifest, inputs, catalog) for product in products]


def _plan_product(domain: Domain, product: Product, manifest: Mapping[str, Any], inputs: Mapping[str, str], catalog: PortCatalog) -> ProductPlan:
    """A product is stale when any of its ports is: a product's ports are published together."""
    versions = {port.asset_key: port_version(domain, port, manifest, inputs) for port in product.output_ports}
    stale = None
    for port in product.output_ports:
        table = catalog.table(port.asset_key)
        if table is None or table.current_snapshot() is None:
            stale = f"{port.name}: never published"
        elif (held := held_version(table)) != versions[port.asset_key]:
            stale = f"{port.name}: " + (f"data version {held} -> {versions[port.asset_key]}" if held else "its current snapshot holds no data version")
        if stale:
            break
    return ProductPlan(product, versions, stale)


def held_version(table) -> str | None:
    """The data version of the table's current snapshot: as noted since it was published, or as
    published."""
    snapshot = table.current_snapshot()
    noted, _, version = table.properties.get(PROPERTY, "").partition(" ")
    if version and noted == str(snapshot.snapshot_id):
        return version
    return (snapshot.summary.additional_properties if snapshot.summary else {}).get(PROPERTY)


def noted(table, version: str) -> dict[str, str]:
    """The table property saying that its current snapshot's data version is now `version`."""
    return {PROPERTY: f"{table.current_snapshot().snapshot_id} {version}"}
