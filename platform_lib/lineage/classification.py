"""Classification follows the data: each column of a port inherits the classification of the input
port columns whose values it carries (columns.py says which), across domains.

A column inherits from every input column it is copied, transformed or aggregated from; a count
publishes no value of what it counts, and the columns rows are filtered or joined on publish none
either, so neither passes a classification on. An input column its producer published masked
(hashed or redacted) passes on its classification as masked: its values are already safe to
publish. What the platform applies to a declared classification applies to the inherited one:
a sensitive column (restricted, pii) is published only masked, or to domains its producer granted it
to; and a contract may not declare a column below what it inherits."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from platform_lib.descriptors.contract import PUBLIC_ROLE, SENSITIVE, Column, Contract, rank
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import Problem
from platform_lib.descriptors.keys import table_name
from platform_lib.descriptors.product import InputPort, OutputPort
from platform_lib.lineage.columns import Dep, Key, ModelLineage, domain_lineage, model_inputs, resolved

# Every domain of the mesh, as the readers of a port offering the public role.
EVERY_DOMAIN = None
# The blocking check of every port that holds its columns to what they inherit, before it is published.
CHECK = "classification_lineage"
CHECK_DESCRIPTION = "Every column is classified at least as the input columns it derives from (column lineage), and published only as they are granted."


@dataclass(frozen=True)
class Origin:
    """An input port column a port's column carries the value of."""

    port: OutputPort  # the producer's port, its contract as this domain reads it
    column: Column
    kind: str  # copied, transformed or aggregated (columns.py)

    @property
    def masked(self) -> bool:
        return self.column.masking is not None

    def __str__(self) -> str:
        masked = f", masked ({self.column.masking})" if self.masked else ""
        return f"{table_name(self.port.asset_key)}.{self.column.name} ({self.column.classification}{masked}, {self.kind})"


@dataclass(frozen=True)
class Inherited:
    """What one column of a model inherits: the input port columns whose values it carries."""

    origins: tuple[Origin, ...]

    @property
    def classification(self) -> str | None:
        """The highest classification it carries unmasked, if any is above public."""
        found = [o.column.classification for o in self.origins if not o.masked]
        top = max(found, key=rank, default=None)
        return top if top is not None and rank(top) > 0 else None

    @property
    def masked_upstream(self) -> bool:
        """Every sensitive value it carries was masked by its producer."""
        sensitive = [o for o in self.origins if o.column.classification in SENSITIVE]
        return bool(sensitive) and all(o.masked for o in sensitive)


@dataclass(frozen=True)
class PortClassification:
    """What each column a port's model makes inherits, and the model's lineage (resolved to the
    domain's inputs), whose `error` says why it is not known."""

    columns: dict[str, Inherited]
    lineage: ModelLineage
    # The inputs (asset keys) the model reads, through the domain's models: what it may carry
    # when its lineage is not known.
    reads: frozenset[Key]

    def untraced(self, port: OutputPort) -> str | None:
        """Why the port's columns cannot all be traced, if they cannot."""
        if self.lineage.error:
            return self.lineage.error
        missing = [c.name for c in port.contract.columns if c.name not in self.columns]
        return f"its traced SQL makes no column {', '.join(missing)}" if missing else None


def readers(contract: Contract) -> frozenset[str] | None:
    """The domains a port's contract lets read it; EVERY_DOMAIN for the public role."""
    if contract.is_public:
        return EVERY_DOMAIN
    return frozenset(d for domains in contract.roles.values() for d in domains)


def input_ports(domain: Domain, producer_of: Callable[[InputPort], OutputPort | None]) -> dict[Key, OutputPort]:
    """The producers' ports the domain reads, by asset key, as `producer_of` knows them."""
    found = {}
    for port in domain.input_ports:
        producer = producer_of(port)
        if producer is not None:
            found[producer.asset_key] = producer
    return found


def model_classification(domain: Domain, manifest: Mapping[str, Any], models: Mapping[str, ModelLineage], model: str,
                         inputs: Mapping[Key, OutputPort]) -> PortClassification:
    """What each column of a model inherits from `inputs`; `models`: the domain's lineage."""
    lineage = resolved(domain.name, models, model)
    columns = {name: Inherited(tuple(o for dep in deps if (o := _origin(dep, inputs)) is not None)) for name, deps in lineage.columns.items()}
    return PortClassification(columns, lineage, frozenset(model_inputs(domain, manifest, model)))


def traced(domain: Domain, manifest: Mapping[str, Any], inputs: Mapping[Key, OutputPort], only: Collection[str] | None = None) -> dict[str, ModelLineage]:
    """The domain's models' lineage (`only` those and what they read), its input ports typed by `inputs`' contracts."""
    return domain_lineage(domain, manifest, {key: [c.name for c in port.contract.columns] for key, port in inputs.items()}, only)


