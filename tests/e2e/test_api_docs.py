"""The API's /docs page in a real headless Chromium: it renders without internet access and
"Try it out" calls the endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support.api_server import DEMO_AS_OF, ApiServer, build_demo_warehouse
from tests.support.browser import SCREENSHOTS, launch_browser


@pytest.mark.e2e
def test_docs_render_offline_and_try_it_out_works(tmp_path: Path) -> None:
    url = build_demo_warehouse(tmp_path, individuals=60)
    SCREENSHOTS.mkdir(exist_ok=True)
    with (
        ApiServer(db=url, env={"JOURNEY_API_KEYS": None}) as api,
        sync_playwright() as pw,
    ):
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{api.url}/docs")

        operation = page.locator("#operations-journeys-get_customer_journey_details")
        operation.wait_for(timeout=30_000)
        assert "Get Customer Journey Details" in operation.inner_text()
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.locator("input[placeholder='as_of']").fill(DEMO_AS_OF)
        operation.locator("input[placeholder='limit']").fill("3")
        operation.get_by_role("button", name="Execute").click()
        status = operation.locator(".live-responses-table tr.response .response-col_status").first
        status.wait_for(timeout=30_000)
        assert status.inner_text().strip() == "200"
        body = operation.locator(".live-responses-table .microlight").first.inner_text()
        assert '"rule": "recent"' in body
        page.screenshot(path=str(SCREENSHOTS / "api-docs-try-it-out.png"), full_page=False)
        browser.close()

    outside = [u for u in requested if not u.startswith(api.url) and not u.startswith("data:")]
    assert outside == []  # no CDN: the docs work on a machine without internet access
