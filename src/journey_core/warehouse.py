"""Reading the warehouse: SQLAlchemy Core SELECTs with bound parameters, pushed down.

Only candidate rows cross into Polars: the time window and the candidate individuals are
filtered in SQL, and :mod:`journey_core.rules` applies the exact rules to what comes back.
The product only ever reads: engines made here are read-only where the driver allows it.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from journey_core import columns as c
from journey_core.errors import InputError, JourneyError, WarehouseError
from journey_core.mapping import CANONICAL, REQUIRED_EVENT_COLUMNS, SchemaMapping, TableMapping
from journey_core.query import JourneyQuery, Rule
from journey_core.rules import (
    EVENT_SCHEMA,
    LINK_SCHEMA,
    RESULT_SCHEMA,
    conform_events,
    select_journeys,
)
from journey_core.sqltypes import Timestamp

ENV_URL = "JOURNEY_DATABASE_URL"
DEFAULT_DB_PATH = Path("data") / "demo.duckdb"


def default_url() -> str:
    """``JOURNEY_DATABASE_URL`` if set, else the embedded DuckDB demo file under ``data/``."""
    return os.environ.get(ENV_URL) or f"duckdb:///{DEFAULT_DB_PATH.as_posix()}"


def safe_url(url: str | sa.URL) -> str:
    """The URL with its password hidden, fit for messages and logs.

    >>> safe_url("postgresql://ann:secret@db:5432/w")
    'postgresql://ann:***@db:5432/w'
    """
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"


def local_file(url: str | sa.URL) -> Path | None:
    """The database file of a DuckDB or SQLite URL, ``None`` for servers and memory."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() not in {"duckdb", "sqlite"}:
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_engine(url: str | sa.URL, *, read_only: bool = True) -> Engine:
    """An engine for ``url``: read-only by default, UTC sessions on PostgreSQL.

    Raises :class:`WarehouseError` when the URL is malformed or names a missing file.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        msg = (
            "The database URL is not a valid SQLAlchemy URL; use e.g. "
            "duckdb:///data/demo.duckdb or postgresql+psycopg://user@host/db."
        )
        raise WarehouseError(msg) from None
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    path = local_file(parsed)
    if read_only and path is not None and not path.exists():
        msg = (
            f"The warehouse file {path} does not exist. Create a demo one with "
            f"`journey demo --db {safe_url(parsed)}`, or point --db / {ENV_URL} at your warehouse."
        )
        raise WarehouseError(msg)
    if backend == "duckdb" and read_only and path is not None:
        kwargs["connect_args"] = {"read_only": True}
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        options = "-c timezone=UTC"
        if read_only:
            options += " -c default_transaction_read_only=on"
        kwargs["connect_args"] = {"options": options, "connect_timeout": 10}
        kwargs["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        msg = f"Cannot use the database URL {safe_url(parsed)}: {type(exc).__name__}: {exc}"
        raise WarehouseError(msg) from None
    if backend == "sqlite" and read_only:

        @sa.event.listens_for(engine, "connect")
        def _query_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA query_only = ON")

    return engine


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0][:300] if text else type(orig).__name__


def verify_schema(engine: Engine, mapping: SchemaMapping = CANONICAL) -> None:
    """Raise :class:`WarehouseError` naming the first missing table or column."""
    try:
        inspector = sa.inspect(engine)
        tables = [t for t in (mapping.events, mapping.identities) if t is not None]
        for table in tables:
            if not inspector.has_table(table.table, schema=table.schema):
                msg = (
                    f"The warehouse {safe_url(engine.url)} has no table {table.qualified()!r} "
                    f"(mapping key [{table.key}].table). Load your data, or fix the mapping."
                )
                raise WarehouseError(msg)
            present = {
                col["name"].lower()
                for col in inspector.get_columns(table.table, schema=table.schema)
            }
            for canon, src in table.columns.items():
                if src is not None and src.lower() not in present:
                    msg = (
                        f"Table {table.qualified()!r} has no column {src!r}, needed for "
                        f"{canon!r} (mapping key [{table.key}.columns].{canon}). "
                        "Add the column, or map the key to the right column."
                    )
                    raise WarehouseError(msg)
    except sa.exc.SQLAlchemyError as exc:
        raise _unreachable(engine, exc) from None


def _unreachable(engine: Engine, exc: BaseException) -> WarehouseError:
    msg = (
        f"Cannot read the warehouse {safe_url(engine.url)}: {_first_line(exc)}. "
        f"Check --db / {ENV_URL} and that the database is running and reachable."
    )
    return WarehouseError(msg)


@contextmanager
def reading(engine: Engine, mapping: SchemaMapping = CANONICAL) -> Iterator[Connection]:
    """A connection whose database errors become one clear :class:`WarehouseError`."""
    try:
        with engine.connect() as conn:
            yield conn
    except JourneyError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated is False:
            verify_schema(engine, mapping)
        raise _unreachable(engine, exc) from None
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        msg = (
            f"The warehouse {safe_url(engine.url)} returned data of an unexpected type: "
            f"{_first_line(exc)}. Check that each mapped column has the type the README lists."
        )
        raise WarehouseError(msg) from None


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _email_key(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    return sa.func.lower(sa.func.trim(column))


def _link_selects(mapping: SchemaMapping, *, as_of: dt.datetime) -> list[sa.Select[Any]]:
    """SELECTs of (anonymous_id, email, linked_at) link rows at or before ``as_of``."""
    bound = sa.bindparam("as_of", _naive_utc(as_of), type_=Timestamp())
    ev = mapping.events_source()
    selects = [
        sa.select(
            ev.c[c.ANONYMOUS_ID],
            ev.c[c.EMAIL],
            ev.c[c.OCCURRED_AT].label(c.LINKED_AT),
        ).where(ev.c[c.EMAIL].is_not(None), ev.c[c.OCCURRED_AT] <= bound)
    ]
    ids = mapping.identities_source()
    if ids is not None:
        selects.append(
            sa.select(
                ids.c[c.ANONYMOUS_ID],
                ids.c[c.EMAIL],
                ids.c[c.IDENTIFIED_AT].label(c.LINKED_AT),
            ).where(ids.c[c.EMAIL].is_not(None), ids.c[c.IDENTIFIED_AT] <= bound)
        )
    return selects


def links_query(
    mapping: SchemaMapping,
    *,
    as_of: dt.datetime,
    email: str | None = None,
    anonymous_ids: Sequence[str] | None = None,
) -> sa.Select[Any]:
    """Link rows at or before ``as_of``, optionally of one email or of some anonymous ids."""
    selects = []
    for select in _link_selects(mapping, as_of=as_of):
        cols = select.selected_columns
        if email is not None:
            select = select.where(_email_key(cols[c.EMAIL]) == sa.bindparam("email", email))
        if anonymous_ids is not None:
            select = select.where(
                cols[c.ANONYMOUS_ID].in_(
                    sa.bindparam("anon_ids", list(anonymous_ids), expanding=True)
                )
            )
        selects.append(select)
    union = sa.union_all(*selects).subquery("links")
    return sa.select(union.c[c.ANONYMOUS_ID], union.c[c.EMAIL], union.c[c.LINKED_AT])


def events_query(
    mapping: SchemaMapping,
    *,
    query: JourneyQuery,
    anonymous_ids: Sequence[str] | None = None,
) -> sa.Select[Any]:
    """Candidate events: in the query's time window and of a candidate individual.

    With ``query.email`` the candidates are that email's events and those of
    ``anonymous_ids``; otherwise every event that carries an email or whose anonymous id
    was ever linked by ``query.as_of`` (a semi-join evaluated in the warehouse).
    """
    ev = mapping.events_source()
    lo = sa.bindparam("window_start", _naive_utc(query.window_start), type_=Timestamp())
    hi = sa.bindparam("as_of", _naive_utc(query.as_of), type_=Timestamp())
    stmt = sa.select(*(ev.c[name] for name in c.EVENT_COLUMNS)).where(
        ev.c[c.OCCURRED_AT] >= lo, ev.c[c.OCCURRED_AT] <= hi
    )
    if query.email is not None:
        who = _email_key(ev.c[c.EMAIL]) == sa.bindparam("email", query.email)
        if anonymous_ids:
            who = who | ev.c[c.ANONYMOUS_ID].in_(
                sa.bindparam("anon_ids", list(anonymous_ids), expanding=True)
            )
        return stmt.where(who)
    linked = sa.union(
        *(
            sel.with_only_columns(sel.selected_columns[c.ANONYMOUS_ID]).where(
                sel.selected_columns[c.ANONYMOUS_ID].is_not(None)
            )
            for sel in _link_selects(mapping, as_of=query.as_of)
        )
    )
    return stmt.where(ev.c[c.EMAIL].is_not(None) | ev.c[c.ANONYMOUS_ID].in_(linked))


def read_frame(
    conn: Connection, stmt: sa.Select[Any], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """Run ``stmt`` and return its rows as a frame (empty results keep ``schema``)."""
    with warnings.catch_warnings():
        # DuckDB's Arrow path warns about one extra copy; the rows are few by design.
        warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
        frame = pl.read_database(stmt, conn, infer_schema_length=None)
    if frame.is_empty() or frame.width == 0:
        return pl.DataFrame(schema=schema)
    return frame


@dataclass(frozen=True, slots=True)
class JourneyResult:
    """Journey rows plus what a caller needs to explain them."""

    frame: pl.DataFrame
    query: JourneyQuery
    message: str | None = None

    @property
    def individuals(self) -> int:
        """How many distinct individuals the rows belong to."""
        return self.frame.get_column(c.EMAIL).n_unique() if self.frame.height else 0

    @property
    def events(self) -> int:
        """How many events (rows)."""
        return self.frame.height


def _links_frame(frame: pl.DataFrame) -> pl.LazyFrame:
    """Conform link rows read from SQL: UTC timestamps, normalised emails."""
    if frame.is_empty() or frame.width == 0:
        return pl.LazyFrame(schema=LINK_SCHEMA)
    lf = frame.lazy().rename({c.LINKED_AT: c.OCCURRED_AT})
    return (
        conform_events(lf)
        .select(c.ANONYMOUS_ID, c.EMAIL, pl.col(c.OCCURRED_AT).alias(c.LINKED_AT))
        .filter(pl.col(c.EMAIL).is_not_null(), pl.col(c.LINKED_AT).is_not_null())
    )


def fetch_journeys(
    engine: Engine, query: JourneyQuery, *, mapping: SchemaMapping = CANONICAL
) -> JourneyResult:
    """Apply ``query`` to the warehouse behind ``engine``.

    >>> from journey_core.demo import build_demo
    >>> import tempfile, pathlib
    >>> url = f"duckdb:///{pathlib.Path(tempfile.mkdtemp()) / 'w.duckdb'}"
    >>> _ = build_demo(url, individuals=50, seed=1, end=dt.datetime(2022, 8, 31))
    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 31), event_date=dt.date(2022, 7, 1))
    >>> fetch_journeys(create_engine(url), q).events > 0
    True
    """
    with reading(engine, mapping) as conn:
        if query.email is not None:
            own = read_frame(conn, links_query(mapping, as_of=query.as_of, email=query.email), {})
            if own.height == 0:
                frame = pl.DataFrame(schema=RESULT_SCHEMA)
                return JourneyResult(frame, query, _not_known_message(query))
            links = _links_frame(own)
            anon_ids = (
                links.select(pl.col(c.ANONYMOUS_ID).drop_nulls().unique().sort())
                .collect()
                .get_column(c.ANONYMOUS_ID)
                .to_list()
            )
            if anon_ids:
                shared = read_frame(
                    conn, links_query(mapping, as_of=query.as_of, anonymous_ids=anon_ids), {}
                )
                links = pl.concat([links, _links_frame(shared)])
            events = read_frame(
                conn, events_query(mapping, query=query, anonymous_ids=anon_ids), EVENT_SCHEMA
            )
        else:
            all_links = read_frame(conn, links_query(mapping, as_of=query.as_of), {})
            links = _links_frame(all_links)
            events = read_frame(conn, events_query(mapping, query=query), EVENT_SCHEMA)
        frame = select_journeys(events.lazy(), links, query=query).collect()
    return JourneyResult(frame, query, _empty_message(query) if frame.is_empty() else None)


def _fmt(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _not_known_message(query: JourneyQuery) -> str:
    return (
        f"No known individual has the email {query.email} as of {_fmt(query.as_of)}. "
        "Check the spelling, or try a later as-of time: a person becomes known when first "
        "identified by email."
    )


def _empty_message(query: JourneyQuery) -> str:
    window = f"between {_fmt(query.window_start)} and {_fmt(query.as_of)}"
    if query.rule is Rule.EMAIL:
        return (
            f"{query.email} is known, but has no events {window}. "
            "Try a later as-of time or a longer lookback."
        )
    if query.rule is Rule.EMAIL_AND_EVENT_DATE:
        return (
            f"{query.email} has no events that the campaign rule admits {window}. "
            "Try an earlier event date or a later as-of time."
        )
    if query.rule is Rule.EVENT_DATE:
        return (
            f"No known individual has events {window}. "
            "Try an earlier event date or a later as-of time."
        )
    return (
        f"No known individual was active {window}. "
        "Pick an earlier as-of time, or use a campaign start date for a longer window."
    )


@dataclass(frozen=True, slots=True)
class WarehouseSummary:
    """Row counts and time span of a warehouse, for the connection banner."""

    url: str
    events: int
    identities: int
    first_event: dt.datetime | None
    last_event: dt.datetime | None


def summarize(engine: Engine, *, mapping: SchemaMapping = CANONICAL) -> WarehouseSummary:
    """Count rows and find the first and last event time."""
    ev = mapping.events_source()
    with reading(engine, mapping) as conn:
        row = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.min(ev.c[c.OCCURRED_AT]),
                sa.func.max(ev.c[c.OCCURRED_AT]),
            )
        ).one()
        ids = mapping.identities_source()
        n_ids = (
            conn.execute(sa.select(sa.func.count()).select_from(ids)).scalar_one()
            if ids is not None
            else 0
        )

    def utc(value: object) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)

    return WarehouseSummary(
        url=safe_url(engine.url),
        events=int(row[0]),
        identities=int(n_ids),
        first_event=utc(row[1]),
        last_event=utc(row[2]),
    )


__all__ = [
    "CANONICAL",
    "REQUIRED_EVENT_COLUMNS",
    "InputError",
    "JourneyResult",
    "SchemaMapping",
    "TableMapping",
    "WarehouseSummary",
    "create_engine",
    "default_url",
    "fetch_journeys",
    "summarize",
    "verify_schema",
]
