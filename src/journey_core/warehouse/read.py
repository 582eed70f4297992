"""Running statements: a connection whose errors are explained, and rows into Polars.

:func:`read_frame` reads a whole result into one frame; :func:`read_batches` reads it in
bounded batches (DuckDB's Arrow record-batch reader, else a streaming cursor), so that an
export's memory does not grow with its result.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Generator, Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Compiled, Connection, Engine

from journey_core.errors import JourneyError
from journey_core.rules.identity import TS, as_utc
from journey_core.warehouse.diagnose import explain
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.schema import verify_schema

__all__ = [
    "BATCH_ROWS",
    "POSTGRES_SETTINGS",
    "STREAM_DUCKDB_MEMORY",
    "conform",
    "read_batches",
    "read_count",
    "read_frame",
    "read_prepared",
    "read_rows",
    "reading",
]

BATCH_ROWS = 10_000
"""Rows per batch of :func:`read_batches`: a batch read through a DB-API cursor is held as
Python objects (about 2 KB a journey row) before it becomes a frame, 20 MB or so."""
STREAM_DUCKDB_MEMORY = "192MB"
"""DuckDB's memory limit for a streamed read of a whole result (``journey export``): the
statement's joins, windows and final sort spill to disk beyond it, so the reader's peak does
not grow with the warehouse (bench/RESULTS.md, "Scale"). At 10M events: 2.7 GB without a
limit; 556 MB peak at 256MB; 473 MB at 192MB once the rule de-duplicated only repeated event
ids; 128MB was too little (DuckDB stopped with an out-of-memory error)."""


POSTGRES_SETTINGS: dict[str, str] = {
    "jit": "off",
    "work_mem": "128MB",
    "enable_mergejoin": "off",
}
"""PostgreSQL settings for the reading transaction (``SET LOCAL``; the server's defaults
otherwise). ``jit``: the one-statement figures are large plans whose estimated cost passes
the JIT thresholds; compiling them took 2.6-49 s of a 60-115 s run at 1M events (EXPLAIN
ANALYZE, bench/RESULTS.md "speed12"), more than JIT saved. ``work_mem``: the rule's and the
visits' sorts and hashes spill to disk at the default 4MB. ``enable_mergejoin``: on far-off
row estimates the planner merge-joined the owners and the channel keys, sorting millions of
rows to disk; with hash joins the 10M figures took 277 s instead of 467 s."""


@contextmanager
def reading(engine: Engine, mapping: SchemaMapping = CANONICAL) -> Iterator[Connection]:
    """A connection whose database errors become one clear :class:`WarehouseError`.

    A failure that is not about the connection is checked against ``mapping``, so that
    the error names the missing table or column, or the column of the wrong type. On
    PostgreSQL the transaction runs with :data:`POSTGRES_SETTINGS`.
    """
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                setting = sa.text("SELECT set_config(:name, :value, true)")
                for name, value in POSTGRES_SETTINGS.items():
                    conn.execute(setting, {"name": name, "value": value})
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


PREPARED_STATEMENTS = 64
"""Compiled statements :func:`read_prepared` keeps (least recently used go first)."""

_prepared: OrderedDict[tuple[str, Hashable], Compiled] = OrderedDict()
_prepared_lock = threading.Lock()


def read_prepared(
    conn: Connection,
    key: Hashable,
    build: Callable[[Mapping[str, Any]], sa.Select[Any]],
    values: Mapping[str, Any],
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    """``read_frame(conn, build(values), schema)``; on DuckDB ``build`` runs and compiles
    once per ``key``, later reads only bind ``values`` to the compiled statement.

    For a person's lookup that is 0.3 ms instead of 5 ms or more for building and
    compiling its statements (bench/RESULTS.md, "api14"). ``key`` names the statement's
    shape: the statements ``build`` returns under one key differ only in the values of
    their bound parameters, which ``values`` names (an ``expanding`` list may change length).
    """
    if conn.dialect.name != "duckdb":
        return read_frame(conn, build(values), schema)
    slot = (conn.dialect.name, key)
    with _prepared_lock:
        compiled = _prepared.get(slot)
        if compiled is not None:
            _prepared.move_to_end(slot)
    if compiled is None:
        compiled = build(values).compile(dialect=conn.dialect)
        with _prepared_lock:
            _prepared[slot] = compiled
            while len(_prepared) > PREPARED_STATEMENTS:
                _prepared.popitem(last=False)
    state = cast(sa.sql.compiler.SQLCompiler, compiled).construct_expanded_state(dict(values))
    processors = state.processors
    params = []
    for name, value in zip(state.positiontup or (), state.positional_parameters, strict=True):
        process = processors.get(name)
        params.append(process(value) if process is not None else value)
    frame = _run_duckdb(conn, state.statement, params)
    if frame.is_empty() or frame.width == 0:
        return pl.DataFrame(schema=schema)
    return frame


def read_rows(
    engine: Engine, mapping: SchemaMapping, stmt: sa.Select[Any]
) -> list[tuple[Any, ...]]:
    """Run a bounded ``stmt`` and return its rows as tuples (errors explained by
    :func:`reading`)."""
    with reading(engine, mapping) as conn:
        return [tuple(row) for row in conn.execute(stmt).all()]


def read_count(conn: Connection, stmt: sa.Select[Any]) -> int:
    """Run a single-count ``stmt``; a null count (no rows to aggregate) is 0."""
    return int(conn.execute(stmt).scalar_one() or 0)


def read_batches(
    engine: Engine,
    stmt: sa.Select[Any],
    *,
    schema: dict[str, pl.DataType],
    mapping: SchemaMapping = CANONICAL,
    rows: int = BATCH_ROWS,
) -> Generator[pl.DataFrame]:
    """Run ``stmt`` and yield its rows, in order, in frames of at most ``rows`` rows.

    Each frame is conformed to ``schema`` (:func:`conform`); an empty result yields one
    empty frame, so a writer always sees the columns. Only one batch is held at a time:
    DuckDB hands over Arrow record batches, other drivers a cursor read with
    ``yield_per`` (a server-side cursor where the driver has one, as psycopg does).
    Errors are explained as in :func:`reading`, also those raised between batches.
    """
    with reading(engine, mapping) as conn:
        if conn.dialect.name == "duckdb":
            batches = _duckdb_batches(conn, stmt, rows)
        else:
            batches = _cursor_batches(conn, stmt, rows)
        empty = True
        try:
            for batch in batches:
                if batch.height:
                    empty = False
                    yield conform(batch, schema)
        finally:  # also when the reader stops early: the result is closed before the connection
            batches.close()
        if empty:
            yield pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``frame``'s columns as ``schema`` says: timestamps as UTC (naive ones are UTC), others cast.

    >>> import datetime as dt
    >>> raw = pl.DataFrame({"at": [dt.datetime(2022, 7, 1)], "n": [None]})
    >>> conform(raw, {"at": TS, "n": pl.Float64()}).dtypes
    [Datetime(time_unit='us', time_zone='UTC'), Float64]
    """
    return frame.select(
        as_utc(name, frame.schema[name]) if dtype == TS else pl.col(name).cast(dtype)
        for name, dtype in schema.items()
    )


