"""The cohort's touch rows computed ONCE per input set, kept in a TEMP table of a held
connection (a read-only DuckDB file's, or PostgreSQL's), for every figure, page of people
and preview of a dashboard page to read.

Without it each warehouse-route figure of the Campaign influence page (the key figures, the
previous period, the people page, the preview, the filter options, the funnel) re-runs the
rule and its touch windows; under DuckDB's memory limit each run spills, so at 10M events the
page did not open within 25 minutes (bench/RESULTS.md, "Scale"). Here the first statement
that needs the rows of a ``(query, mapping, channels)`` runs the rule once into a temporary
table (a read-only DuckDB file allows TEMP tables: they live in the connection's own
in-memory catalog and spill to DuckDB's temporary directory beyond its memory limit); the
aggregates then read that table.

On PostgreSQL the same holds: without it every widget of the page ran the whole rule again
in its own statement (the 10M-event demo's Campaign influence page was not interactive after
27 minutes; 74 s with it, bench/RESULTS.md "Held cohorts on PostgreSQL"). The held
connection runs with :data:`~journey_core.warehouse.read.POSTGRES_SETTINGS`; the dashboard
reads in read-only transactions, so each TEMP table is made in a read-write transaction of
its own that writes nothing else; each is ``ANALYZE``d once made (autovacuum never sees TEMP
tables, and the aggregates' plans need its row count) and made again once older than
``max_age_seconds`` (the dashboard's cache's 30 minutes), as new events arrive in a server's
tables. A connection that may not create TEMP tables (a standby, a role without the
``TEMPORARY`` privilege) holds nothing: each statement then computes the rows itself.

Under a memory limit a cohort's table is filled in :class:`Steps`
(:func:`~journey_core.warehouse.figures.touch_steps`): the admitted rows, their
de-duplication, then the visits a bucket of people at a time, each step a TEMP table, so no
statement holds the whole cohort in its joins and windows (at 100M events the one statement
ran out of DuckDB's 256 MB). PostgreSQL's is filled in two of those steps (the admitted rows,
then the rest over them, each table ``ANALYZE``d): as fast as the one statement (10M events:
52.3 s against 52.6 s for both periods' figures), and the page's bar shows where it is.

A TEMP table lives with its connection, so :class:`CohortStore` holds one connection checked
out of the engine's pool (a DuckDB file's :class:`~journey_core.warehouse.filepool.FilePool`
never closes a connection in use) and hands it to one reader at a time. It lets the
connection go, with its tables, once idle for ``idle_seconds``, when the file was replaced
(its identity changed) and after a database error; it keeps at most ``max_tables`` tables
(the least recently used is dropped).

Use::

    with cohort_session(engine) as bound:  # the held engine, or ``engine`` itself
        figures = campaign_figures(bound, query, ...)

Inside the block :func:`active_store` is the store, and
:func:`~journey_core.warehouse.figures.touch_source` (which the figure and page statements
read instead of ``touch_rows``) a CTE over its TEMP table; outside it, or for an engine that
is neither a read-only DuckDB file nor PostgreSQL, ``touch_rows`` itself. The Attribution
report holds its parts the same way (:func:`~journey_core.warehouse.figures.held`: the
cohort's people, its rows over the lookback, their touches, the conversions and their pairs),
so its statements do not each run the wider lookback rule again.
"""

from __future__ import annotations

import atexit
import contextvars
import hashlib
import os
import pickle
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection, StaticPool
from sqlalchemy.schema import DropTable

from journey_core.analytics.channels import ChannelConfig
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.constructs import analyze_table, temp_table_as
from journey_core.warehouse.diagnose import explain
from journey_core.warehouse.engine import quote_duckdb_keywords
from journey_core.warehouse.filepool import FilePool, Stamp, file_stamp, on_release
from journey_core.warehouse.mapping import SchemaMapping
from journey_core.warehouse.read import POSTGRES_SETTINGS

__all__ = [
    "HOLD_SECONDS",
    "MAX_AGE_SECONDS",
    "MAX_TABLES",
    "CohortStore",
    "Steps",
    "active_store",
    "cohort_session",
    "scratch",
    "store_of",
    "table_name",
]

