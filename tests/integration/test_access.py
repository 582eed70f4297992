"""Access control: nothing but the sign-in form until the right password; open mode says so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from journey_core.auth import hash_password
from journey_core.config import ENV_PASSWORD_HASH, Settings
from journey_ui import access

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
AS_OF = "2022-08-31T00:00:00Z"
PASSWORD = "correct horse battery"
HASH = hash_password("another one", salt=b"0123456789abcdef")


@pytest.fixture(autouse=True)
def no_earlier_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed sign-ins are remembered per client address for the process: start each test clean."""
    monkeypatch.setattr(access, "_THROTTLES", type(access._THROTTLES)())


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, demo_url: str) -> Callable[..., AppTest]:
    """``app(password_hash=None, secrets=None)``: the dashboard on the demo warehouse, not run."""
    for key in ("JOURNEY_TIMEZONE", "JOURNEY_LOOKBACK_DAYS", "JOURNEY_RECENT_HOURS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("JOURNEY_DATABASE_URL", demo_url)

    def make(password_hash: str | None = None, secrets: dict[str, object] | None = None) -> AppTest:
        if password_hash is None:
            monkeypatch.delenv(ENV_PASSWORD_HASH, raising=False)
        else:
            monkeypatch.setenv(ENV_PASSWORD_HASH, password_hash)
        at = AppTest.from_file(str(APP), default_timeout=60)
        for key, value in (secrets or {}).items():
            at.secrets[key] = value
        at.query_params["as_of"] = AS_OF
        return at

    return make


def sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input(key="auth.password").input(password)
    return next(b for b in at.button if b.label == "Sign in").click().run()


def only_the_form(at: AppTest) -> None:
    """The sign-in page: a password box and a button; no data, no pages, no sidebar."""
    assert not at.exception, [e.message for e in at.exception]
    assert [t.value for t in at.title] == ["Journey Explorer"]
    assert [t.label for t in at.text_input] == ["Password"]
    assert not at.metric
    assert not at.dataframe
    assert not at.get("plotly_chart")
    assert not at.sidebar.button
    assert not at.toggle  # the sidebar's as-of control belongs to the pages


def test_password_hides_everything_before_sign_in(app: Callable[..., AppTest]) -> None:
    at = app(hash_password(PASSWORD)).run()
    only_the_form(at)
    assert access.OPEN_NOTICE not in [c.value for c in at.caption]


def test_right_password_shows_the_pages(app: Callable[..., AppTest]) -> None:
    at = sign_in(app(hash_password(PASSWORD)).run(), PASSWORD)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Recent activity"
    assert at.metric
    assert any(b.label == "Sign out" for b in at.sidebar.button)
    at = next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    only_the_form(at)


def test_wrong_password_is_rejected_and_slowed_down(app: Callable[..., AppTest]) -> None:
    at = app(hash_password(PASSWORD)).run()
    for _ in range(3):  # Throttle.free failures go through at once
        at = sign_in(at, "wrong")
        only_the_form(at)
        assert [e.value for e in at.error] == ["Wrong password."]
        assert not at.warning
    at = sign_in(at, "still wrong")
    assert [e.value for e in at.error] == ["Wrong password."]
    assert "wait 2 s" in at.warning[0].value
    # Even the right password must wait now.
    at = sign_in(at, PASSWORD)
    only_the_form(at)
    assert "wait" in at.warning[0].value
    assert not at.metric


def test_password_hash_from_secrets(app: Callable[..., AppTest]) -> None:
    at = app(secrets={"auth": {"password_hash": hash_password(PASSWORD)}}).run()
    only_the_form(at)
    at = sign_in(at, PASSWORD)
    assert at.title[0].value == "Recent activity"


@pytest.mark.parametrize(
    ("where", "names"),
    [
        pytest.param("env", "JOURNEY_PASSWORD_HASH (its value not shown)", id="env"),
        pytest.param("secrets", "The configured password hash", id="secrets"),
    ],
)
def test_malformed_hash_says_how_to_fix_it_before_anyone_types(
    app: Callable[..., AppTest], where: str, names: str
) -> None:
    """Said when the dashboard opens (it was said only after a password was typed), without
    the value (it may be the password itself, set by mistake); no data, no password box."""
    bad = PASSWORD  # the password where its hash belongs
    at = app(bad) if where == "env" else app(secrets={"auth": {"password_hash": bad}})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    (message,) = [e.value for e in at.error]
    assert names in message
    assert "`scrypt$n$r$p$salt$hash`" in message  # code: no "$...$" maths
    assert "journey hash-password" in message
    assert PASSWORD not in message
    assert not [t for t in at.text_input if t.label == "Password"]
    assert not at.metric
    assert not at.dataframe


def test_oidc_shows_only_a_sign_in_button(app: Callable[..., AppTest]) -> None:
    auth = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "google": {
            "client_id": "id",
            "client_secret": "secret",
            "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
        },
    }
    at = app(secrets={"auth": auth}).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [b.label for b in at.button] == ["Sign in with google"]
    assert not at.metric
    assert not at.dataframe


@pytest.mark.parametrize("page", ["recent", "customer", "campaign", "attribution", "quality"])
def test_open_mode_says_so_on_every_page(app: Callable[..., AppTest], page: str) -> None:
    at = app().run()
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert access.OPEN_NOTICE in [c.value for c in at.sidebar.caption]
    assert not [t for t in at.text_input if t.label == "Password"]


@pytest.mark.parametrize(
    ("env", "auth", "expected"),
    [
        pytest.param({}, {}, access.AccessConfig("open"), id="nothing"),
        pytest.param(
            {"JOURNEY_PASSWORD_HASH": f" {HASH} "},
            {},
            access.AccessConfig("password", HASH),
            id="env",
        ),
        pytest.param(
            {}, {"password_hash": "s"}, access.AccessConfig("password", "s"), id="secrets"
        ),
        pytest.param(
            {"JOURNEY_PASSWORD_HASH": HASH},
            {"client_id": "c", "server_metadata_url": "u"},
            access.AccessConfig("oidc"),
            id="oidc-wins",
        ),
        pytest.param(
            {},
            {"okta": {"client_id": "c"}},
            access.AccessConfig("oidc", provider="okta"),
            id="oidc-provider",
        ),
    ],
)
def test_config(env: dict[str, str], auth: dict[str, object], expected: object) -> None:
    assert access.config(Settings.from_env(env).password_hash, auth) == expected
