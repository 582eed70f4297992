"""Journeys from a warehouse: candidate rows read in SQL, the exact rules applied in Polars.

Only candidate rows cross into Polars: the time window and the candidate individuals are
filtered in SQL (:mod:`~journey_core.warehouse.statements`), and :mod:`journey_core.rules`
decides who is known since when, who owns each anonymous id, and which events each rule
admits. Also the messages for empty results and the warehouse summary for the banner.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from journey_core import columns as c
from journey_core.rules.identity import (
    EVENT_SCHEMA,
    LINK_SCHEMA,
    RESULT_SCHEMA,
    anonymous_owners,
    as_utc,
    blank_to_null,
    conform_events,
    known_individuals,
    normalized_email,
)
from journey_core.rules.query import JourneyQuery, Rule
from journey_core.rules.windows import ROW, before_known, chosen_events
from journey_core.warehouse.engine import safe_url
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.read import read_frame, read_prepared, reading
from journey_core.warehouse.statements import (
    event_span_query,
    events_query,
    identity_count_query,
    link_groups_query,
    links_query,
    lookup_events_query,
    lookup_links_query,
)

__all__ = [
    "JourneyResult",
    "WarehouseSummary",
    "empty_message",
    "fetch_journeys",
    "people_and_owners",
    "summarize",
]


@dataclass(frozen=True, slots=True)
class JourneyResult:
    """Journey rows plus what a caller needs to explain them."""

    frame: pl.DataFrame
    query: JourneyQuery
    message: str | None = None

    @property
    def individuals(self) -> int:
        """How many distinct individuals the rows belong to."""
        return self.frame.get_column(c.EMAIL).n_unique() if self.frame.height else 0

    @property
    def events(self) -> int:
        """How many events (rows)."""
        return self.frame.height


# ------------------------------------------------------------------ link rows


def _conformed_links(
    frame: pl.DataFrame, times: Sequence[str], *, any_identifier: bool
) -> pl.LazyFrame:
    """Link rows read from SQL, conformed as the rules conform them.

    Text ids, ``times`` in UTC, emails normalised (:func:`~journey_core.rules.normalized_email`)
    and blank anonymous ids null; rows without an email or a time identify nobody.
    """
    schema = frame.schema
    return (
        frame.lazy()
        .select(
            pl.col(c.ANONYMOUS_ID).cast(pl.String()),
            pl.col(c.EMAIL).cast(pl.String()),
            *(as_utc(name, schema[name]) for name in times),
        )
        .with_columns(
            normalized_email(any_identifier=any_identifier), blank_to_null(c.ANONYMOUS_ID)
        )
        .filter(pl.col(c.EMAIL).is_not_null(), *(pl.col(name).is_not_null() for name in times))
    )


def _links_frame(frame: pl.DataFrame, *, any_identifier: bool = False) -> pl.LazyFrame:
    """Link rows (``anonymous_id, email, linked_at``) read from SQL, conformed."""
    if frame.is_empty() or frame.width == 0:
        return pl.LazyFrame(schema=LINK_SCHEMA)
    return _conformed_links(frame, (c.LINKED_AT,), any_identifier=any_identifier)


def people_and_owners(
    groups: pl.DataFrame, *, any_identifier: bool = False
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Who is known since when, and who owns which anonymous id, from link groups.

    ``groups`` are rows of :func:`~journey_core.warehouse.statements.link_groups_query`:
    one per raw (anonymous_id, email) with its first and last link. They are conformed
    like any link rows, which merges the spellings of an email, and handed to the one
    definition of each rule: an email's ``known_at`` is its earliest link, so
    :func:`~journey_core.rules.known_individuals` needs only the first links; an anonymous
    id's owner is its latest link, so :func:`~journey_core.rules.anonymous_owners` needs
    only the last ones. The result equals both rules applied to the ungrouped links.
    """
    if groups.is_empty() or groups.width == 0:
        empty = pl.LazyFrame(schema=LINK_SCHEMA)
        return known_individuals(empty), anonymous_owners(empty)
    times = (c.FIRST_LINKED_AT, c.LAST_LINKED_AT)
    links = _conformed_links(groups, times, any_identifier=any_identifier)
    first, last = (
        links.select(c.ANONYMOUS_ID, c.EMAIL, pl.col(name).alias(c.LINKED_AT)) for name in times
    )
    return known_individuals(first), anonymous_owners(last)


