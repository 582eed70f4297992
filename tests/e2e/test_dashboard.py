"""The dashboard in a real headless Chromium (Playwright driving Debian's /usr/bin/chromium).

Starts ``streamlit run app.py`` on a fresh demo warehouse, visits every page, types an email,
picks a date, opens a person from a table, checks that the Plotly charts rendered and that no
exception box appeared, downloads CSVs and compares them with journey_core. Screenshots of
every page go to tests/screenshots/ (git-ignored) for a human look.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

from journey_core.io.export import to_csv_bytes
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys
from tests.support.browser import (
    SCREENSHOTS,
    StreamlitServer,
    pick_first_row,
    recent_demo,
    wait_for_location,
)
from tests.support.browser import settle as settle_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 60_000
YEAR_FIELD = '[data-testid="stDateInput"] [role="spinbutton"][data-type="year"]'
"""A date field's year part (one spin button per part; typing the year moves on)."""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(url, as_of): a demo warehouse whose last event is a few minutes old."""
    return recent_demo(tmp_path_factory.mktemp("e2e"), individuals=2_000, seed=7)


@pytest.fixture(scope="module")
def server(warehouse: tuple[str, str]) -> Iterator[StreamlitServer]:
    with StreamlitServer(cwd=ROOT, env={"JOURNEY_DATABASE_URL": warehouse[0]}, timeout=90) as app:
        yield app


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    try:
        yield tab
    finally:
        context.close()


def settle(page: Page, *, errors: bool = False) -> None:
    """Wait until Streamlit has finished running and drawing (:func:`settle_app`).

    No exception box, ever; no error message unless ``errors``.
    """
    settle_app(page, timeout_ms=TIMEOUT_MS)
    if not errors:
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def open_page(page: Page, url: str, *, errors: bool = False) -> None:
    page.goto(url)
    page.wait_for_selector('[data-testid="stSidebar"]')
    settle(page, errors=errors)


def plots(page: Page, at_least: int) -> int:
    """How many Plotly charts the page has, once ``at_least`` drawn layers are there (a
    chart draws two or three ``.main-svg``: a loose wait, not a count of charts)."""
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {at_least}",
        timeout=TIMEOUT_MS,
    )
    return page.locator(".js-plotly-plot").count()


