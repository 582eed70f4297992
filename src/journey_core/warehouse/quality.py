"""Data quality: count the messy rows of a warehouse, per kind, and say how results treat them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journey_core import columns as c
from journey_core.rules import normalized_email
from journey_core.warehouse import reading
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.sqltypes import Timestamp

MAX_TEXT_LENGTH = 2048
KIND = "kind"
ROWS = "rows"
TREATMENT = "treatment"

TREATMENTS: dict[str, str] = {
    "null_timestamp": "Events without an occurred_at are left out: they cannot be placed in time.",
    "unparseable_timestamp": "Events whose occurred_at is not a timestamp are left out.",
    "future_event": "Events after the as-of time are left out until that time comes.",
    "duplicate_event_id": "Rows repeating an event_id are returned once.",
    "identity_without_anonymous_id": (
        "Identify calls without an anonymous id make the email known but link no device."
    ),
    "malformed_email": "Values that are not an email address identify nobody (read as no email).",
    "oversized_value": (
        f"Text values longer than {MAX_TEXT_LENGTH:,} characters are counted; "
        "check the tracking that wrote them."
    ),
}


def _count(conn: sa.Connection, stmt: sa.Select[Any]) -> int:
    return int(conn.execute(stmt).scalar_one() or 0)


def data_quality(
    engine: Engine, *, as_of: dt.datetime, mapping: SchemaMapping = CANONICAL
) -> pl.DataFrame:
    """One row per kind of bad data: ``kind``, ``rows`` and the ``treatment`` results give it.

    >>> from journey_core.io.demo import build_demo
    >>> from journey_core.warehouse import create_engine
    >>> import tempfile, pathlib
    >>> url = f"duckdb:///{pathlib.Path(tempfile.mkdtemp()) / 'q.duckdb'}"
    >>> _ = build_demo(url, individuals=20, seed=1, end=dt.datetime(2022, 8, 31))
    >>> q = data_quality(create_engine(url), as_of=dt.datetime(2022, 8, 31, tzinfo=dt.UTC))
    >>> q.filter(pl.col("rows") > 0).height
    0
    """
    ev = mapping.events_source()
    ids = mapping.identities_source()
    bound = sa.bindparam("as_of", as_of, Timestamp())
    at = ev.c[c.OCCURRED_AT]
    counts: dict[str, int] = {}
    with reading(engine, mapping) as conn:
        counts["null_timestamp"] = _count(
            conn, sa.select(sa.func.count()).select_from(ev).where(at.is_(None))
        )
        unparseable = 0
        future = at > bound
        if engine.dialect.name == "sqlite":
            raw = sa.type_coerce(at, sa.String())
            unparseable = _count(
                conn,
                sa.select(sa.func.count())
                .select_from(ev)
                .where(raw.is_not(None), sa.func.julianday(raw).is_(None)),
            )
            future = sa.and_(future, sa.func.julianday(raw).is_not(None))
        counts["unparseable_timestamp"] = unparseable
        counts["future_event"] = _count(
            conn, sa.select(sa.func.count()).select_from(ev).where(future)
        )
        counts["duplicate_event_id"] = _count(
            conn,
            sa.select(sa.func.count() - sa.func.count(sa.distinct(ev.c[c.EVENT_ID]))).select_from(
                ev
            ),
        )
        no_anon = 0
        emails = [
            sa.select(ev.c[c.EMAIL].label("value"), sa.func.count().label("n"))
            .where(ev.c[c.EMAIL].is_not(None))
            .group_by(ev.c[c.EMAIL])
        ]
        if ids is not None:
            anon = ids.c[c.ANONYMOUS_ID]
            no_anon = _count(
                conn,
                sa.select(sa.func.count())
                .select_from(ids)
                .where(sa.or_(anon.is_(None), sa.func.trim(anon) == "")),
            )
            emails.append(
                sa.select(ids.c[c.EMAIL].label("value"), sa.func.count().label("n"))
                .where(ids.c[c.EMAIL].is_not(None))
                .group_by(ids.c[c.EMAIL])
            )
        counts["identity_without_anonymous_id"] = no_anon
        seen = pl.concat(
            [pl.read_database(stmt, conn, schema_overrides={"value": pl.String}) for stmt in emails]
        )
        any_id = mapping.identifier != "email"
        malformed = seen.filter(
            normalized_email("value", any_identifier=any_id).is_null()
            & (pl.col("value").str.strip_chars() != "")
        )
        counts["malformed_email"] = int(malformed.get_column("n").sum() or 0)
        text_columns = [ev.c[name] for name in c.TEXT_EVENT_COLUMNS]
        too_long = sa.or_(*(sa.func.length(col) > MAX_TEXT_LENGTH for col in text_columns))
        counts["oversized_value"] = _count(
            conn, sa.select(sa.func.count()).select_from(ev).where(too_long)
        )
    return pl.DataFrame(
        {
            KIND: list(TREATMENTS),
            ROWS: [counts[kind] for kind in TREATMENTS],
            TREATMENT: list(TREATMENTS.values()),
        },
        schema={KIND: pl.String, ROWS: pl.Int64, TREATMENT: pl.String},
    )
