"""The warehouse-native route: the rules run in the warehouse as ONE statement.

:func:`~journey_core.warehouse.statements.journey_statement` (built with every other statement
in :mod:`~journey_core.warehouse.statements`, from the constructs of
:mod:`~journey_core.warehouse.constructs`) returns exactly the rows of
:func:`journey_core.rules.journeys`, the oracle. :func:`native_journeys` runs it into one
frame; :func:`stream_journeys` reads it in bounded batches, for exports.

Engine limits (the oracle is Polars, which lower-cases all of Unicode): PostgreSQL's
``lower()`` under the C collation folds ASCII letters only, so an email with upper-case
non-ASCII letters is spelled differently there (SQLite uses the Unicode ``journey_lower``
that :func:`~journey_core.warehouse.engine.create_engine` registers). SQLite timestamps must
be text in ``YYYY-MM-DD HH:MM:SS[.ffffff]`` form (the README's schema).
"""

from __future__ import annotations

from collections.abc import Generator

import polars as pl
from sqlalchemy.engine import Engine

from journey_core.rules.identity import RESULT_SCHEMA
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.constructs import (
    EMAIL_LOCAL_MAX,
    UNICODE_SPACE,
    bytewise,
    email_pattern,
    matches_email,
    normalized_email,
    sortable_time,
    trim_space,
)
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.read import BATCH_ROWS, read_batches, reading
from journey_core.warehouse.statements import journey_count_query, journey_statement

__all__ = [
    "EMAIL_LOCAL_MAX",
    "UNICODE_SPACE",
    "bytewise",
    "count_journeys",
    "email_pattern",
    "journey_statement",
    "matches_email",
    "native_journeys",
    "normalized_email",
    "sortable_time",
    "stream_journeys",
    "trim_space",
]


def stream_journeys(
    engine: Engine,
    query: JourneyQuery,
    *,
    mapping: SchemaMapping = CANONICAL,
    rows: int = BATCH_ROWS,
) -> Generator[pl.DataFrame]:
    """The rows of :func:`journey_statement` in frames of at most ``rows`` rows, in order.

    Each frame has ``RESULT_SCHEMA`` (times UTC); an empty result is one empty frame.
    Memory holds one batch at a time, whatever the size of the result.
    """
    return read_batches(
        engine, journey_statement(query, mapping), schema=RESULT_SCHEMA, mapping=mapping, rows=rows
    )


def count_journeys(
    engine: Engine, query: JourneyQuery, *, mapping: SchemaMapping = CANONICAL
) -> tuple[int, int]:
    """(events, individuals) of :func:`journey_statement`, counted in the warehouse."""
    with reading(engine, mapping) as conn:
        events, individuals = conn.execute(journey_count_query(query, mapping)).one()
    return int(events or 0), int(individuals or 0)


def native_journeys(
    engine: Engine, query: JourneyQuery, *, mapping: SchemaMapping = CANONICAL
) -> pl.DataFrame:
    """Run :func:`journey_statement` in the warehouse; a frame with ``RESULT_SCHEMA``.

    Times come back as UTC. Database errors become one
    :class:`~journey_core.errors.WarehouseError` (through :func:`journey_core.warehouse.reading`).
    """
    return pl.concat(stream_journeys(engine, query, mapping=mapping), rechunk=True)