# -------------------------------------------------------------------- journeys


def _time_orders_natively(conn: Connection) -> bool:
    """Whether min/max and range filters over timestamps follow time (not SQLite's text)."""
    return conn.dialect.name != "sqlite"


def fetch_journeys(
    engine: Engine, query: JourneyQuery, *, mapping: SchemaMapping = CANONICAL
) -> JourneyResult:
    """Apply ``query`` to the warehouse behind ``engine``.

    One person's lookup reads that person's rows through index-friendly SELECTs; the
    other rules read link groups and candidate events filtered in SQL. The exact rules
    then run in Polars on what came back (bench/RESULTS.md has the figures).

    >>> from journey_core.io.demo import build_demo
    >>> from journey_core.warehouse.engine import create_engine
    >>> import tempfile, pathlib
    >>> url = f"duckdb:///{pathlib.Path(tempfile.mkdtemp()) / 'w.duckdb'}"
    >>> _ = build_demo(url, individuals=50, seed=1, end=dt.datetime(2022, 8, 31))
    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 31), event_date=dt.date(2022, 7, 1))
    >>> fetch_journeys(create_engine(url), q).events > 0
    True
    """
    ids_only = mapping.identifier != "email"  # user ids, not emails, identify people
    with reading(engine, mapping) as conn:
        if query.email is not None:
            found = _lookup(conn, mapping, query, any_identifier=ids_only)
            if found is None:
                frame = pl.DataFrame(schema=RESULT_SCHEMA)
                return JourneyResult(frame, query, _not_known_message(query))
            events, links = found
            people, owners = known_individuals(links), anonymous_owners(links)
        elif _time_orders_natively(conn):
            groups = read_frame(conn, link_groups_query(mapping, as_of=query.as_of), {})
            people, owners = people_and_owners(groups, any_identifier=ids_only)
            stmt = events_query(mapping, query=query, narrow_lookback=True)
            events = read_frame(conn, stmt, EVENT_SCHEMA)
        else:
            all_links = read_frame(conn, links_query(mapping, as_of=query.as_of), {})
            links = _links_frame(all_links, any_identifier=ids_only)
            people, owners = known_individuals(links), anonymous_owners(links)
            events = read_frame(conn, events_query(mapping, query=query), EVENT_SCHEMA)
        frame = _journey_rows(
            events, people=people, owners=owners, query=query, any_identifier=ids_only
        )
    return JourneyResult(frame, query, _empty_message(query) if frame.is_empty() else None)


