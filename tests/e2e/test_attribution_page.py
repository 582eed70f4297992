"""The Attribution page in a real headless Chromium (its AppTest checks are in integration)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.browser import SCREENSHOTS, StreamlitServer, launch_browser, settle

ROOT = Path(__file__).resolve().parents[2]


def test_attribution_page_in_a_browser(demo_url: str) -> None:
    env = {
        "JOURNEY_DATABASE_URL": demo_url,
        "JOURNEY_CHANNELS_FILE": None,
        "JOURNEY_PASSWORD_HASH": None,
    }
    with (
        StreamlitServer(cwd=ROOT, env=env) as app,
        sync_playwright() as pw,
    ):
        browser = launch_browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            # the demo ends on 2022-08-30: pin the shared sidebar as-of to that day (Live is today)
            page.goto(app.url + "/attribution?model=Time+decay&as_of=2022-08-30")
            page.get_by_text("Time to convert", exact=True).wait_for(timeout=90_000)
            page.locator(".js-plotly-plot").nth(2).wait_for(timeout=30_000)
            settle(page, timeout_ms=90_000)  # every widget drawn, no exception box
            page.wait_for_timeout(3_000)
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "attribution.png"), full_page=True)
            assert page.locator("[data-testid=stException]").count() == 0
            # model bars, Sankey, time to convert; the model comparison is a data grid (it
            # scrolls sideways in a narrow window instead of cutting its numbers)
            assert page.locator(".js-plotly-plot").count() == 3
            assert page.locator("g.sankey").count() == 1
            assert page.get_by_text("Time decay: per channel").count() == 1
            assert page.get_by_text("Top 15 of", exact=False).count() == 1
            assert page.get_by_text("Model comparison: conversions").count() == 1
            # every model and its change fit a 1440 px window (headers "<model> vs last
            # touch" made the grid scroll sideways after Linear)
            comparison = page.locator('[data-testid="stDataFrame"]').first
            widths = comparison.locator(".dvn-scroller").evaluate(
                "s => [s.scrollWidth, s.clientWidth]"
            )
            assert widths[0] <= widths[1], widths
            # The comparison, then only the open tab of each tab group (the channel grouping
            # only when opened); a click on another tab draws its table and keeps that tab open.
            grids = page.locator('[data-testid="stDataFrame"]')
            assert grids.count() == 4
            per_person = page.get_by_role("tab", name="Per person")
            per_person.click()
            page.get_by_text("Download time to convert per person (CSV)").wait_for(timeout=60_000)
            settle(page)
            assert per_person.get_attribute("aria-selected") == "true"
            assert grids.count() == 4
            page.get_by_text("Channel grouping", exact=False).click()
            page.get_by_text("Download touches per channel (CSV)").wait_for(timeout=60_000)
            settle(page)
            assert grids.count() == 5
            assert per_person.get_attribute("aria-selected") == "true"
            page.screenshot(path=str(SCREENSHOTS / "attribution-tabs.png"), full_page=True)
        finally:
            browser.close()
