"""People search: known people by part of their email or by an anonymous id, in the warehouse.

ONE bounded statement (:func:`search_statement`) over the identification links the rules use
(:func:`~journey_core.warehouse.statements.identity_links`): a person is an email linked by
``as_of``; they match when their (trimmed, lower-cased) email contains the typed text, or when
an anonymous id whose owner they are (its latest link, ties to the smallest email, as the
rules stitch) starts with it. The text is bound, its LIKE wildcards (``%``, ``_``) escaped.
Results are ordered by last activity (their latest stitched event up to ``as_of``), newest
first, then by email, and cut at ``limit``. Empty text lists the most recently active people.
"""

from __future__ import annotations

import datetime as dt
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
) -> sa.Select[Any]:
    """Known people matching ``text`` (see the module docstring), at most ``limit`` rows.

    Columns: :data:`SEARCH_SCHEMA`. ``text`` is trimmed and lower-cased in Python, then bound.

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

    by_email = sa.select(people.c[c.EMAIL], sa.null().label(MATCHED_ID))
    if term:
        by_email = by_email.where(
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
    else:
        found = by_email.subquery("search_found")
    matched = (
        sa.select(found.c[c.EMAIL], sa.func.min(found.c[MATCHED_ID]).label(MATCHED_ID))
        .group_by(found.c[c.EMAIL])
        .cte("search_matched")
    )

    # Last activity: the latest event stitched to a matched person (own email, else owner).
    person = sa.func.coalesce(ev[c.EMAIL], owners.c["_owner"])
    activity = (
        sa.select(person.label(c.EMAIL), sa.func.max(ev[c.OCCURRED_AT]).label(LAST_SEEN))
        .select_from(
            events.outerjoin(owners, ev[c.ANONYMOUS_ID] == owners.c[c.ANONYMOUS_ID]).join(
                matched, matched.c[c.EMAIL] == person
            )
        )
        .where(ev[c.OCCURRED_AT] <= time_bound("as_of", as_of))
        .group_by(person)
        .subquery("search_activity")
    )
    last_seen = activity.c[LAST_SEEN]
    return (
        sa.select(
            matched.c[c.EMAIL],
            people.c[c.KNOWN_AT],
            last_seen.label(LAST_SEEN),
            matched.c[MATCHED_ID],
        )
        .select_from(
            matched.join(people, people.c[c.EMAIL] == matched.c[c.EMAIL]).outerjoin(
                activity, activity.c[c.EMAIL] == matched.c[c.EMAIL]
            )
        )
        .order_by(last_seen.desc().nulls_last(), bytewise(matched.c[c.EMAIL]).asc())
        .limit(sa.bindparam("limit", _limit(limit), literal_execute=True))
    )


def search_people(
    engine: Engine,
    text: str,
    *,
    as_of: dt.datetime,
    mapping: SchemaMapping = CANONICAL,
    limit: int = DEFAULT_LIMIT,
) -> pl.DataFrame:
    """Run :func:`search_statement`; a frame with :data:`SEARCH_SCHEMA` (times UTC)."""
    stmt = search_statement(text, as_of=as_of, mapping=mapping, limit=limit)
    with reading(engine, mapping) as conn:
        frame = read_frame(conn, stmt, SEARCH_SCHEMA)
    if frame.is_empty():
        return pl.DataFrame(schema=SEARCH_SCHEMA)
    return conform(frame, SEARCH_SCHEMA)
