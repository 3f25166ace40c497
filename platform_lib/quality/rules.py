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

from platform_lib.descriptors.contract import Contract, QualityRule
from platform_lib.descriptors.contract_sql import SENTINEL, placed, query_columns

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


def _sql_literal(value: Any) -> str:
    if isinstance(value, (int, float)):
        return str(value)
    # GX formats queries with str.format: a literal brace (a regex quantifier) must be doubled.
    return "'" + str(value).replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"


def _library_rule(quality: QualityRule, column: str | None) -> Rule:
    metric, args = quality.metric, quality.arguments
    name = check_name(quality.name or f"{column or 'table'}_{metric}")
    common = dict(name=name, description=quality.description or metric, operator=quality.operator, unit=quality.unit)
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


def _sql_rule(quality: QualityRule, column: str | None, columns: tuple[str, ...]) -> Rule:
    # Every other brace is the author's (a regex, a literal): doubled, as GX formats the query.
    query = placed(quality.query, column, SENTINEL).replace("{", "{{").replace("}", "}}").replace(SENTINEL, "{batch}")
    return Rule(
        name=check_name(quality.name or f"{column or 'table'}_sql"),
        description=quality.description or quality.query,
        expectation="UnexpectedRowsExpectation",
        # The query yields one value; it is "unexpected" when the contract's operator rejects it.
        # The newline ends a trailing comment of the author's before the wrapper's parenthesis.
        arguments={"unexpected_rows_query": f"select * from ({query}\n) as q(value)"},
        measure="query_value",
        operator=quality.operator,
        # Judged when the contract loaded (this is that judgement, cached): the columns it reads.
        columns=query_columns(quality.query, column, columns),
    )


def _quality_rules(written: tuple[QualityRule, ...], column: str | None, columns: tuple[str, ...]) -> list[Rule]:
    rules = []
    for quality in written:
        if quality.type == "library" or quality.metric is not None:
            rules.append(_library_rule(quality, column))
        elif quality.type == "sql":
            rules.append(_sql_rule(quality, column, columns))
        # `text` rules are for people and `custom` rules for other engines: nothing to run here.
    return rules


def _schema_rules(contract: Contract, columns: tuple[str, ...]) -> list[Rule]:
    rules = []
    keys = contract.primary_key
    if len(keys) > 1:
        rules.append(Rule("primary_key", f"({', '.join(keys)}) identifies each row.", "ExpectCompoundColumnsToBeUnique", {"column_list": list(keys)}, columns=keys))
    for col in contract.columns:
        column = col.name
        if col.unique or (col.primary_key and len(keys) == 1):
            rules.append(Rule(f"{column}_unique", f"{column} is unique.", "ExpectColumnValuesToBeUnique", {"column": column}, columns=(column,)))
        options = col.type_options
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
        rules += _quality_rules(col.quality, column, columns)
    return rules


def contract_rules(contract: Contract) -> list[Rule]:
    """Every rule of a contract, in contract order, with unique check names."""
    columns = tuple(c.name for c in contract.columns)
    rules = _schema_rules(contract, columns) + _quality_rules(contract.quality, None, columns)
    seen: dict[str, int] = {}
    unique = []
    for rule in rules:
        n = seen.get(rule.name, 0)
        seen[rule.name] = n + 1
        unique.append(rule if n == 0 else Rule(**{**rule.__dict__, "name": f"{rule.name}_{n + 1}"}))
    return unique
