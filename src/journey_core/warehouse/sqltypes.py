"""SQL types that read messy warehouses without failing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class Timestamp(TypeDecorator[dt.datetime]):
    """A UTC timestamp column; on SQLite (text) an unparseable value reads as null.

    SQLite compares stored text, so timestamps there should be ``YYYY-MM-DD HH:MM:SS[.ffffff]``
    (what SQLAlchemy writes); bound values are written the same way.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """Text on SQLite, so that a bad value reaches :meth:`process_result_value`."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String())
        # The plain impl: some dialects' type_descriptor(DateTime) (BigQuery's) cannot compile.
        return self.impl_instance

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Naive UTC; formatted as SQLAlchemy's SQLite text on SQLite."""
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            if dialect.name == "sqlite":
                return value.strftime("%Y-%m-%d %H:%M:%S.%f")
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
