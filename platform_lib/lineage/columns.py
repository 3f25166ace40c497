"""Column lineage of a domain's dbt models, from their compiled SQL (sqlglot).

Each model's output columns are traced to the columns of the relations it reads (its parent models
and dbt sources), through CTEs and subqueries, each with the kind of derivation; the columns its
rows are filtered or joined on are traced as well. `resolved` composes a model's lineage through
the domain's own models down to its inputs: the ports of other domains (by their asset keys) and
its operational sources, which is where a walk leaves the domain.

The inputs are typed as they are promised: an input port by its producer's contract, an
operational source by its dbt source's columns, so `select *` expands as a run will make it."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage, to_node
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

from platform_lib.dbt.manifest import domain_sources, source_asset_key
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.keys import model_key
from platform_lib.engines import DIALECTS

# How an output column is derived from an input column, from the most revealing to the least: the
# value itself, a function of it, an aggregate of it (min, max, sum, string_agg...), or a count of
# it, which publishes no value of the column at all. A column reached by several paths keeps the most
# revealing one.
COPIED, TRANSFORMED, AGGREGATED, COUNTED = "copied", "transformed", "aggregated", "counted"
# The columns the rows are selected by: no value of theirs is published.
JOINED, FILTERED = "joined", "filtered"
KINDS = (COPIED, TRANSFORMED, AGGREGATED, COUNTED, JOINED, FILTERED)
_COUNTS = (exp.Count, exp.ApproxDistinct)
# Wrappers that leave the value as it is.
_AS_IS = (exp.Alias, exp.Paren, exp.Distinct)

Key = tuple[str, ...]


@dataclass(frozen=True, order=True)
class Dep:
    """One input column of a column: the relation's asset key (a model, a port, an operational
    source), the column, and how the value is derived from it."""

    key: Key
    column: str
    kind: str

    @property
    def carries_value(self) -> bool:
        return self.kind in (COPIED, TRANSFORMED, AGGREGATED)

    def __str__(self) -> str:
        return f"{'/'.join(self.key)}.{self.column} ({self.kind})"


@dataclass(frozen=True)
class ModelLineage:
    # Output column -> its input columns, in the model's column order.
    columns: dict[str, tuple[Dep, ...]] = field(default_factory=dict)
    # Columns the model's rows are filtered or joined on.
    rows: tuple[Dep, ...] = ()
    # Why the model's lineage is unknown (SQL sqlglot cannot read, an input of unknown columns).
    error: str | None = None


def _parts(relation: str | exp.Table) -> tuple[str, ...]:
    """A relation's (database, schema, table), as DuckDB compares them: unquoted, lower case."""
    if isinstance(relation, exp.Table):
        names = [relation.catalog, relation.db, relation.name]
    else:
        names = [p.strip('"`') for p in relation.split(".")]
    return tuple(n.lower() for n in names if n)


def _more_revealing(a: str, b: str) -> str:
    return min(a, b, key=KINDS.index)


def _less_revealing(a: str, b: str) -> str:
    return max(a, b, key=KINDS.index)


def _kind(projection: exp.Expr, column: exp.Column) -> str:
    """How `column` reaches the value of the projection it appears in."""
    kind, node = COPIED, column
    while node is not projection and node.parent is not None:
        node = node.parent
        if isinstance(node, _COUNTS):
            return COUNTED
        if isinstance(node, exp.AggFunc):
            kind = AGGREGATED
        elif not isinstance(node, _AS_IS) and kind == COPIED:
            kind = TRANSFORMED
    return kind


def _edge_kind(parent: Node, child: Node) -> str:
    """The kind of the step from a lineage node to one it reads (a CTE's column, a table's)."""
    table, _, name = child.name.rpartition(".")
    kinds = [_kind(parent.expression, c) for c in parent.expression.find_all(exp.Column) if c.name == name and c.table == table]
    # A column sqlglot reached without naming it in the projection (a union's branches): assume it is transformed.
    return min(kinds, key=KINDS.index) if kinds else TRANSFORMED


