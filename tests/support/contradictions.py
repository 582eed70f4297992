"""A small warehouse written by hand where every contradiction of issue 13 would show.

Looked at on :data:`AS_OF` (2022-08-31 00:00 UTC) for the campaign starting :data:`START`
(2022-08-01); the expected figures below are counted by hand from these rows (see the
comments), not computed by the code under test.

| who  | what happened (UTC, 2022)                                                            |
|------|--------------------------------------------------------------------------------------|
| ann  | known since 06-01 (signed up before the start); 08-05 a summer_sale ad click, a cart, |
|      | a purchase of 100 stored twice under one event id; a purchase on 09-02, after as-of  |
| ben  | 07-20 an anonymous summer_sale ad click; 07-21 an anonymous purchase of 25 (before  |
|      | the start: in his journey and the CSV, not a conversion of the period); signs up     |
|      | 08-10 (newly known); buys 50 08-12                                                   |
| cara | known since 05-01; 07-25 a newsletter click (before the start, in the lookback);     |
|      | buys 30 on 08-03                                                                     |
| dan  | known since 04-01; buys 40 on 08-04 BEFORE his first summer_sale click on 08-15,     |
|      | then buys 60 after it                                                                |
| eve  | known since 03-01; one purchase of 20 on 08-07 with no page view (a phone order)     |
| fay  | visited anonymously on 07-15; identified 08-20 (newly known, no event since start)   |
| gus  | known, active only before the start: not in the cohort                               |
| hal  | identified after as-of: not in the cohort                                            |
| x-1  | a never-identified visitor who clicked the summer_sale ad: never counted              |
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Final

import polars as pl

from journey_core.warehouse import write_tables
from tests.support.frames import events_frame, identities_frame

__all__ = [
    "ANY_TIME_FILTERED",
    "AS_OF",
    "CAMPAIGN",
    "EXPECTED",
    "EXPECTED_FILTERED",
    "START",
    "Expected",
    "build",
    "frames",
]

AS_OF: Final = "2022-08-31T00:00:00Z"
START: Final = "2022-08-01"
CAMPAIGN: Final = "summer_sale"

_AD = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": CAMPAIGN}
_NEWS = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "july_news"}
_SITE = "https://shop.example/"


def _e(
    event_id: str, at: str, kind: str, anon: str | None, email: str | None = None, **more: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": dt.datetime.fromisoformat(f"2022-{at}"),
        "event_type": kind,
        "anonymous_id": anon,
        "email": email,
        "page_url": more.pop("page_url", _SITE + kind if kind != "purchase" else _SITE + "thanks"),
        **more,
    }


EVENTS: Final = [
    # ann: previously known; the purchase is stored twice (one event id)
    _e("ann-1", "08-05T10:00", "page_view", "a-ann", **_AD),
    _e("ann-2", "08-05T10:05", "add_to_cart", "a-ann"),
    _e("ann-3", "08-05T10:10", "purchase", "a-ann", revenue=100.0),
    _e("ann-3", "08-05T10:10", "purchase", "a-ann", revenue=100.0),
    _e("ann-4", "09-02T10:00", "purchase", "a-ann", revenue=500.0),  # after as-of
    # ben: his journey starts anonymously before the start; newly known on 08-10
    _e("ben-1", "07-20T09:00", "page_view", "b-ben", **_AD),
    _e("ben-0", "07-21T09:30", "purchase", "b-ben", revenue=25.0),  # before the start
    _e("ben-2", "08-10T09:00", "page_view", "b-ben"),
    _e("ben-3", "08-10T09:05", "signup", "b-ben", "ben@example.com"),
    _e("ben-4", "08-12T09:00", "page_view", "b-ben"),
    _e("ben-5", "08-12T09:05", "purchase", "b-ben", revenue=50.0),
    # cara: previously known; her first touch in the lookback is before the start
    _e("cara-1", "07-25T12:00", "page_view", "c-cara", **_NEWS),
    _e("cara-2", "08-03T12:00", "page_view", "c-cara"),
    _e("cara-3", "08-03T12:10", "purchase", "c-cara", revenue=30.0),
    # dan: a purchase before his first summer_sale touch, one after it
    _e("dan-1", "08-04T15:00", "page_view", "d-dan"),
    _e("dan-2", "08-04T15:10", "purchase", "d-dan", revenue=40.0),
    _e("dan-3", "08-15T15:00", "page_view", "d-dan", **_AD),
    _e("dan-4", "08-15T15:10", "purchase", "d-dan", revenue=60.0),
    # eve: no page view at all
    _e("eve-1", "08-07T08:00", "purchase", "e-eve", revenue=20.0, page_url=None),
    # fay: anonymous before the start, identified inside the window (no event since)
    _e("fay-1", "07-15T11:00", "page_view", "f-fay", referrer="https://www.facebook.com/"),
    # gus: known, active only before the start
    _e("gus-1", "07-01T10:00", "page_view", "g-gus"),
    # hal: identified after as-of
    _e("hal-1", "08-20T10:00", "page_view", "h-hal", **_AD),
    _e("hal-2", "08-20T10:05", "purchase", "h-hal", revenue=999.0),
    # a visitor never identified
    _e("x-1", "08-10T10:00", "page_view", "x-1", **_AD),
    _e("x-2", "08-10T10:05", "purchase", "x-1", revenue=777.0),
]

IDENTITIES: Final = [
    ("a-ann", "ann@example.com", "2022-06-01T10:00"),
    ("c-cara", "cara@example.com", "2022-05-01T12:00"),
    ("d-dan", "dan@example.com", "2022-04-01T09:00"),
    ("e-eve", "eve@example.com", "2022-03-01T09:00"),
    ("f-fay", "fay@example.com", "2022-08-20T11:00"),
    ("g-gus", "gus@example.com", "2022-02-01T09:00"),
    ("h-hal", "hal@example.com", "2022-09-05T09:00"),
]


class Expected:
    """Figures counted by hand for one set of inputs (the campaign page and Attribution)."""

    def __init__(
        self,
        *,
        people: list[str],
        newly_known: int,
        events: int,
        conversions: int,
        revenue: float,
        converters: list[str],
        attribution_conversions: int,
        funnel_first: int,
        funnel_last: int,
    ) -> None:
        self.people = sorted(people)
        self.newly_known = newly_known
        self.events = events
        self.conversions = conversions
        self.revenue = revenue
        self.converters = sorted(converters)
        self.attribution_conversions = attribution_conversions
        self.funnel_first = funnel_first
        self.funnel_last = funnel_last


#: Everyone since 08-01. People: the five active since the start and fay (newly known, her
#: journey is earlier); not gus, hal, x-1. Events: ann 3 (the duplicate once, not 09-02),
#: ben 6 (07-20 and 07-21 included: newly known), cara 2 (previously known: since the start
#: only), dan 4, eve 1, fay 1. Conversions since the start: ann, ben's 08-12, cara, dan x2,
#: eve = 6, revenue 300 (not ben's 07-21 purchase, though the CSV holds it).
#: Funnel page_view -> purchase (everyone, 30 days): ann, ben, cara, dan did page_view since
#: the start (eve has none, fay's is earlier); all four bought after it.
EXPECTED: Final = Expected(
    people=[f"{n}@example.com" for n in ("ann", "ben", "cara", "dan", "eve", "fay")],
    newly_known=2,
    events=17,
    conversions=6,
    revenue=300.0,
    converters=[f"{n}@example.com" for n in ("ann", "ben", "cara", "dan", "eve")],
    attribution_conversions=6,
    funnel_first=4,
    funnel_last=4,
)

#: Filtered to the summer_sale campaign: ann, ben (07-20 click), dan. Events 3 + 6 + 4.
#: Conversions since the start after the person's first summer_sale touch (30-day lookback):
#: ann's, ben's (23 days after his click), dan's second = 3, revenue 100 + 50 + 60 = 210 (not
#: ben's 07-21 purchase: in scope, but before the start); any time since the start: 4, 250.
EXPECTED_FILTERED: Final = Expected(
    people=[f"{n}@example.com" for n in ("ann", "ben", "dan")],
    newly_known=1,
    events=13,
    conversions=3,
    revenue=210.0,
    converters=[f"{n}@example.com" for n in ("ann", "ben", "dan")],
    attribution_conversions=3,
    funnel_first=3,
    funnel_last=3,
)
#: The filtered cohort's conversions and revenue since the start at any time after a touch or
#: none (dan's 08-04 purchase too; not ben's 07-21, before the start).
ANY_TIME_FILTERED: Final = (4, 250.0)


def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The warehouse as ``(events, identities)`` (naive UTC timestamps)."""
    return events_frame(EVENTS), identities_frame(IDENTITIES)


def build(path: Path) -> str:
    """Write the warehouse to a DuckDB file at ``path`` (the project's writer); its URL."""
    url = f"duckdb:///{path}"
    events, identities = frames()
    write_tables(url, events=events, identities=identities)
    return url
