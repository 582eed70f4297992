"""One person, readable: their visits newest first and how they first found you.

Pure Polars over one person's journey rows (the customer lookup's), built on the one
definition of a visit and a touch (:func:`.campaign.with_sessions`, i.e.
:mod:`~journey_core.analytics.sessions`): rows without visit columns get them here.

- :func:`visit_feed`: one row per visit, newest first: when, how many events and page
  views, the landing page, the visit's channel, source / medium and campaign, the other
  things done (add to cart, purchase, ...), orders and revenue, and whether it came before
  the person became known.
- :func:`first_touch`: the first visit's acquisition (channel, source / medium, campaign,
  landing page, referrer).
- :func:`devices`: the person's anonymous ids, most events first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from journey_core import columns as c
from journey_core.analytics.campaign import with_sessions
from journey_core.analytics.sessions import CONVERSION_EVENTS, is_conversion
from journey_core.timeutil import TS

__all__ = [
    "ACTIONS",
    "EVENTS",
    "FEED_SCHEMA",
    "ORDERS",
    "PAGE_VIEW",
    "PAGE_VIEWS",
    "FirstTouch",
    "devices",
    "first_touch",
    "visit_feed",
]

PAGE_VIEW: Final = "page_view"
EVENTS: Final = "events"
PAGE_VIEWS: Final = "page_views"
ORDERS: Final = "orders"
#: The visit's event types other than page views, in the order first done.
ACTIONS: Final = "actions"
FEED_SCHEMA: Final[dict[str, pl.DataType]] = {
    c.SESSION: pl.Int64(),
    c.SESSION_START: TS,
    c.SESSION_END: TS,
    EVENTS: pl.UInt32(),
    PAGE_VIEWS: pl.UInt32(),
    c.LANDING_PAGE: pl.String(),
    c.CHANNEL: pl.String(),
    c.SESSION_SOURCE: pl.String(),
    c.SESSION_MEDIUM: pl.String(),
    c.SESSION_CAMPAIGN: pl.String(),
    ACTIONS: pl.List(pl.String()),
    ORDERS: pl.UInt32(),
    c.REVENUE: pl.Float64(),
    c.BEFORE_KNOWN: pl.Boolean(),
}


def _one_person(frame: pl.DataFrame) -> pl.DataFrame:
    rows = frame if c.CHANNEL in frame.columns else with_sessions(frame)
    return rows.sort(c.OCCURRED_AT, c.EVENT_ID, maintain_order=True)


def visit_feed(
    frame: pl.DataFrame, *, conversion_events: Sequence[str] = CONVERSION_EVENTS
) -> pl.DataFrame:
    """One row per visit of the person in ``frame``, newest first (:data:`FEED_SCHEMA`).

    ``revenue`` sums the revenue of the visit's conversions (``conversion_events``),
    ``orders`` counts them; ``before_known`` says the visit began before the person became
    known.

    >>> t = dt.datetime(2022, 7, 1, 10, tzinfo=dt.UTC)
    >>> rows = pl.DataFrame({"email": ["a@x.io"] * 3, "event_id": ["1", "2", "3"],
    ...     "occurred_at": [t, t + dt.timedelta(minutes=5), t + dt.timedelta(hours=2)],
    ...     "event_type": ["page_view", "purchase", "page_view"], "revenue": [None, 30.0, None],
    ...     "known_at": [t] * 3, "page_url": ["https://s.io/a", "https://s.io/b", None]})
    >>> visit_feed(rows).select("session", "events", "page_views", "actions", "revenue").rows()
    [(2, 1, 1, [], 0.0), (1, 2, 1, ['purchase'], 30.0)]
    """
    if frame.is_empty():
        return pl.DataFrame(schema=FEED_SCHEMA)
    rows = _one_person(frame)
    converted = is_conversion(conversion_events)
    revenue = pl.when(converted).then(pl.col(c.REVENUE).fill_null(0.0)).otherwise(0.0)
    action = pl.col(c.EVENT_TYPE).filter(pl.col(c.EVENT_TYPE) != PAGE_VIEW).drop_nulls()
    return (
        rows.group_by(c.SESSION, maintain_order=True)
        .agg(
            pl.col(c.OCCURRED_AT).min().alias(c.SESSION_START),
            pl.col(c.OCCURRED_AT).max().alias(c.SESSION_END),
            pl.len().alias(EVENTS),
            (pl.col(c.EVENT_TYPE) == PAGE_VIEW).sum().alias(PAGE_VIEWS),
            pl.col(c.PAGE_URL).drop_nulls().first().alias(c.LANDING_PAGE),
            pl.col(c.CHANNEL).first(),
            pl.col(c.SESSION_SOURCE).first(),
            pl.col(c.SESSION_MEDIUM).first(),
            pl.col(c.SESSION_CAMPAIGN).first(),
            action.unique(maintain_order=True).alias(ACTIONS),
            converted.sum().alias(ORDERS),
            revenue.sum().alias(c.REVENUE),
            (pl.col(c.OCCURRED_AT).min() < pl.col(c.KNOWN_AT).first()).alias(c.BEFORE_KNOWN),
        )
        .sort(c.SESSION, descending=True)
        .select(pl.col(name).cast(dtype) for name, dtype in FEED_SCHEMA.items())
    )


@dataclass(frozen=True, slots=True)
class FirstTouch:
    """How the person first found you: their first visit's acquisition in the rows."""

    at: dt.datetime
    channel: str
    source: str
    medium: str
    campaign: str
    landing_page: str | None
    referrer: str | None

    @property
    def source_medium(self) -> str:
        """``source / medium``, as GA4 shows the pair."""
        return f"{self.source} / {self.medium}"


