"""What a policy is: an id, a rationale, a severity and the check that finds its violations."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import ERROR, WARNING, Problem
from platform_lib.descriptors.producers import ProducerIndex
from platform_lib.descriptors.yaml_file import Located
from platform_lib.lineage.classification import PortClassification, classify, input_ports, judged
from platform_lib.mesh import Mesh

SEVERITIES = (WARNING, ERROR)  # in rising order: a domain may move a policy right, never left


@dataclass(frozen=True)
class Subject:
    """One domain, seen with its producers: the whole mesh's descriptors (`mesh check`, the
    scorecard) or what the port catalog publishes (a code location at load)."""

    producers: ProducerIndex
    domain: Domain
    # Contract ids whose producer cannot be judged here (its domain failed to load; at a location's
    # load, not published yet): references to them are not judged.
    broken: frozenset[str] = frozenset()
    # The domain's dbt manifest, when it has been prepared: policies on dbt sources need it.
    manifest: Mapping[str, Any] | None = None
    # The workspace's domains, for the policies that judge the whole mesh (`whole_mesh`); a code
    # location at load has none and runs no such policy.
    mesh: Mesh | None = None

    @cached_property
    def classified(self) -> dict[tuple[str, str], PortClassification]:
        """The output ports that could break a classification rule, with the classification their
        columns inherit from the input ports (their compiled SQL's column lineage): traced once, for
        every policy that asks. Empty without a manifest."""
        if self.manifest is None:
            return {}
        return classify(self.domain, self.manifest, self.inputs, judged(self.domain, self.inputs))

    @cached_property
    def inputs(self):
        """The producers' ports the domain reads, by asset key, as `producers` knows them."""
        return input_ports(self.domain, self.producers.producer_of)


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    rationale: str
    severity: str
    check: Callable[[Subject], Iterable[Problem]]
    # Judged over the whole mesh (`mesh check`, the scorecard), never at a code location's load,
    # which sees only its own domain and what its producers published.
    whole_mesh: bool = False

    def run(self, subject: Subject, severity: str | None = None) -> list[Problem]:
        severity = severity or self.severity
        return [dataclasses.replace(p, policy=self.id, severity=severity) for p in self.check(subject)]

    def with_severity(self, severity: str) -> Policy:
        return dataclasses.replace(self, severity=severity)


def policy(id: str, rationale: str, severity: str = ERROR, whole_mesh: bool = False) -> Callable[[Callable], Policy]:
    """Turn a check function into a Policy; its docstring's first line is the policy's title."""
    if severity not in SEVERITIES:
        raise ValueError(f"policy {id}: severity must be one of {SEVERITIES}")

    def wrap(check: Callable[[Subject], Iterable[Problem]]) -> Policy:
        title = (check.__doc__ or id).strip().splitlines()[0]
        return Policy(id=id, title=title, rationale=" ".join(rationale.split()), severity=severity, check=check, whole_mesh=whole_mesh)

    return wrap


def finding(found_in: Located, message: str, *field_path: str | int) -> Problem:
    """A violation on a field of what a domain's descriptors say: a domain, a product, an input port,
    a contract, a column, a quality rule or an SLA (`finding(column, message, "physicalType")`),
    reported at the line that field is written on."""
    return found_in.problem(message, *field_path)
