"""ODCS v3 data contracts: the schema and promises of one output port.

A contract is read once, into typed objects (its columns, quality rules and SLAs) that each know
where they were written: what judges them later reports a problem on the line to fix by asking the
object (`column.problem(message, "physicalType")`), never by parsing the file again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from platform_lib.descriptors.contract_sql import ALLOWED, UnsafeQuery, query_columns
from platform_lib.descriptors.derived import Home, complete_contract, home_of
from platform_lib.descriptors.durations import DurationError, is_duration, sla_duration
from platform_lib.descriptors.errors import DescriptorError, Problem, collect
from platform_lib.descriptors.fields import custom_property, field, major_of, name_field
from platform_lib.descriptors.standards import validate_odcs
from platform_lib.descriptors.yaml_file import Located, Place, YamlDocument, load_yaml

MASKINGS = ("hash", "redact")
# A column's classification, from the least to the most sensitive: a column derived from another
# carries at least its classification (platform_lib/lineage). Sensitive columns are published only
# masked or to the domains granted them.
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted", "pii")
SENSITIVE = ("restricted", "pii")
# The SLA properties a port's freshness policy is made of. Dagster checks freshness by the minute.
FRESHNESS = ("frequency", "latency")
FRESHNESS_RESOLUTION = timedelta(minutes=1)
# The mesh-wide role: a contract offering it is readable by every domain.
PUBLIC_ROLE = "mesh_reader"
# ODCS's comparison operators: a library or sql rule holds when what it measures satisfies its one operator.
OPERATORS = (
    "mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo", "mustBeLessThan",
    "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween",
)


@dataclass(frozen=True)
class QualityRule(Located):
    """One quality rule of the table or of a column."""

    type: str  # library, sql, text (for people) or custom (for other engines)
    name: str | None
    description: str | None
    # A library rule's metric (nullValues, missingValues, invalidValues, duplicateValues, rowCount)
    # and its arguments, as ODCS defines them for that metric.
    metric: str | None
    arguments: dict[str, Any]
    # An sql rule's query: judged one read-only query of the port when the contract loaded.
    query: str | None
    # (mustBe..., its value); text and custom rules have none.
    operator: tuple[str, Any] | None
    unit: str  # what the operator counts: rows or percent


@dataclass(frozen=True)
class Sla(Located):
    """One slaProperties entry, such as latency 4 h."""

    property: str
    value: Any
    unit: str | None
    # Read when the contract loaded, for the properties that are durations (frequency, latency, retention...).
    duration: timedelta | None


@dataclass(frozen=True)
class Column(Located):
    name: str
    logical_type: str
    physical_type: str
    description: str
    required: bool
    unique: bool
    primary_key: bool
    # Its place in a composite primary key (primaryKeyPosition, from 1); 0 when not written.
    primary_key_position: int
    classification: str
    # How the platform masks the column when it publishes the port (hash or redact), if at all.
    masking: str | None
    # ODCS logicalTypeOptions (bounds, lengths, pattern...): which apply depends on the logical type.
    type_options: dict[str, Any]
    quality: tuple[QualityRule, ...]


@dataclass(frozen=True)
class Contract(Located):
    id: str
    version: str
    major: int
    status: str
    description: str
    # What the contract says it is (ODCS name, domain, dataProduct): the naming policy holds them to its port.
    name: str | None
    domain: str | None
    data_product: str | None
    model: str
    columns: tuple[Column, ...]
    # The table's own quality rules; each column holds its own.
    quality: tuple[QualityRule, ...]
    slas: tuple[Sla, ...]
    file: Path
    # role -> the domains it is granted to (customProperties grantedTo); access rules live in governance.
    roles: dict[str, tuple[str, ...]]
    end_of_support: date | None
    # What it states that its folder or domain.yaml say otherwise (descriptors.derived): the naming policy's.
    restated: tuple[Problem, ...] = dataclass_field(default=(), compare=False)

    @property
    def data(self) -> dict:
        """The contract as published: what was written, with what its folder says filled in."""
        return self.place.doc.data

    @property
    def is_public(self) -> bool:
        return PUBLIC_ROLE in self.roles

    def grants(self, role: str, domain: str) -> bool:
        """Whether `domain` may read the port with `role`."""
        return role == PUBLIC_ROLE and self.is_public or domain in self.roles.get(role, ())

    @property
    def primary_key(self) -> tuple[str, ...]:
        """The key's columns in primaryKeyPosition order."""
        return tuple(c.name for c in sorted((c for c in self.columns if c.primary_key), key=lambda c: c.primary_key_position))

    def schema_problem(self, message: str, *field_path: str | int) -> Problem:
        """A problem in the contract's one schema object, the published table (physicalName, quality...)."""
        return self.problem(message, "schema", 0, *field_path)

    def sla(self, name: str) -> Sla | None:
        return next((s for s in self.slas if s.property == name), None)

    def late_after(self) -> timedelta | None:
        """How long after its last version the port is late: a new version is due every
        `frequency`, and may come `latency` after that."""
        frequency, latency = map(self.sla_duration, FRESHNESS)
        if frequency is None and latency is None:
            return None
        return (frequency or timedelta(0)) + (latency or timedelta(0))

    def sla_duration(self, name: str) -> timedelta | None:
        """An SLA property such as latency, frequency or retention, as a duration."""
        sla = self.sla(name)
        return None if sla is None else sla.duration