def _journey_rows(
    events: pl.DataFrame,
    *,
    people: pl.LazyFrame,
    owners: pl.LazyFrame,
    query: JourneyQuery,
    any_identifier: bool,
) -> pl.DataFrame:
    """:func:`~journey_core.rules.select_stitched`, run eagerly; consumes ``events``.

    The rules run on the key columns (:func:`~journey_core.rules.chosen_events`); then each
    other column is gathered into result order and dropped from the input at once, so a
    large read is never held twice (10M events: bench/RESULTS.md). Collected with the
    in-memory engine, which takes about half the CPU time of the streaming engine on
    these joins and this multi-key sort of data that is already in memory.
    """
    conformed = (
        conform_events(events.lazy(), any_identifier=any_identifier)
        .with_row_index(ROW)
        .collect(engine="in-memory")
    )
    for name in events.columns:
        events.drop_in_place(name)  # ``conformed`` is now the only owner of the rows
    # Event ids are unique in most warehouses; then a sort on three keys orders the rows.
    ids = conformed.get_column(c.EVENT_ID)
    unique_ids = ids.null_count() == 0 and ids.n_unique() == ids.len()
    chosen = chosen_events(
        conformed.lazy(), people=people, owners=owners, query=query, unique_ids=unique_ids
    ).collect(engine="in-memory")
    order = chosen.get_column(ROW)
    columns = [chosen.get_column(c.EMAIL), chosen.get_column(c.KNOWN_AT)]
    for name in c.RESULT_COLUMNS:
        if name in conformed.columns and name != c.EMAIL:
            # Rechunked first: a gather from one chunk is many times faster than from the
            # read's many; it copies only this column's string views, not the strings.
            columns.append(conformed.drop_in_place(name).rechunk().gather(order))
    return pl.DataFrame(columns).with_columns(before_known()).select(c.RESULT_COLUMNS)


def _lookup(
    conn: Connection, mapping: SchemaMapping, query: JourneyQuery, *, any_identifier: bool
) -> tuple[pl.DataFrame, pl.LazyFrame] | None:
    """One person's candidate events and links, or ``None`` if not known by ``query.as_of``.

    Reads the email's links, then every event of the email or of the anonymous ids it
    linked, then the identities of those ids: three index-friendly SELECTs (see
    :func:`~journey_core.warehouse.statements.lookup_links_query`). The links of those ids
    include everyone else linked to them, which decides who owns each id now.
    """
    assert query.email is not None
    as_of = pl.lit(query.as_of, dtype=pl.Datetime("us", "UTC"))
    own = _own_links(conn, mapping, query, any_identifier=any_identifier)
    if own.is_empty():
        return None
    anon_ids = own.get_column(c.ANONYMOUS_ID).drop_nulls().unique().sort().to_list()
    # The three statements are built and compiled once per mapping (read_prepared): only
    # the email and the anonymous ids change from one lookup to the next.
    values: dict[str, Any] = {"email": query.email}
    if anon_ids:
        values["anon_ids"] = anon_ids
    events = read_prepared(
        conn,
        ("lookup events", mapping, bool(anon_ids)),
        partial(_events_of, mapping),
        values,
        EVENT_SCHEMA,
    )
    # Links carried by those events (the email's own, and others' on the same devices) ...
    carried = conform_events(events.lazy(), any_identifier=any_identifier).select(
        c.ANONYMOUS_ID, c.EMAIL, pl.col(c.OCCURRED_AT).alias(c.LINKED_AT)
    )
    parts = [own.lazy(), carried]
    if anon_ids and _has_identities(mapping):
        # ... and the identities of those devices.
        ids = read_prepared(
            conn,
            ("lookup identities", mapping),
            partial(_identities_of, mapping),
            {"anon_ids": anon_ids},
            {},
        )
        parts.append(_links_frame(ids, any_identifier=any_identifier))
    links = pl.concat(parts, how="vertical_relaxed").filter(
        pl.col(c.EMAIL).is_not_null(), pl.col(c.LINKED_AT) <= as_of
    )
    return events, links.collect().lazy()  # collected now: the events are consumed later


def _links_of(mapping: SchemaMapping, values: Mapping[str, Any]) -> sa.Select[Any]:
    stmt = lookup_links_query(mapping, email=values["email"])
    assert stmt is not None
    return stmt


def _events_of(mapping: SchemaMapping, values: Mapping[str, Any]) -> sa.Select[Any]:
    return lookup_events_query(
        mapping, email=values["email"], anonymous_ids=values.get("anon_ids", ())
    )


def _identities_of(mapping: SchemaMapping, values: Mapping[str, Any]) -> sa.Select[Any]:
    stmt = lookup_links_query(mapping, anonymous_ids=values["anon_ids"], events=False)
    assert stmt is not None
    return stmt


