"""Every SQL statement the product sends to a warehouse, as SQLAlchemy Core.

User input and times travel as bound parameters, never inside the SQL text. The reader
(:mod:`~journey_core.warehouse.fetch`, :mod:`~journey_core.warehouse.schema`,
:mod:`~journey_core.warehouse.quality`) runs these, and ``tests/unit/test_dialects.py``
compiles each one for every dialect it covers. Only the demo writer
(:mod:`~journey_core.warehouse.write`) has statements of its own: its DDL.

Two routes read journeys. The pushed-down route (:func:`events_query`, :func:`links_query`
and the other builders) filters the time window and the candidate individuals in SQL: only
candidate rows cross into Polars, where :mod:`journey_core.rules` applies the exact rules.
The warehouse-native route is :func:`journey_statement`: the rules themselves as ONE
statement. Both build on :mod:`~journey_core.warehouse.constructs`, so they trim, lower-case,
validate emails and compare SQLite's text times alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from journey_core import columns as c
from journey_core.rules.query import JourneyQuery, Rule
from journey_core.warehouse.constructs import (
    blank_to_null,
    bytewise,
    email_key,
    email_matches,
    materialized,
    naive_utc,
    normalized_email,
    sortable_time,
    sqlite_spellings,
    time_bound,
)
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping, TableMapping
from journey_core.warehouse.sqltypes import Timestamp

__all__ = [
    "MAX_TEXT_LENGTH",
    "admitted_rows",
    "columns_query",
    "conformed_events",
    "email_key",
    "email_matches",
    "event_span_query",
    "events_query",
    "identity_count_query",
    "identity_links",
    "in_window",
    "journey_count_query",
    "journey_rows",
    "journey_statement",
    "link_groups_query",
    "links_query",
    "lookup_events_query",
    "lookup_links_query",
    "naive_utc",
    "probe_queries",
    "quality_count_queries",
    "result_order",
    "sqlite_spellings",
    "window_values",
]

MAX_TEXT_LENGTH = 2048
"""Text values longer than this are counted as oversized by the data-quality checks."""


# ------------------------------------------------------------------------- links


def _link_selects(mapping: SchemaMapping, *, as_of: dt.datetime) -> list[sa.Select[Any]]:
    """SELECTs of (anonymous_id, email, linked_at) link rows at or before ``as_of``."""
    bound = time_bound("as_of", as_of)
    ev = mapping.events_source()
    selects = [
        sa.select(
            ev.c[c.ANONYMOUS_ID],
            ev.c[c.EMAIL],
            ev.c[c.OCCURRED_AT].label(c.LINKED_AT),
        ).where(ev.c[c.EMAIL].is_not(None), ev.c[c.OCCURRED_AT] <= bound)
    ]
    ids = mapping.identities_source()
    if ids is not None:
        selects.append(
            sa.select(
                ids.c[c.ANONYMOUS_ID],
                ids.c[c.EMAIL],
                ids.c[c.IDENTIFIED_AT].label(c.LINKED_AT),
            ).where(ids.c[c.EMAIL].is_not(None), ids.c[c.IDENTIFIED_AT] <= bound)
        )
    return selects


def links_query(
    mapping: SchemaMapping,
    *,
    as_of: dt.datetime,
    email: str | None = None,
    anonymous_ids: Sequence[str] | None = None,
) -> sa.Select[Any]:
    """Link rows at or before ``as_of``, optionally of one email or of some anonymous ids."""
    selects = []
    for select in _link_selects(mapping, as_of=as_of):
        cols = select.selected_columns
        if email is not None:
            select = select.where(email_matches(cols[c.EMAIL], email))
        if anonymous_ids is not None:
            select = select.where(
                cols[c.ANONYMOUS_ID].in_(
                    sa.bindparam("anon_ids", list(anonymous_ids), expanding=True)
                )
            )
        selects.append(select)
    union = sa.union_all(*selects).subquery("links")
    return sa.select(union.c[c.ANONYMOUS_ID], union.c[c.EMAIL], union.c[c.LINKED_AT])


def link_groups_query(mapping: SchemaMapping, *, as_of: dt.datetime) -> sa.Select[Any]:
    """The link rows of :func:`links_query`, grouped by their raw (anonymous_id, email).

    Each group keeps its first and last ``linked_at``. Grouping the raw values, before
    emails are normalised in Polars, loses nothing the rules need: an email's ``known_at``
    is the earliest first link over all its spellings, and an anonymous id's owner is
    decided by its groups' last links (see :func:`~journey_core.warehouse.fetch.people_and_owners`).
    Only for warehouses that order timestamps as time (not SQLite, which keeps them as text).
    """
    links = links_query(mapping, as_of=as_of).subquery("links")
    anon, email, at = links.c[c.ANONYMOUS_ID], links.c[c.EMAIL], links.c[c.LINKED_AT]
    return sa.select(
        anon,
        email,
        sa.func.min(at).label(c.FIRST_LINKED_AT),
        sa.func.max(at).label(c.LAST_LINKED_AT),
    ).group_by(anon, email)


def lookup_links_query(
    mapping: SchemaMapping,
    *,
    email: str | None = None,
    anonymous_ids: Sequence[str] | None = None,
    events: bool = True,
) -> sa.Select[Any] | None:
    """Link rows of one email (trimmed, lower-cased) or of some anonymous ids, at any time.

    Every SELECT filters one column only, so that an index on ``lower(trim(email))`` or on
    ``anonymous_id`` serves it (DuckDB uses an index only for a scan with a single filtered
    column); the time and the null filters are applied in Polars. ``events=False`` reads
    the identities table(s) only; ``None`` when there is nothing to read.
    """
    sources: list[tuple[sa.Subquery, str]] = []
    if events:
        sources.append((mapping.events_source(), c.OCCURRED_AT))
    ids = mapping.identities_source()
    if ids is not None:
        sources.append((ids, c.IDENTIFIED_AT))
    selects = []
    for source, at in sources:
        select = sa.select(
            source.c[c.ANONYMOUS_ID], source.c[c.EMAIL], source.c[at].label(c.LINKED_AT)
        )
        if email is not None:
            select = select.where(email_matches(source.c[c.EMAIL], email))
        if anonymous_ids is not None:
            listed: sa.BindParameter[list[str]] = sa.bindparam(
                "anon_ids", list(anonymous_ids), expanding=True
            )
            select = select.where(source.c[c.ANONYMOUS_ID].in_(listed))
        selects.append(select)
    if not selects:
        return None
    if len(selects) == 1:
        return selects[0]
    union = sa.union_all(*selects).subquery("links")
    return sa.select(union.c[c.ANONYMOUS_ID], union.c[c.EMAIL], union.c[c.LINKED_AT])


# ------------------------------------------------------------------------ events


def lookup_events_query(
    mapping: SchemaMapping, *, email: str, anonymous_ids: Sequence[str] = ()
) -> sa.Select[Any]:
    """Every event, at any time, that carries ``email`` or has one of ``anonymous_ids``.

    Two single-filter SELECTs (see :func:`lookup_links_query`); an event matching both
    comes twice, and identical rows are one event to the rules.
    """
    ev = mapping.events_source()
    columns = [ev.c[name] for name in c.EVENT_COLUMNS]
    own = sa.select(*columns).where(email_matches(ev.c[c.EMAIL], email))
    if not anonymous_ids:
        return own
    listed: sa.BindParameter[list[str]] = sa.bindparam(
        "anon_ids", list(anonymous_ids), expanding=True
    )
    theirs = sa.select(*columns).where(ev.c[c.ANONYMOUS_ID].in_(listed))
    both = sa.union_all(own, theirs).subquery("candidates")
    return sa.select(*both.c)


def events_query(
    mapping: SchemaMapping,
    *,
    query: JourneyQuery,
    anonymous_ids: Sequence[str] | None = None,
    narrow_lookback: bool = False,
) -> sa.Select[Any]:
    """Candidate events: in the query's time window and of a candidate individual.

    With ``query.email`` the candidates are that email's events and those of
    ``anonymous_ids``; otherwise every event that carries an email or whose anonymous id
    was ever linked by ``query.as_of`` (a semi-join evaluated in the warehouse).

    ``narrow_lookback`` (event_date rule): events before the campaign start are kept only
    for people who may have become known since it, i.e. whose raw email was first linked
    at or after the start, or whose anonymous id was linked to such an email. That is a
    superset of what the rule admits, since an email's ``known_at`` is never later than
    the first link of any of its spellings; it needs a warehouse that orders timestamps as
    time (not SQLite's text).
    """
    ev = mapping.events_source()
    stmt = sa.select(*(ev.c[name] for name in c.EVENT_COLUMNS)).where(
        *in_window(ev.c[c.OCCURRED_AT], query)
    )
    if query.email is not None:
        who: sa.ColumnElement[bool] = email_matches(ev.c[c.EMAIL], query.email)
        if anonymous_ids:
            who = who | ev.c[c.ANONYMOUS_ID].in_(
                sa.bindparam("anon_ids", list(anonymous_ids), expanding=True)
            )
        return stmt.where(who)
    # Joins, not IN (subquery) under OR: PostgreSQL cannot turn those into semi-joins and,
    # once the ids outgrow work_mem, rescans the subquery for every event.
    links = sa.union_all(*_link_selects(mapping, as_of=query.as_of)).subquery("links")
    anon, email, at = links.c[c.ANONYMOUS_ID], links.c[c.EMAIL], links.c[c.LINKED_AT]
    occurred, ev_anon, ev_email = ev.c[c.OCCURRED_AT], ev.c[c.ANONYMOUS_ID], ev.c[c.EMAIL]
    start = query.start
    if not (narrow_lookback and start is not None and start > query.window_start):
        linked = (
            sa.select(anon.label("device"))
            .where(anon.is_not(None))
            .group_by(anon)
            .subquery("linked")
        )
        return stmt.select_from(ev.outerjoin(linked, ev_anon == linked.c.device)).where(
            ev_email.is_not(None) | linked.c.device.is_not(None)
        )
    since = time_bound("start", start, lower=True)
    newcomers = (
        sa.select(email.label("newcomer"))
        .group_by(email)
        .having(sa.func.min(at) >= since)
        .subquery("newcomers")
    )
    # Each linked anonymous id, and whether it was ever linked to a newcomer.
    fresh = sa.case((newcomers.c.newcomer.is_not(None), 1), else_=0)
    devices = (
        sa.select(anon.label("device"), sa.func.max(fresh).label("fresh"))
        .select_from(links.outerjoin(newcomers, email == newcomers.c.newcomer))
        .where(anon.is_not(None))
        .group_by(anon)
        .subquery("linked")
    )
    joined = ev.outerjoin(devices, ev_anon == devices.c.device).outerjoin(
        newcomers, ev_email == newcomers.c.newcomer
    )
    return stmt.select_from(joined).where(
        sa.or_(
            sa.and_(occurred >= since, ev_email.is_not(None) | devices.c.device.is_not(None)),
            newcomers.c.newcomer.is_not(None),
            devices.c.fresh == 1,
        )
    )


# ------------------------------------------------------------ the rules, one statement
def _text(name: str, value: str) -> sa.BindParameter[str]:
    return sa.bindparam(name, value, type_=sa.String())


# Columns the statement derives from the mapped events (the rest pass through unchanged).
_DERIVED = frozenset({c.OCCURRED_AT, c.ANONYMOUS_ID, c.EMAIL})
# The keys of the result order, as in rules.windows.chosen_events.
_RESULT_ORDER = (*c.SORT_COLUMNS, c.EVENT_TYPE, c.ANONYMOUS_ID, c.PAGE_URL)


def _asc(column: sa.ColumnElement[Any], *, text: bool = True) -> sa.UnaryExpression[Any]:
    return (bytewise(column) if text else column).asc().nulls_last()


def conformed_events(
    mapping: SchemaMapping, query: JourneyQuery | None = None, *, email: bool | None = None
) -> sa.Select[Any]:
    """The mapped events conformed: trimmed, lower-cased, validated emails, blank anonymous
    ids as NULL and times that order as time; within ``query``'s window if given. With
    ``email`` True only those that carry one (a superset of those with a valid one: the
    plain IS NOT NULL reaches the scan), with False only those without a valid one.

    Each call is a reader of its own: engines inline it, so PostgreSQL can use an index on
    occurred_at for the window. One select shared by two readers would make DuckDB hold
    every conformed event in memory and PostgreSQL write them to a tuplestore.

    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 31), event_date=dt.date(2022, 7, 1))
    >>> {"as_of", "window_start"} <= set(conformed_events(CANONICAL, q).compile().params)
    True
    """
    source = mapping.events_source()
    at = sortable_time(source.c[c.OCCURRED_AT])
    raw = source.c[c.EMAIL]
    conformed = normalized_email(raw, any_identifier=mapping.identifier != "email")
    events = sa.select(
        *(source.c[name] for name in c.EVENT_COLUMNS if name not in _DERIVED),
        at.label(c.OCCURRED_AT),
        blank_to_null(source.c[c.ANONYMOUS_ID]).label(c.ANONYMOUS_ID),
        conformed.label(c.EMAIL),
    )
    if query is not None:
        events = events.where(*in_window(at, query))
    if email is True:
        events = events.where(raw.is_not(None))
    elif email is False:  # most events carry none: the plain test first
        events = events.where(sa.or_(raw.is_(None), conformed.is_(None)))
    return events


def identity_links(mapping: SchemaMapping, *, as_of: dt.datetime) -> tuple[sa.CTE, sa.CTE]:
    """The conformed events and their identification links at or before ``as_of``, as CTEs.

    ``journey_events``: :func:`conformed_events`; ``journey_links``: (anonymous_id, email,
    linked_at) of every email-carrying event and identities row up to ``as_of``. The one
    definition of who is linked to whom that :func:`journey_statement` and
    :mod:`~journey_core.warehouse.search` build on.
    """
    any_id = mapping.identifier != "email"
    bound = time_bound("as_of", as_of)
    source = mapping.events_source()
    events = conformed_events(mapping).cte("journey_events")
    # The links conform their sources themselves, not through the events CTE (which has
    # one reader, see conformed_events).
    ids = mapping.identities_source()
    sources = [(source, source.c[c.OCCURRED_AT])]
    if ids is not None:
        sources.append((ids, ids.c[c.IDENTIFIED_AT]))
    # Identification links at or before as_of: email-carrying events and identities rows.
    # Only rows that carry an email are conformed (the plain IS NOT NULL reaches the scan:
    # on DuckDB the validation is a CASE with a regex, through which no filter is derived).
    link_selects = []
    for table, linked_at in sources:
        conformed = (
            sa.select(
                blank_to_null(table.c[c.ANONYMOUS_ID]).label(c.ANONYMOUS_ID),
                normalized_email(table.c[c.EMAIL], any_identifier=any_id).label(c.EMAIL),
                sortable_time(linked_at).label(c.LINKED_AT),
            )
            .where(table.c[c.EMAIL].is_not(None))
            .subquery(f"journey_{table.name}_links")
        )
        link_selects.append(
            sa.select(
                conformed.c[c.ANONYMOUS_ID], conformed.c[c.EMAIL], conformed.c[c.LINKED_AT]
            ).where(conformed.c[c.EMAIL].is_not(None), conformed.c[c.LINKED_AT] <= bound)
        )
    links = sa.union_all(*link_selects).cte("journey_links")
    return events, links


def journey_statement(query: JourneyQuery, mapping: SchemaMapping = CANONICAL) -> sa.Select[Any]:
    """ONE ``SELECT`` returning the rows of :func:`journey_core.rules.journeys` for ``query``.

    The warehouse-native route: identification links, each email's ``known_at``,
    stitching, the rule's window, de-duplication of event ids and ``before_known``, sorted
    like the oracle. Every time bound is computed in Python and bound (no interval
    arithmetic in SQL), every ``row_number()`` is fully ordered and NULL order is explicit;
    what engines spell differently comes from :mod:`~journey_core.warehouse.constructs`.

    Columns are :data:`journey_core.columns.RESULT_COLUMNS`, rows sorted by email,
    occurred_at and event_id. ``mapping`` supplies the canonical events and identities.
    It is :func:`journey_rows` over :func:`admitted_rows`, which a caller may also run as
    two steps (the cohort store does, under a memory limit).

    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 31), event_date=dt.date(2022, 7, 1))
    >>> stmt = journey_statement(q)
    >>> [col.name for col in stmt.selected_columns] == list(c.RESULT_COLUMNS)
    True
    >>> {"as_of", "lookback_start", "start", "window_start"} <= set(stmt.compile().params)
    True
    """
    rows = journey_rows(admitted_rows(query, mapping))
    return rows.order_by(*result_order(rows.selected_columns))


def admitted_rows(query: JourneyQuery, mapping: SchemaMapping = CANONICAL) -> sa.CTE:
    """The rows the rule admits, stitched to their person, before de-duplication of event ids.

    Columns: the person's email and ``known_at``, then the event's other columns.
    Identification links, each email's ``known_at``, each
    anonymous id's owner (its latest link at or before ``as_of``; ties go to the smallest
    email), then the rule's window and test.
    """
    _, links = identity_links(mapping, as_of=query.as_of)
    ln = links.c

    # known_at: the earliest link of each email.
    people = (
        sa.select(ln[c.EMAIL], sa.func.min(ln[c.LINKED_AT]).label(c.KNOWN_AT))
        .group_by(ln[c.EMAIL])
        .cte("journey_people")
    )
    known = people.c
    # Each anonymous id's owner (its latest link; ties go to the smallest email), with the
    # owner's known_at. Materialized: joined into the events as one small table.
    latest = sa.func.row_number().over(
        partition_by=ln[c.ANONYMOUS_ID],
        order_by=(ln[c.LINKED_AT].desc(), _asc(ln[c.EMAIL])),
    )
    ranked = (
        sa.select(ln[c.ANONYMOUS_ID], ln[c.EMAIL], latest.label("_latest"))
        .where(ln[c.ANONYMOUS_ID].is_not(None))
        .subquery("journey_ranked")
    )
    owners = materialized(
        sa.select(ranked.c[c.ANONYMOUS_ID], ranked.c[c.EMAIL].label("_owner"), known[c.KNOWN_AT])
        .select_from(ranked.join(people, known[c.EMAIL] == ranked.c[c.EMAIL]))
        .where(ranked.c["_latest"] == 1)
        .cte("journey_owners")
    )

    # Stitching: an event's own email, else its anonymous id's owner; then the rule. Each
    # event is read by the one join that names its person: the events carrying a valid
    # email join the people, the others their anonymous id's owner (one hash join per
    # event, not a left join to the owners and then a join to the people).
    with_email = conformed_events(mapping, query, email=True).subquery("journey_own_events")
    without = conformed_events(mapping, query, email=False).subquery("journey_anonymous_events")
    own, anon, owner = with_email.c, without.c, owners.c
    others = [name for name in c.EVENT_COLUMNS if name != c.EMAIL]
    return sa.union_all(
        sa.select(own[c.EMAIL], known[c.KNOWN_AT], *(own[name] for name in others))
        .select_from(with_email.join(people, known[c.EMAIL] == own[c.EMAIL]))
        .where(_admitted(query, own[c.EMAIL], own[c.OCCURRED_AT], known[c.KNOWN_AT])),
        sa.select(owner["_owner"].label(c.EMAIL), owner[c.KNOWN_AT], *(anon[n] for n in others))
        .select_from(without.join(owners, owner[c.ANONYMOUS_ID] == anon[c.ANONYMOUS_ID]))
        .where(_admitted(query, owner["_owner"], anon[c.OCCURRED_AT], owner[c.KNOWN_AT])),
    ).cte("journey_admitted")


def journey_rows(admitted: sa.CTE) -> sa.Select[Any]:
    """The rule's rows (:data:`~journey_core.columns.RESULT_COLUMNS`, unordered) from
    ``admitted`` (a CTE with the columns of :func:`admitted_rows`): one row per event id, and
    ``before_known``. Each event id's rows must all be in ``admitted``.
    """
    rows = _deduplicated(admitted).c
    return sa.select(
        *(
            (rows[c.OCCURRED_AT] < rows[c.KNOWN_AT]).label(c.BEFORE_KNOWN)
            if name == c.BEFORE_KNOWN
            else rows[name]
            for name in c.RESULT_COLUMNS
        )
    )


def window_values(
    query: JourneyQuery, mapping: SchemaMapping, names: Sequence[str]
) -> sa.Select[Any]:
    """The distinct ``names`` (event columns as mapped) of every event in ``query``'s window.

    A superset of those of :func:`journey_statement`'s rows, read from the events alone: a
    statement that needs the distinct values of its rows (the channel inputs, classified
    once each) reads them here, so the rows themselves are read once and need not be held.
    Holding them cost DuckDB a copy of every row (6 GB at 100M events, spilled) and makes
    Spark, which inlines every CTE, compute the rule twice.

    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 31), event_date=dt.date(2022, 7, 1))
    >>> sorted(window_values(q, CANONICAL, [c.REFERRER]).compile().params)
    ['as_of', 'window_start']
    """
    source = mapping.events_source()
    at = sortable_time(source.c[c.OCCURRED_AT])
    return sa.select(*(source.c[name] for name in names)).where(*in_window(at, query)).distinct()


def in_window(at: sa.ColumnElement[Any], query: JourneyQuery) -> list[sa.ColumnElement[bool]]:
    """``at`` within ``query``'s window, ``window_start`` to ``as_of`` (both bound, inclusive).

    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 31), event_date=dt.date(2022, 7, 1))
    >>> [str(cond) for cond in in_window(sa.column("at"), q)]
    ['at >= :window_start', 'at <= :as_of']
    """
    return [
        at >= time_bound("window_start", query.window_start, lower=True),
        at <= time_bound("as_of", query.as_of),
    ]


def _deduplicated(admitted: sa.CTE) -> sa.Subquery:
    """The ``admitted`` rows with one row per event id: the first in result order.

    Only the rows of an event id that occurs more than once (or is null) are ranked: a
    grouped count finds those ids, far cheaper than ordering every row by all its columns
    (and, on DuckDB, a window over every row cannot stay within a memory limit: the 10M
    export at 192MB ran out of memory). The other rows pass through an anti-join. Both read
    ``admitted`` itself, not a flagged copy of it (DuckDB kept that copy in memory too:
    3.5 GB against 2.7 GB at 10M events). The other columns only make the choice among
    rows that tie on every key of the oracle deterministic.
    """
    st = admitted.c
    event_id = st[c.EVENT_ID]
    repeated = (
        sa.select(event_id.label("_repeated_id"))
        .where(event_id.is_not(None))
        .group_by(event_id)
        .having(sa.func.count() > 1)
        .cte("journey_repeated")
    )
    with_repeats = admitted.outerjoin(repeated, event_id == repeated.c["_repeated_id"])
    once = (
        sa.select(*st)
        .select_from(with_repeats)
        .where(repeated.c["_repeated_id"].is_(None), event_id.is_not(None))
    )
    tie_breakers = [
        _asc(st[name], text=name != c.REVENUE)
        for name in c.EVENT_COLUMNS
        if name not in {c.EMAIL, *_RESULT_ORDER}
    ]
    first = sa.func.row_number().over(
        partition_by=event_id, order_by=[*result_order(st), *tie_breakers]
    )
    ranked = (
        sa.select(*st, first.label("_first"))
        .select_from(with_repeats)
        .where(sa.or_(repeated.c["_repeated_id"].is_not(None), event_id.is_(None)))
        .subquery("journey_ranked_ids")
    )
    chosen = sa.select(*(ranked.c[col.key] for col in st)).where(ranked.c["_first"] == 1)
    return sa.union_all(once, chosen).subquery("journey_rows")


def journey_count_query(
    query: JourneyQuery, mapping: SchemaMapping = CANONICAL
) -> sa.Select[int, int]:
    """(events, individuals) of :func:`journey_statement`'s rows, counted in the warehouse."""
    rows = journey_statement(query, mapping).order_by(None).subquery("journey_result")
    return sa.select(
        sa.func.count().label("events"),
        sa.func.count(sa.distinct(rows.c[c.EMAIL])).label("individuals"),
    )


