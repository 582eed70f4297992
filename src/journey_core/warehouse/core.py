"""Reading the warehouse: SQLAlchemy Core SELECTs with bound parameters, pushed down.

Only candidate rows cross into Polars: the time window and the candidate individuals are
filtered in SQL, and :mod:`journey_core.rules` applies the exact rules to what comes back.
The product only ever reads: engines made here are read-only where the driver allows it.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from journey_core import columns as c
from journey_core.config import ENV_DATABASE_URL as ENV_URL
from journey_core.config import ENV_MAPPING
from journey_core.errors import InputError, JourneyError, WarehouseError
from journey_core.rules.identity import (
    EVENT_SCHEMA,
    LINK_SCHEMA,
    RESULT_SCHEMA,
    anonymous_owners,
    as_utc,
    blank_to_null,
    conform_events,
    known_individuals,
    normalized_email,
)
from journey_core.rules.query import JourneyQuery, Rule
from journey_core.rules.windows import ROW, before_known, chosen_events
from journey_core.warehouse.mapping import (
    CANONICAL,
    REQUIRED_EVENT_COLUMNS,
    REQUIRED_IDENTITY_COLUMNS,
    SchemaMapping,
    TableMapping,
)
from journey_core.warehouse.sqltypes import Timestamp

# DuckDB hands memory it no longer needs back to the system in the background, instead of
# keeping it after each query: at 10M events that lowers the peak of a campaign query by
# about 200 MB while Polars works on the rows (bench/RESULTS.md).
DUCKDB_CONFIG: dict[str, Any] = {
    "allocator_background_threads": True,
    "allocator_flush_threshold": "32MB",
}


def safe_url(url: str | sa.URL) -> str:
    """The URL with its password hidden, fit for messages and logs.

    >>> safe_url("postgresql://ann:secret@db:5432/w")
    'postgresql://ann:***@db:5432/w'
    """
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
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
    except (sa.exc.ArgumentError, ValueError):
        # Never echo the URL: it may hold a password. A password with @, /, : or % must
        # be percent-encoded in a URL (e.g. urllib.parse.quote(password, safe="")).
        msg = (
            "The database URL is not a valid SQLAlchemy URL (a password with @ / : or % "
            "must be percent-encoded); use e.g. "
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
        kwargs["connect_args"] = {"read_only": True, "config": DUCKDB_CONFIG}
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


def _scrub(text: str, url: sa.URL) -> str:
    """``text`` with the URL's password blanked out, wherever a driver may have echoed it."""
    password = url.password
    if password:
        for form in {str(password), quote(str(password), safe="")}:
            text = text.replace(form, "***")
    return text


def _reflected(
    engine: Engine, inspector: sa.Inspector, table: TableMapping
) -> dict[str, tuple[str, sa.types.TypeEngine[Any]]] | None:
    """Lower-cased column name -> (real name, type) of ``table``, or ``None`` if absent."""
    if not inspector.has_table(table.table, schema=table.schema):
        return None
    if engine.dialect.name != "duckdb":
        try:
            cols = inspector.get_columns(table.table, schema=table.schema)
            return {col["name"].lower(): (col["name"], col["type"]) for col in cols}
        except (sa.exc.SQLAlchemyError, NotImplementedError):
            pass
    # duckdb-engine reflects through PostgreSQL catalogs that DuckDB 2 lacks; the SQL
    # standard's information_schema serves it and any other dialect whose reflection fails.
    return _information_schema_columns(engine, table)


_INFO_COLUMNS = sa.table(
    "columns",
    sa.column("table_schema"),
    sa.column("table_name"),
    sa.column("column_name"),
    sa.column("data_type"),
    sa.column("ordinal_position"),
    schema="information_schema",
)


