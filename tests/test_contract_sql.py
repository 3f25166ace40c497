"""A contract's `sql` quality rule runs as what it claims to be: one read-only query of its port.

The hostile rules below once broke out of the audit's SQL (and wrote files into another domain's
folder), read /etc/passwd or another port's files, and put what they read into public manifests.
Each is refused when the contract loads, with its file, field and line; the audit's DuckDB session
reaches no file but the staged one even for a rule that got past the parser; and a rule's observed
value of a column classified above internal is never reported in clear. Real contracts (copied from
the customers domain) and real staged Parquet files, no mocks.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from platform_lib.descriptors.contract import load_contract
from platform_lib.descriptors.derived import Home
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.product import load_product
from platform_lib.quality.audit import REDACTED, audit, validate
from platform_lib.quality.rules import Rule, contract_rules
from platform_lib.settings import DOMAINS_DIR

PRODUCT = DOMAINS_DIR / "customers" / "products" / "customer_profiles"
CONTRACT = yaml.safe_load((PRODUCT / "customer_profiles.odcs.yaml").read_text())
# A column each: customer_key internal, name pii, nation_key public, account_balance restricted.
CLASSIFIED = {"nation_key": "public", "account_balance": "restricted"}
STAGED = """
    select * from (values
        (1::bigint, 'Customer#1', null::varchar, 7::integer, null::varchar, '11', 120.50::decimal(15,2), 'BUILDING', 'c1'),
        (2::bigint, 'Customer#2', null::varchar, 9::integer, null::varchar, '12', 99.00::decimal(15,2), 'MACHINERY', 'c2'))
    t(customer_key, name, address, nation_key, phone, phone_country_code, account_balance, market_segment, comment)
"""
ALLOWED = "a sql rule must be one read-only query (SELECT, WITH, UNION) whose only table is {object}"


def sql_rule(query: str, name: str = "hostile", **operator) -> dict:
    return {"name": name, "type": "sql", "query": query, **(operator or {"mustBe": 0})}


def write_contract(folder: Path, table_rules: list[dict] = (), column_rules: dict[str, list[dict]] | None = None) -> Path:
    """customer_profiles' contract, with these rules added to its table (after `not_empty`) and columns."""
    document = copy.deepcopy(CONTRACT)
    schema = document["schema"][0]
    schema["quality"] += table_rules
    for prop in schema["properties"]:
        prop["classification"] = CLASSIFIED.get(prop["name"], prop["classification"])
        prop.setdefault("quality", []).extend((column_rules or {}).get(prop["name"], []))
    path = folder / "customer_profiles.odcs.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=10_000))
    return path


# The staged file and the other port are read by the tests, written by none: made once for all.
@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("staging") / "staged.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY ({STAGED}) TO '{target}' (FORMAT parquet)")
    return target


@pytest.fixture(scope="module")
def other_port(tmp_path_factory) -> Path:
    """Another domain's published file, which no rule of this contract may read."""
    target = tmp_path_factory.mktemp("ports") / "finance" / "secret.parquet"
    target.parent.mkdir()
    with duckdb.connect() as con:
        con.execute(f"COPY (select 42 as secret) TO '{target}' (FORMAT parquet)")
    return target


def line_of(path: Path, text: str) -> int:
    (line,) = [n for n, written in enumerate(path.read_text().splitlines(), 1) if text in written]
    return line


def assert_refused(error: DescriptorError, path: Path, field: str, reason: str) -> None:
    (problem,) = error.problems
    assert (problem.file, problem.field, problem.line) == (path, field, line_of(path, "query:"))
    assert ALLOWED in problem.message and reason in problem.message, problem.message
    assert str(error).startswith(f"{path}:{problem.line}: {field}: ")


