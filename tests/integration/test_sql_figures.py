"""The page figures computed in the warehouse equal the Polars analytics on the same rows.

:mod:`journey_core.warehouse.figures` builds visits, touches, channels and each figure as ONE
SQL statement; these tests compare them with :mod:`journey_core.analytics.campaign` (the
oracle) over :func:`journey_core.rules.journeys`' rows, on DuckDB and SQLite files and on
PostgreSQL (marker ``postgres``), for the worked example, the scenario world, a custom
channel file and random worlds; and once on a local Spark (marker ``spark``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics.campaign import Kpis
from journey_core.analytics.channels import ChannelConfig
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.figures import (
    CampaignFigures,
    RecentFigures,
    breakdown_figures,
    breakdown_statement,
    campaign_figures,
    combined,
    hourly_statement,
    kpis_statement,
    period_queries,
    recent_figures,
    split,
    touch_rows,
    touchpoints_statement,
    trend_statement,
)
from tests.support.frames import events_frame, identities_frame
from tests.support.oracle import (
    RANDOM_AS_OF,
    EngineFor,
    assert_frame,
    engine_for,
    oracle_rows,
    pg_url,
    random_events,
    random_ids,
    random_world,
    world_settings,
    written,
)
from tests.support.scenario import END, queries, scenario
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS

__all__ = ["engine_for", "pg_url"]  # the fixtures, used by name below

CAMPAIGN = dt.date(2022, 7, 1)
WORKED_QUERIES = [
    pytest.param({"event_date": CAMPAIGN}, id="event_date"),
    pytest.param({"email": "ann@example.com", "event_date": CAMPAIGN}, id="both-ann"),
    pytest.param({"email": "ben@example.com", "event_date": CAMPAIGN}, id="both-ben"),
    pytest.param({"event_date": CAMPAIGN, "timezone": "Asia/Tokyo"}, id="tokyo"),
    pytest.param({"email": "cara@example.com", "event_date": CAMPAIGN}, id="nobody"),
]


# --------------------------------------------------------------------------- helpers
def _assert_kpis(got: Kpis | None, expected: Kpis | None, label: str) -> None:
    assert (got is None) == (expected is None), label
    if got is None or expected is None:
        return
    # SQL sums revenue in another order than Polars: only it gets a tolerance.
    assert got.revenue == pytest.approx(expected.revenue, rel=1e-12, abs=1e-9), label
    assert (got.revenue_any_time is None) == (expected.revenue_any_time is None), label
    if got.revenue_any_time is not None:
        assert got.revenue_any_time == pytest.approx(
            expected.revenue_any_time, rel=1e-12, abs=1e-9
        ), label
    same_revenue = Kpis(
        **{
            **_fields(got),
            "revenue": expected.revenue,
            "revenue_any_time": expected.revenue_any_time,
        }
    )
    assert same_revenue == expected, label


def _fields(k: Kpis) -> dict[str, Any]:
    return {name: getattr(k, name) for name in Kpis.__slots__}


def check_campaign(
    engine: sa.Engine,
    events: pl.DataFrame,
    ids: pl.DataFrame,
    query: JourneyQuery,
    config: ChannelConfig | None = None,
    filters: an.Filters | None = None,
    *,
    end: dt.datetime | None = None,
    by: tuple[str, ...] = (),
) -> CampaignFigures:
    assert query.start is not None
    chosen = filters or an.Filters()
    period, earlier = period_queries(query, end=end)
    rows = oracle_rows(events, ids, period, config)
    before = oracle_rows(events, ids, earlier, config)
    expected = an.campaign_report(
        rows,
        start=query.start,
        end=period.as_of,
        tz=query.timezone,
        filters=chosen,
        previous=before,
    )
    got = campaign_figures(engine, query, config=config, filters=filters, end=end, previous=True)
    label = f"{query!r} {filters!r} end={end}"
    _assert_kpis(got.kpis, expected.kpis, label)
    _assert_kpis(got.previous, expected.previous, f"{label} previous")
    assert got.cohort_size == expected.cohort_size == expected.people.height, label
    assert got.changes == pytest.approx(expected.changes, nan_ok=True), label
    people_exclusions = [e for e in expected.excluded if e.figure == c.PEOPLE]
    assert list(got.excluded) == people_exclusions, label
    for name in ("trend", "channels", "campaigns", "touchpoints"):
        assert_frame(getattr(got, name), getattr(expected, name), f"{label} {name}")
    cohort = an.with_scope(an.filter_people(rows, chosen), chosen)
    for dimension in by:
        split = breakdown_figures(
            engine, query, config=config, by=dimension, filters=filters, end=end, top=3
        )
        table = an.breakdown(cohort, by=dimension, since=query.start)
        trend = an.trend_by(
            cohort,
            by=dimension,
            start=query.start,
            end=period.as_of,
            tz=query.timezone,
            top=3,
            since=query.start,
        )
        assert_frame(split.table, table, f"{label} {dimension} table")
        assert_frame(split.trend, trend, f"{label} {dimension} trend")
    return got


def check_recent(
    engine: sa.Engine,
    events: pl.DataFrame,
    ids: pl.DataFrame,
    query: JourneyQuery,
    config: ChannelConfig | None = None,
) -> RecentFigures:
    earlier = JourneyQuery(as_of=query.as_of - query.recent_window)
    rows = oracle_rows(events, ids, query, config)
    before = oracle_rows(events, ids, earlier, config)
    expected = an.recent_report(
        rows, previous=before, start=query.window_start, end=query.as_of, tz=query.timezone
    )
    got = recent_figures(engine, query, config=config, previous=earlier, tz=query.timezone)
    label = repr(query)
    _assert_kpis(got.kpis, expected.kpis, label)
    _assert_kpis(got.previous, expected.previous, f"{label} previous")
    assert_frame(got.hourly, expected.hourly, f"{label} hourly")
    assert_frame(got.campaigns, expected.campaigns, f"{label} campaigns")
    assert_frame(got.sources, expected.sources, f"{label} sources")
    return got


def _check_all(
    engine: sa.Engine,
    events: pl.DataFrame,
    ids: pl.DataFrame,
    query: JourneyQuery,
    config: ChannelConfig | None = None,
) -> None:
    if query.start is not None:
        check_campaign(engine, events, ids, query, config)
    elif query.email is None:
        check_recent(engine, events, ids, query, config)


# --------------------------------------------------------------------------- DuckDB, SQLite
@pytest.mark.parametrize("kwargs", WORKED_QUERIES)
def test_worked_example(engine_for: EngineFor, kwargs: dict[str, Any]) -> None:
    engine = engine_for(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    query = JourneyQuery(as_of=AS_OF, **kwargs)
    check_campaign(engine, CAMPAIGN_EVENTS, CAMPAIGN_IDS, query, by=an.DIMENSIONS)
    # A period ending before the as-of: [start, 2022-07-20 00:00 UTC).
    end = dt.datetime(2022, 7, 20, tzinfo=dt.UTC)
    check_campaign(engine, CAMPAIGN_EVENTS, CAMPAIGN_IDS, query, end=end, by=(c.CHANNEL,))


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/New_York"])
def test_worked_example_recent(engine_for: EngineFor, tz: str) -> None:
    engine = engine_for(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    got = check_recent(
        engine, CAMPAIGN_EVENTS, CAMPAIGN_IDS, JourneyQuery(as_of=AS_OF, timezone=tz)
    )
    assert got.kpis.events > 0
    assert got.hourly.height > 0


def test_recent_hours_across_a_dst_change(engine_for: EngineFor) -> None:
    # New York falls back at 2022-11-06 06:00 UTC: local 01:00-02:00 happens twice.
    t0 = dt.datetime(2022, 11, 6, 4, 50)
    events = events_frame(
        [
            {
                c.EVENT_ID: f"d{i}",
                c.EMAIL: "ann@x.io",
                c.OCCURRED_AT: t0 + dt.timedelta(minutes=25 * i),
                c.EVENT_TYPE: "page_view",
            }
            for i in range(10)
        ]
    )
    ids = identities_frame([])
    engine = engine_for(events, ids)
    as_of = dt.datetime(2022, 11, 6, 10, tzinfo=dt.UTC)
    got = check_recent(engine, events, ids, JourneyQuery(as_of=as_of, timezone="America/New_York"))
    assert got.hourly.get_column(c.EVENTS).sum() == 10


def test_worked_example_figures_are_not_vacuous(engine_for: EngineFor) -> None:
    engine = engine_for(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    got = campaign_figures(engine, JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN))
    assert got.kpis.people > 0
    assert got.kpis.events > 0
    assert got.channels.height > 0
    assert got.trend.get_column(c.EVENTS).sum() > 0
    # Ben's anonymous ad click before he became known is a touchpoint.
    assert got.touchpoints.height > 0


def test_combined_statement_returns_each_part(engine_for: EngineFor) -> None:
    """ONE combined statement gives each statement's own rows, in its own order."""
    events, ids = scenario(individuals=30)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    t = touch_rows(query)
    start = query.start
    assert start is not None
    parts = [
        (kpis_statement(t, since=start), "iiiifiiif"),
        (trend_statement(t, start=start, end=END), "iiiii"),
        (hourly_statement(t, start=END - dt.timedelta(days=2), end=END), "isi"),
        (breakdown_statement(t, by=c.SESSION_SOURCE, limit=3), "siiiif"),
        (breakdown_statement(t, by=c.CHANNEL, exclude="Direct"), "siiiif"),
        (touchpoints_statement(t, newly_known_since=start, limit=4), "ssssiii"),
    ]
    with engine.connect() as conn:
        expected = [[tuple(r) for r in conn.execute(stmt).all()] for stmt, _ in parts]
        got = split([tuple(r) for r in conn.execute(combined(parts)).all()], parts)
    assert all(expected), "every part has rows"

    def rounded(parts: list[list[tuple[Any, ...]]]) -> list[list[tuple[Any, ...]]]:
        # A sum of floats may add up in another order in another statement.
        return [
            [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in p] for p in parts
        ]

    assert rounded(got) == rounded(expected)


