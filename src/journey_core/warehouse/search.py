"""People search: known people by part of their email or by an anonymous id, in the warehouse.

One bounded statement (:func:`search_statement`) over the identification links the rules use
(:func:`~journey_core.warehouse.statements.identity_links`): a person is an email linked by
``as_of``; they match when their (trimmed, lower-cased) email contains the typed text, or when
an anonymous id whose owner they are (its latest link, ties to the smallest email, as the
rules stitch) starts with it. The text is bound, its LIKE wildcards (``%``, ``_``) escaped.
Results are ordered by last activity (their latest stitched event up to ``as_of``), newest
first, then by email, and cut at ``limit``. Empty text lists the most recently active people.
:func:`search_people` runs it over windows before the latest event (:data:`WINDOWS`), from
the shortest that holds ``limit`` people: at 100M events the statement over all time ran
DuckDB out of memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journey_core import columns as c
from journey_core.rules.identity import TS
from journey_core.warehouse.constructs import bytewise, time_bound, unicode_lower
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.read import conform, read_frame, reading
from journey_core.warehouse.statements import identity_links

__all__ = [
    "DEFAULT_LIMIT",
    "ESCAPE",
    "LAST_SEEN",
    "MATCHED_ID",
    "MAX_LIMIT",
    "MAX_TEXT",
    "SEARCH_SCHEMA",
    "TYPED_WINDOWS",
    "WINDOWS",
    "latest_statement",
    "like_escaped",
    "search_people",
    "search_statement",
]

DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 200
MAX_TEXT: Final = 254
#: The LIKE escape character of the search patterns.
ESCAPE: Final = "/"
#: The latest event stitched to the person, up to ``as_of``.
LAST_SEEN: Final = "last_seen"
#: The anonymous id that matched the text (NULL when the email matched).
MATCHED_ID: Final = "matched_id"
SEARCH_SCHEMA: Final[dict[str, pl.DataType]] = {
    c.EMAIL: pl.String(),
    c.KNOWN_AT: TS,
    LAST_SEEN: TS,
    MATCHED_ID: pl.String(),
}
_LATEST: Final[dict[str, pl.DataType]] = {LAST_SEEN: TS}


def like_escaped(text: str) -> str:
    """``text`` for a LIKE pattern with :data:`ESCAPE`: its ``%``, ``_`` and ``/`` are literal.

    >>> like_escaped("50%_off/x")
    '50/%/_off//x'
    """
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


def search_statement(
    text: str,
    *,
    as_of: dt.datetime,
    mapping: SchemaMapping = CANONICAL,
    limit: int = DEFAULT_LIMIT,
    since: dt.datetime | None = None,
) -> sa.Select[Any]:
    """Known people matching ``text`` (see the module docstring), at most ``limit`` rows.

    Columns: :data:`SEARCH_SCHEMA`. ``text`` is trimmed and lower-cased in Python, then bound.
    With ``since``, only the people with an event from ``since`` on (their last activity is
    still exact: it is in the window), for :func:`search_people`'s windows.

    >>> stmt = search_statement("50%_off", as_of=dt.datetime(2022, 8, 31, tzinfo=dt.UTC))
    >>> [col.name for col in stmt.selected_columns]
    ['email', 'known_at', 'last_seen', 'matched_id']
    >>> params = stmt.compile().params
    >>> params["email_part"], params["id_prefix"], params["limit"]
    ('50/%/_off', '50/%/_off', 10)
    """
    term = text.strip().lower()[:MAX_TEXT]
    pattern = like_escaped(term)
    events, links = identity_links(mapping, as_of=as_of)
    ev, ln = events.c, links.c

    people = (
        sa.select(ln[c.EMAIL], sa.func.min(ln[c.LINKED_AT]).label(c.KNOWN_AT))
        .group_by(ln[c.EMAIL])
        .cte("search_people")
    )
    latest = sa.func.row_number().over(
        partition_by=ln[c.ANONYMOUS_ID],
        order_by=(ln[c.LINKED_AT].desc(), bytewise(ln[c.EMAIL]).asc()),
    )
    ranked = (
        sa.select(ln[c.ANONYMOUS_ID], ln[c.EMAIL], latest.label("_latest"))
        .where(ln[c.ANONYMOUS_ID].is_not(None))
        .subquery("search_ranked")
    )
    owners = (
        sa.select(ranked.c[c.ANONYMOUS_ID], ranked.c[c.EMAIL].label("_owner"))
        .where(ranked.c["_latest"] == 1)
        .cte("search_owners")
    )

    # Empty text: every known person, not joined to itself through matches (PostgreSQL
    # estimates 200 rows for each side and nested-loops 640k x 640k: minutes at 10M events).
    email: sa.ColumnElement[Any] = people.c[c.EMAIL]
    matched_id: sa.ColumnElement[Any] = sa.null().label(MATCHED_ID)
    seen: sa.FromClause = people
    matched = None
    if term:
        by_email = sa.select(people.c[c.EMAIL], sa.null().label(MATCHED_ID)).where(
            people.c[c.EMAIL].contains(sa.bindparam("email_part", pattern), escape=ESCAPE)
        )
        by_id = sa.select(
            owners.c["_owner"].label(c.EMAIL), owners.c[c.ANONYMOUS_ID].label(MATCHED_ID)
        ).where(
            unicode_lower(owners.c[c.ANONYMOUS_ID]).startswith(
                sa.bindparam("id_prefix", pattern), escape=ESCAPE
            )
        )
        found = sa.union_all(by_email, by_id).subquery("search_found")
        matched = (
            sa.select(found.c[c.EMAIL], sa.func.min(found.c[MATCHED_ID]).label(MATCHED_ID))
            .group_by(found.c[c.EMAIL])
            .cte("search_matched")
        )
        email, matched_id = matched.c[c.EMAIL], matched.c[MATCHED_ID]
        seen = matched.join(people, people.c[c.EMAIL] == email)

    # Last activity: the latest event stitched to a matched person (own email, else owner),
    # in ONE read of the events (a second reader would make PostgreSQL materialize the whole
    # events CTE). Over all time, a typed text joins the devices of its matched people only
    # (few, when no window held enough of them), never every device (at 100M events that ran
    # DuckDB out of memory); a window's events are stitched to every device, then matched.
    bounds = [ev[c.OCCURRED_AT] <= time_bound("as_of", as_of)]
    if since is not None:
        bounds.append(ev[c.OCCURRED_AT] >= time_bound("since", since, lower=True))
    narrow = matched if since is None else None
    devices = owners
    if narrow is not None:
        devices = (
            sa.select(owners.c[c.ANONYMOUS_ID], owners.c["_owner"])
            .select_from(owners.join(narrow, narrow.c[c.EMAIL] == owners.c["_owner"]))
            .cte("search_devices")
        )
    person = sa.func.coalesce(ev[c.EMAIL], devices.c["_owner"])
    stitched = events.outerjoin(devices, devices.c[c.ANONYMOUS_ID] == ev[c.ANONYMOUS_ID])
    stream = (
        sa.select(person.label(c.EMAIL), ev[c.OCCURRED_AT])
        .select_from(
            stitched if narrow is None else stitched.join(narrow, narrow.c[c.EMAIL] == person)
        )
        .where(*bounds)
        .subquery("search_events")
    )
    activity = (
        sa.select(stream.c[c.EMAIL], sa.func.max(stream.c[c.OCCURRED_AT]).label(LAST_SEEN))
        .group_by(stream.c[c.EMAIL])
        .subquery("search_activity")
    )
    last_seen = activity.c[LAST_SEEN]
    return (
        sa.select(email, people.c[c.KNOWN_AT], last_seen.label(LAST_SEEN), matched_id)
        .select_from(
            seen.join(activity, activity.c[c.EMAIL] == email)
            if since is not None
            else seen.outerjoin(activity, activity.c[c.EMAIL] == email)
        )
        .order_by(last_seen.desc().nulls_last(), bytewise(email).asc())
        .limit(sa.bindparam("limit", _limit(limit), literal_execute=True))
    )


def latest_statement(*, as_of: dt.datetime, mapping: SchemaMapping = CANONICAL) -> sa.Select[Any]:
    """The time of the latest event up to ``as_of`` (:data:`LAST_SEEN`; NULL: none), where
    :func:`search_people`'s windows end: a warehouse no longer loaded is searched as of its
    last event, not an empty last day.

    >>> stmt = latest_statement(as_of=dt.datetime(2022, 8, 31, tzinfo=dt.UTC))
    >>> [col.name for col in stmt.selected_columns]
    ['last_seen']
    """
    events, _ = identity_links(mapping, as_of=as_of)
    at = events.c[c.OCCURRED_AT]
    return sa.select(sa.func.max(at).label(LAST_SEEN)).where(at <= time_bound("as_of", as_of))


WINDOWS: Final[tuple[dt.timedelta | None, ...]] = (
    dt.timedelta(days=1),
    dt.timedelta(days=30),
    None,
)
"""How far before the latest event (:func:`latest_statement`) :func:`search_people` looks
for activity, one window after the other: when at least ``limit`` people were active in one,
they are exactly the first ``limit`` of all (everyone else was last seen before it); else
the next, finally all time (people with no event at all come last). At 100M events the
empty box's statement over all time ran DuckDB out of memory under 256 MB; its last day takes
6.5 s (bench/RESULTS.md, "People search at scale")."""

TYPED_WINDOWS: Final[tuple[dt.timedelta | None, ...]] = (dt.timedelta(days=1), None)
""":data:`WINDOWS` for a typed text: a common one (``han``, ``example``) finds its people in
the last day; a rare one, not found there, has few matches, whose statement over all time is
cheap (their devices only). A common text over all time or over 30 days ran DuckDB out of
memory at 100M events (bench/RESULTS.md)."""


def search_people(
    engine: Engine,
    text: str,
    *,
    as_of: dt.datetime,
    mapping: SchemaMapping = CANONICAL,
    limit: int = DEFAULT_LIMIT,
    windows: Sequence[dt.timedelta | None] | None = None,
) -> pl.DataFrame:
    """Run :func:`search_statement` over each of ``windows`` (before the latest event up to
    ``as_of``; default :data:`WINDOWS`, or :data:`TYPED_WINDOWS` for a typed text) until one
    finds ``limit`` people (the last should be ``None``: all time); a frame with
    :data:`SEARCH_SCHEMA` (times UTC)."""
    frame = pl.DataFrame(schema=SEARCH_SCHEMA)
    with reading(engine, mapping) as conn:
        found = read_frame(conn, latest_statement(as_of=as_of, mapping=mapping), _LATEST)
        latest = conform(found, _LATEST).item(0, 0) if found.height else None
        if windows is None:
            windows = TYPED_WINDOWS if text.strip() else WINDOWS
        for window in windows if latest is not None else (None,):
            since = None if window is None or latest is None else latest - window
            stmt = search_statement(text, as_of=as_of, mapping=mapping, limit=limit, since=since)
            frame = read_frame(conn, stmt, SEARCH_SCHEMA)
            if frame.height >= _limit(limit):
                break
    if frame.is_empty():
        return pl.DataFrame(schema=SEARCH_SCHEMA)
    return conform(frame, SEARCH_SCHEMA)