# (what the rule tries, its query, what the refusal says); {other} is another port's file,
# {written} a file no rule may write (next to it, in that other domain's folder).
HOSTILE = [
    ("break out of the audit's SQL", "select 0) as q(value); copy (select 42) to '{written}'; select * from (select 0", "it is not one valid DuckDB query"),
    ("break out of both of the audit's wrappers", "select 0) as q(value)) limit 5; copy (select 42) to '{written}'; select * from (select * from (select 0", "it is not one valid DuckDB query"),
    ("read /etc/passwd", "select count(*) from read_csv('/etc/passwd')", "it reads READ_CSV('/etc/passwd')"),
    ("read another port's file", "select max(secret) from read_parquet('{other}')", "it reads READ_PARQUET("),
    ("read a file named as a table", "select count(*) from '/etc/passwd'", 'it reads "/etc/passwd"'),
    ("read another table", "select count(*) from customers_v1", "it reads customers_v1"),
    ("read the port through a schema", "select count(*) from main.{object}", "it reads main.{object}"),
    ("read the catalog", "select count(*) from information_schema.tables", "it reads information_schema.tables"),
    ("read settings through a table function", "select count(*) from {object}, duckdb_settings()", "it reads DUCKDB_SETTINGS()"),
    ("glob in a join", "select count(*) from {object} join glob('/etc/*') on true", "it reads GLOB('/etc/*')"),
    ("a lateral table function", "select count(*) from {object}, lateral read_csv('/etc/passwd')", "it reads from READ_CSV('/etc/passwd')"),
    ("a table function in a scalar subquery", "select count(*) from {object} where 0 < (select count(*) from read_text('/etc/passwd'))", "it reads READ_TEXT("),
    ("SQL run by query()", "select * from query('copy (select 1) to ''{written}''')", "it reads QUERY("),
    ("a CTE name used outside its scope", 'select count(*) from (with "x.csv" as (select 1) select * from "x.csv") t, "x.csv"', 'it reads "x.csv"'),
    ("a CTE that reads its own name", 'with "/etc/passwd" as (select * from "/etc/passwd") select count(*) from "/etc/passwd"', 'it reads "/etc/passwd"'),
    ("two statements", "select count(*) from {object}; select 1", "it holds 2 statements"),
    ("nesting past the parser's stack", "select " + "(" * 2000 + "1" + ")" * 2000 + " from {object}", "it nests too deeply to be judged"),
    ("a newline ends a comment", "select count(*) from {object} -- x\n) as q(value)) limit 5; copy (select 1) to '{written}'; select * from (select * from (select 0", "it is not one valid DuckDB query"),
    ("a backslash does not escape a quote", "select count(*) from {object} where 'a\\' = ''; copy (select 1) to '{written}'; select ''", "it holds 3 statements"),
    ("copy", "copy (select * from {object}) to '{written}'", "it runs COPY, not a query"),
    ("attach", "attach '{written}' as x", "it runs ATTACH, not a query"),
    ("pragma", "pragma database_list", "it runs PRAGMA, not a query"),
    ("set", "set enable_external_access = true", "it runs SET, not a query"),
    ("install", "install httpfs", "it runs INSTALL, not a query"),
    ("load", "load httpfs", "it runs LOAD, not a query"),
    ("call", "call pragma_version()", "it runs CALL, not a query"),
    ("create", "create table t as select * from {object}", "it runs CREATE, not a query"),
    ("summarize", "summarize {object}", "it runs SUMMARIZE, not a query"),
]


