"""Input binding: before a domain's dbt run, every dbt source becomes a view in the domain's own DuckDB
(or, for a domain on Spark, in the run's Spark session: engines.spark).

Operational sources bind to the domain's landed files. An input port binds to one snapshot of the
producer's Iceberg table, the current one when the run starts: the view lists that snapshot's data
files, which are immutable, so a producer publishing mid-run never changes what the run reads.
Before binding, the grant is checked against the contract as published and every data file against
what the catalog recorded for it, so a truncated or replaced file stops the run with the port's name.

The files bound are all the run's dbt may read: its DuckDB sessions are fenced to them (ports.dbt_fence).
Spark has no such fence: a Spark domain is held to its files by its OS user and its S3 identity
(docs/deployment.md). Spark reads local files only (hadoop-aws is not among pyspark's jars), so a
port on S3 is copied into the domain's own Spark folder, after its grant and its files checked out.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from platform_lib.dbt.manifest import domain_sources, source_asset_key
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.keys import (
    OPERATIONAL,
    operational_table,
    port_key_of_contract,
)
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.engines import DUCKDB, SPARK
from platform_lib.engines.spark import warehouse_folder
from platform_lib.ports.published import published_port
from platform_lib.ports.storage import PortStorage, engine_uri, on_s3, path_of
from platform_lib.ports.warehouse import Warehouse
from platform_lib.settings import operational_source_file
from platform_lib.sql import sql_identifier, sql_string

if TYPE_CHECKING:
    from pyiceberg.table.snapshots import Snapshot

    from platform_lib.ports.catalog import PortCatalog

# The dbt-duckdb plugin every domain's profile declares (ports.dbt_fence), named here so a run can
# refuse a profile without it without importing dbt's adapter at location load.
FENCE_PLUGIN = "platform_lib.ports.dbt_fence"


class UnboundSource(Exception):
    pass


def _role(domain: Domain, key: tuple[str, str]) -> str | None:
    """The role the domain's input port bound to this port reads with."""
    for port in domain.input_ports:
        if port_key_of_contract(port.contract_id, port.major) == key:
            return port.role or ""
    return None


def pin(domain: Domain, key: tuple[str, str], catalog: PortCatalog, last: tuple[int, int] | None = None) -> tuple[int, int, list[str]]:
    """(snapshot id, sequence number, data files) of the port's current version, once its grant, its
    history since `last` (the snapshot and sequence number the domain bound before) and its files
    check out."""
    from platform_lib.ports.integrity import verify  # pyiceberg: imported by runs, not at location load

    table = catalog.table(key)
    snapshot = granted(domain, key, table, catalog.storage)
    require_forward(domain, key, table, snapshot, last)
    return snapshot.snapshot_id, snapshot.sequence_number, verify(table, snapshot, catalog.storage)


def granted(domain: Domain, key: tuple[str, str], table, storage: PortStorage) -> Snapshot:
    """The port's current snapshot, once its contract as published grants the domain the role its
    input port reads with."""
    name = ".".join(key)
    snapshot = table.current_snapshot() if table else None
    if snapshot is None:
        raise UnboundSource(f"port {name} has no published version yet; materialize it in domain {key[0]} first")
    try:
        contract = published_port(key, table.metadata_location, table.properties, storage).port.contract
    except DescriptorError as exc:
        raise UnboundSource(str(exc)) from None
    role = _role(domain, key)
    if role is None:
        raise UnboundSource(f"port {name}: no input port of domain {domain.name} binds contract {contract.id} v{contract.major}")
    if not contract.grants(role, domain.name):
        raise UnboundSource(
            f"port {name}: domain {domain.name} is not granted role {role or '(none named)'} on {contract.id} as published "
            f"(snapshot {snapshot.snapshot_id}); request it from the {key[0]} domain"
        )
    return snapshot


def require_forward(domain: Domain, key: tuple[str, str], table, snapshot, last: tuple[int, int] | None) -> None:
    """A port's history only moves forward for its consumers: the version offered must be the one
    the domain bound last or a later one descending from it. Anyone who can edit the catalog's row
    could otherwise roll a port back to an older metadata file, and consumers would publish from
    stale data. A producer's deliberate rollback (`mesh ports rollback`) is a new snapshot, so it passes."""
    from pyiceberg.table.snapshots import ancestors_of

    if last is None or last[0] == snapshot.snapshot_id:
        return
    bound, sequence = last
    # A bound snapshot expired since by retention is no longer in the metadata: its sequence number decides.
    descends = table.metadata.snapshot_by_id(bound) is None or bound in {s.snapshot_id for s in ancestors_of(snapshot, table.metadata)}
    if snapshot.sequence_number > sequence and descends:
        return
    raise UnboundSource(
        f"port {'.'.join(key)}: domain {domain.name} last bound snapshot {bound} (sequence {sequence}); the catalog now offers snapshot "
        f"{snapshot.snapshot_id} (sequence {snapshot.sequence_number}), which does not descend from it: the port's history was moved back "
        f"without a publication. The {key[0]} domain must publish again, or roll back on purpose with `mesh ports rollback`, which consumers accept"
    )