def result_order(cols: sa.ColumnCollection[str, Any]) -> list[sa.UnaryExpression[Any]]:
    """The oracle's order (:func:`journey_core.rules.windows.chosen_events`), nulls last."""
    return [_asc(cols[name], text=name != c.OCCURRED_AT) for name in _RESULT_ORDER]


def _admitted(
    query: JourneyQuery,
    person: sa.ColumnElement[Any],
    at: sa.ColumnElement[Any],
    known_at: sa.ColumnElement[Any],
) -> sa.ColumnElement[bool]:
    """:func:`journey_core.rules.admitted` in SQL (the upper bound is in the window)."""
    rule = query.rule
    if rule is Rule.RECENT:
        return at >= time_bound("recent_start", query.as_of - query.recent_window, lower=True)
    lookback = at >= time_bound("lookback_start", query.lookback_start, lower=True)
    if rule is Rule.EMAIL:
        assert query.email is not None
        return sa.and_(lookback, person == _text("email", query.email))
    assert query.start is not None
    start = time_bound("start", query.start, lower=True)
    predicate = sa.or_(at >= start, sa.and_(known_at >= start, lookback))
    if rule is Rule.EMAIL_AND_EVENT_DATE:
        assert query.email is not None
        predicate = sa.and_(predicate, person == _text("email", query.email))
    return predicate


