"""Customer lookup with AppTest: people search from a few typed characters, and a readable person.

Runs the dashboard in-process on the small demo warehouse (``demo_url``, as of 2022-08-31):
typing part of an email lists the person (served by the warehouse search), picking them
opens their profile, visit feed, timeline and events (newest first); with masking on, the
suggestions and the URL carry no email.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from journey_core import columns as c
from journey_core.analytics import person as pa
from journey_core.io.privacy import mask_email
from journey_ui import people
from tests.integration.test_pages import (
    APP,
    AS_OF,
    CAMPAIGN_DATE,
    charts_count,
    journeys,
    ok,
    table_with,
)
from tests.support.markdown import displayed


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, demo_url: str) -> Callable[..., AppTest]:
    """``app(mask=False, **params)``: the Customer lookup page on the demo, run once."""
    for key in ("JOURNEY_TIMEZONE", "JOURNEY_LOOKBACK_DAYS", "JOURNEY_PASSWORD_HASH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("JOURNEY_DATABASE_URL", demo_url)

    def make(*, mask: bool = False, **params: str) -> AppTest:
        monkeypatch.setenv("JOURNEY_MASK_PII", "1" if mask else "0")
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.run()
        at.switch_page("app_pages/customer.py")
        at.query_params["as_of"] = AS_OF
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return make


@pytest.fixture(scope="module")
def someone(demo_url: str) -> str:
    """A person with several visits in the window, whose first 4 characters are typed."""
    return str(journeys(demo_url, event_date=CAMPAIGN_DATE)[c.EMAIL][0])


def _suggested(at: AppTest) -> dict[str, str]:
    """Suggestion buttons: shown label -> key."""
    return {
        displayed(b.label): str(b.key)
        for b in at.button
        if b.key and str(b.key).startswith("customer.try.")
    }


def test_four_characters_list_the_person_and_picking_opens_them(
    app: Callable[..., AppTest], demo_url: str, someone: str
) -> None:
    at = app()
    ok(at)
    assert _suggested(at), "an empty box lists recently active people"
    at.text_input(key="customer.email").set_value(someone[:4].upper()).run()
    ok(at)
    assert charts_count(at) == 0  # a search, not a lookup
    assert "email" not in at.query_params  # typed search text never reaches the URL
    found = _suggested(at)
    assert someone in found
    assert all(someone[:4] in email for email in found)
    assert len(found) <= 10
    next(b for b in at.button if b.key == found[someone]).click().run()
    ok(at)
    assert at.query_params["email"] == someone
    assert {m.label for m in at.metric} >= {"Devices", "Visits", "Orders"}
    assert charts_count(at) == 1
    rows = journeys(demo_url, email=someone)
    feed = pa.visit_feed(rows)
    shown_feed = table_with(at, "what")
    assert len(shown_feed) == feed.height
    # Newest visit first, its size written out.
    assert shown_feed["visit"].str.removeprefix("◆ ").astype(int).tolist() == sorted(
        feed.get_column(c.SESSION).to_list(), reverse=True
    )
    views = int(feed.get_column(pa.PAGE_VIEWS)[0])
    if views:
        assert shown_feed["what"].iloc[0].startswith(f"{views} page view")
    events = table_with(at, c.OCCURRED_AT)
    assert len(events) == rows.height
    times = events[c.OCCURRED_AT].tolist()
    assert times == sorted(times, reverse=True)  # newest first


def test_search_by_anonymous_id(app: Callable[..., AppTest], demo_url: str, someone: str) -> None:
    device = str(journeys(demo_url, email=someone).get_column(c.ANONYMOUS_ID).drop_nulls()[0])
    at = app()
    at.text_input(key="customer.email").set_value(device[:8]).run()
    ok(at)
    assert someone in _suggested(at)


def test_few_characters_ask_for_more(app: Callable[..., AppTest]) -> None:
    at = app()
    at.text_input(key="customer.email").set_value("ab").run()
    ok(at)
    assert any("at least 3 characters" in x.value for x in at.caption)
    assert charts_count(at) == 0


def test_unknown_full_email_suggests_similar_people(
    app: Callable[..., AppTest], someone: str
) -> None:
    local, domain = someone.split("@")
    at = app(email=f"{local}@not-{domain}")
    ok(at)
    assert "No known individual" in displayed(" ".join(i.value for i in at.info))
    assert someone in _suggested(at)


def test_masked_search_shows_masked_emails_and_links_by_token(
    app: Callable[..., AppTest], someone: str
) -> None:
    at = app(mask=True)
    at.text_input(key="customer.email").set_value(someone[:4]).run()
    ok(at)
    found = _suggested(at)
    assert mask_email(someone) in found
    assert all("@" not in key.removeprefix("customer.try.") for key in found.values())
    assert someone not in " ".join(found)
    next(b for b in at.button if b.key == found[mask_email(someone)]).click().run()
    ok(at)
    assert "person" in at.query_params
    assert "email" not in at.query_params
    assert {m.label for m in at.metric} >= {"Devices", "Visits"}


def test_masked_unknown_person_quotes_no_part_of_the_email(
    app: Callable[..., AppTest], someone: str
) -> None:
    local, domain = someone.split("@")
    unknown = f"{local}@not-{domain}"
    at = app(mask=True, person=people.remember(unknown))
    ok(at)
    assert "No known individual" in displayed(" ".join(i.value for i in at.info))
    shown = " ".join(
        [m.value for m in at.markdown]
        + [x.value for x in at.caption]
        + [b.label for b in at.button]
    )
    assert local not in displayed(shown)
    assert _suggested(at) == {}


@pytest.mark.parametrize("mask", [pytest.param(False, id="email"), pytest.param(True, id="masked")])
def test_a_known_person_quiet_in_the_lookback_links_to_their_last_day(
    app: Callable[..., AppTest], demo_url: str, someone: str, mask: bool
) -> None:
    # Long after the demo's end: known, but nothing in the last 90 days. Checking the spelling
    # cannot help; their lookup as of their last event's day can.
    later = "2023-06-01T00:00:00Z"
    params = {"person": people.remember(someone)} if mask else {"email": someone}
    at = app(mask=mask, as_of=later, **params)
    ok(at)
    text = " ".join(i.value for i in at.info)
    assert "is known, but has no events" in displayed(text)
    assert "Their last event is on" in text
    assert "Check the spelling" not in text
    link = re.search(r"\]\(\?([^)]*)\)", text)
    assert link is not None, text
    got = parse_qs(link.group(1))
    assert ("person" in got) is mask
    assert ("email" in got) is not mask
    if mask:
        assert someone.split("@")[0] not in displayed(text)
    last = journeys(demo_url, email=someone)[c.OCCURRED_AT].max()
    assert isinstance(last, dt.datetime)
    assert got["as_of"] == [f"{last.date() + dt.timedelta(days=1)}T00:00:00Z"]
    followed = app(mask=mask, **{k: v[0] for k, v in got.items()})
    ok(followed)
    assert not followed.info, [i.value for i in followed.info]
    assert {m.label for m in followed.metric} >= {"Devices", "Visits"}
