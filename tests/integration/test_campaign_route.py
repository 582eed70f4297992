"""The Campaign influence and Recent activity pages on the warehouse route (issue 12).

Their figures, one page of people, the newest events and the filter options are computed in
the warehouse (:mod:`journey_core.warehouse.figures`, :mod:`journey_core.warehouse.pages`);
the CSV streams into a file. Here: the page against the rule, the oracle and `journey export`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine
from journey_core.warehouse import pages as wp
from journey_core.warehouse.native import count_journeys
from journey_ui import data
from journey_ui.cache import ByteCache
from tests.integration.test_pages import (
    AS_OF,
    CAMPAIGN_DATE,
    app,
    cli_export,
    journeys,
    metrics,
    ok,
)

__all__ = ["app"]  # the fixture, used by name below

START = dt.datetime(2022, 8, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache of its own per test (pages of another size must not be found)."""
    monkeypatch.setattr(data, "CACHE", ByteCache(max_bytes=2**28))


def _key(**params: Any) -> data.QueryKey:
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, **params)
    return data.QueryKey.of(query, mask_pii=params.pop("mask_pii", False))


@pytest.mark.parametrize(
    ("params", "args", "mask"),
    [
        pytest.param({}, [], False, id="recent"),
        pytest.param(
            {"event_date": CAMPAIGN_DATE}, ["--event-date", CAMPAIGN_DATE], False, id="campaign"
        ),
        pytest.param(
            {"event_date": CAMPAIGN_DATE},
            ["--event-date", CAMPAIGN_DATE, "--mask-pii"],
            True,
            id="campaign-masked",
        ),
    ],
)
def test_streamed_csv_equals_journey_export(
    demo_url: str, tmp_path: Path, params: dict[str, Any], args: list[str], mask: bool
) -> None:
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, **params)
    key = data.QueryKey.of(query, mask_pii=mask)
    made = data.csv_file(create_engine(demo_url), demo_url, key, an.Filters())
    got = made.read()
    assert made.closed  # read once, then closed; the file was unlinked when made
    assert got == cli_export(demo_url, tmp_path, *args)
    assert got.count(b"\n") > 100


def test_streamed_filtered_csv_equals_the_polars_csv(demo_url: str) -> None:
    engine = create_engine(demo_url)
    key = _key(event_date=CAMPAIGN_DATE)
    filters = an.Filters(channels=("Paid Search",), event_types=("purchase",))
    expected = data.build_csv(data.load_rows(engine, key).rows, filters)
    got = data.csv_file(engine, demo_url, key, filters).read()
    assert got == expected
    everyone = data.csv_file(engine, demo_url, key, an.Filters()).read()
    assert 0 < got.count(b"\n") < everyone.count(b"\n")


def test_page_views_equal_the_polars_reports(demo_url: str) -> None:
    engine = create_engine(demo_url)
    key = _key(event_date=CAMPAIGN_DATE)
    filters = an.Filters(channels=("Email",))
    rows = data.load_rows(engine, key).rows
    expected = an.campaign_report(rows, start=START, end=key.as_of, filters=filters)
    view, message = data.campaign(engine, demo_url, key, filters)
    assert message is None
    assert view.kpis.events == expected.kpis.events == view.total_rows
    assert_frame_equal(view.people.frame, expected.people, check_exact=False, rel_tol=1e-12)
    assert view.people.total == expected.people.height
    assert_frame_equal(view.preview, expected.preview.select(list(wp.PREVIEW_SCHEMA)))
    assert data.campaign_options(engine, demo_url, key) == an.filter_options(rows)
    recent_key = _key()
    recent, _ = data.recent(engine, demo_url, recent_key)
    recent_rows = data.load_rows(engine, recent_key).rows
    assert recent.people.total == recent_rows.get_column(c.EMAIL).n_unique() > 0
    assert recent.kpis.people == recent.people.total


def test_known_people_active_is_everyone_in_the_table_and_the_csv(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    key = _key(event_date=CAMPAIGN_DATE)
    engine = create_engine(demo_url)
    _, individuals = count_journeys(engine, key.query())
    csv = pl.read_csv(data.csv_file(engine, demo_url, key, an.Filters()).read())
    assert metrics(at)["Known people active"] == f"{individuals:,}"
    assert csv[c.EMAIL].n_unique() == individuals
    assert f"People ({individuals:,})" in " ".join(t.label for t in at.tabs)


def test_people_table_pages(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wp, "PAGE_ROWS", 40)
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    frame = an.people_table(
        an.with_sessions(journeys(demo_url, event_date=CAMPAIGN_DATE)), since=START
    )
    assert frame.height > 80  # three pages at least
    shown = {df.key: df.value for df in at.dataframe}["campaign.people"]
    assert shown[c.EMAIL].tolist() == frame[c.EMAIL].head(40).to_list()
    captions = " ".join(x.value for x in at.caption)
    assert f"Showing people 1 to 40 of {frame.height:,}" in captions
    at.number_input(key="campaign.people.page").set_value(2).run()
    ok(at)
    shown = {df.key: df.value for df in at.dataframe}["campaign.people"]
    assert shown[c.EMAIL].tolist() == frame[c.EMAIL].slice(40, 40).to_list()
    assert f"Showing people 41 to 80 of {frame.height:,}" in " ".join(x.value for x in at.caption)