# ------------------------------------------------------------------------ schema

_INFO_COLUMNS = sa.table(
    "columns",
    sa.column("table_schema"),
    sa.column("table_name"),
    sa.column("column_name"),
    sa.column("data_type"),
    sa.column("ordinal_position"),
    schema="information_schema",
)


def columns_query(table: TableMapping) -> sa.Select[Any]:
    """(column_name, data_type) of ``table`` from the SQL standard's information_schema."""
    cols = _INFO_COLUMNS.c
    schema = (
        cols.table_schema == sa.bindparam("schema", table.schema)
        if table.schema
        else cols.table_schema == sa.func.current_schema()
    )
    return (
        sa.select(cols.column_name, cols.data_type)
        .where(cols.table_name == sa.bindparam("table", table.table), schema)
        .order_by(cols.ordinal_position)
    )


def probe_queries(mapping: SchemaMapping) -> list[sa.Select[Any]]:
    """One SELECT of every mapped column per table, returning no rows.

    Running them proves the user may SELECT everything the mapping names.
    """
    return [table.select(types).where(sa.false()) for table, types in mapping.tables()]


# ----------------------------------------------------------------------- summary


def event_span_query(mapping: SchemaMapping) -> sa.Select[int, Any, Any]:
    """(count, first occurred_at, last occurred_at) of the events."""
    ev = mapping.events_source()
    at = ev.c[c.OCCURRED_AT]
    return sa.select(sa.func.count(), sa.func.min(at), sa.func.max(at))