def test_touch_rows_equal_with_sessions(engine_for: EngineFor) -> None:
    events, ids = scenario(individuals=30)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    t = touch_rows(query)
    keys = (c.EMAIL, c.EVENT_ID)
    columns = [*keys, c.SESSION, c.IS_TOUCH, c.CHANNEL, *an.BREAKDOWN_DIMENSIONS[1:]]
    with engine.connect() as conn:
        got_rows = conn.execute(sa.select(*(t.c[name] for name in columns))).all()
    schema = {name: pl.Int64 if name in {c.SESSION, c.IS_TOUCH} else pl.String for name in columns}
    got = pl.DataFrame([tuple(r) for r in got_rows], schema=schema, orient="row").sort(keys)
    expected = (
        oracle_rows(events, ids, query, None)
        .select(columns)
        .with_columns(pl.col(c.IS_TOUCH).cast(pl.Int64))
        .sort(keys)
    )
    assert expected.height > 100
    assert_frame(got, expected, "touch rows")


def test_scenario_world(engine_for: EngineFor) -> None:
    events, ids = scenario(individuals=60)
    engine = engine_for(events, ids)
    for query in queries(ids):
        _check_all(engine, events, ids, query)
    _check_all(
        engine,
        events,
        ids,
        JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="America/New_York"),
    )


