"""What the catalog knows, gathered once: descriptors and contracts (the mesh), published versions
(the port catalog), check and materialization history (the Dagster instance), and the column
lineage between ports (the domains' compiled dbt manifests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from urllib.parse import quote

from dagster import AssetCheckKey, AssetKey, DagsterInstance

from platform_lib.assets.ports import check_specs
from platform_lib.dbt.manifest import load_manifest
from platform_lib.descriptors.contract import PUBLIC_ROLE, Sla
from platform_lib.descriptors.keys import operational_table, product_id
from platform_lib.descriptors.product import OutputPort, Product
from platform_lib.governance.scorecard import score
from platform_lib.lineage.columns import Dep, Key
from platform_lib.lineage.graph import ColumnGraph, column_graph
from platform_lib.mesh import Mesh
from platform_lib.ports.catalog import PortCatalog, table_name
from platform_lib.quality.rules import contract_rules

HISTORY = 10


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds") if timestamp else None


def _freshness(port: OutputPort, published_at: str | None, now: datetime) -> dict:
    late_after = port.contract.late_after()
    if published_at is None:
        return {"status": "never published", "published_at": None}
    age = now - datetime.fromisoformat(published_at)
    status = "fresh" if late_after is None or age <= late_after else "late"
    return {"status": status, "published_at": published_at, "age_hours": round(age.total_seconds() / 3600, 1),
            "late_after_hours": late_after.total_seconds() / 3600 if late_after else None}


def _observed(instance: DagsterInstance | None, port: OutputPort) -> dict:
    """Runs and check results the Dagster instance recorded for the port asset."""
    if instance is None:
        return {"materializations": [], "checks": []}
    key = AssetKey(list(port.asset_key))
    records = instance.fetch_materializations(key, limit=HISTORY).records
    checks = []
    for spec in check_specs(port):
        history = instance.event_log_storage.get_asset_check_execution_history(AssetCheckKey(key, spec.name), limit=HISTORY)
        checks.append({
            "name": spec.name,
            "history": [{"status": h.status.value, "run_id": h.run_id, "at": _iso(h.create_timestamp)} for h in history],
        })
    return {
        "materializations": [{"run_id": r.run_id, "at": _iso(r.timestamp)} for r in records],
        "checks": checks,
    }


def _sla(sla: Sla) -> dict:
    """As the contract writes it: a unit only when it gives one."""
    return {"property": sla.property, "value": sla.value} | ({} if sla.unit is None else {"unit": sla.unit})


@dataclass(frozen=True)
class _ColumnLineage:
    """The mesh's column lineage as the catalog shows it: each column named by domain, port or
    operational source, and by the product whose page it links to."""

    mesh: Mesh
    graph: ColumnGraph

    @cached_property
    def _products(self) -> dict[Key, str]:
        """Port asset key -> its product's id: a port outside this mesh has no page to link to."""
        return {p.asset_key: product_id(p.domain, p.product) for d in self.mesh.domains for p in d.output_ports}

    def _relation(self, key: Key) -> dict:
        source = operational_table(key[0], key)
        return {"domain": key[0], "port": None if source else key[1], "operational_source": source,
                "product": self._products.get(key)}

    def _column(self, dep: Dep) -> dict:
        return self._relation(dep.key) | {"column": dep.column, "kind": dep.kind}

    def _unknown_readers(self, port: OutputPort) -> list[dict]:
        """The consumers' ports whose own lineage is unknown: any column of `port` may be read by
        them, so no column can be said to be read by none."""
        keys = {out.asset_key for product, _ in self.mesh.consumers_of(port) for out in product.output_ports}
        return [self._relation(key) for key in sorted(keys & self.graph.errors.keys())]

    def of_port(self, port: OutputPort) -> dict:
        """Where each column comes from, port by port down to the operational sources (depth 1 is
        what the port reads directly), who reads it, and the columns its rows are selected by."""
        key = port.asset_key
        return {
            "unknown": self.graph.errors.get(key),
            "columns": [
                {"name": col.name,
                 "comes_from": [{"depth": step.depth, **self._column(step.dep)} for step in self.graph.upstream((key, col.name))],
                 "read_by": [self._column(dep) for dep in self.graph.readers((key, col.name))],
                 "selects_rows_of": [self._relation(reader) | {"kind": kind} for reader, kind in self.graph.row_readers((key, col.name))]}
                for col in port.contract.columns
            ],
            "rows": [self._column(dep) for dep in self.graph.rows.get(key, ())],
            "unknown_readers": self._unknown_readers(port),
        }


