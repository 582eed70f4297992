"""The browser harness: the system Chromium through Playwright, and a Streamlit app in it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.support.browser import SCREENSHOTS, StreamlitServer, launch_browser


def test_chromium_renders_page() -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            page = browser.new_page()
            page.goto("data:text/html,<h1>hi</h1>")
            page.screenshot(path=str(SCREENSHOTS / "smoke.png"))
            assert page.inner_text("h1") == "hi"
        finally:
            browser.close()
    assert (SCREENSHOTS / "smoke.png").stat().st_size > 0


def test_streamlit_server_serves_app(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            import os
            import streamlit as st

            st.title("Support smoke")
            st.write("value=" + os.environ.get("JOURNEY_SMOKE_VALUE", "missing"))
            """
        )
    )
    with (
        StreamlitServer(cwd=tmp_path, env={"JOURNEY_SMOKE_VALUE": "42"}) as app,
        sync_playwright() as pw,
    ):
        browser = launch_browser(pw)
        try:
            page = browser.new_page()
            page.goto(app.url, timeout=30_000)
            expect(page.get_by_text("value=42")).to_be_visible(timeout=30_000)
            expect(page.get_by_role("heading", name="Support smoke")).to_be_visible()
        finally:
            browser.close()
    assert not app.running  # stopped on exit
