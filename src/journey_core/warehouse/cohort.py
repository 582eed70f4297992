"""The cohort's touch rows computed ONCE per input set, kept in a TEMP table of a held DuckDB
connection, for every figure, page of people and preview of a dashboard page to read.

Without it each warehouse-route figure of the Campaign influence page (the key figures, the
previous period, the people page, the preview, the filter options, the funnel) re-runs the
rule and its touch windows; under DuckDB's memory limit each run spills, so at 10M events the
page did not open within 25 minutes (bench/RESULTS.md, "Scale"). Here the first statement
that needs the rows of a ``(query, mapping, channels)`` runs the rule once into a temporary
table (a read-only DuckDB file allows TEMP tables: they live in the connection's own
in-memory catalog and spill to DuckDB's temporary directory beyond its memory limit); the
aggregates then read that table.

Under a memory limit a cohort's table is filled in :class:`Steps`
(:func:`~journey_core.warehouse.figures.touch_steps`): the admitted rows, their
de-duplication, then the visits a bucket of people at a time, each step a TEMP table, so no
statement holds the whole cohort in its joins and windows (at 100M events the one statement
ran out of DuckDB's 256 MB).

A TEMP table lives with its connection, so :class:`CohortStore` holds one connection checked
out of the engine's :class:`~journey_core.warehouse.filepool.FilePool` (the pool never closes
a connection in use) and hands it to one reader at a time. It lets the connection go, with
its tables, once idle for ``idle_seconds``, when the file was replaced (its identity
changed) and after a database error; it keeps at most ``max_tables`` tables (the least
recently used is dropped).

Use::

    with cohort_session(engine) as bound:  # the held engine, or ``engine`` itself
        figures = campaign_figures(bound, query, ...)

Inside the block :func:`active_store` is the store, and
:func:`~journey_core.warehouse.figures.touch_source` (which the figure and page statements
read instead of ``touch_rows``) a CTE over its TEMP table; outside it, or for an engine that
is not a read-only DuckDB file, ``touch_rows`` itself.
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
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection, StaticPool
from sqlalchemy.schema import DropTable

from journey_core.analytics.channels import ChannelConfig
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.constructs import temp_table_as
from journey_core.warehouse.diagnose import explain
from journey_core.warehouse.engine import quote_duckdb_keywords
from journey_core.warehouse.filepool import FilePool, Stamp, file_stamp, on_release
from journey_core.warehouse.mapping import SchemaMapping

__all__ = [
    "HOLD_SECONDS",
    "MAX_TABLES",
    "CohortStore",
    "Steps",
    "active_store",
    "cohort_session",
    "store_of",
    "table_name",
]

HOLD_SECONDS = 60.0
"""How long a held connection (and its cohort tables) outlives its last use: a user changing
a filter within it reuses the cohort. A writer in another process cannot take the file's lock
(DuckDB refuses it with a lock conflict) until this long after the last page was computed, so it
is kept short."""
MAX_TABLES = 6
"""Most cohort tables held at once (the period's and the previous period's, each also as
filtered by the user, and a change of date); each is the cohort's rows (74 MB held for the
230,502 rows of the 1M demo; beyond the memory limit DuckDB spills them)."""

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


def _held_engine(source: Engine, raw: PoolProxiedConnection) -> Engine:
    """An engine whose every connection is ``raw``'s DuckDB connection (so its TEMP tables),
    with ``source``'s execution options (the memory limit) and keyword quoting."""
    dbapi = raw.dbapi_connection
    held = sa.create_engine(source.url, poolclass=StaticPool, creator=lambda: dbapi)
    held.update_execution_options(**source.get_execution_options())
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
    """The cohort tables of one read-only DuckDB file's engine (see the module docstring).

    ``clock`` is for tests.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        idle_seconds: float = HOLD_SECONDS,
        max_tables: int = MAX_TABLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        pool = engine.pool
        if not isinstance(pool, FilePool):
            msg = "a cohort store needs a read-only DuckDB file's engine (create_engine)"
            raise TypeError(msg)
        self.source = engine
        self.path = pool.path
        self.idle_seconds = idle_seconds
        self.max_tables = max_tables
        self._clock = clock
        self._lock = threading.RLock()
        self._raw: PoolProxiedConnection | None = None
        self._engine: Engine | None = None
        self._stamp: Stamp | None = None
        self._tables: OrderedDict[str, sa.TableClause] = OrderedDict()
        self._last_used = clock()
        self._timer: threading.Timer | None = None
        self.built = 0
        """Cohort tables computed so far (each one run of the rule)."""

    # ------------------------------------------------------------------ use
    @contextmanager
    def session(self) -> Iterator[Engine]:
        """The held engine, for one reader at a time; :func:`cohort_rows` gives its tables."""
        with self._lock:
            engine = self._open()
            token = _ACTIVE.set(self)
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
            if table is not None:
                self._tables.move_to_end(name)
                return table
            source = build()
            columns: list[sa.ColumnElement[Any]]
            if isinstance(source, Steps):
                source.fill(engine, name)
                columns = list(source.columns)
            else:
                with engine.begin() as conn:
                    conn.execute(temp_table_as(name, sa.select(*source.c)))
                columns = list(source.c)
            table = sa.table(name, *(sa.column(str(col.key), col.type) for col in columns))
            self._tables[name] = table
            self.built += 1
            while len(self._tables) > self.max_tables:
                old, _ = self._tables.popitem(last=False)
                with engine.begin() as conn:
                    conn.execute(DropTable(sa.Table(old, sa.MetaData()), if_exists=True))
            return table

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
            if engine is not None:
                engine.dispose(close=False)  # the DuckDB connection is raw's: closed below
            if raw is not None:
                raw.invalidate()  # closed, not pooled: no TEMP table outlives the store

    # ------------------------------------------------------------------ the rest
    def _open(self) -> Engine:
        stamp = file_stamp(self.path)
        if self._engine is not None and (stamp is None or stamp != self._stamp):
            self.close()  # the file was replaced: its cohorts are stale
        if self._engine is None:
            self._stamp = stamp
            self._raw = self.source.raw_connection()
            self._engine = _held_engine(self.source, self._raw)
        return self._engine

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
    return [s for s in stores if path is None or os.path.abspath(s.path) == path]


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
    read-only (a server keeps no TEMP table across the pool's connections here)."""
    if engine.dialect.name != "duckdb" or not isinstance(engine.pool, FilePool):
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