FILTERS = [
    pytest.param(an.Filters(channels=("Paid Search", "Email")), id="channels"),
    pytest.param(
        an.Filters(media=("cpc", "email"), event_types=("page_view",)), id="medium-and-type"
    ),
    pytest.param(an.Filters(sources=("(direct)",)), id="direct"),
    pytest.param(an.Filters(campaigns=("no such campaign",)), id="nobody"),
]


@pytest.mark.parametrize("filters", FILTERS)
def test_filters(engine_for: EngineFor, filters: an.Filters) -> None:
    events, ids = scenario(individuals=40)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    got = check_campaign(engine, events, ids, query, filters=filters, by=an.DIMENSIONS)
    everyone = campaign_figures(engine, query)
    if filters.campaigns:
        assert got.kpis.events == 0
    else:
        assert 0 < got.kpis.events < everyone.kpis.events


CUSTOM_CHANNELS = """
internal_hosts = ["www.partner-checkout.example"]
unassigned = "Other"

[source_categories]
social = ["mastodon.social"]

[rename]
"Organic Search" = "SEO"

[[rules]]
channel = "Newsletter"
campaign_regex = "^WEEKLY"
medium = ["Email"]
"""


def test_custom_channel_file(engine_for: EngineFor, tmp_path: Path) -> None:
    path = tmp_path / "channels.toml"
    path.write_text(CUSTOM_CHANNELS, encoding="utf-8")
    config = ChannelConfig.from_toml(path)
    t0 = dt.datetime(2022, 7, 2, 10)
    rows = [
        ("n1", "x@a.io", 0, "newsletter", "email", "weekly-42", None),
        ("n2", "x@a.io", 5, None, None, None, "https://partner-checkout.example/pay"),
        ("n3", "x@a.io", 90, None, None, None, "https://mastodon.social/@shop"),
        ("n4", "y@a.io", 0, None, None, None, "https://www.google.co.uk/"),
        ("n5", "y@a.io", 45, "zzz", "yyy", None, None),
        ("n6", "y@a.io", 50, None, None, None, "https://shop.example/cart"),
    ]
    events = events_frame(
        [
            {
                c.EVENT_ID: eid,
                c.EMAIL: email,
                c.OCCURRED_AT: t0 + dt.timedelta(minutes=minutes),
                c.EVENT_TYPE: "page_view",
                c.UTM_SOURCE: source,
                c.UTM_MEDIUM: medium,
                c.UTM_CAMPAIGN: campaign,
                c.REFERRER: referrer,
                c.PAGE_URL: "https://shop.example/",
            }
            for eid, email, minutes, source, medium, campaign, referrer in rows
        ]
    )
    ids = identities_frame([])
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN)
    got = check_campaign(engine, events, ids, query, config)
    assert set(got.channels.get_column(c.CHANNEL)) == {
        "Newsletter",
        "Organic Social",
        "SEO",
        "Other",
    }


