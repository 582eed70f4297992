"""People search in a real headless Chromium: type 4 characters, see the person, open them.

Saves ``customer_search.png`` (the suggestions) and ``customer_person.png`` (the opened person:
profile, visit feed, timeline, events) to tests/screenshots/ at 1440 px wide for a human look.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.e2e.test_dashboard import (  # noqa: F401 (fixtures)
    open_page,
    page,
    plots,
    server,
    settle,
    shot,
    some_email,
    warehouse,
)
from tests.support.browser import wait_for_location

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.support.browser import StreamlitServer

pytestmark = pytest.mark.e2e


def test_four_typed_characters_find_and_open_a_person(
    server: StreamlitServer,  # noqa: F811
    page: Page,  # noqa: F811
    warehouse: tuple[str, str],  # noqa: F811
) -> None:
    url, as_of = warehouse
    email = some_email(url, as_of)
    open_page(page, f"{server.url}/customer?as_of={as_of}")
    page.get_by_text("Recently active people", exact=True).wait_for()
    box = page.locator('[data-testid="stTextInput"] input')
    box.click()
    page.keyboard.type(email[:4], delay=80)  # no Enter: suggestions come while typing
    suggestion = page.get_by_role("button", name=email, exact=True)
    suggestion.wait_for()
    settle(page)
    assert "email=" not in page.url  # typed text stays out of the URL
    assert page.locator(".js-plotly-plot").count() == 0
    shot(page, "customer_search")
    suggestion.click()
    wait_for_location(page, "email=")
    page.get_by_text("Known since").first.wait_for()
    settle(page)
    assert plots(page, 1) == 1
    assert page.get_by_text("First touch in the window").count() == 1
    assert page.get_by_text("Activity", exact=True).count() == 1
    shot(page, "customer_person")
