"""Writing a warehouse: the canonical tables, their rows and the indexes lookups use.

The only place the product writes to a database (``journey demo`` and the test harnesses).
Rows arrive in chunks and are appended one chunk at a time (DuckDB from Arrow, PostgreSQL
by ``COPY``, any other database by ``executemany``), so memory does not grow with the
warehouse; the indexes and statistics are built once, after the last chunk. Chunks that come
in time order already (``ordered=True``, as ``journey demo`` sends them) go straight into
DuckDB's tables; others are staged and copied once in time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import polars as pl
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from journey_core import columns as c
from journey_core.errors import WarehouseError
from journey_core.warehouse.cohort import HOLD_SECONDS
from journey_core.warehouse.diagnose import file_locked
from journey_core.warehouse.engine import create_engine, local_file, safe_url
from journey_core.warehouse.statements import email_key

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["LOOKUP_INDEXES", "Chunk", "Written", "write_chunks", "write_tables"]

Chunk = tuple[pl.DataFrame, pl.DataFrame]
"""``(events, identities)`` rows of one chunk, in the canonical columns."""

# Indexes that serve one person's lookup: lower(trim(email)) = :email and anonymous_id IN
# (...), the two SELECTs the warehouse reader sends for it (see statements.lookup_links_query).
# Time windows need no index in DuckDB: the events are stored in time order, so its zone
# maps skip the row groups outside a window. DuckDB gets only these; the others get all.
LOOKUP_INDEXES: tuple[str, ...] = (
    "ix_events_email_key",
    "ix_events_anonymous_id",
    "ix_identities_email_key",
    "ix_identities_anonymous_id",
)
_STAGE_PREFIX = "_journey_stage_"  # DuckDB: chunks land here, then one sorted copy
_INCOMING = "_journey_incoming"  # DuckDB: the Arrow chunk being appended
_COPY_ROWS = 100_000  # PostgreSQL: rows per COPY buffer
_INSERT_ROWS = 50_000  # other databases: rows per executemany


class Written(NamedTuple):
    """Rows written."""

    events: int
    identities: int


class _Analyze(sa.schema.ExecutableDDLElement):
    """``ANALYZE <table>``, with the table's name quoted by the dialect."""

    inherit_cache = False

    def __init__(self, table: sa.Table) -> None:
        self.table = table


@compiles(_Analyze)
def _compile_analyze(element: _Analyze, compiler: Any, **_kw: Any) -> str:
    return f"ANALYZE {compiler.preparer.format_table(element.table)}"


def _email_key_index(name: str, table: sa.Table) -> sa.Index:
    return sa.Index(name, email_key(table.c[c.EMAIL]))


def _metadata() -> sa.MetaData:
    """The canonical tables, as ``journey demo`` creates them."""
    md = sa.MetaData()
    events = sa.Table(
        c.EVENTS,
        md,
        sa.Column(c.EVENT_ID, sa.String(), nullable=False),
        sa.Column(c.OCCURRED_AT, sa.DateTime(), nullable=False),
        *(sa.Column(name, sa.String()) for name in c.EVENT_COLUMNS[2:-1]),
        sa.Column(c.REVENUE, sa.Double()),
        sa.Index("ix_events_occurred_at", c.OCCURRED_AT),
        sa.Index("ix_events_anonymous_id", c.ANONYMOUS_ID),
        sa.Index("ix_events_email", c.EMAIL),
    )
    _email_key_index("ix_events_email_key", events)
    identities = sa.Table(
        c.IDENTITIES,
        md,
        sa.Column(c.ANONYMOUS_ID, sa.String()),
        sa.Column(c.EMAIL, sa.String()),
        sa.Column(c.IDENTIFIED_AT, sa.DateTime()),
        sa.Index("ix_identities_anonymous_id", c.ANONYMOUS_ID),
        sa.Index("ix_identities_email", c.EMAIL),
    )
    _email_key_index("ix_identities_email_key", identities)
    return md


def write_tables(url: str, *, events: pl.DataFrame, identities: pl.DataFrame) -> None:
    """Replace the ``events`` and ``identities`` tables at ``url`` with these frames."""
    write_chunks(url, [(events, identities)])


def write_chunks(url: str, chunks: Iterable[Chunk], *, ordered: bool = False) -> Written:
    """Replace the ``events`` and ``identities`` tables at ``url`` with the rows of ``chunks``.

    Reads one chunk at a time, appends it and lets it go; builds the indexes (and on
    PostgreSQL the statistics) once at the end. DuckDB keeps the events in time order:
    with ``ordered`` the chunks already come in it (events by ``occurred_at, event_id``,
    identities by ``identified_at, anonymous_id``, across chunks too) and are appended as
    they are; without it they are staged and copied once, sorted.
    """
    path = local_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, read_only=False)
    backend = engine.url.get_backend_name()
    md = _metadata()
    try:
        with engine.connect() as conn:
            if backend == "duckdb":
                return _write_duckdb(conn, md, chunks, ordered=ordered)
            return _write_other(conn, md, chunks, postgres=backend == "postgresql")
    except sa.exc.SQLAlchemyError as exc:
        locked = file_locked(engine.url, exc, writing=True, held_seconds=HOLD_SECONDS)
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        msg = locked or f"Could not write the demo warehouse to {safe_url(url)}: {reason}"
        raise WarehouseError(msg) from None
    finally:
        engine.dispose()


