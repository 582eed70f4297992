"""JOURNEY_MASK_PII=1: emails masked on pages, in CSV downloads and API responses; lookups work."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from journey_api.app import PATH, create_app
from journey_cli.commands import main as journey_cli
from journey_core import columns as c
from journey_core.config import Settings
from journey_core.errors import ConfigError
from journey_core.io.privacy import mask_email
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys
from journey_ui import data
from tests.support.markdown import displayed
from tests.support.tabs import each_tab

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
AS_OF = "2022-08-31T00:00:00Z"
CAMPAIGN_DATE = "2022-08-01"
MASKED = r"^.\*\*\*@"


def journeys(url: str, **params: Any) -> pl.DataFrame:
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, **params)
    return fetch_journeys(create_engine(url), query).frame


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, demo_url: str) -> Callable[..., AppTest]:
    """``app(page, **params)``: the dashboard with masking on, run once."""
    for key in ("JOURNEY_TIMEZONE", "JOURNEY_LOOKBACK_DAYS", "JOURNEY_PASSWORD_HASH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("JOURNEY_DATABASE_URL", demo_url)
    monkeypatch.setenv("JOURNEY_MASK_PII", "1")

    def make(page: str, **params: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.run()
        at.switch_page(f"app_pages/{page}.py")
        at.query_params["as_of"] = AS_OF
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return make


def shown_text(at: AppTest) -> str:
    """Everything a page shows as text: headings, markdown, captions, buttons, tables, errors.

    Markdown escapes are undone (:func:`displayed`), so an escaped email is found too.
    """
    parts = [h.value for h in [*at.title, *at.header, *at.subheader]]
    parts += [m.value for m in at.markdown] + [x.value for x in at.caption]
    parts += [b.label for b in at.button] + [d.label for d in at.download_button]
    parts += [e.value for e in at.error] + [i.value for i in at.info]
    parts += [df.value.to_csv() for df in at.dataframe]
    return displayed("\n".join(str(p) for p in parts))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(None, False, id="unset"),
        pytest.param("1", True, id="one"),
        pytest.param(" Yes ", True, id="yes"),
        pytest.param("0", False, id="zero"),
        pytest.param("off", False, id="off"),
    ],
)
def test_setting(raw: str | None, expected: bool) -> None:
    env = {} if raw is None else {"JOURNEY_MASK_PII": raw}
    assert Settings.from_env(env).mask_pii is expected


def test_setting_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match="JOURNEY_MASK_PII"):
        Settings.from_env({"JOURNEY_MASK_PII": "maybe"})


def test_customer_lookup_by_full_email_shows_it_masked(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    email = journeys(demo_url, event_date=CAMPAIGN_DATE)[c.EMAIL][0]
    at = app("customer", email=email)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert {m.label for m in at.metric} >= {"Devices", "Visits", "Orders"}  # the lookup worked
    text = shown_text(at)
    assert mask_email(email) in text
    assert email not in text


@pytest.mark.parametrize(
    ("page", "params"),
    [
        pytest.param("campaign", {"event_date": CAMPAIGN_DATE}, id="campaign"),
        pytest.param("recent", {}, id="recent"),
        pytest.param("customer", {}, id="customer-prompt"),
        pytest.param(
            "attribution", {"event_date": CAMPAIGN_DATE, "as_of": "2022-08-31"}, id="attribution"
        ),
    ],
)
def test_tables_show_masked_emails(
    app: Callable[..., AppTest], demo_url: str, page: str, params: dict[str, str]
) -> None:
    at = app(page, **params)
    assert not at.exception, [e.message for e in at.exception]
    everyone = journeys(demo_url, event_date="2022-06-01")[c.EMAIL].unique().to_list()
    # Attribution draws only its open tabs: open each in turn (its per-person tables).
    runs = list(each_tab(at)) if page == "attribution" else [at]
    for _ in runs:
        assert not at.exception, [e.message for e in at.exception]
        text = shown_text(at)
        leaked = [email for email in everyone if email in text]
        assert leaked == []
        for df in at.dataframe:
            if c.EMAIL in df.value.columns:
                assert df.value[c.EMAIL].str.contains(MASKED).all()
    assert "***@" in text


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="recent"),
        pytest.param({"event_date": CAMPAIGN_DATE}, id="campaign"),
        pytest.param({"email": "EMAIL"}, id="customer"),
    ],
)
def test_masked_csv_equals_journey_export_mask_pii(
    demo_url: str, tmp_path: Path, params: dict[str, Any]
) -> None:
    email = journeys(demo_url)[c.EMAIL][0]
    params = {k: (email if v == "EMAIL" else v) for k, v in params.items()}
    args = [x for k, v in params.items() for x in (f"--{k.replace('_', '-')}", v)]
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, **params)
    key = data.QueryKey.of(query, mask_pii=True)
    page_csv = data.build_csv(data.load_rows(create_engine(demo_url), key).rows, mask_pii=True)
    out = tmp_path / "export.csv"
    argv = ["export", "--db", demo_url, "--as-of", AS_OF, "--mask-pii", "--output", str(out)]
    assert journey_cli([*argv, *args]) == 0
    assert page_csv == out.read_bytes()
    emails = pl.read_csv(page_csv, infer_schema=False)[c.EMAIL]
    assert emails.len() > 0
    assert emails.str.contains(MASKED).all()


def test_api_masks_json_and_csv_but_looks_up_full_emails(demo_url: str) -> None:
    email = journeys(demo_url)[c.EMAIL][0]
    settings = Settings(database_url=demo_url, mask_pii=True)
    client = TestClient(create_app(settings), base_url="http://127.0.0.1")
    body = client.get(PATH, params={"email": email, "as_of": AS_OF}).json()
    assert body["data"]
    assert {row["email"] for row in body["data"]} == {mask_email(email)}
    assert email not in json.dumps(body["data"])
    page = client.get(PATH, params={"as_of": AS_OF, "limit": 5}).json()
    assert all(row["email"].count("***@") == 1 for row in page["data"])
    following = client.get(
        PATH, params={"as_of": AS_OF, "limit": 5, "cursor": page["meta"]["next_cursor"]}
    ).json()
    assert following["data"]  # paging still works on the full emails
    text = client.get(PATH, params={"email": email, "as_of": AS_OF, "format": "csv"}).text
    assert email not in text
    assert mask_email(email) in text