def load_contract(path: Path, text: str | None = None, home: Home | None = None) -> Contract:
    """The contract, typed; or every finding of the mesh's profile at once (each column, SLA and
    top-level field read on its own), so that a contract from elsewhere is told all it needs.

    A contract file in a domain's product folder is completed from its `home` (by default, the one
    its path says) before it is judged; `text` (a published contract) is read as it is."""
    doc = load_yaml(path, text)
    home = home if home is not None or text is not None else home_of(path)
    restated = complete_contract(doc, home) if home is not None else ()
    validate_odcs(doc)
    problems: list[Problem] = []

    def read(fn: Callable, *args: Any) -> Any:
        return collect(problems, fn, *args)

    columns = read(_columns, doc, problems) or ()
    # SQL rules are judged against every column, or not at all: a column not read is no rule's fault.
    sound = not problems
    slas = _each(doc, "slaProperties", read=_sla, problems=problems)
    quality = _each(doc, "schema", 0, "quality", read=_quality_rule, problems=problems)
    if sound:
        read(_judge_sql_rules, quality, columns)
    found = dict(
        id=read(field, doc, "id"),
        version=read(lambda: str(field(doc, "version"))),
        major=read(major_of, doc, "version"),
        status=read(field, doc, "status"),
        description=read(field, doc, "description", "purpose"),
        model=read(name_field, doc, "schema", 0, "physicalName"),
        roles=read(lambda: {name_field(doc, "roles", i, "role"): _granted_to(doc, i) for i in range(len(field(doc, "roles", kind=list, default=[])))}),
        end_of_support=read(_end_of_support, doc),
    )
    if problems:
        raise DescriptorError(sorted(problems, key=lambda p: p.line or 0))
    return Contract(
        **found,
        name=field(doc, "name", default=None),
        domain=field(doc, "domain", default=None),
        data_product=field(doc, "dataProduct", default=None),
        columns=columns,
        quality=quality,
        slas=slas,
        file=path,
        restated=restated,
        place=Place(doc),
    )


def _columns(doc: YamlDocument, problems: list[Problem]) -> tuple[Column, ...]:
    """The one schema object's columns, each read on its own: one broken column hides no other."""
    schema = field(doc, "schema", kind=list)
    if len(schema) != 1:
        raise doc.fail("an output port contract describes exactly one schema object (the published table)", "schema")
    if not field(doc, "schema", 0, "properties", kind=list):
        raise doc.fail("a port publishes at least one column: describe each under properties", "schema", 0, "properties")
    columns = _each(doc, "schema", 0, "properties", read=_column, problems=problems)
    _refuse_duplicate_columns(columns)
    return columns


def judge_promises(doc: YamlDocument, *path: str | int) -> None:
    """What a domain.yaml promises for every port (contractDefaults), read as a contract's own SLAs
    and table rules are: a mistake there is told on domain.yaml's line, not on each contract's."""
    problems: list[Problem] = []
    _each(doc, *path, "slaProperties", read=_sla, problems=problems)
    _each(doc, *path, "quality", read=_quality_rule, problems=problems)
    if problems:
        raise DescriptorError(problems)


def _each(doc: YamlDocument, *path: str | int, read: Callable[[Place], Any], problems: list[Problem] | None = None) -> tuple:
    """What `read` makes of each item of the list at `path` (nothing when the list is not written);
    with `problems`, each item's are collected there and the others still read."""
    places = [Place(doc, (*path, i)) for i in range(len(field(doc, *path, kind=list, default=[])))]
    if problems is None:
        return tuple(map(read, places))
    return tuple(item for item in (collect(problems, read, place) for place in places) if item is not None)


