"""Where the canonical ``events`` and ``identities`` live in a warehouse.

A :class:`SchemaMapping` names the table and the column that plays each canonical role.
The warehouse reader selects through it, so every query speaks canonical column names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from journey_core import columns as c
from journey_core.sqltypes import Timestamp

_TEXT: sa.types.TypeEngine[Any] = sa.String()
_TS: sa.types.TypeEngine[Any] = Timestamp()
_NUM: sa.types.TypeEngine[Any] = sa.Float()

EVENT_TYPES: Mapping[str, sa.types.TypeEngine[Any]] = MappingProxyType(
    {
        **{name: _TEXT for name in c.TEXT_EVENT_COLUMNS},
        c.OCCURRED_AT: _TS,
        c.REVENUE: _NUM,
    }
)
IDENTITY_TYPES: Mapping[str, sa.types.TypeEngine[Any]] = MappingProxyType(
    {c.ANONYMOUS_ID: _TEXT, c.EMAIL: _TEXT, c.IDENTIFIED_AT: _TS}
)
# Columns without which no rule can run; the rest may be absent and then read as null.
REQUIRED_EVENT_COLUMNS: tuple[str, ...] = (c.EVENT_ID, c.OCCURRED_AT, c.ANONYMOUS_ID, c.EMAIL)


@dataclass(frozen=True, slots=True)
class TableMapping:
    """One warehouse table and, per canonical column, the column that holds it.

    ``columns`` maps canonical name to source column name; a canonical column mapped to
    ``None`` is not in the source and reads as null.
    """

    table: str
    columns: Mapping[str, str | None]
    schema: str | None = None
    key: str = ""

    def qualified(self) -> str:
        """``schema.table`` as a user would write it."""
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def select(self, types: Mapping[str, sa.types.TypeEngine[Any]]) -> sa.Subquery:
        """A subquery exposing every canonical column (labelled) of this table."""
        present = {canon: src for canon, src in self.columns.items() if src is not None}
        table = sa.table(
            self.table,
            *(sa.column(src, types[canon]) for canon, src in present.items()),
            schema=self.schema,
        )
        cols = [
            table.c[present[canon]].label(canon)
            if canon in present
            else sa.cast(sa.null(), types[canon]).label(canon)
            for canon in types
        ]
        return sa.select(*cols).subquery(self.table)


def _identity(names: Mapping[str, object]) -> dict[str, str | None]:
    return {name: name for name in names}


@dataclass(frozen=True, slots=True)
class SchemaMapping:
    """The warehouse's events and identities tables; ``identities`` may be absent."""

    events: TableMapping = field(
        default_factory=lambda: TableMapping(c.EVENTS, _identity(EVENT_TYPES), key="events")
    )
    identities: TableMapping | None = field(
        default_factory=lambda: TableMapping(
            c.IDENTITIES, _identity(IDENTITY_TYPES), key="identities"
        )
    )
    name: str = "canonical"

    def events_source(self) -> sa.Subquery:
        """The events table as a subquery with canonical columns."""
        return self.events.select(EVENT_TYPES)

    def identities_source(self) -> sa.Subquery | None:
        """The identities table as a subquery with canonical columns, if there is one."""
        return None if self.identities is None else self.identities.select(IDENTITY_TYPES)


CANONICAL = SchemaMapping()