def shot(page: Page, name: str) -> Path:
    """A screenshot of the whole page (the main area scrolls, so grow the viewport)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : 900; }"
    )
    page.set_viewport_size({"width": 1440, "height": min(max(int(height), 900), 8000)})
    page.wait_for_timeout(800)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1440, "height": 900})
    assert path.stat().st_size > 10_000
    return path


def frame(url: str, as_of: str, **params: Any) -> bytes:
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=as_of, **params)
    return to_csv_bytes(fetch_journeys(create_engine(url), query).frame)


def download(page: Page, label: re.Pattern[str]) -> bytes:
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_role("button", name=label).click()
    path = info.value.path()
    return Path(path).read_bytes()


def some_email(url: str, as_of: str) -> str:
    query = JourneyQuery.build(
        now=dt.datetime.now(dt.UTC), as_of=as_of, event_date=as_of[:8] + "01"
    )
    rows = fetch_journeys(create_engine(url), query).frame
    busiest = rows.group_by("email").len().sort(["len", "email"], descending=[True, False])
    return str(busiest["email"][0])


# --------------------------------------------------------------------------- tests


def test_first_request_is_a_customer_link(warehouse: tuple[str, str], browser: Browser) -> None:
    """A fresh server opened straight on ``/customer?email=`` shows that person, no clicks."""
    url, as_of = warehouse
    email = some_email(url, as_of)
    with StreamlitServer(cwd=ROOT, env={"JOURNEY_DATABASE_URL": url}, timeout=90) as app:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        try:
            tab = context.new_page()
            tab.set_default_timeout(TIMEOUT_MS)
            open_page(tab, f"{app.url}/customer?email={email}&as_of={as_of}")
            tab.get_by_text("Known since").first.wait_for()
            assert plots(tab, 1) == 1
            assert tab.get_by_role("link", name="Customer lookup").count() == 1
            assert f"email={email}" in tab.url
            shot(tab, "customer_cold_start")
        finally:
            context.close()


def test_recent_activity(server: StreamlitServer, page: Page) -> None:
    open_page(page, server.url)
    page.get_by_role("heading", name="Recent activity").wait_for()
    assert plots(page, 3) == 3
    assert page.get_by_text("Connected to the warehouse").count() == 1
    assert page.locator('[data-testid="stMetric"]').count() == 4
    shot(page, "recent")


def test_customer_lookup_typed_email_and_csv(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    url, as_of = warehouse
    email = some_email(url, as_of)
    open_page(page, f"{server.url}/customer?as_of={as_of}")
    shot(page, "customer_prompt")
    box = page.locator('[data-testid="stTextInput"] input')
    box.fill(email.upper())
    box.press("Enter")
    page.get_by_text("Known since").first.wait_for()
    settle(page)
    assert plots(page, 1) == 1
    assert (
        f"email={email.upper().replace('@', '%40')}" in page.url
        or f"email={email.upper()}" in page.url
    )
    shot(page, "customer")
    csv = download(page, re.compile("Download these events as CSV"))
    assert csv == frame(url, as_of, email=email)


def test_customer_invalid_email(server: StreamlitServer, page: Page) -> None:
    open_page(page, f"{server.url}/customer?email=not-an-email", errors=True)
    alert = page.locator('[data-testid="stAlertContentError"]')
    alert.wait_for()
    assert "name@example.com" in alert.inner_text()
    assert page.locator(".js-plotly-plot").count() == 0
    shot(page, "customer_invalid_email")


def test_campaign_pick_a_date_and_download(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    url, as_of = warehouse
    open_page(page, f"{server.url}/campaign?as_of={as_of}")
    start = (dt.date.fromisoformat(as_of[:10]) - dt.timedelta(days=14)).isoformat()
    # The date field has one spin button per part; typing the year moves on to month and day.
    page.locator(YEAR_FIELD).first.click()  # the start date (the end date is next to it)
    page.keyboard.type(start.replace("-", ""), delay=50)
    page.keyboard.press("Escape")  # closes the calendar and commits the typed date
    wait_for_location(page, f"event_date={start}")
    settle(page)
    assert plots(page, 4) == 4
    assert page.locator('[data-testid="stMetric"]').count() == 5
    shot(page, "campaign")
    csv = download(page, re.compile("Download journeys as CSV"))
    assert csv == frame(url, as_of, event_date=start)


@pytest.mark.parametrize("width", [1280, 1024])  # a laptop's window, a small one
@pytest.mark.parametrize(
    ("path", "count"),
    [
        pytest.param("?", 4, id="recent"),
        pytest.param("campaign?event_date={start}&breakdown=known&", 5, id="campaign"),
        # Scoped: "Conversions after a matching touch", "Revenue, any time (USD)", ...
        pytest.param("campaign?event_date={start}&channel=Email&", 7, id="campaign-scoped"),
        # The short filters' longest values picked (in thirds "newsletter" read "newsle...")
        pytest.param(
            "campaign?event_date={start}&source=newsletter&source=instagram&medium=paid_social"
            "&medium=email&event_type=add_to_cart&",
            7,
            id="campaign-filtered",
        ),
        pytest.param("attribution?event_date={start}&", 5, id="attribution"),
        pytest.param("customer?email={email}&", 5, id="customer"),
    ],
)
def test_key_figures_read_in_full_in_a_narrow_window(
    server: StreamlitServer,
    page: Page,
    warehouse: tuple[str, str],
    path: str,
    count: int,
    width: int,
) -> None:
    """No key figure's label or value is cut to an ellipsis (the cards wrap instead), nor a
    picked value ("Newly vs previously known")."""
    url, as_of = warehouse
    page.set_viewport_size({"width": width, "height": 900})
    email = some_email(url, as_of) if "{email}" in path else ""
    open_page(page, f"{server.url}/{path.format(start=as_of[:8] + '01', email=email)}as_of={as_of}")
    labels = page.locator('[data-testid="stMetricLabel"]')
    labels.first.wait_for()
    cut = _cut_texts(page)
    assert labels.count() == count
    assert cut == []


def _once_laid_out(page: Page, read: Callable[[], list[Any]], seconds: float = 20) -> list[Any]:
    """``read()`` again every half second until it finds nothing or ``seconds`` pass: what a
    page or chart shows while still being laid out (Plotly sets its margins over a few
    passes, cards wrap after their text arrives) is not what it settles on."""
    deadline = time.monotonic() + seconds
    while (found := read()) and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    return found


def _cut_texts(page: Page, also: str = "", among: set[str] | None = None) -> list[str]:
    """The key figures' labels and values, picked values, filter chips and switches shown cut
    (``also``: more elements to read; ``among``: only these texts count): cut to an ellipsis,
    or reaching past the page's content (where it is clipped). Text kept for screen readers
    only (a one-pixel box) is not shown, so not cut."""
    script = """more => {
        const past = e => {
            const right = e.getBoundingClientRect().right;
            // past a scrolling or clipping box of its own (a chip scrolled out of its picker)
            const widget = e.closest('[data-testid="stElementContainer"]');
            for (let box = e.parentElement; box && box !== widget; box = box.parentElement) {
                if (getComputedStyle(box).overflowX !== 'visible'
                    && right > box.getBoundingClientRect().right + 1) return true;
            }
            const main = e.closest('[data-testid="stMainBlockContainer"]');
            if (!main) return false;
            const edge = main.getBoundingClientRect().right
                - parseFloat(getComputedStyle(main).paddingRight);
            return right > edge + 1;
        };
        return [...document.querySelectorAll(
            '[data-testid="stMetricLabel"], [data-testid="stMetricValue"], '
            + '[data-testid="stSelectbox"] input, '
            + '[data-testid="stMultiSelect"] [data-tag], [data-testid="stButtonGroup"] button'
            + more)]
        .filter(label => past(label) || [label, ...label.querySelectorAll('*')]
            .some(e => e.clientWidth > 1 && e.scrollWidth > e.clientWidth + 1))
        .map(label => label.value || label.innerText);
    }"""
    more = f", {also}" if also else ""

    def cut_now() -> list[str]:
        return [text for text in page.evaluate(script, more) if among is None or text in among]

    return _once_laid_out(page, cut_now)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("?", id="recent"),
        pytest.param("campaign?event_date={start}&", id="campaign"),
    ],
)
def test_charts_keep_their_plot_in_a_small_window(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str], path: str
) -> None:
    """Every chart's plot keeps at least half its width at 1024 px: "Top source / medium"
    put its names beside the bars, and "blog.partner.example / referral" left them 2 px."""
    _, as_of = warehouse
    page.set_viewport_size({"width": 1024, "height": 900})
    open_page(page, f"{server.url}/{path.format(start=as_of[:8] + '01')}as_of={as_of}")
    plots(page, 3)
    script = """() => [...document.querySelectorAll('.js-plotly-plot')].map(chart => {
            const plot = chart.querySelector('.cartesianlayer .bg, .nsewdrag');
            const whole = chart.querySelector('.main-svg');
            return plot && whole ? [plot.getBoundingClientRect().width,
                                    whole.getBoundingClientRect().width] : null;
        }).filter(pair => pair)"""

    def squeezed() -> list[float]:
        widths = page.evaluate(script)
        assert len(widths) >= 3
        return [round(plot / whole, 2) for plot, whole in widths if plot < whole / 2]

    assert _once_laid_out(page, squeezed) == []


@pytest.mark.parametrize("width", [1024, 800])  # the demo slants names at 1024, this at 800
def test_attribution_chart_names_clear_of_titles_in_a_small_window(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str], width: int
) -> None:
    """At 1024 px the model chart's slanted channel names ran into its axis title and
    legend (placed under the plot), and the last one ("Unassigned") past the chart's edge;
    at 800 px "Organic Search" past its foot."""
    _, as_of = warehouse
    page.set_viewport_size({"width": width, "height": 900})
    open_page(page, f"{server.url}/attribution?event_date={as_of[:8]}01&as_of={as_of}")
    plots(page, 3)
    script = """() => {
            const meet = (a, b) => a.left < b.right && b.left < a.right
                && a.top < b.bottom && b.top < a.bottom;
            const out = [];
            for (const chart of document.querySelectorAll('.js-plotly-plot')) {
                const whole = chart.querySelector('.main-svg').getBoundingClientRect();
                const others = [...chart.querySelectorAll('.g-xtitle, .legend, .g-gtitle')]
                    .map(e => e.getBoundingClientRect()).filter(r => r.width > 0);
                for (const tick of chart.querySelectorAll('.xtick text')) {
                    const box = tick.getBoundingClientRect();
                    if (box.width === 0) continue;
                    const inside = box.left >= whole.left - 1 && box.right <= whole.right + 1
                        && box.bottom <= whole.bottom + 1;
                    if (!inside || others.some(other => meet(box, other))) {
                        out.push(tick.textContent);
                    }
                }
            }
            return out;
        }"""
    clashes = _once_laid_out(page, lambda: list(page.evaluate(script)))
    assert page.locator(".xtick text").count() >= 8  # the channels' names were read
    assert clashes == []


def test_timeline_legend_sits_under_its_axis_title_in_a_small_window(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    """At 1024 px the legend wraps; it stays whole, under the axis title (placed under the
    plot, it overlapped "Visit (oldest left, newest right)" and lost its last rows)."""
    url, as_of = warehouse
    page.set_viewport_size({"width": 1024, "height": 900})
    open_page(page, f"{server.url}/customer?email={some_email(url, as_of)}&as_of={as_of}")
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    title = chart.locator(".xtitle").bounding_box()
    legend = chart.locator(".legend").bounding_box()
    figure = chart.locator(".main-svg").first.bounding_box()
    assert title is not None
    assert legend is not None
    assert figure is not None
    assert legend["y"] >= title["y"] + title["height"]
    assert legend["y"] + legend["height"] <= figure["y"] + figure["height"] + 1
    assert chart.locator(".legend .traces").count() >= 3  # one per channel of the visits


def test_campaign_dates_line_up_in_a_small_window(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    """In quarter columns a 1024 px window wrapped "Campaign start date" onto two lines and
    its box sat lower than the end date's."""
    _, as_of = warehouse
    page.set_viewport_size({"width": 1024, "height": 900})
    open_page(page, f"{server.url}/campaign?as_of={as_of}")
    fields = page.locator(YEAR_FIELD)
    # The date widget is a chunk Streamlit loads lazily: it can draw after the run has ended
    # (seen in CI: no field yet when the boxes were read).
    expect(fields).to_have_count(2, timeout=TIMEOUT_MS)
    boxes = [box for field in fields.all() if (box := field.bounding_box()) is not None]
    assert len(boxes) == 2
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 1