def _column(place: Place) -> Column:
    doc, at = place.doc, place.path
    return Column(
        masking=_masking(doc, at),
        name=name_field(doc, *at, "name"),
        logical_type=field(doc, *at, "logicalType"),
        physical_type=field(doc, *at, "physicalType"),
        description=field(doc, *at, "description"),
        required=field(doc, *at, "required", kind=bool, default=False),
        unique=field(doc, *at, "unique", kind=bool, default=False),
        primary_key=field(doc, *at, "primaryKey", kind=bool, default=False),
        primary_key_position=field(doc, *at, "primaryKeyPosition", kind=int, default=0),
        classification=_classification(doc, at),
        type_options=field(doc, *at, "logicalTypeOptions", kind=dict, default={}),
        quality=_each(doc, *at, "quality", read=_quality_rule),
        place=place,
    )


def rank(classification: str) -> int:
    """Its place in CLASSIFICATIONS, so two classifications compare."""
    return CLASSIFICATIONS.index(classification)


def _classification(doc: YamlDocument, at: tuple) -> str:
    """Read in lower case: PII and pii are one classification."""
    value = field(doc, *at, "classification", default="internal")
    if value.lower() not in CLASSIFICATIONS:
        raise doc.fail(f"classification {value!r} is not one of {', '.join(CLASSIFICATIONS)} (least to most sensitive)", *at, "classification")
    return value.lower()


def _quality_rule(place: Place) -> QualityRule:
    doc, at = place.doc, place.path
    written = field(doc, *at, kind=dict)
    return QualityRule(
        type=field(doc, *at, "type", default="library"),
        name=field(doc, *at, "name", default=None),
        description=field(doc, *at, "description", default=None),
        metric=field(doc, *at, "metric", default=None),
        arguments=field(doc, *at, "arguments", kind=dict, default={}),
        query=field(doc, *at, "query", default=None),
        operator=next(((op, written[op]) for op in OPERATORS if op in written), None),
        unit=field(doc, *at, "unit", default="rows"),
        place=place,
    )


def _sla(place: Place) -> Sla:
    """An SLA property; a duration is read as one now, not when a run publishes or a code location loads."""
    doc, at = place.doc, place.path
    written = field(doc, *at, kind=dict)
    duration = None
    if is_duration(written):
        try:
            duration = sla_duration(written)
        except DurationError as exc:
            raise place.fail(str(exc), exc.field) from None
        if written["property"] in FRESHNESS and duration < FRESHNESS_RESOLUTION:
            raise place.fail(f"{written['property']} must be at least one minute: Dagster checks freshness by the minute", "value")
    return Sla(
        property=field(doc, *at, "property"),
        value=written.get("value"),
        unit=field(doc, *at, "unit", default=None),
        duration=duration,
        place=place,
    )


def _judge_sql_rules(quality: tuple[QualityRule, ...], columns: tuple[Column, ...]) -> None:
    """Refuse every `sql` rule that is not one read-only query of the port, before anything can run
    it: the audit splices it into its own SQL over the staged file (descriptors.contract_sql)."""
    names = tuple(c.name for c in columns)
    problems = []
    for column, rules in [(None, quality), *((c.name, c.quality) for c in columns)]:
        for rule in rules:
            if rule.type == "sql":
                try:
                    query_columns(rule.query, column, names)
                except UnsafeQuery as refused:
                    problems.append(rule.problem(f"{refused}; {ALLOWED}", "query"))
    if problems:
        raise DescriptorError(problems)


def _masking(doc: YamlDocument, at: tuple) -> str | None:
    where, value = custom_property(doc, *at, name="masking")
    if value is not None and value not in MASKINGS:
        raise doc.fail(f"masking {value!r} is not one of {', '.join(MASKINGS)}", *where)
    return value


def _granted_to(doc: YamlDocument, i: int) -> tuple[str, ...]:
    where, value = custom_property(doc, "roles", i, name="grantedTo", default=[])
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise doc.fail("grantedTo must be a list of domain names", *where)
    return tuple(value)


def _end_of_support(doc: YamlDocument) -> date | None:
    where, value = custom_property(doc, name="endOfSupport")
    if value is None:
        return None
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise doc.fail(f"endOfSupport {value!r} is not a date such as 2027-03-31", *where) from None


def _refuse_duplicate_columns(columns: tuple[Column, ...]) -> None:
    first: dict[str, int] = {}
    for i, column in enumerate(columns):
        if first.setdefault(column.name, i) != i:
            raise column.place.fail(f"column {column.name} is declared twice (also properties[{first[column.name]}])", "name")
