"""Contract rules run by great-expectations on DuckDB, on small files made here: each rule kind
passes on good data and fails on bad, and a rule GX cannot run fails instead of passing."""

from __future__ import annotations

import copy

import duckdb
import pytest
import yaml

from platform_lib.descriptors.contract import OPERATORS, load_contract
from platform_lib.quality.audit import REDACTED, audit
from platform_lib.quality.rules import contract_rules, passes

CONTRACT = {
    "apiVersion": "v3.1.0", "kind": "DataContract", "id": "urn:mesh:contract:test:t", "version": "1.0.0", "status": "active",
    "description": {"purpose": "test"},
    "schema": [{
        "name": "t", "physicalName": "t", "logicalType": "object",
        "properties": [
            {"name": "k1", "logicalType": "integer", "physicalType": "INTEGER", "description": "key", "required": True, "primaryKey": True, "primaryKeyPosition": 1},
            {"name": "k2", "logicalType": "integer", "physicalType": "INTEGER", "description": "key", "required": True, "primaryKey": True, "primaryKeyPosition": 2},
            {"name": "amount", "logicalType": "number", "physicalType": "DOUBLE", "description": "amount", "logicalTypeOptions": {"minimum": 0, "maximum": 100}},
            {"name": "code", "logicalType": "string", "physicalType": "VARCHAR", "description": "code", "classification": "pii",
             "logicalTypeOptions": {"pattern": "^[A-Z]{2}$"},
             "quality": [
                 {"name": "code_known", "type": "library", "metric": "invalidValues", "arguments": {"validValues": ["AA", "BB"]}, "mustBe": 0},
                 {"name": "code_mostly_present", "type": "library", "metric": "missingValues", "arguments": {"missingValues": ["", "NA"]}, "mustBeLessOrEqualTo": 10, "unit": "percent"},
                 {"name": "code_nulls", "type": "library", "metric": "nullValues", "mustBeLessThan": 2},
             ]},
        ],
        "quality": [
            {"name": "size", "type": "library", "metric": "rowCount", "mustBeBetween": [2, 10]},
            {"name": "no_duplicate_pairs", "type": "library", "metric": "duplicateValues", "arguments": {"properties": ["k1", "k2"]}, "mustBe": 0},
            {"name": "total_small", "type": "sql", "query": "select sum(amount) from {object}", "mustBeLessThan": 200},
        ],
    }],
}

GOOD = "select * from (values (1, 1, 10.0, 'AA'), (1, 2, 20.0, 'BB'), (2, 1, 30.0, 'AA')) t(k1, k2, amount, code)"


def contract_with(tmp_path, *table_rules):
    data = copy.deepcopy(CONTRACT)
    data["schema"][0]["quality"] += table_rules
    path = tmp_path / "t.odcs.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_contract(path)


@pytest.fixture
def contract(tmp_path):
    return contract_with(tmp_path)


def outcomes(tmp_path, contract, select: str) -> dict:
    target = tmp_path / "staged.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet)")
    return {o.name: o for o in audit(target, contract)}


@pytest.mark.unit
def test_good_data_passes_every_rule(tmp_path, contract):
    results = outcomes(tmp_path, contract, GOOD.replace("10.0", "cast(10.0 as double)"))
    assert {name: o.passed for name, o in results.items()} == {name: True for name in results}, results
    assert set(results) == {"schema", "primary_key", "amount_range", "code_pattern", "code_known", "code_mostly_present", "code_nulls", "size", "no_duplicate_pairs", "total_small"}


GOOD_ROWS = "(1, 1, 10.0, 'AA'), (1, 2, 20.0, 'BB'), (2, 1, 30.0, 'AA')"
BAD = [
    ("(1, 1, 10.0, 'AA'), (1, 1, 20.0, 'BB'), (2, 1, 30.0, 'AA')", {"primary_key", "no_duplicate_pairs"}),
    ("(1, 1, 10.0, 'AA'), (1, 2, 200.0, 'BB'), (2, 1, 30.0, 'AA')", {"amount_range", "total_small"}),
    ("(1, 1, 10.0, 'AA'), (1, 2, 20.0, 'B1'), (2, 1, 30.0, 'AA')", {"code_pattern", "code_known"}),
    ("(1, 1, 10.0, 'NA'), (1, 2, 20.0, null), (2, 1, 30.0, null)", {"code_mostly_present", "code_nulls", "code_known"}),
    ("(1, 1, 10.0, 'AA')", {"size"}),
]


@pytest.mark.unit
@pytest.mark.parametrize("bad, failing", BAD)
def test_each_rule_fails_on_bad_data(tmp_path, contract, bad, failing):
    select = f"select k1, k2, cast(amount as double) as amount, code from (values {bad}) t(k1, k2, amount, code)"
    results = outcomes(tmp_path, contract, select)
    assert {name for name, o in results.items() if not o.passed} == failing


@pytest.mark.parametrize("rows", [GOOD_ROWS, *(bad for bad, _ in BAD)])
def test_duckdb_answers_as_gx_itself_does(tmp_path, contract, rows):
    """The one-pass DuckDB audit and GX's own validation give every rule the same verdict, figure
    and failing sample, on good data and on each kind of bad data."""
    target = tmp_path / "staged.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (select k1, k2, cast(amount as double) as amount, code from (values {rows}) t(k1, k2, amount, code)) TO '{target}' (FORMAT parquet)")
    fast, reference = audit(target, contract), audit(target, contract, engine="gx")

    def seen(o):
        return o.name, o.passed, o.observed, o.unexpected_count, sorted(map(str, o.sample)), o.error

    assert [seen(o) for o in fast] == [seen(o) for o in reference]