@pytest.mark.unit
@pytest.mark.parametrize("query, reason", [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_a_hostile_rule_is_refused_at_load_and_runs_nothing(tmp_path, staged, other_port, query, reason):
    written = other_port.parent / f"planted-by-{tmp_path.name}.parquet"
    path = write_contract(tmp_path, [sql_rule(query.format(other=other_port, written=written, object="{object}"))])
    with pytest.raises(DescriptorError) as refused:
        audit(staged, load_contract(path))
    assert not written.exists()
    assert_refused(refused.value, path, "schema[0].quality[1].query", reason)


@pytest.mark.unit
def test_a_column_rule_is_refused_with_its_property_path(tmp_path):
    path = write_contract(tmp_path, column_rules={"phone": [sql_rule("select count(*) from read_csv('/etc/passwd') where {property} is null")]})
    with pytest.raises(DescriptorError) as refused:
        load_contract(path)
    assert_refused(refused.value, path, "schema[0].properties[4].quality[0].query", "it reads READ_CSV('/etc/passwd')")


@pytest.mark.unit
def test_loading_the_product_refuses_its_contract(tmp_path):
    """Products load their contracts both at `mesh check` and when a code location loads."""
    folder = tmp_path / PRODUCT.name
    shutil.copytree(PRODUCT, folder)
    path = write_contract(folder, [sql_rule("copy (select 1) to '/tmp/x.csv'")])
    with pytest.raises(DescriptorError) as refused:
        load_product(folder, Home("customers", PRODUCT.name))
    assert_refused(refused.value, path, "schema[0].quality[1].query", "it runs COPY, not a query")


@pytest.mark.unit
def test_ctes_subqueries_and_unions_over_the_port_are_accepted_and_run(tmp_path, staged):
    rules = [
        sql_rule("with rich as (select * from {object} where account_balance > 100) "
                 "select count(*) from rich where customer_key not in (select customer_key from {object})", "cte_and_subquery"),
        sql_rule("select count(*) from (select nation_key from {object} union all select nation_key from {object}) t where nation_key < 0", "union"),
        sql_rule("with recursive n(i) as (select 1 union all select i + 1 from n where i < 3) select count(*) - 3 from n", "recursive"),
        sql_rule("from ${object} select count(*) filter (where market_segment = 'NONE')", "from_first_and_dollar_placeholder"),
    ]
    path = write_contract(tmp_path, rules, {"nation_key": [sql_rule("select count(*) from {object} where {property} is null", "no_null_nation")]})
    outcomes = {o.name: o for o in audit(staged, load_contract(path))}
    # Each of them ran, beside the contract's own rules: a rule the audit left out would pass unseen.
    assert {"cte_and_subquery", "union", "recursive", "from_first_and_dollar_placeholder", "no_null_nation"} <= set(outcomes), sorted(outcomes)
    assert all(o.passed and o.error is None for o in outcomes.values()), outcomes


FILE_READS = [
    ("another port's file", "select secret from read_parquet('{other}')"),
    ("/etc/passwd", "select count(*) from read_csv('/etc/passwd')"),
    ("a file named as a table", "select count(*) from '{other}'"),
]


@pytest.mark.unit
@pytest.mark.parametrize("query", [q for _, q in FILE_READS], ids=[d for d, _ in FILE_READS])
def test_the_audit_session_reaches_no_file_but_the_staged_one(staged, other_port, query):
    """Were a rule to get past the parser, it errors instead of reading (and passing)."""
    rule = Rule("peek", "a rule that got past the parser", "UnexpectedRowsExpectation",
                {"unexpected_rows_query": f"select * from ({query.format(other=other_port)}) as q(value)"},
                measure="query_value", operator=("mustBeGreaterThan", 0))
    (result,) = validate(staged, [rule])
    assert "file system operations are disabled by configuration" in json.dumps(result.exception_info, default=str)


def test_the_gx_session_reaches_no_file_but_the_staged_one(staged, other_port):
    peek = Rule("peek", "a rule that got past the parser", "UnexpectedRowsExpectation",
                {"unexpected_rows_query": f"select * from {{batch}} where nation_key in (select secret from read_parquet('{other_port}'))"}, measure="observed_value")
    staged_rows = Rule("staged_rows", "the staged file is still read", "ExpectTableRowCountToBeBetween", {"min_value": 2, "max_value": 2}, measure="observed_value")
    peeked, counted = validate(staged, [peek, staged_rows], engine="gx")
    assert "file system operations are disabled by configuration" in json.dumps(peeked.exception_info, default=str)
    assert counted.success and counted.result["observed_value"] == 2


READS_CLASSIFIED = [
    ("a restricted column", [sql_rule("select max(account_balance) from {object}", "peek", mustBeGreaterThan=0)], {}),
    ("a pii column, by {property}", [], {"name": [sql_rule("select count(*) from {object} where {property} like 'Customer#%'", "peek", mustBeGreaterThan=0)]}),
    ("every column, by *", [sql_rule("select max(s.g) from (select * from {object}) s(a, b, c, d, e, f, g)", "peek", mustBeGreaterThan=0)], {}),
    ("every column, by COLUMNS()", [sql_rule("select max(columns('account_.*')) from {object}", "peek", mustBeGreaterThan=0)], {}),
    ("the whole row, by its alias", [sql_rule("select max(len(r::varchar)) from {object} r", "peek", mustBeGreaterThan=0)], {}),
    ("a column by position", [sql_rule("select max(#7) from {object}", "peek", mustBeGreaterThan=0)], {}),
]


@pytest.mark.unit
@pytest.mark.parametrize("table_rules, column_rules", [c[1:] for c in READS_CLASSIFIED], ids=[c[0] for c in READS_CLASSIFIED])
def test_observed_values_of_classified_columns_are_redacted(tmp_path, staged, table_rules, column_rules):
    from dagster import AssetKey

    from platform_lib.assets.ports import check_result

    outcome = {o.name: o for o in audit(staged, load_contract(write_contract(tmp_path, table_rules, column_rules)))}["peek"]
    assert outcome.passed
    assert outcome.to_dict()["observed"] == REDACTED
    assert check_result(AssetKey("port"), outcome, "v").metadata["observed"].value == REDACTED


@pytest.mark.unit
def test_a_public_columns_observed_value_is_reported(tmp_path, staged):
    path = write_contract(tmp_path, [sql_rule("select max(nation_key) from {object}", "peek", mustBe=9)])
    (rule,) = [r for r in contract_rules(load_contract(path)) if r.name == "peek"]
    outcome = {o.name: o for o in audit(staged, load_contract(path))}["peek"]
    assert rule.columns == ("nation_key",)
    assert outcome.passed and outcome.to_dict()["observed"] == 9


@pytest.mark.unit
def test_a_classified_columns_failing_rule_keeps_its_verdict_and_count_not_its_values(tmp_path, staged):
    path = write_contract(tmp_path, column_rules={"name": [{"name": "peek", "type": "library", "metric": "invalidValues", "arguments": {"validValues": ["nobody"]}, "mustBe": 0}]})
    outcome = {o.name: o for o in audit(staged, load_contract(path))}["peek"].to_dict()
    assert (outcome["passed"], outcome["unexpected_count"]) == (False, 2)
    assert outcome["observed"] == REDACTED and set(outcome["sample"]) == {REDACTED}


@pytest.mark.unit
def test_an_engine_message_quoting_a_classified_value_is_redacted(tmp_path, staged):
    path = write_contract(tmp_path, [sql_rule("select max(cast(name as integer)) from {object}", "peek")])
    outcome = {o.name: o for o in audit(staged, load_contract(path))}["peek"]
    assert not outcome.passed and outcome.error
    assert "Customer#" not in json.dumps(outcome.to_dict())


@pytest.mark.unit
def test_a_rule_ending_in_a_comment_runs(tmp_path, staged):
    """The audit's own SQL around the rule does not end up inside the author's trailing comment."""
    path = write_contract(tmp_path, [sql_rule("select count(*) from {object} where nation_key < 0 -- none below zero", "commented")])
    outcome = {o.name: o for o in audit(staged, load_contract(path))}["commented"]
    assert outcome.passed and outcome.error is None, outcome


@pytest.mark.unit
def test_a_rule_yielding_no_number_fails_alone_with_what_it_yielded(tmp_path, staged):
    path = write_contract(tmp_path, [sql_rule("select max(market_segment) from {object}", "segment")])
    outcomes = {o.name: o for o in audit(staged, load_contract(path))}
    assert not outcomes["segment"].passed and "MACHINERY" in outcomes["segment"].error and "not a number" in outcomes["segment"].error
    assert all(o.passed for name, o in outcomes.items() if name != "segment"), outcomes
