"""Engines and URLs: which warehouse to open, and how to open it read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journey_core.config import ENV_DATABASE_URL as ENV_URL
from journey_core.errors import WarehouseError

__all__ = [
    "DUCKDB_CONFIG",
    "create_engine",
    "local_file",
    "safe_url",
]

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
    """The database file of a DuckDB or SQLite URL, ``None`` for servers and memory.

    >>> local_file("duckdb:///data/demo.duckdb").as_posix(), local_file("sqlite://")
    ('data/demo.duckdb', None)
    """
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
