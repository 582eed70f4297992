"""Issue 14 (dashboard): person links without emails, plain-text URL input, per-client throttle,
downloads only for signed-in sessions (AppTest; the browser side is in tests/e2e)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.auth import hash_password
from journey_core.config import ENV_DASHBOARD_CACHE_MB, ENV_PASSWORD_HASH, Settings
from journey_core.io.privacy import mask_email
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine
from journey_ui import access, customer, data, downloads, people
from journey_ui.cache import ByteCache, size_of
from tests.conftest import WarehouseFactory
from tests.support.frames import T, events_frame, identities_frame
from tests.support.markdown import displayed, markup
from tests.support.tabs import each_tab

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
AS_OF = "2022-08-31T00:00:00Z"
PASSWORD = "correct horse battery"
INJECTED = "![x](http://host.example/img.png) [click](http://host.example/) <b>bold</b>"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, demo_url: str) -> Callable[..., AppTest]:
    """``app(page, mask=False, url=demo_url, **params)``: the dashboard opened on ``page``."""
    for key in ("JOURNEY_TIMEZONE", "JOURNEY_LOOKBACK_DAYS", ENV_PASSWORD_HASH):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(access, "_THROTTLES", OrderedDict(), raising=False)  # a clean client

    def make(page: str, *, mask: bool = False, url: str = demo_url, **params: str) -> AppTest:
        monkeypatch.setenv("JOURNEY_DATABASE_URL", url)
        monkeypatch.setenv("JOURNEY_MASK_PII", "1" if mask else "0")
        at = AppTest.from_file(str(APP), default_timeout=60)
        if page != "recent":  # the home page (and the sign-in page) need no switch
            at.run()
            at.switch_page(f"app_pages/{page}.py")
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return make


def ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def texts(at: AppTest) -> list[str]:
    """Every Markdown string the run drew: markdown, captions, boxes, button labels."""
    parts = [m.value for m in at.markdown] + [x.value for x in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [b.label for b in at.button]
    return [str(p) for p in parts]


# --------------------------------------------------------------------------- finding 6


@pytest.mark.parametrize(
    ("page", "params", "shown_in"),
    [
        pytest.param("customer", {"email": INJECTED, "as_of": AS_OF}, "error", id="email"),
        pytest.param(
            "campaign",
            {"event_date": "2022-08-01", "campaign": INJECTED, "as_of": AS_OF},
            "caption",
            id="campaign",
        ),
        pytest.param("recent", {"as_of": INJECTED}, "error", id="as_of"),
        pytest.param(
            "campaign", {"event_date": INJECTED, "as_of": AS_OF}, "error", id="event_date"
        ),
    ],
)
def test_url_values_render_as_plain_text(
    app: Callable[..., AppTest], page: str, params: dict[str, str], shown_in: str
) -> None:
    at = app(page, **params)
    assert not at.exception, [e.message for e in at.exception]
    quoted = [
        text
        for text in texts(at)
        if "host.example" in displayed(text) and "Link to this exact view" not in text
    ]
    assert quoted, f"the {shown_in} should quote the value"
    assert any(INJECTED[:30] in displayed(text) for text in quoted)  # shown character for character
    for text in quoted:
        assert markup(text) == [], text  # no image, link or HTML


# --------------------------------------------------------------------------- finding 1


def suggestions(at: AppTest) -> list[Any]:
    return [b for b in at.button if b.key and b.key.startswith("customer.try.")]


def test_person_buttons_have_no_email_in_keys_or_url_when_masking(
    app: Callable[..., AppTest],
) -> None:
    at = app("customer", mask=True, as_of=AS_OF)
    ok(at)
    buttons = suggestions(at)
    assert buttons
    for button in buttons:
        assert "@" not in button.key
        assert "***@" in displayed(button.label)
    buttons[0].click().run()
    ok(at)
    assert {m.label for m in at.metric} >= {"Devices", "Visits"}  # the lookup worked
    params = {name: at.query_params[name] for name in at.query_params}
    assert "email" not in params
    assert "person" in params
    assert people.resolve(str(params["person"])) is not None
    assert at.text_input(key="customer.email").value == ""  # the full email is not in the box
    assert not [text for text in texts(at) if "@" in text and "***@" not in displayed(text)]


def test_person_buttons_keys_never_carry_the_email(app: Callable[..., AppTest]) -> None:
    at = app("customer", as_of=AS_OF)
    ok(at)
    buttons = suggestions(at)
    assert buttons
    assert not [b.key for b in buttons if "@" in b.key or displayed(b.label) in b.key]


def test_person_link_opens_the_lookup_without_the_email(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = app("customer", mask=True, as_of=AS_OF)
    email = people.resolve(people.remember(_first_email(at)))
    assert email is not None
    at = app("customer", mask=True, person=people.remember(email), as_of=AS_OF)
    ok(at)
    assert {m.label for m in at.metric} >= {"Devices", "Visits"}
    shown = "\n".join(displayed(text) for text in texts(at))
    assert mask_email(email) in shown
    assert email not in shown
    assert "email" not in at.query_params


def test_unknown_person_link_says_so(app: Callable[..., AppTest]) -> None:
    at = app("customer", mask=True, person="not-a-token", as_of=AS_OF)
    assert not at.exception
    assert "**Person link**" in at.error[0].value
    assert not at.metric


def _first_email(at: AppTest) -> str:
    """A person of the "recently active" list (through a person link when masking)."""
    suggestions(at)[0].click().run()
    if "email" in at.query_params:
        return str(at.query_params["email"])
    email = people.resolve(str(at.query_params["person"]))
    assert email is not None
    return email


def test_a_page_drops_other_pages_params(app: Callable[..., AppTest]) -> None:
    at = app("campaign", email="ann@example.com", person="t", lane="channel", as_of=AS_OF)
    ok(at)
    assert set(at.query_params) <= {"as_of", "event_date", "steps"}
    link = " ".join(m.value for m in at.sidebar.markdown if "Link to this exact view" in m.value)
    assert link
    assert "email" not in link
    assert "ann" not in link


@pytest.fixture
def recorded_downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The ``data=`` of every download button drawn, by key."""
    seen: dict[str, Any] = {}
    original: Callable[..., Any] = streamlit.download_button

    def recording(label: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        seen[str(kwargs.get("key"))] = data
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    return seen


def test_emails_inside_urls_are_masked_on_pages_and_csvs(
    app: Callable[..., AppTest],
    warehouse: WarehouseFactory,
    recorded_downloads: dict[str, Any],
) -> None:
    url, email = _url_warehouse(warehouse)
    at = app("customer", mask=True, url=url, email=email, as_of=AS_OF)
    ok(at)
    tables = "\n".join(df.value.to_csv() for df in at.dataframe)
    assert "corp.example" in tables
    assert email not in tables
    for key, made in recorded_downloads.items():
        assert email.encode() not in (made() if callable(made) else made), key
    at = app("attribution", mask=True, url=url, event_date="2022-08-01", as_of="2022-08-31")
    assert not at.exception
    assert email not in "\n".join(df.value.to_csv() for df in at.dataframe)
    for _ in each_tab(at):  # the tables of its closed tabs, each tab opened in turn
        assert not at.exception
        assert email not in "\n".join(df.value.to_csv() for df in at.dataframe)


def _url_warehouse(warehouse: WarehouseFactory) -> tuple[str, str]:
    email = "ben.277@corp.example"
    rows = [
        {
            c.EVENT_ID: f"e{i}",
            c.ANONYMOUS_ID: "a1",
            c.EVENT_TYPE: kind,
            c.OCCURRED_AT: T(f"2022-08-20T10:0{i}:00"),
            c.PAGE_URL: f"https://shop.example/welcome?email={email}",
            c.REFERRER: f"https://mail.example/?to={email}",
            c.REVENUE: 10.0 if kind == "purchase" else None,
        }
        for i, kind in enumerate(["page_view", "signup", "purchase"])
    ]
    return warehouse(
        events_frame(rows), identities_frame([("a1", email, "2022-08-20T10:01:00")])
    ), email


# --------------------------------------------------------------------------- finding 4


def sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input(key="auth.password").input(password)
    return next(b for b in at.button if b.label == "Sign in").click().run()


def test_failed_sign_ins_slow_down_the_client_across_sessions(
    app: Callable[..., AppTest],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(ENV_PASSWORD_HASH, hash_password(PASSWORD))
    caplog.set_level(logging.INFO, logger="journey_ui.access")
    for _ in range(4):  # a reload (a new session) per guess
        at = sign_in(app("recent"), "guess")
    assert "wait" in at.warning[0].value
    at = sign_in(app("recent"), PASSWORD)  # a fresh session of the same client waits too
    assert "wait" in at.warning[0].value
    assert not at.metric
    attempts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sign_in")]
    assert len(attempts) == 5
    assert all("client=local" in line for line in attempts)
    assert not [line for line in caplog.messages if "guess" in line or PASSWORD in line]


def test_throttle_store_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "_THROTTLES", OrderedDict())
    monkeypatch.setattr(access, "MAX_CLIENTS", 3)
    first = access.throttle_of("10.0.0.1")
    first.record_failure(now=0.0)
    assert access.throttle_of("10.0.0.1") is first  # the same client, the same throttle
    for n in range(2, 6):
        access.throttle_of(f"10.0.0.{n}")
    assert len(access._THROTTLES) == 3
    assert "10.0.0.1" not in access._THROTTLES


# --------------------------------------------------------------------------- finding 5


@pytest.mark.parametrize(
    ("page", "params"),
    [
        pytest.param("recent", {"as_of": AS_OF}, id="recent"),
        pytest.param("campaign", {"event_date": "2022-08-01", "as_of": AS_OF}, id="campaign"),
        pytest.param("customer", {"email": "EMAIL", "as_of": AS_OF}, id="customer"),
        pytest.param(
            "attribution", {"event_date": "2022-08-01", "as_of": "2022-08-31"}, id="attribution"
        ),
    ],
)
def test_no_download_sits_in_the_media_store_before_a_click(
    app: Callable[..., AppTest], page: str, params: dict[str, str]
) -> None:
    if params.get("email") == "EMAIL":
        params = {**params, "email": _first_email(app("customer", as_of=AS_OF))}
    at = app(page, **params)
    ok(at)
    buttons = at.get("download_button")
    assert buttons
    for button in buttons:
        assert button.proto.url == ""  # no /media/<id>.csv address yet
        assert button.proto.deferred_file_id


def test_downloads_stop_working_after_sign_out(
    app: Callable[..., AppTest],
    monkeypatch: pytest.MonkeyPatch,
    recorded_downloads: dict[str, Any],
) -> None:
    monkeypatch.setenv(ENV_PASSWORD_HASH, hash_password(PASSWORD))
    at = sign_in(app("recent", as_of=AS_OF), PASSWORD)
    ok(at)
    make = recorded_downloads["recent.csv"]
    assert callable(make)
    made = make()  # signed in: the CSV is made (a file, streamed from the warehouse)
    assert (made if isinstance(made, bytes) else made.read()).startswith(b"email,")
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert [t.label for t in at.text_input] == ["Password"]
    with pytest.raises(downloads.Revoked):
        make()


@pytest.fixture(autouse=True)
def _quiet_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No expiry timers here: no thread outlives a test (expiry is tested in the browser)."""
    monkeypatch.setattr(downloads, "_expire_later", lambda seconds: None)


# --------------------------------------------------------------------------- finding 7


def test_ten_as_of_values_stay_under_the_cache_budget(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(demo_url)

    def key(day: int) -> data.QueryKey:
        query = JourneyQuery.build(
            now=dt.datetime.now(dt.UTC), event_date="2022-08-01", as_of=f"2022-08-{day}T00:00:00Z"
        )
        return data.QueryKey.of(query)

    one = size_of(data.load_rows(engine, key(21)))
    budget = 3 * one
    monkeypatch.setattr(data, "CACHE", ByteCache(max_bytes=budget))
    for day in range(21, 31):  # ten as-of values of one campaign
        report, _ = data.campaign(engine, demo_url, key(day), an.Filters())
        assert report.total_rows > 0
        assert data.CACHE.bytes <= budget
    assert 0 < len(data.CACHE) < 20  # rows and reports of the earliest days were dropped


def test_the_budget_comes_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "CACHE", ByteCache(max_bytes=10**9))
    data.use_budget(Settings.from_env({ENV_DASHBOARD_CACHE_MB: "3"}))
    assert data.CACHE.max_bytes == 3 * 2**20


# --------------------------------------------------------------------------- finding 11


@pytest.mark.parametrize("mask", [pytest.param(False, id="clear"), pytest.param(True, id="masked")])
def test_profile_card_name_is_plain_markdown(app: Callable[..., AppTest], mask: bool) -> None:
    email = _first_email(app("customer", as_of=AS_OF))
    at = app("customer", mask=mask, email=email, as_of=AS_OF)
    ok(at)
    shown = mask_email(email) if mask else email
    assert [displayed(h.value) for h in at.header] == [shown]
    raw_html = [m.value for m in at.markdown if m.proto.allow_html]
    assert not [text for text in raw_html if shown in text]  # the name is not raw HTML


def test_a_cold_session_gives_the_box_its_person_in_the_first_run(
    app: Callable[..., AppTest],
) -> None:
    """A new session opened on ``/customer?email=``: the first run shows the person AND sends
    the search box the email with ``set_value`` (which the browser adopts; without it the box
    would stay empty). The empty box once seen in a busy browser is the browser's own lag:
    docs/security.md, "Ten cold sessions at once"."""
    email = _first_email(app("customer", as_of=AS_OF))  # also sets the environment
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page("app_pages/customer.py")  # before the first run: a cold session
    at.query_params["email"] = email
    at.query_params["as_of"] = AS_OF
    at.run()
    ok(at)
    assert [displayed(h.value) for h in at.header] == [email]
    box = at.text_input(key=customer.EMAIL_PARAM.key).proto
    assert (box.value, box.set_value) == (email, True)
