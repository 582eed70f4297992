"""The pages' bounded tables computed in the warehouse equal the Polars analytics.

:mod:`journey_core.warehouse.pages` gives one page of the people table (and the total), the
events preview, the filter options and the (filtered) CSV rows; these tests compare them with
:mod:`journey_core.analytics.campaign` (the oracle) on DuckDB and SQLite files and on
PostgreSQL (marker ``postgres``); the Spark test is in ``test_spark.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics.channels import ChannelConfig
from journey_core.io.export import csv_pieces, to_csv_bytes
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.figures import campaign_figures
from journey_core.warehouse.native import count_journeys
from journey_core.warehouse.pages import (
    PREVIEW_SCHEMA,
    events_preview,
    filter_options,
    people_page,
    stream_rows,
)
from tests.support.frames import T, events_frame, identities_frame
from tests.support.oracle import EngineFor, assert_frame, engine_for, oracle_rows, pg_url, written
from tests.support.scenario import END, scenario
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS

__all__ = ["engine_for", "pg_url"]  # the fixtures, used by name below

CAMPAIGN = dt.date(2022, 7, 1)
FILTERS = [
    pytest.param(an.Filters(), id="everyone"),
    pytest.param(an.Filters(channels=("Paid Search", "Email")), id="channels"),
    pytest.param(an.Filters(media=("cpc",), event_types=("page_view",)), id="medium-and-type"),
    pytest.param(an.Filters(campaigns=("no such campaign",)), id="nobody"),
]


def check_pages(
    engine: sa.Engine,
    events: pl.DataFrame,
    ids: pl.DataFrame,
    query: JourneyQuery,
    filters: an.Filters = an.Filters(),  # noqa: B008
    *,
    limit: int = 7,
) -> int:
    """Every page of the people table, the preview and the options equal the oracle's;
    returns the number of people."""
    rows = oracle_rows(events, ids, query, filters=filters)
    since = query.start
    # Conversions scoped to the filter's touches, as the key figures count them.
    expected = an.people_table(an.with_scope(rows, filters), since=since)
    label = f"{query!r} {filters!r}"
    offset = 0
    while True:
        page = people_page(engine, query, since=since, filters=filters, limit=limit, offset=offset)
        assert page.total == expected.height, label
        assert_frame(page.frame, expected.slice(offset, limit), f"{label} page {offset}")
        offset += limit
        if offset >= page.total:
            break
    preview = events_preview(engine, query, filters=filters, limit=limit)
    wanted = an.recent_report(rows, start=query.window_start, end=query.as_of, preview_rows=limit)
    assert_frame(preview, wanted.preview.select(list(PREVIEW_SCHEMA)), f"{label} preview")
    if not filters.active:
        assert filter_options(engine, query, limit=3) == {
            k: v[:3] for k, v in an.filter_options(rows).items()
        }, label
    return expected.height


# --------------------------------------------------------------------------- DuckDB, SQLite
@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"event_date": CAMPAIGN}, id="event_date"),
        pytest.param({}, id="recent"),
        pytest.param({"email": "ben@example.com", "event_date": CAMPAIGN}, id="both-ben"),
    ],
)
def test_worked_example(engine_for: EngineFor, kwargs: dict[str, Any]) -> None:
    engine = engine_for(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    check_pages(engine, CAMPAIGN_EVENTS, CAMPAIGN_IDS, JourneyQuery(as_of=AS_OF, **kwargs))


@pytest.mark.parametrize("filters", FILTERS)
def test_scenario_world_pages(engine_for: EngineFor, filters: an.Filters) -> None:
    events, ids = scenario(individuals=40)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    people = check_pages(engine, events, ids, query, filters, limit=5)
    assert people == 0 if filters.campaigns else people > 5  # several pages


def test_options_are_bounded(engine_for: EngineFor) -> None:
    events, ids = scenario(individuals=40)
    engine = engine_for(events, ids)
    got = filter_options(engine, JourneyQuery(as_of=END, event_date=CAMPAIGN), limit=2)
    assert all(len(values) <= 2 for values in got.values())
    assert len(got[c.CHANNEL]) == 2


@pytest.mark.parametrize("filters", FILTERS)
def test_streamed_csv_equals_the_polars_csv(engine_for: EngineFor, filters: an.Filters) -> None:
    events, ids = scenario(individuals=40)
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    expected = to_csv_bytes(an.journey_rows(oracle_rows(events, ids, query, filters=filters)))
    got = b"".join(csv_pieces(stream_rows(engine, query, filters=filters, rows=50)))
    assert got == expected
    assert got.count(b"\n") > 1 or filters.campaigns


# --------------------------------------------------------------------------- one count
def test_known_people_active_is_everyone_in_the_result(engine_for: EngineFor) -> None:
    """The issue's 133,372 vs 133,382: a person who became known after the start through a
    link, with no event since, is in the rule's result, the table and the CSV."""
    events = events_frame(
        [
            {c.EVENT_ID: "1", c.ANONYMOUS_ID: "a1", c.OCCURRED_AT: T("2022-06-20 10:00:00")},
            {c.EVENT_ID: "2", c.EMAIL: "bo@x.io", c.OCCURRED_AT: T("2022-07-03 10:00:00")},
        ]
    )
    ids = identities_frame([("a1", "al@x.io", "2022-07-02 09:00:00")])
    engine = engine_for(events, ids)
    query = JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN)
    assert query.start is not None
    _, people = count_journeys(engine, query)
    page = people_page(engine, query, since=query.start)
    csv = pl.read_csv(b"".join(csv_pieces(stream_rows(engine, query))))
    assert people == page.total == csv[c.EMAIL].n_unique() == 2
    # the figures' "active since" count is the narrower one: that is what the page replaced
    assert campaign_figures(engine, query).kpis.people == 1


def test_config_reaches_the_channels(engine_for: EngineFor) -> None:
    engine = engine_for(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    query = JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN)
    renamed = ChannelConfig.default()
    page = people_page(engine, query, config=renamed, since=query.start)
    assert page.frame.get_column(c.CHANNELS_USED).str.len_chars().sum() > 0


# --------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_pages_on_postgres(pg_url: str) -> None:
    events, ids = scenario(individuals=40)
    with written(pg_url, events, ids) as engine:
        for filters in (an.Filters(), an.Filters(channels=("Paid Search", "Email"))):
            check_pages(engine, events, ids, JourneyQuery(as_of=END, event_date=CAMPAIGN), filters)
        check_pages(engine, events, ids, JourneyQuery(as_of=END))
        query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
        expected = to_csv_bytes(an.journey_rows(oracle_rows(events, ids, query)))
        assert b"".join(csv_pieces(stream_rows(engine, query, rows=100))) == expected
