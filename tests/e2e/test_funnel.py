"""The Funnel section in a real headless Chromium: picking a step lists the right people,
and picking one of them opens their Customer lookup."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

import polars as pl
import pytest

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys
from tests.e2e.test_dashboard import (
    open_page,
    page,
    server,
    settle,
    shot,
    warehouse,
)
from tests.support.browser import SCREENSHOTS, StreamlitServer, pick_first_row, wait_for_location

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e
__all__ = ["page", "server", "warehouse"]  # fixtures, used by name below


def test_clicking_a_step_lists_the_people_who_dropped_off(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    url, as_of = warehouse
    start = (dt.date.fromisoformat(as_of[:10]) - dt.timedelta(days=14)).isoformat()
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=as_of, event_date=start)
    rows = an.with_sessions(fetch_journeys(create_engine(url), query).frame)
    spec = fn.FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS, since=query.start, who=fn.NEWLY_KNOWN)
    funnel = fn.funnel(rows, spec)
    dropped = int(funnel.filter(pl.col(c.STEP) == 3)[c.DROP_OFF][0])
    expected = fn.people_at(rows, spec, step=3, outcome=fn.DROPPED)
    assert dropped > 0
    open_page(page, f"{server.url}/campaign?event_date={start}&as_of={as_of}")
    heading = page.get_by_role("heading", name="Funnel")
    heading.scroll_into_view_if_needed()
    page.get_by_text("Dropped off here").click()
    settle(page)
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="People at step")
    box.click()
    page.get_by_role("option", name="3. Purchase").click()
    caption = f"{dropped:,} {'person' if dropped == 1 else 'people'} dropped off at 3. Purchase"
    page.get_by_text(caption).wait_for()
    settle(page)
    # A 1440x900 look at the section as a marketer sees it.
    heading.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "campaign_funnel_viewport.png"))
    shot(page, "campaign_funnel")
    # Streamlit marks a keyed element with st-key-<key> (non-alphanumerics as "-").
    # The first person (sorted by email): their lookup opens.
    pick_first_row(page, page.locator('.st-key-funnel-people-table [data-testid="stDataFrame"]'))
    wait_for_location(page, "/customer?")
    wait_for_location(page, "email=")
    settle(page)
    assert parse_qs(urlparse(page.url).query)["email"] == [expected[c.EMAIL][0]]
    page.get_by_text("Known since").first.wait_for()