HOLD_SECONDS = 60.0
"""How long a held connection (and its cohort tables) outlives its last use: a user changing
a filter within it reuses the cohort. A writer in another process cannot take the file's lock
(DuckDB refuses it with a lock conflict) until this long after the last page was computed, so it
is kept short."""
MAX_TABLES = 11
"""Most cohort tables held at once: the period's and the previous period's, each also as
filtered by the user, and a change of date (each is the cohort's rows: 74 MB held for the
230,502 rows of the 1M demo; beyond the memory limit DuckDB spills them), and the five parts
of an attribution report (its people, rows, touches, conversions and their pairs)."""

MAX_AGE_SECONDS = 1800.0
"""How long a cohort table is used before it is made again: a server's tables grow while a
user works, and the dashboard makes its results again after the same 30 minutes
(``journey_ui.data.TTL``). A DuckDB file is read again once replaced (its identity)."""

_CAN_HOLD = sa.text(
    "SELECT NOT pg_is_in_recovery() AND has_database_privilege(current_database(), 'TEMPORARY')"
)
"""Whether a PostgreSQL connection may create TEMP tables (a standby may not)."""

_SET = sa.text("SELECT set_config(:name, :value, false)")

_READ_WRITE = sa.text("SET TRANSACTION READ WRITE")


def scratch(engine: Engine, *statements: sa.Executable) -> None:
    """Run ``statements`` (a cohort TEMP table's own DDL) in one transaction of the held
    ``engine``. The dashboard's PostgreSQL connections read in read-only transactions
    (``create_engine``), where PostgreSQL refuses even a TEMP table: this transaction alone is
    read-write, and writes only the session's own TEMP tables."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(_READ_WRITE)
        for statement in statements:
            conn.execute(statement)


_ACTIVE: contextvars.ContextVar[CohortStore | None] = contextvars.ContextVar(
    "journey_cohort_store", default=None
)


def table_name(
    query: JourneyQuery, mapping: SchemaMapping, config: ChannelConfig, *more: object
) -> str:
    """The TEMP table's name of one input set: a digest of the three and ``more`` (e.g. the
    filters of a filtered cohort; all plain values).

    >>> import datetime as dt
    >>> from journey_core.warehouse.mapping import CANONICAL
    >>> q = JourneyQuery(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), event_date=dt.date(2025, 12, 2))
    >>> config = ChannelConfig.default()
    >>> name = table_name(q, CANONICAL, config)
    >>> name.startswith("journey_cohort_"), name == table_name(q, CANONICAL, config)
    (True, True)
    """
    digest = hashlib.sha256(pickle.dumps((query, mapping, config, *more))).hexdigest()[:16]
    return f"journey_cohort_{digest}"


def _holdable(engine: Engine) -> bool:
    """Whether ``engine`` can have a :class:`CohortStore`: a read-only DuckDB file's (its
    :class:`~journey_core.warehouse.filepool.FilePool`) or PostgreSQL's."""
    dialect = engine.dialect.name
    return (dialect == "duckdb" and isinstance(engine.pool, FilePool)) or dialect == "postgresql"


def _held_engine(source: Engine, raw: PoolProxiedConnection) -> Engine:
    """An engine whose every connection is ``raw``'s DB-API connection (so its TEMP tables),
    with ``source``'s execution options (DuckDB's memory limit) and DuckDB's keyword quoting."""
    dbapi = raw.dbapi_connection
    held = sa.create_engine(source.url, poolclass=StaticPool, creator=lambda: dbapi)
    held.update_execution_options(**source.get_execution_options())
    if source.dialect.name == "duckdb":
        quote_duckdb_keywords(held)
    return held


@dataclass(frozen=True)
class Steps:
    """A cohort table built by several statements in turn, not one ``CREATE ... AS``: what
    a ``build`` of :meth:`CohortStore.rows` may return instead of a CTE.

    ``fill(engine, name)`` creates the TEMP table ``name`` and fills it, each step in a
    transaction of its own (DuckDB frees a dropped table's storage once its transaction
    commits), and drops the tables of its own it made on the way; ``engine`` is the held
    engine, whose one connection keeps the TEMP tables. ``columns`` are the table's columns,
    with their types.
    """

    fill: Callable[[Engine, str], None]
    columns: tuple[sa.ColumnClause[Any], ...]