# --------------------------------------------------------------------------- random worlds
random_queries = st.builds(
    lambda event_date, tz: JourneyQuery(as_of=RANDOM_AS_OF, event_date=event_date, timezone=tz),
    event_date=st.sampled_from([None, dt.date(2022, 8, 30), dt.date(2022, 8, 31)]),
    tz=st.sampled_from(["UTC", "America/New_York", "Asia/Tokyo"]),
)


@given(events=random_events, identities=random_ids, query=random_queries)
@world_settings(40)
def test_random_worlds_on_duckdb(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[dict[str, Any]],
    identities: list[tuple[str, str, dt.datetime]],
    query: JourneyQuery,
) -> None:
    with random_world(tmp_path_factory, events, identities) as (engine, ev, ids):
        _check_all(engine, ev, ids, query)


# --------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
@pytest.mark.parametrize("kwargs", WORKED_QUERIES)
def test_worked_example_on_postgres(pg_url: str, kwargs: dict[str, Any]) -> None:
    with written(pg_url, CAMPAIGN_EVENTS, CAMPAIGN_IDS) as engine:
        query = JourneyQuery(as_of=AS_OF, **kwargs)
        check_campaign(engine, CAMPAIGN_EVENTS, CAMPAIGN_IDS, query)
        check_recent(engine, CAMPAIGN_EVENTS, CAMPAIGN_IDS, JourneyQuery(as_of=AS_OF))


@pytest.mark.postgres
def test_scenario_world_on_postgres(pg_url: str) -> None:
    events, ids = scenario(individuals=60)
    with written(pg_url, events, ids) as engine:
        for query in queries(ids):
            _check_all(engine, events, ids, query)
        tokyo = JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="Asia/Tokyo")
        _check_all(engine, events, ids, tokyo)


@pytest.mark.postgres
def test_cohort_figures_on_postgres(pg_url: str) -> None:
    # Scoped conversions, a period end, the previous period and every breakdown, in PostgreSQL.
    events, ids = scenario(individuals=40)
    with written(pg_url, events, ids) as engine:
        query = JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="Asia/Tokyo")
        paid = an.Filters(channels=("Paid Search", "Email"))
        got = check_campaign(engine, events, ids, query, filters=paid, by=an.DIMENSIONS)
        assert got.kpis.conversions_any_time is not None
        end = dt.datetime(2022, 7, 20, tzinfo=dt.UTC)
        check_campaign(engine, events, ids, query, end=end, by=(c.KNOWN_STATUS,))
