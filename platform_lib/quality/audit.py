"""The audit of a staged port version: the schema check with pyarrow, then every contract rule as
a great-expectations 1.x expectation, with GX's semantics and result format.

DuckDB computes the expectations it knows (quality.metrics: one aggregate pass over the file, held
to GX's own answers by tests/test_quality.py); any other expectation, and every one when asked for
(`engine="gx"`), is validated by GX itself on DuckDB, so the engine computes each answer within its
memory limit and no table is pulled into pandas.

GX's SQL engine returns query results after closing the connection that produced them; DuckDB's
driver does not buffer, so every metric silently came back empty and every expectation failed
(GX issues 10738, 11579). `_buffered_execute_query` buffers the rows before the connection closes.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from platform_lib.descriptors.contract import Contract
from platform_lib.quality.metrics import COMPUTED, RELATION, SAMPLE_SIZE, Measured, measure
from platform_lib.quality.rules import SCHEMA_CHECK, Rule, contract_rules, passes
from platform_lib.quality.schema import schema_mismatches
from platform_lib.settings import audit_memory_limit
from platform_lib.sql import fence, sql_string

REDACTED = "<redacted: pii>"
# The classifications whose values an outcome may show: outcomes become check metadata and the
# published snapshot's facts, which readers of the port's metadata see.
CLEAR = ("public", "internal")


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    observed: Any = None
    unexpected_count: int | None = None
    sample: tuple = ()
    error: str | None = None

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=_jsonable))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _buffered_execute_query(self, query):
    with self.get_connection() as connection:
        return self._execute_query_with_recovery(connection, query).freeze()()


@contextmanager
def _gx_batch(parquet: Path, memory_limit: str):
    """A GX batch over the staged file, through a DuckDB view in a scratch database."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine

    SqlAlchemyExecutionEngine.execute_query = _buffered_execute_query
    with tempfile.TemporaryDirectory(dir=parquet.parent) as scratch:
        database = Path(scratch) / "audit.duckdb"
        with duckdb.connect(str(database)) as con:
            con.execute(f"create view {RELATION} as select * from read_parquet({sql_string(parquet)})")
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_sql(
            name="staged",
            connection_string=f"duckdb:///{database}",
            kwargs={"connect_args": {"config": {"memory_limit": memory_limit}}},
        )
        # The fence is the database's, not one connection's: every connection GX opens with this
        # configuration joins the database this one keeps open, fenced. DuckDB refuses one with
        # another configuration (the expectation errors) rather than open it unfenced.
        with source.get_engine().connect() as session:
            fence(session.exec_driver_sql, [str(parquet)])
            yield source.add_table_asset(name="port", table_name="port").add_batch_definition_whole_table("all").get_batch()
        context.data_sources.delete("staged")


def _redacted(outcome: CheckOutcome, rule: Rule, classified: set[str]) -> CheckOutcome:
    """The outcome without a value of a classified column the rule reads: its verdict and count of
    unexpected rows stay; what it observed, its sample and the engine's message (a conversion error
    quotes the value) go."""
    if not classified.intersection(rule.columns):
        return outcome
    return replace(
        outcome,
        observed=None if outcome.observed is None else REDACTED,
        sample=tuple(REDACTED for _ in outcome.sample),
        error=outcome.error and f"{REDACTED}: the rule raised; its message may quote values of classified columns",
    )


def _raised(info: dict | None) -> str | None:
    """GX reports a metric that raised either at the top of exception_info or per metric inside it;
    either way the expectation measured nothing and must not pass."""
    if not info:
        return None
    if info.get("raised_exception"):
        return info.get("exception_message") or "the expectation raised"
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message") or "a metric raised"
    return None