def _replace_tables(conn: sa.Connection, tables: Iterable[sa.Table]) -> None:
    for table in tables:
        conn.execute(sa.schema.DropTable(table, if_exists=True))
        conn.execute(sa.schema.CreateTable(table))
    conn.commit()


def _write_other(
    conn: sa.Connection, md: sa.MetaData, chunks: Iterable[Chunk], *, postgres: bool
) -> Written:
    tables = md.sorted_tables
    _replace_tables(conn, tables)
    counts = {c.EVENTS: 0, c.IDENTITIES: 0}
    for events, identities in chunks:
        for table, frame in ((md.tables[c.EVENTS], events), (md.tables[c.IDENTITIES], identities)):
            if frame.is_empty():  # never an executemany without rows
                continue
            if postgres:
                _copy(conn, table, frame)
            else:
                for rows in frame.iter_slices(_INSERT_ROWS):
                    conn.execute(table.insert(), rows.to_dicts())
            counts[table.name] += frame.height
        conn.commit()
    # Indexes after the rows: one bulk build each, not one update per row.
    for table in tables:
        for index in table.indexes:
            index.create(conn)
        if postgres:  # fresh statistics, so that the planner uses the indexes
            conn.execute(_Analyze(table))
    conn.commit()
    return Written(counts[c.EVENTS], counts[c.IDENTITIES])


def _copy(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Append ``frame`` to ``table`` by PostgreSQL ``COPY``, a slice of rows at a time."""
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(statement) as copy:
        for rows in frame.iter_slices(_COPY_ROWS):
            copy.write(
                rows.write_csv(
                    include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f", null_value=""
                )
            )


def _write_duckdb(
    conn: sa.Connection, md: sa.MetaData, chunks: Iterable[Chunk], *, ordered: bool
) -> Written:
    """Chunks appended in time order (staged and sorted first unless ``ordered``), then the
    lookup indexes."""
    # DuckDB sorts larger than memory by spilling to disk: bound it, then give it back.
    conn.execute(sa.text("SET memory_limit = '256MB'"))
    try:
        if ordered:
            _replace_tables(conn, md.sorted_tables)
            written = _append_chunks(conn, md.tables, chunks)
        else:
            written = _stage_and_sort(conn, md, chunks)
        # An ART index must fit in memory while DuckDB builds it (about 15-20 bytes a row:
        # anonymous_id needs 100-200 MB at 10M events, so 256 MB fails at 100M): the limit
        # of the index build grows with the rows, from the same 256 MB floor.
        conn.execute(
            sa.text("SET memory_limit = :limit"),
            {"limit": f"{_index_memory_mb(max(written)):d}MB"},
        )
        for table in md.sorted_tables:
            for index in table.indexes:
                if index.name in LOOKUP_INDEXES:
                    index.create(conn)
        conn.commit()
        return written
    finally:
        conn.execute(sa.text("RESET memory_limit"))


def _index_memory_mb(rows: int) -> int:
    """DuckDB's memory limit (MB) for building the lookup indexes of a table of ``rows``:
    48 bytes a row (about twice what an ART index took at 10M events), at least 256 MB.

    >>> _index_memory_mb(2_000_000), _index_memory_mb(100_000_000)
    (256, 4577)
    """
    return max(256, rows * 48 // 2**20)


def _append_chunks(
    conn: sa.Connection, tables: Mapping[str, sa.Table], chunks: Iterable[Chunk]
) -> Written:
    """Append each chunk's events and identities to ``tables`` (DuckDB, from Arrow)."""
    duck = conn.connection.driver_connection
    assert duck is not None
    counts = {c.EVENTS: 0, c.IDENTITIES: 0}
    for events, identities in chunks:
        for name, frame in ((c.EVENTS, events), (c.IDENTITIES, identities)):
            arrow: pa.Table = frame.to_arrow()
            source = sa.table(_INCOMING, *(sa.column(col) for col in frame.columns))
            duck.register(_INCOMING, arrow)
            try:
                conn.execute(tables[name].insert().from_select(frame.columns, sa.select(source)))
            finally:
                duck.unregister(_INCOMING)
            counts[name] += frame.height
        conn.commit()
    return Written(counts[c.EVENTS], counts[c.IDENTITIES])


def _stage_and_sort(conn: sa.Connection, md: sa.MetaData, chunks: Iterable[Chunk]) -> Written:
    stage_md = sa.MetaData()
    stages = {
        table.name: table.to_metadata(stage_md, name=_STAGE_PREFIX + table.name)
        for table in md.sorted_tables
    }
    _replace_tables(conn, stages.values())
    written = _append_chunks(conn, stages, chunks)
    order = {c.EVENTS: (c.OCCURRED_AT, c.EVENT_ID), c.IDENTITIES: (c.IDENTIFIED_AT, c.ANONYMOUS_ID)}
    for table in md.sorted_tables:
        stage = stages[table.name]
        conn.execute(sa.schema.DropTable(table, if_exists=True))
        conn.execute(sa.schema.CreateTable(table))
        rows = sa.select(stage).order_by(*(stage.c[col] for col in order[table.name]))
        conn.execute(table.insert().from_select(list(stage.c.keys()), rows))
        conn.execute(sa.schema.DropTable(stage))
    conn.commit()
    return written