def _leaves(node: Node, kind: str = COPIED) -> Iterator[tuple[exp.Table, str, str]]:
    """(table, column, kind) of each table column a lineage node derives from."""
    if isinstance(node.expression, exp.Table):
        yield node.expression, node.name.rpartition(".")[2], kind
        return
    for child in node.downstream:
        yield from _leaves(child, _less_revealing(kind, _edge_kind(node, child)))


def _row_columns(scope: Scope) -> Iterator[tuple[exp.Column, str]]:
    """Each column a scope's rows are filtered or joined on."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        return
    where = select.args.get("where")
    if where is not None:
        yield from ((c, FILTERED) for c in where.find_all(exp.Column))
    for join in select.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None:
            yield from ((c, JOINED) for c in on.find_all(exp.Column))


def _row_leaves(root: Scope, schema: MappingSchema, dialect: str) -> Iterator[tuple[exp.Table, str, str]]:
    for scope in root.traverse():
        for column, kind in _row_columns(scope):
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                yield source, column.name, kind
            elif isinstance(source, Scope) and any(s.alias_or_name == column.name for s in source.expression.selects):
                node = to_node(column.name, source, dialect, schema)
                yield from ((table, name, kind) for table, name, _ in _leaves(node))


def _model_lineage(sql: str, schema: MappingSchema, keys: Mapping[tuple[str, ...], Key], dialect: str) -> tuple[ModelLineage, list[str]]:
    """The model's lineage and its output column names; `keys`: relation parts -> asset key."""
    try:
        # Qualified once: the lineage of every column and of the rows is walked in the one scope tree.
        qualified = qualify(parse_one(sql, dialect=dialect), dialect=dialect, schema=schema, validate_qualify_columns=False, identify=False)
        root = build_scope(qualified)
        # Untrimmed: each node's projection is read as it is, and not copied once per column.
        nodes = lineage(None, qualified, schema=schema, dialect=dialect, scope=root, copy=False, trim_selects=False)
    except SqlglotError as exc:
        return ModelLineage(error=f"sqlglot cannot trace it: {str(exc).splitlines()[0]}"), []
    if "*" in nodes:
        return ModelLineage(error="it selects * from a relation whose columns are not known"), []

    def deps(leaves: Iterator[tuple[exp.Table, str, str]]) -> tuple[Dep, ...]:
        found: dict[tuple[Key, str], str] = {}
        for table, column, kind in leaves:
            key = _key_of(keys, _parts(table))
            if key is not None:
                at = (key, column)
                found[at] = _more_revealing(found.get(at, kind), kind)
        return tuple(sorted(Dep(k, c, kind) for (k, c), kind in found.items()))

    columns = {name: deps(_leaves(node)) for name, node in nodes.items()}
    return ModelLineage(columns=columns, rows=deps(_row_leaves(root, schema, dialect))), list(nodes)


def _key_of(keys: Mapping[tuple[str, ...], Key], parts: tuple[str, ...]) -> Key | None:
    """The asset key of a relation the SQL names in full or, as DuckDB resolves it in the domain's
    database, without its database (`ports.<port view>`, written without source())."""
    found = keys.get(parts) or [key for full, key in keys.items() if full[-len(parts):] == parts and len(parts) >= 2]
    if isinstance(found, list):
        return found[0] if len(found) == 1 else None
    return found


def _add(schema: MappingSchema, parts: tuple[str, ...], columns: Sequence[str], dialect: str) -> None:
    schema.add_table(exp.table_(parts[-1], db=parts[-2] if len(parts) > 1 else None, catalog=parts[-3] if len(parts) > 2 else None),
                     dict.fromkeys(columns, "UNKNOWN"), dialect=dialect)


