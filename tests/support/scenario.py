"""One scenario of warehouse data, loadable into DuckDB, SQLite and PostgreSQL alike.

The demo generator's people plus hand-written edge cases: a padded mixed-case email, an
email-carrying event without an anonymous id, a duplicated event id, an anonymous id
re-linked to a second person, a link after ``as_of``, a never-linked visitor.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from journey_core import columns as c
from journey_core.io.demo import generate
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, read_frame, write_tables

END = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
EVENT_FRAME_SCHEMA: dict[str, pl.DataType] = {
    **{name: pl.String() for name in c.EVENT_COLUMNS},
    c.OCCURRED_AT: pl.Datetime("us"),
    c.REVENUE: pl.Float64(),
}


def _t(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2022, 8, day, hour)


def edge_frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hand-written edge cases (naive UTC timestamps, canonical columns)."""
    events = pl.DataFrame(
        {
            c.EVENT_ID: ["edge-1", "edge-2", "edge-3", "edge-3", "edge-4", "edge-5", "edge-6"],
            c.OCCURRED_AT: [_t(20), _t(21), _t(22), _t(22), _t(23), _t(24), _t(30, 23)],
            c.ANONYMOUS_ID: ["edge-a", None, "edge-a", "edge-a", "edge-b", "edge-never", "edge-a"],
            c.EMAIL: [None, "  Edge.One@Example.COM ", None, None, None, None, None],
            c.EVENT_TYPE: [
                *("page_view", "email_click", "page_view", "page_view"),
                *("page_view", "page_view", "purchase"),
            ],
            c.PAGE_URL: [
                "https://x.example/'; DROP TABLE events; --",
                *([None] * 5),
                "https://x.example/checkout",
            ],
            c.REFERRER: [None] * 7,
            c.UTM_SOURCE: ["=cmd|' /C calc'!A0", None, None, None, None, None, None],
            c.UTM_MEDIUM: [None] * 7,
            c.UTM_CAMPAIGN: ["edge_campaign", None, None, None, None, None, None],
            c.UTM_CONTENT: [None] * 7,
            c.UTM_TERM: [None] * 7,
            c.REVENUE: [None, None, None, None, None, None, 42.5],
        },
        schema=EVENT_FRAME_SCHEMA,
    ).select(c.EVENT_COLUMNS)
    identities = pl.DataFrame(
        {
            c.ANONYMOUS_ID: ["edge-a", "edge-a", "edge-b", "edge-b"],
            c.EMAIL: [
                *("edge.one@example.com", "EDGE.TWO@example.com"),
                *("edge.two@example.com", "late@example.com"),
            ],
            # edge-a: first Edge One, re-linked to Edge Two; edge-b: a link after END.
            c.IDENTIFIED_AT: [_t(20, 13), _t(25), _t(23, 13), dt.datetime(2022, 9, 2)],
        },
        schema={
            c.ANONYMOUS_ID: pl.String(),
            c.EMAIL: pl.String(),
            c.IDENTIFIED_AT: pl.Datetime("us"),
        },
    )
    return events, identities


def scenario(individuals: int = 120, seed: int = 11) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Demo people plus the edge cases, as ``(events, identities)``."""
    events, identities = generate(individuals=individuals, seed=seed, end=END)
    edge_events, edge_identities = edge_frames()
    return pl.concat([events, edge_events]), pl.concat([identities, edge_identities])


def load(url: str, frames: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """Write the scenario into the canonical ``events`` and ``identities`` at ``url``."""
    events, identities = frames
    write_tables(url, events=events, identities=identities)


def stored(url: str, table: str) -> pl.DataFrame:
    """Every row of ``table`` at ``url`` as the product reads it (:func:`read_frame`)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return read_frame(
                conn, sa.select(sa.literal_column("*")).select_from(sa.table(table)), {}
            )
    finally:
        engine.dispose()


def queries(identities: pl.DataFrame) -> list[JourneyQuery]:
    """Queries covering every rule, a few people and an earlier ``as_of``."""
    emails = identities.get_column(c.EMAIL).unique().sort().to_list()
    picked = [emails[0], emails[len(emails) // 2], "edge.one@example.com", "edge.two@example.com"]
    campaign = dt.date(2022, 7, 1)
    out = [
        JourneyQuery(as_of=END),
        JourneyQuery(as_of=END, event_date=campaign),
        JourneyQuery(as_of=dt.datetime(2022, 7, 15, tzinfo=dt.UTC), event_date=dt.date(2022, 6, 1)),
        JourneyQuery(as_of=dt.datetime(2022, 8, 24, 12, tzinfo=dt.UTC)),
    ]
    for email in picked:
        out.append(JourneyQuery(as_of=END, email=email.strip().lower()))
        out.append(JourneyQuery(as_of=END, email=email.strip().lower(), event_date=campaign))
    return out
