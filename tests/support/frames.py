"""Small inline frames for tests: canonical events and identities from partial rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl

from journey_core import columns as c
from journey_core.rules import EVENT_SCHEMA, IDENTITY_SCHEMA

#: The end of the small seeded demo warehouse (fixture ``demo_url``).
DEMO_END = "2022-08-31T00:00:00Z"

__all__ = ["DEMO_END", "T", "U", "events_frame", "identities_frame"]


def T(text: str) -> dt.datetime:
    """A naive UTC timestamp from ISO text, as the warehouse stores it."""
    return dt.datetime.fromisoformat(text)


def U(text: str) -> dt.datetime:
    """An aware UTC timestamp from ISO text, as results carry it."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def events_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Canonical events from partial dicts; missing columns are null."""
    schema = {**EVENT_SCHEMA, c.OCCURRED_AT: pl.Datetime("us")}
    full = [{name: row.get(name) for name in c.EVENT_COLUMNS} for row in rows]
    return pl.DataFrame(full, schema=schema, orient="row")


def identities_frame(rows: Sequence[tuple[str | None, str | None, str]]) -> pl.DataFrame:
    """Canonical identities from ``(anonymous_id, email, identified_at)`` tuples."""
    schema = {**IDENTITY_SCHEMA, c.IDENTIFIED_AT: pl.Datetime("us")}
    return pl.DataFrame([(a, e, T(t)) for a, e, t in rows], schema=schema, orient="row")