def first_touch(frame: pl.DataFrame) -> FirstTouch | None:
    """The first visit's acquisition, or ``None`` without rows.

    >>> t = dt.datetime(2022, 7, 1, 10, tzinfo=dt.UTC)
    >>> rows = pl.DataFrame({"email": ["a@x.io"] * 2, "event_id": ["1", "2"],
    ...     "occurred_at": [t, t + dt.timedelta(minutes=1)], "utm_source": ["google", None],
    ...     "utm_medium": ["cpc", None], "utm_campaign": ["brand", None],
    ...     "referrer": ["https://www.google.com/", None], "page_url": [None, "https://s.io/"]})
    >>> touch = first_touch(rows)
    >>> touch.channel, touch.source_medium, touch.campaign, touch.landing_page
    ('Paid Search', 'google / cpc', 'brand', 'https://s.io/')
    """
    if frame.is_empty():
        return None
    rows = _one_person(frame)
    first = rows.filter(pl.col(c.SESSION) == pl.col(c.SESSION).min())
    head = first.row(0, named=True)
    landing = first.get_column(c.PAGE_URL).drop_nulls()
    return FirstTouch(
        at=head[c.OCCURRED_AT],
        channel=str(head[c.CHANNEL]),
        source=str(head[c.SESSION_SOURCE]),
        medium=str(head[c.SESSION_MEDIUM]),
        campaign=str(head[c.SESSION_CAMPAIGN]),
        landing_page=str(landing[0]) if landing.len() else None,
        referrer=head.get(c.REFERRER),
    )


def devices(frame: pl.DataFrame) -> list[str]:
    """The person's anonymous ids, most events first (ties: first seen first).

    >>> t = dt.datetime(2022, 7, 1, tzinfo=dt.UTC)
    >>> rows = pl.DataFrame({"anonymous_id": ["d1", "d2", "d2", None],
    ...     "occurred_at": [t, t, t, t]})
    >>> devices(rows)
    ['d2', 'd1']
    """
    if frame.is_empty():
        return []
    counted = (
        frame.filter(pl.col(c.ANONYMOUS_ID).is_not_null())
        .group_by(c.ANONYMOUS_ID, maintain_order=True)
        .agg(pl.len().alias("n"), pl.col(c.OCCURRED_AT).min().alias("first"))
        .sort(["n", "first"], descending=[True, False], maintain_order=True)
    )
    return [str(v) for v in counted.get_column(c.ANONYMOUS_ID).to_list()]
