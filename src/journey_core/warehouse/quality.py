"""Data quality: count the messy rows of a warehouse, per kind, and say how results treat them."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy.engine import Engine

from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.read import read_count, reading
from journey_core.warehouse.statements import MAX_TEXT_LENGTH, quality_count_queries

__all__ = ["KIND", "MAX_TEXT_LENGTH", "ROWS", "TREATMENT", "TREATMENTS", "data_quality"]

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


def data_quality(
    engine: Engine, *, as_of: dt.datetime, mapping: SchemaMapping = CANONICAL
) -> pl.DataFrame:
    """One row per kind of bad data: ``kind``, ``rows`` and the ``treatment`` results give it.

    The counts are the statements of :mod:`~journey_core.warehouse.statements`, each one
    number computed by the warehouse (malformed emails judged by the SQL of
    :func:`~journey_core.rules.normalized_email`).

    >>> from journey_core.io.demo import build_demo
    >>> from journey_core.warehouse import create_engine
    >>> import tempfile, pathlib
    >>> url = f"duckdb:///{pathlib.Path(tempfile.mkdtemp()) / 'q.duckdb'}"
    >>> _ = build_demo(url, individuals=20, seed=1, end=dt.datetime(2022, 8, 31))
    >>> q = data_quality(create_engine(url), as_of=dt.datetime(2022, 8, 31, tzinfo=dt.UTC))
    >>> q.filter(pl.col("rows") > 0).height
    0
    """
    text_timestamps = engine.dialect.name == "sqlite"  # SQLite keeps timestamps as text
    counted = quality_count_queries(mapping, as_of=as_of, text_timestamps=text_timestamps)
    counts = dict.fromkeys(TREATMENTS, 0)
    with reading(engine, mapping) as conn:
        for kind, stmt in counted.items():
            counts[kind] = read_count(conn, stmt)
    return pl.DataFrame(
        {
            KIND: list(TREATMENTS),
            ROWS: [counts[kind] for kind in TREATMENTS],
            TREATMENT: list(TREATMENTS.values()),
        },
        schema={KIND: pl.String, ROWS: pl.Int64, TREATMENT: pl.String},
    )