@functools.lru_cache(maxsize=16)
def _has_identities(mapping: SchemaMapping) -> bool:
    return mapping.identities_source() is not None


def _own_links(
    conn: Connection, mapping: SchemaMapping, query: JourneyQuery, *, any_identifier: bool
) -> pl.DataFrame:
    """The links of ``query.email`` at or before ``query.as_of`` (none: not known yet)."""
    assert query.email is not None
    as_of = pl.lit(query.as_of, dtype=pl.Datetime("us", "UTC"))
    links = read_prepared(
        conn, ("lookup links", mapping), partial(_links_of, mapping), {"email": query.email}, {}
    )
    return (
        _links_frame(links, any_identifier=any_identifier)
        .filter(pl.col(c.LINKED_AT) <= as_of)
        .collect()
    )


# -------------------------------------------------------------------- messages


def empty_message(
    engine: Engine, query: JourneyQuery, *, mapping: SchemaMapping = CANONICAL
) -> str:
    """Why ``query`` has no rows: the message :func:`fetch_journeys` gives with an empty result.

    For one person's query this reads that person's links (one index-friendly SELECT), to
    tell an email not known by ``query.as_of`` from a known one without events.
    """
    if query.email is None:
        return _empty_message(query)
    with reading(engine, mapping) as conn:
        own = _own_links(conn, mapping, query, any_identifier=mapping.identifier != "email")
    return _not_known_message(query) if own.is_empty() else _empty_message(query)


def _fmt(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _not_known_message(query: JourneyQuery) -> str:
    return (
        f"No known individual has the email {query.email} as of {_fmt(query.as_of)}. "
        "Check the spelling, or try a later as-of time: a person becomes known when first "
        "identified by email."
    )


def _empty_message(query: JourneyQuery) -> str:
    window = f"between {_fmt(query.window_start)} and {_fmt(query.as_of)}"
    if query.rule is Rule.EMAIL:
        return (
            f"{query.email} is known, but has no events {window}. "
            "Try an as-of time when they were active, or a longer lookback."
        )
    if query.rule is Rule.EMAIL_AND_EVENT_DATE:
        return (
            f"{query.email} has no events that the campaign rule admits {window}. "
            "Try an earlier event date, or an as-of time when there was activity."
        )
    if query.rule is Rule.EVENT_DATE:
        return (
            f"No known individual has events {window}. "
            "Try an earlier event date, or an as-of time when there was activity."
        )
    return (
        f"No known individual was active {window}. "
        "Pick an earlier as-of time, or use a campaign start date for a longer window."
    )


# --------------------------------------------------------------------- summary


@dataclass(frozen=True, slots=True)
class WarehouseSummary:
    """Row counts and time span of a warehouse, for the connection banner."""

    url: str
    events: int
    identities: int
    first_event: dt.datetime | None
    last_event: dt.datetime | None


def _utc_or_none(value: object) -> dt.datetime | None:
    """A timestamp the driver returned (SQLite: ISO text), as aware UTC; naive is UTC.

    >>> _utc_or_none("2022-08-31 10:00:00"), _utc_or_none(None)
    (datetime.datetime(2022, 8, 31, 10, 0, tzinfo=datetime.timezone.utc), None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def summarize(engine: Engine, *, mapping: SchemaMapping = CANONICAL) -> WarehouseSummary:
    """Count rows and find the first and last event time."""
    with reading(engine, mapping) as conn:
        count, first, last = conn.execute(event_span_query(mapping)).one()
        ids_stmt = identity_count_query(mapping)
        n_ids = conn.execute(ids_stmt).scalar_one() if ids_stmt is not None else 0
    return WarehouseSummary(
        url=safe_url(engine.url),
        events=int(count),
        identities=int(n_ids),
        first_event=_utc_or_none(first),
        last_event=_utc_or_none(last),
    )
