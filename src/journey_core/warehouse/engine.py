"""Engines and URLs: which warehouse to open, and how to open it read-only."""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journey_core.config import ENV_DATABASE_URL as ENV_URL
from journey_core.config import NOT_A_URL, database_url_problem
from journey_core.errors import WarehouseError
from journey_core.warehouse.filepool import IDLE_SECONDS, FilePool, release

__all__ = [
    "DUCKDB_CONFIG",
    "SQLITE_LOWER",
    "SQLITE_REGEXP_GROUP",
    "create_engine",
    "duckdb_keywords",
    "local_file",
    "memory_bounded",
    "memory_limit_bytes",
    "quote_duckdb_keywords",
    "safe_url",
    "short_url",
    "spill_directory",
    "sweep_spill_directories",
    "url_problem",
]

# DuckDB hands memory it no longer needs back to the system in the background, instead of
# keeping it after each query: at 10M events that lowers the peak of a campaign query by
# about 200 MB while Polars works on the rows (bench/RESULTS.md).
DUCKDB_CONFIG: dict[str, Any] = {
    "allocator_background_threads": True,
    "allocator_flush_threshold": "32MB",
}
SQLITE_LOWER = "journey_lower"
"""The Unicode-aware ``lower`` every SQLite connection gets (SQLite's folds ASCII only)."""
SQLITE_REGEXP_GROUP = "journey_regexp_group"
"""``(text, pattern)``: group 1 of ``re.search`` (null without a match), on every SQLite
connection (SQLite has no regex extraction of its own)."""


_UNPARSEABLE = "<unparseable URL>"
"""What :func:`safe_url` and :func:`short_url` show for text that is not a URL."""


def safe_url(url: str | sa.URL) -> str:
    """The URL with its password hidden, fit for messages and logs.

    >>> safe_url("postgresql://ann:secret@db:5432/w")
    'postgresql://ann:***@db:5432/w'
    """
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return _UNPARSEABLE


def short_url(url: str | sa.URL) -> str:
    """A short name of the warehouse for narrow places (the sidebar): a DuckDB or SQLite
    file's name, otherwise the URL without its user and password.

    >>> short_url("duckdb:////srv/journeys/data/demo.duckdb")
    'demo.duckdb'
    >>> short_url("postgresql://ann:secret@db:5432/shop")
    'postgresql://db:5432/shop'
    >>> short_url("duckdb:///:memory:"), short_url("not a url")
    ('duckdb:///:memory:', '<unparseable URL>')
    """
    path = local_file(url)
    if path is not None:
        return path.name
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return _UNPARSEABLE
    bare = sa.URL.create(
        parsed.drivername, host=parsed.host, port=parsed.port, database=parsed.database
    )
    return unquote(bare.render_as_string())  # for reading: ':memory:', not '%3Amemory%3A'


def url_problem(url: str | sa.URL) -> str | None:
    """Why ``url`` is not a SQLAlchemy URL, with the fix (never echoing a password); ``None``
    when it is one.

    >>> url_problem("postgresql://ann@db/shop") is None
    True
    >>> url_problem("postgresql://db:port/shop").startswith("the URL is not a valid")
    True
    """
    if isinstance(url, sa.URL):
        return None
    problem = database_url_problem(url)
    if problem is None:
        try:
            sa.make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            problem = NOT_A_URL
    return problem


def local_file(url: str | sa.URL) -> Path | None:
    """The database file of a DuckDB or SQLite URL, ``None`` for servers, memory and text
    that is not a URL (:func:`create_engine` says what is wrong with it).

    >>> local_file("duckdb:///data/demo.duckdb").as_posix(), local_file("sqlite://")
    ('data/demo.duckdb', None)
    """
    if url_problem(url) is not None:
        return None
    parsed = sa.make_url(url)
    if parsed.get_backend_name() not in {"duckdb", "sqlite"}:
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


_MEMORY_OPTION = "journey_duckdb_memory"


def memory_bounded(engine: Engine) -> bool:
    """Whether ``engine`` runs DuckDB under a ``memory_limit`` (``create_engine(...,
    duckdb_memory=...)``): a statement must then not hold large intermediate results that
    DuckDB cannot spill (e.g. a CTE shared by several readers)."""
    return engine.get_execution_options().get(_MEMORY_OPTION) is not None


def memory_limit_bytes(engine: Engine) -> int | None:
    """DuckDB's ``memory_limit`` for ``engine`` in bytes (``None``: not bounded), read as
    DuckDB reads it: ``MB`` is 1000**2 bytes, ``MiB`` 1024**2.

    >>> memory_limit_bytes(create_engine("duckdb:///:memory:")) is None
    True
    """
    limit = engine.get_execution_options().get(_MEMORY_OPTION)
    if limit is None:
        return None
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)\s*", str(limit), re.IGNORECASE)
    if found is None:
        msg = f"cannot read the DuckDB memory limit {limit!r}"
        raise ValueError(msg)
    unit = found.group(2).upper()
    base = 1024 if "I" in unit else 1000
    power = "BKMGT".index(unit[0])
    return int(float(found.group(1)) * base**power)


def spill_directory() -> Path:
    """Where DuckDB spills under a ``memory_limit``: a folder of this process in the system's
    temporary directory (DuckDB's own default, beside the database file, may not be writable
    and is the user's data folder; two processes must not share one)."""
    return Path(tempfile.gettempdir()) / f"journey-duckdb-{os.getpid()}"


_SPILL_PREFIX = "journey-duckdb-"


