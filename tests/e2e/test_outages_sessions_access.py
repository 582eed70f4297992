"""Hardening in a real headless Chromium: warehouse outages, ten sessions at once, sign-in.

- PostgreSQL stopped mid-session: the page shows a clear error box naming the warehouse;
  started again: the same page works after a reload, with no restart of the app.
- Ten browser contexts on different pages and parameters each see their own view.
- With a password set, the first request of a fresh server for any page's address shows only
  the sign-in form; signing in opens the page asked for.
- Screenshots of the sign-in page and the data-quality page go to tests/screenshots/.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from journey_core import columns as c
from journey_core.auth import hash_password
from journey_core.io.demo import build_demo
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys
from tests.support.browser import SCREENSHOTS, StreamlitServer, settle

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, WebSocket
    from streamlit.proto.TextInput_pb2 import TextInput

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ERROR = '[data-testid="stAlertContentError"]'
TIMEOUT_MS = 60_000
#: Ten cold sessions at once on two cores: each view's own wait. A guard against a hang, not a
#: speed check (speed lives in bench/): locally the last of the ten settles 34-40 s after the
#: ten requests, and a loaded machine (docs/security.md, "Ten cold sessions at once") took
#: over 60 s for one of them.
TEN_TIMEOUT_MS = 180_000
END = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
AS_OF = "2022-08-31T00:00:00Z"
PASSWORD = "correct horse battery"
BOX = "Find a person"  # the customer search box's label


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    return tab


def errors(page: Page) -> list[str]:
    return [e.inner_text() for e in page.locator(ERROR).all()]


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def emails(url: str, n: int) -> list[str]:
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, event_date="2022-08-01")
    frame = fetch_journeys(create_engine(url), query).frame
    return frame.get_column(c.EMAIL).unique(maintain_order=True).head(n).to_list()


# --------------------------------------------------------------------------- faults


@pytest.mark.postgres
def test_postgres_outage_shows_an_error_and_recovers(browser: Browser) -> None:
    from tests.support.postgres import PostgresServer

    with PostgresServer() as pg:
        url = pg.admin_url()
        build_demo(url, individuals=150, seed=3, end=END)
        first, second = emails(url, 2)
        env = {"JOURNEY_DATABASE_URL": url, "JOURNEY_PASSWORD_HASH": None}
        with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
            page = new_page(browser)
            page.goto(f"{app.url}/customer?email={first}&as_of={AS_OF}")
            settle(page)
            assert errors(page) == []
            assert page.get_by_text("Touches before known").count() >= 1

            pg.pause()
            page.goto(f"{app.url}/customer?email={second}&as_of={AS_OF}")
            settle(page)
            shown = " ".join(errors(page))
            assert "Warehouse" in shown, shown
            assert "Traceback" not in page.content()

            pg.resume()
            page.reload()
            settle(page)
            assert errors(page) == []
            assert page.get_by_text("Touches before known").count() >= 1
            page.context.close()


def test_duckdb_file_moved_away_and_back(browser: Browser, tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    build_demo(f"duckdb:///{db}", individuals=150, seed=3, end=END)
    [email] = emails(f"duckdb:///{db}", 1)
    away = tmp_path / "elsewhere.duckdb"
    env = {"JOURNEY_DATABASE_URL": f"duckdb:///{db}", "JOURNEY_PASSWORD_HASH": None}
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        db.rename(away)  # before the first session opens it
        page = new_page(browser)
        page.goto(f"{app.url}/customer?email={email}&as_of={AS_OF}")
        settle(page)
        shown = " ".join(errors(page))
        assert "does not exist" in shown, shown
        away.rename(db)
        page.reload()
        settle(page)
        assert errors(page) == []
        assert page.get_by_text("Touches before known").count() >= 1
        page.context.close()


# --------------------------------------------------------------------------- sessions


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('hardening') / 'demo.duckdb'}"
    build_demo(url, individuals=300, seed=7, end=END)
    return url


def record_frames(page: Page) -> list[bytes]:
    """The websocket frames ``page`` receives from now on, in order."""
    frames: list[bytes] = []

    def on_socket(socket: WebSocket) -> None:
        socket.on(
            "framereceived",
            lambda data: frames.append(data if isinstance(data, bytes) else data.encode()),
        )

    page.on("websocket", on_socket)
    return frames


def first_run_box(frames: list[bytes]) -> TextInput | None:
    """The search box the FIRST script run sent (websocket frames received, in order)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    for frame in frames:
        msg = ForwardMsg()
        msg.ParseFromString(frame)
        if msg.WhichOneof("type") == "script_finished":
            return None
        element = msg.delta.new_element
        if element.WhichOneof("type") == "text_input" and element.text_input.label == BOX:
            return element.text_input
    return None


