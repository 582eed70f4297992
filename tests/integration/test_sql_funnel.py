"""The funnel computed by the warehouse equals the Polars oracle on the same rows.

:mod:`journey_core.warehouse.funnel` (one statement over the rule's touch rows) against
:mod:`journey_core.analytics.funnel` over :func:`journey_core.rules.journeys`' rows: on DuckDB
and SQLite files, on PostgreSQL (marker ``postgres``), in random worlds with times on the
window's bound +/- 1 microsecond, and once on a local Spark (marker ``spark``).
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
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_core.analytics.funnel import FunnelSpec
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine
from journey_core.warehouse.funnel import funnel_figures, funnel_people
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
from tests.support.scenario import END, scenario
from tests.support.spark import SparkThriftServer, load_canonical, spark_server
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS

__all__ = ["engine_for", "pg_url", "spark_server"]  # the fixtures, used by name below

CAMPAIGN = dt.date(2022, 7, 1)
SINCE = dt.datetime(2022, 7, 1, tzinfo=dt.UTC)


def specs(since: dt.datetime | None) -> list[FunnelSpec]:
    """The funnels every world is checked with: defaults per group, breakdowns, a tight window."""
    out = [
        FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS, since=since),
        FunnelSpec(steps=("page_view", "purchase"), breakdown=c.CHANNEL),
        FunnelSpec(
            steps=("ad_click", "page_view", "page_view", "purchase"),
            window=dt.timedelta(hours=2),
            breakdown=c.SESSION_CAMPAIGN,
        ),
        # The campaign page's other breakdowns (issue 13): computed dimensions.
        FunnelSpec(steps=("page_view", "purchase"), breakdown=c.SOURCE_MEDIUM),
        FunnelSpec(steps=("page_view", "purchase"), breakdown=c.LANDING_PAGE),
        FunnelSpec(steps=("page_view", "signup", "purchase"), breakdown=c.ANONYMOUS_ID),
    ]
    if since is not None:
        out += [
            FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS, since=since, breakdown=c.KNOWN_STATUS),
            FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS, since=since, who=fn.NEWLY_KNOWN),
            FunnelSpec(
                steps=fn.PREVIOUSLY_KNOWN_STEPS,
                since=since,
                who=fn.PREVIOUSLY_KNOWN,
                window=dt.timedelta(days=1),
            ),
        ]
    return out


def check_funnel(
    engine: sa.Engine,
    events: pl.DataFrame,
    ids: pl.DataFrame,
    query: JourneyQuery,
    spec: FunnelSpec,
    filters: an.Filters | None = None,
    *,
    people: int = 4,
) -> pl.DataFrame:
    rows = oracle_rows(events, ids, query, filters=filters)
    expected = fn.funnel(rows, spec)
    got = funnel_figures(engine, query, spec=spec, filters=filters)
    label = f"{query!r} {spec!r}"
    # Medians are means of two integers divided by 10^6 on both routes.
    assert_frame(got, expected, label)
    groups = expected.get_column(c.GROUP).unique(maintain_order=True).to_list()
    last = len(spec.steps)
    cases: list[dict[str, Any]] = [
        {"step": 1, "outcome": fn.REACHED, "group": groups[-1] if groups else None},
        {"step": last, "outcome": fn.REACHED, "group": None},
        {"step": last, "outcome": fn.DROPPED, "group": None},
        {"step": 2, "outcome": fn.DROPPED, "group": groups[0] if groups else None},
    ][:people]
    for kwargs in cases:
        got_people = funnel_people(engine, query, spec=spec, filters=filters, limit=7, **kwargs)
        oracle = fn.people_at(rows, spec, limit=7, **kwargs)
        assert_frame(got_people, oracle, f"{label} people {kwargs}")
    return got


# --------------------------------------------------------------------------- DuckDB, SQLite
def test_worked_example(engine_for: EngineFor) -> None:
    engine = engine_for(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    query = JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN)
    for spec in specs(SINCE):
        check_funnel(engine, CAMPAIGN_EVENTS, CAMPAIGN_IDS, query, spec)


def test_scenario_world(engine_for: EngineFor) -> None:
    events, ids = scenario(individuals=60)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    got = [check_funnel(engine, events, ids, query, spec) for spec in specs(SINCE)]
    # Not vacuous: people reach the last step of the default funnel, with a time between steps.
    assert got[0].get_column(c.PEOPLE).to_list()[-1] > 0
    assert got[0].get_column(fn.MEDIAN_SECONDS).drop_nulls().len() == 2
    assert got[1].get_column(c.GROUP).n_unique() > 2


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param(an.Filters(channels=("Paid Search", "Email")), id="channels"),
        pytest.param(an.Filters(campaigns=("no such campaign",)), id="nobody"),
    ],
)
def test_filters_keep_the_same_people(engine_for: EngineFor, filters: an.Filters) -> None:
    events, ids = scenario(individuals=40)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    got = check_funnel(engine, events, ids, query, specs(SINCE)[0], filters)
    if filters.campaigns:
        assert got.get_column(c.PEOPLE).sum() == 0


# --------------------------------------------------------------------------- random worlds
random_specs = st.builds(
    FunnelSpec,
    steps=st.lists(
        st.sampled_from(["page_view", "purchase", "signup"]), min_size=2, max_size=3
    ).map(tuple),
    # 29 min, 30 min and 61 min: the random times sit on these bounds +/- 1 microsecond.
    window=st.sampled_from([dt.timedelta(minutes=m) for m in (29, 30, 61)] + [fn.DEFAULT_WINDOW]),
    since=st.sampled_from([None, dt.datetime(2022, 8, 30, 23, 1, tzinfo=dt.UTC)]),
    breakdown=st.sampled_from(
        [None, c.CHANNEL, c.SESSION_CAMPAIGN, c.SOURCE_MEDIUM, c.LANDING_PAGE, c.ANONYMOUS_ID]
    ),
)


@given(events=random_events, identities=random_ids, spec=random_specs)
@world_settings(20)
def test_random_worlds_on_duckdb(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[dict[str, Any]],
    identities: list[tuple[str, str, dt.datetime]],
    spec: FunnelSpec,
) -> None:
    with random_world(tmp_path_factory, events, identities) as (engine, ev, ids):
        query = JourneyQuery(as_of=RANDOM_AS_OF, event_date=dt.date(2022, 8, 30))
        check_funnel(engine, ev, ids, query, spec, people=1)


# --------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_scenario_world_on_postgres(pg_url: str) -> None:
    events, ids = scenario(individuals=60)
    with written(pg_url, events, ids) as engine:
        query = JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="Asia/Tokyo")
        for spec in specs(SINCE):
            check_funnel(engine, events, ids, query, spec)


# --------------------------------------------------------------------------- Spark
@pytest.mark.spark
def test_scenario_world_on_spark(spark_server: SparkThriftServer) -> None:
    events, ids = scenario(individuals=25)
    load_canonical(spark_server, events, ids, database="funnel")
    engine = create_engine(spark_server.url("funnel"))
    try:
        query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
        spec = FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS, since=SINCE, breakdown=c.CHANNEL)
        got = check_funnel(engine, events, ids, query, spec)
        assert got.get_column(c.PEOPLE).sum() > 0
    finally:
        engine.dispose()