def _cursor_batches(conn: Connection, stmt: sa.Select[Any], rows: int) -> Generator[pl.DataFrame]:
    with conn.execution_options(yield_per=rows).execute(stmt) as result:
        names = list(result.keys())
        for part in result.partitions():
            yield pl.DataFrame(
                [tuple(row) for row in part], schema=names, orient="row", infer_schema_length=None
            )


def _duckdb_sql(conn: Connection, stmt: sa.Select[Any]) -> tuple[str, list[Any]]:
    """``stmt`` as DuckDB SQL text and its positional parameters, as SQLAlchemy binds them."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = []
    for name in compiled.positiontup or ():
        value = compiled.params[name]
        bind = compiled.binds.get(name)
        process = bind.type.bind_processor(conn.dialect) if bind is not None else None
        params.append(process(value) if process is not None else value)
    return str(compiled), params


def _read_duckdb(conn: Connection, stmt: sa.Select[Any]) -> pl.DataFrame:
    """``stmt`` through DuckDB's own Polars export, with SQLAlchemy's bound parameters."""
    sql, params = _duckdb_sql(conn, stmt)
    return _run_duckdb(conn, sql, params)


def _run_duckdb(conn: Connection, sql: str, params: list[Any]) -> pl.DataFrame:
    """DuckDB SQL text with its positional parameters, its rows straight into Polars."""
    import duckdb  # here: only DuckDB warehouses need it

    duck: Any = conn.connection.driver_connection
    try:
        return cast(pl.DataFrame, duck.sql(sql, params=params).pl())
    except duckdb.Error as exc:
        # The same error SQLAlchemy would raise, for reading() to explain.
        raise sa.exc.DBAPIError.instance(sql, params, exc, duckdb.Error) from exc


def _duckdb_batches(conn: Connection, stmt: sa.Select[Any], rows: int) -> Generator[pl.DataFrame]:
    """``stmt`` through DuckDB's Arrow record-batch reader: one batch in memory at a time."""
    import duckdb

    sql, params = _duckdb_sql(conn, stmt)
    duck: Any = conn.connection.driver_connection
    try:
        reader = duck.sql(sql, params=params).to_arrow_reader(rows)
        try:
            for batch in reader:
                yield cast(pl.DataFrame, pl.from_arrow(batch))
        finally:
            reader.close()  # DuckDB starts no other query while a result is open
    except duckdb.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, params, exc, duckdb.Error) from exc
