"""Issue 14, done-when (AppTest and API): with masking on, nothing a client can receive from
the dashboard or the API carries a full seeded email; the browser side is in tests/e2e."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from journey_api.app import PATH, create_app
from journey_core.config import Settings
from journey_core.io.privacy import mask_email
from journey_core.warehouse import write_tables
from tests.support.leaks import (
    AS_OF,
    CAMPAIGN_DATE,
    EMAILS,
    all_text,
    b64_texts,
    leaks,
    seed_events,
    seed_ids,
)
from tests.support.tabs import each_tab

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
PAGES = [
    pytest.param("recent", {"as_of": AS_OF}, id="recent"),
    pytest.param("campaign", {"event_date": CAMPAIGN_DATE, "as_of": AS_OF}, id="campaign"),
    pytest.param("customer", {"as_of": AS_OF}, id="customer-prompt"),
    pytest.param("attribution", {"event_date": CAMPAIGN_DATE, "as_of": "2022-08-31"}, id="attr"),
    pytest.param("quality", {"as_of": AS_OF}, id="quality"),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The seeded warehouse (a DuckDB file)."""
    url = f"duckdb:///{tmp_path_factory.mktemp('leaks') / 'leaks.duckdb'}"
    write_tables(url, events=seed_events(), identities=seed_ids())
    return url


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The ``data=`` of every download button drawn, by key."""
    seen: dict[str, Any] = {}
    original: Callable[..., Any] = streamlit.download_button

    def recording(label: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        seen[str(kwargs.get("key"))] = data
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    return seen


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, url: str) -> Callable[..., AppTest]:
    """``app(page, **params)``: the dashboard with masking on, opened on ``page``."""
    for key in ("JOURNEY_TIMEZONE", "JOURNEY_LOOKBACK_DAYS", "JOURNEY_PASSWORD_HASH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("JOURNEY_DATABASE_URL", url)
    monkeypatch.setenv("JOURNEY_MASK_PII", "1")

    def make(page: str, **params: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        if page != "recent":
            at.run()
            at.switch_page(f"app_pages/{page}.py")
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return make


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    for child in (children or {}).values():
        yield from _nodes(child)


def received(at: AppTest, downloads: dict[str, Any]) -> list[str]:
    """Leaks in what a run sends: every element's proto (values, markdown, Arrow tables, chart
    specs, widget ids), the dataframes, each download's bytes and the query params."""
    found = []
    for node in _nodes(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None:
            found += leaks(f"{type(node).__name__} {getattr(node, 'key', '')}", str(proto))
    found += leaks("dataframes", all_text(df.value.to_csv() for df in at.dataframe))
    for key, made in downloads.items():
        payload = made() if callable(made) else made
        if not isinstance(payload, str | bytes):  # a file (a CSV streamed from the warehouse)
            payload = payload.read()
        found += leaks(f"download {key}", payload)
    found += leaks("query params", all_text(f"{k}={at.query_params[k]}" for k in at.query_params))
    found += [f"exception {e.message}" for e in at.exception]
    return found


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record, also of loggers that do not propagate (``journey_api``)."""
    caplog.set_level(logging.DEBUG)
    quiet = [logging.getLogger(n) for n in ("journey_api", "journey_ui", "journey_core")]
    for logger in quiet:
        logger.addHandler(caplog.handler)
    yield caplog
    for logger in quiet:
        logger.removeHandler(caplog.handler)


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Leaks in the server side's log records (the test client's own ``httpx`` lines, which
    quote the URL it asked for, are not the server's)."""
    records = [r for r in caplog.records if not r.name.startswith("httpx")]
    return leaks("log", all_text(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records))


@pytest.mark.parametrize(("page", "params"), PAGES)
def test_dashboard_pages_leak_no_email(
    app: Callable[..., AppTest],
    downloads: dict[str, Any],
    logs: pytest.LogCaptureFixture,
    page: str,
    params: dict[str, str],
) -> None:
    at = app(page, **params)
    assert not at.exception, [e.message for e in at.exception]
    assert at.dataframe or page == "customer" or page == "quality"  # the page drew data
    assert received(at, downloads) + logged(logs) == []
    if page == "attribution":  # its closed tabs are drawn when opened: each in turn
        for _ in each_tab(at):
            assert received(at, downloads) + logged(logs) == []


def test_people_opened_from_the_campaign_table_leak_no_email(
    app: Callable[..., AppTest], downloads: dict[str, Any], logs: pytest.LogCaptureFixture
) -> None:
    for row in range(len(EMAILS)):
        at = app("campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
        shown = {df.key: df.value for df in at.dataframe}["campaign.people"]["email"].iloc[row]
        assert "***@" in shown
        at.session_state["campaign.people"] = {
            "selection": {"rows": [row], "columns": [], "cells": []}
        }
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert at.title[0].value == "Customer lookup"
        assert "person" in at.query_params
        assert {m.label for m in at.metric} >= {"Devices", "Visits"}  # the lookup worked
        assert received(at, downloads) + logged(logs) == []
        assert downloads  # its CSV was drawn and checked


def test_suggested_person_on_the_customer_page_leaks_no_email(
    app: Callable[..., AppTest], downloads: dict[str, Any], logs: pytest.LogCaptureFixture
) -> None:
    at = app("customer", as_of=AS_OF)
    buttons = [b for b in at.button if b.key and b.key.startswith("customer.try.")]
    assert buttons
    buttons[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert {m.label for m in at.metric} >= {"Devices", "Visits"}
    assert received(at, downloads) + logged(logs) == []


def _client(url: str) -> TestClient:
    settings = Settings(database_url=url, mask_pii=True)
    return TestClient(create_app(settings), base_url="http://127.0.0.1")


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="recent"),
        pytest.param({"event_date": CAMPAIGN_DATE}, id="event_date"),
        *(pytest.param({"email": e}, id=f"email-{e[:3]}") for e in EMAILS),
    ],
)
def test_api_leaks_no_email(
    url: str, logs: pytest.LogCaptureFixture, params: dict[str, str]
) -> None:
    found: list[str] = []
    with _client(url) as client:
        query: dict[str, Any] = {**params, "as_of": AS_OF, "limit": 1}
        pages = 0
        while True:  # JSON pages of one row, following the cursors
            response = client.get(PATH, params=query)
            assert response.status_code == 200, response.text
            body = response.json()
            pages += len(body["data"])
            found += leaks("json", response.text) + leaks("headers", str(response.headers))
            cursor = body["meta"]["next_cursor"]
            if cursor is None:
                break
            found += leaks("cursor", all_text(b64_texts(cursor)))
            query["cursor"] = cursor
        assert pages > 0
        for fmt in ("csv", "ndjson"):
            response = client.get(PATH, params={**params, "as_of": AS_OF, "format": fmt})
            assert response.status_code == 200, response.text
            found += leaks(fmt, response.content) + leaks(fmt, str(response.headers))
            if "email" in params:
                assert mask_email(params["email"].lower()) in response.text.lower()
    assert found + logged(logs) == []


def test_api_messages_and_errors_leak_no_email(url: str, logs: pytest.LogCaptureFixture) -> None:
    with _client(url) as client:  # Ann is not known yet on 1 August: the message names her
        unknown = client.get(PATH, params={"email": EMAILS[0], "as_of": "2022-08-01"})
        bad = client.get(PATH, params={"email": EMAILS[1], "as_of": AS_OF, "cursor": "x" * 40})
    assert unknown.status_code == 200
    assert mask_email(EMAILS[0]) in unknown.json()["meta"]["message"]
    assert bad.status_code == 400
    texts = [r.text + str(r.headers) for r in (unknown, bad)]
    assert leaks("errors", all_text(texts)) + logged(logs) == []
