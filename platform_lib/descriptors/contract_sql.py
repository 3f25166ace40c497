"""The SQL of a contract's `sql` quality rules, judged before anything runs it.

The audit splices a rule's query into its own SQL over the staged file, so a query must be what it
claims to be: one read-only query whose only relation is the port, `{object}`. A second statement,
COPY, ATTACH, SET, a table function such as read_csv, another table or a file path is refused when
the contract loads, so `mesh check` and a code location refuse it alike. The audit's DuckDB session
is fenced to the staged file as well (quality.audit): this is the wall in front of that one, and the
only one against a COPY onto the staged file itself.
"""

from __future__ import annotations

from functools import lru_cache

# What `{object}` stands for while a query is judged; the audit puts the port's relation in its place.
SENTINEL = "__mesh_contract_object__"
ALLOWED = "a sql rule must be one read-only query (SELECT, WITH, UNION) whose only table is {object}"


class UnsafeQuery(ValueError):
    """What in a rule's query was refused."""


def placed(query: str, column: str | None, relation: str) -> str:
    """The query with its placeholders filled: `{object}` by `relation`, `{property}` by the rule's
    column (ODCS writes them `{object}` or `${object}`)."""
    query = query.replace("${", "{").replace("{object}", relation)
    return query.replace("{property}", f'"{column}"') if column else query


@lru_cache(maxsize=4096)
def query_columns(query: str, column: str | None, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The contract columns (of `columns`) whose values a rule's query reads; UnsafeQuery if it is
    not one read-only query of the port. Cached: the loader judges the query, the rules ask again."""
    try:
        tree = _one_query(placed(query, column, SENTINEL))
        _refuse_other_relations(tree)
        return _read_columns(tree, columns, column)
    except RecursionError:
        # sqlglot parses and walks a query recursively: one nested past Python's stack is refused,
        # not a traceback.
        raise UnsafeQuery("it nests too deeply to be judged") from None


def _one_query(text: str):
    import sqlglot  # a contract without sql rules never pays for the parser
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise UnsafeQuery(f"it is not one valid DuckDB query ({str(exc).splitlines()[0]})") from None
    if len(statements) != 1:
        raise UnsafeQuery(f"it holds {len(statements)} statements")
    (tree,) = statements
    if not isinstance(tree, exp.Query):
        raise UnsafeQuery(f"it runs {_kind(tree)}, not a query")
    statement = next(tree.find_all(*_statements()), None)
    if statement is not None:
        raise UnsafeQuery(f"it runs {_kind(statement)} inside the query")
    return tree


def _statements() -> tuple[type, ...]:
    from sqlglot import exp

    return (exp.DDL, exp.DML, exp.Command, exp.Attach, exp.Detach, exp.Install, exp.Pragma, exp.Set,
            exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Describe, exp.Summarize, exp.Show)


def _kind(node) -> str:
    from sqlglot import exp

    # sqlglot keeps statements it has no model for (LOAD, CALL, ...) as a Command named by its keyword.
    return str(node.this).upper() if isinstance(node, exp.Command) else node.key.upper()


def _refuse_other_relations(tree) -> None:
    """Every relation the query reads is the port, a CTE of its own in scope, a subquery, VALUES or
    UNNEST: a table function (read_csv, glob, query, ...) or any other name may reach a file."""
    from sqlglot import exp
    from sqlglot.optimizer.scope import traverse_scope

    for node in tree.find_all(exp.From, exp.Join, exp.Lateral):
        source = node.this
        if not isinstance(source, (exp.Table, exp.Query, exp.Values, exp.Unnest, exp.Lateral)):
            raise UnsafeQuery(f"it reads from {_shown(source)}, which is not {{object}}")
    # A CTE's name is a relation only where the CTE is visible; elsewhere DuckDB would look the name
    # up as a table or a file.
    ctes = {id(table) for scope in traverse_scope(tree) for table in scope.tables if table.name in scope.cte_sources}
    for table in tree.find_all(exp.Table):
        plain = isinstance(table.this, exp.Identifier) and not table.db and not table.catalog
        if not (plain and (table.name == SENTINEL or id(table) in ctes)):
            raise UnsafeQuery(f"it reads {_shown(table)}, which is not {{object}}")


def _shown(node) -> str:
    return node.sql(dialect="duckdb").replace(SENTINEL, "{object}")


def _read_columns(tree, columns: tuple[str, ...], column: str | None) -> tuple[str, ...]:
    """The columns whose values reach the query's result. Anything that reads columns without
    naming them (`*` other than count(*), COLUMNS(...), #1, a row alias or any other name that is no
    column of the contract) reads them all: redaction must over-reach rather than miss one."""
    from sqlglot import exp

    read = {column} if column else set()
    for node in tree.walk():
        if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count) or isinstance(node, (exp.Columns, exp.PositionalColumn)):
            return columns
        if isinstance(node, exp.Column):
            if node.name.lower() not in columns:
                return columns
            read.add(node.name.lower())
    return tuple(c for c in columns if c in read)