def sweep_spill_directories(root: Path | None = None, *, quiet: float = 60.0) -> list[Path]:
    """Remove the spill folders (:func:`spill_directory`) of processes no longer running:
    DuckDB deletes its spill files when it closes, but a process killed mid-statement (the
    out-of-memory killer, ``kill -9``) leaves them, 8 GB for one statement at 100M events.
    Folders of running processes (this one's too), those changed in the last ``quiet``
    seconds (a process of another PID namespace sharing the folder may be spilling there)
    and those this user may not remove stay. ``root``: the folder they are in (the system's
    temporary directory). The removed ones.

    >>> import subprocess, sys, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
    ...                       capture_output=True, text=True).stdout.strip()
    >>> for pid in (gone, str(os.getpid())):
    ...     (root / f"journey-duckdb-{pid}").mkdir()
    ...     _ = (root / f"journey-duckdb-{pid}" / "duckdb_temp_storage.tmp").write_text("x")
    >>> sweep_spill_directories(root)  # both changed just now
    []
    >>> [p.name for p in sweep_spill_directories(root, quiet=0)] == [f"journey-duckdb-{gone}"]
    True
    >>> [p.name for p in root.iterdir()] == [f"journey-duckdb-{os.getpid()}"]
    True
    >>> shutil.rmtree(root)
    """
    folder = Path(tempfile.gettempdir()) if root is None else root
    removed = []
    for path in folder.glob(f"{_SPILL_PREFIX}*"):
        pid = path.name.removeprefix(_SPILL_PREFIX)
        if not pid.isdigit() or not path.is_dir() or _running(int(pid)):
            continue
        try:
            changed = path.stat().st_mtime
        except OSError:  # another process starting at the same time removed it first
            continue
        if time.time() - changed < quiet:
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs (one of another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@functools.cache
def _swept() -> None:
    """:func:`sweep_spill_directories` once per process, before its first spill folder."""
    sweep_spill_directories()


def create_engine(
    url: str | sa.URL,
    *,
    read_only: bool = True,
    duckdb_memory: str | None = None,
    idle_seconds: float = IDLE_SECONDS,
) -> Engine:
    """An engine for ``url``: read-only by default, UTC sessions on PostgreSQL.

    ``duckdb_memory`` (a read-only DuckDB file only, e.g. ``"256MB"``): DuckDB's
    ``memory_limit``, beyond which its joins, windows and sorts spill to disk instead of
    growing with the data (DuckDB's own default is 80% of RAM; one limit per file and
    process), spilling to :func:`spill_directory`. A read-only DuckDB file's connections are
    pooled (:class:`FilePool`): reused while the file is unchanged, closed after
    ``idle_seconds`` idle. Raises :class:`WarehouseError` when the URL is malformed or names
    a missing file.
    """
    problem = url_problem(url)
    if problem is not None:
        msg = f"Database URL: {problem}"
        raise WarehouseError(msg)
    parsed = sa.make_url(url)
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
        # The memory limit is SET on each connection, not passed as its configuration: DuckDB
        # refuses a second connection to one file with a different configuration (an export
        # run in a process that already reads the file, e.g. the API's, would fail).
        kwargs["connect_args"] = {"read_only": True, "config": dict(DUCKDB_CONFIG)}
        # Reused while busy, closed when idle (a writer elsewhere waits at most idle_seconds),
        # and never reused once an ETL job replaced the file (filepool.py).
        kwargs["poolclass"] = FilePool
        kwargs["file_path"] = path
        kwargs["idle_seconds"] = idle_seconds
    if backend == "duckdb" and not read_only and path is not None:
        release(path)  # this process's idle read-only connections would refuse the writer
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
    if backend == "duckdb":
        quote_duckdb_keywords(engine)
        if duckdb_memory is not None and read_only and path is not None:
            limit = duckdb_memory
            _swept()  # a killed process's spill files would fill the disk in time
            spill = str(spill_directory())
            engine.update_execution_options(**{_MEMORY_OPTION: limit})

            @sa.event.listens_for(engine, "connect")
            def _memory_limit(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute("SET memory_limit = ?", [limit])  # bound, as every value
                # Connections to one file share its settings; DuckDB refuses to set the
                # temporary directory again (even to the same folder) once it was used.
                current = dbapi_conn.execute("SELECT current_setting('temp_directory')")
                if current.fetchone()[0] != spill:
                    dbapi_conn.execute("SET temp_directory = ?", [spill])

    if backend == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _unicode_lower(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.create_function(SQLITE_LOWER, 1, _lower, deterministic=True)
            dbapi_conn.create_function(SQLITE_REGEXP_GROUP, 2, _regexp_group, deterministic=True)

    if backend == "sqlite" and read_only:

        @sa.event.listens_for(engine, "connect")
        def _query_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA query_only = ON")

    return engine


def _regexp_group(value: object, pattern: object) -> str | None:
    """Group 1 of the first match of ``pattern`` in ``value`` (Python's ``re``), else null."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        return None
    found = _compiled(pattern).search(value)
    return found.group(1) if found else None


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _lower(value: object) -> object:
    """Python's ``str.lower`` (every script) for SQLite; other values pass through."""
    return value.lower() if isinstance(value, str) else value


@functools.cache
def duckdb_keywords() -> frozenset[str]:
    """DuckDB's keywords that cannot all serve as bare table or column names.

    duckdb-engine quotes only the ``reserved`` category; a ``type_function`` keyword such as
    ``at`` or a ``column_name`` one such as ``timestamp`` fails in some positions too.
    """
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category <> 'unreserved'"
        ).fetchall()
    finally:
        con.close()
    return frozenset(str(name).lower() for (name,) in rows)


def quote_duckdb_keywords(engine: Engine) -> None:
    """Make ``engine`` (DuckDB) quote every identifier that is one of DuckDB's keywords."""
    preparer = engine.dialect.identifier_preparer
    preparer.reserved_words = set(preparer.reserved_words) | duckdb_keywords()
    preparer._strings.clear()  # identifiers quoted so far, cached by the preparer
