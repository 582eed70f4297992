"""CSV downloads in a real Chromium: only a signed-in session gets one, and not for long.

- Before a click no download has a ``/media`` address; the click makes the file.
- A second browser context that never signed in cannot fetch the address the first one got.
- After Sign out, the first context cannot fetch it either.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from journey_core import columns as c
from journey_core.auth import hash_password
from journey_core.io.demo import build_demo
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys
from journey_ui.downloads import LIFETIME_SECONDS
from tests.support.browser import StreamlitServer, settle

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 60_000
END = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
AS_OF = "2022-08-31T00:00:00Z"
PASSWORD = "correct horse battery"
LABEL = re.compile("Download these events as CSV")


def new_page(browser: Browser) -> Page:
    tab = browser.new_context(accept_downloads=True).new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    return tab


def download(page: Page) -> tuple[str, bytes]:
    """Click the customer CSV button: (the file's address, its bytes)."""
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_role("button", name=LABEL).click()
    return info.value.url, Path(info.value.path()).read_bytes()


def test_downloads_only_for_the_signed_in_session(browser: Browser, tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    build_demo(url, individuals=150, seed=3, end=END)
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, event_date="2022-08-01")
    email = fetch_journeys(create_engine(url), query).frame.get_column(c.EMAIL)[0]
    env = {"JOURNEY_DATABASE_URL": url, "JOURNEY_PASSWORD_HASH": hash_password(PASSWORD)}
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        page = new_page(browser)
        page.goto(f"{app.url}/customer?email={email}&as_of={AS_OF}")
        settle(page)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Touches before known").first.wait_for()
        settle(page)
        assert not re.search(r"/media/[0-9a-f]+\.csv", page.content())  # nothing before a click
        address, body = download(page)
        assert "/media/" in address
        assert body.startswith(b"email,")
        assert email.encode() in body

        stranger = new_page(browser)  # never signed in
        time.sleep(LIFETIME_SECONDS + 1)
        assert stranger.request.get(address).status == 404
        assert page.request.get(address).status == 404  # one click, one short-lived file

        address, _ = download(page)  # again, then sign out at once
        page.get_by_role("button", name="Sign out").click()
        page.get_by_label("Password", exact=True).wait_for()
        assert page.request.get(address).status == 404
        assert stranger.request.get(address).status == 404
        stranger.context.close()
        page.context.close()


def test_a_download_address_answers_once(browser: Browser, tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    build_demo(url, individuals=150, seed=3, end=END)
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, event_date="2022-08-01")
    email = fetch_journeys(create_engine(url), query).frame.get_column(c.EMAIL)[0]
    env = {"JOURNEY_DATABASE_URL": url, "JOURNEY_PASSWORD_HASH": hash_password(PASSWORD)}
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        page = new_page(browser)
        page.goto(f"{app.url}/customer?email={email}&as_of={AS_OF}")
        settle(page)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Touches before known").first.wait_for()
        settle(page)
        stranger = new_page(browser)  # never signed in
        for _ in range(2):  # each click makes a file its browser fetches once
            address, body = download(page)
            assert email.encode() in body
            # At once, well within LIFETIME_SECONDS: the address no longer answers.
            assert stranger.request.get(address).status == 404
            assert page.request.get(address).status == 404
        stranger.context.close()
        page.context.close()
