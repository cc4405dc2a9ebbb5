"""Portable SQL pieces the reports build on: epoch seconds, GREATEST/LEAST, a column kept off its index,
JSON rows, interval overlap; each compiled for SQLite and PostgreSQL."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class Epoch(FunctionElement[float]):
    """Seconds since 1970 of a UTC timestamp column, as a float."""

    type = sa.Float()
    inherit_cache = True


# Instants are rounded to the millisecond, the resolution of SQLite's date functions, so that both
# databases give the same figures.


@compiles(Epoch, "sqlite")
def _epoch_sqlite(element: Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps naive-UTC text (see UTCDateTime); julianday() reads it, 2440587.5 is 1970-01-01.
    return f"round((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0, 3)"


@compiles(Epoch, "postgresql")
def _epoch_postgresql(element: Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part() stays in double precision, where EXTRACT() would compute in (slow) numeric.
    return f"(round(date_part('epoch', {compiler.process(element.clauses, **kw)}) * 1000.0) / 1000.0)"


class Greatest(FunctionElement[float]):
    """The largest of its arguments (SQLite has no GREATEST)."""

    type = sa.Float()
    inherit_cache = True


class Least(FunctionElement[float]):
    """The smallest of its arguments (SQLite has no LEAST)."""

    type = sa.Float()
    inherit_cache = True


@compiles(Greatest)
def _greatest(element: Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(Greatest, "sqlite")
def _greatest_sqlite(element: Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"  # the scalar, multi-argument max()


@compiles(Least)
def _least(element: Least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(Least, "sqlite")
def _least_sqlite(element: Least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


class Unindexed(FunctionElement[Any]):
    """A column SQLite may not use an index for (its unary `+`); the column itself elsewhere."""

    inherit_cache = True

    def __init__(self, column: sa.ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type  # comparisons bind their values as the column does


@compiles(Unindexed)
def _unindexed(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(Unindexed, "sqlite")
def _unindexed_sqlite(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


class JsonRows(FunctionElement[Any]):
    """Aggregate: a JSON array with one array of the arguments per row (for a few detail rows per group)."""

    type = sa.JSON()
    inherit_cache = True


@compiles(JsonRows, "sqlite")
def _json_rows_sqlite(element: JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(JsonRows, "postgresql")
def _json_rows_postgresql(element: JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


def overlap(s1: Any, e1: Any, s2: Any, e2: Any) -> sa.ColumnElement[float]:
    """Length of [s1, e1) ∩ [s2, e2), for intervals already known to overlap."""
    return Least(e1, e2) - Greatest(s1, s2)