class Binding(dict):
    """Asset key -> what it bound (a snapshot, or the operational source), `files`: every file
    the views read, which is all the run's dbt may read, and `views`: (schema, table, files) of
    each dbt source; `pinned`: port -> (snapshot id, sequence number) of each input port."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[str] = []
        self.views: list[tuple[str, str, list[str]]] = []
        self.pinned: dict[str, tuple[int, int]] = {}


def spark_inputs(domain: Domain, key: tuple[str, ...], snapshot: int, files: list[str], storage: PortStorage) -> list[str]:
    """What Spark reads for a pinned port version: the files themselves on a local disk; copies in the
    domain's own Spark folder when they are on S3, kept per snapshot (its files never change) and
    dropped once another snapshot of the port is bound."""
    if not any(on_s3(f) for f in files):
        return files
    port = warehouse_folder(domain.name) / "inputs" / "/".join(key)
    here = port / str(snapshot)
    here.mkdir(parents=True, exist_ok=True)
    copies = []
    for uri in files:
        copy = here / uri.rsplit("/", 1)[-1]
        if not copy.exists():
            partial = copy.with_name(f".{copy.name}.partial")
            with storage.filesystem(uri).open_input_stream(path_of(uri)) as source, partial.open("wb") as target:
                while chunk := source.read(1 << 22):
                    target.write(chunk)
            partial.replace(copy)
        copies.append(str(copy))
    for older in port.iterdir():
        if older != here:
            shutil.rmtree(older, ignore_errors=True)
    return copies


def bind_sources(domain: Domain, manifest: Mapping[str, Any], catalog: PortCatalog, warehouse: Warehouse) -> Binding:
    """Create or replace the views behind every dbt source in the domain's warehouse (a Spark
    domain's run creates them in its session from `views`), each input port pinned to its current
    version in `catalog`."""
    require_profile(domain)
    bound = Binding()
    pinned = bound.pinned
    with warehouse.connect() as con:
        last = last_bound(con)
    for source in domain_sources(domain, manifest):
        key = source_asset_key(source)
        where = f"{source['original_file_path']}: source {source['source_name']}.{source['name']}"
        if key is None:
            raise UnboundSource(f"{where}: set config.meta.dagster.asset_key to the operational source or the port it reads")
        operational = operational_table(domain.name, key)
        if operational is not None:
            path = operational_source_file(domain.name, operational)
            if not path.exists():
                raise UnboundSource(f"{where}: operational source {path} is missing; run `mesh seed` first")
            files, version = [str(path)], OPERATIONAL
        else:
            snapshot, sequence, files = pin(domain, key, catalog, last.get(".".join(key)))
            pinned[".".join(key)] = (snapshot, sequence)
            version = f"snapshot {snapshot}"
        read = [engine_uri(f) for f in files]
        if domain.engine == SPARK and version != OPERATIONAL:
            read = spark_inputs(domain, key, snapshot, read, catalog.storage)
        bound["/".join(key)] = version
        bound.files += read
        bound.views.append((source["schema"], source["identifier"], read))
    with warehouse.connect() as con:
        if domain.engine == DUCKDB:
            for schema, table, read in bound.views:
                con.execute(f"create schema if not exists {sql_identifier(schema)}")
                con.execute(f"create or replace view {sql_identifier(schema)}.{sql_identifier(table)} as "
                            f"select * from read_parquet([{', '.join(map(sql_string, read))}])")
        record_bound(con, pinned)
    return bound


# In the consumer's own warehouse: each port's snapshot it bound last, the floor of what it accepts next.
BOUND = "_mesh.bound_snapshots"


def last_bound(con) -> dict[str, tuple[int, int]]:
    """Port -> (snapshot id, sequence number) the domain bound last."""
    if not con.execute("select 1 from information_schema.tables where table_schema = '_mesh' and table_name = 'bound_snapshots'").fetchone():
        return {}
    return {port: (snapshot, sequence) for port, snapshot, sequence in con.execute(f"select port, snapshot_id, sequence_number from {BOUND}").fetchall()}


def record_bound(con, pinned: dict[str, tuple[int, int]]) -> None:
    con.execute(f"create schema if not exists _mesh; create table if not exists {BOUND} (port varchar primary key, snapshot_id bigint, sequence_number bigint)")
    for port, (snapshot, sequence) in pinned.items():
        con.execute(f"insert or replace into {BOUND} values (?, ?, ?)", [port, snapshot, sequence])


def require_profile(domain: Domain) -> None:
    """The domain's dbt profile is the one `mesh prepare` writes from its descriptors (and `mesh run`
    again when they changed): for the engine `domain.yaml` names, and on DuckDB with the platform's
    fence, the plugin that closes dbt's session to what was bound. A profile edited since, or left
    from another engine, would run dbt elsewhere or let it read any file, so the run does not start."""
    doc = load_yaml(domain.dbt_project_dir / "profiles.yml")
    profile = doc.data.get(domain.name) or {}
    target = profile.get("target")
    output = (profile.get("outputs") or {}).get(target) or {}
    if output.get("type") != domain.engine:
        problem = doc.problem(f"the profile runs dbt on {output.get('type')!r}, and domain.yaml says engine: {domain.engine}: the profile "
                              "is generated, and `mesh prepare` writes it again with the manifest", domain.name, "outputs", target, "type")
        raise UnboundSource(str(problem))
    plugins = output.get("plugins") or []
    if domain.engine == DUCKDB and FENCE_PLUGIN not in [p.get("module") for p in plugins if isinstance(p, dict)]:
        problem = doc.problem(f"the platform's fence is missing: the profile is generated, and `mesh prepare` writes it again "
                              f"with the plugin `- module: {FENCE_PLUGIN}`", domain.name, "outputs", target, "plugins")
        raise UnboundSource(str(problem))