class CohortStore:
    """The cohort tables of one read-only DuckDB file's engine, or of a PostgreSQL engine (see
    the module docstring).

    ``clock`` is for tests.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        idle_seconds: float = HOLD_SECONDS,
        max_tables: int = MAX_TABLES,
        max_age_seconds: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not _holdable(engine):
            msg = "a cohort store needs a read-only DuckDB file's engine or PostgreSQL's"
            raise TypeError(msg)
        pool = engine.pool
        self.path: Path | None = pool.path if isinstance(pool, FilePool) else None
        self.source = engine
        self.idle_seconds = idle_seconds
        self.max_tables = max_tables
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._lock = threading.RLock()
        self._raw: PoolProxiedConnection | None = None
        self._engine: Engine | None = None
        self._stamp: Stamp | None = None
        self._tables: OrderedDict[str, sa.TableClause] = OrderedDict()
        self._made: dict[str, float] = {}
        self._holds = True
        self._last_used = clock()
        self._timer: threading.Timer | None = None
        self.built = 0
        """Cohort tables computed so far (each one run of the rule)."""

    # ------------------------------------------------------------------ use
    @contextmanager
    def session(self) -> Iterator[Engine]:
        """The held engine, for one reader at a time; :meth:`rows` gives its tables. Where the
        connection may not create TEMP tables, the source engine and no active store."""
        with self._lock:
            engine = self._open()
            token = _ACTIVE.set(self if self._holds else None)
            try:
                yield engine
            except sa.exc.DBAPIError:
                self.close()  # the held connection may be unusable now: start afresh
                raise
            finally:
                _ACTIVE.reset(token)
                self._last_used = self._clock()
                self._schedule()

    def rows(
        self,
        query: JourneyQuery,
        mapping: SchemaMapping,
        config: ChannelConfig,
        build: Callable[[], sa.CTE | Steps],
        *more: object,
    ) -> sa.TableClause:
        """The TEMP table of the rows of ``query`` (``more``: the rest of the input set;
        ``build``: their statement, or the :class:`Steps` that fill it, run into the table
        now if it is not held)."""
        with self._lock:
            engine = self._open()
            name = table_name(query, mapping, config, *more)
            table = self._tables.get(name)
            if table is not None and self._clock() - self._made[name] <= self.max_age_seconds:
                self._tables.move_to_end(name)
                return table
            if table is not None:  # too old: the warehouse may have more rows now
                self._drop(engine, name)
            source = build()
            columns: list[sa.ColumnElement[Any]]
            if isinstance(source, Steps):
                source.fill(engine, name)
                if engine.dialect.name == "postgresql":
                    scratch(engine, analyze_table(name))
                columns = list(source.columns)
            else:
                made: list[sa.Executable] = [temp_table_as(name, sa.select(*source.c))]
                if engine.dialect.name == "postgresql":  # the planner's row counts: see above
                    made.append(analyze_table(name))
                scratch(engine, *made)
                columns = list(source.c)
            table = sa.table(name, *(sa.column(str(col.key), col.type) for col in columns))
            self._tables[name] = table
            self._made[name] = self._clock()
            self.built += 1
            while len(self._tables) > self.max_tables:
                self._drop(engine, next(iter(self._tables)))
            return table

    def _drop(self, engine: Engine, name: str) -> None:
        del self._tables[name], self._made[name]
        scratch(engine, DropTable(sa.Table(name, sa.MetaData()), if_exists=True))

    def held(self) -> int:
        """Cohort tables held now."""
        with self._lock:
            return len(self._tables)

    def is_open(self) -> bool:
        """Whether the store holds a connection (and so the file) now."""
        with self._lock:
            return self._raw is not None

    def close(self) -> None:
        """Let the held connection go, and its tables with it."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            engine, raw = self._engine, self._raw
            self._engine, self._raw, self._stamp = None, None, None
            self._tables.clear()
            self._made.clear()
            if engine is not None:
                engine.dispose(close=False)  # the DuckDB connection is raw's: closed below
            if raw is not None:
                raw.invalidate()  # closed, not pooled: no TEMP table outlives the store

    # ------------------------------------------------------------------ the rest
    def _open(self) -> Engine:
        if not self._holds:  # found out once: this server's connections hold nothing
            return self.source
        stamp = None if self.path is None else file_stamp(self.path)
        if (
            self.path is not None
            and self._engine is not None
            and (stamp is None or stamp != self._stamp)
        ):
            self.close()  # the file was replaced: its cohorts are stale
        if self._engine is None:
            raw = self.source.raw_connection()
            engine = _held_engine(self.source, raw)
            if self.path is None and not self._postgres_holds(engine):
                self._holds = False
                engine.dispose(close=False)
                raw.close()  # back to the pool: nothing of ours was set on it
                return self.source
            self._stamp, self._raw, self._engine = stamp, raw, engine
        return self._engine

    @staticmethod
    def _postgres_holds(engine: Engine) -> bool:
        """Whether the held PostgreSQL connection may create TEMP tables; if so, it is given
        :data:`POSTGRES_SETTINGS` for its session (it is closed, not pooled, at the end)."""
        with engine.begin() as conn:
            if not conn.execute(_CAN_HOLD).scalar_one():
                return False
            for name, value in POSTGRES_SETTINGS.items():
                conn.execute(_SET, {"name": name, "value": value})
        return True

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        delay = max(0.0, self._last_used + self.idle_seconds - self._clock())
        self._timer = threading.Timer(delay, self._reap)
        self._timer.daemon = True
        self._timer.start()

    def _reap(self) -> None:
        if _EXITING:
            return
        with self._lock:
            self._timer = None
            if self._clock() - self._last_used >= self.idle_seconds:
                self.close()
            elif self._raw is not None:
                self._schedule()