def test_attribution_options_read_in_full_in_a_small_window(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    """Each option at its own width (a third of a 1024 px window cut "Collapse repeated
    channels" to "Collapse repeat...", a fifth hid the lookback's - and +)."""
    _, as_of = warehouse
    page.set_viewport_size({"width": 1024, "height": 900})
    open_page(page, f"{server.url}/attribution?event_date={as_of[:8]}01&as_of={as_of}")
    # the lookback beside the pickers keeps its - and + (a fifth of the row hid them)
    lookback = page.locator('[data-testid="stNumberInput"]').filter(has_text="Lookback (days)")
    assert lookback.locator('[data-testid="stNumberInputStepUp"]').is_visible()
    page.get_by_text("Path and model options").click()
    page.get_by_text("Collapse repeated channels").wait_for()
    assert _cut_texts(page, '[data-testid="stExpanderDetails"] label') == []


@pytest.mark.parametrize(
    ("width", "whole"),
    [
        pytest.param(1280, None, id="laptop"),  # every picked value
        # a small window: the long values, in the halves of the first row
        pytest.param(
            1024, {"summer_sale_email", "lookalike_audience", "Organic Search"}, id="small"
        ),
    ],
)
def test_picked_filters_read_in_full(
    server: StreamlitServer,
    page: Page,
    warehouse: tuple[str, str],
    width: int,
    whole: set[str] | None,
) -> None:
    """Five filters in a row cut "summer_sale_email" to "su..." at 1280 px; in two rows of three
    and two, in the fields' order, at 1024 px."""
    _, as_of = warehouse
    page.set_viewport_size({"width": width, "height": 900})
    picked = {
        "campaign": ["summer_sale_email", "lookalike_audience"],
        "source": ["newsletter"],
        "medium": ["email"],
        "channel": ["Organic Search"],
    }
    query = "&".join(f"{k}={v.replace(' ', '+')}" for k, vs in picked.items() for v in vs)
    open_page(page, f"{server.url}/campaign?event_date={as_of[:8]}01&{query}&as_of={as_of}")
    for value in (v for vs in picked.values() for v in vs):
        page.locator(f'[data-testid="stMultiSelect"] [data-tag][aria-label="{value}"]').wait_for()
    assert _cut_texts(page, among=whole) == []


def test_campaign_view_from_url_with_filters(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    _, as_of = warehouse
    start = as_of[:8] + "01"
    open_page(page, f"{server.url}/campaign?event_date={start}&as_of={as_of}&channel=Email")
    page.get_by_text("People with an event matching Channel: Email").wait_for()
    assert page.get_by_role("combobox", name="Channel").is_visible()  # filters open
    plots(page, 4)  # four drawn layers were there while two of the charts were still coming
    expect(page.locator(".js-plotly-plot")).to_have_count(4, timeout=TIMEOUT_MS)
    shot(page, "campaign_filtered")


def test_campaign_bad_date(server: StreamlitServer, page: Page) -> None:
    open_page(page, f"{server.url}/campaign?event_date=2022-13-45", errors=True)
    alert = page.locator('[data-testid="stAlertContentError"]')
    alert.wait_for()
    assert "Campaign start date" in alert.inner_text()
    assert "real calendar date" in alert.inner_text()
    shot(page, "campaign_bad_date")


def test_picking_a_person_opens_their_lookup(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    _, as_of = warehouse
    open_page(page, f"{server.url}/campaign?event_date={as_of[:8]}01&as_of={as_of}")
    people_tab = page.locator('[role="tabpanel"]:not([hidden])').filter(
        has=page.locator('[data-testid="stDataFrame"]')
    )
    pick_first_row(page, people_tab.locator('[data-testid="stDataFrame"]').first)
    wait_for_location(page, "/customer?")
    wait_for_location(page, "email=")
    settle(page)
    page.get_by_text("Known since").first.wait_for()
    assert plots(page, 1) == 1
    assert f"as_of={as_of.replace(':', '%3A')}" in page.url or f"as_of={as_of}" in page.url


def test_attribution_page_in_the_app(
    server: StreamlitServer, page: Page, warehouse: tuple[str, str]
) -> None:
    """The Attribution page (issue 6) is reachable from the dashboard's navigation."""
    _, as_of = warehouse
    open_page(page, f"{server.url}/campaign?event_date={as_of[:8]}01&as_of={as_of}")
    page.get_by_role("link", name="Attribution").click()
    page.get_by_role("heading", name="Attribution").wait_for()
    wait_for_location(page, "/attribution")
    settle(page)
    assert plots(page, 1) >= 1
    assert page.get_by_role("switch", name="Live (now)").count() == 1  # the shared sidebar as-of
    shot(page, "attribution_in_app")