def identity_count_query(mapping: SchemaMapping) -> sa.Select[Any] | None:
    """How many identities rows there are; ``None`` for a mapping without identities."""
    ids = mapping.identities_source()
    return None if ids is None else sa.select(sa.func.count()).select_from(ids)


# ------------------------------------------------------------------ data quality


def quality_count_queries(
    mapping: SchemaMapping, *, as_of: dt.datetime, text_timestamps: bool = False
) -> dict[str, sa.Select[Any]]:
    """One single-count SELECT per kind of bad data the warehouse can count on its own.

    ``text_timestamps`` (SQLite, which keeps timestamps as text) adds the count of
    ``occurred_at`` values that are not timestamps and leaves them out of future events.
    Kinds without a statement (no identities table, or no text timestamps) count zero.
    """
    ev = mapping.events_source()
    at = ev.c[c.OCCURRED_AT]
    bound = sa.bindparam("as_of", as_of, Timestamp())

    def count(where: sa.ColumnElement[bool], source: sa.FromClause = ev) -> sa.Select[Any]:
        return sa.select(sa.func.count()).select_from(source).where(where)

    queries = {"null_timestamp": count(at.is_(None))}
    future: sa.ColumnElement[bool] = at > bound
    if text_timestamps:
        raw = sa.type_coerce(at, sa.String())
        queries["unparseable_timestamp"] = count(
            sa.and_(raw.is_not(None), sa.func.julianday(raw).is_(None))
        )
        future = sa.and_(future, sa.func.julianday(raw).is_not(None))
    queries["future_event"] = count(future)
    queries["duplicate_event_id"] = sa.select(
        sa.func.count() - sa.func.count(sa.distinct(ev.c[c.EVENT_ID]))
    ).select_from(ev)
    ids = mapping.identities_source()
    if ids is not None:
        anon = ids.c[c.ANONYMOUS_ID]
        queries["identity_without_anonymous_id"] = count(
            sa.or_(anon.is_(None), sa.func.trim(anon) == ""), ids
        )
    text_columns = [ev.c[name] for name in c.TEXT_EVENT_COLUMNS]
    queries["oversized_value"] = count(
        sa.or_(*(sa.func.length(col) > MAX_TEXT_LENGTH for col in text_columns))
    )
    # Values that are there (not blank) but identify nobody, in both tables, judged by the
    # SQL of the rules' one definition (normalized_email; the rules' tests hold it equal to
    # Polars'): counted in the warehouse, never each distinct email brought to Python.
    any_id = mapping.identifier != "email"
    malformed = [
        sa.select(source.c[c.EMAIL]).where(
            blank_to_null(source.c[c.EMAIL]).is_not(None),
            normalized_email(source.c[c.EMAIL], any_identifier=any_id).is_(None),
        )
        for source in (ev, *([ids] if ids is not None else []))
    ]
    queries["malformed_email"] = sa.select(sa.func.count()).select_from(
        sa.union_all(*malformed).subquery("malformed_emails")
    )
    return queries
