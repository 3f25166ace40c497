"""Column lineage from the models' compiled SQL: each TPC-H product's columns traced to the ports they
read and on, across domains, to the operational sources, held to expectations checked by hand
against the SQL; and each kind of derivation told apart."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from platform_lib.dbt.manifest import load_manifest
from platform_lib.lineage.columns import domain_lineage
from platform_lib.lineage.graph import column_graph, parse_column
from platform_lib.mesh import load_mesh

pytestmark = pytest.mark.unit

LINEITEM, NATION, CUSTOMER = "sales/operational/lineitem", "customers/operational/nation", "customers/operational/customer"
LINE_ITEMS, ORDERS = "sales/line_items_v1", "sales/orders_v1"
PROFILES, FULL = "customers/customer_profiles_v1", "customers/customer_profiles_full_v1"
REVENUE = {(LINE_ITEMS, "discount", "aggregated"), (LINE_ITEMS, "extended_price", "aggregated")}

# Port -> column -> {(input, column, kind)}: what each output column is made of, read off the SQL.
EXPECTED = {
    # TPC-H Q1, from sales' own operational lineitem through stg_lineitem.
    "sales.pricing_summary_v1": {
        "l_returnflag": {(LINEITEM, "l_returnflag", "copied")},
        "l_linestatus": {(LINEITEM, "l_linestatus", "copied")},
        "sum_qty": {(LINEITEM, "l_quantity", "aggregated")},
        "sum_base_price": {(LINEITEM, "l_extendedprice", "aggregated")},
        "sum_disc_price": {(LINEITEM, "l_extendedprice", "aggregated"), (LINEITEM, "l_discount", "aggregated")},
        "sum_charge": {(LINEITEM, "l_extendedprice", "aggregated"), (LINEITEM, "l_discount", "aggregated"), (LINEITEM, "l_tax", "aggregated")},
        "avg_qty": {(LINEITEM, "l_quantity", "aggregated")},
        "avg_price": {(LINEITEM, "l_extendedprice", "aggregated")},
        "avg_disc": {(LINEITEM, "l_discount", "aggregated")},
        "count_order": set(),
    },
    # TPC-H Q3.
    "finance.shipping_priority_v1": {
        "l_orderkey": {(LINE_ITEMS, "order_key", "copied")},
        "revenue": REVENUE,
        "o_orderdate": {(ORDERS, "order_date", "copied")},
        "o_shippriority": {(ORDERS, "ship_priority", "copied")},
    },
    # TPC-H Q5.
    "finance.revenue_by_nation_v1": {
        "n_name": {("customers/geography_v2", "nation", "copied")},
        "revenue": REVENUE,
    },
    # TPC-H Q10: personal data from the restricted port finance is granted.
    "finance.returned_item_report_v1": {
        "c_custkey": {(FULL, "customer_key", "copied")},
        "c_name": {(FULL, "name", "copied")},
        "revenue": REVENUE,
        "c_acctbal": {(FULL, "account_balance", "copied")},
        "n_name": {("customers/geography_v1", "nation_name", "copied")},
        "c_address": {(FULL, "address", "copied")},
        "c_phone": {(FULL, "phone", "copied")},
        "c_comment": {(FULL, "comment", "copied")},
    },
    # TPC-H Q13: a count of orders per customer publishes no order key.
    "marketing.customer_order_distribution_v1": {
        "c_count": {(ORDERS, "order_key", "counted")},
        "custdist": set(),
    },
    # TPC-H Q22.
    "marketing.global_sales_opportunity_v1": {
        "cntrycode": {(PROFILES, "phone_country_code", "copied")},
        "numcust": set(),
        "totacctbal": {(PROFILES, "account_balance", "aggregated")},
    },
}


@pytest.fixture(scope="module")
def graph():
    return column_graph(load_mesh(), load_manifest)


def _key(text: str) -> tuple[str, ...]:
    return tuple(text.split("/"))


@pytest.mark.parametrize("port", sorted(EXPECTED))
def test_each_tpch_port_column_comes_from_what_its_sql_says(graph, port):
    key = tuple(port.split("."))
    assert key not in graph.errors
    traced = {column: {("/".join(d.key), d.column, d.kind) for d in graph.inputs[key, column]} for column in EXPECTED[port]}
    assert traced == EXPECTED[port]
    # Every column of the port is traced, none more.
    assert {c for (k, c) in graph.inputs if k == key} == set(EXPECTED[port])


def test_q3_rows_are_filtered_and_joined_on_the_columns_of_its_where_and_on(graph):
    rows = {("/".join(d.key), d.column, d.kind) for d in graph.rows["finance", "shipping_priority_v1"]}
    assert rows == {
        (PROFILES, "customer_key", "joined"), (PROFILES, "market_segment", "filtered"),
        (ORDERS, "customer_key", "joined"), (ORDERS, "order_key", "joined"), (ORDERS, "order_date", "filtered"),
        (LINE_ITEMS, "order_key", "joined"), (LINE_ITEMS, "ship_date", "filtered"),
    }


def test_q5_revenue_walks_across_domains_down_to_the_operational_source(graph):
    walk = [(s.depth, "/".join(s.dep.key), s.dep.column, s.dep.kind) for s in graph.upstream(parse_column("finance.revenue_by_nation_v1.revenue"))]
    assert walk == [
        (1, LINE_ITEMS, "discount", "aggregated"), (2, LINEITEM, "l_discount", "copied"),
        (1, LINE_ITEMS, "extended_price", "aggregated"), (2, LINEITEM, "l_extendedprice", "copied"),
    ]
    nation = [(s.depth, "/".join(s.dep.key), s.dep.column) for s in graph.upstream(parse_column("finance.revenue_by_nation_v1.n_name"))]
    assert nation == [(1, "customers/geography_v2", "nation"), (2, NATION, "n_name")]


def test_a_dropped_sales_column_reaches_every_consumer_column_derived_from_it(graph):
    readers = {("/".join(s.dep.key), s.dep.column, s.dep.kind) for s in graph.downstream(parse_column("sales.line_items_v1.discount"))}
    assert readers == {
        ("finance/returned_item_report_v1", "revenue", "aggregated"),
        ("finance/revenue_by_nation_v1", "revenue", "aggregated"),
        ("finance/shipping_priority_v1", "revenue", "aggregated"),
    }
    # Q22's country code is a substring of the phone, made inside customers.
    assert {("/".join(d.key), d.column, d.kind) for d in graph.inputs[("customers", "customer_profiles_v1"), "phone_country_code"]} == {
        (CUSTOMER, "c_phone", "transformed")}


def _lineage_of(sql: str) -> dict[str, set[tuple[str, str]]]:
    """One model of a one-model domain over a source `people(name, city, age)`."""
    manifest = {
        "sources": {"source.d.raw.people": {
            "package_name": "d", "relation_name": '"d"."raw"."people"', "columns": {},
            "config": {"meta": {"dagster": {"asset_key": ["d", "operational", "people"]}}},
        }},
        "nodes": {"model.d.m": {"resource_type": "model", "name": "m", "package_name": "d", "relation_name": '"d"."main"."m"',
                                "depends_on": {"nodes": ["source.d.raw.people"]}, "compiled_code": sql}},
    }
    traced = domain_lineage(SimpleNamespace(name="d", engine="duckdb"), manifest, {("d", "operational", "people"): ["name", "city", "age"]})["m"]
    assert traced.error is None, traced.error
    return {column: {(d.column, d.kind) for d in deps} for column, deps in traced.columns.items()}


PEOPLE = '"d"."raw"."people"'


@pytest.mark.parametrize("sql, expected", [
    (f"select name as who from {PEOPLE}", {"who": {("name", "copied")}}),
    (f"with c as (select name as n from {PEOPLE}) select n as who from c", {"who": {("name", "copied")}}),
    (f"select upper(name) || city as who from {PEOPLE}", {"who": {("name", "transformed"), ("city", "transformed")}}),
    (f"select max(name) as who from {PEOPLE}", {"who": {("name", "aggregated")}}),
    (f"select count(distinct name) as n from {PEOPLE}", {"n": {("name", "counted")}}),
    (f"select * from {PEOPLE}", {"name": {("name", "copied")}, "city": {("city", "copied")}, "age": {("age", "copied")}}),
    # The most revealing path wins: the name itself is published beside its count.
    (f"select name || count(name) over () as who from {PEOPLE}", {"who": {("name", "transformed")}}),
    (f"select city from {PEOPLE} where name = 'x'", {"city": {("city", "copied")}}),
    # A bound relation named without source() (nor its database), as DuckDB resolves it.
    ("select name as who from raw.people", {"who": {("name", "copied")}}),
])
def test_each_kind_of_derivation_is_told_apart(sql, expected):
    assert _lineage_of(sql) == expected
