"""The schema check: the staged Parquet file against the contract, with pyarrow, without a scan.

Names and order, physical types (the DuckDB type the contract names, as Parquet stores it),
logical types, and `required` columns having no nulls (from the row groups' statistics).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from platform_lib.descriptors.contract import Contract
from platform_lib.descriptors.types import arrow_type, holds_logical


def null_counts(metadata: pq.FileMetaData) -> dict[str, int | None]:
    counts: dict[str, int | None] = {}
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            name = column.path_in_schema
            stats = column.statistics
            if stats is None or not stats.has_null_count:
                counts[name] = None
            elif counts.get(name, 0) is not None:
                counts[name] = counts.get(name, 0) + stats.null_count
    return counts


def schema_mismatches(path: Path, contract: Contract) -> list[str]:
    """Every way the file's schema breaks the contract; empty when it keeps it."""
    metadata = pq.read_metadata(path)
    schema = metadata.schema.to_arrow_schema()
    actual = schema.names
    expected = [c.name for c in contract.columns]
    problems = []
    if actual != expected:
        missing = [c for c in expected if c not in actual]
        extra = [c for c in actual if c not in expected]
        if missing:
            problems.append(f"missing column(s): {', '.join(missing)}")
        if extra:
            problems.append(f"column(s) not in the contract: {', '.join(extra)}")
        if not missing and not extra:
            problems.append(f"columns in order {actual}, contract says {expected}")
    nulls = null_counts(metadata)
    for column in contract.columns:
        if column.name not in actual:
            continue
        got = schema.field(column.name).type
        want = arrow_type(column.physical_type)
        if want is not None and not got.equals(want):
            problems.append(f"{column.name}: physical type {got}, contract says {column.physical_type} ({want})")
        if not holds_logical(got, column.logical_type):
            problems.append(f"{column.name}: type {got} is not logical type {column.logical_type}")
        if column.required:
            count = nulls.get(column.name)
            if count is None:
                count = pq.read_table(path, columns=[column.name]).column(0).null_count
            if count:
                problems.append(f"{column.name}: {count} null value(s) in a required column")
    return problems
