"""Comparing a published port with the official TPC-H answer from tpch_answers()."""

from __future__ import annotations

import datetime
import decimal

import pyarrow as pa
import pyarrow.parquet as pq

from platform_lib.tpch import official_answer

# Products named after a TPC-H query, and the query they answer.
TPCH_PRODUCTS = {
    ("sales", "pricing_summary"): 1,
    ("finance", "shipping_priority"): 3,
    ("finance", "revenue_by_nation"): 5,
    ("finance", "returned_item_report"): 10,
    ("marketing", "customer_order_distribution"): 13,
    ("marketing", "global_sales_opportunity"): 22,
}


def _same(value, expected: str) -> bool:
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        return abs(float(value) - float(expected)) <= 0.01
    if isinstance(value, datetime.date):
        return value.isoformat() == expected
    return str(value).strip() == expected.strip()


def differences(published: pa.Table | str, query_nr: int, scale_factor: float) -> list[str]:
    """Every way a published port (an Arrow table, or a Parquet file) differs from the official
    answer; empty when it equals it."""
    header, rows = official_answer(query_nr, scale_factor)
    table = published if isinstance(published, pa.Table) else pq.read_table(published)
    problems = []
    if table.column_names != header:
        problems.append(f"columns {table.column_names} != {header}")
        return problems
    actual = table.to_pylist()
    if len(actual) != len(rows):
        problems.append(f"{len(actual)} rows, official answer has {len(rows)}")
    for i, (got, want) in enumerate(zip(actual, rows)):
        for column, expected in zip(header, want):
            if not _same(got[column], expected):
                problems.append(f"row {i} {column}: {got[column]!r} != {expected!r}")
    return problems
