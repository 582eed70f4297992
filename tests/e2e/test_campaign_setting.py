"""The shared campaign setting and the "Copy link" button in a real headless Chromium.

Campaign influence and Attribution share start, end, as-of and filters; every link pins
``as_of`` and carries only the page's own parameters (no ``email`` after Back from a person).
Screenshots of both pages at 1440x900 go to tests/screenshots/ for a human look.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_dashboard import TIMEOUT_MS, open_page, plots, settle
from tests.support.browser import (
    OPEN_TAB_GRID,
    SCREENSHOTS,
    StreamlitServer,
    pick_first_row,
    recent_demo,
    wait_for_location,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LINK = '[data-testid="stSidebar"] a:has-text("Link to this exact view")'


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(url, as_of): a demo warehouse whose last event is a few minutes old."""
    return recent_demo(tmp_path_factory.mktemp("setting"), individuals=1_500, seed=5)


@pytest.fixture(scope="module")
def server(warehouse: tuple[str, str]) -> Iterator[StreamlitServer]:
    with StreamlitServer(cwd=ROOT, env={"JOURNEY_DATABASE_URL": warehouse[0]}, timeout=90) as app:
        yield app


def new_context(browser: Browser, server: StreamlitServer) -> BrowserContext:
    """A fresh 1440x900 context that may read and write the clipboard."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    return context


@pytest.fixture
def page(browser: Browser, server: StreamlitServer) -> Iterator[Page]:
    context = new_context(browser, server)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    try:
        yield tab
    finally:
        context.close()


def params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def permalink(page: Page) -> str:
    href = page.locator(LINK).get_attribute("href")
    assert href is not None
    return href


def figures(page: Page) -> list[str]:
    """The key figures as shown (label and value of every metric card)."""
    return page.locator('[data-testid="stMetric"]').all_inner_texts()


def copy_link(page: Page) -> str:
    """Click "Copy link"; wait for its confirmation; return what the clipboard holds."""
    page.locator('[data-testid="stSidebar"] button.journey-copy-button').click()
    page.locator('[data-testid="stSidebar"] .journey-copy-done:has-text("Link copied")').wait_for()
    return str(page.evaluate("navigator.clipboard.readText()"))


def screenshot(page: Page, name: str) -> None:
    """A 1440x900 screenshot (the first screen, as the marketer sees it)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(600)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_back_from_a_person_leaves_no_email(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    _, as_of = warehouse
    start = as_of[:8] + "01"
    open_page(page, f"{server.url}/campaign?event_date={start}&as_of={as_of}")
    pick_first_row(page, page.locator(OPEN_TAB_GRID).first)
    wait_for_location(page, "/customer?")
    wait_for_location(page, "email=")
    settle(page)
    page.go_back()
    wait_for_location(page, "/campaign")
    page.get_by_role("heading", name="Campaign influence").wait_for()
    settle(page)
    page.wait_for_function("() => !location.search.includes('email=')")
    assert "email" not in params(page.url)
    link = params(permalink(page))
    assert "email" not in link
    assert link["event_date"] == [start]
    assert link["as_of"] == [as_of]
    assert "email=" not in copy_link(page)


def test_setting_carries_over_to_attribution_and_back(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    _, as_of = warehouse
    day = dt.date.fromisoformat(as_of[:10])
    start, end = (day - dt.timedelta(days=20)).isoformat(), (day - dt.timedelta(days=2)).isoformat()
    open_page(
        page, f"{server.url}/campaign?event_date={start}&end={end}&as_of={as_of}&channel=Email"
    )
    assert plots(page, 3) >= 3
    screenshot(page, "setting_campaign")
    page.get_by_role("link", name="Attribution").click()
    wait_for_location(page, "/attribution")
    page.get_by_role("heading", name="Attribution").wait_for()
    settle(page)
    wait_for_location(page, f"event_date={start}")
    got = params(page.url)
    assert got["event_date"] == [start]
    assert got["end"] == [end]
    assert got["as_of"] == [as_of]
    assert got["channel"] == ["Email"]
    page.get_by_text("People with an event matching Channel: Email").wait_for()
    assert page.get_by_role("switch", name="Live (now)").count() == 1  # the sidebar as-of
    assert plots(page, 1) >= 1
    screenshot(page, "setting_attribution")
    page.get_by_role("link", name="Campaign influence").click()
    wait_for_location(page, "/campaign")
    settle(page)
    wait_for_location(page, f"end={end}")
    assert params(page.url)["event_date"] == [start]


def test_copied_link_shows_the_same_figures_in_a_fresh_browser(
    server: StreamlitServer, page: Page, browser: Browser
) -> None:
    open_page(page, f"{server.url}/campaign")  # Live: no as_of in the address bar
    assert "as_of" not in params(page.url)
    plots(page, 3)
    shown = figures(page)
    copied = copy_link(page)
    assert copied.startswith(f"{server.url}/campaign?")
    assert params(copied)["as_of"]  # pinned although the page is Live
    assert copied.endswith(permalink(page)[1:]) or params(copied) == params(permalink(page))
    fresh = new_context(browser, server)
    try:
        other = fresh.new_page()
        other.set_default_timeout(TIMEOUT_MS)
        open_page(other, copied)
        plots(other, 3)
        assert figures(other) == shown
        assert other.get_by_role("switch", name="Live (now)").is_checked() is False
    finally:
        fresh.close()
