"""Apache Spark: the warehouse-native statement through ``hive://`` equals the pure rules.

A local Spark Thrift server (tests/support/spark.py, started once per session) serves the
canonical tables from Parquet; PyHive's SQLAlchemy dialect sends the ONE statement of
:func:`journey_core.warehouse.native.journey_statement`. The product's pushed-down route
(:func:`journey_core.warehouse.fetch_journeys`) is checked through the same engine, and
``journey export`` streams the one statement from it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from journey_cli.commands import main as journey_main
from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.io import export
from journey_core.rules import journeys
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys, verify_schema
from journey_core.warehouse.native import native_journeys
from tests.integration.test_native import ODD_EVENTS, ODD_IDS, ODD_QUERIES
from tests.integration.test_sql_attribution import check_attribution
from tests.integration.test_sql_figures import check_campaign, check_recent
from tests.integration.test_sql_pages import check_pages
from tests.support.scenario import END, scenario
from tests.support.spark import SparkThriftServer, load_canonical, spark_server
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS

pytestmark = pytest.mark.spark
__all__ = ["spark_server"]  # the session fixture, used by name below

CAMPAIGN = dt.date(2022, 7, 1)
WORKED_QUERIES = [
    pytest.param({"event_date": CAMPAIGN}, id="event_date"),
    pytest.param({"email": "ann@example.com"}, id="email"),
    pytest.param({"email": "ben@example.com", "event_date": CAMPAIGN}, id="both"),
    pytest.param({}, id="recent"),
]


@pytest.fixture(scope="module")
def worked(spark_server: SparkThriftServer) -> Iterator[sa.Engine]:
    load_canonical(spark_server, CAMPAIGN_EVENTS, CAMPAIGN_IDS, database="worked")
    engine = create_engine(spark_server.url("worked"))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def world(
    spark_server: SparkThriftServer,
) -> Iterator[tuple[sa.Engine, pl.DataFrame, pl.DataFrame]]:
    events, identities = scenario(individuals=25)
    load_canonical(spark_server, events, identities, database="scenario")
    engine = create_engine(spark_server.url("scenario"))
    yield engine, events, identities
    engine.dispose()


@pytest.fixture(scope="module")
def odd(spark_server: SparkThriftServer) -> Iterator[sa.Engine]:
    load_canonical(spark_server, ODD_EVENTS, ODD_IDS, database="odd")
    engine = create_engine(spark_server.url("odd"))
    yield engine
    engine.dispose()


def _timed(label: str, run: Any) -> Any:
    began = time.monotonic()
    result = run()
    print(f"spark {label}: {time.monotonic() - began:.1f} s")  # shown with -s / -rP
    return result


@contextlib.contextmanager
def _statements(engine: sa.Engine) -> Iterator[list[str]]:
    """The statements ``engine`` sends inside the block (their first 80 characters)."""
    sent: list[str] = []

    def record(*args: Any, **_: Any) -> None:
        sent.append(str(args[2])[:80])

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_server_session_is_utc(spark_server: SparkThriftServer) -> None:
    assert spark_server.startup_seconds is not None
    print(f"spark server start: {spark_server.startup_seconds:.1f} s")
    assert spark_server.execute("SELECT current_timezone()") == [("UTC",)]


@pytest.mark.parametrize("kwargs", WORKED_QUERIES)
def test_worked_example_native(worked: sa.Engine, kwargs: dict[str, Any]) -> None:
    query = JourneyQuery(as_of=AS_OF, **kwargs)
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=query)
    got = _timed(f"native {query.rule}", lambda: native_journeys(worked, query))
    assert got.height > 0
    assert_frame_equal(got, expected)


def test_scenario_world_native(world: tuple[sa.Engine, pl.DataFrame, pl.DataFrame]) -> None:
    engine, events, identities = world
    picked = ["edge.one@example.com", "edge.two@example.com"]
    for query in [
        JourneyQuery(as_of=END, event_date=CAMPAIGN),
        JourneyQuery(as_of=dt.datetime(2022, 8, 24, 12, tzinfo=dt.UTC)),
        JourneyQuery(as_of=END, email=picked[0]),
        JourneyQuery(as_of=END, email=picked[1], event_date=CAMPAIGN),
    ]:
        expected = journeys(events, identities, query=query)
        got = _timed(f"native scenario {query.rule}", lambda q=query: native_journeys(engine, q))
        try:
            assert_frame_equal(got, expected)
        except AssertionError as exc:
            raise AssertionError(f"{query!r}: {exc}") from None


@pytest.mark.parametrize(("query", "event_ids"), ODD_QUERIES)
def test_odd_emails_native(odd: sa.Engine, query: JourneyQuery, event_ids: list[str]) -> None:
    # Unicode-padded emails (trim and regex in Spark), a quote and a backslash (PyHive binds).
    expected = journeys(ODD_EVENTS, ODD_IDS, query=query)
    got = _timed(f"native odd {query.rule}", lambda: native_journeys(odd, query))
    assert got.get_column(c.EVENT_ID).to_list() == event_ids
    assert_frame_equal(got, expected)


def test_product_route_fetch_journeys(worked: sa.Engine) -> None:
    # Today's pushed-down route (candidate rows into Polars) through the same hive:// engine.
    query = JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN)
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=query)
    got = _timed("fetch_journeys event_date", lambda: fetch_journeys(worked, query).frame)
    assert_frame_equal(got, expected)
    email = JourneyQuery(as_of=AS_OF, email="ben@example.com")
    got = _timed("fetch_journeys email", lambda: fetch_journeys(worked, email).frame)
    assert_frame_equal(got, journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=email))


def test_journey_export_streams_the_one_statement(
    spark_server: SparkThriftServer, worked: sa.Engine, tmp_path: Path
) -> None:
    # `journey export` through hive://: the one statement, read in batches, as CSV.
    query = JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN)
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=query)
    out = tmp_path / "spark.csv"
    argv = ["export", "--db", spark_server.url("worked"), "--as-of", AS_OF.isoformat()]
    argv += ["--event-date", CAMPAIGN.isoformat(), "--output", str(out)]
    assert _timed("journey export event_date", lambda: journey_main(argv)) == 0
    assert expected.height > 0
    assert out.read_bytes() == export.to_csv_bytes(expected)


def test_product_route_verify_schema(worked: sa.Engine) -> None:
    fitted = verify_schema(worked)
    assert [t.table for t in fitted.events] == [c.EVENTS]


def test_scenario_world_figures(world: tuple[sa.Engine, pl.DataFrame, pl.DataFrame]) -> None:
    # The page figures as warehouse aggregates (journey_core.warehouse.figures) equal the
    # Polars analytics: visits by 30-minute gaps, channels from the GA4 rules, in Spark.
    # ONE combined statement for the page's figures (figures.combined), as on DuckDB, plus
    # the previous period's key figures.
    engine, events, identities = world
    campaign = JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="America/New_York")
    with _statements(engine) as sent:
        got = _timed(
            "figures campaign", lambda: check_campaign(engine, events, identities, campaign)
        )
    assert len(sent) == 2, sent
    assert got.kpis.events > 0
    assert got.channels.height > 1
    recent = JourneyQuery(as_of=END)
    with _statements(engine) as sent:
        _timed("figures recent", lambda: check_recent(engine, events, identities, recent))
    assert len(sent) == 2, sent  # the combined figures and the previous window's KPIs


def test_scenario_world_attribution(world: tuple[sa.Engine, pl.DataFrame, pl.DataFrame]) -> None:
    # Credits of the six models, paths (ordered concat_ws over array_sort) and time to convert
    # computed by Spark equal analyze() over the cohort's rows.
    engine, events, identities = world
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="America/New_York")
    got = _timed("attribution", lambda: check_attribution(engine, events, identities, query))
    assert got.totals.conversions > 0
    assert got.path_summary.height > 1


def test_scenario_world_cohort_figures(
    world: tuple[sa.Engine, pl.DataFrame, pl.DataFrame],
) -> None:
    # Scoped conversions, the previous period and the breakdowns computed by Spark equal the
    # Polars oracle (analytics.campaign).
    engine, events, identities = world
    campaign = JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="America/New_York")
    paid = an.Filters(channels=("Paid Search", "Email"))
    dims = (c.SOURCE_MEDIUM, c.LANDING_PAGE)  # a concatenation and a first_value window
    got = _timed(
        "figures cohort",
        lambda: check_campaign(engine, events, identities, campaign, filters=paid, by=dims),
    )
    assert got.kpis.conversions_any_time is not None
    assert got.previous is not None


def test_scenario_world_people_page(world: tuple[sa.Engine, pl.DataFrame, pl.DataFrame]) -> None:
    # The people table a page at a time, the events preview and the filter options
    # (journey_core.warehouse.pages) equal the Polars analytics, in Spark.
    engine, events, identities = world
    campaign = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    people = _timed(
        "people pages", lambda: check_pages(engine, events, identities, campaign, limit=10)
    )
    assert people > 10  # two pages at least
