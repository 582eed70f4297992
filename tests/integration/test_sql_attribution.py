"""The Attribution page's figures computed in the warehouse equal the Polars oracle.

:func:`journey_core.warehouse.attribution.attribution_report` builds credits, paths and time
to convert as SQL over the rule's statement; these tests compare its report with
:func:`journey_core.analytics.attribution.analyze` over
:func:`~journey_core.analytics.attribution.cohort_rows` (the rows of
:func:`journey_core.rules.journeys`) on DuckDB and SQLite files, PostgreSQL (marker
``postgres``) and random worlds; the Spark check is in ``test_spark.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from journey_core import columns as c
from journey_core.analytics import attribution as attr
from journey_core.analytics import campaign as an
from journey_core.analytics.attribution import AttributionReport, AttributionSettings
from journey_core.rules import journeys
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import write_tables
from journey_core.warehouse.attribution import attribution_report
from tests.support.frames import events_frame, identities_frame
from tests.support.oracle import (
    RANDOM_AS_OF,
    EngineFor,
    assert_frame,
    engine_for,
    pg_url,
    random_events,
    random_ids,
    random_world,
    world_settings,
    written,
)
from tests.support.scenario import END, scenario
from tests.unit.test_attribution import LOOKBACK_EVENTS, LOOKBACK_IDS, LOOKBACK_QUERY
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS

__all__ = ["engine_for", "pg_url"]  # the fixtures, used by name below

CAMPAIGN = dt.date(2022, 7, 1)
#: The person-level tables: the warehouse returns their first rows only.
PAGED = ("touches", "conversions", "conversion_paths", "non_conversion_paths", "time_to_convert")

SETTINGS = [
    pytest.param(AttributionSettings(), id="default"),
    pytest.param(AttributionSettings.build(path_unit="touch"), id="per-touch"),
    pytest.param(AttributionSettings.build(collapse_repeats=False), id="repeats-kept"),
    pytest.param(
        AttributionSettings.build(conversion_event_types=None, lookback_days=3.5),
        id="any-event-3.5-days",
    ),
    pytest.param(
        AttributionSettings.build(
            conversion_event_types="purchase, signup", require_revenue=True, half_life_days=0.5
        ),
        id="revenue-half-day",
    ),
    pytest.param(
        AttributionSettings(touch_event_types=("page_view",), first_weight=0.3, last_weight=0.5),
        id="page-view-touches",
    ),
]


# --------------------------------------------------------------------------- helpers
def expected_report(
    events: pl.DataFrame,
    ids: pl.DataFrame,
    query: JourneyQuery,
    s: AttributionSettings,
    filters: an.Filters | None = None,
    end: dt.datetime | None = None,
) -> tuple[AttributionReport, int]:
    def rows_of(q: JourneyQuery) -> pl.DataFrame:
        return journeys(events, ids, query=q)

    rows, people = attr.cohort_rows(rows_of, query, s.lookback)
    if filters is not None and filters.active:
        visits = an.with_sessions(rows_of(query), channels=s.channels)
        kept = an.filter_people(visits, filters).get_column(c.EMAIL).unique()
        rows = rows.filter(pl.col(c.EMAIL).is_in(kept.implode()))
        people = kept.len()
        rows = attr.scoped(rows, filters, settings=s)
    until = end if end is not None else query.as_of
    return attr.analyze(rows, settings=s, start=query.start, end=until), people


def check_attribution(
    engine: sa.Engine,
    events: pl.DataFrame,
    ids: pl.DataFrame,
    query: JourneyQuery,
    s: AttributionSettings | None = None,
    *,
    preview_rows: int = 1000,
    filters: an.Filters | None = None,
    end: dt.datetime | None = None,
) -> AttributionReport:
    s = s or AttributionSettings()
    expected, people = expected_report(events, ids, query, s, filters, end)
    got, got_people = attribution_report(
        engine, query, s, preview_rows=preview_rows, filters=filters, end=end
    )
    label = f"{query!r} {s.path_unit} {s.conversion_event_types} {s.lookback} {filters!r}"
    assert got_people == people, label
    totals = expected.totals
    assert got.totals.converters == totals.converters, label
    assert got.totals.conversions == totals.conversions, label
    assert got.totals.revenue == pytest.approx(totals.revenue, rel=1e-12, abs=1e-9), label
    for name in AttributionReport.__slots__:
        if name == "totals":
            continue
        want = getattr(expected, name)
        if name in (*PAGED, "path_summary"):
            want = want.head(preview_rows)
        assert_frame(getattr(got, name), want, f"{label} {name}")
    return got


# --------------------------------------------------------------------------- DuckDB, SQLite
@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="event_date"),
        pytest.param({"email": "ben@example.com"}, id="both-ben"),
        pytest.param({"timezone": "Asia/Tokyo"}, id="tokyo"),
        pytest.param({"email": "cara@example.com"}, id="nobody"),
    ],
)
def test_worked_example(engine_for: EngineFor, kwargs: dict[str, Any]) -> None:
    engine = engine_for(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    query = JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN, **kwargs)
    check_attribution(engine, CAMPAIGN_EVENTS, CAMPAIGN_IDS, query)


@pytest.mark.parametrize("s", SETTINGS)
def test_scenario_world(engine_for: EngineFor, s: AttributionSettings) -> None:
    events, ids = scenario(individuals=60)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="America/New_York")
    got = check_attribution(engine, events, ids, query, s)
    assert got.totals.conversions > 0
    assert got.path_summary.height > 1
    assert got.by_channel.get_column(c.CONVERSIONS).sum() > 0


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param(an.Filters(channels=("Paid Search", "Email")), id="channels"),
        pytest.param(an.Filters(media=("cpc",), event_types=("page_view",)), id="medium-type"),
        pytest.param(an.Filters(campaigns=("weekly_newsletter",)), id="campaign"),
        pytest.param(an.Filters(campaigns=("no such campaign",)), id="nobody"),
    ],
)
def test_campaign_filters_and_end(engine_for: EngineFor, filters: an.Filters) -> None:
    events, ids = scenario(individuals=40)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    end = END - dt.timedelta(days=10)
    got = check_attribution(engine, events, ids, query, filters=filters, end=end)
    everyone, _ = attribution_report(engine, query, AttributionSettings())
    assert got.totals.conversions <= everyone.totals.conversions
    if filters.campaigns == ("no such campaign",):
        assert got.totals.conversions == 0


def test_person_tables_are_a_bounded_page(engine_for: EngineFor) -> None:
    events, ids = scenario(individuals=60)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    got = check_attribution(engine, events, ids, query, preview_rows=3)
    for name in (*PAGED, "path_summary"):
        assert getattr(got, name).height <= 3, name
    assert got.touches.height == 3
    assert got.totals.conversions > 3  # the totals count every conversion


def test_time_to_convert_from_the_first_touch_in_the_lookback(engine_for: EngineFor) -> None:
    engine = engine_for(LOOKBACK_EVENTS, LOOKBACK_IDS)
    got = check_attribution(engine, LOOKBACK_EVENTS, LOOKBACK_IDS, LOOKBACK_QUERY)
    assert got.time_to_convert.get_column(attr.DAYS_FROM_FIRST_TOUCH).to_list() == [15.0, 25.0]
    summary = got.time_to_convert_summary.filter(pl.col(attr.GROUP) == attr.ALL)
    assert summary.get_column(attr.MEDIAN_DAYS).to_list() == pytest.approx([20.0, 36.5 + 10 / 24])


def test_lookback_bound_is_inclusive_to_the_microsecond(engine_for: EngineFor) -> None:
    # Touches exactly 30 days and 30 days + 1 us before the purchase.
    buy = dt.datetime(2022, 7, 20, 12)
    us = dt.timedelta(microseconds=1)
    rows = [
        ("t0", buy - dt.timedelta(days=30) - us, "paid", None, "page_view"),
        ("t1", buy - dt.timedelta(days=30), "email", None, "page_view"),
        ("t2", buy - dt.timedelta(days=3), "social", None, "page_view"),
        ("t3", buy, None, 12.5, "purchase"),
    ]
    sources = {"paid": ("google", "cpc"), "email": ("news", "email"), "social": ("fb", "social")}
    events = events_frame(
        [
            {
                c.EVENT_ID: eid,
                c.EMAIL: "ann@x.io",
                c.OCCURRED_AT: at,
                c.EVENT_TYPE: kind,
                c.UTM_SOURCE: sources[utm][0] if utm else None,
                c.UTM_MEDIUM: sources[utm][1] if utm else None,
                c.REVENUE: revenue,
            }
            for eid, at, utm, revenue, kind in rows
        ]
    )
    ids = identities_frame([])
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=dt.datetime(2022, 7, 31, tzinfo=dt.UTC), event_date=CAMPAIGN)
    # Per touch: t0 and t1 share a visit, so only per touch is t1 a step of its own.
    got = check_attribution(
        engine, events, ids, query, AttributionSettings.build(path_unit="touch")
    )
    assert got.conversion_paths.get_column(c.PATH).to_list() == ["Email > Organic Social > Direct"]


# --------------------------------------------------------------------------- random worlds
@given(events=random_events, identities=random_ids, day=st.sampled_from([30, 31]))
@world_settings(10)
def test_random_worlds_on_duckdb(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[dict[str, Any]],
    identities: list[tuple[str, str, dt.datetime]],
    day: int,
) -> None:
    s = AttributionSettings.build(
        conversion_event_types="purchase, signup", lookback_days=1 / 48, half_life_days=0.01
    )
    with random_world(tmp_path_factory, events, identities) as (engine, ev, ids):
        start = dt.date(2022, 8, day)
        query = JourneyQuery(as_of=RANDOM_AS_OF, event_date=start, timezone="America/New_York")
        check_attribution(engine, ev, ids, query, s)


# --------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_scenario_world_on_postgres(pg_url: str) -> None:
    events, ids = scenario(individuals=60)
    with written(pg_url, events, ids) as engine:
        query = JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="Asia/Tokyo")
        check_attribution(engine, events, ids, query)
        check_attribution(engine, events, ids, query, AttributionSettings.build(path_unit="touch"))
        scoped = an.Filters(channels=("Paid Search", "Email"))
        check_attribution(engine, events, ids, query, filters=scoped)
        worked = JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN)
        write_tables(pg_url, events=CAMPAIGN_EVENTS, identities=CAMPAIGN_IDS)
        check_attribution(engine, CAMPAIGN_EVENTS, CAMPAIGN_IDS, worked)
