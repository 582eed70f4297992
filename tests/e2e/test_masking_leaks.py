"""Issue 14, done-when (browser): with ``JOURNEY_MASK_PII=1`` a real Chromium visiting every
page, opening a person from the campaign table and downloading their CSV receives no full seeded
email: not in websocket frames, the page HTML, the address bar, the download or the server log.
The AppTest and API sides are in tests/integration/test_masking_leaks.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from journey_core.warehouse import write_tables
from tests.support.browser import (
    OPEN_TAB_GRID,
    StreamlitServer,
    launch_browser,
    pick_first_row,
    settle,
    wait_for_location,
)
from tests.support.leaks import AS_OF, CAMPAIGN_DATE, leaks, seed_events, seed_ids

if TYPE_CHECKING:
    from playwright.sync_api import Page, WebSocket

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 60_000
PAGES = [
    f"/?as_of={AS_OF}",
    f"/campaign?event_date={CAMPAIGN_DATE}&as_of={AS_OF}",
    f"/customer?as_of={AS_OF}",
    f"/attribution?event_date={CAMPAIGN_DATE}&as_of=2022-08-31",
    f"/quality?as_of={AS_OF}",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    url = f"duckdb:///{tmp_path_factory.mktemp('leaks') / 'leaks.duckdb'}"
    write_tables(url, events=seed_events(), identities=seed_ids())
    env: dict[str, str | None] = {
        "JOURNEY_DATABASE_URL": url,
        "JOURNEY_MASK_PII": "1",
        "JOURNEY_PASSWORD_HASH": None,
        "JOURNEY_TIMEZONE": None,
        "JOURNEY_LOOKBACK_DAYS": None,
    }
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        yield app


@pytest.fixture
def page(server: StreamlitServer) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            context = browser.new_context(
                viewport={"width": 1440, "height": 900}, accept_downloads=True
            )
            tab = context.new_page()
            tab.set_default_timeout(TIMEOUT_MS)
            yield tab
        finally:
            browser.close()


class Received:
    """Everything the browser got: websocket frames (both ways), HTML snapshots, addresses."""

    def __init__(self, page: Page) -> None:
        self.frames: list[str | bytes] = []
        self.snapshots: list[tuple[str, str]] = []
        page.on("websocket", self._watch)

    def _watch(self, ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: self.frames.append(payload))
        ws.on("framesent", lambda payload: self.frames.append(payload))

    def snapshot(self, page: Page, where: str) -> None:
        self.snapshots.append((f"{where} url", page.url))
        self.snapshots.append((f"{where} html", page.content()))

    def found(self) -> list[str]:
        out = [hit for n, frame in enumerate(self.frames) for hit in leaks(f"frame {n}", frame)]
        return out + [hit for where, text in self.snapshots for hit in leaks(where, text)]


def test_the_browser_receives_no_email(server: StreamlitServer, page: Page) -> None:
    got = Received(page)
    for path in PAGES:
        page.goto(server.url + path)
        page.wait_for_selector('[data-testid="stSidebar"]')
        settle(page)
        got.snapshot(page, path)

    # a person from the campaign table (the row-selection box of the first person)
    page.goto(server.url + PAGES[1])
    settle(page)
    pick_first_row(page, page.locator(OPEN_TAB_GRID).first)
    wait_for_location(page, "/customer?")
    wait_for_location(page, "person=")
    settle(page)
    page.get_by_text("Known since").first.wait_for()
    got.snapshot(page, "person from the table")
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_role("button", name=re.compile("Download these events as CSV")).click()
    body = Path(info.value.path()).read_bytes()
    assert body.startswith(b"email,")
    assert b"***@" in body

    # a suggested person on the customer page
    page.goto(server.url + PAGES[2])
    settle(page)
    page.get_by_role("button", name=re.compile(r"\*\*\*@")).first.click()
    wait_for_location(page, "person=")
    settle(page)
    page.get_by_text("Known since").first.wait_for()
    got.snapshot(page, "suggested person")

    server.stop()  # flush the server's log
    stdout, stderr = server.output()
    masked = [
        f
        for f in got.frames
        if "***@leak.example" in (f if isinstance(f, str) else f.decode("latin-1"))
    ]
    assert masked  # the websocket was watched: the masked emails came through it
    assert got.found() + leaks("download", body) + leaks("server log", stdout + stderr) == []
