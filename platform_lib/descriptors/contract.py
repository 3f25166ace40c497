"""ODCS v3 data contracts: the schema and promises of one output port."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from platform_lib.descriptors.contract_sql import ALLOWED, UnsafeQuery, query_columns
from platform_lib.descriptors.durations import DurationError, is_duration, sla_duration
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.fields import custom_property, field, major_of, name_field
from platform_lib.descriptors.standards import validate_odcs
from platform_lib.descriptors.yaml_file import load_yaml


@dataclass(frozen=True)
class Column:
    name: str
    logical_type: str
    physical_type: str
    description: str
    required: bool
    unique: bool
    primary_key: bool
    classification: str
    # How the platform masks the column when it publishes the port (hash or redact), if at all.
    masking: str | None = None


MASKINGS = ("hash", "redact")
# The SLA properties a port's freshness policy is made of. Dagster checks freshness by the minute.
FRESHNESS = ("frequency", "latency")
FRESHNESS_RESOLUTION = timedelta(minutes=1)
# The mesh-wide role: a contract offering it is readable by every domain.
PUBLIC_ROLE = "mesh_reader"


@dataclass(frozen=True)
class Contract:
    id: str
    version: str
    major: int
    status: str
    description: str
    model: str
    columns: tuple[Column, ...]
    file: Path
    # role -> the domains it is granted to (customProperties grantedTo); access rules live in governance.
    roles: dict[str, tuple[str, ...]]
    end_of_support: date | None
    # The validated ODCS document: quality rules, SLOs and roles are read from it where they are used.
    document: dict

    @property
    def is_public(self) -> bool:
        return PUBLIC_ROLE in self.roles

    def grants(self, role: str, domain: str) -> bool:
        """Whether `domain` may read the port with `role`."""
        return role == PUBLIC_ROLE and self.is_public or domain in self.roles.get(role, ())

    @property
    def schema_object(self) -> dict:
        return self.document["schema"][0]

    def property(self, name: str) -> dict:
        return next(p for p in self.schema_object["properties"] if p["name"] == name)

    def sla(self, name: str) -> dict | None:
        return next((s for s in self.document.get("slaProperties", []) if s["property"] == name), None)

    def late_after(self) -> timedelta | None:
        """How long after its last version the port is late: a new version is due every
        `frequency`, and may come `latency` after that."""
        frequency, latency = map(self.sla_duration, FRESHNESS)
        if frequency is None and latency is None:
            return None
        return (frequency or timedelta(0)) + (latency or timedelta(0))

    def sla_duration(self, name: str) -> timedelta | None:
        """An SLA property such as latency, frequency or retention, as a duration (load_contract
        has checked that each reads as one)."""
        sla = self.sla(name)
        return None if sla is None else sla_duration(sla)


def load_contract(path: Path, text: str | None = None) -> Contract:
    doc = load_yaml(path, text)
    validate_odcs(doc)
    schema = field(doc, "schema", kind=list)
    if len(schema) != 1:
        raise doc.fail("an output port contract describes exactly one schema object (the published table)", "schema")
    properties = field(doc, "schema", 0, "properties", kind=list)
    if not properties:
        raise doc.fail("a port publishes at least one column: describe each under properties", "schema", 0, "properties")
    columns = tuple(
        Column(
            masking=_masking(doc, i),
            name=name_field(doc, "schema", 0, "properties", i, "name"),
            logical_type=field(doc, "schema", 0, "properties", i, "logicalType"),
            physical_type=field(doc, "schema", 0, "properties", i, "physicalType"),
            description=field(doc, "schema", 0, "properties", i, "description"),
            required=field(doc, "schema", 0, "properties", i, "required", kind=bool, default=False),
            unique=field(doc, "schema", 0, "properties", i, "unique", kind=bool, default=False),
            primary_key=field(doc, "schema", 0, "properties", i, "primaryKey", kind=bool, default=False),
            classification=field(doc, "schema", 0, "properties", i, "classification", default="internal"),
        )
        for i in range(len(properties))
    )
    _refuse_duplicate_columns(doc, columns)
    _refuse_unreadable_slas(doc)
    _judge_sql_rules(doc, tuple(c.name for c in columns))
    return Contract(
        id=field(doc, "id"),
        version=str(field(doc, "version")),
        major=major_of(doc, "version"),
        status=field(doc, "status"),
        description=field(doc, "description", "purpose"),
        model=name_field(doc, "schema", 0, "physicalName"),
        columns=columns,
        file=path,
        roles={
            name_field(doc, "roles", i, "role"): _granted_to(doc, i)
            for i in range(len(field(doc, "roles", kind=list, default=[])))
        },
        end_of_support=_end_of_support(doc),
        document=doc.data,
    )


def _judge_sql_rules(doc, columns: tuple[str, ...]) -> None:
    """Refuse every `sql` rule that is not one read-only query of the port, before anything can run
    it: the audit splices it into its own SQL over the staged file (descriptors.contract_sql)."""
    owners = [((), None)] + [(("properties", i), column) for i, column in enumerate(columns)]
    problems = []
    for owner, column in owners:
        for i, entry in enumerate(field(doc, "schema", 0, *owner, "quality", kind=list, default=[])):
            if isinstance(entry, dict) and entry.get("type") == "sql":
                where = ("schema", 0, *owner, "quality", i, "query")
                try:
                    query_columns(field(doc, *where), column, columns)
                except UnsafeQuery as refused:
                    problems.append(doc.problem(f"{refused}; {ALLOWED}", *where))
    if problems:
        raise DescriptorError(problems)


def _masking(doc, i: int) -> str | None:
    where, value = custom_property(doc, "schema", 0, "properties", i, name="masking")
    if value is not None and value not in MASKINGS:
        raise doc.fail(f"masking {value!r} is not one of {', '.join(MASKINGS)}", *where)
    return value


def _granted_to(doc, i: int) -> tuple[str, ...]:
    where, value = custom_property(doc, "roles", i, name="grantedTo", default=[])
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise doc.fail("grantedTo must be a list of domain names", *where)
    return tuple(value)


def _end_of_support(doc) -> date | None:
    where, value = custom_property(doc, name="endOfSupport")
    if value is None:
        return None
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise doc.fail(f"endOfSupport {value!r} is not a date such as 2027-03-31", *where) from None


def _refuse_duplicate_columns(doc, columns: tuple[Column, ...]) -> None:
    first: dict[str, int] = {}
    for i, column in enumerate(columns):
        if first.setdefault(column.name, i) != i:
            raise doc.fail(f"column {column.name} is declared twice (also properties[{first[column.name]}])", "schema", 0, "properties", i, "name")


def _refuse_unreadable_slas(doc) -> None:
    """Every duration SLA reads as one now: not when a run publishes, or a code location loads."""
    for i, sla in enumerate(field(doc, "slaProperties", kind=list, default=[])):
        if not is_duration(sla):
            continue
        try:
            duration = sla_duration(sla)
        except DurationError as exc:
            raise doc.fail(str(exc), "slaProperties", i, exc.field) from None
        if sla["property"] in FRESHNESS and duration < FRESHNESS_RESOLUTION:
            raise doc.fail(f"{sla['property']} must be at least one minute: Dagster checks freshness by the minute", "slaProperties", i, "value")