def _port(port: OutputPort, ports: PortCatalog, instance: DagsterInstance | None, ui_url: str, now: datetime,
          columns: _ColumnLineage) -> dict:
    c = port.contract
    published = [
        {
            "snapshot_id": v.snapshot_id, "contract_version": v.facts["contract-version"],
            "published_at": v.facts["published-at"], "row_count": v.facts["row-count"],
            "checks_passed": all(ch["passed"] for ch in v.facts["checks"]),
        }
        for v in reversed(ports.versions(port.asset_key)[-HISTORY:])
    ]
    return {
        "name": port.name, "asset_key": "/".join(port.asset_key), "contract_id": c.id, "contract_version": c.version,
        "major": c.major, "status": c.status, "end_of_support": c.end_of_support.isoformat() if c.end_of_support else None,
        "description": c.description,
        "roles": {role: ("every domain" if role == PUBLIC_ROLE else list(domains)) for role, domains in c.roles.items()},
        "sla": {name: _sla(sla) for name in ("frequency", "latency", "retention") if (sla := c.sla(name))},
        "columns": [
            {"name": col.name, "logical_type": col.logical_type, "physical_type": col.physical_type,
             "description": col.description, "classification": col.classification, "masking": col.masking,
             "required": col.required, "unique": col.unique, "primary_key": col.primary_key}
            for col in c.columns
        ],
        "column_lineage": columns.of_port(port),
        "quality_rules": [{"name": r.name, "description": r.description} for r in contract_rules(c)],
        "table": table_name(port.asset_key),
        "published_versions": published,
        "freshness": _freshness(port, published[0]["published_at"] if published else None, now),
        "observed": _observed(instance, port),
        "dagster_url": f"{ui_url.rstrip('/')}/assets/{'/'.join(quote(p) for p in port.asset_key)}",
    }


def _product(mesh: Mesh, product: Product, ports: PortCatalog, instance, ui_url: str, now: datetime, columns: _ColumnLineage) -> dict:
    inputs = []
    for port in product.input_ports:
        producer = mesh.producer_of(port)
        inputs.append({
            "name": port.name, "contract_id": port.contract_id, "major": port.major, "role": port.role,
            "producer": None if producer is None else product_id(producer.domain, producer.product),
            "asset_key": None if producer is None else "/".join(producer.asset_key),
        })
    consumers = sorted({
        product_id(p.domain, p.name) for out in product.output_ports for p, _ in mesh.consumers_of(out)
    })
    return {
        "id": product.id, "name": product.name, "domain": product.domain, "version": product.version,
        "status": product.status, "description": product.description, "owner": product.owner,
        "team": mesh.domain(product.domain).team, "support": list(product.support),
        "input_ports": inputs, "consumers": consumers,
        "producers": sorted({i["producer"] for i in inputs if i["producer"]}),
        "output_ports": [_port(p, ports, instance, ui_url, now, columns) for p in product.output_ports],
        # How a consumer asks for a role it is not granted: the words the port-access policy uses.
        "whom_to_ask": mesh.whom_to_ask(product.output_ports[0]) if product.output_ports else None,
    }


def catalog(mesh: Mesh, workspace_file, ports: PortCatalog, instance: DagsterInstance | None, ui_url: str) -> dict:
    now = datetime.now(UTC)
    rows, _ = score(workspace_file)
    columns = _ColumnLineage(mesh, column_graph(mesh, load_manifest))
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "dagster_url": ui_url,
        "domains": [
            {"name": d.name, "description": d.description, "team": d.team, "email": d.email,
             "products": [p.id for p in d.products]}
            for d in mesh.domains
        ],
        "products": [_product(mesh, p, ports, instance, ui_url, now, columns) for d in mesh.domains for p in d.products],
        "scorecard": rows,
    }


def search(facts: dict, text: str) -> list[dict]:
    """Products whose name, description, domain, owner, team, port or column mentions the text."""
    needle = text.lower()
    return [p for p in facts["products"] if needle in search_text(p)]


def search_text(product: dict) -> str:
    words = [product["id"], product["name"], product["description"], product["domain"], product["owner"] or "", product["team"]]
    for port in product["output_ports"]:
        words += [port["name"], port["contract_id"], *(c["name"] for c in port["columns"])]
    return " ".join(words).lower()
