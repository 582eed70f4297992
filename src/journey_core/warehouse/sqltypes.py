"""SQL types that read messy warehouses without failing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class Timestamp(TypeDecorator[dt.datetime]):
    """A UTC timestamp column; on SQLite (text) an unparseable value reads as null.

    SQLite compares stored text, so timestamps there should be ``YYYY-MM-DD HH:MM:SS`` with
    an optional fraction of up to six digits (SQLAlchemy writes all six). Text orders such
    values as time except that a shorter spelling of an instant sorts first (``...:00`` <
    ``...:00.5`` < ``...:00.500000``), so a bound is written as the spelling that keeps the
    comparison exact: an upper bound (``<=``, ``>``) with all six digits, a ``lower_bound``
    (``>=``, ``<``) with the shortest one, without trailing zeros or the fraction.

    >>> from sqlalchemy.dialects import sqlite
    >>> at = dt.datetime(2022, 8, 30, 12, 0, 0, 500000)
    >>> Timestamp().process_bind_param(at, sqlite.dialect())
    '2022-08-30 12:00:00.500000'
    >>> Timestamp(lower_bound=True).process_bind_param(at, sqlite.dialect())
    '2022-08-30 12:00:00.5'
    """

    impl = sa.DateTime
    cache_ok = True

    def __init__(self, *, lower_bound: bool = False) -> None:
        super().__init__()
        self.lower_bound = lower_bound

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """Text on SQLite, so that a bad value reaches :meth:`process_result_value`."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String())
        # The plain impl: some dialects' type_descriptor(DateTime) (BigQuery's) cannot compile.
        return self.impl_instance

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Naive UTC; on SQLite, text spelled for the bound's side (see the class)."""
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            if dialect.name == "sqlite":
                text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
                return text.rstrip("0").rstrip(".") if self.lower_bound else text
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Parse SQLite text leniently (null when it is no timestamp)."""
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                return None
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
            return parsed
        if isinstance(value, dt.datetime) or value is None:
            return value
        return None