def _validate(batch, rules: list[Rule]) -> list:
    """All rules as one expectation suite: GX bundles their metrics into few queries. It returns
    results in an order of its own, so each expectation carries its rule's name in `meta`."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    expectations = [getattr(gxe, r.expectation)(**r.arguments, meta={"rule": r.name}) for r in rules]
    validation = batch.validate(gx.ExpectationSuite(name="contract", expectations=expectations),
                                result_format={"result_format": "COMPLETE", "partial_unexpected_count": SAMPLE_SIZE})
    by_rule = {result.expectation_config.meta["rule"]: result for result in validation.results}
    return [by_rule[r.name] for r in rules]


def _outcome(result, rule: Rule, row_count: int) -> CheckOutcome:
    error = _raised(result.exception_info)
    if error:
        return CheckOutcome(rule.name, False, rule.description, error=error)
    details = result.result
    if rule.measure == "query_value":
        rows = details.get("details", {}).get("unexpected_rows") or []
        value = next(iter(rows[0].values())) if rows else None
        try:
            ok = value is not None and passes(float(value), rule.operator)
        except (TypeError, ValueError):
            return CheckOutcome(rule.name, False, rule.description, observed=value, error=f"the query yielded {value!r}, not a number")
        return CheckOutcome(rule.name, ok, rule.description, observed=value)
    if rule.measure == "observed_value" and rule.expectation == "UnexpectedRowsExpectation":
        if details.get("observed_value") is None:
            return CheckOutcome(rule.name, False, rule.description, error="the query measured nothing")
        count = int(details["observed_value"])
        sample = [list(r.values())[0] if len(r) == 1 else r for r in details.get("details", {}).get("unexpected_rows") or []]
        measured = count * 100.0 / row_count if rule.unit == "percent" and row_count else count
        return CheckOutcome(rule.name, passes(measured, rule.operator), rule.description, measured, count, tuple(sample[:SAMPLE_SIZE]))
    if rule.measure == "observed_value":
        observed = details.get("observed_value")
        if observed is None:
            return CheckOutcome(rule.name, False, rule.description, error="the expectation measured nothing")
        return CheckOutcome(rule.name, passes(observed, rule.operator), rule.description, observed)
    count = int(details.get("unexpected_count") or 0)
    measured = details.get("unexpected_percent", 0.0) if rule.unit == "percent" else count
    sample = tuple(details.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]
    return CheckOutcome(rule.name, passes(measured, rule.operator), rule.description, measured, count, sample)


def _measured(parquet: Path, rules: list[Rule], memory_limit: str) -> list[Measured]:
    """Answers of the rules DuckDB computes (quality.metrics), in one session over the file."""
    with duckdb.connect(config={"memory_limit": memory_limit}) as con:
        con.execute(f"create view {RELATION} as select * from read_parquet({sql_string(parquet)})")
        # A rule that got past the contract's parser can read, write, attach or load nothing else.
        fence(con.execute, [str(parquet)])
        return measure(con, rules)


def validate(parquet: Path, rules: list[Rule], engine: str = "duckdb", memory_limit: str | None = None) -> list:
    """Each rule's result in GX's terms (`result`, `exception_info`), in rule order: computed by
    DuckDB where it knows the expectation, validated by GX otherwise (or every rule, engine="gx"),
    either way in a session of `memory_limit` (the settings' audit limit by default).
    The computed path does not import GX: its import alone (about 3 s) would cost an auditing
    process more than every check of a 6-million-row port."""
    memory_limit = memory_limit or audit_memory_limit()
    computed = [r for r in rules if engine == "duckdb" and r.expectation in COMPUTED]
    validated = [r for r in rules if r not in computed]
    results = dict(zip((r.name for r in computed), _measured(parquet, computed, memory_limit) if computed else []))
    if validated:
        with _gx_batch(parquet, memory_limit) as batch:
            results |= dict(zip((r.name for r in validated), _validate(batch, validated)))
    return [results[r.name] for r in rules]


def audit(parquet: Path, contract: Contract, engine: str = "duckdb", memory_limit: str | None = None) -> list[CheckOutcome]:
    """Every check of the contract on a staged file: the schema first, then each rule."""
    mismatches = schema_mismatches(parquet, contract)
    outcomes = [CheckOutcome(SCHEMA_CHECK, not mismatches, "Columns, types and required values match the contract.", observed="; ".join(mismatches) or "matches")]
    if mismatches:
        # Rules name columns the schema may no longer have: report them as not run.
        return outcomes + [CheckOutcome(r.name, False, r.description, error="not run: the schema check failed") for r in contract_rules(contract)]
    row_count = pq.read_metadata(parquet).num_rows
    classified = {c.name for c in contract.columns if c.classification not in CLEAR}
    rules = contract_rules(contract)
    outcomes += [_redacted(_outcome(result, rule, row_count), rule, classified) for result, rule in zip(validate(parquet, rules, engine, memory_limit), rules, strict=True)]
    return outcomes
