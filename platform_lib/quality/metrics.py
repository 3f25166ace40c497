"""What each expectation measures, computed by DuckDB in one aggregate pass over the staged file.

GX on a SQL engine issues a query or more per expectation, each a scan of the file; here every
column rule and the row count are one aggregate query, and only what fails (or a rule that is a
query of its own) reads the file again, for its sample. The figures follow GX's definitions
(unexpected counts over non-null values, a unique value's every duplicate row unexpected) and its
result format; tests/test_quality.py holds both engines to the same answers, and GX validates any
expectation not computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from platform_lib.quality.rules import Rule
from platform_lib.sql import sql_identifier, sql_string

SAMPLE_SIZE = 5
RELATION = "port"

# Expectations whose unexpected rows are the non-null values failing a condition on one column.
_CONDITIONS = {
    "ExpectColumnValuesToBeBetween": lambda c, a: _bounds(c, a),
    "ExpectColumnValueLengthsToBeBetween": lambda c, a: _bounds(f"length({c})", a),
    "ExpectColumnValuesToBeInSet": lambda c, a: f"{c} not in ({', '.join(_literal(v) for v in a['value_set'])})",
}
UNIQUENESS = ("ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique")
COMPUTED = (*_CONDITIONS, *UNIQUENESS, "ExpectColumnValuesToNotBeNull", "ExpectTableRowCountToBeBetween", "UnexpectedRowsExpectation")


@dataclass
class Measured:
    """One expectation's answer in GX's terms: `result` as GX fills it, `exception_info` as GX
    reports an expectation that raised."""

    result: dict
    error: str | None = None

    @property
    def exception_info(self) -> dict:
        return {"raised_exception": self.error is not None, "exception_message": self.error, "exception_traceback": None}


def _literal(value: Any) -> str:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else sql_string(str(value))


def _bounds(expression: str, arguments: dict) -> str:
    outside = []
    if arguments.get("min_value") is not None:
        outside.append(f"{expression} < {_literal(arguments['min_value'])}")
    if arguments.get("max_value") is not None:
        outside.append(f"{expression} > {_literal(arguments['max_value'])}")
    return " or ".join(outside) or "false"


def _columns(rule: Rule) -> list[str]:
    return [sql_identifier(c) for c in rule.arguments.get("column_list") or [rule.arguments["column"]]]


def _aggregates(rule: Rule) -> list[str]:
    """The main pass's expressions for a rule: (unexpected rows, rows considered)."""
    if rule.expectation == "ExpectTableRowCountToBeBetween":
        return ["count(*)"]
    if rule.expectation == "ExpectColumnValuesToNotBeNull":
        (column,) = _columns(rule)
        return [f"count(*) - count({column})", "count(*)"]
    if rule.expectation in UNIQUENESS:
        # Distinct hashes say whether any value may repeat (a collision only costs the exact
        # query; equal values always hash alike); the exact GX figure (every row of a repeated
        # value) is counted only then, by a grouping query.
        columns = _columns(rule)
        present = " or ".join(f"{c} is not null" for c in columns)
        return [f"count(*) filter (where {present}) - count(distinct hash({', '.join(columns)})) filter (where {present})", f"count(*) filter (where {present})"]
    (column,) = _columns(rule)
    condition = _CONDITIONS[rule.expectation](column, rule.arguments)
    return [f"count(*) filter (where {column} is not null and ({condition}))", f"count({column})"]


def _unexpected_values(con, rule: Rule) -> tuple[int, list]:
    """(unexpected rows, a sample of their values) of a rule whose main-pass figure was not zero."""
    columns = _columns(rule)
    listed = ", ".join(columns)
    if rule.expectation in UNIQUENESS:
        present = " or ".join(f"{c} is not null" for c in columns)
        groups = f"select {listed}, count(*) as n from {RELATION} where {present} group by all having count(*) > 1"
        count = con.execute(f"select coalesce(sum(n), 0) from ({groups})").fetchone()[0]
        # GX samples rows, so a repeated value shows once per row that repeats it.
        rows = con.execute(f"select {listed} from {RELATION} semi join ({groups}) using ({listed}) limit {SAMPLE_SIZE}").fetchall()
    elif rule.expectation == "ExpectColumnValuesToNotBeNull":
        return 0, []  # counted by the main pass; a sample of nulls says nothing
    else:
        condition = _CONDITIONS[rule.expectation](columns[0], rule.arguments)
        count = None
        rows = con.execute(f"select {listed} from {RELATION} where {columns[0]} is not null and ({condition}) limit {SAMPLE_SIZE}").fetchall()
    values = [row[0] if len(row) == 1 else dict(zip(rule.arguments.get("column_list") or [], row)) for row in rows]
    return count, values


def _column_result(con, rule: Rule, unexpected: int, considered: int, total: int) -> dict:
    sample: list = []
    if unexpected and rule.expectation in UNIQUENESS:
        unexpected, sample = _unexpected_values(con, rule)
    elif unexpected:
        sample = _unexpected_values(con, rule)[1] or [None] * min(unexpected, SAMPLE_SIZE)
    return {
        "element_count": total,
        "unexpected_count": int(unexpected),
        "unexpected_percent": unexpected * 100.0 / considered if considered else 0.0,
        "partial_unexpected_list": sample,
    }


def _rows_result(con, rule: Rule) -> dict:
    """A rule that is a query of its own: how many rows it returns, and the first of them."""
    query = rule.arguments["unexpected_rows_query"].format(batch=RELATION)
    cursor = con.execute(f"select * from ({query}) limit {SAMPLE_SIZE}")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    count = len(rows) if len(rows) < SAMPLE_SIZE else con.execute(f"select count(*) from ({query})").fetchone()[0]
    return {"observed_value": count, "details": {"unexpected_rows": rows}}


def _aggregate_pass(con, rules: list[Rule]) -> dict[str, Measured]:
    spans, expressions = [], ["count(*)"]
    for rule in rules:
        parts = _aggregates(rule)
        spans.append((len(expressions), len(parts)))
        expressions += parts
    row = con.execute(f"select {', '.join(expressions)} from {RELATION}").fetchone()
    answers = {}
    for rule, (start, size) in zip(rules, spans):
        figures = row[start : start + size]
        if rule.expectation == "ExpectTableRowCountToBeBetween":
            answers[rule.name] = Measured({"observed_value": figures[0]})
        else:
            answers[rule.name] = Measured(_column_result(con, rule, figures[0], figures[1], row[0]))
    return answers


def _measure_alone(con, rule: Rule) -> Measured:
    try:
        if rule.expectation == "UnexpectedRowsExpectation":
            return Measured(_rows_result(con, rule))
        return _aggregate_pass(con, [rule])[rule.name]
    except duckdb.Error as exc:
        return Measured({}, error=str(exc).splitlines()[0])


def measure(con: duckdb.DuckDBPyConnection, rules: list[Rule]) -> list[Measured]:
    """Each rule's answer over the relation `port` of the connection, in rule order."""
    try:
        answers = _aggregate_pass(con, [r for r in rules if r.expectation != "UnexpectedRowsExpectation"])
    except duckdb.Error:
        # A rule the engine cannot evaluate (a wrong type, say): each rule alone, so the error
        # lands on that rule and the others still answer.
        answers = {}
    return [answers.get(rule.name) or _measure_alone(con, rule) for rule in rules]
