"""The domain's input ports as dbt sources: each reads the view the platform binds for the port
(`ports.<producer>__<port>_v<major>`) and carries the producer's port asset key, which draws the
cross-domain edge in Dagster's lineage and tells the platform which port version to bind. A source
whose producer is known carries its contract's columns as the port publishes them (type,
description, classification, masking), so dbt docs and the manifest describe what the SQL reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from platform_lib.dbt.files.generated import generated
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.keys import port_key_of_contract, port_source_identifier
from platform_lib.descriptors.producers import ProducerIndex
from platform_lib.descriptors.product import InputPort, OutputPort
from platform_lib.descriptors.yaml_file import dump

# The schema the platform binds input ports in, in the domain's own database.
PORTS_SCHEMA = "ports"

BODY = """# Each input port is a dbt source: read it in SQL as source('<producer domain>', '<port>'). A port
# read at two majors (during a migration) keeps its name for the older one; the newer is <port>_v<major>.
# Its columns are its producer's contract's, when the producer is known where this file was written.
"""


@dataclass(frozen=True)
class SourceTable:
    source: str  # the producer domain
    name: str  # what the SQL reads: source('<source>', '<name>')
    key: tuple[str, str]  # the producer's port asset

    @property
    def identifier(self) -> str:
        return port_source_identifier(self.key)


def source_tables(ports: Iterable[InputPort]) -> dict[tuple[str, int], SourceTable]:
    """(contract id, major) -> the source table that reads it, for each input port."""
    for port in ports:
        if port_key_of_contract(port.contract_id, port.major) is None:
            raise DescriptorError([port.problem(f"{port.contract_id!r} is no contract id of the mesh (urn:mesh:contract:<domain>:<port>): "
                                                "no dbt source can read it", "contractId")])
    return table_names((port.contract_id, port.major) for port in ports)


def table_names(reads: Iterable[tuple[str, int]]) -> dict[tuple[str, int], SourceTable]:
    """(contract id, major) -> its source table. A port is read under its own name; a domain reading
    more than one major of it keeps the name for the oldest and names each newer one
    `<port>_v<major>`: adding a major, which starts a migration, renames no source that SQL reads."""
    reads = sorted(set(reads))
    oldest: dict[str, int] = {}
    for contract_id, major in reads:
        oldest.setdefault(contract_id, major)
    tables = {}
    for contract_id, major in reads:
        key = port_key_of_contract(contract_id, major)
        name = contract_id.rsplit(":", 1)[1]
        tables[contract_id, major] = SourceTable(key[0], name if major == oldest[contract_id] else f"{name}_v{major}", key)
    return tables


def _columns(producer: OutputPort) -> list[dict]:
    """The producer's contract columns as dbt source columns, each as the port publishes it (a
    masked column in the type its contract declares for the masked values)."""
    return [{"name": c.name, "data_type": c.physical_type, "description": c.description,
             "config": {"meta": {"classification": c.classification, **({"masking": c.masking} if c.masking else {})}}}
            for c in producer.contract.columns]


def _producers(domain: Domain, producers: ProducerIndex | None) -> dict[tuple[str, int], OutputPort]:
    """(contract id, major) -> its producer's port, for each input port `producers` knows."""
    found = {(port.contract_id, port.major): producers.producer_of(port) for port in domain.input_ports} if producers is not None else {}
    return {read: port for read, port in found.items() if port is not None}


def _source_table(table: SourceTable, description: str, producer: OutputPort | None) -> dict:
    entry = {"name": table.name, "identifier": table.identifier, "description": description,
             "config": {"meta": {"dagster": {"asset_key": list(table.key)}}}}
    return entry if producer is None else {**entry, "columns": _columns(producer)}


def sources(domain: Domain, producers: ProducerIndex | None = None) -> str | None:
    """models/_ports.yml, or None for a domain that reads no port. A source whose producer
    `producers` knows carries its contract's columns; any other has none (no index: none has)."""
    tables = sorted(source_tables(domain.input_ports).items(), key=lambda item: (item[1].source, item[1].name))
    if not tables:
        return None
    readers = {read: sorted({p.name for p in domain.products for i in p.input_ports if (i.contract_id, i.major) == read}) for read, _ in tables}
    known = _producers(domain, producers)
    by_source: dict[str, list] = {}
    for read, table in tables:
        description = f"{read[0]} v{read[1]}, read by {', '.join(readers[read])}."
        by_source.setdefault(table.source, []).append(_source_table(table, description, known.get(read)))
    doc = {"version": 2, "sources": [{"name": source, "schema": PORTS_SCHEMA, "tables": t} for source, t in by_source.items()]}
    made_from = [*(p.file for p in domain.products if p.input_ports), *(known[read].contract.file for read, _ in tables if read in known)]
    return generated(domain, made_from, BODY + dump(doc))
