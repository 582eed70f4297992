"""The three retrieval windows and the assembled journey rows, pure Polars."""

from __future__ import annotations

import polars as pl

from journey_core import columns as c
from journey_core.rules.identity import (
    anonymous_owners,
    build_links,
    conform_events,
    known_individuals,
    stitch_conformed,
)
from journey_core.rules.query import JourneyQuery, Rule
from journey_core.timeutil import utc_lit


def admitted(query: JourneyQuery) -> pl.Expr:
    """The predicate over stitched events (with ``known_at``) that ``query``'s rule admits."""
    at = pl.col(c.OCCURRED_AT)
    upper = at <= utc_lit(query.as_of)
    rule = query.rule
    if rule is Rule.RECENT:
        return upper & (at >= utc_lit(query.as_of - query.recent_window))
    in_lookback = at >= utc_lit(query.lookback_start)
    if rule is Rule.EMAIL:
        return upper & in_lookback & (pl.col(c.EMAIL) == query.email)
    start = query.start
    assert start is not None
    since_start = at >= utc_lit(start)
    newly_known = pl.col(c.KNOWN_AT) >= utc_lit(start)
    predicate = upper & (since_start | (newly_known & in_lookback))
    if rule is Rule.EMAIL_AND_EVENT_DATE:
        predicate = predicate & (pl.col(c.EMAIL) == query.email)
    return predicate


def select_journeys(
    events: pl.LazyFrame,
    links: pl.LazyFrame,
    *,
    query: JourneyQuery,
    any_identifier: bool = False,
) -> pl.LazyFrame:
    """Apply ``query``'s rule to events and links; one row per event, sorted.

    ``links`` are the identification links at or before ``query.as_of`` (see
    :func:`build_links`). ``events`` may be any superset of the candidate events.
    ``any_identifier``: the email column holds user ids (see :func:`normalized_email`).
    """
    return select_stitched(
        events,
        people=known_individuals(links),
        owners=anonymous_owners(links),
        query=query,
        any_identifier=any_identifier,
    )


ROW = "_row"
"""The row-number column that :func:`chosen_events` expects and returns."""
# Who and when: what the rules decide on. The keys that order and deduplicate the result
# are fetched only for the rows that the rules admit.
_WHO_WHEN = (c.EMAIL, c.ANONYMOUS_ID, c.OCCURRED_AT)
_TIE_KEYS = (c.EVENT_ID, c.EVENT_TYPE, c.ANONYMOUS_ID, c.PAGE_URL)


def select_stitched(
    events: pl.LazyFrame,
    *,
    people: pl.LazyFrame,
    owners: pl.LazyFrame,
    query: JourneyQuery,
    any_identifier: bool = False,
) -> pl.LazyFrame:
    """:func:`select_journeys` with the links already reduced to ``people``
    (:func:`known_individuals`) and ``owners`` (:func:`anonymous_owners`).

    Both may be limited to the individuals and anonymous ids that ``events`` can reach.
    The rules run on the key columns only (:func:`chosen_events`); the other columns of
    the chosen events are joined back once at the end.
    """
    conformed = conform_events(events, any_identifier=any_identifier).with_row_index(ROW)
    chosen = chosen_events(conformed, people=people, owners=owners, query=query)
    return (
        chosen.join(conformed.drop(c.EMAIL), on=ROW, how="left", maintain_order="left")
        .with_columns(before_known())
        .select(c.RESULT_COLUMNS)
    )


def chosen_events(
    conformed: pl.LazyFrame,
    *,
    people: pl.LazyFrame,
    owners: pl.LazyFrame,
    query: JourneyQuery,
    unique_ids: bool = False,
) -> pl.LazyFrame:
    """The rows of ``conformed`` events that ``query`` admits, in result order.

    ``conformed`` comes from :func:`conform_events` plus a :data:`ROW` number column; the
    result has that number, the individual's ``email`` and ``known_at``, one row per event
    id, sorted by email, occurred_at and event_id. ``unique_ids`` promises that no two
    rows of ``conformed`` share an event id (nor lack one): then those three keys order
    the rows completely and nothing needs deduplicating, which makes a much smaller sort.
    """
    admitted_rows = (
        stitch_conformed(conformed.select(ROW, *_WHO_WHEN), owners)
        .join(people, on=c.EMAIL, how="inner")
        .filter(admitted(query))
        .select(ROW, c.EMAIL, c.KNOWN_AT, c.OCCURRED_AT)
    )
    # Email and occurred_at are never null here (inner join, time filter), so nulls_last
    # matters for the other keys only; asking for it on those alone is a faster sort.
    if unique_ids:
        return (
            admitted_rows.join(conformed.select(ROW, c.EVENT_ID), on=ROW, how="left")
            .sort(c.SORT_COLUMNS, nulls_last=[False, False, True])
            .select(ROW, c.EMAIL, c.KNOWN_AT)
        )
    return (
        admitted_rows.join(conformed.select(ROW, *_TIE_KEYS), on=ROW, how="left")
        # Sorted once; of duplicate event ids the first in result order is kept.
        .sort(
            [*c.SORT_COLUMNS, c.EVENT_TYPE, c.ANONYMOUS_ID, c.PAGE_URL],
            nulls_last=[False, False, True, True, True, True],
        )
        .filter(pl.col(c.EVENT_ID).is_first_distinct())
        .select(ROW, c.EMAIL, c.KNOWN_AT)
    )


def before_known() -> pl.Expr:
    """Whether an event happened before its individual became known."""
    return (pl.col(c.OCCURRED_AT) < pl.col(c.KNOWN_AT)).alias(c.BEFORE_KNOWN)


def journeys(
    events: pl.LazyFrame | pl.DataFrame,
    identities: pl.LazyFrame | pl.DataFrame,
    *,
    query: JourneyQuery,
) -> pl.DataFrame:
    """All the rules from whole ``events`` and ``identities`` tables (no warehouse).

    >>> import datetime as dt
    >>> ev = pl.DataFrame({"event_id": ["1"], "occurred_at": [dt.datetime(2022, 7, 2)],
    ...     "anonymous_id": ["a"], "email": [None], "event_type": ["page_view"]})
    >>> ids = pl.DataFrame({"anonymous_id": ["a"], "email": ["Ann@x.io"],
    ...     "identified_at": [dt.datetime(2022, 7, 3)]})
    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 1), event_date=dt.date(2022, 7, 1))
    >>> journeys(ev, ids, query=q).select("email", "event_id", "before_known").rows()
    [('ann@x.io', '1', True)]
    """
    ev, ids = events.lazy(), identities.lazy()
    links = build_links(ev, ids, as_of=query.as_of)
    return select_journeys(ev, links, query=query).collect()