def _information_schema_columns(
    engine: Engine, table: TableMapping
) -> dict[str, tuple[str, sa.types.TypeEngine[Any]]]:
    cols = _INFO_COLUMNS.c
    schema = (
        cols.table_schema == sa.bindparam("schema", table.schema)
        if table.schema
        else cols.table_schema == sa.func.current_schema()
    )
    stmt = (
        sa.select(cols.column_name, cols.data_type)
        .where(cols.table_name == sa.bindparam("table", table.table), schema)
        .order_by(cols.ordinal_position)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return {str(name).lower(): (str(name), _type_from_name(str(kind))) for name, kind in rows}


def _type_from_name(name: str) -> sa.types.TypeEngine[Any]:
    """A SQLAlchemy type for an information_schema ``data_type`` such as ``TIMESTAMP``."""
    upper = name.upper()
    if upper.startswith(("TIMESTAMP", "DATE")):
        return sa.DateTime()
    if upper.startswith(("BOOL",)):
        return sa.Boolean()
    numeric = ("INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER")
    if upper.startswith((*numeric, "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
        return sa.Float()
    if upper.startswith(("VARCHAR", "CHAR", "TEXT", "STRING", "CHARACTER")):
        return sa.String()
    return sa.types.NullType()


def verify_schema(engine: Engine, mapping: SchemaMapping = CANONICAL) -> SchemaMapping:
    """Check the warehouse against ``mapping`` and return the mapping fitted to it.

    The fitted mapping uses the warehouse's own spelling of every column and reads the
    optional columns the warehouse lacks as null. Raises :class:`WarehouseError` naming
    the table, the column and the mapping key of the first problem: a missing table, a
    missing column, a column of the wrong type; or why the warehouse cannot be read.
    """
    try:
        inspector = sa.inspect(engine)
        lenient = engine.dialect.name == "sqlite"  # SQLite keeps timestamps as text
        fitted: dict[str, list[TableMapping]] = {"events": [], "identities": []}
        groups = (
            ("events", mapping.events, REQUIRED_EVENT_COLUMNS),
            ("identities", mapping.identities, REQUIRED_IDENTITY_COLUMNS),
        )
        for group, tables, required in groups:
            for table in tables:
                present = _reflected(engine, inspector, table)
                if present is None:
                    raise WarehouseError(_missing_table(engine, inspector, table))
                fitted[group].append(
                    table.resolve(present, required=required, text_timestamps=lenient)
                )
        result = replace(
            mapping, events=tuple(fitted["events"]), identities=tuple(fitted["identities"])
        )
        # A query that returns no rows proves the user may SELECT every mapped column.
        with engine.connect() as conn:
            for table, types in result.tables():
                conn.execute(table.select(types).where(sa.false()))
    except sa.exc.SQLAlchemyError as exc:
        raise _unreadable(engine, exc) from None
    return result


def _missing_table(engine: Engine, inspector: sa.Inspector, table: TableMapping) -> str:
    where = f"schema {table.schema!r}" if table.schema else "the default schema"
    try:
        names = sorted(inspector.get_table_names(schema=table.schema))
    except sa.exc.SQLAlchemyError:
        names = []
    if names:
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        seen = f"Tables in {where}: {shown}."
    else:
        seen = f"There are no tables in {where} that this user can see."
    return (
        f"The warehouse {safe_url(engine.url)} has no table {table.qualified()!r} "
        f"(mapping key {table.key}.table{', ' + table.key + '.schema' if table.schema else ''})."
        f" {seen} Load your data, or fix the mapping (--mapping / {ENV_MAPPING})."
    )


_AUTH_FAILED = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "password is required",
    "access denied",
)
_UNREACHABLE = (
    "connection refused",
    "could not translate host name",
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no route to host",
    "network is unreachable",
    "timeout expired",
    "timed out",
    "could not connect",
    "connection to server",
    "server closed the connection",
    "connection reset",
)


def _classify(engine: Engine, exc: BaseException) -> str | None:
    """A message for connection-level failures (host, login, database, privileges)."""
    url = engine.url
    text = str(getattr(exc, "orig", None) or exc)
    low = text.lower()
    where = f"{url.host or 'localhost'}:{url.port or 'default port'}"
    user = url.username or "(none)"
    if "permission denied" in low or "insufficient privilege" in low:
        return (
            f"The warehouse user {user!r} may not read what the mapping names: "
            f"{_first_line(exc)}. Ask an administrator to GRANT SELECT on the mapped tables "
            "(and USAGE on their schema) to this user; the product only ever reads."
        )
    if any(marker in low for marker in _AUTH_FAILED) and "does not exist" not in low:
        return (
            f"The warehouse at {where} rejected the login of user {user!r}: wrong user name "
            f"or password. Fix the credentials in --db / {ENV_URL} (they are never shown)."
        )
    if "database" in low and "does not exist" in low:
        return (
            f"The warehouse server at {where} has no database {url.database!r}. "
            f"Fix the database name at the end of --db / {ENV_URL}."
        )
    if "role" in low and "does not exist" in low:
        return (
            f"The warehouse at {where} has no user {user!r}. Fix the user name in --db / {ENV_URL}."
        )
    if any(marker in low for marker in _UNREACHABLE):
        return (
            f"Cannot reach the warehouse at {where}: {_first_line(exc)}. Check the host and "
            f"port in --db / {ENV_URL}, that the server is running, and that it accepts "
            "connections from this machine."
        )
    return None


def _unreadable(engine: Engine, exc: BaseException) -> WarehouseError:
    message = _classify(engine, exc) or (
        f"Cannot read the warehouse {safe_url(engine.url)}: {_first_line(exc)}. "
        f"Check --db / {ENV_URL}, the mapping, and that the database is running and reachable."
    )
    return WarehouseError(_scrub(message, engine.url))


def explain(
    engine: Engine, exc: BaseException, mapping: SchemaMapping = CANONICAL
) -> WarehouseError:
    """One actionable :class:`WarehouseError` for a failure while reading through ``mapping``.

    Connection problems are named as such; otherwise the schema is checked, so that a
    missing table or column, or a column of the wrong type, is named with its mapping key.
    """
    if isinstance(exc, WarehouseError):
        return exc
    if _classify(engine, exc) is None:
        try:
            verify_schema(engine, mapping)
        except WarehouseError as schema_error:
            return WarehouseError(_scrub(str(schema_error), engine.url))
    if isinstance(exc, pl.exceptions.PolarsError | ValueError | TypeError):
        msg = (
            f"The warehouse {safe_url(engine.url)} returned data of an unexpected type: "
            f"{_first_line(exc)}. Check that each mapped column has the type the README lists."
        )
        return WarehouseError(_scrub(msg, engine.url))
    return _unreadable(engine, exc)


@contextmanager
def reading(engine: Engine, mapping: SchemaMapping = CANONICAL) -> Iterator[Connection]:
    """A connection whose database errors become one clear :class:`WarehouseError`."""
    try:
        with engine.connect() as conn:
            yield conn
    except JourneyError:
        raise
    except (sa.exc.SQLAlchemyError, pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        raise explain(engine, exc, mapping) from None


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


def link_groups_query(mapping: SchemaMapping, *, as_of: dt.datetime) -> sa.Select[Any]:
    """The link rows of :func:`links_query`, grouped by their raw (anonymous_id, email).

    Each group keeps its first and last ``linked_at``. Grouping the raw values, before
    emails are normalised in Polars, loses nothing the rules need: an email's ``known_at``
    is the earliest first link over all its spellings, and an anonymous id's owner is
    decided by its groups' last links (see :func:`people_and_owners`). Only for warehouses
    that order timestamps as time (not SQLite, which keeps them as text).
    """
    links = links_query(mapping, as_of=as_of).subquery("links")
    anon, email, at = links.c[c.ANONYMOUS_ID], links.c[c.EMAIL], links.c[c.LINKED_AT]
    return sa.select(
        anon,
        email,
        sa.func.min(at).label(c.FIRST_LINKED_AT),
        sa.func.max(at).label(c.LAST_LINKED_AT),
    ).group_by(anon, email)


def lookup_links_query(
    mapping: SchemaMapping,
    *,
    email: str | None = None,
    anonymous_ids: Sequence[str] | None = None,
    events: bool = True,
) -> sa.Select[Any] | None:
    """Link rows of one email (trimmed, lower-cased) or of some anonymous ids, at any time.

    Every SELECT filters one column only, so that an index on ``lower(trim(email))`` or on
    ``anonymous_id`` serves it (DuckDB uses an index only for a scan with a single filtered
    column); the time and the null filters are applied in Polars. ``events=False`` reads
    the identities table(s) only; ``None`` when there is nothing to read.
    """
    sources: list[tuple[sa.Subquery, str]] = []
    if events:
        sources.append((mapping.events_source(), c.OCCURRED_AT))
    ids = mapping.identities_source()
    if ids is not None:
        sources.append((ids, c.IDENTIFIED_AT))
    selects = []
    for source, at in sources:
        select = sa.select(
            source.c[c.ANONYMOUS_ID], source.c[c.EMAIL], source.c[at].label(c.LINKED_AT)
        )
        if email is not None:
            wanted = sa.bindparam("email", email, type_=sa.String())
            select = select.where(_email_key(source.c[c.EMAIL]) == wanted)
        if anonymous_ids is not None:
            listed: sa.BindParameter[list[str]] = sa.bindparam(
                "anon_ids", list(anonymous_ids), expanding=True
            )
            select = select.where(source.c[c.ANONYMOUS_ID].in_(listed))
        selects.append(select)
    if not selects:
        return None
    if len(selects) == 1:
        return selects[0]
    union = sa.union_all(*selects).subquery("links")
    return sa.select(union.c[c.ANONYMOUS_ID], union.c[c.EMAIL], union.c[c.LINKED_AT])


def lookup_events_query(
    mapping: SchemaMapping, *, email: str, anonymous_ids: Sequence[str] = ()
) -> sa.Select[Any]:
    """Every event, at any time, that carries ``email`` or has one of ``anonymous_ids``.

    Two single-filter SELECTs (see :func:`lookup_links_query`); an event matching both
    comes twice, and identical rows are one event to the rules.
    """
    ev = mapping.events_source()
    columns = [ev.c[name] for name in c.EVENT_COLUMNS]
    wanted = sa.bindparam("email", email, type_=sa.String())
    own = sa.select(*columns).where(_email_key(ev.c[c.EMAIL]) == wanted)
    if not anonymous_ids:
        return own
    listed: sa.BindParameter[list[str]] = sa.bindparam(
        "anon_ids", list(anonymous_ids), expanding=True
    )
    theirs = sa.select(*columns).where(ev.c[c.ANONYMOUS_ID].in_(listed))
    both = sa.union_all(own, theirs).subquery("candidates")
    return sa.select(*both.c)


def events_query(
    mapping: SchemaMapping,
    *,
    query: JourneyQuery,
    anonymous_ids: Sequence[str] | None = None,
    narrow_lookback: bool = False,
) -> sa.Select[Any]:
    """Candidate events: in the query's time window and of a candidate individual.

    With ``query.email`` the candidates are that email's events and those of
    ``anonymous_ids``; otherwise every event that carries an email or whose anonymous id
    was ever linked by ``query.as_of`` (a semi-join evaluated in the warehouse).

    ``narrow_lookback`` (event_date rule): events before the campaign start are kept only
    for people who may have become known since it, i.e. whose raw email was first linked
    at or after the start, or whose anonymous id was linked to such an email. That is a
    superset of what the rule admits, since an email's ``known_at`` is never later than
    the first link of any of its spellings; it needs a warehouse that orders timestamps as
    time (not SQLite's text).
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
    # Joins, not IN (subquery) under OR: PostgreSQL cannot turn those into semi-joins and,
    # once the ids outgrow work_mem, rescans the subquery for every event.
    links = sa.union_all(*_link_selects(mapping, as_of=query.as_of)).subquery("links")
    anon, email, at = links.c[c.ANONYMOUS_ID], links.c[c.EMAIL], links.c[c.LINKED_AT]
    occurred, ev_anon, ev_email = ev.c[c.OCCURRED_AT], ev.c[c.ANONYMOUS_ID], ev.c[c.EMAIL]
    start = query.start
    if not (narrow_lookback and start is not None and start > query.window_start):
        linked = (
            sa.select(anon.label("device"))
            .where(anon.is_not(None))
            .group_by(anon)
            .subquery("linked")
        )
        return stmt.select_from(ev.outerjoin(linked, ev_anon == linked.c.device)).where(
            ev_email.is_not(None) | linked.c.device.is_not(None)
        )
    since = sa.bindparam("start", _naive_utc(start), type_=Timestamp())
    newcomers = (
        sa.select(email.label("newcomer"))
        .group_by(email)
        .having(sa.func.min(at) >= since)
        .subquery("newcomers")
    )
    # Each linked anonymous id, and whether it was ever linked to a newcomer.
    fresh = sa.case((newcomers.c.newcomer.is_not(None), 1), else_=0)
    devices = (
        sa.select(anon.label("device"), sa.func.max(fresh).label("fresh"))
        .select_from(links.outerjoin(newcomers, email == newcomers.c.newcomer))
        .where(anon.is_not(None))
        .group_by(anon)
        .subquery("linked")
    )
    joined = ev.outerjoin(devices, ev_anon == devices.c.device).outerjoin(
        newcomers, ev_email == newcomers.c.newcomer
    )
    return stmt.select_from(joined).where(
        sa.or_(
            sa.and_(occurred >= since, ev_email.is_not(None) | devices.c.device.is_not(None)),
            newcomers.c.newcomer.is_not(None),
            devices.c.fresh == 1,
        )
    )


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


def _links_frame(frame: pl.DataFrame, *, any_identifier: bool = False) -> pl.LazyFrame:
    """Conform link rows read from SQL: UTC timestamps, normalised emails."""
    if frame.is_empty() or frame.width == 0:
        return pl.LazyFrame(schema=LINK_SCHEMA)
    lf = frame.lazy().rename({c.LINKED_AT: c.OCCURRED_AT})
    return (
        conform_events(lf, any_identifier=any_identifier)
        .select(c.ANONYMOUS_ID, c.EMAIL, pl.col(c.OCCURRED_AT).alias(c.LINKED_AT))
        .filter(pl.col(c.EMAIL).is_not_null(), pl.col(c.LINKED_AT).is_not_null())
    )


def people_and_owners(
    groups: pl.DataFrame, *, any_identifier: bool = False
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Who is known since when, and who owns which anonymous id, from link groups.

    ``groups`` are rows of :func:`link_groups_query`. Emails and anonymous ids are
    normalised here as in :mod:`journey_core.rules`, merging the groups of every spelling
    of an email, so the result equals :func:`~journey_core.rules.known_individuals` and
    :func:`~journey_core.rules.anonymous_owners` of the ungrouped links.
    """
    if groups.is_empty() or groups.width == 0:
        empty = pl.LazyFrame(schema=LINK_SCHEMA)
        return known_individuals(empty), anonymous_owners(empty)
    schema = groups.schema
    conformed = (
        groups.lazy()
        .select(
            pl.col(c.ANONYMOUS_ID).cast(pl.String()),
            pl.col(c.EMAIL).cast(pl.String()),
            as_utc(c.FIRST_LINKED_AT, schema[c.FIRST_LINKED_AT]),
            as_utc(c.LAST_LINKED_AT, schema[c.LAST_LINKED_AT]),
        )
        .with_columns(
            normalized_email(any_identifier=any_identifier), blank_to_null(c.ANONYMOUS_ID)
        )
        .filter(pl.col(c.EMAIL).is_not_null())
    )
    first = conformed.select(c.ANONYMOUS_ID, c.EMAIL, pl.col(c.FIRST_LINKED_AT).alias(c.LINKED_AT))
    last = conformed.select(c.ANONYMOUS_ID, c.EMAIL, pl.col(c.LAST_LINKED_AT).alias(c.LINKED_AT))
    return known_individuals(first), anonymous_owners(last)


def _time_orders_natively(conn: Connection) -> bool:
    """Whether min/max and range filters over timestamps follow time (not SQLite's text)."""
    return conn.dialect.name != "sqlite"


def fetch_journeys(
    engine: Engine, query: JourneyQuery, *, mapping: SchemaMapping = CANONICAL
) -> JourneyResult:
    """Apply ``query`` to the warehouse behind ``engine``.

    One person's lookup reads that person's rows through index-friendly SELECTs; the
    other rules read link groups and candidate events filtered in SQL. The exact rules
    then run in Polars on what came back (bench/RESULTS.md has the figures).

    >>> from journey_core.io.demo import build_demo
    >>> import tempfile, pathlib
    >>> url = f"duckdb:///{pathlib.Path(tempfile.mkdtemp()) / 'w.duckdb'}"
    >>> _ = build_demo(url, individuals=50, seed=1, end=dt.datetime(2022, 8, 31))
    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 31), event_date=dt.date(2022, 7, 1))
    >>> fetch_journeys(create_engine(url), q).events > 0
    True
    """
    ids_only = mapping.identifier != "email"  # user ids, not emails, identify people
    with reading(engine, mapping) as conn:
        if query.email is not None:
            found = _lookup(conn, mapping, query, any_identifier=ids_only)
            if found is None:
                frame = pl.DataFrame(schema=RESULT_SCHEMA)
                return JourneyResult(frame, query, _not_known_message(query))
            events, links = found
            people, owners = known_individuals(links), anonymous_owners(links)
        elif _time_orders_natively(conn):
            groups = read_frame(conn, link_groups_query(mapping, as_of=query.as_of), {})
            people, owners = people_and_owners(groups, any_identifier=ids_only)
            stmt = events_query(mapping, query=query, narrow_lookback=True)
            events = read_frame(conn, stmt, EVENT_SCHEMA)
        else:
            all_links = read_frame(conn, links_query(mapping, as_of=query.as_of), {})
            links = _links_frame(all_links, any_identifier=ids_only)
            people, owners = known_individuals(links), anonymous_owners(links)
            events = read_frame(conn, events_query(mapping, query=query), EVENT_SCHEMA)
        frame = _journey_rows(
            events, people=people, owners=owners, query=query, any_identifier=ids_only
        )
    return JourneyResult(frame, query, _empty_message(query) if frame.is_empty() else None)


def _journey_rows(
    events: pl.DataFrame,
    *,
    people: pl.LazyFrame,
    owners: pl.LazyFrame,
    query: JourneyQuery,
    any_identifier: bool,
) -> pl.DataFrame:
    """:func:`~journey_core.rules.select_stitched`, run eagerly; consumes ``events``.

    The rules run on the key columns (:func:`~journey_core.rules.chosen_events`); then each
    other column is gathered into result order and dropped from the input at once, so a
    large read is never held twice (10M events: bench/RESULTS.md). Collected with the
    in-memory engine, which takes about half the CPU time of the streaming engine on
    these joins and this multi-key sort of data that is already in memory.
    """
    conformed = (
        conform_events(events.lazy(), any_identifier=any_identifier)
        .with_row_index(ROW)
        .collect(engine="in-memory")
    )
    for name in events.columns:
        events.drop_in_place(name)  # ``conformed`` is now the only owner of the rows
    # Event ids are unique in most warehouses; then a sort on three keys orders the rows.
    ids = conformed.get_column(c.EVENT_ID)
    unique_ids = ids.null_count() == 0 and ids.n_unique() == ids.len()
    chosen = chosen_events(
        conformed.lazy(), people=people, owners=owners, query=query, unique_ids=unique_ids
    ).collect(engine="in-memory")
    order = chosen.get_column(ROW)
    columns = [chosen.get_column(c.EMAIL), chosen.get_column(c.KNOWN_AT)]
    for name in c.RESULT_COLUMNS:
        if name in conformed.columns and name != c.EMAIL:
            # Rechunked first: a gather from one chunk is many times faster than from the
            # read's many; it copies only this column's string views, not the strings.
            columns.append(conformed.drop_in_place(name).rechunk().gather(order))
    return pl.DataFrame(columns).with_columns(before_known()).select(c.RESULT_COLUMNS)


def _lookup(
    conn: Connection, mapping: SchemaMapping, query: JourneyQuery, *, any_identifier: bool
) -> tuple[pl.DataFrame, pl.LazyFrame] | None:
    """One person's candidate events and links, or ``None`` if not known by ``query.as_of``.

    Reads the email's links, then every event of the email or of the anonymous ids it
    linked, then the identities of those ids: three index-friendly SELECTs (see
    :func:`lookup_links_query`). The links of those ids include everyone else linked to
    them, which decides who owns each id now.
    """
    assert query.email is not None
    as_of = pl.lit(query.as_of, dtype=pl.Datetime("us", "UTC"))
    own_stmt = lookup_links_query(mapping, email=query.email)
    assert own_stmt is not None
    own = (
        _links_frame(read_frame(conn, own_stmt, {}), any_identifier=any_identifier)
        .filter(pl.col(c.LINKED_AT) <= as_of)
        .collect()
    )
    if own.is_empty():
        return None
    anon_ids = own.get_column(c.ANONYMOUS_ID).drop_nulls().unique().sort().to_list()
    events = read_frame(
        conn, lookup_events_query(mapping, email=query.email, anonymous_ids=anon_ids), EVENT_SCHEMA
    )
    # Links carried by those events (the email's own, and others' on the same devices) ...
    carried = conform_events(events.lazy(), any_identifier=any_identifier).select(
        c.ANONYMOUS_ID, c.EMAIL, pl.col(c.OCCURRED_AT).alias(c.LINKED_AT)
    )
    parts = [own.lazy(), carried]
    ids_stmt = lookup_links_query(mapping, anonymous_ids=anon_ids, events=False)
    if anon_ids and ids_stmt is not None:
        # ... and the identities of those devices.
        parts.append(_links_frame(read_frame(conn, ids_stmt, {}), any_identifier=any_identifier))
    links = pl.concat(parts, how="vertical_relaxed").filter(
        pl.col(c.EMAIL).is_not_null(), pl.col(c.LINKED_AT) <= as_of
    )
    return events, links.collect().lazy()  # collected now: the events are consumed later


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
    "explain",
    "fetch_journeys",
    "summarize",
    "verify_schema",
]