@pytest.mark.unit
def test_failing_samples_of_pii_columns_are_redacted(tmp_path, contract):
    select = "select k1, k2, cast(amount as double) as amount, code from (values (1, 1, 1.0, 'zz'), (1, 2, 2.0, 'AA')) t(k1, k2, amount, code)"
    result = outcomes(tmp_path, contract, select)["code_pattern"]
    assert not result.passed and result.unexpected_count == 1 and set(result.sample) == {REDACTED}


@pytest.mark.unit
def test_schema_check_names_the_exact_mismatch(tmp_path, contract):
    select = "select k1, k2, amount, code from (values (1, null, 1.5, 'AA')) t(k1, k2, amount, code)"
    (schema, *rest) = audit_list(tmp_path, contract, select)
    assert not schema.passed
    assert schema.observed == "k2: 1 null value(s) in a required column; amount: physical type decimal128(2, 1), contract says DOUBLE (double)"
    assert all(not o.passed and o.error == "not run: the schema check failed" for o in rest)


def audit_list(tmp_path, contract, select):
    target = tmp_path / "staged.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet)")
    return audit(target, contract)


@pytest.mark.unit
def test_a_rule_gx_cannot_run_fails(tmp_path):
    contract = contract_with(tmp_path, {"name": "broken", "type": "sql", "query": "select count(*) from {object} where nope > 0", "mustBe": 0})
    result = outcomes(tmp_path, contract, GOOD.replace("10.0", "cast(10.0 as double)"))["broken"]
    assert not result.passed and result.error


@pytest.mark.unit
def test_operators():
    cases = {
        "mustBe": (3, 3, 4), "mustNotBe": (3, 4, 3), "mustBeGreaterThan": (3, 4, 3), "mustBeGreaterOrEqualTo": (3, 3, 2),
        "mustBeLessThan": (3, 2, 3), "mustBeLessOrEqualTo": (3, 3, 4), "mustBeBetween": ([1, 3], 2, 4), "mustNotBeBetween": ([1, 3], 4, 2),
    }
    assert set(cases) == set(OPERATORS)
    for op, (value, good, bad) in cases.items():
        assert passes(good, (op, value)) and not passes(bad, (op, value)), op


@pytest.mark.unit
def test_each_contract_promise_becomes_its_expectation(contract):
    """Schema properties first, in column order with each column's quality rules after them, then the
    table's rules. Queries are GX format strings: {batch} is the port, any other brace is doubled."""
    rules = [(r.name, r.expectation, r.arguments, r.measure, r.operator, r.unit, r.columns) for r in contract_rules(contract)]
    assert rules == [
        ("primary_key", "ExpectCompoundColumnsToBeUnique", {"column_list": ["k1", "k2"]}, "unexpected_count", ("mustBe", 0), "rows", ("k1", "k2")),
        ("amount_range", "ExpectColumnValuesToBeBetween", {"column": "amount", "min_value": 0, "max_value": 100},
         "unexpected_count", ("mustBe", 0), "rows", ("amount",)),
        ("code_pattern", "UnexpectedRowsExpectation", {"unexpected_rows_query": "select * from {batch} where not regexp_full_match(\"code\", '^[A-Z]{{2}}$')"},
         "observed_value", ("mustBe", 0), "rows", ("code",)),
        ("code_known", "ExpectColumnValuesToBeInSet", {"column": "code", "value_set": ["AA", "BB"]}, "unexpected_count", ("mustBe", 0), "rows", ("code",)),
        ("code_mostly_present", "UnexpectedRowsExpectation", {"unexpected_rows_query": "select * from {batch} where \"code\" is null or \"code\" in ('', 'NA')"},
         "observed_value", ("mustBeLessOrEqualTo", 10), "percent", ("code",)),
        ("code_nulls", "ExpectColumnValuesToNotBeNull", {"column": "code"}, "unexpected_count", ("mustBeLessThan", 2), "rows", ("code",)),
        ("size", "ExpectTableRowCountToBeBetween", {}, "observed_value", ("mustBeBetween", [2, 10]), "rows", ()),
        ("no_duplicate_pairs", "ExpectCompoundColumnsToBeUnique", {"column_list": ["k1", "k2"]}, "unexpected_count", ("mustBe", 0), "rows", ("k1", "k2")),
        ("total_small", "UnexpectedRowsExpectation", {"unexpected_rows_query": "select * from (select sum(amount) from {batch}\n) as q(value)"},
         "query_value", ("mustBeLessThan", 200), "rows", ("amount",)),
    ]


@pytest.mark.unit
def test_rules_of_one_name_get_distinct_check_names(tmp_path):
    contract = contract_with(tmp_path, *[{"name": "size", "type": "library", "metric": "rowCount", "mustBeGreaterThan": 0}] * 2)
    assert [r.name for r in contract_rules(contract)][-3:] == ["total_small", "size_2", "size_3"]