def domain_lineage(domain: Domain, manifest: Mapping[str, Any], input_columns: Mapping[Key, Sequence[str]],
                   only: Collection[str] | None = None) -> dict[str, ModelLineage]:
    """Model name -> its lineage, for each model of the domain's compiled manifest, or `only` those
    models and the ones they read. `input_columns`: the columns of each input port, by the
    producer's port asset key (its contract); operational sources are typed by their dbt source's
    columns."""
    # One schema, grown model by model: sqlglot normalizes a plain dict again at every call.
    # The SQL of the domain's engine: dbt compiled the models for it.
    dialect = DIALECTS[domain.engine]
    schema = MappingSchema(dialect=dialect)
    keys: dict[tuple[str, ...], Key] = {}
    for source in domain_sources(domain, manifest):
        key = source_asset_key(source)
        if key is None:
            continue
        parts = _parts(source["relation_name"])
        keys[parts] = key
        columns = input_columns.get(key) or list(source.get("columns") or {})
        if columns:
            _add(schema, parts, columns, dialect)
    models = {uid: n for uid, n in manifest["nodes"].items()
              if n["resource_type"] == "model" and n.get("relation_name") and n["package_name"] == domain.name}
    if only is not None:
        needed = set().union(*(_upstream(manifest, f"model.{domain.name}.{name}") for name in only))
        models = {uid: n for uid, n in models.items() if uid in needed}
    for node in models.values():
        keys[_parts(node["relation_name"])] = model_key(domain.name, node["name"])
    found: dict[str, ModelLineage] = {}
    order = TopologicalSorter({uid: [d for d in n["depends_on"]["nodes"] if d in models] for uid, n in models.items()}).static_order()
    for uid in order:
        node = models[uid]
        if node.get("compiled_code") is None:
            found[node["name"]] = ModelLineage(error="it is not compiled: run `mesh prepare`")
            continue
        found[node["name"]], columns = _model_lineage(node["compiled_code"], schema, keys, dialect)
        if columns:
            _add(schema, _parts(node["relation_name"]), columns, dialect)
    return found


def resolved(domain: str, models: Mapping[str, ModelLineage], model: str) -> ModelLineage:
    """A model's lineage through the domain's own models, down to its inputs (other domains' ports,
    its operational sources): the kind of a path is its least revealing step."""
    memo: dict[str, ModelLineage] = {}

    def walk(name: str) -> ModelLineage:
        if name in memo:
            return memo[name]
        own = models.get(name)
        if own is None or own.error:
            memo[name] = own or ModelLineage(error=f"model {name} is unknown")
            return memo[name]

        def down(deps: Sequence[Dep], rows: bool) -> tuple[Dep, ...]:
            found: dict[tuple[Key, str], str] = {}
            for dep in deps:
                upstream = _own_model(domain, dep.key)
                if upstream is None:
                    reached = [dep]
                else:
                    parent = walk(upstream)
                    reached = [Dep(d.key, d.column, dep.kind if rows else _less_revealing(dep.kind, d.kind))
                               for d in parent.columns.get(dep.column, ())]
                for d in reached:
                    at = (d.key, d.column)
                    found[at] = _more_revealing(found.get(at, d.kind), d.kind)
            return tuple(sorted(Dep(k, c, kind) for (k, c), kind in found.items()))

        parents = {_own_model(domain, d.key) for deps in own.columns.values() for d in deps} | {_own_model(domain, d.key) for d in own.rows}
        inherited_rows = [d for p in sorted(parents - {None}) for d in walk(p).rows]
        memo[name] = ModelLineage(
            columns={column: down(deps, rows=False) for column, deps in own.columns.items()},
            rows=tuple(sorted(set(down(own.rows, rows=True)) | set(inherited_rows))),
            error=next((walk(p).error for p in sorted(parents - {None}) if walk(p).error), None),
        )
        return memo[name]

    return walk(model)


def _upstream(manifest: Mapping[str, Any], uid: str) -> set[str]:
    """The node and every node and source it reads, directly or not."""
    seen, todo = set(), [uid]
    while todo:
        uid = todo.pop()
        if uid not in seen:
            seen.add(uid)
            todo += manifest["nodes"].get(uid, {}).get("depends_on", {}).get("nodes", [])
    return seen


def model_inputs(domain: Domain, manifest: Mapping[str, Any], model: str) -> set[Key]:
    """The asset keys of the dbt sources a model reads, directly or through the domain's models."""
    sources = (manifest["sources"][uid] for uid in _upstream(manifest, f"model.{domain.name}.{model}") if uid in manifest["sources"])
    return {key for source in sources if (key := source_asset_key(source)) is not None}


def _own_model(domain: str, key: Key) -> str | None:
    return key[1] if len(key) == 2 and key[0] == domain and key[1] else None
