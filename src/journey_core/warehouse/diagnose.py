"""Why a warehouse read failed, said once, clearly, and without the password.

Connection-level failures (host, login, database, privileges) are classified from the
driver's message; everything else becomes a message that names the URL (password hidden)
and the first line of the driver's error. Every message is scrubbed of the URL's password,
wherever a driver may have echoed it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journey_core.config import ENV_DATABASE_URL as ENV_URL
from journey_core.config import ENV_DUCKDB_MEMORY_MB
from journey_core.errors import WarehouseError
from journey_core.warehouse.engine import safe_url

__all__ = ["classify", "explain", "file_locked", "first_line", "scrub", "unreadable"]

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


def first_line(exc: BaseException) -> str:
    """The first line of the driver's message (at most 300 characters), or the error's type.

    >>> first_line(ValueError("bad value\\nmore detail"))
    'bad value'
    """
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0][:300] if text else type(orig).__name__


#: A password at least this long is blanked wherever it appears; a shorter one only where it
#: stands alone (not inside a word), so a password "p" leaves "port 5433" readable.
WHOLE_PASSWORD = 8


def scrub(text: str, url: sa.URL) -> str:
    """``text`` with the URL's password blanked out, plain or percent-encoded.

    >>> scrub("login s3cr/t and s3cr%2Ft failed", sa.make_url("postgresql://a:s3cr%2Ft@h/d"))
    'login *** and *** failed'
    >>> scrub("postgresql://a:p@h:5433/d: port 5433 refused", sa.make_url("postgresql://a:p@h/d"))
    'postgresql://a:***@h:5433/d: port 5433 refused'
    """
    password = url.password
    if password:
        for form in {str(password), quote(str(password), safe="")}:
            if len(form) >= WHOLE_PASSWORD:
                text = text.replace(form, "***")
            else:
                alone = rf"(?<![^\W_]){re.escape(form)}(?![^\W_])"
                text = re.sub(alone, "***", text)
    return text


def file_locked(
    url: sa.URL, exc: BaseException, *, writing: bool = False, held_seconds: float | None = None
) -> str | None:
    """What to do when DuckDB cannot lock a file another process has open (DuckDB lets one
    process write a file, or several read it, not both), or ``None`` for any other error.
    ``writing``: this process wanted to write (``journey demo``), so the other one may be a
    reader holding the file ``held_seconds`` after its last use (a dashboard's held cohort).

    >>> err = OSError('IO Error: Could not set lock on file "/d/w.duckdb": Conflicting lock '
    ...               'is held in /usr/bin/python3 (PID 4242). However, ...')
    >>> said = file_locked(sa.make_url("duckdb:////d/w.duckdb"), err)
    >>> said.startswith("The DuckDB file /d/w.duckdb is being written by another process (PID 4")
    True
    >>> file_locked(sa.make_url("duckdb:////d/w.duckdb"), OSError("Catalog Error")) is None
    True
    """
    text = str(getattr(exc, "orig", None) or exc)
    if "could not set lock" not in text.lower():
        return None
    pid = re.search(r"\(PID (\d+)\)", text)
    who = f"another process (PID {pid.group(1)})" if pid else "another process"
    rule = "DuckDB lets one process write a file, or several read it, not both at once"
    if not writing:
        return (
            f"The DuckDB file {url.database} is being written by {who}, e.g. `journey demo` "
            f"still building it or a loading job: {rule}. Try again once it has finished, or "
            "stop it."
        )
    after = f" and for {held_seconds:g} s after its last page or request" if held_seconds else ""
    return (
        f"The DuckDB file {url.database} is open in {who}: a running dashboard or API keeps "
        f"it open while it reads{after}, or another writer is at work; {rule}. Stop that "
        "process, or try again once it has let go of the file."
    )


def classify(engine: Engine, exc: BaseException) -> str | None:
    """A message for connection-level failures (host, login, database, privileges)."""
    url = engine.url
    text = str(getattr(exc, "orig", None) or exc)
    low = text.lower()
    where = f"{url.host or 'localhost'}:{url.port or 'default port'}"
    user = url.username or "(none)"
    locked = file_locked(url, exc)
    if locked is not None:
        return locked
    if "permission denied" in low or "insufficient privilege" in low:
        return (
            f"The warehouse user {user!r} may not read what the mapping names: "
            f"{first_line(exc)}. Ask an administrator to GRANT SELECT on the mapped tables "
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
    if "out of memory" in low:
        return (
            f"The warehouse ran out of memory computing this: {first_line(exc)}. On a DuckDB "
            f"file the dashboard may use {ENV_DUCKDB_MEMORY_MB} megabytes (DuckDB spills "
            "beyond it, but some steps cannot): raise it, or pick a shorter date range; on a "
            "warehouse server, ask its administrator for more memory for this user."
        )
    if any(marker in low for marker in _UNREACHABLE):
        return (
            f"Cannot reach the warehouse at {where}: {first_line(exc)}. Check the host and "
            f"port in --db / {ENV_URL}, that the server is running, and that it accepts "
            "connections from this machine."
        )
    return None


def unreadable(engine: Engine, exc: BaseException) -> WarehouseError:
    """The error for a warehouse that cannot be read: classified if possible, else generic."""
    message = classify(engine, exc) or (
        f"Cannot read the warehouse {safe_url(engine.url)}: {first_line(exc)}. "
        f"Check --db / {ENV_URL}, the mapping, and that the database is running and reachable."
    )
    return WarehouseError(scrub(message, engine.url))


def explain(
    engine: Engine, exc: BaseException, *, check_schema: Callable[[], object] | None = None
) -> WarehouseError:
    """One actionable :class:`WarehouseError` for a failure while reading ``engine``.

    Connection problems are named as such. Otherwise ``check_schema`` runs (the reader
    passes :func:`~journey_core.warehouse.schema.verify_schema` of its mapping), so that a
    missing table or column, or a column of the wrong type, is named with its mapping key.
    """
    if isinstance(exc, WarehouseError):
        return exc
    if check_schema is not None and classify(engine, exc) is None:
        try:
            check_schema()
        except WarehouseError as schema_error:
            return WarehouseError(scrub(str(schema_error), engine.url))
    if isinstance(exc, pl.exceptions.PolarsError | ValueError | TypeError):
        msg = (
            f"The warehouse {safe_url(engine.url)} returned data of an unexpected type: "
            f"{first_line(exc)}. Check that each mapped column has the type the README lists."
        )
        return WarehouseError(scrub(msg, engine.url))
    return unreadable(engine, exc)