def classify(domain: Domain, manifest: Mapping[str, Any], inputs: Mapping[Key, OutputPort],
             ports: Collection[OutputPort] | None = None) -> dict[Key, PortClassification]:
    """Each output port's model columns (or `ports`') with what they inherit from `inputs`."""
    ports = domain.output_ports if ports is None else ports
    if not ports:
        return {}
    models = traced(domain, manifest, inputs, {port.contract.model for port in ports})
    return {port.asset_key: model_classification(domain, manifest, models, port.contract.model, inputs) for port in ports}


def judged(domain: Domain, inputs: Mapping[Key, OutputPort]) -> list[OutputPort]:
    """The ports whose columns could inherit more than their contract allows: those of a domain that
    reads an unmasked input column that is sensitive or classified above the port's least classified
    column, and public ports declaring an unmasked pii column (it may carry a value already masked).
    No other port can violate a classification rule, so no other needs tracing to be judged."""
    # Every input of the domain, not only those the port's model declares it reads: SQL naming a
    # bound port's relation without source() reads it all the same.
    read = [c for port in inputs.values() for c in port.contract.columns if c.masking is None]
    found = []
    for port in domain.output_ports:
        floor = min(rank(c.classification) for c in port.contract.columns)
        if (any(rank(c.classification) > floor or c.classification in SENSITIVE for c in read)
                or port.contract.is_public and any(c.classification == "pii" and c.masking is None for c in port.contract.columns)):
            found.append(port)
    return found


def _origin(dep: Dep, inputs: Mapping[Key, OutputPort]) -> Origin | None:
    port = inputs.get(dep.key)
    column = next((c for c in port.contract.columns if c.name == dep.column), None) if port else None
    return Origin(port, column, dep.kind) if column is not None and dep.carries_value else None


def _exposed_to(port: OutputPort, origin: Origin) -> str | None:
    """Whom the port would show an origin's value that the origin's producer did not grant it to."""
    granted, offered = readers(origin.port.contract), readers(port.contract)
    if granted is EVERY_DOMAIN:
        return None
    if offered is EVERY_DOMAIN:
        return f"every domain (role {PUBLIC_ROLE})"
    beyond = sorted(offered - granted - {origin.port.domain, port.domain})
    return f"domain{'s' * (len(beyond) > 1)} {', '.join(beyond)}" if beyond else None


def _granted(origin: Origin) -> str:
    domains = readers(origin.port.contract)
    return "every domain" if domains is EVERY_DOMAIN else (", ".join(sorted(domains)) or f"no domain but {origin.port.domain}")


def violations(port: OutputPort, classified: PortClassification, inputs: Mapping[Key, OutputPort]) -> list[Problem]:
    """Each column of the port published below, or beyond, the classification it inherits; and the
    port whose lineage cannot be traced while it reads sensitive values it could carry."""
    untraced = classified.untraced(port)
    if untraced:
        sensitive = sorted(f"{table_name(k)}.{c.name}" for k, p in inputs.items() if k in classified.reads for c in p.contract.columns
                           if c.classification in SENSITIVE and c.masking is None)
        if not sensitive:
            return []
        return [port.contract.schema_problem(
            f"the column lineage of dbt model {port.contract.model} cannot be traced ({untraced}), so the platform cannot tell "
            f"which of its columns carry {', '.join(sensitive)}: select each column by name", "physicalName")]
    problems = []
    for column in port.contract.columns:
        inherited = classified.columns.get(column.name)
        if column.masking is not None or inherited is None or inherited.classification is None:
            continue
        unmasked = [o for o in inherited.origins if not o.masked]
        exposed = [(o, whom) for o in unmasked if o.column.classification in SENSITIVE and (whom := _exposed_to(port, o))]
        understated = rank(column.classification) < rank(inherited.classification)
        if not exposed and not understated:
            continue
        top = [o for o in unmasked if o.column.classification == inherited.classification]
        said = f"{column.name} inherits {inherited.classification} from {', '.join(map(str, top))}"
        said += "".join(f"; {o.port.domain} grants {table_name(o.port.asset_key)} only to {_granted(o)}, this port shows {o.column.name} to {whom}"
                        for o, whom in exposed)
        if understated:
            said += f"; the contract declares it {column.classification}"
        mask = "mask it (customProperties masking: hash or redact)"
        granted = " and ".join(sorted({table_name(o.port.asset_key) for o, _ in exposed}))
        if exposed and understated:
            fix = f"{mask}, or classify it {inherited.classification} and restrict the port's roles to domains granted {granted}"
        elif exposed:
            fix = f"{mask}, or restrict the port's roles to domains granted {granted}"
        else:
            fix = f"classify it {inherited.classification}, or {mask}"
        problems.append(column.problem(f"{said}: {fix}", "classification"))
    return problems

