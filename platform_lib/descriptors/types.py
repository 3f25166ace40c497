"""A column's type in each vocabulary the platform speaks, from the one a contract writes.

A contract's physicalType is a DuckDB type: the column's type in the port's Parquet file, as DuckDB
writes and reads it. From it follow the ODCS logical type of the column (`mesh contract sync` writes
it beside each type a model makes), the Arrow type the Parquet file holds (the schema check reads
the file's footer with pyarrow) and Spark's name for it (a Spark domain's enforced dbt model contract
names types in Spark's words)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# DuckDB's types a contract names: (the ODCS logical type of a column of it, the Arrow type of its
# Parquet column, its Spark name). Arrow's types are named, not built: pyarrow is imported by the
# runs that read Parquet, not by every code location that reads a contract.
_TYPES = {
    "TINYINT": ("integer", "int8", "tinyint"),
    "SMALLINT": ("integer", "int16", "smallint"),
    "INTEGER": ("integer", "int32", "int"),
    "BIGINT": ("integer", "int64", "bigint"),
    "FLOAT": ("number", "float32", "float"),
    "DOUBLE": ("number", "float64", "double"),
    "VARCHAR": ("string", "string", "string"),
    "BOOLEAN": ("boolean", "bool", "boolean"),
    "DATE": ("date", "date32", "date"),
    "TIMESTAMP": ("timestamp", "timestamp[us]", "timestamp"),
    # ODCS has no logical type for bytes.
    "BLOB": (None, None, "binary"),
}
# Other names DuckDB reads as those types.
_ALIASES = {"INT": "INTEGER", "TEXT": "VARCHAR", "STRING": "VARCHAR", "REAL": "FLOAT"}
_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")
# DuckDB's other types a model can make, by their logical type: the schema check takes any Arrow
# type for them, and Spark has no equal of them here.
_LOGICAL_FAMILIES = (
    (re.compile(r"U(TINYINT|SMALLINT|INTEGER|BIGINT)"), "integer"),
    (re.compile(r"TIMESTAMP.+"), "timestamp"),
    (re.compile(r"TIME(WITHTIMEZONE)?"), "time"),
    (re.compile(r".*\[\d*\]"), "array"),
    (re.compile(r"STRUCT\(.*\)"), "object"),
    (re.compile(r"MAP\(.*\)"), "map"),
)
# DuckDB's 128-bit integers (a sum of integers): Parquet has none, and DuckDB writes them as DOUBLE.
_HUGE = re.compile(r"U?HUGEINT")
# Each logical type as the kinds of Arrow type that hold it (pyarrow.types.is_<kind>).
_ARROW_KINDS = {
    "integer": ("integer",),
    "number": ("integer", "floating", "decimal"),
    "string": ("string", "large_string"),
    "date": ("date",),
    "timestamp": ("timestamp",),
    "boolean": ("boolean",),
}


def _spelled(physical: str) -> str:
    """The type as DuckDB reads it: neither case nor spaces matter (decimal(15, 2) is DECIMAL(15,2))."""
    return "".join(physical.split()).upper()


def _known(spelled: str) -> tuple[str | None, str | None, str] | None:
    return _TYPES.get(_ALIASES.get(spelled, spelled))


def same_type(a: str, b: str) -> bool:
    """Whether two physical types are spelled alike. An alias is not the type it stands for here:
    `mesh check` holds a contract to the name DuckDB gives the type its model makes."""
    return _spelled(a) == _spelled(b)


def logical_type(physical: str) -> str | None:
    """The ODCS logical type of a column of the physical type; None for one without."""
    spelled = _spelled(physical)
    if _DECIMAL.fullmatch(spelled):
        return "number"
    known = _known(spelled)
    if known is not None:
        return known[0]
    return next((logical for pattern, logical in _LOGICAL_FAMILIES if pattern.fullmatch(spelled)), None)


def written_as_double(physical: str) -> bool:
    """Whether the port's Parquet file would hold a column of the type as a DOUBLE, not as its own type."""
    return _HUGE.fullmatch(_spelled(physical)) is not None


def arrow_type(physical: str) -> pa.DataType | None:
    """The Arrow type of the column in the port's Parquet file; None for a type the schema check does not know."""
    import pyarrow as pa

    spelled = _spelled(physical)
    decimal = _DECIMAL.fullmatch(spelled)
    if decimal:
        return pa.decimal128(int(decimal[1]), int(decimal[2]))
    known = _known(spelled)
    return None if known is None or known[1] is None else pa.type_for_alias(known[1])


def holds_logical(arrow: pa.DataType, logical: str) -> bool:
    """Whether the Arrow type's values are of the ODCS logical type (any type may hold one the
    schema check does not know, such as object)."""
    from pyarrow import types

    kinds = _ARROW_KINDS.get(logical)
    return kinds is None or any(getattr(types, f"is_{kind}")(arrow) for kind in kinds)


def spark_type(physical: str) -> str:
    """The Spark type of a contract's physical type; ValueError for one Spark has no equal of."""
    spelled = _spelled(physical)
    decimal = _DECIMAL.fullmatch(spelled)
    if decimal:
        return f"decimal({decimal[1]},{decimal[2]})"
    known = _known(spelled)
    if known is None:
        raise ValueError(f"Spark has no type equal to {physical}; use one of {', '.join(sorted([*_TYPES, *_ALIASES]))} or DECIMAL(p,s)")
    return known[2]
