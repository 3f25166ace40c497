"""A contract's promises as rules: each becomes one blocking asset check on the port.

Rules are plain data (an expectation name and its arguments), built at definition load without
importing great-expectations; `quality.audit` runs them. Sources of rules, in the ODCS contract:
- schema properties: `unique`, `primaryKey` (also composite), `logicalTypeOptions`
  (minimum, maximum, pattern, minLength, maxLength); `required` is part of the schema check;
- `quality` of type `library` (nullValues, missingValues, invalidValues, duplicateValues, rowCount)
  with a `mustBe...` operator, in rows or percent;
- `quality` of type `sql`, whose `{object}` and `{property}` placeholders name the port and column;
  the loader has judged each one read-only query of the port (descriptors.contract_sql).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from platform_lib.descriptors.contract import Contract
from platform_lib.descriptors.contract_sql import SENTINEL, placed, query_columns

OPERATORS = (
    "mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo", "mustBeLessThan",
    "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween",
)
SCHEMA_CHECK = "schema"


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    expectation: str
    arguments: dict = field(default_factory=dict)
    # What the operator is applied to: the expectation's unexpected rows, or its observed value.
    measure: str = "unexpected_count"
    operator: tuple[str, Any] = ("mustBe", 0)
    unit: str = "rows"
    columns: tuple[str, ...] = ()


def check_name(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")[:60]


def passes(observed: float, operator: tuple[str, Any]) -> bool:
    op, value = operator
    match op:
        case "mustBe":
            return observed == value
        case "mustNotBe":
            return observed != value
        case "mustBeGreaterThan":
            return observed > value
        case "mustBeGreaterOrEqualTo":
            return observed >= value
        case "mustBeLessThan":
            return observed < value
        case "mustBeLessOrEqualTo":
            return observed <= value
        case "mustBeBetween":
            return value[0] <= observed <= value[1]
        case "mustNotBeBetween":
            return not value[0] <= observed <= value[1]
    raise ValueError(f"unknown operator {op}")


def _operator(entry: dict) -> tuple[str, Any]:
    return next((op, entry[op]) for op in OPERATORS if op in entry)


def _sql_literal(value: Any) -> str:
    if isinstance(value, (int, float)):
        return str(value)
    # GX formats queries with str.format: a literal brace (a regex quantifier) must be doubled.
    return "'" + str(value).replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"


def _library_rule(entry: dict, column: str | None) -> Rule:
    metric, args = entry["metric"], entry.get("arguments", {})
    name = check_name(entry.get("name") or f"{column or 'table'}_{metric}")
    common = dict(name=name, description=entry.get("description", metric), operator=_operator(entry), unit=entry.get("unit", "rows"))
    if metric == "rowCount":
        return Rule(expectation="ExpectTableRowCountToBeBetween", measure="observed_value", **common)
    if metric == "nullValues":
        return Rule(expectation="ExpectColumnValuesToNotBeNull", arguments={"column": column}, columns=(column,), **common)
    if metric == "missingValues":
        missing = [v for v in args.get("missingValues", [None, ""]) if v is not None]
        condition = f'"{column}" is null' + (f' or "{column}" in ({", ".join(map(_sql_literal, missing))})' if missing else "")
        query = f"select * from {{batch}} where {condition}"
        return Rule(expectation="UnexpectedRowsExpectation", arguments={"unexpected_rows_query": query}, measure="observed_value", columns=(column,), **common)
    if metric == "invalidValues":
        if "validValues" in args:
            return Rule(expectation="ExpectColumnValuesToBeInSet", arguments={"column": column, "value_set": args["validValues"]}, columns=(column,), **common)
        query = f"select * from {{batch}} where not regexp_full_match(\"{column}\", {_sql_literal(args['pattern'])})"
        return Rule(expectation="UnexpectedRowsExpectation", arguments={"unexpected_rows_query": query}, measure="observed_value", columns=(column,), **common)
    if metric == "duplicateValues":
        columns = args.get("properties") or [column]
        if len(columns) == 1:
            return Rule(expectation="ExpectColumnValuesToBeUnique", arguments={"column": columns[0]}, columns=tuple(columns), **common)
        return Rule(expectation="ExpectCompoundColumnsToBeUnique", arguments={"column_list": list(columns)}, columns=tuple(columns), **common)
    raise ValueError(f"unsupported library metric {metric}")


def _sql_rule(entry: dict, column: str | None, columns: tuple[str, ...]) -> Rule:
    # Every other brace is the author's (a regex, a literal): doubled, as GX formats the query.
    query = placed(entry["query"], column, SENTINEL).replace("{", "{{").replace("}", "}}").replace(SENTINEL, "{batch}")
    op, value = _operator(entry)
    return Rule(
        name=check_name(entry.get("name") or f"{column or 'table'}_sql"),
        description=entry.get("description", entry["query"]),
        expectation="UnexpectedRowsExpectation",
        # The query yields one value; it is "unexpected" when the contract's operator rejects it.
        # The newline ends a trailing comment of the author's before the wrapper's parenthesis.
        arguments={"unexpected_rows_query": f"select * from ({query}\n) as q(value)"},
        measure="query_value",
        operator=(op, value),
        # Judged when the contract loaded (this is that judgement, cached): the columns it reads.
        columns=query_columns(entry["query"], column, columns),
    )


def _quality_rules(entries: list[dict], column: str | None, columns: tuple[str, ...]) -> list[Rule]:
    rules = []
    for entry in entries:
        kind = entry.get("type", "library")
        if kind == "library" or "metric" in entry:
            rules.append(_library_rule(entry, column))
        elif kind == "sql":
            rules.append(_sql_rule(entry, column, columns))
        # `text` rules are for people and `custom` rules for other engines: nothing to run here.
    return rules


def _schema_rules(contract: Contract, columns: tuple[str, ...]) -> list[Rule]:
    rules = []
    keys = sorted((p for p in contract.schema_object["properties"] if p.get("primaryKey")), key=lambda p: p.get("primaryKeyPosition", 0))
    if len(keys) > 1:
        names = [k["name"] for k in keys]
        rules.append(Rule("primary_key", f"({', '.join(names)}) identifies each row.", "ExpectCompoundColumnsToBeUnique", {"column_list": names}, columns=tuple(names)))
    for prop in contract.schema_object["properties"]:
        column = prop["name"]
        if prop.get("unique") or (prop.get("primaryKey") and len(keys) == 1):
            rules.append(Rule(f"{column}_unique", f"{column} is unique.", "ExpectColumnValuesToBeUnique", {"column": column}, columns=(column,)))
        options = prop.get("logicalTypeOptions", {})
        if "minimum" in options or "maximum" in options:
            bounds = {"min_value": options.get("minimum"), "max_value": options.get("maximum")}
            rules.append(Rule(f"{column}_range", f"{column} is within [{bounds['min_value']}, {bounds['max_value']}].",
                              "ExpectColumnValuesToBeBetween", {"column": column, **bounds}, columns=(column,)))
        if "minLength" in options or "maxLength" in options:
            bounds = {"min_value": options.get("minLength"), "max_value": options.get("maxLength")}
            rules.append(Rule(f"{column}_length", f"{column} length is within [{bounds['min_value']}, {bounds['max_value']}].",
                              "ExpectColumnValueLengthsToBeBetween", {"column": column, **bounds}, columns=(column,)))
        if "pattern" in options:
            query = f"select * from {{batch}} where not regexp_full_match(\"{column}\", {_sql_literal(options['pattern'])})"
            rules.append(Rule(f"{column}_pattern", f"{column} matches {options['pattern']}.", "UnexpectedRowsExpectation",
                              {"unexpected_rows_query": query}, measure="observed_value", columns=(column,)))
        rules += _quality_rules(prop.get("quality", []), column, columns)
    return rules


def contract_rules(contract: Contract) -> list[Rule]:
    """Every rule of a contract, in contract order, with unique check names."""
    columns = tuple(c.name for c in contract.columns)
    rules = _schema_rules(contract, columns) + _quality_rules(contract.schema_object.get("quality", []), None, columns)
    seen: dict[str, int] = {}
    unique = []
    for rule in rules:
        n = seen.get(rule.name, 0)
        seen[rule.name] = n + 1
        unique.append(rule if n == 0 else Rule(**{**rule.__dict__, "name": f"{rule.name}_{n + 1}"}))
    return unique
