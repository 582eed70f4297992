"""The pages' tables in the warehouse, bounded: people, the events preview, filter options
and the (filtered) journey rows for a CSV, each ONE statement over
:func:`~journey_core.warehouse.figures.touch_rows`.

Only bounded results leave the warehouse: one page of the people table with the total
count (:func:`people_page`), the newest events (:func:`events_preview`), at most
:data:`OPTION_LIMIT` values per filter (:func:`filter_options`); the rows of a CSV are read
in batches (:func:`stream_rows`). The Polars oracle is
:mod:`journey_core.analytics.campaign` (``people_table``, ``_preview``, ``filter_options``,
``filter_people``): on the same rows these return the same values in the same order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journey_core import columns as c
from journey_core.analytics.campaign import FILTER_DIMENSIONS, Filters
from journey_core.analytics.channels import ChannelConfig
from journey_core.analytics.sessions import CONVERSION_EVENTS
from journey_core.rules.identity import RESULT_SCHEMA, TS
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.constructs import bytewise, time_bound
from journey_core.warehouse.figures import (
    campaign_touches,
    cohort_touches,
    counted_conversion,
    counted_revenue,
    touch_source,
)
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.read import BATCH_ROWS, conform, read_batches, reading
from journey_core.warehouse.statements import journey_statement, result_order

__all__ = [
    "OPTION_LIMIT",
    "PAGE_ROWS",
    "PEOPLE_SCHEMA",
    "PREVIEW_SCHEMA",
    "PeoplePage",
    "events_preview",
    "filter_options",
    "options_statement",
    "people_count_statement",
    "people_page",
    "people_statement",
    "preview_statement",
    "rows_statement",
    "stream_rows",
]

#: People per page of the people table.
PAGE_ROWS: Final = 1000
#: Values per filter offered (those with most people first).
OPTION_LIMIT: Final = 500

#: The columns of ``campaign.people_table``, in its order and types.
PEOPLE_SCHEMA: Final[dict[str, pl.DataType]] = {
    c.EMAIL: pl.String(),
    c.KNOWN_AT: TS,
    c.IS_NEWLY_KNOWN: pl.Boolean(),
    c.FIRST_EVENT: TS,
    c.LAST_EVENT: TS,
    c.EVENTS: pl.Int64(),
    c.SESSIONS: pl.Int64(),
    c.CHANNELS_USED: pl.String(),
    c.CONVERSIONS: pl.Int64(),
    c.REVENUE: pl.Float64(),
}
#: The columns of an events preview: the result columns, the visit and its channel.
PREVIEW_SCHEMA: Final[dict[str, pl.DataType]] = {
    **RESULT_SCHEMA,
    c.SESSION: pl.Int64(),
    c.CHANNEL: pl.String(),
}
_NEWLY: Final = "_newly"
_TOTAL: Final = "_total"
_DIMENSION: Final = "_dimension"


@dataclass(frozen=True, slots=True)
class PeoplePage:
    """One page of the people table: ``frame`` (:data:`PEOPLE_SCHEMA`), from row
    ``offset`` on, at most ``limit`` rows, of ``total`` people."""

    frame: pl.DataFrame
    total: int
    offset: int
    limit: int


# --------------------------------------------------------------------------- statements
def people_statement(
    touches: sa.CTE,
    *,
    since: dt.datetime | None = None,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
    limit: int = PAGE_ROWS,
    offset: int = 0,
) -> sa.Select[Any]:
    """``campaign.people_table`` without its channels: one row per person, latest activity
    first (then email, bytewise), rows ``offset`` to ``offset + limit``, each with the number
    of people (``_total``, counted before the limit).

    The channels of a page's people come from :func:`_channels_statement`.
    """
    t = touches.c
    known = sa.func.min(t[c.KNOWN_AT])
    newly: Any = (
        sa.null()
        if since is None
        else sa.func.max(
            sa.case(
                (t[c.KNOWN_AT] >= time_bound("people_since", since, lower=True), sa.literal(1)),
                else_=sa.literal(0),
            )
        )
    )
    # Ordered by the labels: Spark resolves no aggregate in ORDER BY next to a window.
    last = sa.func.max(t[c.OCCURRED_AT]).label(c.LAST_EVENT)
    return (
        sa.select(
            t[c.EMAIL],
            known.label(c.KNOWN_AT),
            newly.label(_NEWLY),
            sa.func.min(t[c.OCCURRED_AT]).label(c.FIRST_EVENT),
            last,
            sa.func.count().label(c.EVENTS),
            sa.func.count(sa.distinct(t[c.SESSION])).label(c.SESSIONS),
            sa.func.sum(counted_conversion(t, conversion_events, since)).label(c.CONVERSIONS),
            sa.func.sum(counted_revenue(t, since)).label(c.REVENUE),
            sa.func.count().over().label(_TOTAL),
        )
        .group_by(t[c.EMAIL])
        .order_by(last.desc(), bytewise(t[c.EMAIL]).asc())
        .limit(limit)
        .offset(offset)
    )


def people_count_statement(touches: sa.CTE) -> sa.Select[Any]:
    """ONE row: the number of people in ``touches`` (the people table's total)."""
    return sa.select(sa.func.count(sa.distinct(touches.c[c.EMAIL])).label(c.PEOPLE))


def _channels_statement(touches: sa.CTE, page: sa.Subquery) -> sa.Select[Any]:
    """Per person of ``page`` and channel of their touches: touches and the first one."""
    t = touches.c
    return (
        sa.select(
            t[c.EMAIL],
            t[c.CHANNEL],
            sa.func.count().label("_n"),
            sa.func.min(t[c.OCCURRED_AT]).label("_first"),
        )
        .where(t[c.IS_TOUCH] == 1, t[c.EMAIL].in_(sa.select(page.c[c.EMAIL])))
        .group_by(t[c.EMAIL], t[c.CHANNEL])
    )


def preview_statement(touches: sa.CTE, *, limit: int = PAGE_ROWS) -> sa.Select[Any]:
    """The ``limit`` newest rows of ``touches`` (``campaign._preview``'s order)."""
    t = touches.c
    return (
        sa.select(*(t[name] for name in PREVIEW_SCHEMA))
        .order_by(
            t[c.OCCURRED_AT].desc().nulls_first(),
            bytewise(t[c.EMAIL]).desc().nulls_first(),
            bytewise(t[c.EVENT_ID]).desc().nulls_first(),
        )
        .limit(limit)
    )


def options_statement(touches: sa.CTE, *, limit: int = OPTION_LIMIT) -> sa.Select[Any]:
    """``campaign.filter_options``: per filter dimension (``_dimension``), at most ``limit``
    of its values (``value``) with their people (``people``), as ONE statement.

    The people of a value are counted over its distinct (value, email) pairs, not with
    ``count(DISTINCT email)``, which PostgreSQL computes by sorting every row of each group
    (a held 10M-event cohort: 5 sorts of 2.3M rows, 7.4 s); the pairs are grouped by hashing.
    """
    t = touches.c
    parts = []
    for column in FILTER_DIMENSIONS:
        pairs = (
            sa.select(t[column].label("value"), t[c.EMAIL].label(c.EMAIL))
            .where(t[column].is_not(None))
            .group_by(t[column], t[c.EMAIL])
            .subquery(f"journey_pairs_{column}")
        )
        people = sa.func.count(pairs.c[c.EMAIL]).label(c.PEOPLE)
        top = (
            sa.select(pairs.c.value, people)
            .group_by(pairs.c.value)
            .order_by(people.desc(), bytewise(pairs.c.value).asc())
            .limit(limit)
            .subquery(f"journey_options_{column}")
        )
        parts.append(sa.select(sa.literal(column).label(_DIMENSION), top.c.value, top.c[c.PEOPLE]))
    return sa.union_all(*parts).subquery("journey_options").select()


def rows_statement(
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    filters: Filters | None = None,
) -> sa.Select[Any]:
    """The journey rows of the people ``filters`` keep, as `journey export` orders them.

    Without filters: :func:`journey_statement` itself (the rows `journey export` writes).
    """
    if filters is None or not filters.active:
        return journey_statement(query, mapping)
    t = cohort_touches(query, mapping, config, filters).c
    return sa.select(*(t[name] for name in c.RESULT_COLUMNS)).order_by(*result_order(t))


# --------------------------------------------------------------------------- running
def _frame(
    engine: Engine, mapping: SchemaMapping, stmt: sa.Select[Any], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """A bounded result as a frame of ``schema`` (through the cursor: DuckDB's Arrow reader,
    which :func:`read_batches` uses for large results, is several times slower here)."""
    with reading(engine, mapping) as conn:
        result = conn.execute(stmt)
        names = list(result.keys())
        rows = [tuple(row) for row in result.all()]
    raw = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)
    return conform(raw, schema)


def people_page(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    since: dt.datetime | None = None,
    filters: Filters | None = None,
    limit: int = PAGE_ROWS,
    offset: int = 0,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> PeoplePage:
    """Rows ``offset`` to ``offset + limit`` of ``campaign.people_table`` over the rows of
    ``query`` kept by ``filters``, and the number of people, computed in the warehouse."""
    # Conversions scoped to the filter's touches, as the key figures count them.
    touches = campaign_touches(query, mapping, config, filters or Filters())
    people = people_statement(
        touches, since=since, conversion_events=conversion_events, limit=limit, offset=offset
    )
    schema = {**PEOPLE_SCHEMA, _NEWLY: pl.Int64(), _TOTAL: pl.Int64()}
    del schema[c.IS_NEWLY_KNOWN], schema[c.CHANNELS_USED]
    page = _frame(engine, mapping, people, schema)
    if page.height:
        total = int(page.get_column(_TOTAL)[0])
    elif offset:  # past the last page: count them
        counted = _frame(engine, mapping, people_count_statement(touches), {c.PEOPLE: pl.Int64()})
        total = int(counted.item() or 0)
    else:
        total = 0
    channels = _frame(
        engine,
        mapping,
        _channels_statement(touches, people.subquery("journey_people_page")),
        {c.EMAIL: pl.String(), c.CHANNEL: pl.String(), "_n": pl.Int64(), "_first": TS},
    )
    used = (
        channels.sort([c.EMAIL, "_n", "_first", c.CHANNEL], descending=[False, True, False, False])
        .group_by(c.EMAIL, maintain_order=True)
        .agg(pl.col(c.CHANNEL).str.join(", ").alias(c.CHANNELS_USED))
    )
    frame = (
        page.with_columns((pl.col(_NEWLY) == 1).alias(c.IS_NEWLY_KNOWN))
        .join(used, on=c.EMAIL, how="left", maintain_order="left")
        .with_columns(pl.col(c.CHANNELS_USED).fill_null(""))
        .select(list(PEOPLE_SCHEMA))
    )
    return PeoplePage(frame, total, offset, limit)


def events_preview(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    filters: Filters | None = None,
    limit: int = PAGE_ROWS,
) -> pl.DataFrame:
    """The ``limit`` newest rows of ``query`` kept by ``filters`` (:data:`PREVIEW_SCHEMA`)."""
    touches = cohort_touches(query, mapping, config, filters)
    return _frame(engine, mapping, preview_statement(touches, limit=limit), PREVIEW_SCHEMA)


def filter_options(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    limit: int = OPTION_LIMIT,
) -> dict[str, list[str]]:
    """``campaign.filter_options`` of ``query``'s rows: at most ``limit`` values per filter."""
    touches = touch_source(query, mapping, config)
    schema = {_DIMENSION: pl.String(), "value": pl.String(), c.PEOPLE: pl.Int64()}
    found = _frame(engine, mapping, options_statement(touches, limit=limit), schema)
    ordered = found.sort([_DIMENSION, c.PEOPLE, "value"], descending=[False, True, False])
    return {
        column: ordered.filter(pl.col(_DIMENSION) == column).get_column("value").to_list()
        for column in FILTER_DIMENSIONS
    }


def stream_rows(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    filters: Filters | None = None,
    rows: int = BATCH_ROWS,
) -> Generator[pl.DataFrame]:
    """:func:`rows_statement`'s rows in frames of at most ``rows`` rows (``RESULT_SCHEMA``)."""
    stmt = rows_statement(query, mapping, config, filters=filters)
    return read_batches(engine, stmt, schema=RESULT_SCHEMA, mapping=mapping, rows=rows)
