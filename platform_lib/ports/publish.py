"""Write, audit, publish: a port version is staged in its run's own folder, audited there, and only
an audited file becomes the port's next Iceberg snapshot, atomically, by one catalog commit."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from platform_lib.dbt.manifest import model_relation
from platform_lib.descriptors.contract import SENSITIVE
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.product import OutputPort, Product
from platform_lib.descriptors.yaml_file import dump
from platform_lib.engines import SPARK
from platform_lib.engines.spark import table_relation
from platform_lib.ports.catalog import PortCatalog, PublishConflict, schema_fingerprint
from platform_lib.ports.data_versions import FACT as DATA_VERSION
from platform_lib.ports.data_versions import noted
from platform_lib.ports.history import restore_newest
from platform_lib.ports.integrity import CONTENT, content_fact, sha256
from platform_lib.ports.masking import masked_select, masking_macro
from platform_lib.ports.published import CONTRACT, PRODUCT
from platform_lib.ports.storage import on_s3, path_of
from platform_lib.ports.version import PortVersion
from platform_lib.ports.warehouse import Warehouse
from platform_lib.settings import mesh_home, orphan_grace, staging_dir
from platform_lib.sql import sql_string

# Staging folders this process is using, each locked until discarded: a lock that can be taken
# belongs to a run that died, whose folder any later run may clear.
_HELD: dict[Path, int] = {}
LOCK = ".lock"
# A test hook, never set in production: see `fault`.
FAULT = "MESH_FAULT"


def fault(point: str, port: OutputPort) -> None:
    """With MESH_FAULT=<point>, the run stops at that point of a port's publication, names the port in
    $MESH_HOME/fault-<point> and waits to be killed: a test's crash at an exact point, such as
    "before-commit" (the data file is uploaded, the catalog does not know it) or "after-commit" (the
    catalog holds the version, Dagster has not recorded it), which a kill from outside would hit only
    by chance."""
    if os.environ.get(FAULT) != point:
        return
    marker = mesh_home() / f"fault-{point}"
    # Whole once it exists: the test reads it as soon as it appears.
    marker.with_suffix(".tmp").write_text(".".join(port.asset_key))
    marker.with_suffix(".tmp").replace(marker)
    while True:
        signal.pause()


def staging_folder(port: OutputPort, run_id: str) -> Path:
    """One folder per run and port: concurrent runs never touch each other's staged files."""
    return staging_dir().joinpath(*port.asset_key, run_id)