def run_summary(frames: list[bytes]) -> str:
    """What the server sent one session, for a test that finds it still running: how many
    messages of each kind, and how each script run ended (a rerun loop shows many)."""
    from collections import Counter

    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    kinds: Counter[str] = Counter()
    ends: list[int] = []
    for frame in frames:
        msg = ForwardMsg()
        msg.ParseFromString(frame)
        kind = msg.WhichOneof("type") or "?"
        kinds[kind] += 1
        if kind == "script_finished":
            ends.append(msg.script_finished)
    return f"{dict(kinds)}; runs ended {ends} (ForwardMsg.ScriptFinishedStatus)"


def test_ten_sessions_each_see_their_own_view(browser: Browser, demo: str) -> None:
    people = emails(demo, 5)
    dates = ["2022-08-01", "2022-08-10", "2022-08-20", "2022-07-15", "2022-08-25"]
    views = [(f"/customer?email={e}&as_of={AS_OF}", e) for e in people] + [
        (f"/campaign?event_date={d}&as_of={AS_OF}", d) for d in dates
    ]
    env = {"JOURNEY_DATABASE_URL": demo, "JOURNEY_PASSWORD_HASH": None}
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        pages = [new_page(browser) for _ in views]
        received = [record_frames(page) for page in pages]
        for page, (path, _) in zip(pages, views, strict=True):
            page.goto(app.url + path, wait_until="commit")  # all ten load at once
        for page, frames, (path, expected) in zip(pages, received, views, strict=True):
            try:
                settle(page, timeout_ms=TEN_TIMEOUT_MS)
            except PlaywrightTimeout:
                shown = page.locator('[data-testid="stMain"]').inner_text()[:600]
                pytest.fail(
                    f"{path} did not settle: {shown!r}\nreceived: {run_summary(frames)}\n"
                    f"{app.output()[1][-3000:]}\nthe server's threads:\n{app.thread_dump()}"
                )
            assert errors(page) == [], app.output()[1][-3000:]
            if "@" in expected:
                page.wait_for_selector("text=Touches before known")
                # The profile card's name is there with the rest of the card (it was a raw-HTML
                # Markdown, which busy cold sessions rendered late: issue 14, finding 11).
                main = page.locator('[data-testid="stMain"]').inner_text()
                assert expected in main, main[:400]
                # The server's first run sends the box its person (value + set_value): the
                # first render is right, in every session (issue 14, finding 11).
                box = first_run_box(frames)
                assert box is not None, "the first run sent no search box"
                assert (box.value, box.set_value) == (expected, True)
                # The browser shows it once the TextInput code has loaded (a lazy chunk, fetched
                # by each cold session) and has mounted: the first mount shows the browser's
                # own widget state (empty in a new session) and takes the server's value one
                # React commit later. Busy cold sessions show the card meanwhile; see
                # docs/security.md ("Ten cold sessions at once").
                expect(page.get_by_label(BOX, exact=True)).to_have_value(
                    expected, timeout=TEN_TIMEOUT_MS
                )
            else:
                day = dt.date.fromisoformat(expected)
                caption = f"Events per day since {day:%d %b %Y}"
                assert page.get_by_text(caption).count() == 1  # this session's start date
                assert f"event_date={expected}" in page.url
            main = page.locator('[data-testid="stMain"]').inner_text()
            others = [e for _, e in views if "@" in e and e != expected]
            if "@" in expected:
                assert not [o for o in others if o in main]
        for page in pages:
            page.context.close()


CARD = '[data-testid="stMain"] [data-testid="stMetric"]'  # the profile card's figures
#: Records, at each DOM insertion and every 50 ms, the search box's value (null: no box yet)
#: and whether the profile card's metrics are shown, each time either changes.
RECORDER = """
window.__seen = []; let last = null;
function snap() {
  const box = document.querySelector('input[aria-label="Find a person"]');
  const card = document.querySelector('[data-testid="stMain"] [data-testid="stMetric"]') !== null;
  const now = JSON.stringify([box ? box.value : null, card]);
  if (now !== last) { last = now; window.__seen.push([box ? box.value : null, card]); }
}
new MutationObserver(snap).observe(document, {subtree: true, childList: true});
setInterval(snap, 50);
window.__snap = snap;
"""


