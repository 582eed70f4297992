"""Running statements: a connection whose errors are explained, and rows into Polars."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from journey_core.errors import JourneyError
from journey_core.warehouse.diagnose import explain
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.schema import verify_schema

__all__ = ["read_count", "read_frame", "reading"]


@contextmanager
def reading(engine: Engine, mapping: SchemaMapping = CANONICAL) -> Iterator[Connection]:
    """A connection whose database errors become one clear :class:`WarehouseError`.

    A failure that is not about the connection is checked against ``mapping``, so that
    the error names the missing table or column, or the column of the wrong type.
    """
    try:
        with engine.connect() as conn:
            yield conn
    except JourneyError:
        raise
    except (sa.exc.SQLAlchemyError, pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        raise explain(engine, exc, check_schema=lambda: verify_schema(engine, mapping)) from None


def read_frame(
    conn: Connection, stmt: sa.Select[Any], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """Run ``stmt`` and return its rows as a frame (empty results keep ``schema``).

    On DuckDB the compiled statement runs as a DuckDB relation whose rows go straight to
    Polars: the DB-API route that ``pl.read_database`` takes there copies the result twice
    more, which doubles the peak memory of a large read (bench/RESULTS.md).
    """
    if conn.dialect.name == "duckdb":
        frame = _read_duckdb(conn, stmt)
    else:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
            frame = pl.read_database(stmt, conn, infer_schema_length=None)
    if frame.is_empty() or frame.width == 0:
        return pl.DataFrame(schema=schema)
    return frame


def read_count(conn: Connection, stmt: sa.Select[Any]) -> int:
    """Run a single-count ``stmt``; a null count (no rows to aggregate) is 0."""
    return int(conn.execute(stmt).scalar_one() or 0)


def _read_duckdb(conn: Connection, stmt: sa.Select[Any]) -> pl.DataFrame:
    """``stmt`` through DuckDB's own Polars export, with SQLAlchemy's bound parameters."""
    import duckdb  # here: only DuckDB warehouses need it

    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = []
    for name in compiled.positiontup or ():
        value = compiled.params[name]
        bind = compiled.binds.get(name)
        process = bind.type.bind_processor(conn.dialect) if bind is not None else None
        params.append(process(value) if process is not None else value)
    sql = str(compiled)
    duck: Any = conn.connection.driver_connection
    try:
        return cast(pl.DataFrame, duck.sql(sql, params=params).pl())
    except duckdb.Error as exc:
        # The same error SQLAlchemy would raise, for reading() to explain.
        raise sa.exc.DBAPIError.instance(sql, params, exc, duckdb.Error) from exc