def _clear_dead_runs(parent: Path) -> list[Path]:
    cleared = []
    for folder in parent.glob("*/"):
        try:
            fd = os.open(folder / LOCK, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live run's
        finally:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
        cleared.append(folder)
    return cleared


def clear_dead_staging(domain: Domain) -> list[Path]:
    """What runs of the domain that were killed left staged (no `finally` of theirs ran), for every
    port of the domain, whether or not this run stages it again: cleared when a run of the domain
    starts. The ports whose contracts carry personal or restricted columns go first, so that a
    clearing cut short leaves the least sensitive files behind. Returns the run folders cleared."""
    sensitive = {p.asset_key[1] for p in domain.output_ports if any(c.classification in SENSITIVE for c in p.contract.columns)}
    ports = sorted((staging_dir() / domain.name).glob("*/"), key=lambda folder: folder.name not in sensitive)
    return [run for folder in ports for run in _clear_dead_runs(folder)]


def _drop(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    fd = _HELD.pop(folder, None)
    if fd is not None:
        os.close(fd)


def discard(staged: Path) -> None:
    """Drop a staged version (published or refused) and release its folder."""
    _drop(staged.parent)


def discard_run(run_id: str) -> None:
    """Drop every version this process staged for the run, however far each got: a run's publication
    step ends with this, whatever failed, so no staged file (unmasked, for a restricted port) outlives it."""
    for folder in [f for f in _HELD if f.name == run_id]:
        _drop(folder)


@dataclass(frozen=True)
class Export:
    """What a port's export reads: its model's relation in the domain's DuckDB file, or the Parquet
    files of its model's table in the domain's Spark warehouse (engines.spark). A model's ORDER BY
    survives in a view's query, and in a table's files only in the order they are read."""

    relation: str
    in_file_order: bool = False


def export_of(domain: Domain, port: OutputPort, manifest: Mapping[str, Any]) -> Export:
    relation = model_relation(port, manifest)
    if domain.engine != SPARK:
        return Export(relation)
    node = manifest["nodes"][f"model.{domain.name}.{port.contract.model}"]
    return Export(table_relation(domain.name, node["schema"], node["alias"]), in_file_order=True)


def stage(port: OutputPort, export: Export, run_id: str, warehouse: Warehouse, masking_key: bytes) -> Path:
    """Export the port's dbt model (export_of), masked as its contract says (hashed under
    `masking_key`), to a staged Parquet file. DuckDB masks for every engine: a value hashed by a
    Spark domain equals the same value hashed by a DuckDB domain."""
    folder = staging_folder(port, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    _HELD[folder] = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(_HELD[folder], fcntl.LOCK_EX)
    target = folder / "data.parquet"
    with warehouse.connect(read_only=True) as con:
        # A port promises no row order beyond its model's own ORDER BY (which DuckDB keeps); not
        # preserving the scan's order halves the export's memory (6 M line items: 421 -> 206 MB).
        con.execute(f"set preserve_insertion_order = {str(export.in_file_order).lower()}")
        con.execute(masking_macro(masking_key))
        # zstd's fastest level: 16% less export time than its default for 2% more bytes (6 M line items).
        con.execute(f"COPY ({masked_select(port.contract, export.relation)}) TO {sql_string(target)} "
                    "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)")
    return target


def published_properties(port: OutputPort, product: Product) -> dict[str, str]:
    """What travels with every version: the contract (schema, rules, SLOs, roles and grants) and
    whom to ask for access. Consumers bind against these, never against the producer's files."""
    return {
        # Complete ODCS: what the team wrote, with what its folder says filled in (descriptors.derived).
        CONTRACT: dump(port.contract.data),
        PRODUCT: json.dumps({"id": product.id, "owner": product.owner, "support": list(product.support)}),
        # Every domain may read any port's metadata; a restricted port's column bounds stay out of it.
        "write.metadata.metrics.default": "truncate(16)" if port.contract.is_public else "counts",
    }


def _content_of(snapshot) -> list[str] | None:
    """The SHA-256 of each file a snapshot's publication recorded (ports.integrity)."""
    summary = snapshot.summary.additional_properties if snapshot is not None and snapshot.summary else {}
    content = summary.get(f"mesh.{CONTENT}")
    return [file["sha256"] for file in json.loads(content).values()] if content else None


def begin(port: OutputPort, staged: Path, catalog: PortCatalog):
    """The port's table as this run finds it, before the audit: a publication that lands in
    between makes this run's commit fail instead of silently replacing it. A table whose catalog row
    was moved back is first pointed at its newest metadata again (ports.history)."""
    moved = restore_newest(catalog, port.asset_key)
    if moved is not None:
        logging.getLogger(__name__).warning("port %s: %s; restored to %s before publishing", ".".join(port.asset_key), moved, moved.newest)
    return catalog.start(port.asset_key, pq.read_schema(staged), {})


def publish(port: OutputPort, product: Product, table, staged: Path, run_id: str, checks: list[dict], catalog: PortCatalog,
            data_version: str | None = None, keep_same: bool = False) -> PortVersion | None:
    """Register an audited staged file as the port's next snapshot, its content's digest and
    `data_version` (ports.data_versions) recorded; expire versions past `retention` and remove the
    files no version uses. `keep_same`: a file whose content is the current snapshot's is not
    committed (no snapshot, no consumer woken), only `data_version` is recorded; then None."""
    # Hashed where it lies, just read by the audit (about 0.1 s for 142 MB): hashing while uploading
    # it instead saves nothing measurable (bench/README.md).
    digest = sha256(pafs.LocalFileSystem(), str(staged))
    properties = published_properties(port, product)
    if keep_same and data_version and _content_of(table.current_snapshot()) == [digest]:
        catalog.note(table, properties | noted(table, data_version))
        discard(staged)
        return None
    data_uri = f"{catalog.storage.data_location(port.asset_key)}/{run_id}-{uuid.uuid4().hex[:8]}.parquet"
    fingerprint = schema_fingerprint(pq.read_schema(staged))
    fs = catalog.storage.filesystem(data_uri)
    if on_s3(data_uri):
        pafs.copy_files(str(staged), path_of(data_uri), pafs.LocalFileSystem(), fs)
    else:
        Path(path_of(data_uri)).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, path_of(data_uri))
        # A rename keeps the time of staging; the orphan sweep's grace counts from the file's arrival.
        os.utime(path_of(data_uri))
    fault("before-commit", port)
    facts = {
        "contract-id": port.contract.id,
        "contract-version": port.contract.version,
        "run-id": run_id,
        "schema-fingerprint": fingerprint,
        "published-at": datetime.now(UTC).isoformat(),
        "checks": json.dumps(checks),
        CONTENT: content_fact(fs, data_uri, digest),
    } | ({DATA_VERSION: data_version} if data_version else {})
    try:
        published = catalog.commit(table, data_uri, facts, properties)
    except PublishConflict:
        fs.delete_file(path_of(data_uri))
        raise
    finally:
        discard(staged)
    fault("after-commit", port)
    retention = port.contract.sla_duration("retention")
    if retention is not None:
        catalog.expire(port.asset_key, older_than=retention)
    catalog.remove_orphans(port.asset_key, older_than=orphan_grace())
    return published