def test_the_empty_box_of_a_busy_cold_session_is_the_browser_mounting_late(
    browser: Browser, demo: str
) -> None:
    """Finding 11 reproduced in ONE session, without load: hold back the browser's TextInput
    code (a lazy chunk, as a busy server serves it late) and record what the page shows.

    The server's first run sends the box its person; the card shows while the TextInput code
    is still loading (no box), the box then mounts EMPTY (the browser's widget state of a new
    session) and takes the server's value one React commit later. If Streamlit ever mounts the
    box with its value, the middle step disappears and this test says so: the ten-sessions
    test can then check the box at once.
    """
    from playwright.sync_api import Route

    person = emails(demo, 1)[0]
    env = {"JOURNEY_DATABASE_URL": demo, "JOURNEY_PASSWORD_HASH": None}
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        page = new_page(browser)
        page.context.add_init_script(RECORDER)
        frames = record_frames(page)

        def late(route: Route) -> None:
            # A busy server: the card's code is served, this one only after the card shows.
            page.wait_for_selector(CARD)
            route.continue_()

        page.route("**/static/js/TextInput.*.js", late)
        page.goto(f"{app.url}/customer?email={person}&as_of={AS_OF}")
        settle(page)
        expect(page.get_by_label(BOX, exact=True)).to_have_value(person, timeout=TIMEOUT_MS)
        box = first_run_box(frames)
        assert box is not None
        assert (box.value, box.set_value) == (person, True)
        # The recorder sees a box's new value on its 50 ms tick (a value is no DOM mutation):
        # record the page as it is now before reading, or the last value may not be in yet.
        seen = [tuple(s) for s in page.evaluate("window.__snap(), window.__seen")]
        assert (None, True) in seen  # the card without a box: the chunk still loading
        mounted = [value for value, _ in seen if value is not None]
        assert mounted[0] == "", seen  # first mount: the new session's own (empty) state
        assert mounted[-1] == person, seen
        page.context.close()


# --------------------------------------------------------------------------- screenshots


def test_sign_in_page_screenshot(browser: Browser, demo: str) -> None:
    env = {"JOURNEY_DATABASE_URL": demo, "JOURNEY_PASSWORD_HASH": hash_password(PASSWORD)}
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        page = new_page(browser)
        for path in ("/attribution?as_of=2022-08-31", f"/customer?as_of={AS_OF}"):
            # The first request of a fresh server for a page file must not skip the gate.
            page.goto(app.url + path)
            settle(page)
            assert page.get_by_label("Password", exact=True).count() == 1
            assert page.get_by_text("Attribution").count() == 0
            assert page.locator(".js-plotly-plot").count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        assert page.locator('[data-testid="stMetric"]').count() == 0
        shot(page, "hardening-sign-in")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector('[data-testid="stSidebarNav"]')
        settle(page)
        page.get_by_role("link", name="Data quality").click()
        page.wait_for_selector("text=Problem rows")
        settle(page)
        shot(page, "hardening-quality")
        page.context.close()


@pytest.mark.parametrize(
    ("path", "query", "title"),
    [
        pytest.param("/", f"as_of={AS_OF}", "Recent activity", id="recent"),
        pytest.param("/customer", "", "Customer lookup", id="customer"),
        pytest.param(
            "/campaign", f"event_date=2022-08-01&as_of={AS_OF}", "Campaign influence", id="campaign"
        ),
        pytest.param("/attribution", "as_of=2022-08-31", "Attribution", id="attribution"),
        pytest.param("/quality", f"as_of={AS_OF}", "Data quality", id="quality"),
    ],
)
def test_sign_in_gate_covers_every_address_of_a_fresh_server(
    browser: Browser, demo: str, path: str, query: str, title: str
) -> None:
    env = {"JOURNEY_DATABASE_URL": demo, "JOURNEY_PASSWORD_HASH": hash_password(PASSWORD)}
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        page = new_page(browser)
        page.goto(f"{app.url}{path}?{query}")  # the server's very first request
        settle(page)
        assert page.get_by_label("Password", exact=True).count() == 1
        assert page.get_by_role("heading", name=title).count() == 0
        for testid in ("stSidebarNav", "stMetric", "stDataFrame", "stDownloadButton"):
            assert page.locator(f'[data-testid="{testid}"]').count() == 0, testid
        assert page.locator(".js-plotly-plot").count() == 0
        assert urlparse(page.url).path == path  # the deep link is kept for after sign-in
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name=title).wait_for()
        settle(page)
        assert urlparse(page.url).path == path
        assert page.locator('[data-testid="stSidebarNav"]').count() == 1
        page.context.close()


def test_open_notice_on_attribution(browser: Browser, demo: str) -> None:
    env = {"JOURNEY_DATABASE_URL": demo, "JOURNEY_PASSWORD_HASH": None}
    with StreamlitServer(cwd=ROOT, env=env, timeout=90) as app:
        page = new_page(browser)
        for path in ("/quality", "/attribution?as_of=2022-08-31"):
            page.goto(app.url + path)
            settle(page)
            assert page.get_by_text("open to anyone who can reach it").count() == 1
        page.context.close()
