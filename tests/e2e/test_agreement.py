"""One cohort, one count, in a real headless Chromium (issue 13, "Done when"), and a 1440x900
screenshot of every page.

The hand-written warehouse of :mod:`tests.support.contradictions` behind a real Streamlit
server, on both figure routes: the Campaign influence key figures, tabs, funnel and CSV, and
Attribution's figures, as the marketer reads them, equal the figures counted by hand (the
same as tests/integration/test_agreement.py checks under AppTest). Screenshots (first screen,
1440x900, the size a marketer's laptop shows) of Recent activity, Campaign influence with
and without a filter, Customer lookup with a person, Attribution, Data quality and the
sign-in page go to tests/screenshots/page-*.png (git-ignored) for a human look.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from journey_core import columns as c
from journey_core.auth import hash_password
from tests.e2e.test_dashboard import TIMEOUT_MS, download, open_page, plots, settle
from tests.support import contradictions as k
from tests.support.browser import SCREENSHOTS, StreamlitServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
#: ``JOURNEY_FIGURES_ROUTE``: auto (the Polars route for a DuckDB file), then the warehouse's.
ROUTES = [pytest.param("auto", id="auto"), pytest.param("warehouse", id="warehouse")]
#: The addresses of the servers on the default route (screenshots are taken there only).
DEFAULT_ROUTE: set[str] = set()
CAMPAIGN = f"campaign?event_date={k.START}&as_of={k.AS_OF}"
ATTRIBUTION = f"attribution?event_date={k.START}&as_of={k.AS_OF}"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return k.build(tmp_path_factory.mktemp("agree-e2e") / "contradictions.duckdb")


@pytest.fixture(scope="module", params=ROUTES)
def server(url: str, request: pytest.FixtureRequest) -> Iterator[StreamlitServer]:
    env = {
        "JOURNEY_DATABASE_URL": url,
        "JOURNEY_FIGURES_ROUTE": str(request.param),
        "JOURNEY_PASSWORD_HASH": None,
    }
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        if request.param == "auto":
            DEFAULT_ROUTE.add(app.url)
        yield app


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    try:
        yield tab
    finally:
        context.close()


def screenshot(page: Page, name: str, server: StreamlitServer | None = None) -> None:
    """The first screen at 1440x900, once (on the default route) for a human look."""
    if server is not None and server.url not in DEFAULT_ROUTE:
        return
    assert page.viewport_size == VIEWPORT
    SCREENSHOTS.mkdir(exist_ok=True)
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
    page.wait_for_timeout(600)
    path = SCREENSHOTS / f"page-{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


def figures(page: Page) -> dict[str, str]:
    """The key figures as shown: label -> value of every metric card."""
    cards = page.locator('[data-testid="stMetric"]')
    out: dict[str, str] = {}
    for i in range(cards.count()):
        card = cards.nth(i)
        label = card.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = card.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def figure(shown: dict[str, str], prefix: str) -> str:
    """The value of the first figure whose label starts with ``prefix`` (not an "any time")."""
    for label, value in shown.items():
        if label.startswith(prefix) and "any time" not in label.lower():
            return value
    raise AssertionError(f"no key figure {prefix!r} in {list(shown)}")


def amount(text: str) -> float:
    return float(text.replace(",", "").split()[-1])


def csv_of(page: Page) -> pl.DataFrame:
    return pl.read_csv(io.BytesIO(download(page, re.compile("Download journeys as CSV"))))


# --------------------------------------------------------------------------- campaign influence


@pytest.mark.parametrize(
    ("query", "expected", "name"),
    [
        pytest.param("", k.EXPECTED, "campaign", id="everyone"),
        pytest.param(
            f"&campaign={k.CAMPAIGN}", k.EXPECTED_FILTERED, "campaign-filtered", id="filter"
        ),
    ],
)
def test_campaign_page_agrees_by_hand(
    server: StreamlitServer, page: Page, query: str, expected: k.Expected, name: str
) -> None:
    open_page(page, f"{server.url}/{CAMPAIGN}{query}")
    plots(page, 3)
    screenshot(page, name, server)
    people = len(expected.people)
    shown = figures(page)
    assert figure(shown, "Known people active") == f"{people:,}"
    assert figure(shown, "Newly known") == f"{expected.newly_known:,}"
    assert figure(shown, "Events") == f"{expected.events:,}"
    assert figure(shown, "Conversions") == f"{expected.conversions:,}"
    assert amount(figure(shown, "Revenue")) == expected.revenue
    tabs = " ".join(page.get_by_role("tab").all_inner_texts())
    assert f"People ({people:,})" in tabs
    assert f"Events ({expected.events:,})" in tabs
    # The funnel, everyone: those with a page view since the start (not eve, not fay).
    page.get_by_text("Everyone", exact=True).click()
    settle(page)
    funnel = page.get_by_text(re.compile(r"people did Page view since the start date"))
    assert re.search(rf"^{expected.funnel_first}\s+people did", funnel.inner_text())
    csv = csv_of(page)
    assert csv.height == expected.events
    assert sorted(csv[c.EMAIL].unique()) == expected.people


def test_attribution_page_agrees_by_hand(server: StreamlitServer, page: Page) -> None:
    open_page(page, f"{server.url}/{ATTRIBUTION}")
    plots(page, 3)
    screenshot(page, "attribution", server)
    expected = k.EXPECTED
    shown = figures(page)
    assert figure(shown, "People in the cohort") == f"{len(expected.people):,}"
    assert figure(shown, "Converted") == f"{len(expected.converters):,}"
    assert figure(shown, "Conversions") == f"{expected.attribution_conversions:,}"
    assert amount(figure(shown, "Revenue")) == expected.revenue


def test_filtered_attribution_keeps_the_same_people(server: StreamlitServer, page: Page) -> None:
    open_page(page, f"{server.url}/{ATTRIBUTION}&campaign={k.CAMPAIGN}")
    plots(page, 1)
    expected = k.EXPECTED_FILTERED
    shown = figures(page)
    assert figure(shown, "People in the cohort") == f"{len(expected.people):,}"
    assert figure(shown, "Converted") == f"{len(expected.converters):,}"


# --------------------------------------------------------------------------- the other pages


def test_other_pages_screenshots(server: StreamlitServer, page: Page) -> None:
    # Recent activity on 08-12 at noon: ben's page view and purchase that morning.
    open_page(page, f"{server.url}/?as_of=2022-08-12T12:00:00Z")
    plots(page, 3)
    shown = figures(page)
    assert figure(shown, "Known people active") == "1"
    assert figure(shown, "Conversions") == "1"
    screenshot(page, "recent", server)
    # Customer lookup with a person: ben, whose journey began with an anonymous ad click.
    open_page(page, f"{server.url}/customer?email=ben@example.com&as_of={k.AS_OF}")
    page.get_by_text("Known since").first.wait_for()
    plots(page, 1)
    screenshot(page, "customer", server)
    # Data quality: ann's purchase stored twice under one event id, and her purchase after
    # as-of (a future event at that time).
    open_page(page, f"{server.url}/quality?as_of={k.AS_OF}")
    page.get_by_text("Problem rows").wait_for()
    settle(page)
    screenshot(page, "quality", server)


def test_sign_in_screenshot(url: str, browser: Browser) -> None:
    env = {"JOURNEY_DATABASE_URL": url, "JOURNEY_PASSWORD_HASH": hash_password("a long secret")}
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        context = browser.new_context(viewport=VIEWPORT)
        try:
            tab = context.new_page()
            tab.set_default_timeout(TIMEOUT_MS)
            tab.goto(f"{app.url}/{CAMPAIGN}")
            tab.get_by_label("Password", exact=True).wait_for()
            settle(tab)
            screenshot(tab, "sign-in")
        finally:
            context.close()
