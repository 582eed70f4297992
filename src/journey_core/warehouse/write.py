"""Writing a warehouse: the canonical tables, their rows and the indexes lookups use.

The only place the product writes to a database (``journey demo`` and the test harnesses).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import polars as pl
import sqlalchemy as sa

from journey_core import columns as c
from journey_core.errors import WarehouseError
from journey_core.warehouse.engine import create_engine, local_file, safe_url
from journey_core.warehouse.statements import email_key

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["LOOKUP_INDEXES", "write_tables"]

# Indexes that serve one person's lookup: lower(trim(email)) = :email and anonymous_id IN
# (...), the two SELECTs the warehouse reader sends for it (see statements.lookup_links_query).
# Time windows need no index in DuckDB: the events are stored in time order, so its zone
# maps skip the row groups outside a window.
LOOKUP_INDEXES: tuple[tuple[str, str, str], ...] = (
    ("ix_events_email_key", c.EVENTS, "lower(trim(email))"),
    ("ix_events_anonymous_id", c.EVENTS, "anonymous_id"),
    ("ix_identities_email_key", c.IDENTITIES, "lower(trim(email))"),
    ("ix_identities_anonymous_id", c.IDENTITIES, "anonymous_id"),
)


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
        sa.Column(c.REVENUE, sa.Float()),
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
    path = local_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, read_only=False)
    backend = engine.url.get_backend_name()
    frames = {c.EVENTS: events, c.IDENTITIES: identities}
    try:
        if backend == "duckdb":
            _write_duckdb(engine, frames)
        else:
            md = _metadata()
            md.drop_all(engine)
            with engine.begin() as conn:
                for table in md.sorted_tables:
                    conn.execute(sa.schema.CreateTable(table))
            if backend == "postgresql":
                _write_postgres(engine, frames)
            else:
                _write_generic(engine, md, frames)
            # Indexes after the rows: one bulk build each, not one update per row.
            with engine.begin() as conn:
                for table in md.sorted_tables:
                    for index in table.indexes:
                        index.create(conn)
                if backend == "postgresql":
                    for table in md.sorted_tables:
                        # Fresh statistics, so that the planner uses the indexes.
                        conn.execute(sa.text(f"ANALYZE {table.name}"))
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        msg = f"Could not write the demo warehouse to {safe_url(url)}: {reason}"
        raise WarehouseError(msg) from None
    finally:
        engine.dispose()


def _write_duckdb(engine: sa.Engine, frames: dict[str, pl.DataFrame]) -> None:
    raw = engine.raw_connection()
    try:
        con = raw.driver_connection
        assert con is not None
        for name, frame in frames.items():
            arrow: pa.Table = frame.to_arrow()
            con.register("_incoming", arrow)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')  # noqa: S608 - fixed names
            con.unregister("_incoming")
        for index, table, key in LOOKUP_INDEXES:
            con.execute(f'CREATE INDEX "{index}" ON "{table}" (({key}))')  # fixed names
        raw.commit()
    finally:
        raw.close()


def _write_postgres(engine: sa.Engine, frames: dict[str, pl.DataFrame]) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name, frame in frames.items():
            buf = io.BytesIO()
            frame.write_csv(buf, datetime_format="%Y-%m-%d %H:%M:%S%.6f", null_value="")
            cols = ", ".join(frame.columns)
            with cur.copy(
                f"COPY {name} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy:
                copy.write(buf.getvalue())
        raw.commit()
    finally:
        raw.close()


def _write_generic(engine: sa.Engine, md: sa.MetaData, frames: dict[str, pl.DataFrame]) -> None:
    with engine.begin() as conn:
        for name, frame in frames.items():
            table = md.tables[name]
            for chunk in frame.iter_slices(50_000):
                conn.execute(table.insert(), chunk.to_dicts())
