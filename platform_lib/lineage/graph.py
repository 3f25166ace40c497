"""The mesh's column lineage, port to port: each output port column and the columns it derives from,
other domains' port columns or its own domain's operational sources, so a walk crosses domains
both ways (`mesh lineage --column`, the catalog's column view, the consumers a breaking change hits)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.lineage.classification import input_ports, traced
from platform_lib.lineage.columns import Dep, Key, resolved
from platform_lib.mesh import Mesh

Column = tuple[Key, str]


@dataclass(frozen=True)
class Step:
    """One step of a walk: how far from where it started, and the column reached."""

    depth: int
    dep: Dep


@dataclass(frozen=True)
class ColumnGraph:
    # (port key, column) -> the input columns it derives from (ports of other domains, operational sources).
    inputs: Mapping[Column, tuple[Dep, ...]]
    # Port key -> the input columns its rows are filtered or joined on.
    rows: Mapping[Key, tuple[Dep, ...]]
    # Port key -> why its lineage is unknown.
    errors: Mapping[Key, str]

    @cached_property
    def _readers(self) -> dict[Column, list[Dep]]:
        found: dict[Column, list[Dep]] = {}
        for (key, name), deps in self.inputs.items():
            for dep in deps:
                found.setdefault((dep.key, dep.column), []).append(Dep(key, name, dep.kind))
        return {column: sorted(readers) for column, readers in found.items()}

    def readers(self, column: Column) -> list[Dep]:
        """The port columns that derive from `column` directly, with how."""
        return self._readers.get(column, [])

    def row_readers(self, column: Column) -> list[tuple[Key, str]]:
        """(port, joined or filtered): the ports whose rows are selected by `column`."""
        return sorted((key, dep.kind) for key, deps in self.rows.items() for dep in deps if (dep.key, dep.column) == column)

    def upstream(self, column: Column) -> Iterator[Step]:
        """Depth first, down to the operational sources: each column `column` derives from."""
        yield from self._walk(column, lambda c: self.inputs.get(c, ()))

    def downstream(self, column: Column) -> Iterator[Step]:
        """Depth first, each port column of any domain derived from `column`."""
        yield from self._walk(column, self.readers)

    @staticmethod
    def _walk(start: Column, next_of: Callable[[Column], Any], depth: int = 1, seen: frozenset = frozenset()) -> Iterator[Step]:
        for dep in next_of(start):
            reached = (dep.key, dep.column)
            yield Step(depth, dep)
            if reached not in seen:
                yield from ColumnGraph._walk(reached, next_of, depth + 1, seen | {reached})


def column_graph(mesh: Mesh, manifest_of: Callable[[Domain], Mapping[str, Any]]) -> ColumnGraph:
    """The lineage of every port of the mesh; `manifest_of` gives a domain's compiled manifest (a
    domain whose manifest cannot be had has its ports' lineage unknown)."""
    inputs, rows, errors = {}, {}, {}
    for domain in mesh.domains:
        try:
            manifest = manifest_of(domain)
        except DescriptorError as exc:
            errors.update({port.asset_key: str(exc) for port in domain.output_ports})
            continue
        models = traced(domain, manifest, input_ports(domain, mesh.producer_of))
        for port in domain.output_ports:
            lineage = resolved(domain.name, models, port.contract.model)
            if lineage.error:
                errors[port.asset_key] = lineage.error
            inputs.update({(port.asset_key, column): deps for column, deps in lineage.columns.items()})
            rows[port.asset_key] = lineage.rows
    return ColumnGraph(inputs, rows, errors)


def parse_column(text: str) -> Column:
    """`sales.line_items_v1.discount` -> ((sales, line_items_v1), discount)."""
    parts = text.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{text!r} is not <domain>.<port>_v<major>.<column>, such as sales.line_items_v1.discount")
    return (parts[0], parts[1]), parts[2]