_STORES: weakref.WeakKeyDictionary[Engine, CohortStore] = weakref.WeakKeyDictionary()
_STORES_LOCK = threading.Lock()


def _stores(path: str | None = None) -> list[CohortStore]:
    with _STORES_LOCK:
        stores = list(_STORES.values())
    return [
        s
        for s in stores
        if path is None or (s.path is not None and os.path.abspath(s.path) == path)
    ]


def _release(path: str) -> int:
    """Let the held connections to ``path`` go (a writer in this process needs the file)."""
    stores = [s for s in _stores(path) if s.is_open()]
    for store in stores:
        store.close()
    return len(stores)


def _close_all() -> None:
    """At exit, before daemon threads stop: no idle timer may close a DuckDB connection
    while the interpreter shuts down (as ``filepool``'s own)."""
    global _EXITING
    _EXITING = True
    for store in _stores():
        store.close()


_EXITING = False
atexit.register(_close_all)
on_release(_release)


def store_of(engine: Engine) -> CohortStore | None:
    """The cohort store of ``engine`` (one per engine), ``None`` unless it reads a DuckDB file
    read-only or PostgreSQL (SQLite and Spark compute each statement's rows in it)."""
    if not _holdable(engine):
        return None
    with _STORES_LOCK:
        store = _STORES.get(engine)
        if store is None:
            store = _STORES[engine] = CohortStore(engine)
        return store


@contextmanager
def cohort_session(engine: Engine) -> Iterator[Engine]:
    """The engine to compute a page's figures with: the held one of :func:`store_of`'s store
    (its cohorts shared, one reader at a time), or ``engine`` itself where there is none.

    A database error inside the block leaves it as one actionable
    :class:`~journey_core.errors.WarehouseError` (:func:`~.diagnose.explain`), e.g. a page
    that needs more memory than DuckDB may use names ``JOURNEY_DUCKDB_MEMORY_MB``.
    """
    store = store_of(engine)
    try:
        if store is None:
            yield engine
            return
        with store.session() as held:
            yield held
    except sa.exc.DBAPIError as exc:
        raise explain(engine, exc) from None


def active_store() -> CohortStore | None:
    """The store of the :func:`cohort_session` this code runs in, if any."""
    return _ACTIVE.get()
